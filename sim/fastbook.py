"""Compiled (numba) engine of :func:`alvh.strategy.run_books`: the condor and hedge books path by path.

:func:`alvh.strategy.run_books` is the reference implementation, vectorised over paths with numpy.
Its rules are all per path (the surface and VIX tables are shared read-only), so the same day-by-day
logic runs here as one scalar loop per path (``for p: for t: condor; for each hedge: for each
layer``) in one compiled kernel that writes straight into the preallocated arrays of the
:class:`~alvh.strategy.BookResult`. The arithmetic follows the numpy engine operation by operation
(the same order of additions, the same formulas), so the two agree to round-off
(tests/test_fastbook.py checks 1e-10 relative on every output array).

What the kernel covers (:func:`supported` says which inputs qualify; anything else runs on the
numpy engine, which :func:`alvh.strategy.run_books` dispatches to):

- the condor: delta strikes (and delta wings), wings in points, profit take, stop, ``close_dte``,
  entry schedule, time shift, margin sizing, costs, settlement at expiry, the last day's marking,
  deltas on measured days;
- hedge books, any number: VIX calls, call spreads, short call spreads, futures and SPX put
  spreads; strike rules ``otm``, ``breakeven`` and ``delta`` (SPX smile delta, or the Black-76
  delta of a VIX call from the table price); triggers
  ``always``, ``vix_above``, ``vix_sustained``, ``condor_decay``; sizing ``budget``, ``bands`` and
  ``vega``; exit multiple, RSI exit (:func:`alvh.strategy.wilder_rsi`, computed by numpy before the
  kernel), rolls, settlement, both caps, ``stagger_days``, capital, active share, deltas;
- a single regime (``regime=None``), the model's Fourier surface (:class:`alvh.surface.FourierSurface`
  whose Q-expected variance is the Heston/Bates/SVCJ closed form) and a
  :class:`alvh.pricing.VixOptionTable`.

Not covered (numpy engine): ``trace=True``, regimes (:class:`~alvh.pricing.MarkovVixTable`) and the SSVI
surface.

The scalar Black-Scholes, normal CDF, ATM-variance and Fourier-surface helpers are those of
:mod:`alvh.fastprice` (one implementation for both compiled layers).

``ALVH_NUMPY_REFERENCE=1`` in the environment sends :func:`alvh.strategy.run_books` to the numpy
engine.
"""

from __future__ import annotations

import contextlib
import math
import threading

import numpy as np

try:  # numba is optional: without it everything runs on the numpy engine
    import numba
    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    numba = None
    _HAVE_NUMBA = False

from alvh.fastprice import (_atm_tv, _bs_delta, _bs_pre, _fourier_smile, _implied_stdev, _nmax, _nmin,  # noqa: E402
                           _npow, borrow, ndtr)
from alvh.fastprice import _fourier_state as _fp_fourier_state  # noqa: E402
from alvh.strategy import INSTRUMENTS, SIZINGS, STRIKE_RULES, TRIGGERS  # noqa: E402  (the one vocabulary)
from alvh.strategy import SPX_MIN_STRIKE as _SPX_MIN_STRIKE  # noqa: E402

__all__ = ["supported", "run_books_compiled", "numpy_engine", "drawdown_and_worst_day"]

_LOCAL = threading.local()


@contextlib.contextmanager
def numpy_engine(on: bool = True):
    """Within this block (this thread), :func:`supported` says no: :func:`alvh.strategy.run_books` runs
    its numpy engine (the reference)."""
    prev = getattr(_LOCAL, "off", False)
    _LOCAL.off = bool(on)
    try:
        yield
    finally:
        _LOCAL.off = prev

# integer codes of the packed layer specs: a name's position in the one vocabulary of alvh.strategy
# (the kernel reads them as literals: instrument 2 future, 3 short call spread, 4 SPX put spread;
# strike rule 1 delta, 2 breakeven; trigger 1 vix_above, 2 vix_sustained, 3 condor_decay; sizing 1
# vega, 2 bands; the engine-equality tests fail if the vocabulary is reordered)
_INSTRUMENTS = {name: code for code, name in enumerate(INSTRUMENTS)}
_STRIKE_RULES = {name: code for code, name in enumerate(STRIKE_RULES)}
_TRIGGERS = {name: code for code, name in enumerate(TRIGGERS)}
_SIZINGS = {name: code for code, name in enumerate(SIZINGS)}
_GUIDE_BUCKETS = 4096


def _jit(f):
    return numba.njit(cache=True, error_model="numpy", nogil=True)(f) if _HAVE_NUMBA else f


_SQRT2PI = math.sqrt(2.0 * math.pi)
#: Grid steps :func:`_tick_strike_for_delta` walks from its estimate before it falls back to the bisection.
_WALK_STEPS = 8
#: First secant step of :func:`_tick_strike_for_delta` from its starting point, in ATM deviations.
_GUESS_STEP = 0.25


# ================================================================================================
# scalar pricing (the shared helpers come from alvh.fastprice)
# ================================================================================================


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


@_jit
def _locate(nodes, guide, x):
    """``_locate`` of :class:`alvh.pricing.VixOptionTable`: clip, ``searchsorted(right) - 1`` clipped to
    ``0 .. n - 2``, and the weight of the upper node (NaN: index ``n - 2``, weight NaN)."""
    n = nodes.shape[0]
    if x != x:
        return n - 2, np.nan
    if x < nodes[0]:
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
    return i, (x - nodes[i]) / (nodes[i + 1] - nodes[i])


@_jit
def _vix_call(x, s, k, nodes, guide, calls, strikes):
    """:meth:`alvh.pricing.VixOptionTable.call` for spot VIX ``x``, ``s`` steps, strike index ``k``.

    ``calls`` is the table transposed to (steps, strikes, nodes), so that the two nodes of one
    lookup share a cache line (:func:`_table_args`)."""
    if s == 0:
        return _nmax(x - strikes[k], 0.0)
    i, w = _locate(nodes, guide, x)
    return (1.0 - w) * calls[s, k, i] + w * calls[s, k, i + 1]


