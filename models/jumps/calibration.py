"""Calibration of the Bates and SVCJ models to daily SPX and VIX closes (joint QML).

The deterministic Nelder-Mead search with restarts, the ``kappa_q`` floor profile, the
Hessian standard errors, the report notes, and :func:`calibrate_bates` / :func:`calibrate_svcj`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import differentiate, optimize

from alvh.models.base import FitReport
from alvh.models.calibration import returns_and_vix2
from alvh.models.heston import FellerConditionWarning, HestonParams, vix_coefficients
from alvh.models.jumps.bates import BatesModel
from alvh.models.jumps.likelihood import (
    KAPPA_Q_MIN,
    _IX_KQ,
    _bates_negloglik,
    _bates_unpack,
    _svcj_negloglik,
    _svcj_unpack,
)
from alvh.models.jumps.pricing import _lognormal_kbar
from alvh.models.jumps.svcj import SvcjModel


def _nelder_mead(f, x0, max_runs: int = 4):
    """Adaptive Nelder-Mead restarted from its best point until a run gains < 1e-3 (deterministic)."""
    best_x = np.asarray(x0, dtype=float)
    best_f = float(f(best_x))
    with warnings.catch_warnings():
        # inadmissible points score +inf; Nelder-Mead's convergence test then subtracts inf
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(max_runs):
            res = optimize.minimize(f, best_x, method="Nelder-Mead",
                                    options={"maxfev": 2500 * best_x.size, "xatol": 1e-7, "fatol": 1e-7,
                                             "adaptive": True})
            gain = best_f - float(res.fun)
            if res.fun < best_f:
                best_x, best_f = np.asarray(res.x), float(res.fun)
            if not gain >= 1e-3:
                break
    return best_x, best_f


def _embed(y, x_fixed, free):
    """Full transformed vector(s) from the free coordinates ``y`` of shape (k_free,) or (k_free, *batch)."""
    y = np.asarray(y, dtype=float)
    out = np.empty((free.size,) + y.shape[1:])
    out[free] = y
    out[~free] = np.reshape(x_fixed[~free], (-1,) + (1,) * (y.ndim - 1))
    return out


def _fit(f, starts):
    """Best Nelder-Mead optimum over admissible ``starts``; profile out ``kappa_q`` at its floor.

    Returns
    -------
    x : ndarray
        Transformed optimum.
    fx : float
        Negative log-likelihood there.
    free : ndarray of bool
        Coordinates estimated in the interior (``False`` for ``kappa_q`` at :data:`KAPPA_Q_MIN`).
    """
    best_x, best_f = None, np.inf
    for x0 in starts:
        x0 = np.array(x0, dtype=float)
        for _ in range(12):  # halve the jump intensity until the start is admissible
            if np.isfinite(f(x0)):
                break
            x0[6] -= math.log(2.0)
        if not np.isfinite(f(x0)):
            continue
        x, fx = _nelder_mead(f, x0)
        if fx < best_f:
            best_x, best_f = x, fx
    if best_x is None:
        raise ValueError("calibration found no parameters with a positive VIX-implied variance path")
    free = np.ones(best_x.size, dtype=bool)
    if best_x[_IX_KQ] < math.log(KAPPA_Q_MIN) + 0.02:
        free[_IX_KQ] = False
        x_fixed = best_x.copy()
        x_fixed[_IX_KQ] = math.log(KAPPA_Q_MIN)
        g = lambda y: f(_embed(y, x_fixed, free))  # noqa: E731
        if np.isfinite(g(best_x[free])):
            y, fy = _nelder_mead(g, best_x[free])
            best_x, best_f = _embed(y, x_fixed, free), fy
    return best_x, best_f, free


def _hessian_stderr(f, x, free, scales, natural):
    """Delta-method standard errors of ``natural(x)`` from the numerical Hessian of ``f``.

    The Hessian is taken over the free coordinates only, each scaled by ``scales`` (so a step
    of 0.01 is small for every coordinate), with ``scipy.differentiate.hessian`` (initial step
    0.01, then 0.002 and 0.0005 if a step leaves the admissible region). Returns
    ``(stderr array, note)``; all ``nan`` and a note when the Hessian is not finite, not
    positive definite or has a condition number above 1e10. Fixed coordinates contribute no
    variance (their SEs are conditional on them).
    """
    n_nat = natural(x).size
    nan = np.full(n_nat, np.nan)
    s = np.asarray(scales, dtype=float)[free]
    x_free = x[free]

    def h(y):
        y = np.asarray(y, dtype=float)
        return f(_embed(x_free.reshape((-1,) + (1,) * (y.ndim - 1)) + s.reshape((-1,) + (1,) * (y.ndim - 1)) * y,
                        x, free))

    hy = None
    for step in (0.01, 0.002, 0.0005):  # smaller steps when a step leaves the admissible region
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)  # inf at inadmissible trial points
                res = differentiate.hessian(h, np.zeros(x_free.size), initial_step=step, order=4, maxiter=3)
        except Exception:  # noqa: BLE001 -- scipy raises several types on non-finite evaluations
            continue
        if np.all(np.isfinite(res.ddf)):
            hy = np.asarray(res.ddf, dtype=float)
            break
    if hy is None:
        return nan, "Hessian not finite (the optimum is at the edge of the admissible region)"
    hy = 0.5 * (hy + hy.T)
    eig = np.linalg.eigvalsh(hy)
    if eig.min() <= 0 or eig.max() / eig.min() > 1e10:
        return nan, f"Hessian not positive definite or ill-conditioned (eigenvalues {eig.min():.3g} .. {eig.max():.3g})"
    cov_free = np.linalg.inv(hy) * np.outer(s, s)
    eps = 1e-6
    jac = np.empty((n_nat, x_free.size))
    for j, i in enumerate(np.flatnonzero(free)):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        jac[:, j] = (natural(xp) - natural(xm)) / (2 * eps)
    return np.sqrt(np.clip(np.diag(jac @ cov_free @ jac.T), 0.0, None)), None


def _heston_start(r, vix2, dt):
    """Start of the diffusive block, as :func:`alvh.models.calibration.calibrate_heston` picks it."""
    rv = float(r.var() / dt)
    kq0 = 1.0
    a0, _ = vix_coefficients(kq0, 1.0)
    theta_q0 = min(0.5 * vix2.min() / (1.0 - a0), 0.5)
    kappa0 = kq0 * theta_q0 / rv
    return [r.mean() / dt + 0.5 * rv, math.log(kappa0), math.log(rv), math.log(0.7), math.atanh(-0.7),
            math.log(kq0)]


_METHOD = ("joint QML on daily SPX log-returns and the VIX-implied variance (Ait-Sahalia & Kimmel 2007, "
           "JFE 83, sec. 4), Euler transition with a Bernoulli(lam_j dt) one-jump mixture "
           "(Ball & Torous 1983, JFQA 18(1)); Nelder-Mead, SEs from the numerical Hessian")

_COMMON_NOTES = [
    "Q jump parameters set equal to P (no jump risk premium); the variance risk premium is "
    "Heston's lam (kappa_q = kappa + lam, theta_q = kappa theta / kappa_q)",
    "at most one jump a day (Bernoulli(lam_j dt) mixture); Euler transition of the diffusion; "
    "standard errors are quasi-ML (inverse Hessian), not sandwich-robust",
]


def _se_map(names, se, free) -> dict:
    """Standard errors by name; ``kappa_q``'s is ``nan`` when it sits at its floor (the rest are conditional on it)."""
    out = dict(zip(names, (float(v) for v in se)))
    if not free[_IX_KQ]:
        out["kappa_q"] = float("nan")
    return out


