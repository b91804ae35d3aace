"""Compiled (numba) kernels for the pricing hot paths of the strategy engine.

Each kernel is a fused, elementwise loop doing what a numpy function of :mod:`alvh.surface` or
:mod:`alvh.pricing` does with many temporary arrays: the same formulas, in the same order of
operations, one element at a time. The numpy code stays the reference implementation; the
public functions dispatch here when :data:`ENABLED` is true (the default) and fall back to numpy
for anything a kernel does not cover (other surfaces, models or argument shapes), so callers such
as :func:`alvh.strategy.run_books` need no change. tests/test_fastprice.py compares every kernel
with its reference to 1e-10 relative.

Switching the kernels off
-------------------------
- environment variable ``ALVH_NUMPY_REFERENCE=1`` (read once, by :mod:`alvh.switches`; the callers
  then never import numba);
- ``alvh.fastprice.ENABLED = False`` at run time, or the context manager :func:`numpy_reference`.

Differences from the numpy reference are round-off only: ``math.exp``/``log``/``asinh`` of the
C library instead of numpy's (possibly SIMD) loops, the normal CDF as ``erf``/``erfc`` of the C
library in the branch structure of Cephes' ``ndtr`` (scipy's), and :func:`erfcx` below instead of
the Faddeeva package's (scipy's). Agreement is ~1e-15 relative for prices, more loosely where the
reference itself cancels (deep out-of-the-money prices, ~1e-13); the implied-volatility iteration
takes the reference's steps (ending on the same step except at knife edges). One kernel takes a
different road to the same point: the delta-strike search (:func:`_delta_strike`) takes the
reference's first 16 halvings, then regula falsi inside the bracket instead of 48 more
halvings; the crossing agrees to ~1e-15 relative before the strike is rounded to the tick.

Array arguments of the kernels are 2-D (rows, columns) and broadcast inside the kernel: each
input has each dimension either 1 or the output's (:func:`prepare`). All kernels are compiled
ahead for one signature each (read-only, any-layout float64 / int64 / bool arrays), so no call
pattern triggers a new compilation, and cached on disk (``cache=True``).
"""

from __future__ import annotations

import contextlib
import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from alvh.switches import NUMPY_REFERENCE

__all__ = [
    "ENABLED",
    "numpy_reference",
    "active",
    "prepare",
    "finish",
    "ndtr",
    "erfcx",
    "fourier_total_variance",
    "atm_total_variance",
    "spx_option_fourier",
    "spx_option_ssvi",
    "strike_for_delta_fourier",
    "strike_for_delta_ssvi",
    "black_scholes",
    "ln_otm_call",
    "implied_stdev",
    "vix_call",
    "vix_futures",
    "strike_index",
    "locate_guide",
    "borrow",
]

#: Use the compiled kernels (``False``: the numpy reference everywhere).
ENABLED = not NUMPY_REFERENCE


def active() -> bool:
    """Whether the compiled kernels are in use now."""
    return ENABLED


@contextlib.contextmanager
def numpy_reference(on: bool = True):
    """Run the enclosed code on the numpy reference (``on=True``) or on the kernels (``on=False``)."""
    global ENABLED
    old = ENABLED
    ENABLED = not on
    try:
        yield
    finally:
        ENABLED = old


def finish(out, shape):
    """A kernel's (rows, cols) output in the broadcast ``shape`` of :func:`prepare` (a numpy scalar for ``()``)."""
    if len(shape) == 2:
        return out
    if len(shape) == 1:
        return out[0]
    return out[0, 0]