@_jit
def _vix_call_delta(x, s, j, fut, tau, rate, nodes, guide, calls, strikes):
    """``_black76_call_delta`` of :mod:`alvh.strategy` for the table's call of strike index ``j``: the
    Black-76 call delta ``N(d1)`` on the future (Black 1976, J. Financial Economics 3) from the
    implied total deviation of the table price; where none exists, 1 below the future and 0 above
    (as the numpy engine maps NaN)."""
    kk = strikes[j]
    c = _vix_call(x, s, j, nodes, guide, calls, strikes) * math.exp(rate * tau) / fut
    k = math.log(kk / fut)
    otm = c if k >= 0.0 else c - 1.0 + math.exp(k)
    sd = _implied_stdev(otm, k, 0.0, False, 1e-10, 100)
    d = ndtr(-k / sd + 0.5 * sd)
    if not math.isfinite(d):
        d = 1.0 if kk < fut else 0.0
    return d


@_jit
def _vix_delta_strike(x, s, target, fut, tau, rate, nodes, guide, calls, strikes):
    """The listed VIX strike whose call delta is nearest ``target`` (``_Hedge.strikes``, rule ``delta``).

    Bisection over the strike indices (the call delta falls as the strike rises), then the nearer of
    the two bracketing strikes (the lower on a tie). The numpy engine bisects all paths together
    until every bracket is one strike wide; its extra passes move ``hi`` onto ``lo`` where the delta
    at ``lo`` is at or below the target, which the early return here reproduces.
    """
    lo = 0
    hi = strikes.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _vix_call_delta(x, s, mid, fut, tau, rate, nodes, guide, calls, strikes) > target:
            lo = mid
        else:
            hi = mid
    d_lo = _vix_call_delta(x, s, lo, fut, tau, rate, nodes, guide, calls, strikes)
    if d_lo <= target:
        return strikes[lo]
    d_hi = _vix_call_delta(x, s, hi, fut, tau, rate, nodes, guide, calls, strikes)
    return strikes[lo] if abs(d_lo - target) <= abs(d_hi - target) else strikes[hi]


@_jit
def _vix_future(x, s, nodes, guide, futs):
    i, w = _locate(nodes, guide, x)
    return (1.0 - w) * futs[s, i] + w * futs[s, i + 1]


@_jit
def _strike_index(k, n_strikes):
    v = np.rint(k) - 1.0
    return int(min(max(v, 0.0), n_strikes - 1.0))


@_jit
def _half_spread_sum(legs, n_legs, x, vix_ref, cost):
    """``(half_spread(legs) * multiplier).sum(axis=0)`` of :class:`alvh.costs.InstrumentCosts`;
    ``cost`` = (multiplier, min_half_spread, rel_half_spread, vix_elasticity, commission, max_half_spread)."""
    scale = _npow(_nmax(x, 1e-6) / vix_ref, cost[3])
    acc = 0.0
    for j in range(n_legs):
        raw = (cost[1] + cost[2] * abs(legs[j])) * scale
        hs = _nmin(raw, cost[5]) * cost[0]
        acc = hs if j == 0 else acc + hs
    return acc


# ================================================================================================
# the kernel
# ================================================================================================


@_jit
def _vix_layer_value(inst, x, rem, k1, k2, nodes, guide, futs, calls, strikes, legs):
    """``_Hedge._vix_value``: the value per unit and the legs (into ``legs``; returns n_legs)."""
    if inst == 2:
        f = _vix_future(x, rem, nodes, guide, futs)
        legs[0] = f
        return f, 1
    n_k = strikes.shape[0]
    c1 = _vix_call(x, rem, _strike_index(k1, n_k), nodes, guide, calls, strikes)
    legs[0] = c1
    if inst == 0:
        return c1, 1
    c2 = _vix_call(x, rem, _strike_index(k2, n_k), nodes, guide, calls, strikes)
    legs[1] = c2
    val = c1 - c2
    return (-val if inst == 3 else val), 2


