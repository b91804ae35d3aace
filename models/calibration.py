"""Calibration of the Heston model's P and Q parameters to daily SPX returns and the VIX.

Method (joint quasi-maximum likelihood on returns and the VIX-implied variance path)
------------------------------------------------------------------------------------
Under Q the Heston VIX is affine in the spot variance, ``VIX_t^2 = a_Q v_t + b_Q`` (Zhang & Zhu 2006,
eq. 6), with ``a_Q, b_Q`` set by ``kappa_Q = kappa + lam`` and ``theta_Q = kappa theta / kappa_Q``.
Given the parameters, every observed VIX therefore *is* an observation of ``v_t`` (the
"option-implied state" approach of Aït-Sahalia & Kimmel 2007, J. Financial Economics 83, sec. 4).
The log-likelihood of the pairs ``(r_{t+1}, VIX^2_{t+1})`` given ``v_t`` is

    sum_t [ log N2( (r_{t+1}, v_{t+1}) ; m_t, S_t ) - log a_Q ]

with the Euler (first-order Gaussian) transition of the P-dynamics
``m_t = ((mu - v_t/2) dt, v_t + kappa (theta - v_t) dt)``,
``S_t = v_t dt [[1, rho sigma], [rho sigma, sigma^2]]``, and ``- log a_Q`` the Jacobian of the map from
``VIX^2`` to ``v``. Both measures are identified: P by how returns and ``v`` move, Q because the
returns' variance pins the level of ``v`` while the VIX pins ``a_Q v + b_Q`` -- the gap between them
is the variance risk premium. So the fitted model reproduces the observed VIX level on the
historical path exactly, and its premium over realized volatility through ``theta_Q > theta``.

The free-Q variant (``kappa_Q`` and ``theta_Q`` both free, no Heston restriction
``kappa theta = kappa_Q theta_Q``) is fitted too, and the likelihood-ratio statistic is reported.

Standard errors: inverse of the numerical Hessian of the negative log-likelihood in a transformed,
unconstrained parametrisation (``scipy.differentiate.hessian``), mapped back by the delta method.
They are quasi-ML standard errors under the Euler approximation, not sandwich-robust.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import differentiate, optimize, stats

from alvh.models.base import FitReport, PathModel
from alvh.models.heston import VIX_TAU, FellerConditionWarning, HestonParams, vix_coefficients

__all__ = [
    "HestonCalibration", "calibrate_heston", "heston_fit_report", "market_statistics", "model_statistics",
    "returns_and_vix2",
]

_NAMES = ("mu", "kappa", "theta", "sigma", "rho", "lam")


@dataclass
class HestonCalibration:
    """Result of :func:`calibrate_heston`.

    Attributes
    ----------
    params : HestonParams
        Fitted parameters; ``v0`` is the variance implied by the last VIX of the sample.
    stderr : dict of str to float
        Quasi-ML standard errors of ``mu, kappa, theta, sigma, rho, lam`` and of the derived
        ``kappa_q, theta_q``.
    loglik : float
        Maximised log-likelihood (restricted model).
    loglik_free_q : float
        Maximised log-likelihood with ``kappa_Q, theta_Q`` both free.
    n_obs : int
        Number of daily transitions used.
    dt : float
        Observation interval in years.
    implied_variance : ndarray of shape (n_obs + 1,)
        The VIX-implied variance path ``v_t`` at the fitted parameters (annualised).
    start, end : str
        First and last date of the sample.
    converged : bool
        Whether Nelder-Mead reported convergence of the restricted fit (``scipy`` ``success``).
    """

    params: HestonParams
    stderr: dict[str, float]
    loglik: float
    loglik_free_q: float
    n_obs: int
    dt: float
    implied_variance: np.ndarray = field(repr=False)
    start: str = ""
    end: str = ""
    converged: bool = True

    @property
    def lr_statistic(self) -> float:
        """Likelihood-ratio statistic of Heston's restriction ``kappa theta = kappa_Q theta_Q``."""
        return 2.0 * max(self.loglik_free_q - self.loglik, 0.0)

    @property
    def lr_pvalue(self) -> float:
        """p-value of :attr:`lr_statistic` against chi-square(1)."""
        return float(stats.chi2.sf(self.lr_statistic, 1))

    def summary(self) -> str:
        """A table of the fitted parameters with standard errors (text)."""
        p = self.params
        rows = [
            ("mu", p.mu, "1/yr", "P drift of S"),
            ("kappa", p.kappa, "1/yr", "P mean reversion"),
            ("theta", p.theta, "var/yr", f"P long-run variance (vol {math.sqrt(p.theta):.1%})"),
            ("sigma", p.sigma, "1/sqrt(yr)", "vol of variance"),
            ("rho", p.rho, "", "corr(dS, dv)"),
            ("lam", p.lam, "1/yr", "market price of variance risk"),
            ("kappa_q", p.kappa_q, "1/yr", "Q mean reversion"),
            ("theta_q", p.theta_q, "var/yr", f"Q long-run variance (vol {math.sqrt(p.theta_q):.1%})"),
        ]
        lines = [
            f"Heston joint QML fit on {self.n_obs} daily transitions, {self.start} to {self.end}",
            f"{'param':<8} {'estimate':>11} {'std err':>10}  {'unit':<10} meaning",
        ]
        for name, val, unit, meaning in rows:
            se = self.stderr.get(name, float("nan"))
            lines.append(f"{name:<8} {val:>11.5g} {se:>10.3g}  {unit:<10} {meaning}")
        lines.append(
            f"log-likelihood {self.loglik:.2f}; Feller ratio 2*kappa*theta/sigma^2 = {p.feller_ratio:.3f}; "
            f"v0 (last VIX) = {p.v0:.5f}"
        )
        lines.append(
            f"LR test of Heston's one-parameter risk premium vs free (kappa_Q, theta_Q): "
            f"stat {self.lr_statistic:.2f}, p = {self.lr_pvalue:.3f}"
        )
        return "\n".join(lines)


