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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats

from alvh import metrics as mx
from alvh import varred

__all__ = ["StrategyInfo", "RunArrays", "MetricRow", "ClaimThresholds", "ClaimRow", "CLAIM_TEXTS",
           "LEG_NAMES", "HEDGED_KINDS", "PER_STRATEGY_FIELDS", "strategy_metrics", "claim_check"]

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


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

_NAN = mx.Estimate(math.nan, math.nan, math.nan, math.nan)


def _slug(name: str) -> str:
    s = re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")
    return s or "regime"


def _scale(est: mx.Estimate, k: float) -> mx.Estimate:
    """``k * est`` for k > 0."""
    return mx.Estimate(est.value * k, est.se * k, est.ci_low * k, est.ci_high * k)


def _relevel(est: mx.Estimate, level: float) -> mx.Estimate:
    """A normal-interval estimate with its CI at ``level`` instead of 95%."""
    if level == 0.95 or not np.isfinite(est.se):
        return est
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    return mx.Estimate(est.value, est.se, est.value - z * est.se, est.value + z * est.se)


def _f(x: float, d: int = 3) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.{d}f}"


def _hedged(a: RunArrays) -> list[int]:
    return [i for i, s in enumerate(a.strategies) if s.kind in HEDGED_KINDS]


def _daily(a: RunArrays, s: int) -> np.ndarray:
    """Daily P&L of strategy s as float64, (n, T + 1), USD."""
    return np.asarray(a.daily_pnl[s], dtype=float)


def _regime_masks(a: RunArrays) -> list[tuple[str, np.ndarray]]:
    """(name, mask) per regime when the model has more than one regime, else empty."""
    if len(a.regime_names) < 2:
        return []
    r = np.asarray(a.regime)
    return [(name, r == i) for i, name in enumerate(a.regime_names)]


def _per_path(n_paths: int):
    """The per-path sample as the :mod:`alvh.metrics` path functions take it.

    Those need 2 values; a single path (a historical replay) is given twice, which leaves its mean,
    quantiles, VaR and CVaR equal to the value itself (the errors are then discarded).
    """
    if n_paths == 1:
        return lambda x: np.repeat(np.asarray(x, dtype=float).ravel(), 2)
    return lambda x: np.asarray(x, dtype=float)


def _scope_note(a: RunArrays) -> str:
    return f"; {a.daily_scope()}" if a.daily_scope() else ""


def _psi_se(psi: np.ndarray) -> float:
    """SE from per-path influence values, ``std(psi, ddof=1) / sqrt(n)``; NaN for one path."""
    return float(psi.std(ddof=1) / np.sqrt(psi.size)) if psi.size > 1 else math.nan


def _no_errors(est: mx.Estimate) -> mx.Estimate:
    return mx.Estimate(est.value, math.nan, math.nan, math.nan)


def _cost_rate(hedge_daily: np.ndarray, mask: np.ndarray | None, a: RunArrays) -> mx.Estimate:
    """Annualised net hedge cost on the selected path-days, % of capital per year.

    ``-(sum of hedge daily P&L) / (number of path-days) * steps_per_year / capital * 100``, a ratio
    of sums with a path-clustered delta-method SE (:func:`alvh.metrics.ratio_of_sums`).
    """
    est, _ = mx.ratio_of_sums(-hedge_daily, None, mask)
    return _scale(est, a.steps_per_year / a.capital * 100.0)


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


