"""Pooled path-day estimators with path-clustered errors: VaR/CVaR, paired CVaR difference,
ratio of sums and mean (see the notes of :mod:`alvh.metrics`)."""

from __future__ import annotations

import numpy as np

from alvh.metrics.estimate import Z95, Estimate
from alvh.metrics.perpath import _check_level


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