@_jit
def _kernel(spot, var, vix, measure, rsi, dt, rate, div, cap, beta, vix_ref, costs,
            var_nodes, atm, coef, fp,
            nodes, guide, futs, calls, strikes,
            cf, ci, c_consts,
            hf, hi_, lf, li, bands, l_consts,
            # condor outputs
            condor_pnl, condor_delta, leg_pnl, c_spread, c_comm, c_credit_sum, n_condors, n_takes, n_stops, n_dte,
            contracts_sum, c_peak,
            # hedge outputs
            h_pnl, h_delta, h_layer_pnl, h_prem, h_payoff, h_spread, h_comm, h_active, h_peak, h_nent, h_ncap,
            # scratch: float (8, 4) and bool (2, 4), owned by the caller
            scratch, flags):
    """Run every path; returns 0, or ``1 + path`` where a delta strike could not be reached (the caller
    then runs the numpy engine, which raises)."""
    n, t_len = spot.shape
    n_steps = t_len - 1
    n_h = hi_.shape[0]
    l_max = max(lf.shape[1], 1)
    # every array handed to a helper as a borrowed view (alvh.fastprice.borrow): no atomic reference
    # counting per call; the arguments outlive the kernel, the scratch rows are views of `scratch`
    costs, c_consts, l_consts = borrow(costs), borrow(c_consts), borrow(l_consts)
    var_nodes, atm, coef, fp = borrow(var_nodes), borrow(atm), borrow(coef), borrow(fp)
    nodes, guide, futs, calls, strikes = borrow(nodes), borrow(guide), borrow(futs), borrow(calls), borrow(strikes)
    # condor constants
    short_delta, wing_width, wing_delta, profit_take, stop_mult = cf[0], cf[1], cf[2], cf[3], cf[4]
    margin_fraction, ts_vix = cf[5], cf[6]
    c_steps, c_steps_shift, close_steps, interval, time_shift = ci[0], ci[1], ci[2], ci[3], ci[4]
    rc = cap * margin_fraction
    spx_cost = costs[0]
    sgn = borrow(scratch[0])
    c_strikes = borrow(scratch[1])
    c_legs = borrow(scratch[2])
    legs = borrow(scratch[3])
    dlt = borrow(scratch[4])
    new_strikes = borrow(scratch[5])
    lg2 = borrow(scratch[6])
    k2buf = borrow(scratch[7])
    c_is_call = borrow(flags[0])
    put2 = borrow(flags[1])
    for j in range(4):
        sgn[j] = -1.0 if j == 0 or j == 3 else 1.0
        c_is_call[j] = j >= 2
        put2[j] = False
        for r in range(1, 8):
            scratch[r, j] = 0.0
    open_ = np.zeros((n_h, l_max), dtype=np.bool_)
    k1a = np.zeros((n_h, l_max))
    k2a = np.zeros((n_h, l_max))
    qty = np.zeros((n_h, l_max))
    mark = np.zeros((n_h, l_max))
    entry = np.zeros((n_h, l_max))
    capital = np.zeros((n_h, l_max))
    expiry = np.zeros((n_h, l_max), dtype=np.int64)
    runlen = np.zeros((n_h, l_max), dtype=np.int64)
    last_entry = np.zeros(n_h, dtype=np.int64)
    exited = np.zeros(l_max, dtype=np.bool_)
    rolled = np.zeros(l_max, dtype=np.bool_)
    for p in range(n):
        c_open = False
        c_expiry = 0
        c_credit = 0.0
        c_mark = 0.0
        c_qty = 0.0
        c_margin = 0.0
        c_delta = np.nan
        for j in range(4):
            c_strikes[j] = 0.0
            c_legs[j] = 0.0
        for h in range(n_h):
            last_entry[h] = -(10**9)
            for i in range(l_max):
                open_[h, i] = False
                k1a[h, i] = 0.0
                k2a[h, i] = 0.0
                qty[h, i] = 0.0
                mark[h, i] = 0.0
                entry[h, i] = 0.0
                capital[h, i] = 0.0
                expiry[h, i] = 0
                runlen[h, i] = 0
        for t in range(t_len):
            s = spot[p, t]
            v = var[p, t]
            x = vix[p, t]
            last = t == n_steps
            decay = -np.inf
            # ---------------- condor: mark, settle, exits
            if c_open:
                rem = c_expiry - t
                expiring = rem <= 0
                if expiring:
                    for j in range(4):
                        if c_is_call[j]:
                            legs[j] = _nmax(s - c_strikes[j], 0.0)
                        else:
                            legs[j] = _nmax(c_strikes[j] - s, 0.0)
                    delta = np.nan
                else:
                    _spx_legs(s, v, rem * dt, c_strikes, c_is_call, 4, rate, div, var_nodes, atm, coef, fp, legs, dlt)
                    delta = -((((sgn[0] * dlt[0]) + sgn[1] * dlt[1]) + sgn[2] * dlt[2]) + sgn[3] * dlt[3])
                value = (((sgn[0] * legs[0]) + sgn[1] * legs[1]) + sgn[2] * legs[2]) + sgn[3] * legs[3]
                q = c_qty
                for j in range(4):
                    leg_pnl[j, p] -= sgn[j] * (legs[j] - c_legs[j]) * q * 100.0
                condor_pnl[p, t] -= (value - c_mark) * q * 100.0
                c_mark = value
                for j in range(4):
                    c_legs[j] = legs[j]
                c_delta = delta
                decay = 1.0 - value / c_credit if c_credit > 0 else 0.0
                live_trade = (not expiring) and (not last)
                take = live_trade and (value <= (1.0 - profit_take) * c_credit)
                stop = live_trade and (not take) and (value >= stop_mult * c_credit)
                at_dte = live_trade and (not take) and (not stop) and (rem <= close_steps)
                if take or stop or at_dte:
                    sp = _half_spread_sum(legs, 4, x, vix_ref, spx_cost) * q
                    cm = 4 * spx_cost[4] * q
                    condor_pnl[p, t] -= sp + cm
                    c_spread[p] += sp
                    c_comm[p] += cm
                if take:
                    n_takes[p] += 1
                if stop:
                    n_stops[p] += 1
                if at_dte:
                    n_dte[p] += 1
                if take or stop or at_dte or expiring:
                    c_open = False
                    c_mark = 0.0
                    c_margin = 0.0
                    for j in range(4):
                        c_legs[j] = 0.0
                    c_delta = np.nan
            # ---------------- condor: entries on the schedule
            if (not last) and t % interval == 0 and not c_open:
                shifted = False
                if time_shift != 0 and c_steps_shift > c_steps:
                    shifted = x > ts_vix
                steps = c_steps_shift if shifted else c_steps
                cc = c_consts[1] if shifted else c_consts[0]
                tau = steps * dt
                kp, okd = _tick_strike_for_delta(s, v, tau, -short_delta, False, cc, var_nodes, atm, coef, fp)
                if not okd:
                    return 1 + p
                kc, okd = _tick_strike_for_delta(s, v, tau, short_delta, True, cc, var_nodes, atm, coef, fp)
                if not okd:
                    return 1 + p
                if wing_delta > 0:
                    kpl, okd = _tick_strike_for_delta(s, v, tau, -wing_delta, False, cc, var_nodes, atm, coef, fp)
                    if not okd:
                        return 1 + p
                    kcl, okd = _tick_strike_for_delta(s, v, tau, wing_delta, True, cc, var_nodes, atm, coef, fp)
                    if not okd:
                        return 1 + p
                    kpl = _nmin(kpl, kp - 5.0)
                    kcl = _nmax(kcl, kc + 5.0)
                else:
                    kpl = kp - wing_width
                    kcl = kc + wing_width
                new_strikes[0] = kpl
                new_strikes[1] = kp
                new_strikes[2] = kc
                new_strikes[3] = kcl
                _spx_legs(s, v, tau, new_strikes, c_is_call, 4, rate, div, var_nodes, atm, coef, fp, legs, dlt)
                value = (((sgn[0] * legs[0]) + sgn[1] * legs[1]) + sgn[2] * legs[2]) + sgn[3] * legs[3]
                delta = -((((sgn[0] * dlt[0]) + sgn[1] * dlt[1]) + sgn[2] * dlt[2]) + sgn[3] * dlt[3])
                width = _nmax(kp - kpl, kcl - kc)
                margin = _nmax(width - value, 0.0) * 100.0
                ok = (value > 0.0) and (margin > 0.0)
                q = math.floor(margin_fraction * cap / margin) if ok else 0.0
                ok = ok and q >= 1.0
                if ok:
                    c_open = True
                    for j in range(4):
                        c_strikes[j] = new_strikes[j]
                        c_legs[j] = legs[j]
                    c_expiry = t + steps
                    c_credit = value
                    c_mark = value
                    c_delta = delta
                    c_qty = q
                    c_margin = margin * q
                    contracts_sum[p] += q
                    c_credit_sum[p] += value * q * 100.0
                    sp = _half_spread_sum(legs, 4, x, vix_ref, spx_cost) * q
                    cm = 4 * spx_cost[4] * q
                    condor_pnl[p, t] -= sp + cm
                    c_spread[p] += sp
                    c_comm[p] += cm
                    n_condors[p] += 1
            c_peak[p] = _nmax(c_peak[p], c_margin)
            if measure[t] and c_open:
                condor_delta[p, t] = c_delta
            # ---------------- hedge books
            breakeven = c_strikes[1] - c_credit
            for h in range(n_h):
                n_l = hi_[h, 0]
                stagger = hi_[h, 1]
                rsi_ix = hi_[h, 2]
                n_b = hi_[h, 3]
                deepest = hi_[h, 4]
                budget, vega_ratio, exit_mult, rsi_exit = hf[h, 0], hf[h, 1], hf[h, 2], hf[h, 3]
                deep_cap, share_cap, fut_frac, min_price = hf[h, 4], hf[h, 5], hf[h, 6], hf[h, 7]
                block = False
                if rsi_ix >= 0:
                    r = rsi[rsi_ix, p, t]
                    block = math.isfinite(r) and r < rsi_exit
                for i in range(n_l):
                    if li[h, i, 2] == 2:      # vix_sustained: run length of VIX >= level
                        runlen[h, i] = runlen[h, i] + 1 if x >= lf[h, i, 4] else 0
                    exited[i] = False
                    rolled[i] = False
                # -- marks, settlements, exits
                for i in range(n_l):
                    if not open_[h, i]:
                        continue
                    inst = li[h, i, 0]
                    cost = costs[li[h, i, 8]]
                    mult = lf[h, i, 6]
                    rem = expiry[h, i] - t
                    remc = max(rem, 0)
                    if inst == 4:
                        k2buf[0] = k1a[h, i]
                        k2buf[1] = k2a[h, i]
                        if remc > 0:
                            _spx_legs(s, v, remc * dt, k2buf, put2, 2, rate, div, var_nodes, atm, coef, fp, lg2, dlt)
                        else:
                            lg2[0] = _nmax(k2buf[0] - s, 0.0)
                            lg2[1] = _nmax(k2buf[1] - s, 0.0)
                        val = lg2[0] - lg2[1]
                        n_lg = 2
                    else:
                        val, n_lg = _vix_layer_value(inst, x, remc, k1a[h, i], k2a[h, i], nodes, guide, futs, calls,
                                                     strikes, lg2)
                    q = qty[h, i]
                    move = (val - mark[h, i]) * q * mult
                    h_pnl[h, p, t] += move
                    h_layer_pnl[h, i, p] += move
                    mark[h, i] = val
                    settle = rem <= 0
                    roll = (not settle) and rem <= li[h, i, 5]
                    mult_exit = False
                    if exit_mult > 0 and inst != 2:
                        if inst == 3:
                            mult_exit = -val >= exit_mult * -entry[h, i]
                        else:
                            mult_exit = val >= exit_mult * entry[h, i]
                    mult_exit = mult_exit and (not settle) and (not roll)
                    rsi_out = (not settle) and (not roll) and (not mult_exit) and block
                    sell = roll or mult_exit or rsi_out
                    if last:
                        sell = not settle
                    if settle or sell:
                        if inst == 2:
                            h_payoff[h, p] += (val - entry[h, i]) * q * mult
                        else:
                            h_payoff[h, p] += val * q * mult
                    if (not last) and sell:
                        sp = _half_spread_sum(lg2, n_lg, x, vix_ref, cost) * abs(q)
                        cm = n_lg * cost[4] * abs(q)
                        h_pnl[h, p, t] -= sp + cm
                        h_spread[h, p] += sp
                        h_comm[h, p] += cm
                        h_layer_pnl[h, i, p] -= sp + cm
                    if (mult_exit or rsi_out) and not settle:
                        exited[i] = True
                    if roll or settle:
                        rolled[i] = True
                    if settle or sell:
                        open_[h, i] = False
                        mark[h, i] = 0.0
                        capital[h, i] = 0.0
                # -- entries
                if not last:
                    for i in range(n_l):
                        trig_kind = li[h, i, 2]
                        if trig_kind == 0:
                            trig = True
                        elif trig_kind == 1:
                            trig = x >= lf[h, i, 4]
                        elif trig_kind == 2:
                            trig = runlen[h, i] >= li[h, i, 6]
                        else:
                            trig = decay >= lf[h, i, 5]
                        ok = trig and (not open_[h, i]) and (not block) and (not exited[i])
                        if stagger > 0:
                            ok = ok and ((t - last_entry[h]) >= stagger or rolled[i])
                        if not ok:
                            continue
                        inst = li[h, i, 0]
                        rule = li[h, i, 1]
                        sizing = li[h, i, 3]
                        steps = li[h, i, 4]
                        mult = lf[h, i, 6]
                        cost = costs[li[h, i, 8]]
                        # strikes
                        fut = np.nan
                        if inst == 4:
                            if rule == 1:
                                k1, okd = _tick_strike_for_delta(s, v, steps * dt, -lf[h, i, 2], False, l_consts[h, i],
                                                                 var_nodes, atm, coef, fp)
                                if not okd:
                                    return 1 + p
                            else:
                                k1 = np.rint(s * (1.0 - lf[h, i, 1]) / 5.0) * 5.0
                            k2 = max(k1 - lf[h, i, 3], _SPX_MIN_STRIKE)
                        else:
                            fut = _vix_future(x, steps, nodes, guide, futs)
                            if rule == 1:
                                k1 = _vix_delta_strike(x, steps, lf[h, i, 2], fut, steps * dt, rate, nodes, guide,
                                                       calls, strikes)
                            else:
                                k1 = np.rint(fut * (1.0 + lf[h, i, 1]))
                            if rule == 2 and c_open:
                                mapped = x * _npow(_nmax(breakeven, 1e-9) / s, beta)
                                k1 = np.rint(mapped)
                            k1 = _nmin(_nmax(k1, strikes[0]), strikes[strikes.shape[0] - 1])
                            k2 = _nmin(k1 + lf[h, i, 3], strikes[strikes.shape[0] - 1])
                        # price
                        if inst == 4:
                            k2buf[0] = k1
                            k2buf[1] = k2
                            _spx_legs(s, v, steps * dt, k2buf, put2, 2, rate, div, var_nodes, atm, coef, fp, lg2, dlt)
                            price = lg2[0] - lg2[1]
                            n_lg = 2
                        else:
                            price, n_lg = _vix_layer_value(inst, x, steps, k1, k2, nodes, guide, futs, calls,
                                                           strikes, lg2)
                        hold_years = lf[h, i, 7]
                        if inst == 2:
                            unit_cap = fut_frac * price * mult
                        elif inst == 3:
                            unit_cap = (k2 - k1 + price) * mult
                        else:
                            unit_cap = price * mult
                        if sizing == 1:
                            hh = 0.5
                            lo_x = _nmax(x - hh, 0.5)
                            up, _n = _vix_layer_value(inst, x + hh, steps, k1, k2, nodes, guide, futs, calls, strikes,
                                                      legs)
                            dn, _n = _vix_layer_value(inst, lo_x, steps, k1, k2, nodes, guide, futs, calls, strikes,
                                                      legs)
                            dv = (up - dn) / (x + hh - lo_x) * mult
                            vusd = 0.0
                            if c_open:
                                vs = _spx_vega_sum(s, v, max(c_expiry - t, 1) * dt, c_strikes, sgn, rate, div,
                                                   var_nodes, atm, coef, fp)
                                vusd = _nmax(vs, 0.0) * c_qty
                            target = vega_ratio * lf[h, i, 0] * vusd
                            q = target / dv if dv > 1e-12 else 0.0
                        else:
                            if sizing == 2:
                                f = fut if inst != 4 else _vix_future(x, steps, nodes, guide, futs)
                                pct = 0.0
                                for b in range(n_b):
                                    if f >= bands[h, b, 0] and f < bands[h, b, 1]:
                                        pct = bands[h, b, 2]
                            else:
                                pct = budget
                            spend = cap * pct / 100.0 * lf[h, i, 0] * hold_years
                            q = spend / unit_cap if unit_cap > 1e-9 else 0.0
                        q_want = q
                        limit = np.inf
                        if i == deepest:
                            limit = _nmin(limit, deep_cap * rc)
                        others = capital[h, 0]
                        for jj in range(1, n_l):
                            others = others + capital[h, jj]
                        limit = _nmin(limit, _nmax(share_cap * rc - others, 0.0))
                        q = _nmin(q, limit / unit_cap if unit_cap > 1e-9 else 0.0)
                        bound = q < q_want * (1.0 - 1e-12)
                        if inst == 3:
                            tradable = -price >= min_price
                        elif inst == 2:
                            tradable = price > 0.0
                        else:
                            tradable = price >= min_price
                        wanted = tradable and (q_want > 1e-9) and (unit_cap > 1e-9)
                        if wanted and bound and q <= 1e-9:
                            h_ncap[h, i, p] += 1
                        if not (wanted and q > 1e-9):
                            continue
                        k1a[h, i] = k1
                        k2a[h, i] = k2
                        open_[h, i] = True
                        expiry[h, i] = t + steps
                        qty[h, i] = q
                        mark[h, i] = price
                        entry[h, i] = price
                        capital[h, i] = unit_cap * q
                        h_nent[h, i, p] += 1
                        if bound:
                            h_ncap[h, i, p] += 1
                        if not rolled[i]:
                            last_entry[h] = t
                        if inst != 2:
                            h_prem[h, i, p] += price * q * mult
                        sp = _half_spread_sum(lg2, n_lg, x, vix_ref, cost) * abs(q)
                        cm = n_lg * cost[4] * abs(q)
                        h_pnl[h, p, t] -= sp + cm
                        h_spread[h, p] += sp
                        h_comm[h, p] += cm
                        h_layer_pnl[h, i, p] -= sp + cm
                any_open = False
                tot = capital[h, 0]
                for i in range(n_l):
                    if open_[h, i]:
                        any_open = True
                    if i > 0:
                        tot = tot + capital[h, i]
                if any_open:
                    h_active[h, p] += 1.0
                h_peak[h, p] = _nmax(h_peak[h, p], c_margin + tot)
                # -- delta on measured days
                if measure[t] and c_open:
                    d_usd = 0.0
                    for i in range(n_l):
                        if not open_[h, i]:
                            continue
                        inst = li[h, i, 0]
                        remc = max(expiry[h, i] - t, 0)
                        qm = qty[h, i] * lf[h, i, 6]
                        if inst == 4:
                            if remc > 0:
                                k2buf[0] = k1a[h, i]
                                k2buf[1] = k2a[h, i]
                                _spx_legs(s, v, remc * dt, k2buf, put2, 2, rate, div, var_nodes, atm, coef, fp, lg2,
                                          dlt)
                                d_usd += (dlt[0] - dlt[1]) * qm
                        else:
                            hh = 0.5
                            lo_x = _nmax(x - hh, 0.5)
                            up, _n = _vix_layer_value(inst, x + hh, remc, k1a[h, i], k2a[h, i], nodes, guide, futs,
                                                      calls, strikes, legs)
                            dn, _n = _vix_layer_value(inst, lo_x, remc, k1a[h, i], k2a[h, i], nodes, guide, futs,
                                                      calls, strikes, legs)
                            dvdx = (up - dn) / (x + hh - lo_x)
                            dxds = beta * x / s
                            d_usd += dvdx * dxds * qm
                    h_delta[h, p, t] = c_delta + d_usd / (c_qty * 100.0)
    return 0