def strategy_metrics(a: RunArrays) -> list[MetricRow]:
    """The metric table: every strategy's risk, cost and attribution, each with SE and/or CI.

    Parameters
    ----------
    a : RunArrays

    Returns
    -------
    list of MetricRow
        Per strategy, in strategy order. Keys (units), for every strategy:

        * ``pnl_mean`` mean annual P&L (% of capital per year);
        * ``var95_annual``, ``cvar95_annual``, ``var99_annual``, ``cvar99_annual``: VaR / CVaR of the
          annual loss ``-pnl / capital * 100 / years`` (% of capital; :func:`alvh.metrics.var_cvar`);
        * ``var95_daily``, ``cvar95_daily``, ``var99_daily``, ``cvar99_daily``: of the daily loss, all
          path-days pooled (% of capital; :func:`alvh.metrics.pooled_var_cvar`, SE clustered by path);
        * ``max_drawdown_mean`` (% of capital), ``worst_day_mean`` (% of capital, a negative number
          for a loss), ``peak_capital_used_median`` (% of capital);
        * ``leg_<leg>_pnl_mean`` per condor leg (% of capital per year; the condor is the same in
          every strategy) and ``condor_costs_mean`` (half-spreads + commissions, % of capital per
          year; when the per-path fields are present);
        * with more than one regime, per regime name ``<r>`` (snake_case): ``cvar99_daily_regime_<r>``
          (% of capital), pooled over that regime's path-days.

        For hedged strategies only (absent for "unhedged"):

        * ``cvar95_annual_reduction``, ``cvar99_annual_reduction``, ``cvar95_daily_reduction``,
          ``cvar99_daily_reduction``: paired CVaR(unhedged) - CVaR(strategy) (% of capital; > 0 when
          the hedge lowers the tail);
        * ``max_drawdown_change``, ``worst_day_change``: paired mean of strategy - unhedged
          (% of capital);
        * ``cost_mean``, ``cost_median``, ``cost_q05``, ``cost_q95`` of ``hedge_cost_annual_pct``
          (% of capital per year) and ``cost_share_1_2``, the share of paths with a cost in [1, 2]
          (1, Wilson interval);
        * ``hedge_efficiency``: ``cvar99_annual_reduction`` per 1% of mean annual cost
          (% of capital per (% of capital per year); :func:`alvh.metrics.ratio`, NaN when the mean
          cost is not above 2 SE);
        * ``convexity``: mean hedge P&L per year summed on the path-days in the worst 1% of the
          unhedged daily P&L (pooled), divided by the mean annual hedge cost (1; ratio of means,
          delta method, NaN when the cost is not above 2 SE; the 1% cut-off is treated as fixed);
        * ``layer<k>_pnl_mean``, k = 1..L, mean P&L of hedge layer k incl. its costs (% of capital
          per year), for the layers with any non-zero P&L;
        * ``hedge_premium_mean``, ``hedge_payoff_mean``, ``hedge_spread_mean``,
          ``hedge_commission_mean`` (% of capital per year), ``hedge_active_share_mean`` (1);
        * with control variates (``a.controls``): ``pnl_mean_cv`` for every strategy and
          ``cost_mean_cv`` for hedged ones (same units as ``pnl_mean`` / ``cost_mean``), each with
          ``*_cv_se_factor``, the measured SE plain / SE with controls (1; :mod:`alvh.varred`);
        * with more than one regime: ``cost_rate_regime_<r>``, the annualised net hedge cost on the
          regime's path-days (% of capital per year; ratio of sums, SE clustered by path).

    Raises
    ------
    ValueError
        For non-finite per-path values or daily P&L (:mod:`alvh.metrics`).

    Notes
    -----
    A single path (a historical replay) gives every metric's value on that path (its own P&L, its
    loss as VaR and CVaR, its days pooled) with NaN standard errors and intervals.
    """
    cap, yrs = float(a.capital), float(a.years)
    pp = _per_path(a.n_paths)
    pct = lambda usd: pp(usd) / cap * 100.0  # noqa: E731
    per_year = lambda usd: pct(usd) / yrs  # noqa: E731
    ps = a.per_strategy
    regimes = [(name, m) for name, m in _regime_masks(a) if m.sum() >= 2]
    rows: list[MetricRow] = []
    scope = f" [{a.daily_scope()}]" if a.daily_scope() else ""
    cv, cv_names = None, ", ".join(a.controls)
    if a.controls and a.n_paths >= len(a.controls) + 3:
        cv = varred.ControlVariates([v for v, _ in a.controls.values()], [m for _, m in a.controls.values()])

    pnl_u_daily = _daily(a, 0)
    loss_u_daily = pnl_u_daily * (-100.0 / cap)
    worst_days = loss_u_daily >= np.quantile(_checked_flat(loss_u_daily, "daily_pnl[0]"), 0.99)
    loss_u_annual = -per_year(ps["pnl"][0])
    daily_u: dict = {}
    legs = [(f"leg_{leg}_pnl_mean", f"Mean P&L of the condor's {leg.replace('_', ' ')} leg", "% of capital per year",
             mx.mean(per_year(a.condor_leg_pnl[j]))) for j, leg in enumerate(LEG_NAMES)]
    if "condor_spread_cost" in a.per_path and "condor_commission" in a.per_path:
        legs.append(("condor_costs_mean", "Mean condor trading costs (half-spreads + commissions)",
                     "% of capital per year",
                     mx.mean(per_year(a.per_path["condor_spread_cost"] + a.per_path["condor_commission"]))))

    for s, info in enumerate(a.strategies):
        add = lambda key, label, units, est: rows.append(MetricRow(info.name, key, label, units, est))  # noqa: E731
        hedged = s > 0
        pnl_d = pnl_u_daily if s == 0 else _daily(a, s)
        loss_d = loss_u_daily if s == 0 else pnl_d * (-100.0 / cap)
        loss_annual = loss_u_annual if s == 0 else -per_year(ps["pnl"][s])

        add("pnl_mean", "Mean annual P&L", "% of capital per year", mx.mean(per_year(ps["pnl"][s])))
        if cv is not None:
            est, factor = cv.mean(per_year(ps["pnl"][s]))
            add("pnl_mean_cv", f"Mean annual P&L, control variates ({cv_names})", "% of capital per year", est)
            add("pnl_mean_cv_se_factor", "Standard-error reduction of the mean annual P&L by the control variates "
                "(SE plain / SE with controls, measured)", "1", mx.Estimate(factor, math.nan, math.nan, math.nan))
        daily = dict(zip(LEVELS, mx.pooled_var_cvar_levels(loss_d, LEVELS)))
        if s == 0:
            daily_u = daily
        for level in LEVELS:
            lv = int(round(level * 100))
            var, cvar = mx.var_cvar(loss_annual, level)
            add(f"var{lv}_annual", f"VaR {lv}% of the annual loss", "% of capital", var)
            add(f"cvar{lv}_annual", f"CVaR {lv}% of the annual loss", "% of capital", cvar)
            dvar, dcvar, _ = daily[level]
            add(f"var{lv}_daily", f"VaR {lv}% of the daily loss (path-days pooled)" + scope, "% of capital", dvar)
            add(f"cvar{lv}_daily", f"CVaR {lv}% of the daily loss (path-days pooled, SE clustered by path)" + scope,
                "% of capital", dcvar)
        add("max_drawdown_mean", "Mean max drawdown", "% of capital", mx.mean(pct(ps["max_drawdown"][s])))
        add("worst_day_mean", "Mean worst day", "% of capital", mx.mean(pct(ps["worst_day"][s])))
        add("peak_capital_used_median", "Median peak capital used", "% of capital",
            mx.quantile(pp(ps["peak_capital_used_pct"][s]), 0.5))
        for key, label, units, est in legs:
            add(key, label, units, est)
        for name, m in regimes:
            _, c, _ = mx.pooled_var_cvar(loss_d, 0.99, m)
            add(f"cvar99_daily_regime_{_slug(name)}", f"CVaR 99% of the daily loss on {name}-regime path-days" + scope,
                "% of capital", c)
        if not hedged:
            continue

        # paired against the unhedged condor (common random numbers)
        for level in LEVELS:
            lv = int(round(level * 100))
            diff, infl = mx.cvar_difference(loss_u_annual, loss_annual, level)
            add(f"cvar{lv}_annual_reduction", f"CVaR {lv}% of the annual loss: reduction vs unhedged (paired)",
                "% of capital", diff)
            if level == 0.99:
                annual_diff99 = (diff, infl)
            del infl                            # n values each: only the 99% one is kept
            # the paired difference of pooled_cvar_difference, from the influence values already at hand
            _, cu, psi_u = daily_u[level]
            _, cs, psi_s = daily[level]
            d = psi_u - psi_s
            add(f"cvar{lv}_daily_reduction", f"CVaR {lv}% of the daily loss: reduction vs unhedged (paired)" + scope,
                "% of capital", mx.Estimate.normal(cu.value - cs.value, _psi_se(d)))
        del loss_annual
        add("max_drawdown_change", "Max drawdown: hedged minus unhedged (paired mean; < 0 = the hedge helps)", "% of capital",
            mx.mean(pct(ps["max_drawdown"][s] - ps["max_drawdown"][0])))
        add("worst_day_change", "Worst day: hedged minus unhedged (paired mean; > 0 = the hedge helps)", "% of capital",
            mx.mean(pct(ps["worst_day"][s] - ps["worst_day"][0])))
        cost = pp(ps["hedge_cost_annual_pct"][s])
        add("cost_mean", "Mean net annual hedge cost", "% of capital per year", mx.mean(cost))
        if cv is not None:
            est, factor = cv.mean(cost)
            add("cost_mean_cv", f"Mean net annual hedge cost, control variates ({cv_names})", "% of capital per year",
                est)
            add("cost_mean_cv_se_factor", "Standard-error reduction of the mean hedge cost by the control variates "
                "(SE plain / SE with controls, measured)", "1", mx.Estimate(factor, math.nan, math.nan, math.nan))
        add("cost_median", "Median net annual hedge cost", "% of capital per year", mx.quantile(cost, 0.5))
        add("cost_q05", "5% quantile of the net annual hedge cost", "% of capital per year", mx.quantile(cost, 0.05))
        add("cost_q95", "95% quantile of the net annual hedge cost", "% of capital per year", mx.quantile(cost, 0.95))
        add("cost_share_1_2", "Share of paths with a net annual hedge cost in [1%, 2%]", "1",
            mx.share((cost >= 1.0) & (cost <= 2.0)))
        add("hedge_efficiency", "Hedge efficiency: annual CVaR 99% reduction per 1% of mean annual cost",
            "% of capital per (% of capital per year)", mx.ratio(*annual_diff99, cost))
        del annual_diff99
        hedge_d = pnl_d - pnl_u_daily
        nd = a.n_daily_paths
        tail = _per_path(nd)(np.where(worst_days, hedge_d, 0.0).sum(axis=1) / cap * 100.0 / yrs)
        add("convexity", "Convexity: hedge P&L on the unhedged worst 1% of path-days / hedge cost (per year)" + scope,
            "1", mx.ratio(mx.mean(tail), tail - tail.mean(), cost[:tail.size] if nd < a.n_paths else cost))
        del cost
        for k in range(a.layer_pnl.shape[1]):
            layer = np.asarray(a.layer_pnl[s, k], dtype=float)    # one layer at a time: n values each
            if np.any(layer != 0.0):
                add(f"layer{k + 1}_pnl_mean", f"Mean P&L of hedge layer {k + 1} incl. its costs",
                    "% of capital per year", mx.mean(per_year(layer)))
            del layer
        add("hedge_premium_mean", "Mean hedge premium paid", "% of capital per year",
            mx.mean(per_year(ps["hedge_premium"][s])))
        add("hedge_payoff_mean", "Mean hedge payoff received", "% of capital per year",
            mx.mean(per_year(ps["hedge_payoff"][s])))
        add("hedge_spread_mean", "Mean hedge half-spreads paid", "% of capital per year",
            mx.mean(per_year(ps["hedge_spread_cost"][s])))
        add("hedge_commission_mean", "Mean hedge commissions", "% of capital per year",
            mx.mean(per_year(ps["hedge_commission"][s])))
        add("hedge_active_share_mean", "Mean share of days ending with a hedge layer held", "1",
            mx.mean(pp(ps["hedge_active_share"][s])))
        for name, m in regimes:
            add(f"cost_rate_regime_{_slug(name)}", f"Annualised net hedge cost on {name}-regime path-days" + scope,
                "% of capital per year", _cost_rate(hedge_d, m, a))
    if a.n_paths == 1:
        rows = [replace(r, est=_no_errors(r.est)) for r in rows]
    return rows


