"""The chain that carries the CIR central tendency on ``n_levels`` levels
(:func:`central_tendency_chain`), and the model's horizon constants."""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg, stats

from alvh.models.regimes import STEP_DT


#: Levels of the central tendency chain (regime labels of the engine).
N_LEVELS = 6
#: Horizons of Cboe's VIX3M and VIX6M (93 and 186 calendar days), years.
VIX3M_TAU = 93.0 / 365.0
VIX6M_TAU = 186.0 / 365.0


def central_tendency_chain(kappa_m: float, theta_m: float, sigma_m: float, n_levels: int = N_LEVELS,
                           h: float = STEP_DT) -> tuple[np.ndarray, np.ndarray]:
    """Levels and per-step transition matrix of the chain that carries the CIR central tendency.

    Parameters
    ----------
    kappa_m : float
        Mean reversion of ``m``, per year, > 0.
    theta_m : float
        Long-run mean of ``m`` (annualised variance), > 0.
    sigma_m : float
        Volatility of ``m``, > 0.
    n_levels : int, default :data:`N_LEVELS`
        Number of levels, >= 2.
    h : float, default 1/252
        Step of the returned matrix, years.

    Returns
    -------
    levels : ndarray of shape (n_levels,)
        Increasing levels of ``m`` (annualised variance).
    transition : ndarray of shape (n_levels, n_levels)
        ``expm(G h)``, row-stochastic.

    Raises
    ------
    ValueError
        Non-positive or non-finite parameters, ``n_levels < 2``.

    Notes
    -----
    Module docstring, "The slow factor on a chain". Where the variance condition cannot hold with
    non-negative rates (drift too strong for the level spacing) the offending rate is floored at 0,
    which keeps the drift's sign and loses some variance there.
    """
    for name, x in (("kappa_m", kappa_m), ("theta_m", theta_m), ("sigma_m", sigma_m)):
        if not (math.isfinite(x) and x > 0):
            raise ValueError(f"{name} must be finite and > 0, got {x}")
    if int(n_levels) < 2:
        raise ValueError(f"n_levels must be >= 2, got {n_levels}")
    n = int(n_levels)
    shape, scale = 2.0 * kappa_m * theta_m / sigma_m**2, sigma_m**2 / (2.0 * kappa_m)
    levels = stats.gamma.ppf((np.arange(n) + 0.5) / n, shape, scale=scale)
    gen = np.zeros((n, n))
    for i in range(n):
        drift, var = kappa_m * (theta_m - levels[i]), sigma_m**2 * levels[i]
        if i == 0:
            gen[0, 1] = max(drift, 0.0) / (levels[1] - levels[0])
        elif i == n - 1:
            gen[i, i - 1] = max(-drift, 0.0) / (levels[i] - levels[i - 1])
        else:
            up, dn = levels[i + 1] - levels[i], levels[i] - levels[i - 1]
            gen[i, i + 1] = max((var + drift * dn) / (up * (up + dn)), 0.0)
            gen[i, i - 1] = max((var - drift * up) / (dn * (up + dn)), 0.0)
        gen[i, i] = -gen[i].sum()
    p = linalg.expm(gen * h)
    p = np.clip(p, 0.0, None)
    return levels, p / p.sum(axis=1, keepdims=True)