# ================================================================================================
# Python side
# ================================================================================================


def _numpy_bisection_constants(tau: float, rate: float, div: float) -> np.ndarray:
    t = np.asarray(tau, dtype=float)
    return np.array([math.exp((rate - div) * tau), float(np.exp((rate - div) * t)), float(np.sqrt(t)),
                     float(np.exp(-rate * t)), float(np.exp(-div * t))])


_SURF_CACHE: dict = {}


def _fourier_args(surface):
    """``(var_nodes, atm_flat, coef, params)`` of a FourierSurface for the kernel, or a reason string."""
    from alvh.surface import FourierSurface, _q_variance_coefficients

    if type(surface) is not FourierSurface:
        return f"SPX surface {type(surface).__name__} (only FourierSurface is compiled)"
    if not surface._uses_own_formulas(FourierSurface):
        return "FourierSurface with overridden formulas"
    hit = _SURF_CACHE.get(id(surface))
    if hit is not None and hit[0] is surface:
        return hit[1]
    coeffs = _q_variance_coefficients(surface.pricing_model)
    if coeffs is None:
        return f"no closed-form Q variance for the {surface.pricing_model.name} model"
    n_v, n_t, n_i = surface._shape
    kappa, theta, c = coeffs
    params = np.array([surface._v_shift, surface._x0, surface._sv_step, surface._lt0, surface._lt_step, surface._xi0,
                       surface._xi_step, surface.z_scale, kappa, theta, c, n_v, n_t, n_i], dtype=float)
    # the kernel evaluates the Q-expected variance itself: only where it reproduces the model's
    v = np.concatenate((surface.var_nodes, 0.5 * (surface.var_nodes[:-1] + surface.var_nodes[1:])))
    t = np.concatenate((surface.tau_nodes, [1e-12, 1e-9, 1.0 / 365.0, 2.0]))
    ref = np.asarray(surface.pricing_model.atm_total_variance(v[:, None], t[None, :]), dtype=float)
    mine = np.array([[_atm_tv(a, b, params) for b in t] for a in v])
    if not np.all(np.abs(mine - ref) <= 1e-13 * np.abs(ref)):
        out = "the model's Q-expected variance differs from the closed form"
    else:
        out = (np.ascontiguousarray(surface.var_nodes, dtype=float), np.ascontiguousarray(surface._atm_flat),
               np.ascontiguousarray(surface._coef_t.T), params)
    if len(_SURF_CACHE) > 16:
        _SURF_CACHE.clear()
    _SURF_CACHE[id(surface)] = (surface, out)
    return out