def _checked_flat(x: np.ndarray, name: str) -> np.ndarray:
    flat = x.reshape(-1)
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"{name} contains non-finite values")
    return flat


# ----------------------------------------------------------------------------------------------
# Claims
# ----------------------------------------------------------------------------------------------


def _band_verdict(lo: float, hi: float, band: tuple[float, float]) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return UNDECIDED
    if band[0] <= lo and hi <= band[1]:
        return SUPPORTED
    if hi < band[0] or lo > band[1]:
        return REFUTED
    return UNDECIDED


def _too_few(mask: np.ndarray, th: ClaimThresholds) -> str:
    """Why a daily statistic on ``mask`` is not decidable for lack of data, or ''."""
    k = int(mask.sum())
    p = int(mask.any(axis=1).sum())
    if k < th.min_n:
        return f"only {k} qualifying path-days (< min_n = {th.min_n}); "
    if p < th.min_n:
        return f"qualifying path-days come from only {p} paths (< min_n = {th.min_n} clusters); "
    return ""


def _claim1(a: RunArrays, s: int, th: ClaimThresholds, hedge_d: np.ndarray, regimes) -> list[ClaimRow]:
    name = a.strategies[s].name
    band = th.cost_band
    words = f"{th.level:.0%} CI within [{band[0]:g}, {band[1]:g}] % of capital per year"
    n = a.n_paths
    cost = _per_path(n)(a.per_strategy["hedge_cost_annual_pct"][s])
    med = mx.quantile(cost, 0.5)
    if n == 1:
        med = _no_errors(med)
    elif th.level != 0.95:
        ci = stats.quantile_test(cost, q=med.value, p=0.5).confidence_interval(th.level)
        med = mx.Estimate(med.value, math.nan, float(ci.low), float(ci.high))
    verdict = _band_verdict(med.ci_low, med.ci_high, band) if n >= th.min_n else UNDECIDED
    side = ("below the band (cheaper than claimed); " if med.ci_high < band[0] else
            "above the band (dearer than claimed); " if med.ci_low > band[1] else "")
    note = (side + f"order-statistic CI of the median over {n} paths; mean {_f(float(cost.mean()))}, "
            f"share of paths in the band {_f(float(np.mean((cost >= band[0]) & (cost <= band[1]))))}; "
            "the cost follows the hedge's own budget and sizing rules (see the budget sweep)")
    if n < th.min_n:
        note = f"only {n} paths (< min_n = {th.min_n}); " + note
    rows = [ClaimRow(1, CLAIM_TEXTS[1], name, "all", "median net annual hedge cost over paths",
                     "% of capital per year", med.value, med.ci_low, med.ci_high, words, verdict, n, note)]
    for rname, m in regimes:
        k = int(m.sum())
        few = _too_few(m, th)
        est = _relevel(_cost_rate(hedge_d, m, a), th.level) if k >= 2 else _NAN
        verdict = UNDECIDED if few else _band_verdict(est.ci_low, est.ci_high, band)
        rows.append(ClaimRow(
            1, CLAIM_TEXTS[1], name, rname, f"annualised net hedge cost rate on {rname}-regime path-days",
            "% of capital per year", est.value, est.ci_low, est.ci_high, words, verdict, k,
            few + f"-(sum of hedge daily P&L) / path-days x {a.steps_per_year:g} / capital; ratio of sums, "
            f"SE clustered by path; {k} path-days on {int(m.any(axis=1).sum())} paths" + _scope_note(a)))
    return rows


