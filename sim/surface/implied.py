"""Implied volatility from normalised Black prices: the log OTM call :func:`_ln_otm_call` and the
vectorised safeguarded Newton inversion :func:`implied_stdev` (compiled by :mod:`alvh.fastprice`
unless the numpy reference is selected), and the placeholder arrays handed to the kernels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from alvh.pricing import _fast

__all__ = ["implied_stdev"]


_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


# ================================================================================================
# implied volatility
# ================================================================================================


_NO_GUESS = np.zeros(())
_UNUSED_2D, _UNUSED_1D = np.zeros((1, 4)), np.zeros(1)


def _ln_otm_call(x, s):
    """``ln c(x, s)`` and ``d ln c / ds`` of the normalised Black call, ``x >= 0`` (OTM), ``s > 0``.

    ``c = N(d1) - e^x N(d2) = (1/2) e^{-d1^2/2} [erfcx(-d1/sqrt2) - erfcx(-d2/sqrt2)]`` with
    ``d1 = -x/s + s/2``, ``d2 = d1 - s`` (using ``e^x e^{-d2^2/2} = e^{-d1^2/2}``), so ``ln c`` is
    finite even where ``c`` underflows; ``dc/ds = phi(d1)`` (vega).
    """
    fp = _fast()
    if fp is not None:
        prep = fp.prepare(np.asarray(x, dtype=float), np.asarray(s, dtype=float))
        if prep is not None:
            (a_x, a_s), rows, cols, shape = prep
            ln_c, dln = fp.ln_otm_call(a_x, a_s, rows, cols)
            return fp.finish(ln_c, shape), fp.finish(dln, shape)
    d1 = -x / s + 0.5 * s
    diff = special.erfcx(-d1 / _SQRT2) - special.erfcx(-(d1 - s) / _SQRT2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_c = -0.5 * d1 * d1 + np.log(0.5 * diff)
        dln = 2.0 / (_SQRT2PI * diff)
    return ln_c, dln


def implied_stdev(price, k, guess=None, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Total implied standard deviation ``s = sigma sqrt(tau)`` from normalised OTM Black prices.

    Parameters
    ----------
    price : array_like
        Undiscounted OTM option price per unit of forward (``F = 1``, strike ``e^k``): a put
        where ``k < 0``, a call where ``k >= 0``.
    k : array_like
        Forward log-moneyness, broadcastable against ``price``.
    guess : array_like, optional
        Starting values of ``s`` (default ``max(sqrt(2 |k|), 0.1)``).
    tol : float, default 1e-10
        Convergence tolerance on ``ln(price)`` (the relative error of ``s`` is at most about
        ``tol``: ``d ln c / d ln s >= 1`` for OTM options); a Newton step below ``1e-3 tol``
        relative also ends the iteration.
    max_iter : int, default 100

    Returns
    -------
    ndarray
        ``s`` (so ``sigma = s / sqrt(tau)``); ``nan`` where the price is outside the no-arbitrage
        range ``0 < price < min(1, e^k)`` or the iteration did not converge.

    Notes
    -----
    Safeguarded Newton iteration on ``ln c(|k|, s) = ln(price) - min(k, 0)``, where ``c`` is the
    normalised OTM call and put-call symmetry ``p(k, s) = e^k c(-k, s)`` maps puts to calls. Working
    with the logarithm of the price is the transformation recommended for the low-price wings
    by Jäckel (2015), "Let's be rational", Wilmott 2015(75), sec. 3; ``ln c`` is evaluated with
    the scaled complementary error function (``scipy.special.erfcx``) so that it stays accurate
    where ``c`` underflows. A bracket ``[lo, hi]`` is kept from the signs of the residual
    (``ln c`` increases in ``s``); a Newton step leaving it is replaced by bisection (geometric
    when ``lo > 0``). Vectorised over all inputs; compiled (:func:`alvh.fastprice.implied_stdev`, one
    element at a time, the same steps) unless the numpy reference is selected.
    """
    fp = _fast()
    if fp is not None:
        g = _NO_GUESS if guess is None else np.asarray(guess, dtype=float)
        prep = fp.prepare(np.asarray(price, dtype=float), np.asarray(k, dtype=float), g)
        if prep is not None:
            (a_p, a_k, a_g), rows, cols, shape = prep
            out = fp.implied_stdev(a_p, a_k, a_g, guess is not None, float(tol), int(max_iter), rows, cols)
            return out.reshape(shape)       # an array, also 0-d (as np.where gives)
    price, k = np.broadcast_arrays(np.asarray(price, dtype=float), np.asarray(k, dtype=float))
    x = np.abs(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        target = np.log(price) - np.minimum(k, 0.0)
    ok = np.isfinite(target) & (target < 0.0) & (price > 0.0)
    target = np.where(ok, target, -1.0)
    s = np.maximum(np.sqrt(2.0 * x), 0.1) if guess is None else np.asarray(guess, dtype=float) + 0.0 * x
    s = np.where(np.isfinite(s) & (s > 0), s, 0.1)
    lo = np.zeros(x.shape)
    hi = np.full(x.shape, np.inf)
    done = ~ok
    for _ in range(max_iter):
        f, df = _ln_otm_call(x, s)
        f = f - target
        hit = np.abs(f) < tol                       # converged at s: keep s
        lo = np.where(f < 0, s, lo)
        hi = np.where(f > 0, s, hi)
        s_new = s - f / df
        outside = ~np.isfinite(s_new) | (s_new <= lo) | (s_new >= hi)
        small = ~outside & (np.abs(s_new - s) <= 1e-3 * tol * s)   # converged Newton step: take it
        bis = np.where(np.isfinite(hi), np.where(lo > 0, np.sqrt(lo * hi), 0.5 * hi), 2.0 * s)
        s_new = np.where(outside, bis, s_new)
        s = np.where(done | hit, s, s_new)
        done = done | hit | small
        if np.all(done):
            break
    return np.where(ok & done, s, np.nan)