def prepare(*arrays):
    """2-D views of ``arrays`` for a kernel, the kernel's output size and the result's shape.

    Parameters
    ----------
    *arrays : ndarray
        Each of 0, 1 or 2 dimensions.

    Returns
    -------
    tuple or None
        ``(views, rows, cols, shape)``: each array as a 2-D view (a 1-D array is one row), the
        broadcast 2-D size and the numpy broadcast shape of the inputs; ``None`` where a kernel
        does not apply (more than 2 dimensions, an empty array, shapes that do not broadcast),
        in which case the caller runs the numpy reference.
    """
    nd = 0
    rows = cols = 1
    views = []
    for a in arrays:
        sh = a.shape
        if len(sh) == 1:
            r, c = 1, sh[0]
            a = a.reshape(1, c)
            if nd == 0:
                nd = 1
        elif len(sh) == 2:
            r, c = sh
            nd = 2
        elif len(sh) == 0:
            r = c = 1
            a = a.reshape(1, 1)
        else:
            return None
        if r != 1:
            if rows == 1:
                rows = r
            elif r != rows:
                return None
        if c != 1:
            if cols == 1:
                cols = c
            elif c != cols:
                return None
        if r == 0 or c == 0:
            return None
        views.append(a)
    shape = (rows, cols) if nd == 2 else ((cols,) if nd == 1 else ())
    return views, rows, cols, shape


# ================================================================================================
# signatures
# ================================================================================================

_F1 = types.Array(types.float64, 1, "A", readonly=True)
_F2 = types.Array(types.float64, 2, "A", readonly=True)
_F3 = types.Array(types.float64, 3, "A", readonly=True)
_F4 = types.Array(types.float64, 4, "A", readonly=True)
_I1 = types.Array(types.int64, 1, "A", readonly=True)
_I2 = types.Array(types.int64, 2, "A", readonly=True)
_B2 = types.Array(types.boolean, 2, "A", readonly=True)
_OUT = types.Array(types.float64, 2, "C")
_OUT_I = types.Array(types.int64, 2, "C")
_f8, _i8, _b1 = types.float64, types.int64, types.boolean


def _jit(*sig):
    """``numba.njit`` with numpy's floating-point error model (``1/0 = inf``, no exceptions), cached."""
    return numba.njit(*sig, cache=True, error_model="numpy", nogil=True)


@intrinsic
def borrow(typingctx, arr):
    """A view of ``arr`` (same data, shape and strides) that carries no reference count, for use
    inside a compiled kernel while ``arr`` itself stays alive (a kernel argument, say).

    numba reference-counts every array it hands to a function call, with an atomic increment and
    decrement of the array's memory block per call; in the strategy engine, whose helpers take the
    pricing tables as arrays, those atomics measured over half of the kernel's time (``perf``). A
    view without a memory block (``meminfo`` NULL, as numba's ``carray`` makes) makes them no-ops.
    The caller guarantees the lifetime: never return a borrowed view or keep it past ``arr``.
    """
    if not isinstance(arr, types.Array):
        return None         # typing fails here, not in code generation
    def codegen(context, builder, sig, args):  # noqa: E306
        src = make_array(sig.args[0])(context, builder, value=args[0])
        out = make_array(sig.return_type)(context, builder)
        populate_array(out, data=src.data, shape=src.shape, strides=src.strides, itemsize=src.itemsize,
                       meminfo=None)
        return out._getvalue()
    return arr(arr), codegen


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


# ------------------------------------------------------------------------------------------------
# FourierSurface.total_variance
# ------------------------------------------------------------------------------------------------
# fp: v_shift, x0, sv_step, lt0, lt_step, xi0, xi_step, z_scale, kappa, theta, c_jump, n_v, n_t, n_i

#: Length of the Fourier surface's parameter vector ``fp`` (:meth:`alvh.surface.FourierSurface._fast_tables`).
FOURIER_PARAMS = 14



@_jit()
def _atm_tv(v, tau, fp):
    """``tau (theta + (v - theta) (1 - e^{-kappa tau}) / (kappa tau) + c)``: the Q-expected total variance
    of Heston (``c = 0``), Bates and SVCJ (``c`` the jumps' quadratic variation rate), as
    :func:`alvh.models.heston.expected_average_variance` evaluates it."""
    kappa, theta, c = fp[8], fp[9], fp[10]
    x = kappa * tau
    if x > 1e-8:
        w = -math.expm1(-x) / x
    else:
        w = 1.0 - 0.5 * x
    return tau * ((theta + (v - theta) * w) + c)


