"""SPX options along paths: Black–Scholes, the SSVI smile :class:`SpxSmile`, option prices on a surface
(:func:`spx_option`) and the strike of a given delta (:func:`strike_for_delta`).

Vectorised over paths: inputs are arrays of shape ``(n_paths,)`` (or anything broadcastable), one
value per path on the current day; prices in index points per unit of underlying.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from alvh.pricing.common import _fast

__all__ = [
    "black_scholes",
    "SpxSmile",
    "spx_option",
    "strike_for_delta",
]


def black_scholes(
    spot, strike, tau, rate: float, div: float, vol, is_call
) -> tuple[np.ndarray, np.ndarray]:
    """Black–Scholes–Merton price and spot delta of European options.

    Parameters
    ----------
    spot, strike : array_like
        Underlying level and strike (index points), broadcastable.
    tau : array_like
        Time to expiry in years, > 0.
    rate, div : float
        Risk-free rate and dividend yield, continuously compounded.
    vol : array_like
        Black–Scholes implied volatility (annualised, 0.2 = 20%), > 0.
    is_call : bool or array_like of bool
        Call where True, put where False.

    Returns
    -------
    price : ndarray
        Option price in index points.
    delta : ndarray
        dPrice/dSpot at fixed vol (calls in (0, 1), puts in (-1, 0)).

    Notes
    -----
    Black & Scholes (1973), Merton (1973) with continuous dividend yield; written on the forward
    ``F = S exp((r - q) tau)``: ``C = exp(-r tau) (F N(d1) - K N(d2))``, put by parity.
    Compiled (:func:`alvh.fastprice.black_scholes`) unless the numpy reference is selected.
    """
    fp = _fast()
    if fp is not None and np.ndim(rate) == 0 and np.ndim(div) == 0:
        prep = fp.prepare(np.asarray(spot, dtype=float), np.asarray(strike, dtype=float), np.asarray(tau, dtype=float),
                          np.asarray(vol, dtype=float), np.asarray(is_call, dtype=bool))
        if prep is not None:
            (a_s, a_k, a_t, a_v, a_c), rows, cols, shape = prep
            price, delta = fp.black_scholes(a_s, a_k, a_t, a_v, a_c, float(rate), float(div), rows, cols)
            return fp.finish(price, shape), fp.finish(delta, shape)
    spot = np.asarray(spot, dtype=float)
    tau = np.asarray(tau, dtype=float)
    sd = np.asarray(vol, dtype=float) * np.sqrt(tau)
    fwd = spot * np.exp((rate - div) * tau)
    d1 = (np.log(fwd / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    disc = np.exp(-rate * tau)
    sign = np.where(is_call, 1.0, -1.0)
    price = disc * sign * (fwd * special.ndtr(sign * d1) - strike * special.ndtr(sign * d2))
    delta = sign * np.exp(-div * tau) * special.ndtr(sign * d1)
    return price, delta


@dataclass(frozen=True)
class SpxSmile:
    """SSVI implied-variance smile anchored to the model's expected variance.

    The ATM total implied variance is the Heston Q-expected integrated variance,
    ``theta_t = tau * E_Q[(1/tau) int v ds | v_t]``, so the whole surface moves with the simulated
    state; the shape is the SSVI slice of Gatheral & Jacquier (2014), "Arbitrage-free SVI
    volatility surfaces", Quantitative Finance 14(1), eq. (4.1)::

        w(k) = theta_t / 2 * (1 + rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2))
        phi  = eta / (theta_t^gamma (1 + theta_t)^(1 - gamma))          (power law, eq. 4.5)

    with ``k = ln(K / F)``. ``rho < 0`` gives the put skew. The surface is free of butterfly
    arbitrage when ``eta (1 + |rho|) <= 2`` and ``0 < gamma <= 1/2`` (ibid., Remark 4.4), which
    the scenario schema enforces.

    Parameters
    ----------
    rho : float
        Skew parameter in (-1, 1).
    eta : float
        Level of the curvature function, > 0.
    gamma : float
        Power of the curvature function, in (0, 0.5].
    """

    rho: float = -0.7
    eta: float = 1.1
    gamma: float = 0.5

    def __post_init__(self) -> None:
        if not -1.0 < self.rho < 1.0:
            raise ValueError(f"SSVI rho must be in (-1, 1), got {self.rho}")
        if self.eta <= 0:
            raise ValueError(f"SSVI eta must be > 0, got {self.eta}")
        if not 0.0 < self.gamma <= 0.5:
            raise ValueError(f"SSVI gamma must be in (0, 0.5], got {self.gamma}")
        if self.eta * (1.0 + abs(self.rho)) > 2.0 + 1e-12:
            raise ValueError(
                f"SSVI eta*(1+|rho|) must be <= 2 (no butterfly arbitrage), got {self.eta * (1 + abs(self.rho)):.3f}"
            )

    def total_variance(self, k, atm_total_variance) -> np.ndarray:
        """Total implied variance ``w(k) = sigma_BS(k)^2 tau`` of the SSVI slice.

        Parameters
        ----------
        k : array_like
            Log-moneyness ``ln(K / F)``, broadcastable against ``atm_total_variance``.
        atm_total_variance : array_like
            ATM total implied variance ``theta_t = sigma_ATM^2 tau`` (> 0, years x variance).

        Returns
        -------
        ndarray
            ``w(k)`` (dimensionless total variance); Gatheral & Jacquier (2014), eqs. (4.1), (4.5).
        """
        th = np.asarray(atm_total_variance, dtype=float)
        phi = self.eta / (th**self.gamma * (1.0 + th) ** (1.0 - self.gamma))
        pk = phi * np.asarray(k, dtype=float)
        return 0.5 * th * (1.0 + self.rho * pk + np.sqrt((pk + self.rho) ** 2 + 1.0 - self.rho**2))


def spx_option(
    spot, strike, tau, v, is_call, surface, rate: float, div: float, regime=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Price and delta of SPX European options on the simulated state.

    Parameters
    ----------
    spot : ndarray of shape (n_paths,)
        SPX level (points).
    strike : ndarray, broadcastable to (n_paths,)
        Strikes (points).
    tau : float or ndarray
        Time to expiry in years, > 0.
    v : ndarray of shape (n_paths,)
        Variance state on each path (annualised).
    is_call : bool or ndarray of bool
    surface : alvh.surface.SpxSurface
        Implied volatility as a function of forward log-moneyness, maturity and the state
        (:func:`alvh.surface.make_surface`: the model's own Fourier surface or an SSVI smile).
    rate, div : float
        Continuously compounded rate and dividend yield.
    regime : ndarray of int, shape (n_paths,), optional
        Regime labels for regime-switching models.

    Returns
    -------
    price, delta : ndarray of shape (n_paths,)
        Black–Scholes price (points) at the surface's implied vol, and the sticky-strike delta.

    Notes
    -----
    On a :class:`~alvh.surface.FourierSurface` or an :class:`~alvh.surface.SsviSurface` the surface
    lookup and Black–Scholes run fused in one compiled kernel (:mod:`alvh.fastprice`) unless the
    numpy reference is selected.
    """
    fp = _fast()
    if fp is not None and np.ndim(rate) == 0 and np.ndim(div) == 0:
        fast = getattr(surface, "_fast_spx_option", None)
        out = None if fast is None else fast(fp, spot, strike, tau, v, is_call, float(rate), float(div), regime)
        if out is not None:
            return out
    tau = np.asarray(tau, dtype=float)
    fwd = spot * np.exp((rate - div) * tau)
    vol = surface.implied_vol(np.log(strike / fwd), tau, v, regime)
    return black_scholes(spot, strike, tau, rate, div, vol, is_call)


