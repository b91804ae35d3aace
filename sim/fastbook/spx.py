"""Scalar SPX pricing on the Fourier surface for the kernel: the legs of a position, the condor's
vega, and the strike for a delta (the bisection of :func:`alvh.pricing.strike_for_delta` and its
faster grid search :func:`_tick_strike_for_delta`); the shared helpers come from :mod:`alvh.fastprice`."""

from __future__ import annotations

import math

import numpy as np

from alvh.fastbook.base import _jit
from alvh.fastprice import _bs_delta, _bs_pre, _fourier_smile, _nmax, _nmin
from alvh.fastprice import _fourier_state as _fp_fourier_state

_SQRT2PI = math.sqrt(2.0 * math.pi)
#: Grid steps :func:`_tick_strike_for_delta` walks from its estimate before it falls back to the bisection.
_WALK_STEPS = 8
#: First secant step of :func:`_tick_strike_for_delta` from its starting point, in ATM deviations.
_GUESS_STEP = 0.25


@_jit
def _fourier_state(tau, var, var_nodes, atm, fp):
    """:func:`alvh.fastprice._fourier_state` with the model's own ATM total variance (no reference given)."""
    return _fp_fourier_state(tau, var, 0.0, False, var_nodes, atm, fp)


@_jit
def _spx_legs(s, v, tau, strikes, is_call, n_legs, rate, div, var_nodes, atm, coef, fp, price, delta):
    """:func:`alvh.pricing.spx_option` of ``n_legs`` options on one path (same spot, state, maturity)
    into ``price`` and ``delta``."""
    ok = math.isfinite(tau) and math.isfinite(v) and tau > 0.0
    r0, gv, gt, ht, w_atm, den = 0, 0.0, 0.0, 0.0, 0.0, 0.0
    if ok:
        r0, gv, gt, ht, w_atm, den = _fourier_state(tau, v, var_nodes, atm, fp)
    sqt = math.sqrt(tau)
    fwd = s * math.exp((rate - div) * tau)
    disc = math.exp(-rate * tau)
    dq = math.exp(-div * tau)
    for j in range(n_legs):
        kk = strikes[j]
        k = math.log(kk / fwd)
        w = _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp) if ok and math.isfinite(k) else np.nan
        price[j], delta[j] = _bs_pre(kk, math.sqrt(w / tau), is_call[j], sqt, fwd, disc, dq)


@_jit
def _spx_vega_sum(s, v, tau, strikes, sgn, rate, div, var_nodes, atm, coef, fp):
    """``sum_j sgn_j vega_j`` of the condor's legs as :func:`alvh.surface.surface_option` (then
    :func:`alvh.surface.bs_greeks`) computes it: vega per 1.00 of volatility."""
    ok = math.isfinite(tau) and math.isfinite(v) and tau > 0.0
    r0, gv, gt, ht, w_atm, den = 0, 0.0, 0.0, 0.0, 0.0, 0.0
    if ok:
        r0, gv, gt, ht, w_atm, den = _fourier_state(tau, v, var_nodes, atm, fp)
    fwd = s * math.exp((rate - div) * tau)
    sq = math.sqrt(tau)
    dq = math.exp(-div * tau)
    acc = 0.0
    for j in range(4):
        kk = strikes[j]
        k = math.log(kk / fwd)
        w = _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp) if ok and math.isfinite(k) else np.nan
        vol = math.sqrt(w / tau)
        sd = vol * sq
        d1 = (math.log(fwd / kk) + 0.5 * sd * sd) / sd
        pdf = math.exp(-0.5 * d1 * d1) / _SQRT2PI
        vega = s * dq * pdf * sq
        if j == 0:
            acc = sgn[j] * vega
        else:
            acc = acc + sgn[j] * vega
    return acc


