"""Scalar helpers of the kernels: broadcasting access, NaN-propagating min and max, the normal CDF
:func:`ndtr`, :func:`erfcx`, numpy's powers and the Black–Scholes price and delta of one option.

Differences from the numpy reference are round-off only: ``math.exp``/``log``/``asinh`` of the
C library instead of numpy's (possibly SIMD) loops, the normal CDF as ``erf``/``erfc`` of the C
library in the branch structure of Cephes' ``ndtr`` (scipy's), and :func:`erfcx` below instead of
the Faddeeva package's (scipy's). Agreement is ~1e-15 relative for prices, more loosely where the
reference itself cancels (deep out-of-the-money prices, ~1e-13).
"""

from __future__ import annotations

import math

import numpy as np

from alvh.fastprice.jit import _jit

__all__ = ["ndtr", "erfcx"]


# ================================================================================================
# scalar helpers
# ================================================================================================

_SQRT1_2 = math.sqrt(0.5)
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_SQRTPI = math.sqrt(math.pi)
_DEKKER = 134217729.0          # 2^27 + 1: Dekker's splitting constant for doubles
_INT_MIN = -(2**63)            # what numpy's float -> intp cast gives for NaN on x86-64


@_jit()
def _at(a, i, j):
    """``a[i, j]`` with numpy broadcasting of a dimension of length 1."""
    return a[min(i, a.shape[0] - 1), min(j, a.shape[1] - 1)]


@_jit()
def _nmin(a, b):
    """``np.minimum`` of two floats (NaN propagates)."""
    return a if (a < b or a != a) else b


@_jit()
def _nmax(a, b):
    """``np.maximum`` of two floats (NaN propagates)."""
    return a if (a > b or a != a) else b


@_jit()
def ndtr(x):
    """Standard normal CDF: Cephes' ``ndtr`` (as in scipy.special) on the C library's ``erf``/``erfc``."""
    if x != x:
        return np.nan
    t = x * _SQRT1_2
    z = abs(t)
    if z < _SQRT1_2:
        return 0.5 + 0.5 * math.erf(t)
    y = 0.5 * math.erfc(z)
    return 1.0 - y if t > 0.0 else y


@_jit()
def _exp_square(x):
    """``exp(x^2)`` with the rounding error of ``x^2`` (Dekker's exact product) folded in."""
    xx = x * x
    c = _DEKKER * x
    hi = c - (c - x)
    lo = x - hi
    err = ((hi * hi - xx) + 2.0 * hi * lo) + lo * lo
    return math.exp(xx) * (1.0 + err)


@_jit()
def _erfcx_nonneg(x):
    if x < 25.0:
        return _exp_square(x) * math.erfc(x)
    # asymptotic series 1/(x sqrt(pi)) sum_k (-1)^k (2k-1)!! / (2 x^2)^k; at x >= 25 the 11th term
    # is below 1e-22 of the first
    y = 1.0 / (2.0 * x * x)
    term = 1.0
    s = 1.0
    for k in range(1, 12):
        term *= -(2 * k - 1) * y
        s += term
    return s / (x * _SQRTPI)


@_jit()
def erfcx(x):
    """Scaled complementary error function ``exp(x^2) erfc(x)``.

    Within ~1.1e-15 relative of ``scipy.special.erfcx`` (the Faddeeva package of S. G. Johnson)
    for all finite ``x`` (tests/test_fastprice.py): ``exp(x^2) erfc(x)`` with the product's
    rounding error corrected below 25, the asymptotic series above; for ``x < 0`` the reflection
    ``2 exp(x^2) - erfcx(-x)`` exactly as Faddeeva writes it, ``inf`` below -26.7.
    """
    if x != x:
        return np.nan
    if x >= 0.0:
        return _erfcx_nonneg(x)
    if x < -26.7:
        return np.inf
    return 2.0 * math.exp(x * x) - _erfcx_nonneg(-x)


@_jit()
def _npow(x, e):
    """``x ** e`` as numpy evaluates ``ndarray ** python_float`` (its fast paths for 0.5, 2, 1, -1, 0)."""
    if e == 2.0:
        return x * x
    if e == 0.5:
        return math.sqrt(x)
    if e == 1.0:
        return x
    if e == -1.0:
        return 1.0 / x
    if e == 0.0:
        return 1.0
    return x**e


@_jit()
def _bs_pre(strike, vol, is_call, sqt, fwd, disc, dq):
    """:func:`alvh.pricing.black_scholes` for one option given the maturity factors ``sqrt(tau)``,
    ``fwd = S e^{(r - q) tau}``, ``disc = e^{-r tau}`` and ``dq = e^{-q tau}``: price and delta."""
    sd = vol * sqt
    d1 = (math.log(fwd / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    sign = 1.0 if is_call else -1.0
    n1 = ndtr(sign * d1)
    price = disc * sign * (fwd * n1 - strike * ndtr(sign * d2))
    delta = sign * dq * n1
    return price, delta


@_jit()
def _bs_delta(strike, sd, fwd, is_call, dq):
    """The delta of :func:`_bs_pre` alone, given ``sd = vol sqrt(tau)``, the forward and ``dq = exp(-q tau)``."""
    d1 = (math.log(fwd / strike) + 0.5 * sd * sd) / sd
    sign = 1.0 if is_call else -1.0
    return sign * dq * ndtr(sign * d1)
