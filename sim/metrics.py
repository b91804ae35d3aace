"""Risk and cost metrics across paths, each with a standard error or confidence interval.

Conventions: a *loss* is minus the P&L, so VaR and CVaR are positive numbers when the strategy
loses. ``level`` is the confidence level (0.95, 0.99): VaR_level is the level-quantile of the loss and
CVaR_level (expected shortfall) the mean loss beyond it.

Error estimates
---------------
* Means: sample standard deviation / sqrt(n).
* VaR: distribution-free confidence interval from order statistics (``scipy.stats.quantile_test``;
  Conover 1999, *Practical Nonparametric Statistics*, sec. 3.2).
* CVaR: ``CVaR = VaR + E[(L - VaR)^+] / (1 - level)`` (Rockafellar & Uryasev 2000, Theorem 1);
  its standard error from the influence function ``IF_i = VaR + (L_i - VaR)^+ / (1 - level) - CVaR``
  (asymptotic variance ``Var(IF)/n``; Manistre & Hancock 2005, "Variance of the CTE estimator",
  North American Actuarial Journal 9(2), eq. 9). Paired differences (hedged minus unhedged on
  the same paths) use the difference of the per-path influence values, so common random numbers
  shrink their error.
* Shares: Wilson score interval (``scipy.stats.binomtest(...).proportion_ci``).
* Ratios (hedge efficiency): delta method on the per-path influence values.

Pooled path-day estimators
--------------------------
Daily statistics pool every selected day of every path (``loss`` of shape ``(n_paths, n_days)``,
optionally restricted by a boolean ``mask`` of the same shape, e.g. the days of one regime). Days of
one path are dependent (volatility clustering, positions held across days), paths are independent,
so every standard error here is *clustered by path*: the estimator is written as a mean of
per-path-day influence values, these are summed within each path, and the variance is that of the
per-path sums (cluster-robust "sandwich" variance; Liang & Zeger 1986, "Longitudinal data analysis
using generalized linear models", Biometrika 73(1); Cameron & Miller 2015, "A practitioner's guide
to cluster-robust inference", J. Human Resources 50(2), sec. II.C; their ``G / (G - 1)``
small-sample factor comes from ``ddof=1``). Paths where the mask selects nothing
remain clusters with a zero sum (domain estimation; Lohr 2010, *Sampling: Design and Analysis*,
2nd ed., ch. 4).

* Pooled CVaR: the Rockafellar & Uryasev (2000) estimator on the pooled sample, influence values as
  above (Manistre & Hancock 2005), summed by path.
* Pooled VaR: the empirical quantile with a Woodruff (1952) interval, ``[Q(p - z s_p), Q(p + z s_p)]``
  where ``s_p`` is the path-clustered SE of the empirical CDF at the VaR (Woodruff 1952, "Confidence
  intervals for medians and other position measures", JASA 47; Francisco & Fuller 1991, "Quantile
  estimation with a complex survey design", Annals of Statistics 19(1)).
* Ratio of sums ``sum y / sum x`` over path-days (a cluster-sample ratio estimator): delta method,
  per-path influence ``(y_i - R x_i) / mean(x)`` with ``y_i``, ``x_i`` the path totals (Cochran 1977,
  *Sampling Techniques*, 3rd ed., ch. 6 and ch. 9A). A pooled mean is the ratio with ``x = 1``.

Every pooled estimator also returns its per-path influence values ``psi`` (shape ``(n_paths,)``,
mean zero), scaled so that ``SE = std(psi, ddof=1) / sqrt(n_paths)`` exactly as for per-path
samples: they can be differenced between strategies on the same paths (paired estimates) or fed to
:func:`ratio`. A single path (a historical replay) gives the estimate with NaN SE and CI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Estimate", "mean", "var_cvar", "cvar_difference", "share", "quantile", "ratio", "Z95",
           "pooled_var_cvar", "pooled_var_cvar_levels", "pooled_cvar_difference", "ratio_of_sums", "pooled_mean"]

#: Two-sided 95% normal quantile.
Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate with its error.

    Attributes
    ----------
    value : float
    se : float
        Standard error (NaN where only an interval is available).
    ci_low, ci_high : float
        95% confidence interval.
    """

    value: float
    se: float
    ci_low: float
    ci_high: float

    @classmethod
    def normal(cls, value: float, se: float) -> "Estimate":
        """Estimate with a normal 95% interval ``value +- 1.96 se``."""
        return cls(float(value), float(se), float(value - Z95 * se), float(value + Z95 * se))


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


