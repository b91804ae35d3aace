"""From a scenario's ``[model]`` table to a calibrated :class:`alvh.models.base.PathModel`.

Every model type has a calibrator (a function of the real data returning the model and a
:class:`alvh.models.base.FitReport`). A scenario either calibrates on the fly or names a parameter file
written by ``alvh calibrate`` (JSON: ``{"type", "params", "fit"}``), which is how slow fits are
done once and reused.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from alvh.models.base import FitReport, PathModel
from alvh.models.calibration import calibrate_heston, heston_fit_report
from alvh.models.heston import FellerConditionWarning, HestonModel
from alvh.data import MarketData, load_series

__all__ = ["MODEL_TYPES", "calibrate", "build_model", "write_params", "read_params", "ParamsFileError",
           "params_path", "check_params_file", "calibrate_cached", "calibration_cache_dir",
           "calibration_cache_key", "CACHED_TYPES", "model_warnings", "FELLER_WARN_BELOW", "VIX_RANGE_TOP"]

#: Model types a scenario may name (``replay`` is built from the data, with a pricing model).
MODEL_TYPES = ("heston", "bates", "svcj", "gjr_garch", "regime_heston", "two_factor", "replay")

#: Types whose parameter ``mu`` is the annual P drift of the SPX (a scenario may override it).
_HAS_ANNUAL_MU = ("heston", "bates", "svcj")


class ParamsFileError(ValueError):
    """A parameter file is missing, unreadable, or for another model type."""


class CalibrationError(ValueError):
    """A calibration that did not converge, for a scenario that does not allow it."""


def _long_spx(where: str) -> tuple[np.ndarray, np.ndarray]:
    s = load_series("arch:sp500", "spx", where)
    return s.index.values.astype("datetime64[D]"), s.to_numpy(dtype=float)


def calibrate(model_type: str, data: MarketData, dt: float = 1.0 / 252.0, options: dict | None = None
              ) -> tuple[PathModel, FitReport]:
    """Calibrate ``model_type`` to the real data.

    Parameters
    ----------
    model_type : str
        One of :data:`MODEL_TYPES` except ``replay``.
    data : MarketData
        SPX and VIX closes on common days (the calibration window).
    dt : float
        Years per observation.
    options : dict, optional
        ``k_regimes`` (regime_heston).

    Returns
    -------
    model : PathModel
    fit : FitReport

    Raises
    ------
    ValueError
        Unknown type, or a calibration failure.
    """
    options = options or {}
    start, end = str(data.dates[0].date()), str(data.dates[-1].date())
    spx, vix = np.asarray(data.spx, float), np.asarray(data.vix, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        if model_type == "heston":
            cal = calibrate_heston(spx, vix, dt=dt, start=start, end=end)
            return HestonModel(cal.params), heston_fit_report(cal)
        if model_type == "bates":
            from alvh.models.jumps import calibrate_bates
            return calibrate_bates(spx, vix, dt, start, end)
        if model_type == "svcj":
            from alvh.models.jumps import calibrate_svcj
            return calibrate_svcj(spx, vix, dt, start, end)
        if model_type == "gjr_garch":
            from alvh.models.garch import calibrate_gjr_garch
            # fitted on the calibration window itself, so P and the VIX premium (Q) share one sample;
            # the 1999-2018 fit is more persistent still (see models/garch/ and the README)
            return calibrate_gjr_garch(spx, vix, dt, start, end)
        if model_type == "regime_heston":
            from alvh.models.regimes import calibrate_regimes
            # the chain is estimated on the long 1999-2018 SPX sample, which holds 2008
            return calibrate_regimes(spx, vix, dates=np.asarray(data.dates), k_regimes=options.get("k_regimes", 3),
                                     dt=dt, regime_spx=_long_spx(start))
        if model_type == "two_factor":
            from alvh.models.twofactor import calibrate_two_factor
            # Q from the bundled VIX futures / VVIX / VIX6M; P from this window
            return calibrate_two_factor(spx, vix, np.asarray(data.dates), dt, start, end)
    raise ValueError(f"no calibrator for model type {model_type!r}; known: {', '.join(MODEL_TYPES[:-1])}")


def _model_class(model_type: str) -> type[PathModel]:
    if model_type == "heston":
        return HestonModel
    if model_type in ("bates", "svcj"):
        from alvh.models import jumps
        return jumps.BatesModel if model_type == "bates" else jumps.SvcjModel
    if model_type == "gjr_garch":
        from alvh.models.garch import GjrGarchModel
        return GjrGarchModel
    if model_type == "regime_heston":
        from alvh.models.regimes import RegimeSwitchingModel
        return RegimeSwitchingModel
    if model_type == "two_factor":
        from alvh.models.twofactor import TwoFactorModel
        return TwoFactorModel
    raise ValueError(f"model type {model_type!r} has no parameter file form")


def write_params(path: Path, model_type: str, model: PathModel, fit: FitReport) -> None:
    """Write a parameter file (JSON) that a scenario can name in ``[model] params``."""
    doc = {"type": model_type, "params": model.to_dict(), "fit": fit.to_dict()}
    Path(path).write_text(json.dumps(doc, indent=2, default=float) + "\n", encoding="utf-8")


def read_params(path: Path, model_type: str) -> tuple[PathModel, FitReport]:
    """Read a parameter file written by :func:`write_params`.

    Raises
    ------
    ParamsFileError
        Missing, unreadable or malformed file, a file for another model type, or parameters
        that break a model rule (the model's own message, e.g. ``rho must be in (-1, 1)``).
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParamsFileError(f"{p}: cannot read parameter file: {exc}") from None
    return _from_doc(doc, model_type, str(p), note=f"parameters read from {p.name}")


def _from_doc(doc, model_type: str, where: str, note: str | None = None) -> tuple[PathModel, FitReport]:
    """The model and fit report of a parameter document (:func:`write_params`'s JSON), ``note``
    appended to the fit's notes."""
    if not isinstance(doc, dict) or "params" not in doc or "type" not in doc:
        raise ParamsFileError(f"{where}: not a parameter file (needs 'type' and 'params'; write one with alvh calibrate)")
    if doc["type"] != model_type:
        raise ParamsFileError(f"{where}: holds a {doc['type']!r} model, the scenario asks for {model_type!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        try:
            model = _model_class(model_type).from_dict(doc["params"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ParamsFileError(f"{where}: bad {model_type} parameters: {exc}") from None
    try:
        f = doc.get("fit") or {}
        stderr = {str(k): float(v) for k, v in dict(f.get("stderr", {})).items()}
        loglik = None if f.get("loglik") is None else float(f["loglik"])
        fit = FitReport(
            model=model_type, params=dict(f.get("params", doc["params"])), stderr=stderr, loglik=loglik,
            n_obs=int(f.get("n_obs", 0)), n_params=int(f.get("n_params", 0)), method=str(f.get("method", "from file")),
            sample=str(f.get("sample", "")), notes=[str(n) for n in f.get("notes", [])] + ([note] if note else []),
            converged=bool(f.get("converged", True)),
            objective=None if f.get("objective") is None else float(f["objective"]),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise ParamsFileError(f"{where}: malformed 'fit' block: {exc}") from None
    return model, fit


#: Model types whose calibration :func:`calibrate_cached` keeps: models defined by their parameters
#: alone (a parameter file reproduces them exactly). The others carry a filtered state of the window
#: (GARCH's last conditional variance, the regime chain's last regime) and are calibrated every time.
CACHED_TYPES = ("heston", "bates", "svcj", "two_factor")


def calibration_cache_dir() -> Path:
    """Where calibrations are cached: ``$ALVH_CACHE_DIR``, else ``$XDG_CACHE_HOME/alvh/calibrations``,
    else ``~/.cache/alvh/calibrations``."""
    import os

    if os.environ.get("ALVH_CACHE_DIR"):
        return Path(os.environ["ALVH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "alvh" / "calibrations"


def source_files(*names: str) -> list[Path]:
    """The source files of alvh's modules or subpackages ``names`` (``"models"``, ``"pricing"``, ...):
    a module's file, or every ``.py`` file under a subpackage, sorted; what a cache key hashes so that
    an edit anywhere in that code is a new key."""
    from importlib.util import find_spec

    out: list[Path] = []
    for name in names:
        spec = find_spec(f"alvh.{name}")
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"alvh.{name}")
        folders = spec.submodule_search_locations
        out += sorted(p for f in folders for p in Path(f).rglob("*.py")) if folders else [Path(spec.origin)]
    return out


def q_fit_sources() -> list[Path]:
    """The files a fit to the bundled market data depends on beyond the models: the data files, their
    loader, the expiry calendar and the VIX chain pricer (two-factor calibration, realism scorecard)."""
    from alvh.realdata import bundled_path

    return ([bundled_path(n) for n in ("spx", "vix", "vix6m", "vix3m", "vvix", "skew", "vix_futures")]
            + source_files("realdata", "expiries", "pricing"))


def calibration_cache_key(model_type: str, data: MarketData, dt: float, options: dict | None = None) -> str:
    """SHA-256 of everything a calibration depends on: the model type and options, the step, the
    data (dates and closes, bit for bit), the versions of alvh and the numerical packages, and the
    source of the models and of this module."""
    import hashlib

    from alvh.parallel import pinned_versions

    h = hashlib.sha256()
    h.update(json.dumps({"format": "alvh-calibration/1", "type": model_type, "dt": repr(float(dt)),
                         "options": {k: (options or {})[k] for k in sorted(options or {})},
                         "versions": pinned_versions()}, sort_keys=True).encode())
    # the calibration code itself: an edited model or calibrator (an editable install keeps its version
    # number) is a new key
    for src in source_files("models") + [Path(__file__)]:
        h.update(src.read_bytes())
    if model_type == "two_factor":   # its Q side is fitted to the bundled futures, VVIX and VIX6M
        for src in q_fit_sources():
            h.update(src.read_bytes())
    for arr in (np.asarray(data.dates.values, dtype="datetime64[ns]").view(np.int64),
                np.ascontiguousarray(data.spx, dtype=np.float64), np.ascontiguousarray(data.vix, dtype=np.float64)):
        h.update(arr.tobytes())
    return h.hexdigest()


def calibrate_cached(model_type: str, data: MarketData, dt: float = 1.0 / 252.0, options: dict | None = None,
                     cache_dir: Path | None = None) -> tuple[PathModel, FitReport]:
    """:func:`calibrate`, kept on disk by :func:`calibration_cache_key` for the :data:`CACHED_TYPES`.

    A cached calibration gives the same model and fit report as a fresh one (the parameter file's
    JSON holds every float exactly). A cache that cannot be read or written is ignored.
    """
    import logging
    import os

    if model_type not in CACHED_TYPES:
        return calibrate(model_type, data, dt, options)
    folder = Path(cache_dir) if cache_dir is not None else calibration_cache_dir()
    path = folder / f"{model_type}-{calibration_cache_key(model_type, data, dt, options)[:32]}.json"
    try:
        return _from_doc(json.loads(path.read_text(encoding="utf-8")), model_type, str(path))
    except (OSError, ValueError):     # absent (or unreadable): calibrate and keep it
        pass
    model, fit = calibrate(model_type, data, dt, options)
    if not fit.converged:     # kept only when it can be trusted; an unconverged fit is redone next time
        return model, fit
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
        write_params(tmp, model_type, model, fit)
        os.replace(tmp, path)
    except OSError as exc:
        logging.getLogger("alvh").warning("calibration cache %s not written: %s", folder, exc)
    return model, fit


def _with_overrides(model_type: str, model: PathModel, spec: dict) -> PathModel:
    """Apply the scenario's ``v0`` and ``mu`` choices."""
    d = model.to_dict()
    if spec.get("mu", "fit") != "fit":
        if model_type not in _HAS_ANNUAL_MU:
            raise ValueError(f"model.mu can be set only for {', '.join(_HAS_ANNUAL_MU)}; {model_type} takes 'fit'")
        d["mu"] = float(spec["mu"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        return _model_class(model_type).from_dict(d)


def build_model(scenario, data: MarketData, dt: float, cache: bool = False
                ) -> tuple[PathModel, FitReport, float, int]:
    """The scenario's model, its fit report, and the initial variance and regime.

    Parameters
    ----------
    scenario : alvh.config.Scenario
    data : MarketData
    dt : float

    Returns
    -------
    model : PathModel
    fit : FitReport
    var0 : float
        Initial variance: from the window's last VIX (``"last"``), the model's long-run P variance
        (``"theta"`` or ``"default"``: :attr:`~alvh.models.base.PathModel.long_run_var`), or the number
        given.
    regime0 : int
        Initial regime: the most likely regime on the window's last day (``"last"``, regime
        models) or the number given.

    Raises
    ------
    ParamsFileError, ValueError
    """
    spec = scenario.model
    mtype = spec["type"]
    if mtype == "replay":
        pricing, fit = _calibrated(spec.get("pricing", "heston"), scenario, data, dt, spec, cache)
        from alvh.models.replay import HistoricalReplay
        model = HistoricalReplay(data.spx, data.vix, np.asarray(data.dates), pricing)
        fit.notes.append(f"replay of the real path, priced by the calibrated {pricing.name} model")
        return model, fit, model.default_var0, 0
    model, fit = _calibrated(mtype, scenario, data, dt, spec, cache)
    model = _with_overrides(mtype, model, spec)
    r0 = spec.get("regime0", "last")
    if r0 == "last":
        regime0 = int(getattr(model, "last_regime", 0))
    else:
        regime0 = int(r0)
        if not 0 <= regime0 < model.n_regimes:
            raise ValueError(f"model.regime0 must be in 0..{model.n_regimes - 1}, got {regime0}")
    v0 = spec.get("v0", "last")
    if v0 == "last":
        var0 = float(model.var_from_vix(np.array([data.vix[-1]]), np.array([regime0]))[0])
    elif v0 in ("theta", "default"):
        var0 = float(model.long_run_var)
    else:
        var0 = float(v0)
    if not (math.isfinite(var0) and var0 >= 0):
        raise ValueError(f"initial variance must be finite and >= 0, got {var0}")
    return model, fit, var0, regime0


#: Highest VIX level (points) the SPX surface and the VIX pricers tabulate (:class:`alvh.surface.FourierSurface`).
VIX_RANGE_TOP = 150.0

#: A Feller ratio ``2 kappa theta / sigma^2`` below this is reported as a warning: the variance then
#: sits at (or near) zero much of the time, and results lean on the scheme's treatment of zero
#: (Andersen 2008, sec. 3). Calibrations to SPX/VIX give 0.4-0.9 (the fit reports in the docs).
FELLER_WARN_BELOW = 0.1


def params_path(scenario) -> Path | None:
    """The parameter file a scenario names in ``[model] params`` (relative to the scenario file, or
    to the working folder for a scenario without a file), or None."""
    params = scenario.model.get("params")
    if not params:
        return None
    p = Path(params)
    return p if p.is_absolute() else (scenario.path.parent if scenario.path else Path.cwd()) / p


def _calibrated(mtype: str, scenario, data: MarketData, dt: float, spec: dict, cache: bool = False
                ) -> tuple[PathModel, FitReport]:
    p = params_path(scenario)
    if p is not None:
        where = str(scenario.path) if scenario.path else scenario.name
        try:
            return check_params_file(p, mtype)
        except ValueError as exc:
            raise ParamsFileError(f"{where}: key 'model.params': {exc}") from None
    options = {"k_regimes": spec.get("k_regimes", 3)} if mtype == "regime_heston" else {}
    model, fit = calibrate_cached(mtype, data, dt, options) if cache else calibrate(mtype, data, dt, options)
    if not fit.converged:      # a replay's pricing model too
        objective = "" if fit.objective is None else f" (objective {fit.objective:.6g})"
        if not spec.get("allow_unconverged", False):
            raise CalibrationError(
                f"key 'model.type': the {mtype} calibration did not converge{objective}; refusing to run "
                f"on it (set [model] allow_unconverged = true to run anyway)")
        fit.notes.append(f"the calibration did not converge{objective}; run anyway (model.allow_unconverged)")
    return model, fit


def check_params_file(path: Path, model_type: str) -> tuple[PathModel, FitReport]:
    """Read a parameter file and check its model as a run needs it: :func:`read_params`, then the
    model's VIX at zero variance within the pricers' range. Used when a scenario is read (before any
    work, :func:`alvh.config.parse_scenario`) and when it runs.

    Returns
    -------
    model : PathModel
    fit : FitReport

    Raises
    ------
    ParamsFileError
        As :func:`read_params`, or a model whose VIX at zero variance is above the pricers' range.
    """
    model, fit = read_params(path, model_type)
    try:
        _check_vix_range(model)
    except ValueError as exc:
        raise ParamsFileError(f"{path}: {exc}") from None
    return model, fit


def _check_vix_range(model: PathModel) -> None:
    """Refuse a model whose VIX exceeds :data:`VIX_RANGE_TOP` even at zero variance (jump terms alone)."""
    v_top = np.asarray(model.var_from_vix(np.array([VIX_RANGE_TOP]), np.zeros(1, dtype=np.int64))).ravel()
    if not (v_top.size and v_top[0] > 0):
        floor = float(np.asarray(model.vix(np.zeros(1), np.zeros(1, dtype=np.int64))).ravel()[0])
        raise ValueError(f"the {model.name} model's VIX is {floor:.4g} points even at zero variance, above the "
                         f"{VIX_RANGE_TOP:g} points the pricers tabulate; rule: its VIX at zero variance (from the "
                         "jump terms, e.g. lam_j) must be below that")


def model_warnings(model: PathModel, fit: FitReport) -> list[str]:
    """Warnings about a model that a user should see before trusting its results (one line each).

    A Feller ratio ``2 kappa theta / sigma^2`` below :data:`FELLER_WARN_BELOW`, and every note of the
    fit report that says a parameter sits at a bound of its search.
    """
    out = []
    d = model.to_dict()
    if all(k in d for k in ("kappa", "theta", "sigma")):
        # per regime where the model has several (regime_heston: theta and sigma per regime)
        kappa, theta, sigma = (np.asarray(d[k], dtype=float) for k in ("kappa", "theta", "sigma"))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = 2.0 * kappa * theta / sigma**2
        ratio = float(np.min(ratios)) if ratios.size and np.isfinite(ratios).all() else math.inf
        if ratio < FELLER_WARN_BELOW:
            out.append(f"Feller ratio 2 kappa theta / sigma^2 = {ratio:.3g} is below {FELLER_WARN_BELOW:g}: the "
                       "variance sits at or near zero much of the time, and results lean on the scheme's treatment "
                       "of zero (Andersen 2008, sec. 3)")
    out += [n.split(" (")[0] for n in fit.notes if " at its lower bound" in n or " at its upper bound" in n]
    return out