def _finish_notes(notes, free, se_note, kappa, theta):
    if not free[_IX_KQ]:
        notes.append(
            f"kappa_q is at its lower bound {KAPPA_Q_MIN} (the likelihood rises as kappa_q -> 0, i.e. "
            f"VIX^2 ~ v + const); only kappa_q theta_q = kappa theta = {kappa * theta:.4g} is identified, "
            "so theta_q is not meaningful on its own; standard errors are conditional on kappa_q. "
            "This also happened on a synthetic SVCJ path with kappa_q = 2, so it can be an artefact of "
            "the Euler quasi-likelihood rather than a feature of the data; it implies steep Q drift "
            "of the variance (VIX futures contango)")
    if se_note:
        notes.append("standard errors unavailable: " + se_note)
    return notes


def calibrate_bates(spx: np.ndarray, vix: np.ndarray, dt: float = 1.0 / 252.0, start: str = "",
                    end: str = "") -> tuple[BatesModel, FitReport]:
    """Fit the Bates model's P and Q parameters to aligned daily SPX and VIX closes.

    Parameters
    ----------
    spx : ndarray of shape (n,)
        SPX closes (index points), one per trading day, n >= 60.
    vix : ndarray of shape (n,)
        VIX closes (points) on the same days.
    dt : float, default 1/252
        Years per observation.
    start, end : str
        Sample dates, recorded in the report only.

    Returns
    -------
    model : BatesModel
        Fitted model; ``v0`` is the variance implied by the last VIX; Q jump parameters equal P.
    report : FitReport
        ``params`` = ``model.to_dict()`` plus ``kappa_q, theta_q``; quasi-ML standard errors
        (``nan`` for ``v0``, the ``_q`` jump copies, and all when the Hessian is unusable).

    Raises
    ------
    ValueError
        Arrays not 1-D of equal length >= 60, non-positive or non-finite values, or no admissible
        parameters found.

    Notes
    -----
    With the model VIX of :meth:`BatesModel.vix`, each VIX close gives the state
    ``v_t = (VIX_t^2 - b - b_jump) / a`` (the option-implied-state approach of Ait-Sahalia &
    Kimmel 2007, JFE 83, sec. 4, as in :func:`alvh.models.calibration.calibrate_heston`). Given ``v_t``
    the daily pair ``(r_{t+1}, v_{t+1})`` has the Euler law of the Heston diffusion (bivariate
    normal, covariance ``v_t dt [[1, rho sigma], [rho sigma, sigma^2]]``, return mean
    ``(mu - lam_j kbar - v_t/2) dt``), mixed with probability ``lam_j dt`` with the same law whose
    return is shifted by an ``N(mu_j, sigma_j^2)`` jump (Ball & Torous 1983's Bernoulli jump
    approximation); ``- log a`` is the Jacobian from ``VIX^2`` to ``v``. Nelder-Mead from three
    starts in an unconstrained transform; standard errors by the delta method on the inverse
    numerical Hessian (``scipy.differentiate.hessian``).
    """
    r, vix2 = returns_and_vix2(spx, vix)
    f = lambda x: _bates_negloglik(x, r, vix2, dt)  # noqa: E731
    base = _heston_start(r, vix2, dt)
    starts = [base + [math.log(lam0), mu0, sj0]
              for lam0, mu0, sj0 in ((3.0, -0.02, 0.02), (15.0, -0.005, 0.015), (0.8, -0.04, 0.04))]
    x, fx, free = _fit(f, starts)

    def natural(xx):
        mu, kappa, theta, sigma, rho, kappa_q, theta_q, lam_j, mu_j, sigma_j = (float(p) for p in _bates_unpack(xx))
        return np.array([mu, kappa, theta, sigma, rho, kappa_q - kappa, lam_j, mu_j, sigma_j, kappa_q, theta_q])

    names = ("mu", "kappa", "theta", "sigma", "rho", "lam", "lam_j", "mu_j", "sigma_j", "kappa_q", "theta_q")
    se, se_note = _hessian_stderr(f, x, free, (0.1, 1, 1, 1, 1, 1, 1, 0.01, 0.01), natural)
    mu, kappa, theta, sigma, rho, lam, lam_j, mu_j, sigma_j, kappa_q, theta_q = natural(x)
    a, b = vix_coefficients(kappa_q, theta_q)
    bj = 2.0 * lam_j * (_lognormal_kbar(mu_j, sigma_j) - mu_j)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        hp = HestonParams(v0=float((vix2[-1] - b - bj) / a), kappa=kappa, theta=theta, sigma=sigma, rho=rho,
                          mu=mu, lam=lam)
    model = BatesModel(hp, lam_j, mu_j, sigma_j)
    params = model.to_dict()
    params.update(kappa_q=kappa_q, theta_q=theta_q)
    se_map = _se_map(names, se, free)
    notes = list(_COMMON_NOTES) + [
        "v0 is the variance implied by the last VIX close; the VIX-implied variance uses the "
        "model VIX including its jump term 2 lam_j (E[e^J] - 1 - E[J])",
        f"Feller ratio 2 kappa theta / sigma^2 = {hp.feller_ratio:.3f}",
    ]
    report = FitReport(model="bates", params=params, stderr={k: se_map.get(k, float("nan")) for k in params},
                       loglik=-float(fx), n_obs=int(r.size), n_params=9, method=_METHOD,
                       sample=f"{start} .. {end}" if (start or end) else "",
                       notes=_finish_notes(notes, free, se_note, kappa, theta))
    return model, report


