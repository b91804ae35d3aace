"""Per-strategy metrics and the verdicts on the four ALVH claims, from a run's arrays.

Pure numpy/scipy on the arrays a run produces (:class:`RunArrays`); no engine imports. Every number
comes with a standard error and/or a 95% confidence interval from :mod:`alvh.metrics`; daily
statistics pool path-days with errors clustered by path (see the notes of :mod:`alvh.metrics`).

Units: money in USD in the inputs; outputs in % of capital (``capital``), "per year" figures
divide a horizon total by ``years``; deltas in "per condor" SPX delta units (dollar delta /
(contracts * 100 * S_t)).

The claims (``../shared/ALVH.md``) and the single verdict rule
----------------------------------------------------------------
1. The hedge costs 1-2% a year (seed 003).
2. It turns a -40% day into a -8% day, or breakeven (seed 002).
3. It moves the condor's delta from about -0.15 to near neutral around event days (seed 002).
4. It preserves capital through tail events compared with the unhedged condor (seed 001).

A claim is *supported* when the whole 95% CI of its statistic lies on the claim's side of its
threshold(s), *refuted* when the whole CI lies on the other side, and *not decidable* otherwise, or
when fewer than ``min_n`` paths (path-level statistics) or path-days (daily statistics) qualify, or
when a daily statistic's qualifying path-days come from fewer than ``min_n`` distinct paths (a
path-clustered SE needs many clusters; Cameron & Miller 2015, "A practitioner's guide to
cluster-robust inference", J. Human Resources 50(2), sec. VI), or when the statistic is NaN.

Submodules: :mod:`alvh.claims.records` (the constants and the data classes),
:mod:`alvh.claims.helpers` (shared helpers), :mod:`alvh.claims.table` (:func:`strategy_metrics`) and
:mod:`alvh.claims.checks` (:func:`claim_check`).
"""

from __future__ import annotations

from alvh.claims.records import (
    CLAIM_TEXTS,
    HEDGED_KINDS,
    LEG_NAMES,
    LEVELS,
    PER_STRATEGY_FIELDS,
    REFUTED,
    SUPPORTED,
    UNDECIDED,
    ClaimRow,
    ClaimThresholds,
    MetricRow,
    RunArrays,
    StrategyInfo,
)
from alvh.claims.table import strategy_metrics
from alvh.claims.checks import claim_check

__all__ = ["StrategyInfo", "RunArrays", "MetricRow", "ClaimThresholds", "ClaimRow", "CLAIM_TEXTS",
           "LEG_NAMES", "HEDGED_KINDS", "PER_STRATEGY_FIELDS", "strategy_metrics", "claim_check",
           "SUPPORTED", "REFUTED", "UNDECIDED", "LEVELS"]
