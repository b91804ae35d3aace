"""Reading a scenario: TOML text validated against :data:`alvh.config.schema.SCHEMA`, its defaults
filled in, the rules across keys checked and the typed specs built (:func:`parse_scenario`,
:func:`load_scenario`)."""

from __future__ import annotations

import datetime as _dt
import math
import tomllib
from pathlib import Path

import jsonschema
from jsonschema.exceptions import best_match

from alvh.costs import SPX_MULTIPLIER, VIX_FUTURE_MULTIPLIER, VIX_OPTION_MULTIPLIER, Frictions, InstrumentCosts
from alvh.data import BUILTIN_DATA, BUNDLED_SOURCES
from alvh.models.twofactor import N_LEVELS
from alvh.pricing import SpxSmile
from alvh.strategy import (CondorSpec, HedgeSpec, LayerSpec, MarketSpec, baseline_hedges, default_alvh_layers,
                          dte_to_steps)
from alvh.config.scenario import ConfigError, Scenario
from alvh.config.schema import _BASELINES, SCHEMA


def _defaults(schema: dict, value: dict) -> dict:
    """Fill schema defaults into a (validated) table, recursively."""
    out = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object":
            out[key] = _defaults(sub, out.get(key, {}))
        elif key not in out and "default" in sub:
            out[key] = sub["default"]
    return out


