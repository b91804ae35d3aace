"""European call prices by Fourier inversion: Gil-Pelaez on any characteristic function, and Heston's
in the "little trap" form (reference prices, scalar)."""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate


def _heston_cf(u, t, s0, r, q, v0, kappa, theta, sigma, rho):
    """Characteristic function of ln S_t, Albrecher et al. (2007) "little trap" form."""
    iu = 1j * u
    beta = kappa - rho * sigma * iu
    d = np.sqrt(beta**2 + sigma**2 * (iu + u**2))
    g = (beta - d) / (beta + d)
    edt = np.exp(-d * t)
    c = kappa * theta / sigma**2 * ((beta - d) * t - 2.0 * np.log((1.0 - g * edt) / (1.0 - g)))
    dd = (beta - d) / sigma**2 * (1.0 - edt) / (1.0 - g * edt)
    return np.exp(iu * (math.log(s0) + (r - q) * t) + c + dd * v0)


def gil_pelaez_call(cf, s0: float, strike: float, t: float, r: float, q: float) -> float:
    """European call ``C = S e^{-qt} P1 - K e^{-rt} P2`` from the characteristic function of ``ln S_t``.

    Parameters
    ----------
    cf : callable
        ``u -> E[exp(i u ln S_t)]`` under the pricing measure, for complex ``u``.
    s0, strike : float
        Spot and strike (same money units).
    t : float
        Maturity in years.
    r, q : float
        Rate and dividend yield, continuously compounded.

    Returns
    -------
    float
        Call price in the units of ``s0``.

    Notes
    -----
    Gil-Pelaez inversion of the two probabilities (Heston 1993, eqs. 10 and 18); ``P1`` uses the
    share measure ``cf(u - i) / cf(-i)``. Integrals by ``scipy.integrate.quad``.
    """
    lk = math.log(strike)
    phi_mi = cf(-1j)  # = S0 e^{(r-q)t} for a martingale-compensated model

    def f1(u):
        return (np.exp(-1j * u * lk) * cf(u - 1j) / (1j * u * phi_mi)).real

    def f2(u):
        return (np.exp(-1j * u * lk) * cf(u) / (1j * u)).real

    i1, _ = integrate.quad(f1, 1e-12, np.inf, limit=500, epsabs=1e-12)
    i2, _ = integrate.quad(f2, 1e-12, np.inf, limit=500, epsabs=1e-12)
    p1 = 0.5 + i1 / math.pi
    p2 = 0.5 + i2 / math.pi
    return float(s0 * math.exp(-q * t) * p1 - strike * math.exp(-r * t) * p2)


def heston_call_price(
    s0: float,
    strike: float,
    t: float,
    r: float,
    q: float,
    v0: float,
    kappa: float,
    theta: float,
    sigma: float,
    rho: float,
) -> float:
    """European call price under Heston by Fourier inversion (reference, scalar).

    Parameters
    ----------
    s0, strike : float
        Spot and strike (same money units).
    t : float
        Maturity in years.
    r, q : float
        Rate and dividend yield, continuously compounded.
    v0, kappa, theta, sigma, rho : float
        Heston parameters under the pricing measure.

    Returns
    -------
    float
        Call price in the units of ``s0``.

    Notes
    -----
    ``C = S e^{-qT} P_1 - K e^{-rT} P_2`` with the probabilities by Gil-Pelaez inversion
    (Heston 1993, eqs. 10 and 18), the characteristic function written in the "little Heston
    trap" form of Albrecher, Mayer, Schoutens & Tistaert (2007), eq. (2), which is continuous in
    the complex logarithm. Integrals by ``scipy.integrate.quad``.
    """
    args = (t, s0, r, q, v0, kappa, theta, sigma, rho)
    return gil_pelaez_call(lambda u: _heston_cf(u, *args), s0, strike, t, r, q)