def supported(spot, variance, vix, surface, market, condor, hedges, table, dt, regime=None, measure_days=None,
              trace=False) -> tuple[bool, str]:
    """Whether :func:`run_books_compiled` covers these arguments of :func:`alvh.strategy.run_books`.

    Returns
    -------
    (bool, str)
        ``(True, "")``, or ``(False, reason)``: the numpy engine must run (it also raises every input
        error, so anything malformed is answered "no" here).
    """
    from alvh.costs import Frictions, InstrumentCosts
    from alvh.pricing import VixOptionTable
    from alvh.strategy import CondorSpec, HedgeSpec, MarketSpec, dte_to_steps

    if getattr(_LOCAL, "off", False):
        return False, "the numpy engine was requested (alvh.fastbook.numpy_engine)"
    if not _HAVE_NUMBA:
        return False, "numba is not installed"
    import sys

    fp_mod = sys.modules.get("alvh.fastprice")
    if fp_mod is not None and not getattr(fp_mod, "ENABLED", True):
        return False, "the numpy reference is selected (alvh.fastprice kernels off)"
    if trace:
        return False, "trace=True (the trade log) runs on the numpy engine"
    if regime is not None:
        return False, "regime-switching paths (regime given)"
    if type(market) is not MarketSpec or type(condor) is not CondorSpec:
        return False, "market or condor is not a plain MarketSpec / CondorSpec"
    fr = market.frictions
    if type(fr) is not Frictions or any(type(c) is not InstrumentCosts
                                        for c in (fr.spx_option, fr.vix_option, fr.vix_future)):
        return False, "frictions are not plain Frictions / InstrumentCosts"
    try:
        hedges = tuple(hedges)
    except TypeError:
        return False, "hedges is not a sequence"
    if any(type(h) is not HedgeSpec for h in hedges):
        return False, "a hedge is not a HedgeSpec"
    arrs = []
    for a in (spot, variance, vix):
        if not isinstance(a, np.ndarray) or a.ndim != 2 or a.dtype.kind not in "fiu":
            return False, "spot, variance and vix must be 2-D numeric arrays"
        arrs.append(a)
    if not (arrs[0].shape == arrs[1].shape == arrs[2].shape) or arrs[0].shape[0] == 0 or arrs[0].shape[1] == 0:
        return False, "spot, variance and vix shapes differ (or are empty)"
    t_len = arrs[0].shape[1]
    if measure_days is not None and np.shape(measure_days) != (t_len,):
        return False, "measure_days has the wrong shape"
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        return False, "dt is not a number"
    if not (dt > 0 and math.isfinite(dt)):
        return False, "dt must be > 0"
    spy = 1.0 / dt
    if condor.entry_interval_days < 1:
        return False, "entry_interval_days < 1"
    if not 0.0 < condor.short_delta < 1.0 or (condor.wing_delta > 0 and not condor.wing_delta < 1.0):
        return False, "condor deltas outside (0, 1) (strike_for_delta raises)"
    f = _fourier_args(surface)
    if isinstance(f, str):
        return False, f
    tau_max = surface.tau_max
    c_steps_shift = condor.max_steps(spy)
    spx_steps = [max(dte_to_steps(ly.dte_open, spy), 1) for h in hedges for ly in h.layers if ly.on_spx]
    if max([c_steps_shift] + spx_steps) * dt > tau_max * (1.0 + 1e-9):
        return False, "the SPX surface does not reach the strategies' maturities (numpy raises)"
    needs_table = any(not ly.on_spx or ly.sizing == "bands" for h in hedges for ly in h.layers)
    if needs_table:
        if type(table) is not VixOptionTable:
            return False, f"VIX pricer {type(table).__name__} (only VixOptionTable is compiled)"
    for h in hedges:
        for ly in h.layers:
            o = max(dte_to_steps(ly.dte_open, spy), 1)
            r = dte_to_steps(ly.dte_roll, spy)
            if not r < o:
                return False, f"hedge '{h.name}': roll step not after the entry (numpy raises)"
            if not ly.on_spx and o > table.max_steps:
                return False, f"hedge '{h.name}': the VIX table is too short (numpy raises)"
            if ly.strike_rule == "delta" and not 0.0 < ly.strike_delta < 1.0:
                return False, f"hedge '{h.name}': strike_delta outside (0, 1) (numpy raises)"
            if ly.instrument not in _INSTRUMENTS or ly.strike_rule not in _STRIKE_RULES \
                    or ly.trigger not in _TRIGGERS or ly.sizing not in _SIZINGS:
                return False, f"hedge '{h.name}': unknown rule"
            if ly.trigger == "backwardation":
                return False, f"hedge '{h.name}': the 'backwardation' trigger is not compiled"
        if h.rsi_exit > 0 and h.rsi_period < 1:
            return False, "rsi_period < 1 (numpy raises)"
    return True, ""


