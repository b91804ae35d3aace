"""The realism scorecard: each model against the real market, row by row, with a stated band.

Two sides (issue "market-true", DESIGN.md's P-vs-Q point):

**P rows** (the model's real-world paths against real history). The model simulates ``n_paths``
stationary histories as long as the real sample (default 1990-01-02 .. 2024-12-31, bundled SPX and
VIX closes); each statistic is computed on every simulated history. ``simulated`` is its mean over
histories, ``simulated_se`` the standard error of that mean, and the band is the 5%-95% range
across histories: a row passes when the real value lies inside it (a history like the real one is
not unusual under the model). Statistics: daily VIX change 99% and 99.9% quantiles (points); the
largest one-day VIX rise (points); the share of days with VIX > 30 (%); the VIX autocorrelation at
1, 21 and 63 days; the annualised volatility (%, the square root of 252 times the variance of the
daily log return: against the options' implied variance it is the variance risk premium a short
condor earns), the excess kurtosis and the 0.1% quantile of daily SPX log returns (%); the
correlation of daily SPX log returns with daily VIX changes.

**Q rows** (the model's prices against real prices, by VIX bucket). On every real day from
2008-01-02 to 2024-12-31 with VIX, VIX6M and the futures, the model's state is read off the real
VIX (and, for a model with several regimes, the VIX6M: :func:`alvh.models.twofactor.filter_levels`
picks the regime whose model VIX6M is nearest);
the model then prices the futures M1..M7 at their real trading days to settlement, its VVIX
(:func:`alvh.models.twofactor.model_vvix`, Cboe's formula on a continuum of 30-day VIX options) and
its VIX3M, and its SKEW (:func:`model_skew`: Cboe's formula on the model's 30-day SPX strip).
``real`` and ``simulated`` are means over the days of the bucket; the values are quadratures (no
Monte Carlo), so ``simulated_se`` is 0. Bands are ``real`` plus or minus a stated tolerance: 1.0
point for futures and 12 points for VVIX (the issue's acceptance rule), 0.03 for the VIX3M/VIX and
VIX6M/VIX ratios, 8 points for SKEW. A level-chain model's VIX6M/VIX row is close by construction
(the VIX6M picks its level) and says so in its statistic name; so does the SKEW row of a model priced
on the SSVI surface, whose smile shape is the scenario default (:class:`alvh.pricing.SpxSmile`), not
the model's.

The table has exactly the columns :data:`COLUMNS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alvh.models.base import PathModel

__all__ = ["COLUMNS", "P_STATISTICS", "Q_TOLERANCES", "p_statistics", "p_rows", "q_rows", "scorecard",
           "real_p_window", "model_skew", "SKEW_TAU"]

COLUMNS = ("model", "side", "statistic", "bucket", "real", "simulated", "simulated_se", "band_low",
           "band_high", "pass")

#: P statistics: name -> unit.
P_STATISTICS = {
    "vix_change_q99": "points", "vix_change_q999": "points", "vix_max_rise": "points",
    "share_vix_above_30": "% of days", "vix_acf_1": "1", "vix_acf_21": "1", "vix_acf_63": "1",
    "spx_vol": "% per year", "spx_kurtosis": "excess", "spx_q001": "% per day", "spx_vix_corr": "1",
}

#: Q tolerances (band half-widths) by statistic prefix, in the statistic's unit. SKEW: 8 points, a little
#: less than the real daily SKEW's standard deviation within a VIX bucket (7-12 points, 2008-2024).
Q_TOLERANCES = {"futures": 1.0, "vvix": 12.0, "vix3m_over_vix": 0.03, "vix6m_over_vix": 0.03, "skew": 8.0}

#: SKEW horizon: Cboe's 30 calendar days, in years.
SKEW_TAU = 30.0 / 365.0


def model_skew(model: PathModel, level, var, n_strikes: int = 301, surface=None) -> np.ndarray:
    """Model SKEW (points) of states ``(level, var)``: Cboe's SKEW formula on the model's 30-day SPX strip.

    The strip is the model's SPX surface (:func:`alvh.surface.make_surface`, ``"auto"``: the Fourier
    surface for Heston, Bates and SVCJ, SSVI anchored to the model's ATM variance otherwise) at
    ``n_strikes`` strikes evenly spaced in log-moneyness over +-8 ATM standard deviations, priced by
    Black's formula on the forward (rate 0: the SKEW does not depend on it, beyond Cboe's
    discounting); :func:`alvh.cboe.skew_index` on one expiry of exactly 30 days (Cboe SKEW white
    paper).

    Parameters
    ----------
    model : PathModel
    level, var : ndarray of shape (n,)
        Regime and variance state of each day.

    Returns
    -------
    ndarray of shape (n,)
    """
    from scipy.special import ndtr

    from alvh.cboe import skew_index, strip_terms
    from alvh.surface import make_surface

    surface = make_surface(model, "auto") if surface is None else surface
    var = np.asarray(var, float)
    level = np.broadcast_to(np.asarray(level, np.int64), var.shape)
    regime = level if model.n_regimes > 1 else None
    w_atm = surface.total_variance(np.zeros(var.shape), SKEW_TAU, var, regime)
    unit = np.linspace(-8.0, 8.0, n_strikes)
    k = np.sqrt(np.maximum(w_atm, 1e-8))[:, None] * unit[None, :]
    reg = None if regime is None else np.repeat(regime, n_strikes)
    w = surface.total_variance(k.ravel(), SKEW_TAU, np.repeat(var, n_strikes), reg).reshape(k.shape)
    sd = np.sqrt(np.maximum(w, 1e-12))
    strikes = np.exp(k)
    d1 = (-k + 0.5 * w) / sd
    calls = ndtr(d1) - strikes * ndtr(d1 - sd)
    puts = calls - 1.0 + strikes
    out = np.empty(var.shape)
    for i in range(var.size):
        out[i] = skew_index(strip_terms(strikes[i], np.maximum(calls[i], 0.0), np.maximum(puts[i], 0.0), 0.0,
                                        SKEW_TAU))
    return out

_STEP = 1.0 / 252.0


def _acf(x: np.ndarray, lag: int) -> np.ndarray:
    """Autocorrelation of each row of ``x`` at ``lag`` (the row's own mean and variance)."""
    d = x - x.mean(axis=1, keepdims=True)
    return (d[:, lag:] * d[:, :-lag]).sum(axis=1) / (d * d).sum(axis=1)


def p_statistics(spx, vix) -> dict[str, np.ndarray]:
    """The P statistics of each history (row) of daily SPX and VIX closes.

    Parameters
    ----------
    spx, vix : ndarray of shape (n_days,) or (n_paths, n_days)
        SPX (points) and VIX (points) closes, one history per row.

    Returns
    -------
    dict of str to ndarray of shape (n_paths,)
        Keys and units :data:`P_STATISTICS`.
    """
    s = np.atleast_2d(np.asarray(spx, float))
    v = np.atleast_2d(np.asarray(vix, float))
    r = np.diff(np.log(s), axis=1)
    dv = np.diff(v, axis=1)
    rc = r - r.mean(axis=1, keepdims=True)
    dc = dv - dv.mean(axis=1, keepdims=True)
    m2 = (rc**2).mean(axis=1)
    return {
        "vix_change_q99": np.quantile(dv, 0.99, axis=1),
        "vix_change_q999": np.quantile(dv, 0.999, axis=1),
        "vix_max_rise": dv.max(axis=1),
        "share_vix_above_30": 100.0 * (v > 30.0).mean(axis=1),
        "vix_acf_1": _acf(v, 1), "vix_acf_21": _acf(v, 21), "vix_acf_63": _acf(v, 63),
        "spx_vol": 100.0 * np.sqrt(252.0 * m2),
        "spx_kurtosis": (rc**4).mean(axis=1) / m2**2 - 3.0,
        "spx_q001": 100.0 * np.quantile(r, 0.001, axis=1),
        "spx_vix_corr": (rc * dc).sum(axis=1) / np.sqrt((rc**2).sum(axis=1) * (dc**2).sum(axis=1)),
    }


def real_p_window(start: str = "1990-01-02", end: str = "2024-12-31") -> pd.DataFrame:
    """Bundled SPX and VIX closes on their common days in ``[start, end]`` (columns ``spx``, ``vix``)."""
    from alvh.realdata import load

    both = pd.concat([load("spx").frame["CLOSE"].rename("spx"), load("vix").frame["CLOSE"].rename("vix")],
                     axis=1, join="inner")
    return both.loc[start:end]


def p_rows(name: str, model: PathModel, real: pd.DataFrame, n_paths: int, rng: np.random.Generator
           ) -> list[dict]:
    """P rows of one model: ``n_paths`` stationary histories as long as ``real`` (module docstring)."""
    n_days = len(real)
    paths = model.simulate(model.stationary_state(100.0, n_paths, rng), n_days - 1, _STEP, rng)
    sim = p_statistics(paths.spot, paths.vix)
    obs = p_statistics(real["spx"].to_numpy(), real["vix"].to_numpy())
    rows = []
    for stat in P_STATISTICS:
        x = sim[stat][np.isfinite(sim[stat])]
        lo, hi = (np.quantile(x, [0.05, 0.95]) if x.size else (np.nan, np.nan))
        se = float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
        real_v = float(obs[stat][0])
        rows.append({"model": name, "side": "P", "statistic": stat, "bucket": "all", "real": real_v,
                     "simulated": float(x.mean()) if x.size else float("nan"), "simulated_se": se,
                     "band_low": float(lo), "band_high": float(hi), "pass": bool(lo <= real_v <= hi)})
    return rows


def _states(model: PathModel, vix: np.ndarray, vix6m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level and variance of real days (one level for single-level models)."""
    if model.n_regimes == 1:
        return np.zeros(vix.size, np.int64), np.asarray(model.var_from_vix(vix), float)
    from alvh.models.twofactor import filter_levels
    return filter_levels(model, vix, vix6m)


def q_rows(name: str, model: PathModel, days: pd.DataFrame | None = None) -> list[dict]:
    """Q rows of one model by VIX bucket (module docstring).

    Parameters
    ----------
    name : str
    model : PathModel
    days : pandas.DataFrame, optional
        Real days with ``vix, vix6m, vix3m, vvix, skew, M1..M7, k1..k7`` (default
        :func:`alvh.models.twofactor.q_days` over 2008-2024).
    """
    from alvh.models.twofactor import VIX3M_TAU, VVIX_STEPS, model_vvix, q_days, q_expectations
    from alvh.realdata import VIX_BUCKETS

    days = q_days(every=1) if days is None else days
    vix = days["vix"].to_numpy()
    level, var = _states(model, vix, days["vix6m"].to_numpy())
    kmax = int(days[[f"k{i}" for i in range(1, 8)]].to_numpy().max())
    q = q_expectations(model, max(kmax, VVIX_STEPS), n_nodes=400)
    values = {f"futures_M{i}": (days[f"M{i}"].to_numpy(), q.at(q.mean_vix, level, var, days[f"k{i}"].to_numpy()))
              for i in range(1, 8)}
    values["vvix"] = (days["vvix"].to_numpy(), model_vvix(q, level, var))
    iv3 = model.atm_total_variance(var, VIX3M_TAU, level if model.n_regimes > 1 else None)
    values["vix3m_over_vix"] = (days["vix3m"].to_numpy() / vix, 100.0 * np.sqrt(iv3 / VIX3M_TAU) / vix)
    from alvh.models.twofactor import VIX6M_TAU
    iv6 = model.atm_total_variance(var, VIX6M_TAU, level if model.n_regimes > 1 else None)
    key6 = "vix6m_over_vix" if model.n_regimes == 1 else "vix6m_over_vix (filters the level)"
    values[key6] = (days["vix6m"].to_numpy() / vix, 100.0 * np.sqrt(iv6 / VIX6M_TAU) / vix)
    from alvh.surface import SsviSurface, make_surface

    surface = make_surface(model, "auto")
    # on the SSVI surface the smile's shape is the scenario default, not the model's: the row says so
    key_skew = "skew (SSVI default shape)" if isinstance(surface, SsviSurface) else "skew"
    values[key_skew] = (days["skew"].to_numpy(), model_skew(model, level, var, surface=surface))
    rows = []
    for stat, (real, sim) in values.items():
        tol = Q_TOLERANCES[stat.split("_M")[0].split(" ")[0]]
        for label, lo, hi in VIX_BUCKETS:
            sel = (vix >= lo) & (vix < hi) & np.isfinite(real) & np.isfinite(sim)
            if not sel.any():
                continue
            r, s = float(real[sel].mean()), float(sim[sel].mean())
            rows.append({"model": name, "side": "Q", "statistic": stat, "bucket": label, "real": r,
                         "simulated": s, "simulated_se": 0.0, "band_low": r - tol, "band_high": r + tol,
                         "pass": bool(abs(s - r) <= tol)})
    return rows


def scorecard(models: dict[str, PathModel], n_paths: int = 100, seed: int = 20261121,
              start: str = "1990-01-02", end: str = "2024-12-31", progress=None) -> pd.DataFrame:
    """The scorecard of every model (module docstring).

    Parameters
    ----------
    models : dict of str to PathModel
        Name -> model, in the order of the table.
    n_paths : int, default 100
        Simulated histories per model for the P rows (>= 2).
    seed : int
        Root seed; model ``i`` gets child ``i`` of ``SeedSequence(seed)``.
    start, end : str
        Real window of the P rows.
    progress : callable, optional
        Called with one line per step (e.g. ``print`` to stderr).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, one row per model, side, statistic and bucket.

    Raises
    ------
    ValueError
        ``n_paths < 2``, or a window with fewer than 64 common days.
    """
    from alvh.models.twofactor import q_days

    if n_paths < 2:
        raise ValueError(f"n_paths must be >= 2, got {n_paths}")
    real = real_p_window(start, end)
    if len(real) < 64:
        raise ValueError(f"the P window {start} .. {end} has {len(real)} common SPX/VIX days; need >= 64")
    days = q_days(every=1)
    seeds = np.random.SeedSequence(seed).spawn(len(models))
    rows: list[dict] = []
    for (name, model), ss in zip(models.items(), seeds):
        if progress:
            progress(f"{name}: {n_paths} histories of {len(real):,} days (P), futures and VVIX on "
                     f"{len(days):,} real days (Q)")
        rows += p_rows(name, model, real, n_paths, np.random.default_rng(ss))
        rows += q_rows(name, model, days)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def model_scorecard(name: str, model: PathModel, n_paths: int = 50, seed: int = 20261121,
                    cache_dir=None) -> pd.DataFrame:
    """:func:`scorecard` of one model, kept on disk by its parameters (beside the calibration cache).

    The key is the SHA-256 of the model's parameters (:meth:`~alvh.models.base.PathModel.to_dict`), the
    name, ``n_paths``, ``seed``, the versions of alvh and the numerical packages, the source of this
    module and of the models, and the bundled data with its loader, calendar and VIX pricer
    (:func:`alvh.modelspec.q_fit_sources`); a cache that cannot be read or written is ignored.
    """
    import hashlib
    import json
    import logging
    import os
    from pathlib import Path

    from alvh.modelspec import calibration_cache_dir, q_fit_sources, source_files
    from alvh.parallel import pinned_versions

    h = hashlib.sha256(json.dumps({"format": "alvh-scorecard/1", "name": name, "type": model.name,
                                   "params": model.to_dict(), "n_paths": n_paths, "seed": seed,
                                   "versions": pinned_versions()}, sort_keys=True, default=float).encode())
    for src in source_files("models", "scorecard") + q_fit_sources():
        h.update(src.read_bytes())
    folder = Path(cache_dir) if cache_dir is not None else calibration_cache_dir()
    path = folder / f"scorecard-{h.hexdigest()[:32]}.csv"
    try:
        table = pd.read_csv(path, keep_default_na=True)
        if tuple(table.columns) == COLUMNS:
            return table
    except (OSError, ValueError, pd.errors.ParserError):
        pass
    table = scorecard({name: model}, n_paths=n_paths, seed=seed)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
        table.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        logging.getLogger("alvh").warning("scorecard cache %s not written: %s", folder, exc)
    return table


def failed_rows(table: pd.DataFrame) -> str:
    """One line naming a scorecard's failed rows, e.g. ``"fails 12 of 66 rows: P vix_change_q99, ...;
    Q futures_M4[>30], ..."`` (or ``"passes all 66 rows"``)."""
    ok = table["pass"].astype(bool)
    if ok.all():
        return f"passes all {len(table)} rows"
    parts = []
    for side in ("P", "Q"):
        bad = table[(~ok) & (table["side"] == side)]
        if len(bad):
            names = [s if b == "all" else f"{s}[{b}]" for s, b in zip(bad["statistic"], bad["bucket"])]
            parts.append(f"{side} " + ", ".join(names))
    return f"fails {int((~ok).sum())} of {len(table)} rows: " + "; ".join(parts)