def _dates_to_str(obj):
    if isinstance(obj, dict):
        return {k: _dates_to_str(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_dates_to_str(v) for v in obj]
    if isinstance(obj, (_dt.date, _dt.datetime)):
        return obj.isoformat()[:10]
    return obj


def _key(path) -> str:
    """A key path as the user writes it: ``strategy.hedges.alvh.layers[1].trigger_vix``."""
    return _dotted(path)


def _non_finite(obj, path=()) -> tuple[tuple, float] | None:
    """The first number in a parsed document that is NaN or infinite, with its key path."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return path, obj
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        found = _non_finite(v, path + (k,))
        if found is not None:
            return found
    return None


def _bad_date(cfg: dict) -> tuple[str, str] | None:
    """The first date key of a (defaulted) scenario that names no calendar day (2018-02-30)."""
    for key, value in (("data.start", cfg["data"]["start"]), ("data.end", cfg["data"]["end"]),
                       ("analysis.replay_detail_day", cfg["analysis"]["replay_detail_day"])):
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            return key, value
    return None


def _dotted(path) -> str:
    """``('strategy', 'hedges', 'alvh', 'layers', 1, 'x')`` as ``strategy.hedges.alvh.layers[1].x``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _schema_error(where: str, err: jsonschema.ValidationError) -> ConfigError:
    path = list(err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        key = _key(path + [extra[0]]) if extra else _key(path)
        return ConfigError(f"{where}: key '{key}': unknown key (allowed here: {', '.join(allowed)})")
    if err.validator == "oneOf":
        desc = err.schema.get("description", "")
        return ConfigError(f"{where}: key '{_key(path)}': {err.instance!r} is not valid ({desc})")
    if err.validator == "pattern" and err.schema.get("description"):
        return ConfigError(f"{where}: key '{_key(path)}': {err.instance!r} is not valid ({err.schema['description']})")
    if err.validator == "required":
        return ConfigError(f"{where}: key '{_key(path)}': {err.message}" if path else f"{where}: {err.message}")
    return ConfigError(f"{where}: key '{_key(path)}': {err.message}")


def parse_scenario(text: str, where: str = "<scenario>", path: Path | None = None) -> Scenario:
    """Parse and validate scenario TOML text.

    Parameters
    ----------
    text : str
        TOML source.
    where : str
        Name used in error messages (the file path).
    path : Path, optional
        File the text came from.

    Returns
    -------
    Scenario

    Raises
    ------
    ConfigError
        Invalid TOML, schema violation, or a rule across keys (allocation sums to 1, list lengths
        agree, roll DTE below open DTE, SSVI no-arbitrage bound, start before end).
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    raw = _dates_to_str(raw)
    found = _non_finite(raw)
    if found is not None:    # NaN passes every minimum and maximum of a JSON Schema: refused first
        raise ConfigError(f"{where}: key '{_key(found[0])}': {found[1]!r} is not a finite number "
                          "(every number in a scenario must be finite)")
    err = best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(raw))
    if err is not None:
        raise _schema_error(where, err)
    cfg = _defaults(SCHEMA, raw)
    found = _bad_date(cfg)
    if found is not None:
        raise ConfigError(f"{where}: key '{found[0]}': {found[1]!r} is not a calendar date (YYYY-MM-DD)")

    d, m, s, mk, st = cfg["data"], cfg["model"], cfg["simulation"], cfg["market"], cfg["strategy"]
    if d["start"] >= d["end"]:
        raise ConfigError(f"{where}: key 'data.start': {d['start']} must be before data.end {d['end']}")
    sm = mk["spx_smile"]
    if sm["eta"] * (1.0 + abs(sm["rho"])) > 2.0:
        raise ConfigError(
            f"{where}: key 'market.spx_smile.eta': eta*(1+|rho|) = {sm['eta'] * (1 + abs(sm['rho'])):.3g} "
            "must be <= 2 (SSVI no-butterfly-arbitrage bound)"
        )
    co = mk["costs"]
    frictions = Frictions(
        spx_option=InstrumentCosts(SPX_MULTIPLIER, **co["spx_option"]),
        vix_option=InstrumentCosts(VIX_OPTION_MULTIPLIER, **co["vix_option"]),
        vix_future=InstrumentCosts(VIX_FUTURE_MULTIPLIER, **co["vix_future"]),
        vix_ref=co["vix_ref"],
    )
    market = MarketSpec(
        rate=mk["rate"], div=mk["dividend_yield"], frictions=frictions, capital=cfg["portfolio"]["capital"],
        smile=SpxSmile(rho=sm["rho"], eta=sm["eta"], gamma=sm["gamma"]), surface=mk["spx_surface"],
    )
    c = st["condor"]
    try:
        condor = CondorSpec(**c)
    except ValueError as exc:
        raise ConfigError(f"{where}: key 'strategy.condor': {exc}") from None
    hedges, main = _hedges(st, cfg["analysis"], where, s["steps_per_year"])
    stress = {"shocks": cfg["stress"]["shocks"],
              "events": cfg["stress"]["events"] if "events" in raw.get("stress", {}) else None}
    days = [sh["day"] for sh in stress["shocks"]]
    n_steps = max(int(round(s["horizon_years"] * s["steps_per_year"])), 1)
    for i, sh in enumerate(stress["shocks"]):
        if "preset" in sh and any(k in sh for k in ("spx_return", "vix_multiplier")):
            raise ConfigError(f"{where}: key 'stress.shocks[{i}]': give a preset or spx_return/vix_multiplier, not both")
        if "preset" not in sh and "spx_return" not in sh:
            raise ConfigError(f"{where}: key 'stress.shocks[{i}]': needs a preset or an spx_return")
        if sh["day"] > n_steps and m["type"] != "replay":
            raise ConfigError(f"{where}: key 'stress.shocks[{i}].day': day {sh['day']} is beyond the horizon "
                              f"({n_steps} trading days)")
    n_regimes = {"regime_heston": m["k_regimes"], "two_factor": N_LEVELS}.get(m["type"], 1)
    for i, sh in enumerate(stress["shocks"]):   # the runner's rule, checked before any work
        if "regime" in sh and not sh["regime"] < n_regimes:
            raise ConfigError(f"{where}: key 'stress.shocks[{i}].regime': regime {sh['regime']} is outside "
                              f"0..{n_regimes - 1} for the {m['type']} model")
    if n_regimes > 1 and m["regime0"] != "last" and not m["regime0"] < n_regimes:
        raise ConfigError(f"{where}: key 'model.regime0': regime {m['regime0']} is outside 0..{n_regimes - 1} "
                          f"(the {m['type']} model has {n_regimes} regimes)")
    if len(set(days)) != len(days):
        raise ConfigError(f"{where}: key 'stress.shocks': shock days must be distinct, got {sorted(days)}")
    if m["type"] == "replay" and (stress["shocks"] or stress["events"]):
        raise ConfigError(f"{where}: key 'stress': a replay is the real path; it takes no stress overlays")
    if m["mu"] != "fit" and m["type"] not in ("heston", "bates", "svcj"):
        raise ConfigError(f"{where}: key 'model.mu': a number is allowed only for heston, bates and svcj "
                          f"(annual drift); {m['type']} takes \"fit\"")
    if m["regime0"] not in ("last", 0) and n_regimes == 1:
        raise ConfigError(f"{where}: key 'model.regime0': model {m['type']!r} has a single regime (0)")
    for key in ("spx", "vix"):    # the data files exist (their contents are read by the run's preparation)
        src = d[key]
        if src.startswith("bundled:"):
            if src not in BUNDLED_SOURCES:
                raise ConfigError(f"{where}: key 'data.{key}': unknown bundled data set {src!r} "
                                  f"(known: {', '.join(BUNDLED_SOURCES)})")
            continue
        if src.startswith("arch:"):
            if src not in BUILTIN_DATA:
                raise ConfigError(f"{where}: key 'data.{key}': unknown built-in data set {src!r} "
                                  f"(known: {', '.join(BUILTIN_DATA)})")
            continue
        dp = Path(src)
        dp = dp if dp.is_absolute() else (path.parent if path else Path.cwd()) / dp
        problem = _file_problem(dp, "data file")
        if problem:
            raise ConfigError(f"{where}: key 'data.{key}': {problem}")
    if cfg["analysis"].get("frontier"):
        fp = Path(cfg["analysis"]["frontier"])
        fp = fp if fp.is_absolute() else (path.parent if path else Path.cwd()) / fp
        problem = _file_problem(fp, "frontier file") or _not_frontier(fp)
        if problem:
            raise ConfigError(f"{where}: key 'analysis.frontier': {problem}")
    if m.get("params"):
        pp = Path(m["params"])
        pp = pp if pp.is_absolute() else (path.parent if path else Path.cwd()) / pp
        problem = _file_problem(pp, "parameter file")
        if problem:
            raise ConfigError(f"{where}: key 'model.params': {problem}")
        from alvh.modelspec import check_params_file

        try:    # read and checked as the run will, before any data is loaded
            check_params_file(pp, m["pricing"] if m["type"] == "replay" else m["type"])
        except ValueError as exc:
            raise ConfigError(f"{where}: key 'model.params': {exc}") from None
    if stress["events"] is not None and m["type"] not in ("bates", "svcj"):
        raise ConfigError(f"{where}: key 'stress.events': scheduled events scale jump intensity; "
                          f"model {m['type']!r} has no jumps (use bates or svcj)")
    return Scenario(
        name=cfg["name"], path=path, text=text, raw=raw, data=d, model=m, simulation=s,
        market=market, condor=condor, hedges=hedges, main_hedge=main, analysis=cfg["analysis"], stress=stress,
    )


def frontier_claim_line(p: Path) -> str:
    """The line on claims 1 and 4 of a ``frontier.nc`` (:func:`alvh.frontierrun.summary_lines`).

    Raises
    ------
    ValueError
        ``p`` is not a frontier file alvh wrote.
    """
    import xarray as xr

    try:
        with xr.open_dataset(p, engine="h5netcdf") as ds:
            attrs = dict(ds.attrs)
    except Exception as exc:   # any unreadable file is the same answer for the user
        raise ValueError(f"{p}: not a netCDF file alvh frontier wrote ({type(exc).__name__})") from None
    if attrs.get("title") != "alvh hedge-design frontier":
        raise ValueError(f"{p}: not a frontier.nc written by alvh frontier")
    paras = str(attrs.get("summary", "")).split("\n\n")
    line = next((" ".join(x.split()) for x in paras if x.startswith("Claims 1 and 4:")), "")
    if not line:
        raise ValueError(f"{p}: its summary has no line on claims 1 and 4")
    return line


def _not_frontier(p: Path) -> str:
    try:
        frontier_claim_line(p)
    except ValueError as exc:
        return str(exc)
    return ""


def _file_problem(p: Path, what: str) -> str:
    """Why ``p`` cannot be read as a file (not found, a folder, a name the system refuses), or ""."""
    short = str(p) if len(str(p)) <= 120 else str(p)[:117] + "..."
    try:
        if p.is_file():
            return ""
        return f"{short}: is a folder, not a {what}" if p.is_dir() else f"{what} not found: {short}"
    except OSError as exc:     # a name longer than the system allows, say
        return f"{short}: not a usable {what} name ({exc.strerror or exc})"


def _hedges(st: dict, analysis: dict, where: str, spy: float = 252.0) -> tuple[tuple, str]:
    """Hedge books of a scenario: declared hedges (default: the texts' ALVH), the baselines at the
    main hedge's budget, and the main hedge at each budget of the sweep."""
    declared = st["hedges"] if st["hedges"] else {"alvh": {}}
    out = []
    for name, h in declared.items():
        if not h.get("enabled", True):
            continue
        key = f"strategy.hedges.{name}"
        if name == "unhedged" or name in _BASELINES or "_budget_" in name:
            raise ConfigError(f"{where}: key '{key}': the name {name!r} is reserved")
        layers = (tuple(LayerSpec(**{k: v for k, v in ly.items()}) for ly in h["layers"]) if "layers" in h
                  else default_alvh_layers())
        kwargs = {k: v for k, v in h.items() if k not in ("enabled", "layers", "label")}
        kwargs["budget_bands"] = tuple(tuple(float(x) for x in band) for band in kwargs.get("budget_bands", ()))
        for band in kwargs["budget_bands"]:
            if not band[0] < band[1]:
                raise ConfigError(f"{where}: key '{key}.budget_bands': band {list(band)} needs low < high")
        label = h.get("label", "condor + ALVH" if name == "alvh" else f"condor + {name}")
        try:
            out.append(HedgeSpec(name=name, label=label, layers=layers, **kwargs))
        except ValueError as exc:
            raise ConfigError(f"{where}: key '{key}': {exc}") from None
        for i, ly in enumerate(layers):   # the engine's rule (alvh.strategy._Hedge), checked before any work
            o, r = max(dte_to_steps(ly.dte_open, spy), 1), dte_to_steps(ly.dte_roll, spy)
            if not r < o:
                raise ConfigError(f"{where}: key '{key}.layers[{i}].dte_roll': opening DTE {ly.dte_open:g} and roll "
                                  f"DTE {ly.dte_roll:g} round to {o} and {r} trading days; the roll must come at least "
                                  "one trading day after the entry")
    mains = [h for h in out if h.kind == "alvh"]
    main = mains[0] if mains else (out[0] if out else None)
    if main is not None:
        budget = main.budget_pct_per_year
        wanted = st["baselines"]["include"]
        out += [b for b in baseline_hedges(budget) if b.name in wanted]
        out += [main.with_budget(x) for x in analysis["budget_sweep"] if abs(x - budget) > 1e-12]
    elif analysis["budget_sweep"]:
        raise ConfigError(f"{where}: key 'analysis.budget_sweep': there is no hedge to sweep")
    return tuple(out), (main.name if main is not None else "")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Raises
    ------
    ConfigError
        Missing or unreadable file, or any error of :func:`parse_scenario`.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: is a folder, not a scenario file")
    if not p.is_file():
        raise ConfigError(f"{p}: file not found")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    return parse_scenario(text, where=str(p), path=p)