@_jit()
def _fourier_state(tau, var, wref, use_wref, var_nodes, atm, fp):
    """The part of :func:`_fourier_w` that does not depend on ``k`` (finite ``tau > 0`` and ``var``).

    Returns the flat row ``r0 = iv n_t + it`` of the lower (variance, maturity) node, the weights
    ``gv`` (variance, in ``x``) and ``gt``, ``ht = 1 - gt`` (maturity), the ATM total variance and
    ``z_scale sqrt(w_atm)``.
    """
    v_shift, x0, sv_step, lt0, lt_step, z_scale = fp[0], fp[1], fp[2], fp[3], fp[4], fp[7]
    n_v, n_t = int(fp[11]), int(fp[12])
    v = max(var, 0.0)
    xv = (math.sqrt(math.sqrt(v + v_shift)) - x0) / sv_step
    iv = int(min(xv, n_v - 2.0))
    gv = min(xv - iv, 1.0)
    v_lo = var_nodes[iv]
    hv = min((v - v_lo) / (var_nodes[iv + 1] - v_lo), 1.0)
    xt = min(max((math.log(tau) - lt0) / lt_step, 0.0), n_t - 1.0)
    it = min(int(xt), n_t - 2)
    gt = xt - it
    ht = 1.0 - gt
    r0 = iv * n_t + it
    r1 = r0 + n_t
    lo = ht * atm[r0] + gt * atm[r0 + 1]
    hi = ht * atm[r1] + gt * atm[r1 + 1]
    w_ref = wref if use_wref else _atm_tv(v, tau, fp)
    w_atm = w_ref * (lo + hv * (hi - lo))
    return r0, gv, gt, ht, w_atm, z_scale * math.sqrt(w_atm)


@_jit()
def _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp):
    """``w`` at log-moneyness ``k`` given :func:`_fourier_state`: the blended cubic in ``xi``.

    ``coef`` is the surface's ``_coef_t`` transposed, shape (n_v n_t n_i, 4), so that the four
    coefficients of one interval share a cache line.
    """
    xi0, xi_step = fp[5], fp[6]
    n_t, n_i = int(fp[12]), int(fp[13])
    xz = (math.asinh(k / den) - xi0) / xi_step
    missing = xz != xz
    if missing:
        xz = 0.0
    iz = int(min(max(xz, 0.0), n_i - 1.0))
    t = xz - iz
    b00 = r0 * n_i + iz
    b01 = b00 + n_i
    b10 = b00 + n_t * n_i
    b11 = b10 + n_i
    hv_ = 1.0 - gv
    w00, w01, w10, w11 = hv_ * ht, hv_ * gt, gv * ht, gv * gt
    c0 = w00 * coef[b00, 0] + w01 * coef[b01, 0] + w10 * coef[b10, 0] + w11 * coef[b11, 0]
    c1 = w00 * coef[b00, 1] + w01 * coef[b01, 1] + w10 * coef[b10, 1] + w11 * coef[b11, 1]
    c2 = w00 * coef[b00, 2] + w01 * coef[b01, 2] + w10 * coef[b10, 2] + w11 * coef[b11, 2]
    c3 = w00 * coef[b00, 3] + w01 * coef[b01, 3] + w10 * coef[b10, 3] + w11 * coef[b11, 3]
    tc = min(max(t, 0.0), 1.0)
    mm = c0 + tc * (c1 + tc * (c2 + tc * c3))
    if t < 0.0 or t > 1.0:       # beyond z_range: linear in xi, non-decreasing outward
        d = c1 + tc * (2.0 * c2 + 3.0 * tc * c3)
        d = _nmin(d, 0.0) if t < 0.0 else _nmax(d, 0.0)
        mm = mm + d * (t - tc)
    w = mm * w_atm
    if missing:      # single exit (see _locate)
        w = np.nan
    return w


