"""Small helpers shared by the metric table and the claim check: scaling and re-levelling estimates,
the daily P&L, regime masks, the per-path sample, the hedge cost rate and the finiteness check."""

from __future__ import annotations

import math
import re

import numpy as np
from scipy import stats

from alvh import metrics as mx
from alvh.claims.records import HEDGED_KINDS, RunArrays


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

_NAN = mx.Estimate(math.nan, math.nan, math.nan, math.nan)


def _slug(name: str) -> str:
    s = re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")
    return s or "regime"


def _scale(est: mx.Estimate, k: float) -> mx.Estimate:
    """``k * est`` for k > 0."""
    return mx.Estimate(est.value * k, est.se * k, est.ci_low * k, est.ci_high * k)


def _relevel(est: mx.Estimate, level: float) -> mx.Estimate:
    """A normal-interval estimate with its CI at ``level`` instead of 95%."""
    if level == 0.95 or not np.isfinite(est.se):
        return est
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    return mx.Estimate(est.value, est.se, est.value - z * est.se, est.value + z * est.se)


def _f(x: float, d: int = 3) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.{d}f}"


def _hedged(a: RunArrays) -> list[int]:
    return [i for i, s in enumerate(a.strategies) if s.kind in HEDGED_KINDS]


def _daily(a: RunArrays, s: int) -> np.ndarray:
    """Daily P&L of strategy s as float64, (n, T + 1), USD."""
    return np.asarray(a.daily_pnl[s], dtype=float)


def _regime_masks(a: RunArrays) -> list[tuple[str, np.ndarray]]:
    """(name, mask) per regime when the model has more than one regime, else empty."""
    if len(a.regime_names) < 2:
        return []
    r = np.asarray(a.regime)
    return [(name, r == i) for i, name in enumerate(a.regime_names)]


def _per_path(n_paths: int):
    """The per-path sample as the :mod:`alvh.metrics` path functions take it.

    Those need 2 values; a single path (a historical replay) is given twice, which leaves its mean,
    quantiles, VaR and CVaR equal to the value itself (the errors are then discarded).
    """
    if n_paths == 1:
        return lambda x: np.repeat(np.asarray(x, dtype=float).ravel(), 2)
    return lambda x: np.asarray(x, dtype=float)


def _scope_note(a: RunArrays) -> str:
    return f"; {a.daily_scope()}" if a.daily_scope() else ""


def _psi_se(psi: np.ndarray) -> float:
    """SE from per-path influence values, ``std(psi, ddof=1) / sqrt(n)``; NaN for one path."""
    return float(psi.std(ddof=1) / np.sqrt(psi.size)) if psi.size > 1 else math.nan


def _no_errors(est: mx.Estimate) -> mx.Estimate:
    return mx.Estimate(est.value, math.nan, math.nan, math.nan)


def _cost_rate(hedge_daily: np.ndarray, mask: np.ndarray | None, a: RunArrays) -> mx.Estimate:
    """Annualised net hedge cost on the selected path-days, % of capital per year.

    ``-(sum of hedge daily P&L) / (number of path-days) * steps_per_year / capital * 100``, a ratio
    of sums with a path-clustered delta-method SE (:func:`alvh.metrics.ratio_of_sums`).
    """
    est, _ = mx.ratio_of_sums(-hedge_daily, None, mask)
    return _scale(est, a.steps_per_year / a.capital * 100.0)


def _checked_flat(x: np.ndarray, name: str) -> np.ndarray:
    flat = x.reshape(-1)
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"{name} contains non-finite values")
    return flat
