"""The Heston VIX: the expected average variance, the model VIX and its inverse, and the exact VIX
futures and call prices by quadrature over the CIR transition law (Zhang & Zhu 2006)."""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, stats

from alvh.models.heston.cir import cir_transition
from alvh.models.heston.params import HestonParams


#: The VIX's 30-calendar-day horizon in years (CBOE VIX white paper).
VIX_TAU = 30.0 / 365.0


def expected_average_variance(
    v: np.ndarray | float, tau: np.ndarray | float, kappa: float, theta: float
) -> np.ndarray:
    """Expected average variance over ``[t, t + tau]``: ``E[(1/tau) int_t^{t+tau} v_s ds | v_t]``.

    Parameters
    ----------
    v : float or ndarray
        Current variance (annualised).
    tau : float or ndarray
        Horizon in years, broadcastable against ``v``; ``tau = 0`` gives ``v``.
    kappa, theta : float
        Mean reversion and long-run variance of the measure the expectation is taken under.

    Returns
    -------
    ndarray
        ``theta + (v - theta) (1 - exp(-kappa tau)) / (kappa tau)`` (annualised variance).

    Notes
    -----
    Time average of the CIR mean ``theta + (v - theta) exp(-kappa s)`` (Cox, Ingersoll & Ross
    1985); with ``tau = 30/365`` under Q this is the squared Heston VIX (Zhang & Zhu 2006, eq. 6).
    """
    v = np.asarray(v, dtype=float)
    x = kappa * np.asarray(tau, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(x > 1e-8, -np.expm1(-x) / np.where(x > 1e-8, x, 1.0), 1.0 - 0.5 * x)
    return theta + (v - theta) * w


def vix_coefficients(kappa_q: float, theta_q: float, tau: float = VIX_TAU) -> tuple[float, float]:
    """Coefficients ``(a, b)`` of the Heston VIX: ``VIX^2 / 100^2 = a v + b`` under Q.

    Returns
    -------
    a : float
        ``(1 - exp(-kappa_q tau)) / (kappa_q tau)``, dimensionless.
    b : float
        ``theta_q (1 - a)``, annualised variance.

    Notes
    -----
    Zhang, J. E. & Zhu, Y. (2006), "VIX futures", J. Futures Markets 26(6), eq. (6).
    """
    x = kappa_q * tau
    a = -math.expm1(-x) / x
    return a, theta_q * (1.0 - a)


def model_vix(v: np.ndarray | float, kappa_q: float, theta_q: float) -> np.ndarray:
    """Model VIX in index points (e.g. 15.0) from the variance under Q.

    Parameters
    ----------
    v : float or ndarray, any shape
        Spot variance (annualised).
    kappa_q, theta_q : float
        Q-dynamics of the variance.

    Returns
    -------
    ndarray, same shape as ``v``
        ``100 sqrt(a v + b)`` with ``(a, b)`` from :func:`vix_coefficients`.
    """
    a, b = vix_coefficients(kappa_q, theta_q)
    return 100.0 * np.sqrt(a * np.asarray(v, dtype=float) + b)


def variance_from_vix(vix: np.ndarray | float, kappa_q: float, theta_q: float) -> np.ndarray:
    """Invert :func:`model_vix`: the spot variance implied by a VIX level (points).

    Returns
    -------
    ndarray
        ``((vix/100)^2 - b) / a``; negative where the VIX is below the model's floor ``100 sqrt(b)``.
    """
    a, b = vix_coefficients(kappa_q, theta_q)
    return ((np.asarray(vix, dtype=float) / 100.0) ** 2 - b) / a


def _vix_expectation(v, tau, params: HestonParams, payoff) -> float:
    """``E_Q[payoff(VIX_{t+tau}) | v_t = v]`` by adaptive quadrature over the CIR density."""
    kq, tq = params.kappa_q, params.theta_q
    a, b = vix_coefficients(kq, tq)
    if tau <= 0:
        return float(payoff(100.0 * math.sqrt(a * v + b)))
    scale, df, nc = cir_transition(v, tau, kq, tq, params.sigma)
    if nc > 1e9:
        # tau so short that v_T is v_t up to ~1e-9 relative: scipy's ncx2.ppf overflows there
        mean = tq + (v - tq) * math.exp(-kq * tau)
        return float(payoff(100.0 * math.sqrt(a * mean + b)))
    law = stats.ncx2(df, float(nc), scale=float(scale))

    def integrand(u):
        # integrate in probability space: no density singularity at 0 when df < 2
        x = law.ppf(u)
        return payoff(100.0 * math.sqrt(a * x + b))

    val, _ = integrate.quad(integrand, 0.0, 1.0, limit=400, epsabs=1e-10, epsrel=1e-9)
    return float(val)


def vix_futures_exact(v: float, tau: float, params: HestonParams) -> float:
    """Heston VIX futures price ``E_Q[VIX_{t+tau} | v_t = v]`` in index points.

    Parameters
    ----------
    v : float
        Spot variance at t (annualised).
    tau : float
        Time to the futures' expiry in years.
    params : HestonParams
        Model; the Q-dynamics (``kappa_q``, ``theta_q``, ``sigma``) are used.

    Returns
    -------
    float
        Futures price (VIX points). Exact up to quadrature error (~1e-9 relative).

    Notes
    -----
    Zhang & Zhu (2006), eq. (9): the integral of ``100 sqrt(a x + b)`` against the noncentral
    chi-square law of ``v_{t+tau}`` (:func:`cir_transition`). Computed in probability space,
    ``int_0^1 g(F^{-1}(u)) du``, with scipy's quadrature and ``ncx2.ppf``. A reference
    implementation: slow (milliseconds), scalar.
    """
    return _vix_expectation(v, tau, params, lambda x: x)


def vix_call_exact(v: float, tau: float, strike: float, params: HestonParams, rate: float = 0.0) -> float:
    """Heston VIX call price ``exp(-r tau) E_Q[(VIX_{t+tau} - K)^+ | v_t = v]`` (VIX points).

    Parameters
    ----------
    v : float
        Spot variance (annualised).
    tau : float
        Time to expiry in years.
    strike : float
        Strike in VIX points.
    params : HestonParams
        Model (Q-dynamics used).
    rate : float, default 0
        Continuously compounded discount rate.

    Notes
    -----
    Same integral as :func:`vix_futures_exact` with the call payoff (Zhang & Zhu 2006, sec. 4;
    Lian & Zhu 2013 give the Fourier form of the same expectation).
    """
    return math.exp(-rate * tau) * _vix_expectation(v, tau, params, lambda x: max(x - strike, 0.0))
