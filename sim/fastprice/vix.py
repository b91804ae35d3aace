"""Kernels of the VIX tables (:class:`alvh.pricing.VixOptionTable`, :class:`alvh.pricing.MarkovVixTable`):
the guided node search, futures and call lookups, and the strike index.
"""

from __future__ import annotations

import numpy as np
from numba import types

from alvh.fastprice.jit import _F1, _F2, _F3, _F4, _I1, _I2, _OUT, _OUT_I, _i8, _jit
from alvh.fastprice.scalar import _INT_MIN, _at, _nmax

__all__ = ["GUIDE_BUCKETS", "locate_guide", "vix_call", "vix_futures", "strike_index"]


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