@_jit()
def _fourier_w(k, tau, var, wref, use_wref, var_nodes, atm, coef, fp):
    """One element of :meth:`alvh.surface.FourierSurface.total_variance` (``wref`` used where ``use_wref``)."""
    if not (math.isfinite(k) and math.isfinite(tau) and math.isfinite(var) and tau > 0.0):
        return np.nan
    r0, gv, gt, ht, w_atm, den = _fourier_state(tau, var, wref, use_wref, var_nodes, atm, fp)
    return _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp)


@_jit(_OUT(_F2, _F2, _F2, _F2, _b1, _F1, _F1, _F2, _F1, _i8, _i8))
def fourier_total_variance(k, tau, var, wref, use_wref, var_nodes, atm, coef, fp, rows, cols):
    """:meth:`alvh.surface.FourierSurface.total_variance` on broadcast 2-D inputs; shape (rows, cols)."""
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = _fourier_w(_at(k, i, j), _at(tau, i, j), _at(var, i, j), _at(wref, i, j), use_wref,
                                   var_nodes, atm, coef, fp)
    return out


@_jit(_OUT(_F2, _F2, _F1, _i8, _i8))
def atm_total_variance(var, tau, fp, rows, cols):
    """The model term of the Fourier kernels (:func:`_atm_tv`) on broadcast inputs (``var`` floored at 0)."""
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = _atm_tv(_nmax(_at(var, i, j), 0.0), _at(tau, i, j), fp)
    return out


@_jit(types.UniTuple(_OUT, 2)(_F2, _F2, _F2, _F2, _B2, _F2, _b1, _f8, _f8, _F1, _F1, _F2, _F1, _i8, _i8))
def spx_option_fourier(spot, strike, tau, var, is_call, wref, use_wref, rate, div, var_nodes, atm, coef, fp,
                       rows, cols):
    """:func:`alvh.pricing.spx_option` on a :class:`~alvh.surface.FourierSurface`: price and delta, (rows, cols).

    Column by column; the state part of the surface lookup (:func:`_fourier_state`) and the
    maturity factors are reused while ``(tau, var)`` and ``(spot, tau)`` repeat (the legs of one
    path), which gives the same numbers as recomputing them.
    """
    price = np.empty((rows, cols))
    delta = np.empty((rows, cols))
    t_prev, v_prev, w_prev, s_prev = np.nan, np.nan, np.nan, np.nan
    ok = False
    r0, gv, gt, ht, w_atm, den = 0, 0.0, 0.0, 0.0, 0.0, 0.0
    sqt, fwd, disc, dq = np.nan, np.nan, np.nan, np.nan
    for j in range(cols):
        for i in range(rows):
            sp, kk, tt, vv, wr = _at(spot, i, j), _at(strike, i, j), _at(tau, i, j), _at(var, i, j), _at(wref, i, j)
            if tt != t_prev or vv != v_prev or wr != w_prev:
                t_prev, v_prev, w_prev = tt, vv, wr
                ok = math.isfinite(tt) and math.isfinite(vv) and tt > 0.0
                if ok:
                    r0, gv, gt, ht, w_atm, den = _fourier_state(tt, vv, wr, use_wref, var_nodes, atm, fp)
                s_prev = np.nan
            if sp != s_prev:
                s_prev = sp
                sqt = math.sqrt(tt)
                fwd = sp * math.exp((rate - div) * tt)
                disc = math.exp(-rate * tt)
                dq = math.exp(-div * tt)
            k = math.log(kk / fwd)
            w = _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp) if ok and math.isfinite(k) else np.nan
            price[i, j], delta[i, j] = _bs_pre(kk, math.sqrt(w / tt), _at(is_call, i, j), sqt, fwd, disc, dq)
    return price, delta