def _unpack(x: np.ndarray, free_q: bool):
    """Transformed vector -> natural parameters (each broadcastable over trailing dims)."""
    mu = x[0]
    kappa = np.exp(x[1])
    theta = np.exp(x[2])
    sigma = np.exp(x[3])
    rho = np.tanh(x[4])
    kappa_q = np.exp(x[5])
    theta_q = np.exp(x[6]) if free_q else kappa * theta / kappa_q
    return mu, kappa, theta, sigma, rho, kappa_q, theta_q


def _negloglik(x, r, vix2, dt, free_q):
    """Negative log-likelihood; ``x`` has shape (k,) or (k, *batch)."""
    x = np.asarray(x, dtype=float)
    mu, kappa, theta, sigma, rho, kappa_q, theta_q = (np.expand_dims(p, -1) for p in _unpack(x, free_q))
    z = kappa_q * VIX_TAU
    a = -np.expm1(-z) / z
    b = theta_q * (1.0 - a)
    v = (vix2 - b) / a
    v0, v1 = v[..., :-1], v[..., 1:]
    e1 = r - (mu - 0.5 * v0) * dt
    e2 = v1 - (v0 + kappa * (theta - v0) * dt)
    one_m_r2 = 1.0 - rho**2
    with np.errstate(invalid="ignore", divide="ignore"):
        # bivariate normal with covariance v0 dt [[1, rho sigma], [rho sigma, sigma^2]]
        q = (e1**2 - 2.0 * rho * e1 * e2 / sigma + e2**2 / sigma**2) / (one_m_r2 * v0 * dt)
        logdet = 2.0 * np.log(v0 * dt) + 2.0 * np.log(sigma) + np.log(one_m_r2)
        ll = -math.log(2.0 * math.pi) - 0.5 * logdet - 0.5 * q - np.log(a)
    total = ll.sum(axis=-1)
    bad = (v.min(axis=-1) <= 0.0) | ~np.isfinite(total)
    return np.where(bad, np.inf, -total)


def _fit(r, vix2, dt, free_q, x0):
    best = None
    for _ in range(3):
        with warnings.catch_warnings():
            # inadmissible points score +inf; Nelder-Mead's convergence test then subtracts inf
            warnings.simplefilter("ignore", RuntimeWarning)
            res = optimize.minimize(
                _negloglik, x0, args=(r, vix2, dt, free_q), method="Nelder-Mead",
                options={"maxiter": 40000, "maxfev": 40000, "xatol": 1e-9, "fatol": 1e-9, "adaptive": True},
            )
        if best is None or res.fun < best.fun:
            best = res
        x0 = best.x
    return best


