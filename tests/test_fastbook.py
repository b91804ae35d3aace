"""The compiled engine (sim/fastbook/) against the numpy engine of alvh.strategy.run_books.

Every configuration runs on the same simulated paths of the tiny scenario (tests/data/tiny.toml) once
compiled and once on the numpy engine (the reference, with its trade log), and every output array of
the BookResult must agree to 1e-10 relative (NaN where the reference has NaN). The trade log of the
reference is used to check that each rule under test actually fires on these paths, so that a rule
dropped from the kernel cannot pass unnoticed.
"""

from __future__ import annotations

import collections
import dataclasses
import math

import numpy as np
import pytest

from alvh import fastbook
from alvh.strategy import CondorSpec, HedgeSpec, LayerSpec, run_books

N_PATHS = 160

CONDOR_FIELDS = ("condor_pnl", "condor_leg_pnl", "condor_delta", "condor_spread_cost", "condor_commission",
                 "condor_credit", "n_condors", "n_profit_takes", "n_stops", "n_dte_closes", "condor_contracts",
                 "condor_peak_capital")
HEDGE_FIELDS = ("pnl", "layer_pnl", "premium", "premium_by_layer", "payoff", "spread_cost", "commission",
                "active_share", "peak_capital", "delta", "n_entries", "n_cap_bound")


@pytest.fixture(scope="module")
def market_paths(tiny_prepared):
    """160 P-paths of the tiny scenario (63 daily steps) and the pricing inputs."""
    from alvh.models.stress import simulate_with_overlays

    pr = tiny_prepared
    sc = pr.scenario
    dt = 1.0 / sc.simulation["steps_per_year"]
    rng = np.random.default_rng(20240611)
    paths = simulate_with_overlays(pr.model, pr.model.initial_state(pr.s0, N_PATHS, pr.var0, pr.regime0),
                                   sc.n_steps, dt, rng)
    return dict(spot=paths.spot, var=paths.var, vix=paths.vix, surface=pr.surface, market=pr.market,
                condor=sc.condor, table=pr.table, dt=dt, hedges=sc.hedges)


