"""The largest drawdown and worst day of each path's daily P&L in one compiled pass."""

from __future__ import annotations

import numpy as np

from alvh.fastbook.base import _HAVE_NUMBA, _LOCAL, _jit
from alvh.fastprice import _nmax, _nmin


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