_ZERO_RSI = np.zeros((1, 1, 1))
_TABLE_CACHE: dict = {}


def _table_args(table):
    """``(nodes, guide, futures (steps, nodes), calls (steps, strikes, nodes), strikes)`` of a
    VixOptionTable for the kernel, built once per table (placeholders without a table)."""
    if table is None or not hasattr(table, "vix_nodes"):
        return np.array([0.0, 1.0]), np.zeros(2, dtype=np.int64), np.zeros((1, 2)), np.zeros((1, 1, 2)), np.array([1.0])
    hit = _TABLE_CACHE.get(id(table))
    if hit is not None and hit[0] is table and hit[1][2].shape[::-1] == table.futures_table.shape:
        return hit[1]
    nodes = np.ascontiguousarray(table.vix_nodes, dtype=float)
    edges = nodes[0] + (nodes[-1] - nodes[0]) * (np.arange(_GUIDE_BUCKETS + 1) / _GUIDE_BUCKETS)
    guide = np.clip(np.searchsorted(nodes, edges, side="right") - 1, 0, nodes.size - 1).astype(np.int64)
    futs = np.ascontiguousarray(np.asarray(table.futures_table, dtype=float).T)
    calls = np.ascontiguousarray(np.asarray(table.call_table, dtype=float).transpose(1, 2, 0))
    out = (nodes, guide, futs, calls, np.ascontiguousarray(table.strikes, dtype=float))
    if len(_TABLE_CACHE) > 4:
        _TABLE_CACHE.clear()
    _TABLE_CACHE[id(table)] = (table, out)
    return out