def returns_and_vix2(spx_close, vix_close) -> tuple[np.ndarray, np.ndarray]:
    """Daily SPX log returns and squared VIX (annualised variance) from aligned closes.

    Parameters
    ----------
    spx_close, vix_close : array_like of shape (n_days,)
        SPX level and VIX (points) on the same days.

    Returns
    -------
    r : ndarray of shape (n_days - 1,)
        ``diff(log(spx))``.
    vix2 : ndarray of shape (n_days,)
        ``(vix / 100)^2``.

    Raises
    ------
    ValueError
        Not 1-D of equal length, fewer than 60 days, or a non-finite or non-positive close.
    """
    spx = np.asarray(spx_close, dtype=float)
    vix = np.asarray(vix_close, dtype=float)
    if spx.ndim != 1 or vix.ndim != 1 or spx.shape != vix.shape:
        raise ValueError(f"spx and vix closes must be 1-D of equal length, got {spx.shape}, {vix.shape}")
    if spx.size < 60:
        raise ValueError(f"need at least 60 aligned daily observations, got {spx.size}")
    if not (np.all(np.isfinite(spx)) and np.all(np.isfinite(vix)) and spx.min() > 0 and vix.min() > 0):
        raise ValueError("SPX and VIX closes must be finite and > 0")
    return np.diff(np.log(spx)), (vix / 100.0) ** 2


def calibrate_heston(
    spx_close: np.ndarray,
    vix_close: np.ndarray,
    *,
    dt: float = 1.0 / 252.0,
    start: str = "",
    end: str = "",
) -> HestonCalibration:
    """Fit Heston P and Q parameters to aligned daily SPX closes and VIX closes.

    Parameters
    ----------
    spx_close : ndarray of shape (n,)
        SPX closing levels (index points), one per trading day.
    vix_close : ndarray of shape (n,)
        VIX closes (points, e.g. 14.9) on the same days.
    dt : float, default 1/252
        Years per observation.
    start, end : str
        Sample dates, recorded in the result only.

    Returns
    -------
    HestonCalibration

    Raises
    ------
    ValueError
        If the arrays are not 1-D of equal length >= 60, contain non-positive or non-finite
        values, or the optimiser finds no admissible point.

    Notes
    -----
    See the module docstring for the likelihood (Aït-Sahalia & Kimmel 2007, Euler transition) and
    the standard errors.
    """
    r, vix2 = returns_and_vix2(spx_close, vix_close)

    # Start: theta at realized variance, a fast P reversion, a slower Q reversion that keeps b_Q
    # below the smallest VIX^2 (so every implied v_t is positive).
    rv = float(r.var() / dt)
    kq0 = 1.0
    a0, _ = vix_coefficients(kq0, 1.0)
    theta_q0 = min(0.9 * vix2.min() / (1.0 - a0), 0.5)
    kappa0 = kq0 * theta_q0 / rv
    x0 = np.array([r.mean() / dt + 0.5 * rv, math.log(kappa0), math.log(rv), math.log(0.7),
                   math.atanh(-0.7), math.log(kq0)])
    res = _fit(r, vix2, dt, False, x0)
    if not np.isfinite(res.fun):
        raise ValueError("calibration found no parameters with a positive VIX-implied variance path")
    res_free = _fit(r, vix2, dt, True, np.append(res.x, math.log(theta_q0)))
    # the free model nests the restricted one: start it there as well and keep the better
    res_nested = _fit(r, vix2, dt, True, np.append(res.x, math.log(_unpack(res.x, False)[6])))
    loglik_free = -min(res_free.fun, res_nested.fun)

    stderr = _standard_errors(res.x, r, vix2, dt)
    mu, kappa, theta, sigma, rho, kappa_q, theta_q = (float(p) for p in _unpack(res.x, False))
    a, b = vix_coefficients(kappa_q, theta_q)
    v_path = (vix2 - b) / a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        params = HestonParams(
            v0=float(v_path[-1]), kappa=kappa, theta=theta, sigma=sigma, rho=rho, mu=mu, lam=kappa_q - kappa
        )
    return HestonCalibration(
        params=params, stderr=stderr, loglik=-float(res.fun), loglik_free_q=loglik_free,
        n_obs=int(r.size), dt=dt, implied_variance=v_path, start=start, end=end, converged=bool(res.success),
    )


