"""Scalar lookups of the :class:`alvh.pricing.VixOptionTable` for the kernel (calls, futures, the
Black-76 delta strike, a VIX layer's value) and the half-spread cost of a trade."""

from __future__ import annotations

import math

import numpy as np

from alvh.fastbook.base import _jit
from alvh.fastprice import _implied_stdev, _nmax, _nmin, _npow, ndtr


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
