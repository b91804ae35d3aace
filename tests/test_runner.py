"""Chunked runner: reproducibility across workers, chunk seeding, per-path reduction."""

from __future__ import annotations

import numpy as np
import pytest

from sim.runner import PATH_FIELDS, run, simulate_chunk


def test_results_identical_for_one_and_two_workers(tiny_prepared):
    a = run(tiny_prepared, 300, seed=7, jobs=1, progress=False)
    b = run(tiny_prepared, 300, seed=7, jobs=2, progress=False)
    for key in PATH_FIELDS:
        assert np.array_equal(a.per_path[key], b.per_path[key]), key
    assert np.array_equal(a.sample_spx, b.sample_spx)
    assert np.array_equal(a.sample_path_index, b.sample_path_index)


def test_chunk_i_is_seeded_by_child_i_of_the_path_stream(tiny_prepared):
    sc = tiny_prepared.scenario
    res = run(tiny_prepared, 300, seed=7, jobs=1, progress=False)  # chunks of 128: 128, 128, 44
    child2 = np.random.SeedSequence(7).spawn(2)[0].spawn(3)[2]
    tp = tiny_prepared
    chunk = simulate_chunk(
        child2, 44, tp.model, tp.s0, tp.var0, tp.regime0, sc.n_steps, tp.dt, sc.market, sc.condor,
        sc.alvh, tp.table, tp.surface, 4,
    )
    for key in PATH_FIELDS:
        assert np.array_equal(res.per_path[key][256:], chunk[key]), key
    # and a different seed gives different paths
    other = run(tiny_prepared, 300, seed=8, jobs=1, progress=False)
    assert not np.array_equal(other.per_path["spx_return"], res.per_path["spx_return"])


def test_per_path_summaries_are_consistent(tiny_prepared):
    res = run(tiny_prepared, 300, seed=7, jobs=1, progress=False)
    pp = res.per_path
    assert all(v.shape == (300,) for v in pp.values())
    hedge = pp["pnl_hedged"] - pp["pnl_unhedged"]
    years = tiny_prepared.scenario.n_steps * tiny_prepared.dt
    cap = tiny_prepared.scenario.market.capital
    assert np.allclose(-hedge / cap / years * 100.0, pp["hedge_cost_annual_pct"], atol=1e-9)
    assert np.allclose(hedge, pp["hedge_payoff"] - pp["hedge_premium"] - pp["hedge_spread_cost"] - pp["hedge_commission"],
                       atol=1e-6)
    # capital in use: at most the margin share of capital plus a year of hedge premium at most
    sc = tiny_prepared.scenario
    bound = 100 * sc.condor.margin_fraction + sc.alvh.budget_pct_per_year * max(
        (o - r) / 365 for o, r in zip(sc.alvh.dte_open, sc.alvh.dte_roll)) * len(sc.alvh.dte_open) + 1e-9
    assert np.all(pp["peak_capital_used_pct"] > 0) and np.all(pp["peak_capital_used_pct"] <= bound)
    assert np.all(pp["peak_capital_used_pct"] >= 0.9 * 100 * sc.condor.margin_fraction)
    assert np.all(pp["max_drawdown_unhedged"] >= 0) and np.all(pp["worst_day_unhedged"] <= pp["max_drawdown_unhedged"])
    # 4 sample paths kept per chunk, with their global indices
    assert res.sample_spx.shape == (12, tiny_prepared.scenario.n_steps + 1)
    assert list(res.sample_path_index) == [0, 1, 2, 3, 128, 129, 130, 131, 256, 257, 258, 259]
    assert np.allclose(res.sample_cum_hedged[:, -1], pp["pnl_hedged"][res.sample_path_index])


def test_initial_variance_choices(tiny_scenario, tiny_prepared, tmp_path):
    import dataclasses

    from sim.modelspec import build_model, write_params

    write_params(tmp_path / "h.json", "heston", tiny_prepared.model, tiny_prepared.fit)
    dt = tiny_prepared.dt
    p = tiny_prepared.model.params
    for v0, expected in (("last", float(tiny_prepared.model.var_from_vix(tiny_prepared.data.vix[-1:])[0])),
                         ("theta", p.theta), ("default", p.theta), (0.05, 0.05)):
        sc = dataclasses.replace(tiny_scenario, model={**tiny_scenario.model, "params": str(tmp_path / "h.json"),
                                                       "v0": v0})
        _, _, var0, regime0 = build_model(sc, tiny_prepared.data, dt)
        assert var0 == pytest.approx(expected, rel=1e-12) and regime0 == 0, v0
    # the last VIX of 2018 (25.4) is far above the long-run level: the two choices must differ
    assert abs(p.theta - tiny_prepared.var0) > 0.02
