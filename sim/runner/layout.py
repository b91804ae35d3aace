"""What a run produces per path and per chunk: the field tables, the chunk layout and its dtype."""

from __future__ import annotations

import numpy as np

#: Per-strategy, per-path fields (shape (n_strategies, n_paths)): name -> (units, description).
STRATEGY_FIELDS: dict[str, tuple[str, str]] = {
    "pnl": ("USD", "P&L over the horizon, condor + hedge (the condor alone for 'unhedged')"),
    "max_drawdown": ("USD", "largest peak-to-trough fall of cumulative P&L (peak floored at 0)"),
    "worst_day": ("USD", "worst one-day P&L"),
    "hedge_cost_annual_pct": ("% of capital per year", "net hedge cost: -(hedge book P&L) / capital / years"),
    "hedge_premium": ("USD", "paid at mid to open hedge positions (credits received count negative)"),
    "hedge_payoff": ("USD", "received at mid on hedge sales, settlements and the final mark"),
    "hedge_spread_cost": ("USD", "half-spreads paid on hedge trades"),
    "hedge_commission": ("USD", "commissions paid on hedge trades"),
    "hedge_active_share": ("1", "share of days ending with at least one hedge layer held"),
    "peak_capital_used_pct": ("% of capital", "largest daily condor margin + hedge capital"),
}

#: Per-path fields shared by every strategy (shape (n_paths,)): name -> (units, description).
PATH_FIELDS: dict[str, tuple[str, str]] = {
    "condor_credit": ("USD", "opening credits collected at mid"),
    "condor_spread_cost": ("USD", "half-spreads paid on condor legs"),
    "condor_commission": ("USD", "commissions paid on condor legs"),
    "condor_contracts": ("1", "mean condors per entry, sized on defined-risk margin (width - credit)"),
    "n_condors": ("1", "condors opened"),
    "n_profit_takes": ("1", "condors closed at the profit target"),
    "n_stops": ("1", "condors closed at the stop"),
    "spx_return": ("%", "SPX price return over the horizon"),
    "vix_max": ("VIX points", "highest model VIX on the path"),
    "integrated_variance": ("variance x years", "dt * sum of the variance state over the horizon's steps "
                            "(a control variate: alvh.varred)"),
    "top_regime_share": ("1", "share of days in the most volatile regime (0 for single-regime models)"),
    "regime_worst_day": ("1", "regime label on the condor's worst day"),
}

#: what a chunk holds (PER_PATH_KEYS + WHOLE_PATH_KEYS, daily arrays cut to the daily sample); part of
#: the run identity, so a checkpoint written in another layout is refused rather than mixed in
CHUNK_FORMAT = 2
#: chunk outputs with a path axis last, written to the path store
PER_PATH_KEYS = (*STRATEGY_FIELDS, "layer_pnl", "layer_entries", "layer_cap_bound", "condor_leg_pnl", *PATH_FIELDS)
#: chunk outputs kept in memory: the bounded daily sample and fan-chart paths
WHOLE_PATH_KEYS = ("daily_pnl", "daily_delta", "regime", "sample_spx", "sample_vix", "sample_regime", "sample_cum_pnl")
#: dtype of the daily sample's P&L and deltas (computed in float64, stored in float32): half the
#: memory of the sample that stays in memory and in the checkpoint, 364 MB instead of 729 MB for
#: baseline.toml's nine strategies x 20,000 paths x 253 days x 2 arrays. Single precision changes no
#: reported metric or claim by more than a small fraction of its standard error, scaled to that size
#: (tests/test_runner.py::test_float32_daily_sample_moves_no_metric_beyond_its_standard_error).
#: Part of a chunk's layout: changing it needs CHUNK_FORMAT raised, or a resumed checkpoint would mix
#: the two precisions.
DAILY_DTYPE = np.float32

LEG_NAMES = ("long_put", "short_put", "short_call", "long_call")
