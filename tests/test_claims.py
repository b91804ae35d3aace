"""Tests for sim/claims/: the metric table and the verdicts on the four ALVH claims.

Every case is a small synthetic run whose answer is known by construction: the hedged daily P&L is
written as a function of the unhedged one (cut a crash day's loss by 90%, charge exactly 1.5% of
capital a year, ...), so the true statistic is a number set in the test, not one computed by the
code under test. Closed forms used: the normal tail expectation
``E[(L - q)^+] = sigma (phi(z) - z (1 - p))`` for ``q = sigma z``, ``z = Phi^{-1}(p)`` (McNeil,
Frey & Embrechts, *Quantitative Risk Management*, ch. 2), and ``E|N(0, s^2)| = s sqrt(2 / pi)``
(half-normal mean). Claim texts and thresholds: ../shared/ALVH.md ("Claims the project exists to
test") and the issue-5 data contract (ClaimThresholds defaults).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from alvh import metrics as mx
from alvh.metrics import var_cvar
from alvh.claims import (
    CLAIM_TEXTS,
    PER_STRATEGY_FIELDS,
    ClaimRow,
    ClaimThresholds,
    MetricRow,
    RunArrays,
    StrategyInfo,
    claim_check,
    strategy_metrics,
)

CAP = 1_000_000.0
STEPS = 252.0


def build(daily, *, delta=None, regime=None, event_day=None, regime_names=("single",), kinds=None,
          pnl=None, layer_pnl=None, seed=0) -> RunArrays:
    """A RunArrays whose per-path fields are consistent with ``daily`` (S, n, T + 1), USD.

    years = (T + 1) / 252, so a constant daily hedge cost of c% of capital / 252 is exactly c% a
    year both per path and per path-day.
    """
    daily = np.asarray(daily, dtype=float)
    s, n, t1 = daily.shape
    rng = np.random.default_rng(seed)
    years = t1 / STEPS
    kinds = kinds or ["unhedged"] + ["alvh"] * (s - 1)
    strategies = [StrategyInfo("unhedged" if i == 0 else f"h{i}", f"label {i}", k,
                               math.nan if k != "sweep" else 1.0) for i, k in enumerate(kinds)]
    with np.errstate(invalid="ignore"):  # NaN / inf inputs of the bad-input tests
        hedge = daily - daily[:1]
        cum = np.cumsum(daily, axis=2)
        drawdown = (np.maximum.accumulate(np.maximum(cum, 0.0), axis=2) - cum).max(axis=2)
    ps = {
        "pnl": daily.sum(axis=2) if pnl is None else np.asarray(pnl, dtype=float),
        "max_drawdown": drawdown,
        "worst_day": daily.min(axis=2),
        "hedge_cost_annual_pct": -hedge.sum(axis=2) / CAP / years * 100.0,
        "hedge_premium": np.abs(hedge).sum(axis=2),
        "hedge_payoff": np.maximum(hedge, 0).sum(axis=2),
        "hedge_spread_cost": 0.01 * np.abs(hedge).sum(axis=2),
        "hedge_commission": np.full((s, n), 10.0) * (np.arange(s) > 0)[:, None],
        "hedge_active_share": rng.random((s, n)) * (np.arange(s) > 0)[:, None],
        "peak_capital_used_pct": 50.0 + rng.random((s, n)),
    }
    assert set(ps) == set(PER_STRATEGY_FIELDS)
    if layer_pnl is None:
        layer_pnl = np.zeros((s, 3, n))
        layer_pnl[1:, 0] = hedge[1:].sum(axis=2)
    return RunArrays(
        strategies=strategies, per_strategy=ps, layer_pnl=layer_pnl,
        condor_leg_pnl=rng.normal(0.0, 1000.0, (4, n)) + np.array([[-100.0], [300.0], [300.0], [-100.0]]),
        per_path={"condor_spread_cost": rng.random(n) * 100, "condor_commission": np.full(n, 50.0)},
        daily_pnl=daily,
        daily_delta=np.full((s, n, t1), -0.15) if delta is None else delta,
        regime=np.zeros((n, t1), np.int8) if regime is None else regime,
        event_day=np.zeros(t1, bool) if event_day is None else event_day,
        regime_names=list(regime_names), capital=CAP, years=years, steps_per_year=STEPS)


def same(a: mx.Estimate, b: mx.Estimate, rel: float = 1e-10) -> bool:
    """Equal estimates up to rounding (value, SE, CI; NaN equal to NaN)."""
    return all(x == pytest.approx(y, rel=rel, abs=1e-12, nan_ok=True)
               for x, y in zip((a.value, a.se, a.ci_low, a.ci_high), (b.value, b.se, b.ci_low, b.ci_high)))


def rows_of(rows, claim, strategy, regime="all") -> ClaimRow:
    (row,) = [r for r in rows if r.claim == claim and r.strategy == strategy and r.regime == regime]
    return row


def condor_days(rng, n, t1, mean_pct=0.1, sd_pct=1.0):
    """Unhedged daily P&L, USD: normal, mean 0.1% and sd 1% of capital (no crashes)."""
    return CAP / 100.0 * (mean_pct + sd_pct * rng.standard_normal((n, t1)))


# ----------------------------------------------------------------------------------------------
# Claim 1: cost 1-2% a year
# ----------------------------------------------------------------------------------------------


def _cost_run(costs_pct, n=400, t1=64, noise_pct=0.02, seed=1, regime=None, crisis_cost=None, names=("single",)):
    """Hedged strategies costing exactly ``c`` % of capital a year on average, plus daily noise."""
    rng = np.random.default_rng(seed)
    u = condor_days(rng, n, t1)
    out = [u]
    for c in costs_pct:
        rate = np.full((n, t1), c)
        if crisis_cost is not None:
            rate = np.where(regime == 1, crisis_cost, rate)
        out.append(u - CAP / 100.0 * (rate / STEPS + noise_pct * rng.standard_normal((n, t1))))
    return build(np.stack(out), regime=regime, regime_names=names)


def test_claim1_cost_band_supported_refuted_undecided():
    # daily cost noise 0.02% of capital -> per-path annual cost sd = 0.02 * sqrt(64) / (64 / 252)
    # = 0.63 % a year; the median's CI over 400 paths is about +-0.08 wide.
    a = _cost_run([1.5, 0.4, 2.0])
    rows = claim_check(a)
    r15, r04, r20 = (rows_of(rows, 1, f"h{i}") for i in (1, 2, 3))
    assert r15.verdict == "supported"
    assert r04.verdict == "refuted"
    assert r20.verdict == "not decidable"  # true median exactly on the band's edge
    for r, c in ((r15, 1.5), (r04, 0.4), (r20, 2.0)):
        assert r.ci_low <= c <= r.ci_high
        assert r.n == 400 and r.units == "% of capital per year" and r.regime == "all"
        assert r.text == CLAIM_TEXTS[1]
    assert not any(r.strategy == "unhedged" for r in rows)


def test_claim1_regimes_split_correctly():
    # calm days cost 1.5%/yr, crisis days (20% of path-days) 3%/yr: per-regime cost rates are
    # 1.5 (supported) and 3.0 (refuted); over all paths the median is 0.8*1.5 + 0.2*3 = 1.8.
    rng = np.random.default_rng(2)
    n, t1 = 400, 64
    regime = (rng.random((n, t1)) < 0.2).astype(np.int8)
    a = _cost_run([1.5], n=n, t1=t1, regime=regime, crisis_cost=3.0, names=("calm", "crisis"))
    rows = claim_check(a)
    calm, crisis, whole = rows_of(rows, 1, "h1", "calm"), rows_of(rows, 1, "h1", "crisis"), rows_of(rows, 1, "h1")
    assert calm.verdict == "supported" and crisis.verdict == "refuted" and whole.verdict == "supported"
    assert calm.n == int((regime == 0).sum()) and crisis.n == int((regime == 1).sum())
    se = lambda r: (r.ci_high - r.ci_low) / (2 * stats.norm.ppf(0.975))  # noqa: E731
    assert abs(calm.value - 1.5) < 4 * se(calm)
    assert abs(crisis.value - 3.0) < 4 * se(crisis)
    assert whole.ci_low - 0.05 <= 1.8 <= whole.ci_high + 0.05
    # the same numbers appear in the metric table
    m = {(r.strategy, r.key): r for r in strategy_metrics(a)}
    assert m[("h1", "cost_rate_regime_calm")].est.value == pytest.approx(calm.value, rel=1e-12)
    assert m[("h1", "cost_rate_regime_crisis")].est.value == pytest.approx(crisis.value, rel=1e-12)


# ----------------------------------------------------------------------------------------------
# Claim 2: a -40% day becomes a -8% day
# ----------------------------------------------------------------------------------------------


def _crash_run(retained, n=400, t1=64, p_crash=0.01, seed=3, regime=None, names=("single",), crash_where=None):
    """Unhedged crash days lose U(45, 60)% of capital; hedge h keeps ``retained[h]`` of that loss."""
    rng = np.random.default_rng(seed)
    u = condor_days(rng, n, t1)
    crash = rng.random((n, t1)) < p_crash
    if crash_where is not None:
        crash &= crash_where
    u = np.where(crash, -CAP * rng.uniform(0.45, 0.60, (n, t1)), u)
    out = [u]
    for k in retained:
        noise = CAP * 0.01 * rng.standard_normal((n, t1))
        out.append(np.where(crash, k * u + noise, u - CAP * 0.015 / STEPS))
    return build(np.stack(out), regime=regime, regime_names=names), crash


def test_claim2_supported_refuted_undecided():
    a, crash = _crash_run([0.1, 0.9, 0.2])
    rows = claim_check(a)
    cut90, cut10, edge = (rows_of(rows, 2, f"h{i}") for i in (1, 2, 3))
    assert cut90.verdict == "supported"
    assert cut10.verdict == "refuted"
    assert edge.verdict == "not decidable"  # retains exactly the threshold share 8/40
    k = int(crash.sum())
    assert k >= 200  # ~0.01 * 400 * 64 = 256 crash path-days by construction
    for r, share in ((cut90, 0.1), (cut10, 0.9), (edge, 0.2)):
        assert r.n == k
        assert r.ci_low <= share <= r.ci_high
        assert "<= -40% of capital" in r.note
        assert "worst" not in r.note  # no fallback needed


def test_claim2_too_few_days_not_decidable():
    # 50 paths x 21 days = 1050 path-days, no crash: the fallback (worst 0.1%) has ~1 path-day
    a, _ = _crash_run([0.1], n=50, t1=21, p_crash=0.0)
    r = rows_of(claim_check(a), 2, "h1")
    assert r.verdict == "not decidable"
    assert r.n < 30
    assert "worst 0.10%" in r.note and "min_n" in r.note


def test_claim2_fallback_to_worst_path_days():
    # No -40% day; the hedge cuts by 90% every unhedged loss beyond 2.5% of capital (the worst
    # ~0.3% of days, so all of the worst 0.1%): retained share 0.1 on the fallback days.
    rng = np.random.default_rng(4)
    n, t1 = 400, 253
    u = condor_days(rng, n, t1, mean_pct=0.0)
    h = np.where(u < -0.025 * CAP, 0.1 * u, u - CAP * 0.015 / STEPS)
    a = build(np.stack([u, h]))
    r = rows_of(claim_check(a), 2, "h1")
    assert "worst 0.10%" in r.note and r.note.startswith("FALLBACK")
    assert r.n == pytest.approx(0.001 * n * t1, abs=2)
    assert r.value == pytest.approx(0.1, abs=1e-9)
    # the statistic on the worst days is shown, but the claim's own -40% day never happened
    assert r.verdict == "not decidable"


def test_claim2_per_regime_crash_days():
    # crashes only on crisis-regime days: the calm row has no crash day (not decidable, n = 0),
    # the crisis row has them all.
    rng = np.random.default_rng(5)
    n, t1 = 400, 64
    regime = (rng.random((n, t1)) < 0.3).astype(np.int8)
    a, crash = _crash_run([0.1], n=n, t1=t1, p_crash=0.03, regime=regime, names=("calm", "crisis"),
                          crash_where=regime == 1)
    rows = claim_check(a)
    calm, crisis = rows_of(rows, 2, "h1", "calm"), rows_of(rows, 2, "h1", "crisis")
    assert calm.n == 0 and calm.verdict == "not decidable" and math.isnan(calm.value)
    assert crisis.n == int(crash.sum()) and crisis.verdict == "supported"


# ----------------------------------------------------------------------------------------------
# Claim 3: delta near neutral around event days
# ----------------------------------------------------------------------------------------------


def _delta_run(event_every=5, hedge_on_events=True, n=300, t1=40, seed=6):
    """Unhedged delta -0.15 + N(0, 0.03); hedged delta N(0, 0.01) on event days and the day before
    each (the measured window), else unhedged.

    Mean |delta| of the hedge in the window = 0.01 sqrt(2 / pi) = 0.008 (half-normal mean);
    on every day it would be ~0.6 * 0.15 + 0.4 * 0.008 = 0.09.
    """
    rng = np.random.default_rng(seed)
    event = np.zeros(t1, bool)
    if event_every:
        event[1::event_every] = True
    window = event.copy()
    window[:-1] |= event[1:]
    du = -0.15 + 0.03 * rng.standard_normal((n, t1))
    dh = np.where(window[None, :] & hedge_on_events, 0.01 * rng.standard_normal((n, t1)), du)
    missing = rng.random((n, t1)) < 0.1  # no condor open: not measured
    du[missing] = np.nan
    dh[missing] = np.nan
    delta = np.stack([du, dh, du.copy()])  # h2: no hedge effect at all
    daily = np.stack([condor_days(rng, n, t1)] * 3)
    return build(daily, delta=delta, event_day=event), event, missing


def test_claim3_event_days_used_when_present():
    a, event, missing = _delta_run()
    rows = claim_check(a)
    r = rows_of(rows, 3, "h1")
    assert r.verdict == "supported"
    window = event.copy()
    window[:-1] |= event[1:]                      # event days and the close before each
    assert r.n == int((window[None, :] & ~missing).sum())
    assert abs(r.value - 0.01 * math.sqrt(2 / math.pi)) < 0.002
    assert "event days" in r.statistic and "unhedged mean |delta| 0.15" in r.note
    assert "premise: unhedged mean delta -0.15" in r.note
    same = rows_of(rows, 3, "h2")
    assert same.verdict == "refuted"  # no reduction and far from neutral
    assert same.value == pytest.approx(0.15, abs=0.01)


def test_claim3_all_days_without_events():
    # same hedge, but the scenario has no event days: every measured day counts -> refuted
    a, _, missing = _delta_run(event_every=5)
    a.event_day = np.zeros_like(a.event_day)
    r = rows_of(claim_check(a), 3, "h1")
    assert r.n == int((~missing).sum())
    assert "no event day" in r.statistic
    assert r.value == pytest.approx(0.6 * 0.15 + 0.4 * 0.01 * math.sqrt(2 / math.pi), abs=0.01)
    assert r.verdict == "refuted"


def test_claim3_reduction_is_paired():
    # Hedged delta = 0.95 x unhedged delta on the same path-days (near neutral already: mean |delta|
    # ~0.04 < 0.05). The reduction, 5% of ~0.04 = 0.002, is exact up to the paired noise (none
    # here), so its paired CI is far above 0 -> supported; an unpaired SE (~0.0025 from the path
    # effect) would leave the reduction's CI straddling 0 -> not decidable.
    rng = np.random.default_rng(7)
    n, t1 = 300, 40
    du = 0.03 + 0.03 * rng.standard_normal((n, 1)) + 0.02 * rng.standard_normal((n, t1))
    delta = np.stack([du, 0.95 * du])
    a = build(np.stack([condor_days(rng, n, t1)] * 2), delta=delta)
    r = rows_of(claim_check(a), 3, "h1")
    assert r.ci_high <= 0.05
    assert r.verdict == "supported"
    assert "paired reduction 0.002" in r.note


# ----------------------------------------------------------------------------------------------
# Claim 4: capital preserved in tail events
# ----------------------------------------------------------------------------------------------


def test_claim4_cvar_reduction():
    rng = np.random.default_rng(8)
    n, t1 = 4000, 21                                   # 40 paths in the 1% tail (>= min_n)
    daily = np.stack([condor_days(rng, n, t1)] * 3)
    pnl_u = CAP * (0.10 - 0.5 * rng.standard_exponential(n) ** 1.5)  # fat left tail
    pnl_good = pnl_u - 0.015 * CAP + np.maximum(-0.3 * CAP - pnl_u, 0.0) * 0.8  # pays 80% beyond -30%
    pnl_bad = np.where(pnl_u < -0.3 * CAP, 1.2 * pnl_u, pnl_u + 0.01 * CAP)      # worse in the tail
    a = build(daily, pnl=np.stack([pnl_u, pnl_good, pnl_bad]))
    rows = claim_check(a)
    good, bad = rows_of(rows, 4, "h1"), rows_of(rows, 4, "h2")
    assert good.verdict == "supported" and bad.verdict == "refuted"
    assert good.ci_low > 0.1 * float(good.note.split("unhedged ")[1].split("%")[0])   # material: > 10% of CVaR
    assert good.n == n and good.regime == "all" and "regime 'all' only" in good.note
    loss = lambda p: -p / CAP * 100.0 / a.years  # noqa: E731
    ref, _ = mx.cvar_difference(loss(pnl_u), loss(pnl_good), 0.99)
    assert (good.value, good.ci_low, good.ci_high) == pytest.approx((ref.value, ref.ci_low, ref.ci_high), rel=1e-12)
    # no regime rows for claim 4 even with several regimes
    a.regime_names = ["calm", "crisis"]
    assert {r.regime for r in claim_check(a) if r.claim == 4} == {"all"}


# ----------------------------------------------------------------------------------------------
# Rows, thresholds, levels
# ----------------------------------------------------------------------------------------------


def test_claim_rows_layout_and_kinds():
    rng = np.random.default_rng(9)
    n, t1 = 100, 30
    regime = (rng.random((n, t1)) < 0.5).astype(np.int8)
    daily = np.stack([condor_days(rng, n, t1)] * 4)
    a = build(daily, regime=regime, regime_names=("calm", "crisis"), kinds=["unhedged", "alvh", "baseline", "sweep"])
    rows = claim_check(a)
    # per hedged strategy: claims 1-3 for all + 2 regimes, claim 4 once = 10 rows
    assert len(rows) == 30
    assert {r.strategy for r in rows} == {"h1", "h2", "h3"}
    assert {(r.claim, r.regime) for r in rows if r.strategy == "h1"} == {
        (c, g) for c in (1, 2, 3) for g in ("all", "calm", "crisis")} | {(4, "all")}
    for r in rows:
        assert r.verdict in ("supported", "refuted", "not decidable")
        assert isinstance(r.n, int) and r.text == CLAIM_TEXTS[r.claim]
    # a run whose hedges change nothing supports nothing
    assert not any(r.verdict == "supported" for r in rows)


def test_claim_texts_follow_the_source():
    # ../shared/ALVH.md, "Claims the project exists to test"
    assert "1-2% a year" in CLAIM_TEXTS[1] and "1.2% and 2.1%" in CLAIM_TEXTS[1]
    assert "-40% day into a -8% day" in CLAIM_TEXTS[2]
    assert "-0.15" in CLAIM_TEXTS[3] and "event days" in CLAIM_TEXTS[3]
    assert "tail events" in CLAIM_TEXTS[4]


def test_thresholds_defaults_and_validation():
    th = ClaimThresholds()
    assert (th.cost_band, th.crash_loss_pct, th.retained_max, th.crash_min_days, th.fallback_quantile,
            th.near_neutral_delta, th.min_n, th.level) == ((1.0, 2.0), 40.0, 0.2, 30, 0.999, 0.05, 30, 0.95)
    assert th.retained_max == pytest.approx(8 / 40)
    for bad in (dict(cost_band=(2.0, 1.0)), dict(level=1.0), dict(fallback_quantile=0.0), dict(min_n=0),
                dict(retained_max=-0.1)):
        with pytest.raises(ValueError):
            replace(th, **bad)


def test_min_n_and_level_change_verdicts():
    # per-path annual cost sd = 0.005 sqrt(21) / (21 / 252) = 0.27 % a year: 40 paths suffice
    a = _cost_run([1.5], n=40, t1=21, noise_pct=0.005)
    r = rows_of(claim_check(a), 1, "h1")
    assert r.verdict == "supported"
    assert rows_of(claim_check(a, ClaimThresholds(min_n=41)), 1, "h1").verdict == "not decidable"
    wide = rows_of(claim_check(a, ClaimThresholds(level=0.999)), 1, "h1")
    assert wide.ci_low <= r.ci_low and wide.ci_high >= r.ci_high
    # claim 2 with a 99.9% level: a normal CI 3.29 / 1.96 times as wide
    b, _ = _crash_run([0.1])
    r95 = rows_of(claim_check(b), 2, "h1")
    r999 = rows_of(claim_check(b, ClaimThresholds(level=0.999)), 2, "h1")
    ratio = (r999.ci_high - r999.ci_low) / (r95.ci_high - r95.ci_low)
    assert ratio == pytest.approx(stats.norm.ppf(0.9995) / stats.norm.ppf(0.975), rel=1e-9)


# ----------------------------------------------------------------------------------------------
# strategy_metrics
# ----------------------------------------------------------------------------------------------

COMMON = {"pnl_mean", "var95_annual", "cvar95_annual", "var99_annual", "cvar99_annual", "var95_daily",
          "cvar95_daily", "var99_daily", "cvar99_daily", "max_drawdown_mean", "worst_day_mean",
          "peak_capital_used_median", "leg_long_put_pnl_mean", "leg_short_put_pnl_mean",
          "leg_short_call_pnl_mean", "leg_long_call_pnl_mean", "condor_costs_mean"}
HEDGED = {"cvar95_annual_reduction", "cvar99_annual_reduction", "cvar95_daily_reduction",
          "cvar99_daily_reduction", "max_drawdown_change", "worst_day_change", "cost_mean", "cost_median",
          "cost_q05", "cost_q95", "cost_share_1_2", "hedge_efficiency", "convexity", "layer1_pnl_mean",
          "hedge_premium_mean", "hedge_payoff_mean", "hedge_spread_mean", "hedge_commission_mean",
          "hedge_active_share_mean"}


def test_metric_keys_and_units():
    rng = np.random.default_rng(10)
    n, t1 = 200, 30
    regime = (rng.random((n, t1)) < 0.3).astype(np.int8)
    a = _cost_run([1.5, 3.0], n=n, t1=t1, regime=regime, names=("calm", "High vol"))
    rows = strategy_metrics(a)
    assert all(isinstance(r, MetricRow) for r in rows)
    keys = {s: {r.key for r in rows if r.strategy == s} for s in ("unhedged", "h1", "h2")}
    regime_common = {"cvar99_daily_regime_calm", "cvar99_daily_regime_high_vol"}
    regime_hedged = {"cost_rate_regime_calm", "cost_rate_regime_high_vol"}
    assert keys["unhedged"] == COMMON | regime_common
    assert keys["h1"] == keys["h2"] == COMMON | regime_common | HEDGED | regime_hedged
    # one label and unit per key, whatever the strategy
    per_key = {}
    for r in rows:
        assert per_key.setdefault(r.key, (r.label, r.units)) == (r.label, r.units)
        assert np.isfinite(r.est.value), r.key
    assert per_key["cvar99_daily"][1] == "% of capital"
    assert per_key["cost_median"][1] == "% of capital per year"
    assert per_key["convexity"][1] == "1"
    # a single-regime model has no regime keys
    b = _cost_run([1.5], n=n, t1=t1)
    assert not any("regime" in r.key for r in strategy_metrics(b))


def test_metric_values_against_direct_estimates():
    a, _ = _crash_run([0.1, 0.9], n=300, t1=40)
    m = {(r.strategy, r.key): r.est for r in strategy_metrics(a)}
    per_year = lambda usd: usd / CAP * 100.0 / a.years  # noqa: E731
    ps = a.per_strategy
    assert same(m[("h1", "pnl_mean")], mx.mean(per_year(ps["pnl"][1])))
    loss_u = -a.daily_pnl[0] / CAP * 100
    loss_1 = -a.daily_pnl[1] / CAP * 100
    v, c, _ = mx.pooled_var_cvar(loss_1, 0.99)
    assert same(m[("h1", "cvar99_daily")], c) and same(m[("h1", "var99_daily")], v)
    d, _ = mx.pooled_cvar_difference(loss_u, loss_1, 0.99)
    got = m[("h1", "cvar99_daily_reduction")]
    assert got.value == pytest.approx(d.value, rel=1e-12) and got.se == pytest.approx(d.se, rel=1e-10)
    # the 90% cut lowers the daily tail by far more than the 10% cut
    assert m[("h1", "cvar99_daily_reduction")].ci_low > m[("h2", "cvar99_daily_reduction")].ci_high > 0
    diff, infl = mx.cvar_difference(-per_year(ps["pnl"][0]), -per_year(ps["pnl"][1]), 0.99)
    assert same(m[("h1", "cvar99_annual_reduction")], diff)
    assert same(m[("h1", "hedge_efficiency")], mx.ratio(diff, infl, ps["hedge_cost_annual_pct"][1]))
    assert same(m[("h1", "cost_median")], mx.quantile(ps["hedge_cost_annual_pct"][1], 0.5))
    assert same(m[("h1", "max_drawdown_change")], mx.mean((ps["max_drawdown"][1] - ps["max_drawdown"][0]) / CAP * 100))
    assert same(m[("h1", "layer1_pnl_mean")], mx.mean(per_year(a.layer_pnl[1, 0])))
    assert same(m[("unhedged", "leg_short_put_pnl_mean")], mx.mean(per_year(a.condor_leg_pnl[1])))
    assert m[("h1", "leg_short_put_pnl_mean")] == m[("unhedged", "leg_short_put_pnl_mean")]
    assert ("h1", "layer2_pnl_mean") not in m  # all-zero layer: absent


def test_convexity_known_answer():
    # Unhedged days i.i.d. N(0, sigma), sigma = 1% of capital; hedge P&L = -k + g (L - q)^+ with
    # L the unhedged loss and q its 99% quantile. Per day: cost = k - g E, hedge P&L on the worst
    # 1% of days = -0.01 k + g E, with E = E[(L - q)^+] = sigma (phi(z) - 0.01 z) (normal tail
    # expectation, McNeil-Frey-Embrechts ch. 2). Convexity = (-0.01 k + g E) / (k - g E).
    rng = np.random.default_rng(11)
    n, t1, sigma, k, g = 5000, 64, 0.01 * CAP, 1000.0, 10.0
    z = stats.norm.ppf(0.99)
    e = sigma * (stats.norm.pdf(z) - 0.01 * z)
    truth = (-0.01 * k + g * e) / (k - g * e)
    u = sigma * rng.standard_normal((n, t1))
    h = u - k + g * np.maximum(-u - sigma * z, 0.0)
    a = build(np.stack([u, h]))
    est = {r.key: r.est for r in strategy_metrics(a) if r.strategy == "h1"}["convexity"]
    assert truth == pytest.approx(0.497, abs=0.001)
    assert abs(est.value - truth) < 4 * est.se
    assert est.se < 0.05 * truth
    # a hedge that only costs: convexity -0.01 (its tail share of the cost, with the sign of P&L)
    a2 = build(np.stack([u, u - k - 0.1 * k * rng.standard_normal((n, t1))]))
    est2 = {r.key: r.est for r in strategy_metrics(a2) if r.strategy == "h1"}["convexity"]
    assert abs(est2.value + 0.01) < 4 * est2.se + 1e-3


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------


def test_runarrays_validation():
    rng = np.random.default_rng(12)
    good = build(np.stack([condor_days(rng, 20, 10)] * 2))
    fields = {f: getattr(good, f) for f in good.__dataclass_fields__}
    bad_cases = [
        dict(strategies=[StrategyInfo("alvh", "x", "alvh"), StrategyInfo("u", "y", "unhedged")]),
        dict(daily_pnl=good.daily_pnl[:, :, :-1]),
        dict(daily_delta=good.daily_delta[:1]),
        dict(regime=good.regime[:, :-1]),
        dict(regime=good.regime + 1),                         # label 1 with one regime name
        dict(regime=good.regime.astype(float)),
        dict(event_day=np.zeros(good.n_days, int)),
        dict(layer_pnl=good.layer_pnl[:, :, :-1]),
        dict(condor_leg_pnl=good.condor_leg_pnl[:3]),
        dict(per_strategy={k: v for k, v in good.per_strategy.items() if k != "pnl"}),
        dict(per_strategy={**good.per_strategy, "worst_day": good.per_strategy["worst_day"][:, :-1]}),
        dict(per_path={"condor_commission": np.zeros(3)}),
        dict(capital=0.0),
        dict(years=float("nan")),
    ]
    for bad in bad_cases:
        with pytest.raises(ValueError):
            RunArrays(**{**fields, **bad})
    assert good.n_paths == 20 and good.n_days == 10


def test_single_path_replay():
    # One path (the historical replay): values are that path's own, errors NaN, no verdicts.
    rng = np.random.default_rng(14)
    u = condor_days(rng, 1, 40)
    one = build(np.stack([u, u - CAP * 0.015 / STEPS]))
    m = {(r.strategy, r.key): r.est for r in strategy_metrics(one)}
    assert m[("h1", "pnl_mean")].value == pytest.approx(one.per_strategy["pnl"][1, 0] / CAP * 100 / one.years)
    assert m[("h1", "cost_median")].value == pytest.approx(1.5, rel=1e-9)
    assert m[("unhedged", "cvar99_daily")].value == pytest.approx(var_cvar(-u[0] / CAP * 100, 0.99)[1].value,
                                                                   rel=1e-12)
    assert all(math.isnan(e.se) and math.isnan(e.ci_low) and math.isnan(e.ci_high) for e in m.values())
    rows = claim_check(one)
    assert len(rows) == 4 and all(r.verdict == "not decidable" and math.isnan(r.ci_low) for r in rows)
    r1 = rows_of(rows, 1, "h1")
    assert r1.n == 1 and r1.value == pytest.approx(1.5, rel=1e-9)
    assert rows_of(rows, 3, "h1").n == 40


def test_non_finite_daily_pnl_raises():
    rng = np.random.default_rng(13)
    daily = np.stack([condor_days(rng, 50, 10)] * 2)
    daily[1, 3, 4] = np.nan
    a = build(daily)
    with pytest.raises(ValueError, match="non-finite"):
        strategy_metrics(a)
    daily[1, 3, 4] = 0.0
    daily[0, 0, 0] = np.inf
    a = build(daily)
    with pytest.raises(ValueError, match="non-finite"):
        claim_check(a)


def test_claim4_needs_a_material_cut_and_a_tail_of_min_n_paths():
    # a hedge that cuts every annual loss by a tiny constant: significant under common random
    # numbers, but far below 10% of the CVaR -> refuted as "preserves capital"
    rng = np.random.default_rng(9)
    n, t1 = 4000, 21
    daily = np.stack([condor_days(rng, n, t1)] * 2)
    pnl_u = CAP * (0.10 - 0.5 * rng.standard_exponential(n) ** 1.5)
    a = build(daily, pnl=np.stack([pnl_u, pnl_u + 0.001 * CAP]))
    r = rows_of(claim_check(a), 4, "h1")
    assert r.ci_low > 0 and r.verdict == "refuted"
    # 2,000 paths leave 20 in the 1% tail: not decidable whatever the cut
    a = build(daily[:, :2000], pnl=np.stack([pnl_u[:2000], pnl_u[:2000] + 0.5 * CAP]))
    r = rows_of(claim_check(a), 4, "h1")
    assert r.verdict == "not decidable" and "1% tail" in r.note
