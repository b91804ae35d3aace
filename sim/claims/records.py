"""The claims' constants and the records they are read from and written to: :class:`RunArrays`
(a run's arrays), :class:`StrategyInfo`, :class:`MetricRow`, :class:`ClaimThresholds` and :class:`ClaimRow`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from alvh import metrics as mx

#: Condor legs in the order of ``RunArrays.condor_leg_pnl``.
LEG_NAMES = ("long_put", "short_put", "short_call", "long_call")

#: Strategy kinds that carry a hedge (claims are checked for these).
HEDGED_KINDS = ("alvh", "baseline", "sweep")

#: Per-strategy per-path fields ``RunArrays.per_strategy`` must hold, shape (S, n): name -> units.
PER_STRATEGY_FIELDS: dict[str, str] = {
    "pnl": "USD",
    "max_drawdown": "USD",
    "worst_day": "USD",
    "hedge_cost_annual_pct": "% of capital per year",
    "hedge_premium": "USD",
    "hedge_payoff": "USD",
    "hedge_spread_cost": "USD",
    "hedge_commission": "USD",
    "hedge_active_share": "1",
    "peak_capital_used_pct": "% of capital",
}

#: The four claims in words (../shared/ALVH.md, "Claims the project exists to test").
CLAIM_TEXTS: dict[int, str] = {
    1: "The hedge costs 1-2% a year (\"effective annual cost often lands between 1.2% and 2.1%\").",
    2: "It turns a -40% day into a -8% day, or breakeven, on a 1DTE 0.15-delta condor.",
    3: "It moves the condor's delta from about -0.15 to near neutral around event days.",
    4: "It preserves capital through tail events compared with the unhedged condor (\"2020-style shocks\").",
}

SUPPORTED, REFUTED, UNDECIDED = "supported", "refuted", "not decidable"

#: Levels of the VaR / CVaR metrics.
LEVELS = (0.95, 0.99)


# ----------------------------------------------------------------------------------------------
# Data classes
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrategyInfo:
    """One strategy of a run.

    Attributes
    ----------
    name : str
        Short identifier ("unhedged", "alvh", "vix_ladder", "alvh_budget_0.5", ...).
    label : str
        Human label, e.g. "condor + ALVH".
    kind : str
        "unhedged", "alvh", "baseline" or "sweep".
    budget_pct_per_year : float
        Hedge budget of a sweep variant, % of capital per year; NaN where not applicable.
    """

    name: str
    label: str
    kind: str
    budget_pct_per_year: float = math.nan


@dataclass
class RunArrays:
    """The arrays of one run, for ``n`` paths, ``S`` strategies, ``L`` layers and ``T + 1`` days.

    Attributes
    ----------
    strategies : list of StrategyInfo
        Index 0 is the condor alone, kind "unhedged".
    per_strategy : dict of str to ndarray of shape (S, n)
        The fields of :data:`PER_STRATEGY_FIELDS` (USD unless said).
    layer_pnl : ndarray of shape (S, L, n)
        P&L of each hedge layer incl. its costs, USD (0 where absent).
    condor_leg_pnl : ndarray of shape (4, n)
        Condor P&L per leg (:data:`LEG_NAMES`), USD, trading costs excluded.
    per_path : dict of str to ndarray of shape (n,)
        Per-path fields (condor_credit, condor_spread_cost, condor_commission, ...).
    daily_pnl : ndarray of shape (S, n_d, T + 1)
        Daily P&L, USD (column 0: opening-day costs), of the daily sample: paths ``0 .. n_d - 1``,
        ``1 <= n_d <= n`` (all paths when ``n_d == n``). Every pooled daily statistic is computed on
        it; per-path statistics use all ``n`` paths.
    daily_delta : ndarray of shape (S, n_d, T + 1)
        Position delta, SPX delta per condor; NaN where not measured.
    regime : ndarray of int, shape (n_d, T + 1)
        Regime label per path-day of the daily sample (index into ``regime_names``).
    event_day : ndarray of bool, shape (T + 1,)
        Scheduled macro-event days.
    regime_names : list of str
    capital : float
        Capital base, USD (> 0).
    years : float
        Horizon, years (> 0).
    steps_per_year : float
        Trading days per year (252).
    controls : dict of str to (array_like of shape (n,), float), optional
        Control variates: per-path values (an array, or anything ``np.asarray`` reads into one, such
        as a stored field) and their exactly known mean (:mod:`alvh.varred`); with
        them, the metric table adds control-variate means of P&L and cost and the measured
        standard-error reduction factor.

    Raises
    ------
    ValueError
        On construction, when shapes disagree, a required field is missing, index 0 is not the
        unhedged strategy, or capital, years or steps_per_year is not a positive finite number.
    """

    strategies: list[StrategyInfo]
    per_strategy: dict[str, np.ndarray]
    layer_pnl: np.ndarray
    condor_leg_pnl: np.ndarray
    per_path: dict[str, np.ndarray]
    daily_pnl: np.ndarray
    daily_delta: np.ndarray
    regime: np.ndarray
    event_day: np.ndarray
    regime_names: list[str]
    capital: float
    years: float
    steps_per_year: float = 252.0
    controls: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = len(self.strategies)
        if s < 1 or self.strategies[0].kind != "unhedged":
            raise ValueError("strategies[0] must be the condor alone (kind 'unhedged')")
        for name, v in (("capital", self.capital), ("years", self.years), ("steps_per_year", self.steps_per_year)):
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive finite number, got {v}")
        missing = [k for k in PER_STRATEGY_FIELDS if k not in self.per_strategy]
        if missing:
            raise ValueError(f"per_strategy lacks {missing}")
        n = np.shape(self.per_strategy["pnl"])[-1] if np.ndim(self.per_strategy["pnl"]) == 2 else -1
        if n < 1:
            raise ValueError(f"per_strategy['pnl'] must have shape (S, n), got {np.shape(self.per_strategy['pnl'])}")
        for k, v in self.per_strategy.items():
            if np.shape(v) != (s, n):
                raise ValueError(f"per_strategy[{k!r}] must have shape {(s, n)}, got {np.shape(v)}")
        for k, v in self.per_path.items():
            if np.shape(v) != (n,):
                raise ValueError(f"per_path[{k!r}] must have shape {(n,)}, got {np.shape(v)}")
        if np.ndim(self.layer_pnl) != 3 or np.shape(self.layer_pnl)[::2] != (s, n):
            raise ValueError(f"layer_pnl must have shape (S, L, n) = ({s}, L, {n}), got {np.shape(self.layer_pnl)}")
        if np.shape(self.condor_leg_pnl) != (4, n):
            raise ValueError(f"condor_leg_pnl must have shape (4, {n}), got {np.shape(self.condor_leg_pnl)}")
        if (np.ndim(self.daily_pnl) != 3 or np.shape(self.daily_pnl)[0] != s
                or not 1 <= np.shape(self.daily_pnl)[1] <= n):
            raise ValueError(f"daily_pnl must have shape (S, n_d, T+1) = ({s}, n_d, T+1) with 1 <= n_d <= {n}, "
                             f"got {np.shape(self.daily_pnl)}")
        nd, t1 = np.shape(self.daily_pnl)[1:]
        if np.shape(self.daily_delta) != (s, nd, t1):
            raise ValueError(f"daily_delta must have shape {(s, nd, t1)}, got {np.shape(self.daily_delta)}")
        if np.shape(self.regime) != (nd, t1):
            raise ValueError(f"regime must have shape {(nd, t1)}, got {np.shape(self.regime)}")
        if np.shape(self.event_day) != (t1,) or np.asarray(self.event_day).dtype != bool:
            raise ValueError(f"event_day must be a boolean array of shape {(t1,)}, got {np.shape(self.event_day)}")
        r = np.asarray(self.regime)
        if not np.issubdtype(r.dtype, np.integer):
            raise ValueError(f"regime must hold integer labels, got dtype {r.dtype}")
        if len(self.regime_names) < 1 or r.min() < 0 or r.max() >= len(self.regime_names):
            raise ValueError(f"regime labels must index regime_names ({len(self.regime_names)} names), "
                             f"got labels in [{r.min()}, {r.max()}]")

    @property
    def n_paths(self) -> int:
        """Number of paths n."""
        return int(np.shape(self.per_strategy["pnl"])[1])

    @property
    def n_daily_paths(self) -> int:
        """Paths of the daily sample, n_d."""
        return int(np.shape(self.daily_pnl)[1])

    def daily_scope(self) -> str:
        """'' when the daily sample is every path, else where the pooled daily statistics come from."""
        nd, n = self.n_daily_paths, self.n_paths
        return "" if nd == n else f"daily sample: the first {nd:,} of {n:,} paths"

    @property
    def n_days(self) -> int:
        """Days per path, T + 1."""
        return int(np.shape(self.daily_pnl)[2])


@dataclass(frozen=True)
class MetricRow:
    """One metric of one strategy.

    Attributes
    ----------
    strategy : str
    key : str
        Stable snake_case key, the same for every strategy.
    label : str
        The metric in words (strategy-independent).
    units : str
    est : alvh.metrics.Estimate
    """

    strategy: str
    key: str
    label: str
    units: str
    est: mx.Estimate


@dataclass(frozen=True)
class ClaimThresholds:
    """Numbers that turn the claims into tests; each one is stated or derived here.

    Attributes
    ----------
    cost_band : tuple of float
        (1.0, 2.0) % of capital per year: claim 1, "the hedge costs 1-2% a year" (seed 003).
    crash_loss_pct : float
        40.0 % of capital in one day: claim 2's "-40% day" (seed 002).
    retained_max : float
        0.2 = 8 / 40: claim 2's "-8% day" as the share of the crash loss the hedged book keeps
        (breakeven is a share of 0, also on the claim's side).
    crash_min_days : int
        30: fewer crash path-days than this and claim 2 uses the unhedged worst
        ``1 - fallback_quantile`` share of path-days instead (a tail sample of a usable size).
    fallback_quantile : float
        0.999: that fallback's quantile of the unhedged daily loss.
    near_neutral_delta : float
        0.05 SPX delta per condor: "near neutral" in claim 3 (the texts give no number; a third of
        the 0.15 starting delta).
    min_n : int
        30: fewest qualifying paths (path-level statistics) or path-days, and distinct paths
        (daily statistics), for a verdict (normal-approximation rule of thumb); for claim 4, the
        fewest paths in the 1% tail the CVaR 99% averages.
    material_share : float
        0.10: claim 4's "preserves capital" needs the hedge to cut the unhedged CVaR 99% of the
        annual loss by at least this share (a reduction that common random numbers make
        significant but that leaves 99% of the tail loss is no preservation of capital).
    level : float
        0.95: confidence level of the CIs the verdicts are read from.

    Raises
    ------
    ValueError
        On construction, for an empty or reversed cost band, a level or quantile outside (0, 1),
        or non-positive thresholds.
    """

    cost_band: tuple[float, float] = (1.0, 2.0)
    crash_loss_pct: float = 40.0
    retained_max: float = 0.2
    crash_min_days: int = 30
    fallback_quantile: float = 0.999
    near_neutral_delta: float = 0.05
    min_n: int = 30
    level: float = 0.95
    material_share: float = 0.10

    def __post_init__(self) -> None:
        lo, hi = self.cost_band
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"cost_band must be (low, high) with low < high, got {self.cost_band}")
        for name in ("level", "fallback_quantile"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {v}")
        for name in ("crash_loss_pct", "retained_max", "near_neutral_delta", "crash_min_days", "min_n"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be positive, got {v}")


@dataclass(frozen=True)
class ClaimRow:
    """The verdict on one claim for one strategy and regime.

    Attributes
    ----------
    claim : int
        1..4 (:data:`CLAIM_TEXTS`).
    text : str
        The claim in words.
    strategy : str
    regime : str
        "all" or a regime name.
    statistic : str
        What was measured, in words.
    units : str
    value, ci_low, ci_high : float
        The statistic and its CI at ``ClaimThresholds.level`` (NaN where not computable).
    threshold : str
        The decision rule in words.
    verdict : str
        "supported", "refuted" or "not decidable".
    n : int
        Paths or path-days used.
    note : str
    """

    claim: int
    text: str
    strategy: str
    regime: str
    statistic: str
    units: str
    value: float
    ci_low: float
    ci_high: float
    threshold: str
    verdict: str
    n: int
    note: str = field(default="")