# ----------------------------------------------------------------------------------------------
# Pooled path-day estimators, path-clustered
# ----------------------------------------------------------------------------------------------


def _path_days(x, name: str) -> np.ndarray:
    """``x`` as a float array of shape (n_paths, n_days); a 1-D array is one value per path."""
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n_paths, n_days), got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} needs at least 1 path, got none")
    return np.asarray(x, dtype=float)


def _path_mask(mask, shape: tuple[int, int]) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.ndim == 1:
        m = m[:, None]
    if m.shape != shape:
        raise ValueError(f"mask must have the shape of the data {shape}, got {m.shape}")
    if m.dtype != bool:
        raise ValueError(f"mask must be boolean, got dtype {m.dtype}")
    return m


def _selected(x: np.ndarray, mask: np.ndarray | None, name: str) -> np.ndarray:
    """The selected path-days as a 1-D array, checked finite and non-empty."""
    sel = x.reshape(-1) if mask is None else x[mask]
    if sel.size < 2:
        raise ValueError(f"{name}: the mask selects {sel.size} path-days, need at least 2")
    if not np.all(np.isfinite(sel)):
        raise ValueError(f"{name} contains non-finite values on selected path-days")
    return sel


def _path_sums(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Per-path sums over the selected days (unselected entries, even NaN, count as 0)."""
    if mask is None:
        return x.sum(axis=1)
    rows, cols = np.nonzero(mask) if mask.mean() < 0.05 else (None, None)
    if rows is None:
        return np.where(mask, x, 0.0).sum(axis=1)
    # sparse selection (tail days): gather the few selected entries instead of a full pass
    return np.bincount(rows, weights=x[rows, cols], minlength=x.shape[0])


def _path_counts(shape: tuple[int, int], mask: np.ndarray | None) -> np.ndarray:
    if mask is None:
        return np.full(shape[0], float(shape[1]))
    return mask.sum(axis=1).astype(float)


def _clustered_se(psi: np.ndarray) -> float:
    """``std(psi, ddof=1) / sqrt(n_paths)``; NaN for a single path (no error can be estimated)."""
    if psi.size < 2:
        return np.nan
    return float(psi.std(ddof=1) / np.sqrt(psi.size))


def pooled_var_cvar(loss, level: float, mask=None) -> tuple[Estimate, Estimate, np.ndarray]:
    """VaR and CVaR of pooled path-day losses, with path-clustered errors.

    Parameters
    ----------
    loss : array_like of shape (n_paths, n_days)
        Loss per path and day (minus the daily P&L), any unit (e.g. % of capital); the results
        carry that unit. A 1-D array is read as one day per path. Entries outside ``mask`` are
        ignored and may be NaN.
    level : float
        Confidence level in (0, 1), e.g. 0.99.
    mask : array_like of bool, shape (n_paths, n_days), optional
        Path-days to pool (e.g. the days of one regime); all when omitted.

    Returns
    -------
    var : Estimate
        Empirical level-quantile of the pooled losses, with a path-clustered Woodruff 95% interval
        (NaN at an end that falls outside the sample's probability range); SE NaN, as in
        :func:`var_cvar`.
    cvar : Estimate
        Rockafellar & Uryasev (2000, Theorem 1) estimate ``VaR + mean((L - VaR)^+) / (1 - level)``
        over the pooled path-days, with the path-clustered influence-function SE (module notes) and
        a normal 95% CI.
    psi : ndarray of shape (n_paths,)
        Per-path influence values of the CVaR (mean zero; ``SE = std(psi, ddof=1) / sqrt(n_paths)``).

    Raises
    ------
    ValueError
        For no path, fewer than 2 selected path-days, non-finite selected losses, a mask of the
        wrong shape or dtype, or a level outside (0, 1).

    Notes
    -----
    With one day per path this reduces to :func:`var_cvar` (same CVaR and SE); with identical days
    within each path the SE is that of the per-path values, not ``sqrt(n_days)`` times smaller.
    """
    _check_level(level)
    return pooled_var_cvar_levels(loss, (level,), mask)[0]


def pooled_var_cvar_levels(loss, levels, mask=None) -> list[tuple[Estimate, Estimate, np.ndarray]]:
    """:func:`pooled_var_cvar` at several levels at once (two partial sorts of the pooled sample).

    Parameters
    ----------
    loss : array_like of shape (n_paths, n_days)
    levels : sequence of float
        Confidence levels, each in (0, 1).
    mask : array_like of bool, shape (n_paths, n_days), optional

    Returns
    -------
    list of (var, cvar, psi)
        One :func:`pooled_var_cvar` result per level, in order.

    Raises
    ------
    ValueError
        As :func:`pooled_var_cvar`.
    """
    levels = [float(lv) for lv in np.atleast_1d(levels)]
    if not levels:
        raise ValueError("levels is empty")
    for lv in levels:
        _check_level(lv)
    loss = _path_days(loss, "loss")
    mask = _path_mask(mask, loss.shape)
    return _pooled_var_cvar_levels(loss, levels, mask)


def _pooled_var_cvar_levels(loss: np.ndarray, levels: list[float], mask: np.ndarray | None, name: str = "loss"):
    """Body of :func:`pooled_var_cvar_levels` on a checked (n_paths, n_days) float array and mask."""
    sel = _selected(loss, mask, name)
    n, big_n = loss.shape[0], sel.size
    counts = _path_counts(loss.shape, mask)
    out, p_ci = [], []
    for level, var in zip(levels, np.atleast_1d(np.quantile(sel, levels))):
        var = float(var)
        # per-path sums of IF_it = VaR + (L_it - VaR)^+ / (1 - level) - CVaR over the selected days
        excess = _path_sums(np.maximum(loss - var, 0.0), mask) / (1.0 - level)
        cvar = var + float(excess.sum()) / big_n
        psi = (counts * (var - cvar) + excess) * (n / big_n)
        # Woodruff: path-clustered SE of the empirical CDF at VaR (a ratio of sums), inverted below
        below = _path_sums((loss <= var).astype(float), mask)
        p_hat = float(below.sum()) / big_n
        s_p = _clustered_se((below - p_hat * counts) * (n / big_n))
        p_ci.append((level - Z95 * s_p, level + Z95 * s_p))
        out.append((var, cvar, psi))
    inner = [p for pair in p_ci for p in pair if 0.0 < p < 1.0]
    qs = dict(zip(inner, np.atleast_1d(np.quantile(sel, inner)))) if inner else {}
    res = []
    for (var, cvar, psi), (p_lo, p_hi) in zip(out, p_ci):
        lo = float(qs[p_lo]) if p_lo in qs else np.nan
        hi = float(qs[p_hi]) if p_hi in qs else np.nan
        res.append((Estimate(var, np.nan, lo, hi), Estimate.normal(cvar, _clustered_se(psi)), psi))
    return res


def pooled_cvar_difference(loss_a, loss_b, level: float, mask=None) -> tuple[Estimate, np.ndarray]:
    """Paired difference ``CVaR(loss_a) - CVaR(loss_b)`` of pooled path-day losses.

    Parameters
    ----------
    loss_a, loss_b : array_like of shape (n_paths, n_days)
        Daily losses of two strategies on the same paths and days (common random numbers).
    level : float
        Confidence level in (0, 1).
    mask : array_like of bool, shape (n_paths, n_days), optional
        Path-days to pool, the same for both.

    Returns
    -------
    diff : Estimate
        The difference with the path-clustered SE of the difference of the two per-path influence
        values (paired: what the two strategies share cancels).
    psi : ndarray of shape (n_paths,)
        Per-path influence values of the difference (for :func:`ratio`).

    Raises
    ------
    ValueError
        As :func:`pooled_var_cvar`, and when the two arrays' shapes differ.
    """
    _check_level(level)
    a = _path_days(loss_a, "loss_a")
    b = _path_days(loss_b, "loss_b")
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have equal shapes, got {a.shape} and {b.shape}")
    mask = _path_mask(mask, a.shape)
    (_, ca, pa), = _pooled_var_cvar_levels(a, [level], mask, "loss_a")
    (_, cb, pb), = _pooled_var_cvar_levels(b, [level], mask, "loss_b")
    d = pa - pb
    return Estimate.normal(ca.value - cb.value, _clustered_se(d)), d


def ratio_of_sums(num, den=None, mask=None) -> tuple[Estimate, np.ndarray]:
    """Ratio of sums ``R = sum(num) / sum(den)`` over the selected path-days, SE clustered by path.

    Parameters
    ----------
    num : array_like of shape (n_paths, n_days)
        Numerator per path-day (a 1-D array is one value per path).
    den : array_like of shape (n_paths, n_days), optional
        Denominator per path-day; omitted, every selected path-day counts 1 (the ratio is then the
        pooled mean of ``num``).
    mask : array_like of bool, shape (n_paths, n_days), optional
        Path-days to use; all when omitted. Unselected entries are ignored and may be NaN.

    Returns
    -------
    est : Estimate
        ``R`` with the delta-method SE of a cluster-sample ratio estimator (Cochran 1977, ch. 6),
        ``Var(R) ~ sum_i (y_i - R x_i)^2 / (n (n - 1) mean(x)^2)`` over paths ``i`` with path totals
        ``y_i``, ``x_i``. NaN (value, SE and CI) when ``mean(x)`` is not more than 2 of its own SEs
        away from 0 (the ratio is then not usefully defined; with a single path: when it is 0).
    psi : ndarray of shape (n_paths,)
        Per-path influence values ``(y_i - R x_i) / mean(x)`` (zeros when the estimate is NaN).

    Raises
    ------
    ValueError
        For no path, fewer than 2 selected path-days, non-finite selected values, or shape
        mismatches.
    """
    y = _path_days(num, "num")
    mask = _path_mask(mask, y.shape)
    counts = _path_counts(y.shape, mask)
    if counts.sum() < 2:
        raise ValueError(f"the mask selects {int(counts.sum())} path-days, need at least 2")
    # a non-finite selected value makes its path's sum non-finite (checked without a copy)
    y_tot = _path_sums(y, mask)
    if not np.all(np.isfinite(y_tot)):
        raise ValueError("num contains non-finite values on selected path-days")
    if den is None:
        x_tot = counts
    else:
        x = _path_days(den, "den")
        if x.shape != y.shape:
            raise ValueError(f"num and den must have equal shapes, got {y.shape} and {x.shape}")
        x_tot = _path_sums(x, mask)
        if not np.all(np.isfinite(x_tot)):
            raise ValueError("den contains non-finite values on selected path-days")
    n = y.shape[0]
    x_bar = float(x_tot.mean())
    x_se = _clustered_se(x_tot) if n > 1 else 0.0
    if not abs(x_bar) > 2.0 * x_se:
        return Estimate(np.nan, np.nan, np.nan, np.nan), np.zeros(n)
    r = float(y_tot.sum() / x_tot.sum())
    psi = (y_tot - r * x_tot) / x_bar
    return Estimate.normal(r, _clustered_se(psi)), psi


def pooled_mean(x, mask=None) -> tuple[Estimate, np.ndarray]:
    """Mean over the selected path-days with a path-clustered SE (:func:`ratio_of_sums` with den 1).

    Parameters
    ----------
    x : array_like of shape (n_paths, n_days)
    mask : array_like of bool, shape (n_paths, n_days), optional

    Returns
    -------
    est : Estimate
    psi : ndarray of shape (n_paths,)
        Per-path influence values; with every day selected, ``psi_i`` is path i's mean minus the
        grand mean, so the SE equals that of the per-path means.

    Raises
    ------
    ValueError
        As :func:`ratio_of_sums`.
    """
    return ratio_of_sums(x, None, mask)
