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

The package's parts: :mod:`alvh.fastbook.base` (numba, ``_jit``, :func:`numpy_engine`, the rule codes),
:mod:`alvh.fastbook.spx` (scalar SPX pricing and strike search), :mod:`alvh.fastbook.vix` (VIX table
lookups, trade costs), :mod:`alvh.fastbook.kernel` (the compiled kernel), :mod:`alvh.fastbook.engine`
(:func:`supported`, :func:`run_books_compiled`) and :mod:`alvh.fastbook.drawdown`
(:func:`drawdown_and_worst_day`).
"""

from __future__ import annotations

from alvh import jitcache

jitcache.check()      # before any kernel is compiled or loaded from numba's cache (alvh.jitcache)

from alvh.fastbook.base import numpy_engine
from alvh.fastbook.drawdown import drawdown_and_worst_day
from alvh.fastbook.engine import (_fourier_args, _numpy_bisection_constants, _table_args,  # noqa: F401
                                  run_books_compiled, supported)
from alvh.fastbook.spx import (_WALK_STEPS, _flat_smile_guess, _fourier_state, _grid_walk,  # noqa: F401
                               _strike_for_delta, _tick_strike_for_delta)
from alvh.fastbook.vix import _vix_delta_strike  # noqa: F401

__all__ = ["supported", "run_books_compiled", "numpy_engine", "drawdown_and_worst_day"]