def run_books_compiled(spot, variance, vix, surface, market, condor, hedges, table, dt, regime=None,
                       measure_days=None, trace=False):
    """:func:`alvh.strategy.run_books` by the compiled kernel; the same :class:`~alvh.strategy.BookResult`.

    Arguments as :func:`alvh.strategy.run_books`; the caller checks :func:`supported` first (where a
    strike for a delta cannot be reached, the numpy engine is run, and raises as it does).
    """
    from alvh.strategy import BookResult, HedgeResult, dte_to_steps, run_books, wilder_rsi
    from alvh.costs import VIX_FUTURE_MULTIPLIER, SPX_MULTIPLIER

    hedges = tuple(hedges)
    spot = np.ascontiguousarray(spot, dtype=float)
    variance = np.ascontiguousarray(variance, dtype=float)
    vix = np.ascontiguousarray(vix, dtype=float)
    n, t_len = spot.shape
    dt = float(dt)
    spy = 1.0 / dt
    measure = np.zeros(t_len, dtype=np.bool_) if measure_days is None else np.ascontiguousarray(measure_days,
                                                                                                 dtype=np.bool_)
    var_nodes, atm, coef, fp = _fourier_args(surface)
    fr = market.frictions
    costs = np.array([[c.multiplier, c.min_half_spread, c.rel_half_spread, c.vix_elasticity, c.commission,
                       c.max_half_spread] for c in (fr.spx_option, fr.vix_option, fr.vix_future)], dtype=float)
    nodes, guide, futs, calls, strikes = _table_args(table)
    c_steps = max(dte_to_steps(condor.dte, spy), 1)
    c_steps_shift = condor.max_steps(spy)
    close_steps = dte_to_steps(condor.close_dte, spy) if condor.close_dte > 0 else 0
    cf = np.array([condor.short_delta, condor.wing_width, condor.wing_delta, condor.profit_take, condor.stop_multiple,
                   condor.margin_fraction, condor.time_shift_vix], dtype=float)
    ci = np.array([c_steps, c_steps_shift, close_steps, condor.entry_interval_days, int(bool(condor.time_shift))],
                  dtype=np.int64)
    c_consts = np.stack([_numpy_bisection_constants(c_steps * dt, market.rate, market.div),
                         _numpy_bisection_constants(c_steps_shift * dt, market.rate, market.div)])
    n_h = len(hedges)
    l_max = max([len(h.layers) for h in hedges] + [1])
    b_max = max([len(h.budget_bands) for h in hedges] + [1])
    hf = np.zeros((n_h, 8))
    hi_ = np.zeros((n_h, 5), dtype=np.int64)
    lf = np.zeros((n_h, l_max, 8))
    li = np.zeros((n_h, l_max, 9), dtype=np.int64)
    bands = np.zeros((n_h, b_max, 3))
    l_consts = np.zeros((n_h, l_max, 5))
    periods = sorted({h.rsi_period for h in hedges if h.rsi_exit > 0})
    rsi = np.stack([wilder_rsi(vix, pp) for pp in periods]) if periods else _ZERO_RSI
    for j, h in enumerate(hedges):
        hf[j] = (h.budget_pct_per_year, h.vega_ratio, h.exit_multiple, h.rsi_exit, h.deepest_layer_cap,
                 h.margin_share_cap, h.future_margin_fraction, h.min_price)
        hi_[j] = (len(h.layers), h.stagger_days, periods.index(h.rsi_period) if h.rsi_exit > 0 else -1,
                  len(h.budget_bands), h.deepest_layer)
        for b, band in enumerate(h.budget_bands):
            bands[j, b] = band
        for i, ly in enumerate(h.layers):
            o = max(dte_to_steps(ly.dte_open, spy), 1)
            r = dte_to_steps(ly.dte_roll, spy)
            mult = VIX_FUTURE_MULTIPLIER if ly.instrument == "future" else SPX_MULTIPLIER
            lf[j, i] = (ly.allocation, ly.strike_otm, ly.strike_delta, ly.spread_width, ly.trigger_vix,
                        ly.decay_share, mult, max(o - r, 1) * dt)
            li[j, i] = (_INSTRUMENTS[ly.instrument], _STRIKE_RULES[ly.strike_rule], _TRIGGERS[ly.trigger],
                        _SIZINGS[ly.sizing], o, r, ly.trigger_days, 0,
                        0 if ly.on_spx else (2 if ly.instrument == "future" else 1))
            l_consts[j, i] = _numpy_bisection_constants(o * dt, market.rate, market.div)

    condor_pnl = np.zeros((n, t_len))
    condor_delta = np.full((n, t_len), np.nan)
    leg_pnl = np.zeros((4, n))
    c_spread, c_comm, c_credit, contracts_sum, c_peak = (np.zeros(n) for _ in range(5))
    n_condors, n_takes, n_stops, n_dte = (np.zeros(n, dtype=np.int64) for _ in range(4))
    h_pnl = np.zeros((n_h, n, t_len))
    h_delta = np.full((n_h, n, t_len), np.nan)
    h_layer_pnl = np.zeros((n_h, l_max, n))
    h_prem = np.zeros((n_h, l_max, n))
    h_payoff, h_spread, h_comm, h_active, h_peak = (np.zeros((n_h, n)) for _ in range(5))
    h_nent = np.zeros((n_h, l_max, n), dtype=np.int64)
    h_ncap = np.zeros((n_h, l_max, n), dtype=np.int64)

    status = _kernel(spot, variance, vix, measure, rsi, dt, float(market.rate), float(market.div),
                     float(market.capital), float(market.spot_vol_beta), float(fr.vix_ref), costs,
                     var_nodes, atm, coef, fp, nodes, guide, futs, calls, strikes,
                     cf, ci, c_consts, hf, hi_, lf, li, bands, l_consts,
                     condor_pnl, condor_delta, leg_pnl, c_spread, c_comm, c_credit, n_condors, n_takes, n_stops, n_dte,
                     contracts_sum, c_peak,
                     h_pnl, h_delta, h_layer_pnl, h_prem, h_payoff, h_spread, h_comm, h_active, h_peak, h_nent, h_ncap,
                     np.zeros((8, 4)), np.zeros((2, 4), dtype=np.bool_))
    if status != 0:   # a delta strike out of reach: the numpy engine raises its error
        with numpy_engine():
            return run_books(spot, variance, vix, surface, market, condor, hedges, table, dt, regime=regime,
                             measure_days=measure_days, trace=trace)
    out_hedges = []
    for j, h in enumerate(hedges):
        L = len(h.layers)
        prem = h_prem[j, :L]
        out_hedges.append(HedgeResult(
            name=h.name, pnl=h_pnl[j], layer_pnl=h_layer_pnl[j, :L], premium=prem.sum(axis=0),
            premium_by_layer=prem, payoff=h_payoff[j], spread_cost=h_spread[j], commission=h_comm[j],
            active_share=h_active[j] / t_len, peak_capital=h_peak[j], delta=h_delta[j],
            n_entries=h_nent[j, :L], n_cap_bound=h_ncap[j, :L], layer_pnl_daily=None,
        ))
    return BookResult(
        condor_pnl=condor_pnl, condor_leg_pnl=leg_pnl, condor_delta=condor_delta,
        condor_spread_cost=c_spread, condor_commission=c_comm, condor_credit=c_credit,
        n_condors=n_condors, n_profit_takes=n_takes, n_stops=n_stops, n_dte_closes=n_dte,
        condor_contracts=np.divide(contracts_sum, n_condors, out=np.zeros(n), where=n_condors > 0),
        condor_peak_capital=c_peak, hedges=out_hedges, trades=None, condor_leg_pnl_daily=None,
    )