def _close(name, a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    assert a.shape == b.shape, name
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{name}: NaN in different places"
    ok = ~np.isnan(b)
    scale = float(np.max(np.abs(b[ok]))) if ok.any() else 0.0
    # 1e-10 relative, elementwise, with the array's own scale as the floor (daily P&L cancels to ~0)
    tol = 1e-10 * np.maximum(np.abs(b[ok]), scale)
    err = np.abs(a[ok] - b[ok])
    assert np.all(err <= tol), f"{name}: max error {err.max():.3g} (scale {scale:.3g})"


def _compare(fast, ref):
    for f in CONDOR_FIELDS:
        _close(f, getattr(fast, f), getattr(ref, f))
    assert len(fast.hedges) == len(ref.hedges)
    for hf, hr in zip(fast.hedges, ref.hedges):
        assert hf.name == hr.name
        for f in HEDGE_FIELDS:
            _close(f"{hr.name}.{f}", getattr(hf, f), getattr(hr, f))


def _run_both(mp, hedges, condor=None, measure=True):
    """Compiled and reference results, and the reference's trade actions counted per (book, layer, action)."""
    condor = mp["condor"] if condor is None else condor
    t_len = mp["spot"].shape[1]
    md = np.ones(t_len, dtype=bool) if measure else None
    args = (mp["spot"], mp["var"], mp["vix"], mp["surface"], mp["market"], condor, tuple(hedges), mp["table"], mp["dt"])
    ok, why = fastbook.supported(*args, measure_days=md)
    assert ok, why
    fast = fastbook.run_books_compiled(*args, measure_days=md)
    ref = run_books(*args, measure_days=md, trace=True)      # trace=True: always the numpy engine
    _compare(fast, ref)
    acts = collections.Counter((b, layer, a) for _, _, b, layer, a, _, _ in ref.trades)
    return fast, ref, acts


def _alvh(**kw):
    layers = (
        LayerSpec(0.4, 7.0, 4.0, "call", "breakeven", trigger="condor_decay", decay_share=0.4),
        LayerSpec(0.4, 45.0, 30.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=16.0),
        LayerSpec(0.2, 90.0, 60.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=16.0),
    )
    return HedgeSpec(**{"layers": layers, **kw})


def test_bench_configuration_matches_and_every_rule_fires(market_paths):
    """The benchmark's ALVH (scenarios/bench.toml): condor + three VIX-call layers."""
    fast, ref, acts = _run_both(market_paths, [_alvh()])
    n = lambda act, book="alvh", layer=None: sum(  # noqa: E731
        c for (b, ly, a), c in acts.items() if b == book and a == act and (layer is None or ly == layer))
    # condor rules
    assert ref.n_profit_takes.sum() > 0 and ref.n_stops.sum() > 0 and ref.n_condors.sum() > N_PATHS
    # hedge rules: every layer opens, layer 1 rolls, exits at 2x and by RSI, settlements
    for layer in (1, 2, 3):
        assert n("open", layer=layer) > 0, layer
    assert n("roll", layer=1) > 0
    assert n("exit_multiple") > 0
    assert n("rsi_exit") > 0
    assert np.isfinite(ref.hedges[0].delta).any()
    assert ref.hedges[0].active_share.max() > 0


def test_caps_bind_identically(market_paths):
    fast, ref, acts = _run_both(market_paths, [_alvh(deepest_layer_cap=0.002, margin_share_cap=0.004,
                                                     budget_pct_per_year=6.0)])
    cap = ref.hedges[0].n_cap_bound
    assert cap[2].sum() > 0          # deepest_layer_cap
    assert cap[:2].sum() > 0         # margin_share_cap


def test_condor_variants_close_dte_wing_delta_no_time_shift(market_paths):
    condor = dataclasses.replace(market_paths["condor"], close_dte=21.0, wing_delta=0.05, time_shift=False,
                                 entry_interval_days=1, profit_take=0.3)
    fast, ref, acts = _run_both(market_paths, [_alvh(stagger_days=2)], condor=condor)
    assert ref.n_dte_closes.sum() > 0 and ref.n_profit_takes.sum() > 0


def test_time_shifted_entries(market_paths):
    condor = dataclasses.replace(market_paths["condor"], time_shift_vix=0.0, dte=20.0)
    fast, ref, acts = _run_both(market_paths, [], condor=condor)
    assert ref.n_condors.sum() > 0


def test_condors_held_to_expiry_settle(market_paths):
    condor = dataclasses.replace(market_paths["condor"], dte=10.0, time_shift=False, profit_take=0.999,
                                 stop_multiple=50.0)
    held = HedgeSpec(name="held", layers=(LayerSpec(0.6, 7.0, 0.0, "call", "otm", 0.05, trigger="always"),
                                          LayerSpec(0.4, 10.0, 0.0, "spx_put_spread", "otm", strike_otm=0.02,
                                                    spread_width=50.0, trigger="always")),
                     exit_multiple=0.0, rsi_exit=0.0)
    fast, ref, acts = _run_both(market_paths, [_alvh(), held], condor=condor)
    assert acts[("condor", 0, "expire")] > 0
    assert acts[("held", 1, "settle")] > 0 and acts[("held", 2, "settle")] > 0


def test_several_hedges_with_every_instrument_trigger_and_sizing(market_paths):
    """Several books at once: call spreads, short credit spreads (vix_sustained), futures and calls
    sized by vega, SPX put spreads by delta and by otm, bands sizing, stagger."""
    press = LayerSpec(0.2, 14.0, 3.0, "short_call_spread", "otm", 0.1, spread_width=5.0, trigger="vix_sustained",
                      trigger_vix=14.0, trigger_days=3)
    hedges = [
        _alvh(name="alvh"),
        HedgeSpec(name="texts", layers=(
            LayerSpec(0.4, 7.0, 4.0, "call", "breakeven", trigger="condor_decay", decay_share=0.4),
            LayerSpec(0.4, 45.0, 30.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=16.0, sizing="vega"),
            LayerSpec(0.2, 90.0, 60.0, "call_spread", "otm", 0.1, spread_width=10.0, trigger="always"),
            press)),
        HedgeSpec(name="futures", layers=(LayerSpec(1.0, 30.0, 10.0, "future", "otm", trigger="always",
                                                    sizing="vega"),), exit_multiple=0.0, stagger_days=1),
        HedgeSpec(name="puts", layers=(
            LayerSpec(0.5, 45.0, 21.0, "spx_put_spread", "delta", strike_delta=0.25, spread_width=100.0,
                      trigger="always"),
            LayerSpec(0.5, 30.0, 10.0, "spx_put_spread", "otm", strike_otm=0.05, spread_width=50.0,
                      trigger="vix_above", trigger_vix=15.0, sizing="bands")),
            budget_bands=((10.0, 20.0, 3.0), (20.0, 60.0, 1.0)), rsi_exit=0.0),
    ]
    fast, ref, acts = _run_both(market_paths, hedges)
    opened = {(b, ly) for (b, ly, a) in acts if a == "open"}
    for book, n_layers in (("texts", 4), ("futures", 1), ("puts", 2)):
        for ly in range(1, n_layers + 1):
            assert (book, ly) in opened, (book, ly)
    assert any(a == "roll" and b == "puts" for (b, _, a) in acts)


def test_vix_delta_strike_rule_and_the_baselines(market_paths):
    """The issue-5 baselines (VXTH-style 30-delta VIX calls with bands sizing, static ladder, SPX put
    spread) and VIX call spreads struck by Black-76 delta, compiled against the numpy engine."""
    from alvh.strategy import baseline_hedges

    hedges = list(baseline_hedges(1.5)) + [
        HedgeSpec(name="delta_spreads", layers=(
            LayerSpec(0.5, 30.0, 10.0, "call_spread", "delta", strike_delta=0.5, spread_width=5.0, trigger="always"),
            LayerSpec(0.5, 60.0, 20.0, "call", "delta", strike_delta=0.1, trigger="vix_above", trigger_vix=15.0)),
            rsi_exit=0.0)]
    fast, ref, acts = _run_both(market_paths, hedges)
    opened = {(b, ly) for (b, ly, a) in acts if a == "open"}
    for book, ly in (("vxth", 1), ("delta_spreads", 1), ("delta_spreads", 2), ("spx_put_spread", 1)):
        assert (book, ly) in opened, (book, ly)


def test_vix_delta_strike_is_the_listed_strike_nearest_in_delta(market_paths):
    """The kernel's bisection against an exhaustive search: every listed strike's Black-76 delta
    (alvh.strategy's numpy function, implied volatility from the table price), the nearest kept."""
    from alvh.strategy import _black76_call_delta

    table = market_paths["table"]
    rate, dt = market_paths["market"].rate, market_paths["dt"]
    nodes, guide, futs, calls, strikes = fastbook._table_args(table)
    seen = set()
    for x in (11.0, 14.5, 19.0, 27.0, 45.0):
        for steps in (5, 21, 42):
            fut = float(table.futures(np.array([x]), steps)[0])
            n_k = strikes.size
            prices = table.call(np.full(n_k, x), steps, np.arange(n_k))
            d = _black76_call_delta(prices, fut, strikes, steps * dt, rate)
            d = np.where(np.isfinite(d), d, np.where(strikes < fut, 1.0, 0.0))
            for target in (0.1, 0.3, 0.5):
                want = strikes[np.argmin(np.abs(d - target))]
                got = fastbook._vix_delta_strike(x, steps, target, fut, steps * dt, rate, nodes, guide, calls, strikes)
                assert got == want, (x, steps, target, got, want)
                seen.add(got)
    assert len(seen) > 10          # the strikes move with the VIX, the maturity and the target


def test_pure_numpy_pricing_reference(market_paths):
    """Against the numpy engine with the numpy pricing too (no alvh.fastprice kernels)."""
    from alvh import fastprice

    mp = market_paths
    args = (mp["spot"], mp["var"], mp["vix"], mp["surface"], mp["market"], mp["condor"], (_alvh(),), mp["table"],
            mp["dt"])
    md = np.ones(mp["spot"].shape[1], dtype=bool)
    fast = fastbook.run_books_compiled(*args, measure_days=md)
    with fastbook.numpy_engine(), fastprice.numpy_reference():
        ref = run_books(*args, measure_days=md)
    _compare(fast, ref)


def test_dispatch_and_environment_switch(market_paths, monkeypatch):
    mp = market_paths
    args = (mp["spot"], mp["var"], mp["vix"], mp["surface"], mp["market"], mp["condor"], (_alvh(),), mp["table"],
            mp["dt"])
    calls = []
    real = fastbook.run_books_compiled
    monkeypatch.setattr(fastbook, "run_books_compiled", lambda *a, **k: calls.append(1) or real(*a, **k))
    run_books(*args)
    assert calls == [1]
    from alvh import switches

    monkeypatch.setattr(switches, "NUMPY_REFERENCE", True)     # ALVH_NUMPY_REFERENCE=1 at import
    run_books(*args)
    assert calls == [1]
    monkeypatch.setattr(switches, "NUMPY_REFERENCE", False)
    run_books(*args, trace=True)
    assert calls == [1]
    from alvh import fastprice

    with fastprice.numpy_reference():
        assert not fastbook.supported(*args)[0]
        run_books(*args)
    assert calls == [1]


@pytest.mark.parametrize("change, reason", [
    ("ssvi", "SsviSurface"),
    ("regime", "regime"),
    ("trace", "trace"),
    ("backwardation", "backwardation"),
])
def test_unsupported_inputs_are_refused_with_a_reason_and_run_on_numpy(market_paths, change, reason):
    from alvh.surface import SsviSurface

    mp = dict(market_paths)
    hedges = [_alvh()]
    kw = {}
    if change == "ssvi":
        mp["surface"] = SsviSurface(mp["surface"].model, mp["market"].smile)
    elif change == "regime":
        kw["regime"] = np.zeros(mp["spot"].shape, dtype=np.int8)
    elif change == "trace":
        kw["trace"] = True
    elif change == "backwardation":
        hedges = [HedgeSpec("h", "h", "sweep", (LayerSpec(1.0, 7.0, 4.0, trigger="backwardation"),))]
    args = (mp["spot"][:16], mp["var"][:16], mp["vix"][:16], mp["surface"], mp["market"], mp["condor"], hedges,
            mp["table"], mp["dt"])
    if "regime" in kw:
        kw["regime"] = kw["regime"][:16]
    ok, why = fastbook.supported(*args, **kw)
    assert not ok and reason in why
    out = run_books(*args, **kw)          # the numpy engine
    assert out.condor_pnl.shape == mp["spot"][:16].shape
    assert np.isfinite(out.condor_pnl).all()


def test_drawdown_and_worst_day_equal_the_numpy_summaries_bit_for_bit():
    """The one-pass compiled drawdown against alvh.runner's cumsum/accumulate version (the reference)."""
    from alvh.runner import _max_drawdown

    rng = np.random.default_rng(4)
    daily = rng.standard_t(3, size=(3, 50, 64)) * 1e4 + 20.0
    daily[1, 7] = -np.abs(daily[1, 7])        # a path that only falls: drawdown = minus its total
    daily[2, 3, 10] = np.nan                  # NaN propagates as in numpy
    got_dd, got_worst = fastbook.drawdown_and_worst_day(daily)
    want_dd, want_worst = _max_drawdown(daily), daily.min(axis=-1)
    assert np.array_equal(got_dd, want_dd, equal_nan=True)
    assert np.array_equal(got_worst, want_worst, equal_nan=True)
    assert np.isnan(got_dd[2, 3]) and got_dd[1, 7] == pytest.approx(-daily[1, 7].sum(), rel=1e-12)
    assert (got_dd > 0).mean() > 0.9          # not all zero: the test can fail
    with fastbook.numpy_engine():
        assert fastbook.drawdown_and_worst_day(daily) is None



def test_tick_strike_for_delta_equals_the_rounded_bisection(market_paths, monkeypatch):
    """The secant, walk and certificate of ``_tick_strike_for_delta`` give the 5-point grid strike the
    64-step bisection (``_strike_for_delta``, the numpy engine's algorithm) rounds to, and fail where
    it fails: puts and calls, condor and wing deltas, targets out of reach, maturities of 1 to 90
    days, variances from zero to ten times the paths' median. They decide almost every reachable case themselves (the
    bisection is the fallback), and the walk alone reaches the same strike from up to
    ``_WALK_STEPS`` grid steps below or above it, and no further."""
    mp = market_paths
    surface, market, dt = mp["surface"], mp["market"], mp["dt"]
    var_nodes, atm, coef, fp = fastbook._fourier_args(surface)
    rate, div = float(market.rate), float(market.div)
    rng = np.random.default_rng(7)
    s0 = float(mp["spot"][0, 0])
    v_med = float(np.median(mp["var"]))
    bisection = fastbook._strike_for_delta
    calls = {"n": 0}

    def counted(*a):
        calls["n"] += 1
        return bisection(*a)

    fast_py = fastbook._tick_strike_for_delta.py_func    # the same code, run by Python: its fallback is counted
    n_ok = n_fail = 0
    walk = fastbook._WALK_STEPS
    for steps in (1, 7, 30, 45, 90):
        tau = steps * dt
        consts = fastbook._numpy_bisection_constants(tau, rate, div)
        variances = [0.0, 1e-10] + [v_med * math.exp(rng.uniform(math.log(0.1), math.log(10.0))) for _ in range(12)]
        for v in variances:
            s = s0 * math.exp(rng.normal(0.0, 0.1))
            for target, is_call in ((-0.15, False), (0.15, True), (-0.05, False), (0.05, True), (-0.30, False),
                                    (-1.0, False), (1.0, True)):     # |delta| < e^{-q tau} < 1: out of reach
                got, ok = fastbook._tick_strike_for_delta(s, v, tau, target, is_call, consts, var_nodes, atm, coef, fp)
                kk, d = bisection(s, v, tau, target, is_call, consts, var_nodes, atm, coef, fp)
                if abs(d - target) > 1e-6:
                    assert not ok, (steps, s, v, target)
                    n_fail += 1
                    continue
                want = np.rint(kk / 5.0) * 5.0
                assert ok and got == want, (steps, s, v, target)
                monkeypatch.setattr(fastbook.spx, "_strike_for_delta", counted)
                assert fast_py(s, v, tau, target, is_call, consts, var_nodes, atm, coef, fp) == (want, True)
                monkeypatch.setattr(fastbook.spx, "_strike_for_delta", bisection)
                n_ok += 1
                if target != -0.15 or want - 2.5 * (2 * walk + 3) <= 0.0:
                    continue
                # the walk alone
                r0, gv, gt, ht, w_atm, den = fastbook._fourier_state(tau, v, var_nodes, atm, fp)
                state = (target, tau, is_call, s * consts[1], consts[2], consts[4], r0, gv, gt, ht, w_atm, den, coef, fp)
                for off in (-walk, -1, 1, walk):
                    assert fastbook._grid_walk(want + 5.0 * off, *state) == (want, True), off
                for off in (-walk - 1, walk + 1):
                    got_w, found = fastbook._grid_walk(want + 5.0 * off, *state)
                    assert not found and np.isnan(got_w), off
    assert n_ok >= 200 and n_fail >= 100
    assert calls["n"] <= 0.02 * n_ok, f"the bisection ran in {calls['n']} of {n_ok} cases"
    print(f"{n_ok} reachable, {n_fail} unreachable; bisection ran {calls['n']} times")


@pytest.mark.parametrize("target, is_call", [(0.15, True), (-0.15, False), (0.6, True), (-0.6, False), (-0.02, False)])
def test_flat_smile_guess_inverts_the_black_scholes_delta(target, is_call):
    """The secant's starting point: on a flat smile, the delta the search evaluates
    (``alvh.fastprice._bs_delta``) at ``K = F exp(m sd)`` is the target, to the accuracy of
    Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4 in the normal quantile)."""
    from alvh.fastprice import _bs_delta

    sd, dq, fwd = 0.08, 0.995, 2700.0
    m = fastbook._flat_smile_guess(target, is_call, sd, dq)
    delta = _bs_delta(fwd * math.exp(m * sd), sd, fwd, is_call, dq)
    # |d delta / d d1| <= dq * phi(0) < 0.4, so a quantile error of 4.5e-4 moves delta by < 1.8e-4
    assert abs(delta - target) < 1.8e-4


@pytest.mark.parametrize("target", [1.2, -1.2, 0.0, float("nan")])
def test_flat_smile_guess_starts_at_the_money_where_the_target_is_out_of_reach(target):
    assert fastbook._flat_smile_guess(target, target > 0, 0.08, 0.995) == 0.0
