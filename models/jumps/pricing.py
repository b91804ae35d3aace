"""Characteristic functions and reference call prices of the Bates and SVCJ models (under Q).

Closed-form affine transforms (Heston's little-trap form plus the jump factors of Bates 1996 and
Duffie, Pan & Singleton 2000) and the scalar Gil-Pelaez call prices built on them.
"""

from __future__ import annotations

import math

import numpy as np

from alvh.models.heston import gil_pelaez_call


# ================================================================================================
# characteristic functions and reference prices
# ================================================================================================


def _heston_parts(w, t, kappa, theta, sigma, rho):
    """Heston log-CF pieces at ``w = i u`` (complex): ``(C, D, d, g, K)`` with ``ln phi = w x + C + D v``.

    Albrecher et al. (2007) "little trap" form, with ``beta - d`` written as
    ``sigma^2 (w^2 - w) / (beta + d)`` (same value, no cancellation near ``u = 0``):
    ``beta = kappa - rho sigma w``, ``d = sqrt(beta^2 - sigma^2 (w^2 - w))``,
    ``g = (beta - d) / (beta + d)``, ``K = (beta - d) / sigma^2``,
    ``D(t) = K (1 - e^{-dt}) / (1 - g e^{-dt})``,
    ``C(t) = kappa theta [K t - (2 / sigma^2) ln((1 - g e^{-dt}) / (1 - g))]``.
    """
    beta = kappa - rho * sigma * w
    d = np.sqrt(beta * beta - sigma * sigma * (w * w - w))
    bpd = beta + d
    k_ = (w * w - w) / bpd                # (beta - d) / sigma^2
    g = sigma * sigma * k_ / bpd          # (beta - d) / (beta + d)
    edt = np.exp(-d * t)
    c = kappa * theta * (k_ * t - 2.0 / sigma**2 * np.log((1.0 - g * edt) / (1.0 - g)))
    dd = k_ * (1.0 - edt) / (1.0 - g * edt)
    return c, dd, d, g, k_


def _lognormal_kbar(mu_j: float, sigma_j: float) -> float:
    """``E[e^J] - 1`` for ``J ~ N(mu_j, sigma_j^2)``."""
    return math.expm1(mu_j + 0.5 * sigma_j**2)


def bates_characteristic_function(u, t, s0, r, q, v0, kappa, theta, sigma, rho, lam_j, mu_j, sigma_j):
    """Characteristic function ``E_Q[exp(i u ln S_t)]`` of the Bates (1996) model.

    Parameters
    ----------
    u : complex or ndarray of complex
        Argument (``u - 1j`` for the share-measure probability).
    t : float
        Maturity in years.
    s0, r, q : float
        Spot, rate, dividend yield (continuously compounded).
    v0, kappa, theta, sigma, rho : float
        Heston parameters under Q.
    lam_j, mu_j, sigma_j : float
        Jump intensity (per year), mean and sd of the log-jump under Q.

    Returns
    -------
    complex ndarray, shape of ``u``

    Notes
    -----
    Bates (1996), RFS 9(1), appendix: the Heston CF (little-trap form, :func:`_heston_parts`)
    times the compound-Poisson factor
    ``exp(lam_j t (exp(i u mu_j - u^2 sigma_j^2 / 2) - 1) - i u lam_j kbar t)``,
    ``kbar = exp(mu_j + sigma_j^2/2) - 1`` (the compensator keeping ``S e^{-(r-q)t}`` a martingale).
    """
    w = 1j * np.asarray(u, dtype=complex)
    c, dd, *_ = _heston_parts(w, t, kappa, theta, sigma, rho)
    kbar = _lognormal_kbar(mu_j, sigma_j)
    jump = lam_j * t * (np.exp(w * mu_j + 0.5 * w * w * sigma_j**2) - 1.0 - w * kbar)
    return np.exp(w * (math.log(s0) + (r - q) * t) + c + dd * v0 + jump)


def _svcj_jump_integral(w, t, d, g, k_, dd_t, mu_s, sigma_s, mu_v, rho_j):
    """``int_0^t (E[exp(w J + D(s) Z_v)] - 1) ds`` for the SVCJ jump law, in closed form.

    With ``c = w rho_j``, ``y = e^{-ds}`` and ``D(s) = K (1 - y) / (1 - g y)``,
    ``E[exp(w J + D Z)] = exp(w mu_s + w^2 sigma_s^2 / 2) / (1 - (c + D) mu_v)`` and
    ``1 / (1 - (c + D) mu_v) = (1 - g y) / (A0 + A1 y)``, ``A0 = 1 - (c + K) mu_v``,
    ``A1 = K mu_v - g (1 - c mu_v)``, so

        I = int_0^t ds / (1 - (c + D(s)) mu_v) = t / A0 + K mu_v (1 - g) L / (A0 A1 d),
        L = ln[(A0 + A1 e^{-dt}) / (A0 + A1)]
          = ln[(1 - g e^{-dt}) / (1 - g)] + ln[(1 - (c + D(t)) mu_v) / (1 - c mu_v)],

    the logarithm split into the Heston factor and a factor of positive real part (no branch
    crossing). ``L / A1`` is taken to first order when ``|A1|`` is tiny. This is the integral in
    Duffie, Pan & Singleton (2000, Econometrica 68(6), SVJJ example) done by partial fractions.
    """
    c = w * rho_j
    a0 = 1.0 - (c + k_) * mu_v
    a1 = k_ * mu_v - g * (1.0 - c * mu_v)
    edt = np.exp(-d * t)
    small = np.abs(a1) < 1e-12 * np.maximum(np.abs(a0), 1.0)
    a1s = np.where(small, 1.0, a1)
    log_ratio = np.log((1.0 - g * edt) / (1.0 - g)) + np.log((1.0 - (c + dd_t) * mu_v) / (1.0 - c * mu_v))
    l_over_a1 = np.where(small, (edt - 1.0) / (a0 + a1), log_ratio / a1s)
    integral = t / a0 + k_ * mu_v * (1.0 - g) * l_over_a1 / (a0 * d)
    return np.exp(w * mu_s + 0.5 * w * w * sigma_s**2) * integral - t