@_jit
def _drawdown_worst(daily, max_dd, worst):
    n_s, n, t_len = daily.shape
    for i in range(n_s):
        for p in range(n):
            eq = 0.0
            peak = 0.0
            dd = -np.inf
            lo = np.inf
            bad = False
            for t in range(t_len):
                x = daily[i, p, t]
                if x != x:
                    bad = True
                eq = eq + x
                peak = _nmax(peak, _nmax(eq, 0.0))
                dd = _nmax(dd, peak - eq)
                lo = _nmin(lo, x)
            max_dd[i, p] = np.nan if bad else dd
            worst[i, p] = np.nan if bad else lo


def drawdown_and_worst_day(daily: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Largest drawdown and worst day of each path's daily P&L, in one pass without temporaries.

    The same numbers as ``alvh.runner._max_drawdown(daily)`` and ``daily.min(axis=-1)`` bit for bit
    (the running sum is sequential, as ``np.cumsum``; NaN anywhere in a path gives NaN), without
    their four (S, n, T) temporaries.

    Parameters
    ----------
    daily : ndarray of float64, shape (S, n, T)
        Daily P&L, USD.

    Returns
    -------
    (max_drawdown, worst_day) : ndarrays of shape (S, n), USD; ``None`` where the numpy code must
    run (numba missing, the numpy reference selected, another dtype or shape, T = 0).
    """
    if not _HAVE_NUMBA or getattr(_LOCAL, "off", False):
        return None
    import sys

    fp_mod = sys.modules.get("alvh.fastprice")
    if fp_mod is not None and not getattr(fp_mod, "ENABLED", True):
        return None
    if not isinstance(daily, np.ndarray) or daily.dtype != np.float64 or daily.ndim != 3 or daily.shape[2] == 0:
        return None
    max_dd = np.empty(daily.shape[:2])
    worst = np.empty(daily.shape[:2])
    _drawdown_worst(np.ascontiguousarray(daily), max_dd, worst)
    return max_dd, worst
