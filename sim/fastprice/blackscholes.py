"""Kernels of :func:`alvh.pricing.black_scholes`, of the log OTM call and of the implied-volatility
inversion :func:`alvh.surface.implied_stdev` (its steps, one element at a time).
"""

from __future__ import annotations

import math

import numpy as np
from numba import types

from alvh.fastprice.jit import _B2, _F2, _OUT, _b1, _f8, _i8, _jit
from alvh.fastprice.scalar import _SQRT2, _SQRT2PI, _at, _bs_pre, _nmin, erfcx

__all__ = ["black_scholes", "ln_otm_call", "implied_stdev"]


# ------------------------------------------------------------------------------------------------
# Black-Scholes and implied volatility
# ------------------------------------------------------------------------------------------------


@_jit(types.UniTuple(_OUT, 2)(_F2, _F2, _F2, _F2, _B2, _f8, _f8, _i8, _i8))
def black_scholes(spot, strike, tau, vol, is_call, rate, div, rows, cols):
    """:func:`alvh.pricing.black_scholes` on broadcast 2-D inputs: price and delta.

    Column by column; the maturity factors are reused while spot and maturity repeat (the legs
    of one path), which gives the same numbers as recomputing them.
    """
    price = np.empty((rows, cols))
    delta = np.empty((rows, cols))
    s_prev, t_prev = np.nan, np.nan
    sqt, fwd, disc, dq = np.nan, np.nan, np.nan, np.nan
    for j in range(cols):
        for i in range(rows):
            sp, tt = _at(spot, i, j), _at(tau, i, j)
            if sp != s_prev or tt != t_prev:
                s_prev, t_prev = sp, tt
                sqt = math.sqrt(tt)
                fwd = sp * math.exp((rate - div) * tt)
                disc = math.exp(-rate * tt)
                dq = math.exp(-div * tt)
            price[i, j], delta[i, j] = _bs_pre(_at(strike, i, j), _at(vol, i, j), _at(is_call, i, j), sqt, fwd, disc,
                                               dq)
    return price, delta


@_jit()
def _ln_otm_call(x, s):
    """:func:`alvh.surface._ln_otm_call` for one element: ``ln c`` and ``d ln c / ds``."""
    d1 = -x / s + 0.5 * s
    diff = erfcx(-d1 / _SQRT2) - erfcx(-(d1 - s) / _SQRT2)
    return -0.5 * d1 * d1 + math.log(0.5 * diff), 2.0 / (_SQRT2PI * diff)


@_jit(types.UniTuple(_OUT, 2)(_F2, _F2, _i8, _i8))
def ln_otm_call(x, s, rows, cols):
    """:func:`alvh.surface._ln_otm_call` on broadcast 2-D inputs."""
    f = np.empty((rows, cols))
    df = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            f[i, j], df[i, j] = _ln_otm_call(_at(x, i, j), _at(s, i, j))
    return f, df


@_jit()
def _implied_stdev(price, k, guess, has_guess, tol, max_iter):
    """:func:`alvh.surface.implied_stdev` for one element: its safeguarded Newton iteration, same steps."""
    x = abs(k)
    target = math.log(price) - _nmin(k, 0.0)
    if not (math.isfinite(target) and target < 0.0 and price > 0.0):
        return np.nan
    if has_guess:
        s = guess + 0.0 * x
    else:
        s = max(math.sqrt(2.0 * x), 0.1)
    if not (math.isfinite(s) and s > 0.0):
        s = 0.1
    lo = 0.0
    hi = np.inf
    for _ in range(max_iter):
        f, df = _ln_otm_call(x, s)
        f = f - target
        if abs(f) < tol:                        # converged at s: keep s
            return s
        if f < 0.0:
            lo = s
        if f > 0.0:
            hi = s
        s_new = s - f / df
        outside = not math.isfinite(s_new) or s_new <= lo or s_new >= hi
        small = not outside and abs(s_new - s) <= 1e-3 * tol * s
        if outside:
            if math.isfinite(hi):
                s_new = math.sqrt(lo * hi) if lo > 0.0 else 0.5 * hi
            else:
                s_new = 2.0 * s
        s = s_new
        if small:                               # converged Newton step: take it
            return s
    return np.nan


@_jit(_OUT(_F2, _F2, _F2, _b1, _f8, _i8, _i8, _i8))
def implied_stdev(price, k, guess, has_guess, tol, max_iter, rows, cols):
    """:func:`alvh.surface.implied_stdev` on broadcast 2-D inputs (``guess`` read where ``has_guess``)."""
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = _implied_stdev(_at(price, i, j), _at(k, i, j), _at(guess, i, j), has_guess, tol, max_iter)
    return out