def _svcj_kbar(mu_s, sigma_s, mu_v, rho_j):
    """``E[e^J] - 1`` for the SVCJ price jump: ``exp(mu_s + sigma_s^2/2) / (1 - rho_j mu_v) - 1``."""
    return math.exp(mu_s + 0.5 * sigma_s**2) / (1.0 - rho_j * mu_v) - 1.0


def svcj_characteristic_function(u, t, s0, r, q, v0, kappa, theta, sigma, rho,
                                 lam_j, mu_s, sigma_s, mu_v, rho_j):
    """Characteristic function ``E_Q[exp(i u ln S_t)]`` of the SVCJ model.

    Parameters
    ----------
    u : complex or ndarray of complex
        Argument.
    t : float
        Maturity in years.
    s0, r, q : float
        Spot, rate, dividend yield.
    v0, kappa, theta, sigma, rho : float
        Diffusive Heston parameters under Q.
    lam_j, mu_s, sigma_s, mu_v, rho_j : float
        Common jump intensity (per year); price log-jump ``J | Z_v ~ N(mu_s + rho_j Z_v, sigma_s^2)``;
        variance jump ``Z_v ~ Exp(mean mu_v)``. Requires ``rho_j mu_v < 1``.

    Returns
    -------
    complex ndarray, shape of ``u``

    Notes
    -----
    Affine transform of Duffie, Pan & Singleton (2000), sec. 2: the variance
    coefficient solves Heston's Riccati equation (jumps of constant intensity leave it
    unchanged), and the constant term gains
    ``lam_j int_0^t (E[exp(i u J + D(s) Z_v)] - 1) ds - i u lam_j kbar t``, integrated in closed
    form by :func:`_svcj_jump_integral` (Broadie, Chernov & Johannes 2007, J. Finance 62(3),
    appendix, give the same expression).
    """
    w = 1j * np.asarray(u, dtype=complex)
    c, dd, d, g, k_ = _heston_parts(w, t, kappa, theta, sigma, rho)
    kbar = _svcj_kbar(mu_s, sigma_s, mu_v, rho_j)
    jump = lam_j * (_svcj_jump_integral(w, t, d, g, k_, dd, mu_s, sigma_s, mu_v, rho_j) - w * kbar * t)
    return np.exp(w * (math.log(s0) + (r - q) * t) + c + dd * v0 + jump)


def bates_call_price(s0: float, strike: float, tau: float, r: float, q: float, v0: float, kappa: float,
                     theta: float, sigma: float, rho: float, lam_j: float, mu_j: float, sigma_j: float) -> float:
    """European call under Bates (1996) by Fourier inversion (reference, scalar).

    Parameters
    ----------
    s0, strike : float
        Spot and strike (same money units).
    tau : float
        Maturity in years.
    r, q : float
        Rate and dividend yield, continuously compounded.
    v0, kappa, theta, sigma, rho : float
        Heston parameters under Q.
    lam_j, mu_j, sigma_j : float
        Q jump intensity (per year), mean and sd of the log-jump.

    Returns
    -------
    float
        Call price in the units of ``s0``.

    Notes
    -----
    Bates (1996), RFS 9(1), appendix: Gil-Pelaez probabilities ``P1, P2`` from
    :func:`bates_characteristic_function`, the same integration as
    :func:`alvh.models.heston.heston_call_price`. With ``lam_j = 0`` it is the Heston price; with
    ``sigma -> 0`` and ``v0 = theta`` it tends to Merton's (1976) jump-diffusion price.
    """
    args = (tau, s0, r, q, v0, kappa, theta, sigma, rho, lam_j, mu_j, sigma_j)
    return gil_pelaez_call(lambda u: bates_characteristic_function(u, *args), s0, strike, tau, r, q)


def svcj_call_price(s0: float, strike: float, tau: float, r: float, q: float, v0: float, kappa: float,
                    theta: float, sigma: float, rho: float, lam_j: float, mu_s: float, sigma_s: float,
                    mu_v: float, rho_j: float) -> float:
    """European call under SVCJ by Fourier inversion of its closed-form CF (reference, scalar).

    Parameters
    ----------
    s0, strike, tau, r, q : float
        As :func:`bates_call_price`.
    v0, kappa, theta, sigma, rho : float
        Diffusive Heston parameters under Q.
    lam_j, mu_s, sigma_s, mu_v, rho_j : float
        Q jump parameters (see :func:`svcj_characteristic_function`).

    Returns
    -------
    float

    Notes
    -----
    Duffie, Pan & Singleton (2000) transform (:func:`svcj_characteristic_function`, closed form,
    no ODE solver), inverted as in Heston (1993). ``mu_v = 0`` gives Bates with
    ``(mu_j, sigma_j) = (mu_s, sigma_s)``; ``lam_j = 0`` gives Heston.
    """
    args = (tau, s0, r, q, v0, kappa, theta, sigma, rho, lam_j, mu_s, sigma_s, mu_v, rho_j)
    return gil_pelaez_call(lambda u: svcj_characteristic_function(u, *args), s0, strike, tau, r, q)