def _crash_days(loss_u_pct: np.ndarray, th: ClaimThresholds) -> tuple[np.ndarray, str]:
    crash = loss_u_pct >= th.crash_loss_pct
    k = int(crash.sum())
    if k >= th.crash_min_days:
        return crash, (f"crash days: unhedged day P&L <= -{th.crash_loss_pct:g}% of capital "
                       f"({k} path-days)")
    # too few days of the claim's own size: the verdict is 'not decidable'; the worst days are
    # still measured and shown, labelled as such (they test milder days than the claim's)
    q = float(np.quantile(loss_u_pct, th.fallback_quantile))
    crash = loss_u_pct >= q
    return crash, (f"FALLBACK: only {k} path-days with an unhedged loss >= {th.crash_loss_pct:g}% of capital "
                   f"(< {th.crash_min_days}), so the claim as stated is not decidable here; measured instead on the unhedged worst {1 - th.fallback_quantile:.2%} of "
                   f"path-days (loss >= {_f(q)}% of capital, {int(crash.sum())} path-days)")


def _claim2(a: RunArrays, s: int, th: ClaimThresholds, loss_u_pct: np.ndarray, crash: np.ndarray,
            how: str, regimes) -> list[ClaimRow]:
    name = a.strategies[s].name
    loss_s_pct = _daily(a, s) * (-100.0 / a.capital)
    words = f"{th.level:.0%} CI high <= {th.retained_max:g} (the -8% of a -40% day)"
    rows = []
    for rname, m in [("all", None)] + list(regimes):
        mask = crash if m is None else crash & m
        k = int(mask.sum())
        few = _too_few(mask, th)
        if k >= 2:
            est = _relevel(mx.ratio_of_sums(loss_s_pct, loss_u_pct, mask)[0], th.level)
            mu, mh = float(-loss_u_pct[mask].mean()), float(-loss_s_pct[mask].mean())
        else:
            est, mu, mh = _NAN, math.nan, math.nan
        if few or not np.isfinite(est.ci_high) or how.startswith("FALLBACK"):
            verdict = UNDECIDED
        elif est.ci_high <= th.retained_max:
            verdict = SUPPORTED
        elif est.ci_low > th.retained_max:
            verdict = REFUTED
        else:
            verdict = UNDECIDED
        where = "" if m is None else f" in the {rname} regime"
        rows.append(ClaimRow(
            2, CLAIM_TEXTS[2], name, rname,
            "retained loss share on crash days: sum(hedged loss) / sum(unhedged loss)", "1",
            est.value, est.ci_low, est.ci_high, words, verdict, k,
            few + how + f"; {k} path-days{where} on {int(mask.any(axis=1).sum())} paths; mean day P&L "
            f"unhedged {_f(mu, 2)}, hedged {_f(mh, 2)} (% of capital); ratio of sums, SE clustered by path" + _scope_note(a)))
    return rows


