"""Black–Scholes–Merton Greeks (:class:`Greeks`, :func:`bs_greeks`) and options priced on a surface
(:func:`surface_option`, sticky-strike Greeks at the surface's implied volatility).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

from alvh.surface.base import SpxSurface
from alvh.surface.implied import _SQRT2PI

__all__ = ["Greeks", "bs_greeks", "surface_option"]


# ================================================================================================
# Black-Scholes Greeks and surface pricing
# ================================================================================================


class Greeks(NamedTuple):
    """Price and Greeks of European options, one value per option (arrays of a common shape).

    Attributes
    ----------
    price : ndarray
        Premium in index points.
    delta : ndarray
        ``dV/dS`` per index point.
    gamma : ndarray
        ``d2V/dS2`` per index point squared.
    vega : ndarray
        ``dV/dsigma`` per 1.00 of volatility (index points per 100 vol points); divide by 100 for
        the change per vol point.
    theta : ndarray
        ``dV/dt = -dV/dtau`` per year of calendar time (index points per year); divide by 365 for
        one calendar day.
    """

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


def bs_greeks(spot, strike, tau, rate: float, div: float, vol, is_call) -> Greeks:
    """Black–Scholes–Merton price, delta, gamma, vega and theta, vectorised.

    Parameters
    ----------
    spot, strike : array_like
        Underlying and strike (index points), broadcastable.
    tau : array_like
        Time to expiry in years, > 0.
    rate, div : float or array_like
        Continuously compounded risk-free rate and dividend yield.
    vol : array_like
        Volatility (annualised, 0.2 = 20%), > 0.
    is_call : bool or array_like of bool

    Returns
    -------
    Greeks
        Arrays of the broadcast shape; units as in :class:`Greeks`.

    Notes
    -----
    Hull, "Options, Futures, and Other Derivatives" (10th ed.), ch. 19 (sec. 19.4-19.8 and the
    table of Greeks for an asset paying a yield ``q``), written on the forward
    ``F = S e^{(r - q) tau}``: ``d1 = (ln(F/K) + sigma^2 tau / 2) / (sigma sqrt(tau))``,
    ``d2 = d1 - sigma sqrt(tau)``; with ``w = +1`` (call) or ``-1`` (put)::

        price = w e^{-r tau} (F N(w d1) - K N(w d2))
        delta = w e^{-q tau} N(w d1)
        gamma = e^{-q tau} n(d1) / (S sigma sqrt(tau))
        vega  = S e^{-q tau} n(d1) sqrt(tau)
        theta = -S e^{-q tau} n(d1) sigma / (2 sqrt(tau)) - w r K e^{-r tau} N(w d2) + w q S e^{-q tau} N(w d1)
    """
    spot = np.asarray(spot, dtype=float)
    strike = np.asarray(strike, dtype=float)
    tau = np.asarray(tau, dtype=float)
    vol = np.asarray(vol, dtype=float)
    sq = np.sqrt(tau)
    sd = vol * sq
    dq = np.exp(-div * tau)
    dr = np.exp(-rate * tau)
    fwd = spot * np.exp((rate - div) * tau)
    d1 = (np.log(fwd / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    w = np.where(is_call, 1.0, -1.0)
    nd1 = special.ndtr(w * d1)
    nd2 = special.ndtr(w * d2)
    pdf = np.exp(-0.5 * d1 * d1) / _SQRT2PI
    price = w * dr * (fwd * nd1 - strike * nd2)
    delta = w * dq * nd1
    sdq_pdf = spot * dq * pdf
    gamma = dq * pdf / (spot * sd)
    vega = sdq_pdf * sq
    theta = -sdq_pdf * vol / (2.0 * sq) - w * rate * strike * dr * nd2 + w * div * spot * dq * nd1
    return Greeks(price, delta, gamma, vega, theta)


def surface_option(spot, strike, tau, var, is_call, surface: SpxSurface, rate: float, div: float,
                   regime=None) -> Greeks:
    """Price and Greeks of SPX European options at the surface's implied volatility.

    Parameters
    ----------
    spot : array_like, broadcastable to (n,)
        SPX level on each path (points).
    strike : array_like, broadcastable to (n,)
        Strikes (points).
    tau : float or array_like, broadcastable to (n,)
        Time to expiry in years, > 0.
    var : array_like, broadcastable to (n,)
        Variance state (annualised).
    is_call : bool or array_like of bool
    surface : SpxSurface
    rate, div : float
        Continuously compounded rate and dividend yield.
    regime : array_like of int, optional
        Regime labels (regime models).

    Returns
    -------
    Greeks
        :func:`bs_greeks` at ``vol = surface.implied_vol(ln(K/F), tau, var, regime)``: sticky-strike
        Greeks (the implied vol of each strike held fixed when spot, vol or time move; the
        surface's own dependence on spot and state is not differentiated).

    Raises
    ------
    ValueError
        If some ``tau <= 0``.
    """
    tau = np.asarray(tau, dtype=float)
    if np.any(tau <= 0.0):
        raise ValueError("tau must be > 0 (price expiring options at intrinsic value)")
    spot = np.asarray(spot, dtype=float)
    fwd = spot * np.exp((rate - div) * tau)
    vol = surface.implied_vol(np.log(np.asarray(strike, dtype=float) / fwd), tau, var, regime)
    return bs_greeks(spot, strike, tau, rate, div, vol, is_call)