# ------------------------------------------------------------------------------------------------
# SSVI smile (alvh.pricing.SpxSmile) at a given ATM total variance
# ------------------------------------------------------------------------------------------------


@_jit()
def _ssvi_w(k, th, rho, eta, gamma):
    """:meth:`alvh.pricing.SpxSmile.total_variance` for one element."""
    phi = eta / (_npow(th, gamma) * _npow(1.0 + th, 1.0 - gamma))
    pk = phi * k
    return 0.5 * th * (1.0 + rho * pk + math.sqrt((pk + rho) * (pk + rho) + 1.0 - rho * rho))


@_jit(types.UniTuple(_OUT, 2)(_F2, _F2, _F2, _F2, _B2, _f8, _f8, _f8, _f8, _f8, _i8, _i8))
def spx_option_ssvi(spot, strike, tau, th, is_call, rate, div, rho, eta, gamma, rows, cols):
    """:func:`alvh.pricing.spx_option` on an :class:`~alvh.surface.SsviSurface` given its ATM total
    variance ``th`` (the strip-matched ``theta_t`` of each element); price and delta. Maturity
    factors reused as in :func:`black_scholes`."""
    price = np.empty((rows, cols))
    delta = np.empty((rows, cols))
    s_prev, t_prev = np.nan, np.nan
    sqt, fwd, disc, dq = np.nan, np.nan, np.nan, np.nan
    for j in range(cols):
        for i in range(rows):
            sp, kk, tt = _at(spot, i, j), _at(strike, i, j), _at(tau, i, j)
            if sp != s_prev or tt != t_prev:
                s_prev, t_prev = sp, tt
                sqt = math.sqrt(tt)
                fwd = sp * math.exp((rate - div) * tt)
                disc = math.exp(-rate * tt)
                dq = math.exp(-div * tt)
            w = _ssvi_w(math.log(kk / fwd), _at(th, i, j), rho, eta, gamma)
            price[i, j], delta[i, j] = _bs_pre(kk, math.sqrt(w / tt), _at(is_call, i, j), sqt, fwd, disc, dq)
    return price, delta


# ------------------------------------------------------------------------------------------------
# the root search of strike_for_delta (Fourier and SSVI surfaces)
# ------------------------------------------------------------------------------------------------

#: Halvings of the reference's bisection taken before the switch to regula falsi
#: (:func:`_delta_strike`).
BISECTION_EXACT_STEPS = 16


@_jit()
def _delta_at(m, fwd, fwd_p, sd, tau, is_call, sqt, dq, ssvi, ok, r0, gv, gt, ht, w_atm, den, coef, fp, th, rho, eta,
              gamma):
    """Strike ``fwd e^{m sd}`` and its delta, as one step of the bisection of
    :func:`alvh.pricing.strike_for_delta` computes them (``spx_option`` at that strike): on the SSVI
    smile at ATM total variance ``th`` if ``ssvi``, else on the Fourier surface's state."""
    kk = fwd * math.exp(m * sd)
    k = math.log(kk / fwd_p)
    if ssvi:
        w = _ssvi_w(k, th, rho, eta, gamma)
    elif ok and math.isfinite(k):
        w = _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp)
    else:
        w = np.nan
    return kk, _bs_delta(kk, math.sqrt(w / tau) * sqt, fwd_p, is_call, dq)


