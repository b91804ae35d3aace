"""The interface of an SPX implied-volatility surface (:class:`SpxSurface`), the maturity factors of
the delta-strike search (:func:`_bisection_constants`) and the variance-swap value of smile slices
(:func:`strip_total_variance`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
from scipy import special

from alvh.models.base import PathModel

__all__ = ["SpxSurface", "strip_total_variance"]


# ================================================================================================
# surfaces
# ================================================================================================


class SpxSurface(ABC):
    """Black implied volatility of SPX options as a function of the simulated state.

    Attributes
    ----------
    model : PathModel
        The model whose state (``var``, ``regime``) the surface reads.
    """

    model: PathModel

    @abstractmethod
    def total_variance(self, k, tau, var, regime=None) -> np.ndarray:
        """Total implied variance ``w = sigma_BS^2 tau``.

        Parameters
        ----------
        k : array_like, broadcastable to (n,)
            Forward log-moneyness ``ln(K / F)``.
        tau : float or array_like, broadcastable to (n,)
            Maturity in years, > 0.
        var : array_like, broadcastable to (n,)
            Variance state (annualised).
        regime : array_like of int, broadcastable to (n,), optional
            Regime labels (regime-switching models; ignored otherwise).

        Returns
        -------
        ndarray of shape (n,)
            ``w`` (years x annualised variance).
        """

    def implied_vol(self, k, tau, var, regime=None) -> np.ndarray:
        """Black implied volatility ``sqrt(w / tau)`` (annualised, 0.2 = 20%); arguments as :meth:`total_variance`."""
        return np.sqrt(self.total_variance(k, tau, var, regime) / np.asarray(tau, dtype=float))

    # ---- compiled paths (alvh.fastprice); None means "no kernel applies: run the numpy reference"
    def _fast_spx_option(self, fp, spot, strike, tau, var, is_call, rate: float, div: float, regime):
        """:func:`alvh.pricing.spx_option` by a fused kernel: ``(price, delta)``, or ``None``."""
        return None

    def _fast_strike_for_delta(self, fp, spot, tau: float, var, target: float, is_call: bool, rate: float,
                               div: float, regime):
        """The root search of :func:`alvh.pricing.strike_for_delta` by a kernel: unrounded ``(strike, delta)``,
        or ``None``."""
        return None

    def _uses_own_formulas(self, cls) -> bool:
        """Whether this object prices with ``cls``'s own :meth:`total_variance` and :meth:`implied_vol`
        (a subclass overriding either gets no kernel)."""
        return (type(self).total_variance is cls.total_variance
                and type(self).implied_vol is SpxSurface.implied_vol)


def _bisection_constants(tau: float, rate: float, div: float) -> tuple[float, ...]:
    """Maturity-only factors of :func:`alvh.pricing.strike_for_delta` as its numpy code computes them:
    ``math.exp((r - q) tau)`` and numpy's ``exp((r - q) tau)``, ``sqrt(tau)``, ``exp(-r tau)``, ``exp(-q tau)``."""
    t = np.asarray(tau, dtype=float)
    return (math.exp((rate - div) * tau), float(np.exp((rate - div) * t)), float(np.sqrt(t)),
            float(np.exp(-rate * t)), float(np.exp(-div * t)))


def strip_total_variance(w_fn, sd, z_range: tuple[float, float] = (-200.0, 60.0), n: int = 12001) -> np.ndarray:
    """Variance-swap (log-contract) total variance of smile slices: the value of the OTM option strip.

    Parameters
    ----------
    w_fn : callable
        ``k -> w``: total implied variance at forward log-moneyness ``k``, for ``k`` of shape
        (m, n) (one row per slice), returning the same shape.
    sd : ndarray of shape (m,)
        A scale per slice (e.g. the square root of its ATM total variance, > 0); the integral runs
        over ``k = sd * z`` for ``z`` in ``z_range``.
    z_range : tuple of float, default (-200, 60)
        Integration range in units of ``sd`` (wide: the SSVI put wing is fat).
    n : int, default 12001
        Trapezoid nodes.

    Returns
    -------
    ndarray of shape (m,)
        ``2 int OTM(k) e^{-k} dk`` with undiscounted forward-normalised Black prices: the
        Q-expectation of ``-2 ln(S_T / F)``, i.e. ``VIX^2 * tau`` when ``tau`` is 30 days (Carr &
        Madan 1998; Demeterfi, Derman, Kamal & Zou 1999, "More than you ever wanted to know about
        volatility swaps", eq. 26; Cboe VIX white paper).
    """
    sd = np.asarray(sd, dtype=float)
    z = np.linspace(z_range[0], z_range[1], n)
    k = np.maximum(sd[:, None] * z[None, :], -700.0)  # e^k stays a normal float
    s = np.sqrt(np.maximum(np.asarray(w_fn(k), dtype=float), 1e-300))
    d1 = -k / s + 0.5 * s
    d2 = d1 - s
    ek = np.exp(k)
    otm = np.where(k < 0.0, ek * special.ndtr(-d2) - special.ndtr(-d1), special.ndtr(d1) - ek * special.ndtr(d2))
    return 2.0 * np.trapezoid(np.maximum(otm, 0.0) / ek, k, axis=1)