def _standard_errors(x, r, vix2, dt) -> dict[str, float]:
    """Delta-method standard errors from the Hessian in the transformed parametrisation."""
    def f(xi):
        return _negloglik(xi, r, vix2, dt, False)

    nan = {k: float("nan") for k in (*_NAMES, "kappa_q", "theta_q")}
    res = differentiate.hessian(f, x, initial_step=0.02, step_factor=2.0, order=4)
    h = np.asarray(res.ddf)
    if not np.all(np.isfinite(h)):
        return nan
    h = 0.5 * (h + h.T)
    try:
        cov_x = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return nan
    if np.any(np.diag(cov_x) < 0):
        return nan
    mu, kappa, theta, sigma, rho, kappa_q, theta_q = (float(p) for p in _unpack(x, False))
    # Jacobian of (mu, kappa, theta, sigma, rho, lam, kappa_q, theta_q) w.r.t. x
    j = np.zeros((8, 6))
    j[0, 0] = 1.0
    j[1, 1] = kappa
    j[2, 2] = theta
    j[3, 3] = sigma
    j[4, 4] = 1.0 - rho**2
    j[5, 5], j[5, 1] = kappa_q, -kappa          # lam = kappa_q - kappa
    j[6, 5] = kappa_q
    j[7, 1], j[7, 2], j[7, 5] = theta_q, theta_q, -theta_q  # theta_q = kappa theta / kappa_q
    cov = j @ cov_x @ j.T
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return dict(zip((*_NAMES, "kappa_q", "theta_q"), (float(s) for s in se)))


def market_statistics(spx_close: np.ndarray, vix_close: np.ndarray) -> dict[str, float]:
    """Summary statistics of daily SPX/VIX series, real or simulated, one path per row.

    Parameters
    ----------
    spx_close : ndarray of shape (n_days,) or (n_paths, n_days)
        SPX levels.
    vix_close : ndarray, same shape
        VIX levels (points).

    Returns
    -------
    dict
        ``vix_mean`` (points), ``vix_q05/q50/q95/q99`` (points), ``vix_max_rise`` (largest one-day
        rise, points), ``vix_max_rise_pct`` (%), ``spx_vol`` (annualised sd of daily log returns,
        %), ``spx_kurtosis`` (excess, Fisher), ``share_below_3pct`` (% of days with a return below
        -3%).
    """
    spx = np.atleast_2d(np.asarray(spx_close, dtype=float))
    vix = np.atleast_2d(np.asarray(vix_close, dtype=float))
    r = np.diff(np.log(spx), axis=1).ravel()
    dv = np.diff(vix, axis=1)
    q = np.quantile(vix, [0.05, 0.5, 0.95, 0.99])
    return {
        "vix_mean": float(vix.mean()),
        "vix_q05": float(q[0]),
        "vix_q50": float(q[1]),
        "vix_q95": float(q[2]),
        "vix_q99": float(q[3]),
        "vix_max_rise": float(dv.max()),
        "vix_max_rise_pct": float(100.0 * (vix[:, 1:] / vix[:, :-1] - 1.0).max()),
        "spx_vol": float(100.0 * r.std() * math.sqrt(252.0)),
        "spx_kurtosis": float(stats.kurtosis(r)),
        "share_below_3pct": float(100.0 * np.mean(np.expm1(r) < -0.03)),
    }


def heston_fit_report(cal: HestonCalibration) -> FitReport:
    """The :class:`alvh.models.base.FitReport` of a Heston calibration (6 free parameters)."""
    p = cal.params
    values = {k: float(getattr(p, k)) for k in (*_NAMES, "kappa_q", "theta_q")}
    return FitReport(
        model="heston", params=values, stderr={k: float(v) for k, v in cal.stderr.items()}, loglik=float(cal.loglik),
        n_obs=int(cal.n_obs), n_params=len(_NAMES), converged=bool(cal.converged), objective=-float(cal.loglik),
        method="joint Euler quasi-ML on SPX returns and the VIX-implied variance (Ait-Sahalia & Kimmel 2007)",
        sample=f"{cal.start} .. {cal.end}",
        notes=[
            f"Feller ratio 2 kappa theta / sigma^2 = {p.feller_ratio:.3f}",
            f"LR test of Heston's one-parameter risk premium vs free (kappa_Q, theta_Q): stat {cal.lr_statistic:.2f}, "
            f"p = {cal.lr_pvalue:.3f}",
        ],
    )


def model_statistics(
    model: PathModel, n_days: int, n_paths: int, rng: np.random.Generator, dt: float = 1.0 / 252.0,
    s0: float = 100.0,
) -> dict[str, float]:
    """:func:`market_statistics` of P-paths of any model started from its stationary law.

    Parameters
    ----------
    model : PathModel
    n_days : int
        Days per path (the length of the historical sample, for a like-for-like comparison).
    n_paths : int
        Independent paths.
    rng : numpy.random.Generator
        Source of all draws.
    dt : float
        Years per step.
    s0 : float
        Initial level (statistics use returns only).

    Returns
    -------
    dict
        As :func:`market_statistics`; the VIX is the model VIX (a Q quantity).
    """
    paths = model.simulate(model.stationary_state(s0, n_paths, rng), n_days - 1, dt, rng)
    return market_statistics(paths.spot, paths.vix)
