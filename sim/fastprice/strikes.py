"""The root search of :func:`alvh.pricing.strike_for_delta` on the Fourier and SSVI surfaces:
the reference's first halvings, then regula falsi inside the bracket (:func:`_delta_strike`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import types

from alvh.fastprice.jit import _F1, _F2, _OUT, _b1, _f8, _i8, _jit
from alvh.fastprice.scalar import _at, _bs_delta, _nmax
from alvh.fastprice.surfaces import _fourier_smile, _fourier_state, _ssvi_w

__all__ = ["BISECTION_EXACT_STEPS", "strike_for_delta_fourier", "strike_for_delta_ssvi"]


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