@_jit()
def _delta_strike(target, fwd, fwd_p, sd, tau, is_call, sqt, dq, ssvi, ok, r0, gv, gt, ht, w_atm, den, coef, fp, th,
                  rho, eta, gamma):
    """The root search of :func:`alvh.pricing.strike_for_delta` for one path: unrounded strike and delta.

    The reference halves ``[-40, 40]`` (in ATM standard deviations of log-moneyness) 64 times,
    going up where ``d > target``, and returns ``fwd e^{sd (lo + hi) / 2}``. Here the first
    :data:`BISECTION_EXACT_STEPS` halvings are the reference's own (the same points, values and
    decisions). Once both ends of the bracket have been evaluated (``d(lo) > target >= d(hi)``,
    both finite), the crossing inside it is found by regula falsi with the Illinois modification
    (Dowell & Jarratt 1971, BIT 11), which keeps the bracket and converges superlinearly down to
    a few ulp: about 10 evaluations instead of the reference's remaining 48 halvings, whose end
    point is the same crossing to a few ulp (the strike agrees to ~1e-15 relative before it is
    rounded to the tick; tests/test_fastprice.py). Where the bracket is not established after
    those steps (a target out of reach, NaN states) or a NaN appears, the remaining halvings are
    taken exactly as the reference takes them.
    """
    lo, hi = -40.0, 40.0
    d_lo, d_hi = np.nan, np.nan
    step = 0
    while step < BISECTION_EXACT_STEPS and lo != hi:      # a closed bracket (lo == hi) stays closed
        mid = 0.5 * (lo + hi)
        d = _delta_at(mid, fwd, fwd_p, sd, tau, is_call, sqt, dq, ssvi, ok, r0, gv, gt, ht, w_atm, den, coef, fp,
                      th, rho, eta, gamma)[1]
        if d > target:
            lo, d_lo = mid, d
        else:
            hi, d_hi = mid, d
        step += 1
    # Illinois regula falsi on f = d - target, f(a) > 0 >= f(b)
    fast = lo != hi and math.isfinite(d_lo) and math.isfinite(d_hi)
    if fast:
        a, b, fa, fb = lo, hi, d_lo - target, d_hi - target
        side = 0
        for _ in range(64 - BISECTION_EXACT_STEPS):
            if b - a <= max(4.5e-16 * max(abs(a), abs(b)), 1e-17):
                break
            m = (a * fb - b * fa) / (fb - fa)
            if not (a < m < b):
                m = 0.5 * (a + b)
            fm = _delta_at(m, fwd, fwd_p, sd, tau, is_call, sqt, dq, ssvi, ok, r0, gv, gt, ht, w_atm, den, coef, fp,
                           th, rho, eta, gamma)[1] - target
            if not math.isfinite(fm):
                fast = False
                break
            if fm > 0.0:
                a, fa = m, fm
                if side == 1:
                    fb *= 0.5
                side = 1
            else:
                b, fb = m, fm
                if side == -1:
                    fa *= 0.5
                side = -1
        if fast:
            lo, hi = a, b
    if not fast:        # the reference's remaining halvings
        while step < 64 and lo != hi:
            mid = 0.5 * (lo + hi)
            d = _delta_at(mid, fwd, fwd_p, sd, tau, is_call, sqt, dq, ssvi, ok, r0, gv, gt, ht, w_atm, den, coef,
                          fp, th, rho, eta, gamma)[1]
            if d > target:
                lo = mid
            else:
                hi = mid
            step += 1
    return _delta_at(0.5 * (lo + hi), fwd, fwd_p, sd, tau, is_call, sqt, dq, ssvi, ok, r0, gv, gt, ht, w_atm, den,
                     coef, fp, th, rho, eta, gamma)


@_jit(types.UniTuple(_OUT, 2)(_F2, _F2, _F2, _b1, _f8, _f8, _b1, _f8, _f8, _f8, _f8, _f8, _F1, _F1, _F2, _F1,
                              _i8, _i8))
