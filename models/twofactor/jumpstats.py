"""The jumps read off an SPX/VIX window: peaks over threshold of the daily VIX^2 rise
(:func:`variance_jumps`) and the SPX's move on those days (:func:`spx_co_jumps`)."""

from __future__ import annotations

import math

import numpy as np

from alvh.models.regimes import STEP_DT


#: Daily rise of ``(VIX/100)^2`` above which a day counts as a variance jump (:func:`variance_jumps`):
#: 0.03, e.g. VIX 15 -> 22 or 25 -> 30.
JUMP_THRESHOLD_VIX2 = 0.03
#: Only rises from a VIX below this level count (points): above it the level-dependent diffusion of the
#: crisis levels makes such rises without a jump.
JUMP_FROM_BELOW_VIX = 30.0


def variance_jumps(vix, threshold: float = JUMP_THRESHOLD_VIX2, below: float = JUMP_FROM_BELOW_VIX,
                   dt: float = STEP_DT) -> tuple[float, float, float]:
    """Peaks over threshold of the daily rise of ``(VIX/100)^2``: the jumps' rate and size in ``VIX^2`` units.

    Days whose rise exceeds ``threshold`` from a previous close below ``below`` are jump days; the
    excesses are fitted by an exponential law (the generalised Pareto law of Pickands 1975 and
    Balkema & de Haan 1974 with shape 0, whose maximum-likelihood scale is the mean excess). So a jump
    adds ``threshold + Exp(mean excess)`` to ``VIX^2``, at the rate of the exceedances per year spent
    below ``below``. The real excesses are heavier-tailed than exponential (their mean grows with
    the threshold: 0.015 above 0.01, 0.034 above 0.03, 0.049 above 0.05 on 1990-2024 without the
    level condition), so the largest jumps are understated.

    Parameters
    ----------
    vix : ndarray of shape (n,)
        Daily VIX closes (points).
    threshold : float
        In ``(VIX/100)^2`` units.
    below : float
        VIX level (points) the rise must start below.

    Returns
    -------
    rate : float
        Jumps per year.
    jump_min : float
        ``threshold``.
    mean_excess : float
        Mean of the excesses (``(VIX/100)^2`` units); 0 when no day exceeds.
    """
    vix = np.asarray(vix, float)
    rise = np.diff((vix / 100.0) ** 2)
    calm = vix[:-1] < below
    exc = rise[calm & (rise > threshold)] - threshold
    years = max(int(calm.sum()), 1) * dt
    return exc.size / years, float(threshold), float(exc.mean()) if exc.size else 0.0


def spx_co_jumps(spx, vix, threshold: float = JUMP_THRESHOLD_VIX2, below: float = JUMP_FROM_BELOW_VIX,
                 dt: float = STEP_DT) -> tuple[float, float, float]:
    """The SPX's move on the jump days of :func:`variance_jumps`: ``r = mu_s + rho2 dVIX^2 + e`` by least
    squares, over the days whose ``(VIX/100)^2`` rose by more than ``threshold`` from a VIX below
    ``below``.

    The residual variance holds the day's diffusive return too, whose variance is about the previous
    day's ``(VIX/100)^2 dt``; ``sigma_s`` is what is left, floored at 0.

    Parameters
    ----------
    spx, vix : ndarray of shape (n,)
        Daily closes on the same days (points).

    Returns
    -------
    mu_s : float
        Intercept (log return).
    rho2 : float
        Slope on the ``(VIX/100)^2`` rise (log return per unit); ``rho_j = rho2 a`` per unit of
        variance, with ``a`` the VIX coefficient.
    sigma_s : float
        The jumps' own noise (log return), from the residual variance less the diffusion's.

    Raises
    ------
    ValueError
        Fewer than 5 jump days, or ``spx``/``vix`` of different lengths.
    """
    spx, vix = np.asarray(spx, float), np.asarray(vix, float)
    if spx.shape != vix.shape:
        raise ValueError(f"spx and vix must have one length, got {spx.shape} and {vix.shape}")
    rise = np.diff((vix / 100.0) ** 2)
    days = (vix[:-1] < below) & (rise > threshold)
    if days.sum() < 5:
        raise ValueError(f"only {int(days.sum())} jump days (rise of (VIX/100)^2 > {threshold}); need >= 5")
    r = np.diff(np.log(spx))[days]
    x = rise[days]
    design = np.column_stack((np.ones_like(x), x))
    coef, *_ = np.linalg.lstsq(design, r, rcond=None)
    resid = r - design @ coef
    diffusive = float(np.mean((vix[:-1][days] / 100.0) ** 2)) * dt
    sigma_s = math.sqrt(max(float(resid.var(ddof=2)) - diffusive, 0.0))
    return float(coef[0]), float(coef[1]), sigma_s