def _claim3(a: RunArrays, s: int, th: ClaimThresholds, regimes) -> list[ClaimRow]:
    name = a.strategies[s].name
    du = np.abs(np.asarray(a.daily_delta[0], dtype=float))
    dh = np.abs(np.asarray(a.daily_delta[s], dtype=float))
    ev = np.asarray(a.event_day, dtype=bool)
    base = np.isfinite(du) & np.isfinite(dh)
    if ev.any():
        before = np.zeros_like(ev)
        before[:-1] = ev[1:]             # the close before an event: the position carried into it
        base &= (ev | before)[None, :]
        days = "event days and the day before each"
    else:
        days = "all measured days (no event day in the horizon)"
    words = (f"supported: {th.level:.0%} CI high <= {th.near_neutral_delta:g} and paired reduction CI low > 0; "
             f"refuted: CI low > {th.near_neutral_delta:g} or reduction CI high <= 0")
    rows = []
    for rname, m in [("all", None)] + list(regimes):
        mask = base if m is None else base & m
        k = int(mask.sum())
        few = _too_few(mask, th)
        if k >= 2:
            est_h, psi_h = mx.pooled_mean(dh, mask)
            est_u, psi_u = mx.pooled_mean(du, mask)
            # paired reduction: same path-days and denominators, so its influence is psi_u - psi_h
            d = psi_u - psi_h
            red = _relevel(mx.Estimate.normal(est_u.value - est_h.value, _psi_se(d)), th.level)
            est, unh = _relevel(est_h, th.level), est_u.value
            signed = float(np.asarray(a.daily_delta[0], dtype=float)[mask].mean())
        else:
            est = red = _NAN
            unh = signed = math.nan
        ok = np.isfinite([est.ci_low, est.ci_high, red.ci_low, red.ci_high]).all()
        if few or not ok:
            verdict = UNDECIDED
        elif est.ci_high <= th.near_neutral_delta and red.ci_low > 0:
            verdict = SUPPORTED
        elif est.ci_low > th.near_neutral_delta or red.ci_high <= 0:
            verdict = REFUTED
        else:
            verdict = UNDECIDED
        rows.append(ClaimRow(
            3, CLAIM_TEXTS[3], name, rname, f"mean |delta| of the hedged book on {days}", "SPX delta per condor",
            est.value, est.ci_low, est.ci_high, words, verdict, k,
            few + f"premise: unhedged mean delta {_f(signed)} (the texts: about -0.15); unhedged mean |delta| {_f(unh)}; paired reduction {_f(red.value)} "
            f"[{_f(red.ci_low)}, {_f(red.ci_high)}]; {k} path-days where both deltas are measured, on "
            f"{int(mask.any(axis=1).sum())} paths; SE clustered by path" + _scope_note(a)))
    return rows