def strike_for_delta_fourier(spot, var, wref, use_wref, tau, target, is_call, e_math, e_np, sqt, disc, dq,
                             var_nodes, atm, coef, fp, rows, cols):
    """:func:`alvh.pricing.strike_for_delta` on a Fourier surface before rounding: strike and delta.

    ``e_math`` is ``math.exp((r - q) tau)`` (the forward of the bisection), ``e_np``, ``sqt``,
    ``disc`` and ``dq`` are numpy's ``exp((r - q) tau)``, ``sqrt(tau)``, ``exp(-r tau)`` and
    ``exp(-q tau)`` (those of the pricing calls). The root search is :func:`_delta_strike`; the
    state part of the surface lookup (:func:`_fourier_state`) is computed once per path (the same
    numbers as recomputing it at every step).
    """
    strike = np.empty((rows, cols))
    delta = np.empty((rows, cols))
    tau_ok = math.isfinite(tau) and tau > 0.0
    for i in range(rows):
        for j in range(cols):
            s, vv, wr = _at(spot, i, j), _at(var, i, j), _at(wref, i, j)
            ok = tau_ok and math.isfinite(vv)
            r0, gv, gt, ht, w_atm, den = 0, 0.0, 0.0, 0.0, 0.0, 0.0
            w0 = np.nan
            if ok:
                r0, gv, gt, ht, w_atm, den = _fourier_state(tau, vv, wr, use_wref, var_nodes, atm, fp)
                w0 = _fourier_smile(0.0, r0, gv, gt, ht, w_atm, den, coef, fp)
            strike[i, j], delta[i, j] = _delta_strike(target, s * e_math, s * e_np, math.sqrt(_nmax(w0, 1e-12)), tau,
                                                      is_call, sqt, dq, False, ok, r0, gv, gt, ht, w_atm, den, coef,
                                                      fp, 0.0, 0.0, 0.0, 0.0)
    return strike, delta


@_jit(types.UniTuple(_OUT, 2)(_F2, _F2, _f8, _f8, _b1, _f8, _f8, _f8, _f8, _f8, _f8, _f8, _f8, _F2, _F1, _i8, _i8))
def strike_for_delta_ssvi(spot, th, tau, target, is_call, e_math, e_np, sqt, disc, dq, rho, eta, gamma, coef, fp,
                          rows, cols):
    """:func:`strike_for_delta_fourier` on an SSVI surface given the ATM total variance ``th``
    (``coef`` and ``fp``: any arrays of their types, unused)."""
    strike = np.empty((rows, cols))
    delta = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            s, t_atm = _at(spot, i, j), _at(th, i, j)
            sd = math.sqrt(_nmax(_ssvi_w(0.0, t_atm, rho, eta, gamma), 1e-12))
            strike[i, j], delta[i, j] = _delta_strike(target, s * e_math, s * e_np, sd, tau, is_call, sqt, dq, True,
                                                      True, 0, 0.0, 0.0, 0.0, 0.0, 0.0, coef, fp, t_atm, rho, eta,
                                                      gamma)
    return strike, delta


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


# ------------------------------------------------------------------------------------------------
# VIX tables (alvh.pricing.VixOptionTable, MarkovVixTable)
# ------------------------------------------------------------------------------------------------


#: Buckets of the guide table of :func:`locate_guide`.
GUIDE_BUCKETS = 4096


def locate_guide(nodes: np.ndarray) -> np.ndarray:
    """Guide table for :func:`_locate`: for each of :data:`GUIDE_BUCKETS` equal buckets of
    ``[nodes[0], nodes[-1]]``, the last node at or below the bucket's left edge (int64, one more
    entry than buckets)."""
    nodes = np.asarray(nodes, dtype=float)
    edges = nodes[0] + (nodes[-1] - nodes[0]) * (np.arange(GUIDE_BUCKETS + 1) / GUIDE_BUCKETS)
    return np.clip(np.searchsorted(nodes, edges, side="right") - 1, 0, nodes.size - 1).astype(np.int64)


