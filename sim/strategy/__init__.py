"""Strategies priced along paths: a short SPX iron condor and hedge books on the same paths.

One condor book and any number of hedge books are run on one chunk of paths, day by day,
vectorised over paths. The condor's decisions never depend on a hedge, so "unhedged" is the condor
book alone and each hedged strategy is condor + one hedge book: every hedge effect is an exact
paired difference on common random numbers. A hedge may read the condor's state (its decay, its
break-even, its vega, its delta), never the other way round.

Every rule of the Adaptive Layered VIX Hedge that the source texts give (``../shared/ALVH.md``) is a
documented field of :class:`CondorSpec`, :class:`HedgeSpec` or :class:`LayerSpec`, with the texts'
value as its default. The baselines (static VIX call ladder, a VXTH-style rule, an SPX put spread)
are hedge books built from the same pieces (:func:`baseline_hedges`).

Accounting (per path, in dollars): each book's cash plus its positions marked at mid. A day's P&L is
the change of that sum: mark-to-mid moves, minus trading costs (half-spread plus commission,
:mod:`alvh.costs`) when a position is opened or closed before expiry. Options held to expiry settle
at intrinsic value with no spread and no commission (cash settlement: SPX against the simulated
close, VIX against the model VIX of that day, standing in for the special opening quotation); a
VIX future held to expiry settles at the model VIX. On the horizon's last day open positions are
marked at mid and no cost is charged.

Capital: the condor is sized on its defined-risk margin, ``(wing_width - credit) * 100`` per
condor (:func:`alvh.costs.condor_margin`). A hedge's capital is the premium paid for long options,
the maximum loss of a short credit spread, and ``future_margin_fraction`` of a future's notional.
"Risk capital", the base of the hedge caps, is ``margin_fraction * capital``: what the condor book
may post.

Time: one step is ``dt`` years of trading (1/252). Tenors given in calendar days (DTE) are turned
into steps as ``round(DTE * 252 / 365)``.

The package's parts: :mod:`alvh.strategy.specs` (the rules: :class:`CondorSpec`, :class:`LayerSpec`,
:class:`HedgeSpec`, :class:`MarketSpec`, the vocabulary, :func:`dte_to_steps`),
:mod:`alvh.strategy.signals` (:func:`wilder_rsi`, the VIX run length), :mod:`alvh.strategy.results`
(:class:`HedgeResult`, :class:`BookResult`, cost bookkeeping), :mod:`alvh.strategy.hedge` (one hedge
book, day by day) and :mod:`alvh.strategy.books` (:func:`run_books`, the condor book and the loop).
"""

from __future__ import annotations

from alvh.strategy.books import run_books
from alvh.strategy.hedge import _black76_call_delta  # noqa: F401
from alvh.strategy.results import BookResult, HedgeResult
from alvh.strategy.signals import wilder_rsi
from alvh.strategy.specs import (BACKWARDATION_DTE, INSTRUMENTS, LEGS, MULTIPLIER, SIZINGS, SPX_MIN_STRIKE,
                                 STRIKE_RULES, TRIGGERS, VIX_THRESHOLD, CondorSpec, HedgeSpec, LayerSpec, MarketSpec,
                                 baseline_hedges, default_alvh_layers, dte_to_steps)

__all__ = [
    "CondorSpec", "LayerSpec", "HedgeSpec", "MarketSpec", "BookResult", "HedgeResult", "run_books",
    "dte_to_steps", "wilder_rsi", "default_alvh_layers", "baseline_hedges", "INSTRUMENTS", "STRIKE_RULES",
    "TRIGGERS", "SIZINGS", "BACKWARDATION_DTE", "SPX_MIN_STRIKE", "VIX_THRESHOLD", "MULTIPLIER", "LEGS",
]
