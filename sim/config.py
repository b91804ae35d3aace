"""Scenario files: TOML, validated against a JSON Schema, turned into typed specs.

A scenario names its data, model, simulation size, market frictions and strategy rules. Every key is
optional except ``name``; a missing key takes the default documented in the schema below (and in
the spec dataclasses of :mod:`alvh.strategy`). An unknown key, a wrong type or an out-of-range value is
refused with :class:`ConfigError`, whose message names the file, the key and the rule.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from alvh.models.stress import PRESETS
from alvh.costs import SPX_MULTIPLIER, VIX_FUTURE_MULTIPLIER, VIX_OPTION_MULTIPLIER, Frictions, InstrumentCosts
from alvh.data import BUILTIN_DATA, BUNDLED_SOURCES
from alvh.modelspec import MODEL_TYPES
from alvh.models.twofactor import N_LEVELS
from alvh.pricing import SpxSmile
from alvh.strategy import (INSTRUMENTS, SIZINGS, STRIKE_RULES, TRIGGERS, CondorSpec, HedgeSpec, LayerSpec,
                          MarketSpec, baseline_hedges, default_alvh_layers, dte_to_steps)

__all__ = ["ConfigError", "Scenario", "SCHEMA", "NAME_PATTERN", "load_scenario", "parse_scenario", "schema_problem"]


class ConfigError(ValueError):
    """A scenario is unreadable or breaks a rule; the message is one line for the user."""


def _scalar(kind, minimum=None, maximum=None, exclusive_min=None, exclusive_max=None, default=None, desc=""):
    """JSON-Schema fragment for a bounded number or integer."""
    s: dict[str, Any] = {"type": kind, "description": desc}
    bounds = {"minimum": minimum, "maximum": maximum, "exclusiveMinimum": exclusive_min,
              "exclusiveMaximum": exclusive_max, "default": default}
    s.update({k: v for k, v in bounds.items() if v is not None})
    return s


def _num(*args, **kwargs):
    return _scalar("number", *args, **kwargs)


def _int(minimum=None, maximum=None, default=None, desc=""):
    return _scalar("integer", minimum, maximum, default=default, desc=desc)


def _table(props: dict, required=()) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": props, "required": list(required)}


def _costs_table(min_half, rel_half, commission, max_half, what):
    return _table({
        "min_half_spread": _num(0.0, 50.0, default=min_half, desc=f"{what}: half-spread floor, price points"),
        "rel_half_spread": _num(0.0, 1.0, default=rel_half, desc=f"{what}: half-spread as a fraction of mid"),
        "vix_elasticity": _num(0.0, 5.0, default=1.0, desc="half-spread scales with (VIX / vix_ref) ** this"),
        "commission": _num(0.0, 1000.0, default=commission, desc="USD per contract per side"),
        "max_half_spread": _num(exclusive_min=0.0, maximum=1000.0, default=max_half, desc=f"{what}: half-spread cap, points"),
    })


_LAYER = _table({
    "allocation": _num(0.0, 1.0, desc="share of the hedge's budget or vega target"),
    "dte_open": _num(1.0, 365.0, desc="calendar DTE at entry"),
    "dte_roll": _num(0.0, 365.0, desc="calendar DTE at or below which the layer is rolled; 0 = hold to expiry"),
    "instrument": {"enum": list(INSTRUMENTS), "default": "call"},
    "strike_rule": {"enum": list(STRIKE_RULES), "default": "otm"},
    "strike_otm": _num(-0.5, 5.0, default=0.2, desc="strike = future * (1 + strike_otm); SPX put: spot * (1 - it)"),
    "strike_delta": _num(exclusive_min=0.0, exclusive_max=1.0, default=0.3),
    "spread_width": _num(exclusive_min=0.0, maximum=10000.0, default=5.0, desc="VIX points (SPX points for a put spread)"),
    "trigger": {"enum": list(TRIGGERS), "default": "vix_above"},
    "trigger_vix": _num(0.0, 200.0, default=16.0),
    "trigger_days": _int(1, 252, 1),
    "decay_share": _num(0.0, 1.0, default=0.4, desc="condor profit as a share of its max profit"),
    "sizing": {"enum": list(SIZINGS), "default": "budget"},
}, required=["allocation", "dte_open", "dte_roll"])

_HEDGE = _table({
    "enabled": {"type": "boolean", "default": True},
    "kind": {"enum": ["alvh", "baseline"], "default": "alvh"},
    "label": {"type": "string"},
    "budget_pct_per_year": _num(0.0, 100.0, default=1.5, desc="% of capital per year"),
    "vega_ratio": _num(0.0, 100.0, default=1.0),
    "budget_bands": {"type": "array", "default": [], "items": {"type": "array", "minItems": 3, "maxItems": 3,
                     "items": _num(0.0, 1000.0)}, "description": "[[low, high, pct_per_year], ...] on the VIX future"},
    "exit_multiple": _num(0.0, 100.0, default=2.0, desc="0 = off"),
    "rsi_period": _int(1, 252, 21),
    "rsi_exit": _num(0.0, 100.0, default=30.0, desc="0 = off"),
    "deepest_layer_cap": _num(exclusive_min=0.0, maximum=100.0, default=0.20, desc="share of risk capital"),
    "margin_share_cap": _num(exclusive_min=0.0, maximum=100.0, default=0.25, desc="share of risk capital"),
    "stagger_days": _int(0, 252, 0),
    "future_margin_fraction": _num(0.0, 1.0, default=0.5),
    "min_price": _num(0.0, 100.0, default=0.05, desc="options below this mid (points) are not traded"),
    "layers": {"type": "array", "items": _LAYER, "minItems": 1, "maxItems": 8},
})

_BASELINES = ("vix_ladder", "vxth", "spx_put_spread")

#: A scenario's ``name`` is a folder name under ``reports/``: no '/', and not '.', '..' or hidden.
NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"

_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "ISO date YYYY-MM-DD"}

#: JSON Schema (draft 2020-12) of a scenario file.
SCHEMA: dict[str, Any] = _table(
    {
        "name": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 100,
                 "description": "output folder name: letters, digits, '_', '-', '.'; not starting with '.'"},
        "description": {"type": "string"},
        "data": _table({
            "spx": {"type": "string", "default": "arch:sp500",
                    "description": "'arch:sp500' (1999-2018), 'bundled:spx' (1927-2026) or a CSV file (date "
                                   "column, close column)"},
            "vix": {"type": "string", "default": "arch:vix",
                    "description": "'arch:vix' (2014-2018), 'bundled:vix' (1990-2026) or a CSV file"},
            "start": {**_DATE, "default": "2014-01-03"},
            "end": {**_DATE, "default": "2018-12-31"},
        }),
        "model": _table({
            "type": {"enum": list(MODEL_TYPES), "default": "heston"},
            "params": {"type": "string", "description": "parameter file written by 'alvh calibrate' (JSON), "
                       "relative to the scenario; without it the model is calibrated on the fly"},
            "v0": {"oneOf": [{"enum": ["last", "theta", "default"]}, _num(minimum=0.0, maximum=4.0)], "default": "last",
                   "description": "initial variance: from the last VIX, the model's long-run level, or a number"},
            "mu": {"oneOf": [{"enum": ["fit"]}, _num(minimum=-1.0, maximum=1.0)], "default": "fit",
                   "description": "P drift of SPX per year (heston, bates, svcj)"},
            "k_regimes": {"enum": [2, 3], "default": 3, "description": "regimes of regime_heston"},
            "regime0": {"oneOf": [{"enum": ["last"]}, _int(0, N_LEVELS - 1)], "default": "last",
                        "description": "initial regime (regime_heston) or central-tendency level (two_factor): the "
                                       "most likely on the window's last day, or its index"},
            "allow_unconverged": {"type": "boolean", "default": False,
                                  "description": "run even when the calibration reports that it did not converge "
                                                 "(the run then says so); by default such a run is refused"},
            "pricing": {"enum": ["heston", "bates", "svcj"], "default": "heston",
                        "description": "model that prices options along a replay"},
        }),
        "stress": _table({
            "shocks": {"type": "array", "default": [], "items": _table({
                "day": _int(1, 2520, desc="trading day of the shock (day 0 is the start)"),
                "preset": {"enum": sorted(PRESETS), "description": "a real day; its SPX and VIX moves"},
                "spx_return": _num(exclusive_min=-1.0, maximum=10.0, desc="simple return of the day"),
                "vix_multiplier": _num(exclusive_min=0.0, maximum=20.0, desc="VIX close over previous close"),
                "var_jump": _num(0.0, 4.0, desc="added to the variance, annualised"),
                "regime": _int(0, 2, desc="regime forced from the shock day on"),
            }, required=["day"])},
            "events": _table({
                "every_days": _int(1, 252, 30, desc="trading days between scheduled events"),
                "multiplier": _num(0.0, 100.0, default=4.0, desc="jump intensity on event days / base"),
                "first_day": _int(1, 252, 1),
            }),
        }),
        "simulation": _table({
            "n_paths": _int(1, 100_000_000, 20_000),
            "horizon_years": _num(exclusive_min=0.0, maximum=10.0, default=1.0),
            "steps_per_year": {"const": 252, "default": 252, "description": "daily steps only"},
            "chunk_size": _int(1, 1_000_000, 2_000),
            "seed": _int(0, 2**63 - 1, 20261121),
            "sample_paths_per_chunk": _int(0, 10_000, 25),
            "max_sample_paths": _int(0, 1_000_000, 1_000,
                                     desc="cap on the whole paths kept for fan charts, over all chunks"),
            "result_paths": _int(1, 100_000_000, 100_000,
                                 desc="leading paths whose per-path summaries are written to results.nc"),
            "daily_paths": _int(1, 10_000_000, 20_000,
                                desc="leading paths whose daily P&L and deltas are kept for the pooled daily statistics"),
            "spot0": {"oneOf": [{"enum": ["last"]}, _num(exclusive_min=0.0, maximum=1e6)], "default": "last",
                      "description": "initial SPX level: the window's last close, or a number of index points"},
        }),
        "market": _table({
            "rate": _num(-0.05, 0.25, default=0.02, desc="continuously compounded, per year"),
            "dividend_yield": _num(-0.05, 0.25, default=0.018),
            "spx_surface": {"enum": ["auto", "model", "ssvi"], "default": "auto",
                            "description": "SPX implied vols: 'model' = tabulated Fourier prices of the model "
                            "(heston, bates, svcj), 'ssvi' = SSVI smile anchored to the model's expected "
                            "variance, 'auto' = model where it has one, else ssvi"},
            "costs": _table({
                "vix_ref": _num(exclusive_min=0.0, maximum=100.0, default=15.0,
                                desc="VIX level (points) at which the spread coefficients apply"),
                "spx_option": _costs_table(0.05, 0.01, 1.0, 5.0, "SPX options"),
                "vix_option": _costs_table(0.025, 0.03, 1.0, 0.5, "VIX options"),
                "vix_future": _costs_table(0.025, 0.0, 2.0, 0.25, "VIX futures"),
            }),
            "spx_smile": _table({
                "rho": _num(exclusive_min=-1.0, exclusive_max=1.0, default=-0.7),
                "eta": _num(exclusive_min=0.0, maximum=2.0, default=1.1),
                "gamma": _num(exclusive_min=0.0, maximum=0.5, default=0.5),
            }),
        }),
        "portfolio": _table({"capital": _num(exclusive_min=0.0, maximum=1e12, default=1_000_000.0,
                                             desc="dollars")}),
        "strategy": _table({
            "condor": _table({
                "dte": _num(1.0, 365.0, default=45.0),
                "short_delta": _num(exclusive_min=0.0, exclusive_max=0.5, default=0.15),
                "wing_width": _num(exclusive_min=0.0, maximum=2000.0, default=50.0, desc="index points"),
                "profit_take": _num(exclusive_min=0.0, maximum=1.0, default=0.5),
                "stop_multiple": _num(exclusive_min=1.0, maximum=100.0, default=2.0),
                "entry_interval_days": _int(1, 252, 5),
                "margin_fraction": _num(exclusive_min=0.0, maximum=1.0, default=0.5),
                "wing_delta": _num(0.0, exclusive_max=0.5, default=0.0,
                                   desc="if > 0, long wings at this |delta| instead of wing_width points"),
                "close_dte": _num(0.0, 365.0, default=0.0, desc="close at or below this calendar DTE; 0 = hold"),
                "time_shift": {"type": "boolean", "default": True,
                               "description": "above time_shift_vix, sell the next monthly cycle"},
                "time_shift_vix": _num(0.0, 200.0, default=16.0),
                "time_shift_days": _num(0.0, 120.0, default=30.0),
            }),
            "hedges": {"type": "object", "additionalProperties": _HEDGE, "default": {},
                       "description": "named hedge books; default: one ALVH with the texts' rules"},
            "baselines": _table({
                "include": {"type": "array", "items": {"enum": list(_BASELINES)}, "uniqueItems": True,
                            "default": list(_BASELINES),
                            "description": "built-in competing hedges run on the same paths (alvh.strategy.baseline_hedges), "
                                           "at the main hedge's budget"},
            }),
        }),
        "analysis": _table({
            "budget_sweep": {"type": "array", "items": _num(exclusive_min=0.0, maximum=100.0), "maxItems": 12,
                             "default": [], "description": "the main hedge rerun on the same paths at these budgets, "
                                                           "% of capital per year (claim 1's sweep)"},
            "replay": {"type": "boolean", "default": False,
                       "description": "also run every strategy on the real path of the calibration window, priced by "
                                      "the scenario's model, and show it beside the Monte Carlo distribution"},
            "replay_detail_day": {**_DATE, "default": "2018-02-05", "description": "replay day shown in detail"},
            "frontier": {"type": "string", "description": "a frontier.nc written by alvh frontier (relative to this "
                                                        "file): its line on claims 1 and 4 joins the summary"},
        }),
    },
    required=["name"],
)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name : str
    path : Path or None
        File it came from.
    text : str
        The scenario's TOML text, stored with every result.
    raw : dict
        The parsed TOML (dates as ISO strings).
    data : dict
        ``spx``, ``vix`` sources, ``start``, ``end`` dates.
    model : dict
        ``type``, ``v0`` ("last", "theta" or a float), ``mu`` ("fit" or a float).
    simulation : dict
        ``n_paths``, ``horizon_years``, ``steps_per_year``, ``chunk_size``, ``seed``,
        ``sample_paths_per_chunk``, ``max_sample_paths``, ``daily_paths``, ``result_paths``, ``spot0``.
    market : MarketSpec
    condor : CondorSpec
    hedges : tuple of HedgeSpec
        Every hedge book run on the paths: the declared ones, the baselines, the budget sweep.
    main_hedge : str
        Name of the hedge the headline and claim 1's sweep refer to (the first of kind "alvh"),
        or "" when there is no hedge.
    analysis : dict
        ``budget_sweep``, ``replay``, ``replay_detail_day``.
    stress : dict
        ``shocks`` (list of tables: ``day`` and a ``preset`` or ``spx_return``/``vix_multiplier``/
        ``var_jump``/``regime``) and ``events`` (``every_days``, ``multiplier``, ``first_day``) or
        ``None`` when the scenario has no event calendar.
    """

    name: str
    path: Path | None
    text: str
    raw: dict
    data: dict
    model: dict
    simulation: dict
    market: MarketSpec
    condor: CondorSpec
    hedges: tuple
    main_hedge: str
    analysis: dict
    stress: dict

    @property
    def n_steps(self) -> int:
        """Number of daily steps over the horizon."""
        return max(int(round(self.simulation["horizon_years"] * self.simulation["steps_per_year"])), 1)


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


