"""Estimators on one value per path: mean, VaR/CVaR, paired CVaR difference, share, quantile and
ratio, each with its standard error or confidence interval."""

from __future__ import annotations

import numpy as np
from scipy import stats

from alvh.metrics.estimate import Estimate


def _check(x: np.ndarray, name: str = "x") -> np.ndarray:
    x = np.asarray(x, dtype=float).ravel()
    if x.size < 2:
        raise ValueError(f"{name} needs at least 2 values, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains non-finite values")
    return x


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def mean(x) -> Estimate:
    """Sample mean with standard error ``sd / sqrt(n)``.

    Parameters
    ----------
    x : array_like of shape (n,)
    """
    x = _check(x)
    return Estimate.normal(x.mean(), x.std(ddof=1) / np.sqrt(x.size))


def _var_cvar_if(loss: np.ndarray, level: float) -> tuple[float, float, np.ndarray]:
    # in place on one new array (n values), the same operations in the same order as
    # ``e = max(loss - var, 0) / (1 - level); var + e - cvar``: a 10M-path analysis holds fewer copies
    var = float(np.quantile(loss, level))
    excess = loss - var
    np.maximum(excess, 0.0, out=excess)
    excess /= 1.0 - level
    cvar = var + float(excess.mean())
    excess += var
    excess -= cvar
    return var, cvar, excess


def var_cvar(loss, level: float) -> tuple[Estimate, Estimate]:
    """Value at risk and conditional value at risk (expected shortfall) of a loss sample.

    Parameters
    ----------
    loss : array_like of shape (n,)
        Loss per path (minus P&L), any unit; the results carry that unit.
    level : float
        Confidence level in (0, 1), e.g. 0.99.

    Returns
    -------
    var : Estimate
        Empirical level-quantile, with an order-statistic 95% CI (no SE: NaN).
    cvar : Estimate
        Rockafellar–Uryasev estimate with its influence-function SE and normal 95% CI.

    Raises
    ------
    ValueError
        For fewer than 2 values, non-finite values, or a level outside (0, 1).
    """
    loss = _check(loss, "loss")
    _check_level(level)
    var, cvar, infl = _var_cvar_if(loss, level)
    ci = stats.quantile_test(loss, q=var, p=level).confidence_interval(0.95)
    lo = float(ci.low) if np.isfinite(ci.low) else np.nan
    hi = float(ci.high) if np.isfinite(ci.high) else np.nan
    return (
        Estimate(var, np.nan, lo, hi),
        Estimate.normal(cvar, infl.std(ddof=1) / np.sqrt(loss.size)),
    )


def cvar_difference(loss_a, loss_b, level: float) -> tuple[Estimate, np.ndarray]:
    """Paired difference ``CVaR(loss_a) - CVaR(loss_b)`` on the same paths.

    Parameters
    ----------
    loss_a, loss_b : array_like of shape (n,)
        Losses of two strategies on the same paths (common random numbers).
    level : float
        Confidence level.

    Returns
    -------
    diff : Estimate
        The difference with its paired influence-function SE.
    influence : ndarray of shape (n,)
        Per-path influence values of the difference (for ratios built on it).
    """
    a = _check(loss_a, "loss_a")
    b = _check(loss_b, "loss_b")
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have equal length, got {a.size} and {b.size}")
    _check_level(level)
    _, ca, d = _var_cvar_if(a, level)
    _, cb, ib = _var_cvar_if(b, level)
    d -= ib                                     # ia - ib, in place
    del ib
    return Estimate.normal(ca - cb, d.std(ddof=1) / np.sqrt(a.size)), d


def share(mask) -> Estimate:
    """Share of paths where ``mask`` is true, with a Wilson 95% interval (SE binomial).

    Parameters
    ----------
    mask : array_like of bool, shape (n,)
    """
    m = np.asarray(mask, dtype=bool).ravel()
    if m.size == 0:
        raise ValueError("mask is empty")
    k = int(m.sum())
    p = k / m.size
    ci = stats.binomtest(k, m.size).proportion_ci(0.95, method="wilson")
    return Estimate(p, np.sqrt(p * (1.0 - p) / m.size), float(ci.low), float(ci.high))


def quantile(x, p: float) -> Estimate:
    """Empirical p-quantile (e.g. the median, p = 0.5) with an order-statistic 95% CI."""
    x = _check(x)
    _check_level(p)
    q = float(np.quantile(x, p))
    ci = stats.quantile_test(x, q=q, p=p).confidence_interval(0.95)
    return Estimate(q, np.nan, float(ci.low), float(ci.high))


def ratio(num: Estimate, num_influence: np.ndarray, den_sample) -> Estimate:
    """Ratio ``num / mean(den_sample)`` with a delta-method SE.

    Parameters
    ----------
    num : Estimate
        Numerator (e.g. a paired CVaR reduction).
    num_influence : ndarray of shape (n,)
        Per-path influence values of the numerator (mean zero).
    den_sample : array_like of shape (n,)
        Per-path values whose mean is the denominator (same paths).

    Returns
    -------
    Estimate
        NaN when the denominator's mean is not significantly above 0 (the ratio is then not
        defined in a useful sense).

    Notes
    -----
    Influence of ``R = N / D``: ``(IF_N - R (d_i - D)) / D``.
    """
    d = _check(den_sample, "den_sample")
    den = float(d.mean())
    den_se = d.std(ddof=1) / np.sqrt(d.size)
    if not den > 2.0 * den_se:
        return Estimate(np.nan, np.nan, np.nan, np.nan)
    r = num.value / den
    infl = (num_influence - r * (d - den)) / den
    return Estimate.normal(r, infl.std(ddof=1) / np.sqrt(d.size))