def _claim4(a: RunArrays, s: int, th: ClaimThresholds) -> ClaimRow:
    name = a.strategies[s].name
    n = a.n_paths
    pp = _per_path(n)
    per_year = lambda usd: pp(usd) / a.capital * 100.0 / a.years  # noqa: E731
    lu, lh = -per_year(a.per_strategy["pnl"][0]), -per_year(a.per_strategy["pnl"][s])
    diff = _relevel(mx.cvar_difference(lu, lh, 0.99)[0], th.level)
    if n == 1:
        diff = _no_errors(diff)
    cu, ch = (mx.var_cvar(lu, 0.99)[1].value, mx.var_cvar(lh, 0.99)[1].value) if n >= 2 else (float(lu[0]), float(lh[0]))
    bar = th.material_share * max(cu, 0.0)
    tail = int(n * 0.01)
    if tail < th.min_n or not (np.isfinite(diff.ci_low) and np.isfinite(diff.ci_high)):
        verdict = UNDECIDED
    elif diff.ci_low > bar:
        verdict = SUPPORTED
    elif diff.ci_high < bar:
        verdict = REFUTED
    else:
        verdict = UNDECIDED
    few = (f"only {tail} paths in the 1% tail (< min_n = {th.min_n}); " if tail < th.min_n else "")
    return ClaimRow(
        4, CLAIM_TEXTS[4], name, "all",
        "paired reduction of CVaR 99% of the annual loss (unhedged minus hedged)", "% of capital",
        diff.value, diff.ci_low, diff.ci_high,
        f"supported: {th.level:.0%} CI low > {th.material_share:.0%} of the unhedged CVaR 99% ({_f(bar, 2)}); "
        f"refuted: CI high below it", verdict, n,
        few + f"CVaR 99% of the annual loss: unhedged {_f(cu, 2)}%, hedged {_f(ch, 2)}% of capital; "
        "regime 'all' only: a path's annual loss has no single regime")