def strike_for_delta(
    spot, tau: float, v, target_delta: float, is_call: bool, surface, rate: float, div: float, tick: float = 5.0,
    regime=None,
) -> np.ndarray:
    """Strike whose smile delta equals ``target_delta`` (e.g. 0.15 for calls, -0.15 for puts).

    Parameters
    ----------
    spot, v : ndarray of shape (n_paths,)
        Current SPX level and variance.
    tau : float
        Time to expiry in years.
    target_delta : float
        Desired delta: in (0, 1) for calls, in (-1, 0) for puts.
    is_call : bool
    surface, rate, div, regime
        As in :func:`spx_option`.
    tick : float, default 5
        Strike grid spacing (SPX lists 5-point strikes); the result is rounded to it.

    Returns
    -------
    ndarray of shape (n_paths,)
        Strikes in points.

    Raises
    ------
    ValueError
        If ``target_delta`` has the wrong sign for the option type, or cannot be reached within
        1e-6 on some path (e.g. a call delta above ``exp(-q tau)``).

    Notes
    -----
    Vectorised bisection on log-moneyness over ``[-40, 40]`` ATM total standard deviations from
    the forward (64 halvings); delta is monotone in the strike on an arbitrage-free surface. On a
    :class:`~alvh.surface.FourierSurface` or an :class:`~alvh.surface.SsviSurface` the search runs
    path by path in a compiled kernel unless the numpy reference is selected: the first 16 of
    these halvings, then regula falsi inside the bracket, which ends on the same crossing to
    ~1e-15 relative (:func:`alvh.fastprice._delta_strike`).
    """
    if is_call and not 0.0 < target_delta < 1.0:
        raise ValueError(f"call delta must be in (0, 1), got {target_delta}")
    if not is_call and not -1.0 < target_delta < 0.0:
        raise ValueError(f"put delta must be in (-1, 0), got {target_delta}")
    spot = np.asarray(spot, dtype=float)
    fp = _fast()
    found = None
    if fp is not None and np.ndim(tau) == 0 and np.ndim(rate) == 0 and np.ndim(div) == 0:
        fast = getattr(surface, "_fast_strike_for_delta", None)
        if fast is not None:
            found = fast(fp, spot, float(tau), v, float(target_delta), bool(is_call), float(rate), float(div), regime)
    if found is None:
        found = _strike_for_delta_numpy(spot, tau, v, target_delta, is_call, surface, rate, div, regime)
    strike, d = found
    missed = np.abs(d - target_delta) > 1e-6
    if np.any(missed):
        raise ValueError(
            f"delta {target_delta} cannot be reached on {int(missed.sum())} path(s) within 40 standard "
            f"deviations of the forward (e.g. |call delta| <= exp(-q tau) = {math.exp(-div * tau):.4f})"
        )
    return np.round(strike / tick) * tick


def _strike_for_delta_numpy(spot, tau, v, target_delta, is_call, surface, rate, div, regime):
    """The numpy reference of :func:`strike_for_delta`'s bisection: the unrounded strike and its delta."""
    fwd = spot * math.exp((rate - div) * tau)
    sd = np.sqrt(np.maximum(surface.total_variance(np.zeros_like(spot), tau, v, regime), 1e-12))
    lo = np.full(spot.shape, -40.0)
    hi = np.full(spot.shape, 40.0)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        _, d = spx_option(spot, fwd * np.exp(mid * sd), tau, v, is_call, surface, rate, div, regime)
        # delta falls as the strike rises, for calls and puts alike
        above = d > target_delta
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    strike = fwd * np.exp(0.5 * (lo + hi) * sd)
    _, d = spx_option(spot, strike, tau, v, is_call, surface, rate, div, regime)
    return strike, d