@_jit
def _strike_for_delta(s, v, tau, target, is_call, consts, var_nodes, atm, coef, fp):
    """The bisection of :func:`alvh.pricing.strike_for_delta` on one path: the unrounded strike and
    its delta. ``consts`` = ``(math.exp((r - q) tau), np.exp((r - q) tau), sqrt(tau), exp(-r tau),
    exp(-q tau))`` (:func:`alvh.surface._bisection_constants`)."""
    e_math, e_np, sqt, dq = consts[0], consts[1], consts[2], consts[4]
    fwd = s * e_math
    fwd_p = s * e_np
    ok = math.isfinite(tau) and tau > 0.0 and math.isfinite(v)
    r0, gv, gt, ht, w_atm, den = 0, 0.0, 0.0, 0.0, 0.0, 0.0
    if ok:
        r0, gv, gt, ht, w_atm, den = _fourier_state(tau, v, var_nodes, atm, fp)
        w0 = _fourier_smile(0.0, r0, gv, gt, ht, w_atm, den, coef, fp)
    else:
        w0 = np.nan
    sd = math.sqrt(_nmax(w0, 1e-12))
    lo, hi = -40.0, 40.0
    kk, d = np.nan, np.nan
    for step in range(65):
        last = step == 64 or lo == hi
        kk = fwd * math.exp((0.5 * (lo + hi)) * sd)
        k = math.log(kk / fwd_p)
        if ok and math.isfinite(k):
            w = _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp)
        else:
            w = np.nan
        d = _bs_delta(kk, math.sqrt(w / tau) * sqt, fwd_p, is_call, dq)
        if last:
            break
        if d > target:
            lo = 0.5 * (lo + hi)
        else:
            hi = 0.5 * (lo + hi)
    return kk, d


@_jit
def _delta_at(kk, tau, target_is_call, fwd_p, sqt, dq, ok, r0, gv, gt, ht, w_atm, den, coef, fp):
    """The delta the bisection of :func:`_strike_for_delta` computes at strike ``kk``."""
    k = math.log(kk / fwd_p)
    if ok and math.isfinite(k):
        w = _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp)
    else:
        w = np.nan
    return _bs_delta(kk, math.sqrt(w / tau) * sqt, fwd_p, target_is_call, dq)


@_jit
def _flat_smile_guess(target, is_call, sd, dq):
    """Where the delta ``target`` would be on a flat smile at the ATM deviation ``sd`` (total, not
    annualised): ``m`` in ``K = F exp(m sd)``, from ``d1 = -m + sd / 2`` and ``delta = dq N(d1)``
    (call) or ``-dq N(-d1)`` (put); a starting point for the secant of :func:`_tick_strike_for_delta`.

    The normal quantile is Abramowitz & Stegun (1964) eq. 26.2.23 (absolute error < 4.5e-4), ample
    for a starting point. Returns 0 (the money) where ``|target| / dq`` is NaN or outside (0, 1), and
    clips to [-39, 39], inside the bisection's bracket (-40, 40) with room for the first step.
    """
    p = abs(target) / dq
    if not (p > 0.0 and p < 1.0):
        return 0.0
    q = p if p < 0.5 else 1.0 - p
    t = math.sqrt(-2.0 * math.log(q))
    x = t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308)))
    z = -x if p < 0.5 else x            # z = N^{-1}(p)
    d1 = z if is_call else -z
    return _nmin(_nmax(0.5 * sd - d1, -39.0), 39.0)


@_jit
def _grid_walk(tk, target, tau, is_call, fwd_p, sqt, dq, r0, gv, gt, ht, w_atm, den, coef, fp):
    """The grid strike ``T`` (5-point grid) with ``delta(T - 2.5) > target >= delta(T + 2.5)``, found by
    walking from the grid strike ``tk`` one step at a time towards the crossing (one evaluation per
    step: the other end is the last step's); ``(T, True)``, or ``(nan, False)`` after
    :data:`_WALK_STEPS` steps, at a non-positive strike, at NaN, or where delta rises with the strike.
    Deltas are :func:`_delta_at`'s, as the bisection evaluates them, on a finite surface state (the
    caller's ``ok``). The smile is continuous in the strike, so the crossing certified here is where
    the delta reaches the target, as the bisection requires."""
    d_lo = _delta_at(tk - 2.5, tau, is_call, fwd_p, sqt, dq, True, r0, gv, gt, ht, w_atm, den, coef, fp) \
        if tk - 2.5 > 0.0 else np.nan
    d_hi = _delta_at(tk + 2.5, tau, is_call, fwd_p, sqt, dq, True, r0, gv, gt, ht, w_atm, den, coef, fp)
    for step in range(_WALK_STEPS + 1):
        if d_lo != d_lo or d_hi != d_hi or d_hi > d_lo:
            break
        if d_lo > target and not (d_hi > target):
            return tk, True
        if step == _WALK_STEPS:
            break
        if not (d_lo > target):          # the crossing is below T - 2.5
            tk -= 5.0
            d_hi = d_lo
            d_lo = _delta_at(tk - 2.5, tau, is_call, fwd_p, sqt, dq, True, r0, gv, gt, ht, w_atm, den, coef, fp) \
                if tk - 2.5 > 0.0 else np.nan
        else:                            # above T + 2.5
            tk += 5.0
            d_lo = d_hi
            d_hi = _delta_at(tk + 2.5, tau, is_call, fwd_p, sqt, dq, True, r0, gv, gt, ht, w_atm, den, coef, fp)
    return np.nan, False