def calibrate_svcj(spx: np.ndarray, vix: np.ndarray, dt: float = 1.0 / 252.0, start: str = "",
                   end: str = "") -> tuple[SvcjModel, FitReport]:
    """Fit the SVCJ model's P and Q parameters to aligned daily SPX and VIX closes.

    Parameters, returns and errors as :func:`calibrate_bates` (with :class:`SvcjModel`).

    Notes
    -----
    As :func:`calibrate_bates`, with the SVCJ model VIX (:meth:`SvcjModel.vix_coefficients`) and
    a jump branch in which the exponential variance jump ``Z_v`` enters the implied-variance
    increment and, through ``rho_j``, the return. Given ``v_t`` the one-jump density of the
    Euler residuals ``(e_r, e_v)`` is

        int_0^inf mu_v^-1 e^{-z/mu_v} N(e_v - z; s_v) N(e_r - mu_s - rho_j z - beta (e_v - z); s_r|v + sigma_s^2) dz

    with ``beta = rho / sigma``, ``s_v = sigma^2 v_t dt``, ``s_r|v = (1 - rho^2) v_t dt``: a
    Gaussian in ``z`` times an exponential, integrated over ``z >= 0`` in closed form with the
    normal cdf (a two-dimensional exponentially modified Gaussian). ``rho_j mu_v < 1`` is
    enforced.
    """
    r, vix2 = returns_and_vix2(spx, vix)
    f = lambda x: _svcj_negloglik(x, r, vix2, dt)  # noqa: E731
    base = _heston_start(r, vix2, dt)
    starts = [base + [math.log(lam0), ms0, ss0, math.log(mv0), rj0]
              for lam0, ms0, ss0, mv0, rj0 in ((3.0, -0.01, 0.015, 0.02, -0.5), (10.0, -0.002, 0.01, 0.01, -1.0),
                                              (1.0, -0.02, 0.02, 0.05, 0.0))]
    x, fx, free = _fit(f, starts)

    def natural(xx):
        (mu, kappa, theta, sigma, rho, kappa_q, theta_q, lam_j, mu_s, sigma_s, mu_v, rho_j) = (
            float(p) for p in _svcj_unpack(xx))
        return np.array([mu, kappa, theta, sigma, rho, kappa_q - kappa, lam_j, mu_s, sigma_s, mu_v, rho_j,
                         kappa_q, theta_q])

    names = ("mu", "kappa", "theta", "sigma", "rho", "lam", "lam_j", "mu_s", "sigma_s", "mu_v", "rho_j",
             "kappa_q", "theta_q")
    se, se_note = _hessian_stderr(f, x, free, (0.1, 1, 1, 1, 1, 1, 1, 0.01, 0.01, 1, 0.1), natural)
    mu, kappa, theta, sigma, rho, lam, lam_j, mu_s, sigma_s, mu_v, rho_j, kappa_q, theta_q = natural(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        hp = HestonParams(v0=0.0, kappa=kappa, theta=theta, sigma=sigma, rho=rho, mu=mu, lam=lam)
        a, b = SvcjModel(hp, lam_j, mu_s, sigma_s, mu_v, rho_j).vix_coefficients()
        hp = hp.with_v0(float((vix2[-1] - b) / a))
    model = SvcjModel(hp, lam_j, mu_s, sigma_s, mu_v, rho_j)
    params = model.to_dict()
    params.update(kappa_q=kappa_q, theta_q=theta_q)
    se_map = _se_map(names, se, free)
    notes = list(_COMMON_NOTES) + [
        "v0 is the variance implied by the last VIX close; the VIX-implied variance uses the SVCJ "
        "model VIX (jump-augmented Q mean reversion level and price-jump term)",
        f"long-run P variance theta + lam_j mu_v / kappa = {model.theta_total:.4g}; Feller ratio of "
        f"the diffusion 2 kappa theta / sigma^2 = {hp.feller_ratio:.3f}",
    ]
    report = FitReport(model="svcj", params=params, stderr={k: se_map.get(k, float("nan")) for k in params},
                       loglik=-float(fx), n_obs=int(r.size), n_params=11, method=_METHOD,
                       sample=f"{start} .. {end}" if (start or end) else "",
                       notes=_finish_notes(notes, free, se_note, kappa, theta))
    return model, report