def schema_problem(key: str) -> str:
    """Why ``key`` (``a.b.c`` or ``a.b[1].c``) is not a key of :data:`SCHEMA`, or "" when it is.

    Used to refuse a batch grid over a key no scenario has before any point runs.
    """
    import re

    node = SCHEMA
    for part in key.split("."):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?", part)
        if m is None:
            return f"'{part}' is not a key name"
        name, idx = m.group(1), m.group(2)
        props = node.get("properties", {})
        if name in props:
            node = props[name]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]     # a named table (strategy.hedges.NAME)
        else:
            return f"unknown key '{name}' (allowed there: {', '.join(sorted(props))})"
        if idx is not None:
            if node.get("type") != "array" or "items" not in node:
                return f"'{name}' is not a list"
            node = node["items"]
    return ""


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


def scenario_reference() -> str:
    """The scenario reference page (Markdown), generated from :data:`SCHEMA`: one row per key with its
    type, bounds or choices, default and description. ``docs/pages/scenario-reference.md`` is this
    text (a test keeps it so)."""
    def kind(s: dict) -> str:
        if "enum" in s:
            return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in s["enum"])
        if "const" in s:
            return f"`{s['const']}` only"
        if "oneOf" in s:
            return " or ".join(kind(b) for b in s["oneOf"])
        t = s.get("type", "")
        if t in ("number", "integer"):
            lo = (f">= {s['minimum']:g}" if "minimum" in s else f"> {s['exclusiveMinimum']:g}"
                  if "exclusiveMinimum" in s else "")
            hi = (f"<= {s['maximum']:g}" if "maximum" in s else f"< {s['exclusiveMaximum']:g}"
                  if "exclusiveMaximum" in s else "")
            return f"{t}" + (f" ({', '.join(x for x in (lo, hi) if x)})" if lo or hi else "")
        if t == "array":
            items = s.get("items", {})
            return "list of " + (kind(items) if items.get("type") != "object" else "tables")
        if t == "string" and "pattern" in s:
            return f"string matching `{s['pattern']}`"
        return t or "table"

    rows = []

    def walk(s: dict, path: str) -> None:
        if s.get("type") == "object" and "properties" in s:
            for k, sub in s["properties"].items():
                walk(sub, f"{path}.{k}" if path else k)
            return
        if s.get("type") == "object" and isinstance(s.get("additionalProperties"), dict):
            rows.append((path, "table of named tables (NAME below)", "", s.get("description", "")))
            walk(s["additionalProperties"], f"{path}.NAME")
            return
        default = json.dumps(s["default"]) if "default" in s else ""
        rows.append((path, kind(s), default, s.get("description", "")))
        if s.get("type") == "array" and s.get("items", {}).get("type") == "object":
            walk(s["items"], f"{path}[k]")

    walk(SCHEMA, "")
    esc = lambda t: str(t).replace("|", "\\|")  # noqa: E731
    out = ["# Scenario reference", "",
           "Every key of a scenario file (TOML), generated from the schema in `sim/config.py`",
           "(`alvh.config.SCHEMA`). Only `name` is required; a missing key takes its default. Every number",
           "must be finite. Rules across keys (layer allocations summing to 1, roll before entry, the SSVI",
           "bound, stress regimes within the model's) are checked when the file is read; see",
           "[reliability](reliability.md).", "",
           "| key | type and bounds | default | description |", "|---|---|---|---|"]
    out += [f"| `{k}` | {esc(t)} | {'`' + esc(d) + '`' if d else ''} | {esc(desc)} |" for k, t, d, desc in rows]
    return "\n".join(out) + "\n"


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