@_jit
def _tick_strike_for_delta(s, v, tau, target, is_call, consts, var_nodes, atm, coef, fp):
    """:func:`alvh.pricing.strike_for_delta` on one path: ``(strike on the 5-point grid, ok)``; ``ok``
    is False where the delta cannot be reached (the numpy code raises).

    The 64-step bisection (:func:`_strike_for_delta`) costs 65 surface evaluations. Its result is
    only used rounded to the 5-point grid, so a bracketed secant iteration, started where the target
    delta would be on a flat smile (:func:`_flat_smile_guess`), runs until its step is under one grid
    step; the grid strike ``T`` nearest its estimate is then certified by the sign of
    ``delta - target`` at ``T - 2.5`` and ``T + 2.5``, evaluated exactly as the bisection evaluates
    it, walking one grid step at a time where the crossing lies outside (:func:`_grid_walk`): delta
    falls with the strike, so the bisection's crossing lies in ``(T - 2.5, T + 2.5]`` and rounds to
    ``T``. About 5 evaluations in all (10.5 before the starting point and the walk, on the bench
    scenario's condor strikes). Wherever the secant or the walk fails, the bisection itself runs.
    """
    e_math, e_np, sqt, dq = consts[0], consts[1], consts[2], consts[4]
    fwd = s * e_math
    fwd_p = s * e_np
    ok = math.isfinite(tau) and tau > 0.0 and math.isfinite(v)
    if ok:
        r0, gv, gt, ht, w_atm, den = _fourier_state(tau, v, var_nodes, atm, fp)
        w0 = _fourier_smile(0.0, r0, gv, gt, ht, w_atm, den, coef, fp)
        sd = math.sqrt(_nmax(w0, 1e-12))
        lo, hi = -40.0, 40.0
        m0 = _flat_smile_guess(target, is_call, sd, dq)
        f0 = _delta_at(fwd * math.exp(m0 * sd), tau, is_call, fwd_p, sqt, dq, ok, r0, gv, gt, ht, w_atm, den, coef,
                       fp) - target
        good = f0 == f0
        if f0 > 0.0:
            lo = m0
            m1 = m0 + _GUESS_STEP
        else:
            hi = m0
            m1 = m0 - _GUESS_STEP
        f1 = f0
        conv = False
        for _ in range(40):
            if not good:
                break
            f1 = _delta_at(fwd * math.exp(m1 * sd), tau, is_call, fwd_p, sqt, dq, ok, r0, gv, gt, ht, w_atm, den, coef,
                           fp) - target
            if f1 != f1:
                good = False
                break
            if f1 > 0.0:
                lo = max(lo, m1)
            else:
                hi = min(hi, m1)
            m2 = m1 - f1 * (m1 - m0) / (f1 - f0) if f1 != f0 else 0.5 * (lo + hi)
            if not (m2 > lo and m2 < hi):
                m2 = 0.5 * (lo + hi)
            if abs(m2 - m1) * sd < 1e-12:
                conv = abs(f1) <= 1e-7
                break
            # close enough for the walk below: the step moved the estimate by under one grid step (5 points)
            if abs(m2 - m1) * sd * fwd * math.exp(m2 * sd) < 5.0:
                m1 = m2
                conv = True
                break
            m0, f0 = m1, f1
            m1 = m2
        if good and conv:
            tk, found = _grid_walk(np.rint(fwd * math.exp(m1 * sd) / 5.0) * 5.0, target, tau, is_call, fwd_p, sqt, dq,
                                   r0, gv, gt, ht, w_atm, den, coef, fp)
            # only a crossing inside the bisection's range (|m| < 40 deviations) is the one it finds
            if found and tk - 2.5 > fwd * math.exp(-40.0 * sd) and tk + 2.5 < fwd * math.exp(40.0 * sd):
                return tk, True
    kk, d = _strike_for_delta(s, v, tau, target, is_call, consts, var_nodes, atm, coef, fp)
    if abs(d - target) > 1e-6:
        return np.nan, False
    return np.rint(kk / 5.0) * 5.0, True