def claim_check(a: RunArrays, thresholds: ClaimThresholds = ClaimThresholds()) -> list[ClaimRow]:
    """Verdicts on the four claims for every hedged strategy (kind alvh, baseline or sweep).

    Parameters
    ----------
    a : RunArrays
    thresholds : ClaimThresholds

    Returns
    -------
    list of ClaimRow
        Per hedged strategy, claims 1, 2, 3 for regime "all" and then each regime (when the model
        has more than one), then claim 4 (regime "all" only). Statistics:

        1. "all": median of ``hedge_cost_annual_pct`` over paths, order-statistic CI
           (:func:`alvh.metrics.quantile`); per regime r: ``-(sum of hedge daily P&L on r-days) /
           (r path-days) * steps_per_year / capital * 100`` (hedge daily P&L = strategy minus
           unhedged daily P&L), path-clustered ratio SE. Supported iff the CI lies in ``cost_band``.
        2. retained loss share ``sum(hedged loss) / sum(unhedged loss)`` on crash path-days (unhedged
           day loss >= ``crash_loss_pct`` % of capital; with fewer than ``crash_min_days`` of those
           the verdict is "not decidable" and the statistic is measured on the unhedged worst
           ``1 - fallback_quantile`` share of path-days instead, said in the note);
           supported iff CI high <= ``retained_max``, refuted iff CI low > it.
        3. mean |delta| of the strategy on event days and the day before each (every day when there
           are none) where both its
           and the unhedged delta are finite; supported iff CI high <= ``near_neutral_delta`` and
           the paired reduction of mean |delta| vs unhedged has CI low > 0; refuted iff CI low >
           ``near_neutral_delta`` or the reduction's CI high <= 0.
        4. paired CVaR 99% reduction of the annual loss (% of capital; :func:`alvh.metrics.cvar_difference`);
           supported iff CI low > ``material_share`` of the unhedged CVaR 99%, refuted iff CI high is
           below it; not decidable with fewer than ``min_n`` paths in the 1% tail.

        CIs are at ``thresholds.level``; see the module notes for "not decidable".

    Raises
    ------
    ValueError
        For non-finite per-path values or daily P&L.

    Notes
    -----
    A single path (a historical replay) gives each statistic's value on that path, NaN intervals
    and "not decidable" everywhere (fewer than ``min_n`` paths).
    """
    regimes = _regime_masks(a)
    pnl_u = _daily(a, 0)
    loss_u_pct = pnl_u * (-100.0 / a.capital)
    _checked_flat(loss_u_pct, "daily_pnl[0]")
    crash, how = _crash_days(loss_u_pct, thresholds)
    rows: list[ClaimRow] = []
    for s in _hedged(a):
        hedge_d = _daily(a, s) - pnl_u
        rows += _claim1(a, s, thresholds, hedge_d, regimes)
        del hedge_d
        rows += _claim2(a, s, thresholds, loss_u_pct, crash, how, regimes)
        rows += _claim3(a, s, thresholds, regimes)
        rows.append(_claim4(a, s, thresholds))
    return rows
