"""The SSVI surface of any model (:class:`SsviSurface`): an SSVI smile whose option strip reproduces
the model's Q-expected total variance.
"""

from __future__ import annotations

import numpy as np

from alvh.surface.base import SpxSurface, _bisection_constants, strip_total_variance
from alvh.surface.cos import _as_model
from alvh.surface.implied import _UNUSED_1D, _UNUSED_2D

__all__ = ["SsviSurface"]


class SsviSurface(SpxSurface):
    """SSVI smile whose option strip reproduces the model's Q-expected total variance (any model).

    ``w(k, tau) = smile.total_variance(k, theta_t)``: the SSVI slice of Gatheral & Jacquier (2014),
    "Arbitrage-free SVI volatility surfaces", Quantitative Finance 14(1), eq. (4.1), with ATM total
    variance ``theta_t`` chosen so that the slice's variance-swap value (the OTM strip,
    :func:`strip_total_variance`) equals ``model.atm_total_variance(var, tau, regime)``, the
    model's Q expectation of the integrated variance (jumps included). At 30 days that makes the
    strip's VIX equal the model VIX, the definition of the index. (Anchoring the ATM level itself
    at the expected variance would put the strip 20-24% above the model VIX with the default skew.)

    The map ``theta -> strip(theta)`` depends on the slice shape only; it is tabulated once on
    240 geometric nodes of ``theta`` (1e-7 to 20) and inverted by log-log interpolation. Outside
    the nodes the ratio strip/theta of the end node is used (the slice shape in standardised
    moneyness tends to a limit as ``theta -> 0``).

    Parameters
    ----------
    model : PathModel or HestonParams
    smile : alvh.pricing.SpxSmile
        Any object with ``total_variance(k, atm_total_variance)``.

    Notes
    -----
    Free of butterfly arbitrage when ``eta (1 + |rho|) <= 2`` (G&J, Corollary 4.1, enforced by
    ``SpxSmile``) and of calendar arbitrage when ``theta_t`` is non-decreasing in ``tau`` and
    ``theta phi(theta)`` is non-decreasing (true for the power-law ``phi``, G&J Theorem 4.1);
    ``theta_t`` is an increasing function of the integrated variance, which grows with ``tau``.
    """

    def __init__(self, model, smile) -> None:
        self.model = _as_model(model)
        self.smile = smile
        theta = np.geomspace(1e-7, 20.0, 240)
        strip = strip_total_variance(lambda k: smile.total_variance(k, theta[:, None]), np.sqrt(theta))
        if np.any(np.diff(strip) <= 0):
            raise ValueError("the SSVI strip variance is not increasing in theta; check the smile parameters")
        self._log_theta, self._log_strip = np.log(theta), np.log(strip)

    def atm_total_variance(self, target) -> np.ndarray:
        """ATM total variance ``theta`` whose slice strip equals ``target`` (years x variance, >= 0)."""
        t = np.maximum(np.asarray(target, dtype=float), 1e-300)
        lt, ls = self._log_theta, self._log_strip
        x = np.log(t)
        out = np.interp(x, ls, lt)
        out = np.where(x < ls[0], x - (ls[0] - lt[0]), out)
        out = np.where(x > ls[-1], x - (ls[-1] - lt[-1]), out)
        return np.exp(out)

    def total_variance(self, k, tau, var, regime=None) -> np.ndarray:
        """Total implied variance of the SSVI slice at the strip-matched ATM level.

        Parameters and returns as :meth:`SpxSurface.total_variance`.
        """
        target = self.model.atm_total_variance(var, tau, regime)
        return self.smile.total_variance(k, self.atm_total_variance(target))

    def _fast_smile(self):
        """``(rho, eta, gamma)`` of an :class:`~alvh.pricing.SpxSmile` priced by this class's formulas, or ``None``."""
        from alvh.pricing import SpxSmile  # imported here: alvh.pricing may import this module

        if type(self.smile) is not SpxSmile or not self._uses_own_formulas(SsviSurface):
            return None
        return float(self.smile.rho), float(self.smile.eta), float(self.smile.gamma)

    def _fast_spx_option(self, fp, spot, strike, tau, var, is_call, rate, div, regime):
        smile = self._fast_smile()
        if smile is None:
            return None
        tau = np.asarray(tau, dtype=float)
        th = np.asarray(self.atm_total_variance(self.model.atm_total_variance(var, tau, regime)), dtype=float)
        prep = fp.prepare(np.asarray(spot, dtype=float), np.asarray(strike, dtype=float), tau, th,
                          np.asarray(is_call, dtype=bool))
        if prep is None:
            return None
        (a_s, a_k, a_t, a_th, a_c), rows, cols, shape = prep
        price, delta = fp.spx_option_ssvi(a_s, a_k, a_t, a_th, a_c, rate, div, *smile, rows, cols)
        return fp.finish(price, shape), fp.finish(delta, shape)

    def _fast_strike_for_delta(self, fp, spot, tau, var, target, is_call, rate, div, regime):
        smile = self._fast_smile()
        if smile is None:
            return None
        th = np.asarray(self.atm_total_variance(self.model.atm_total_variance(var, tau, regime)), dtype=float)
        if th.shape != spot.shape:
            return None
        prep = fp.prepare(spot, th)
        if prep is None:
            return None
        (a_s, a_th), rows, cols, shape = prep
        strike, d = fp.strike_for_delta_ssvi(a_s, a_th, tau, target, is_call, *_bisection_constants(tau, rate, div),
                                             *smile, _UNUSED_2D, _UNUSED_1D, rows, cols)
        return fp.finish(strike, shape), fp.finish(d, shape)
