"""The hedge-design frontier: what a budget of 0.5-3% of capital a year buys (issue 24).

The claim check asks whether the ALVH as written does what the texts say. The frontier asks what the
best tail protection of a short condor is for a given net cost, and how far the ALVH is from it.
Submodules: :mod:`~alvh.frontier.space` (the design space), :mod:`~alvh.frontier.designs` (a design
as a scenario and in words) and :mod:`~alvh.frontier.study` (a design's metrics, the search, its
reading).

The design space
----------------
A design is one hedge book of one or two layers plus the condor's own protection, expressed as the
scenario keys it sets (:data:`DIMENSIONS`; the docs list them with their default bounds): the
instrument of each layer (VIX calls, VIX call spreads, long VIX futures, SPX puts, SPX put spreads;
the second may be ``none``), the strike rule (moneyness or delta), each layer's opening DTE and a
common roll point, the trigger (always, VIX at or above a level, or backwardation of the VIX futures
curve), the sizing (premium budget in % a year, or a ratio of the condor's vega), the exit at a
multiple of the price paid, and the condor's short delta, wing width and stop multiple. An SPX put is
a put spread half the initial spot wide, its short strike floored at 5 points (the engine's
:data:`alvh.strategy.SPX_MIN_STRIKE`), so its short leg is worth nothing that matters; a VIX future
is sized by vega (it has no premium). The RSI exit and the ALVH's capital caps are off: the budget
governs.
The ALVH as written (four layers, a condor-decay trigger, break-even strikes), the static ladder and
the VXTH rule lie outside this two-layer space; they are run beside it as reference points on the same
paths. The SPX put spread baseline lies inside it.

The search
----------
Every design runs on the same paths (the scenario's model, one seed: common random numbers), and is
judged against the scenario's condor alone on those paths:

* **net cost**, % of capital a year: the mean P&L the design gives up against the condor alone,
  ``mean(pnl_condor - pnl_design) / capital / years`` (a design that changes the condor counts the
  condor's change too);
* **CVaR 99 cut**, % of capital: ``CVaR99(loss_condor) - CVaR99(loss_design)`` of the horizon loss,
  paired (:func:`alvh.metrics.cvar_difference`), and the same for the worst day's loss and the
  maximum drawdown.

The optimiser is optuna's multi-objective TPE sampler (Bergstra et al. 2011; Ozaki et al. 2022),
minimising the cost and maximising the cut, so one study traces the whole frontier and every budget
reads its best design off it: the largest cut among the designs whose cost is within the budget.
Settings: multivariate TPE, :data:`N_STARTUP` random designs first, 24 candidates per draw. Trials
run one after another, each on all workers; the sampler of the k-th design is seeded by
``SeedSequence([seed, k])`` and sees the k designs before it, so a search killed at any moment and
resumed (the study lives in an optuna journal file) proposes the designs an uninterrupted one does.

Out of sample
-------------
The best design of each budget and the reference hedges are run again on fresh paths, from a seed the
search never used (``confirm_seed``, refused if equal to ``seed``), under every model that passes the
market scorecard's acceptance rows (:func:`alvh.verdicts.acceptance_failures`), and on the real path
of 2006-2024 with the VIX legs at real prices (:func:`alvh.realprices.real_price_replay`). The
frontier shown is the confirmed one; the in-sample optimism is the in-sample cut minus the confirmed
cut. Each design's cut is compared with the ALVH's on the same paths (paired CVaR difference); the
p-values of those comparisons are adjusted by Holm's step-down method (Holm 1979) across the designs
of one source. On the real path the cut is of the daily loss's CVaR 99 (one path has no distribution
of annual losses), with a circular block bootstrap interval (21-day blocks; Politis & Romano 1992,
:class:`arch.bootstrap.CircularBlockBootstrap`). A design is *robust* when its cut's 95% interval is
above 0 under every counted model and on the real path, and at least one model is counted.
Designs are numbered by their place in the search (:func:`design_numbers`), the same after a resume; a
design the engine cannot run is kept with its error and counted, and the search goes on.
"""

from __future__ import annotations

from alvh.frontier.space import (DIMENSIONS, INSTRUMENT_CHOICES, Dimension, FrontierError, default_space,
                                 parse_space, space_record, space_reference)
from alvh.frontier.designs import describe, design_scenario, hedge_table, rewritten, widest_scenario
from alvh.frontier.study import (LEVEL, N_STARTUP, best_per_budget, design_metrics, design_numbers, open_study,
                                  pareto_front, search, suggest, trial_seed, write_json)

__all__ = ["Dimension", "DIMENSIONS", "FrontierError", "default_space", "parse_space", "design_scenario",
           "describe", "design_metrics", "search", "best_per_budget", "design_numbers", "pareto_front",
           "space_reference", "rewritten", "trial_seed", "N_STARTUP", "LEVEL",
           "INSTRUMENT_CHOICES", "space_record", "suggest", "hedge_table", "widest_scenario", "open_study",
           "write_json"]