@_jit()
def _locate(nodes, guide, x):
    """``_locate`` of the VIX tables: clip to the nodes, ``searchsorted(side="right") - 1`` clipped to
    ``0 .. n - 2``, and the linear weight of the upper node.

    The search starts from the guide table's node for ``x``'s bucket and steps to the exact
    index (usually zero or one step: with random states a binary search's branches are
    mispredicted at every level); NaN gives index ``n - 2`` as numpy sorts NaN last.
    """
    n = nodes.shape[0]
    missing = x != x
    if missing or x < nodes[0]:
        x = nodes[0]
    elif x > nodes[n - 1]:
        x = nodes[n - 1]
    m = guide.shape[0] - 1
    b = int((x - nodes[0]) * (m / (nodes[n - 1] - nodes[0])))
    i = guide[min(max(b, 0), m)]
    while i > 0 and nodes[i] > x:
        i -= 1
    while i < n - 1 and nodes[i + 1] <= x:
        i += 1
    i = min(i, n - 2)
    w = (x - nodes[i]) / (nodes[i + 1] - nodes[i])
    if missing:      # a single exit: an early return here makes the kernels several times slower
        i, w = n - 2, np.nan
    return i, w


@_jit(types.Tuple((_OUT, _i8))(_F2, _F2, _I2, _I2, _I2, _F1, _I1, _F4, _F1, _i8, _i8, _i8))
def vix_call(x, vix, regime, steps, k, nodes, guide, table, strikes, max_steps, rows, cols):
    """VIX call prices from a table of shape (n_regimes, n_nodes, max_steps + 1, n_strikes).

    ``x`` is what the table is interpolated in on ``nodes`` (spot VIX for
    :class:`~alvh.pricing.VixOptionTable`, the variance state for :class:`~alvh.pricing.MarkovVixTable`),
    ``guide`` the nodes' :func:`locate_guide`, ``vix`` the spot VIX (for the intrinsic value at 0
    steps). Returns ``(price, status)``; ``status`` is 0, or 1 where a step is
    outside ``0 .. max_steps``, 2 where a regime or strike index is outside the table (the caller
    then runs the numpy reference, which raises or indexes as numpy does).
    """
    out = np.empty((rows, cols))
    n_r, n_k = table.shape[0], table.shape[3]
    for i in range(rows):
        for j in range(cols):
            s, kk, r = _at(steps, i, j), _at(k, i, j), _at(regime, i, j)
            if s < 0 or s > max_steps:
                return out, 1
            if kk < 0 or kk >= n_k or r < 0 or r >= n_r:
                return out, 2
            if s == 0:
                out[i, j] = _nmax(_at(vix, i, j) - strikes[kk], 0.0)
            else:
                ix, w = _locate(nodes, guide, _at(x, i, j))
                out[i, j] = (1.0 - w) * table[r, ix, s, kk] + w * table[r, ix + 1, s, kk]
    return out, 0


@_jit(types.Tuple((_OUT, _i8))(_F2, _I2, _I2, _F1, _I1, _F3, _i8, _i8, _i8))
def vix_futures(x, regime, steps, nodes, guide, table, max_steps, rows, cols):
    """VIX futures from a table of shape (n_regimes, n_nodes, max_steps + 1); ``status`` as :func:`vix_call`."""
    out = np.empty((rows, cols))
    n_r = table.shape[0]
    for i in range(rows):
        for j in range(cols):
            s, r = _at(steps, i, j), _at(regime, i, j)
            if s < 0 or s > max_steps:
                return out, 1
            if r < 0 or r >= n_r:
                return out, 2
            ix, w = _locate(nodes, guide, _at(x, i, j))
            out[i, j] = (1.0 - w) * table[r, ix, s] + w * table[r, ix + 1, s]
    return out, 0


@_jit(_OUT_I(_F2, _i8, _i8, _i8))
def strike_index(strike, n_strikes, rows, cols):
    """``clip(rint(strike) - 1, 0, n_strikes - 1)`` as intp (NaN gives numpy's cast of NaN)."""
    out = np.empty((rows, cols), dtype=np.int64)
    top = n_strikes - 1.0
    for i in range(rows):
        for j in range(cols):
            v = np.rint(_at(strike, i, j)) - 1.0
            if v != v:
                out[i, j] = _INT_MIN
            else:
                out[i, j] = int(min(max(v, 0.0), top))
    return out
