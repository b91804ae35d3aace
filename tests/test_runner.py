"""Chunked runner: reproducibility across workers, chunk seeding, per-path reduction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alvh.runner import PATH_FIELDS, STRATEGY_FIELDS, measure_days, run, simulate_chunk, spot_vol_beta


@pytest.mark.slow
def test_results_identical_for_one_and_two_workers(tiny_prepared):
    a = run(tiny_prepared, 300, seed=7, jobs=1, progress=False)
    b = run(tiny_prepared, 300, seed=7, jobs=2, progress=False)
    for key in PATH_FIELDS:
        assert np.array_equal(a.per_path[key], b.per_path[key]), key
    for key in STRATEGY_FIELDS:
        assert np.array_equal(a.per_strategy[key], b.per_strategy[key]), key
    assert np.array_equal(a.daily_pnl, b.daily_pnl) and np.array_equal(a.layer_pnl, b.layer_pnl)
    assert np.array_equal(a.daily_delta, b.daily_delta, equal_nan=True)
    assert np.array_equal(a.sample_spx, b.sample_spx)
    assert np.array_equal(a.sample_path_index, b.sample_path_index)


def test_chunk_i_is_seeded_by_child_i_of_the_path_stream(tiny_prepared):
    sc = tiny_prepared.scenario
    res = run(tiny_prepared, 300, seed=7, jobs=1, progress=False)  # chunks of 128: 128, 128, 44
    child2 = np.random.SeedSequence(7).spawn(2)[0].spawn(3)[2]
    tp = tiny_prepared
    chunk = simulate_chunk(
        child2, 44, tp.model, tp.s0, tp.var0, tp.regime0, sc.n_steps, tp.dt, tp.market, sc.condor,
        sc.hedges, tp.table, tp.surface, 4, measure=measure_days(sc.n_steps, None)[1],
    )
    for key in PATH_FIELDS:
        assert np.array_equal(res.per_path[key][256:], chunk[key]), key
    for key in STRATEGY_FIELDS:
        assert np.array_equal(res.per_strategy[key][:, 256:], chunk[key]), key
    # and a different seed gives different paths
    other = run(tiny_prepared, 300, seed=8, jobs=1, progress=False)
    assert not np.array_equal(other.per_path["spx_return"], res.per_path["spx_return"])


def test_per_path_summaries_are_consistent(tiny_prepared):
    res = run(tiny_prepared, 300, seed=7, jobs=1, progress=False)
    pp, ps = res.per_path, res.per_strategy
    sc = tiny_prepared.scenario
    n_strat = 1 + len(sc.hedges)
    assert res.strategy_names[0] == "unhedged" and res.strategy_names[1] == sc.main_hedge == "alvh"
    assert all(v.shape == (300,) for v in pp.values())
    assert all(v.shape == (n_strat, 300) for v in ps.values())
    assert res.daily_pnl.shape == (n_strat, 300, sc.n_steps + 1)
    # every strategy's total is its daily P&L summed, and the hedge is the paired difference
    assert np.allclose(ps["pnl"], res.daily_pnl.astype(float).sum(axis=-1), rtol=1e-5, atol=1.0)
    hedge = ps["pnl"] - ps["pnl"][0]
    years = sc.n_steps * tiny_prepared.dt
    cap = sc.market.capital
    assert np.allclose(-hedge / cap / years * 100.0, ps["hedge_cost_annual_pct"], atol=1e-9)
    assert np.allclose(hedge, ps["hedge_payoff"] - ps["hedge_premium"] - ps["hedge_spread_cost"] - ps["hedge_commission"],
                       atol=1e-6)
    assert np.allclose(hedge, res.layer_pnl.sum(axis=1), atol=1e-6)
    assert np.all(ps["hedge_cost_annual_pct"][0] == 0) and np.all(ps["hedge_premium"][0] == 0)
    # the condor's legs add up to its P&L once its trading costs are taken off
    assert np.allclose(res.condor_leg_pnl.sum(axis=0) - pp["condor_spread_cost"] - pp["condor_commission"],
                       ps["pnl"][0], atol=1e-6)
    # capital in use: the condor's margin share at least; at most that plus the hedge's cap on risk capital
    main = sc.hedges[0]
    peak = ps["peak_capital_used_pct"]
    assert np.all(peak[0] >= 0.9 * 100 * sc.condor.margin_fraction) and np.all(peak[0] <= 100 * sc.condor.margin_fraction)
    assert np.all(peak[1] <= 100 * sc.condor.margin_fraction * (1.0 + main.margin_share_cap) + 1e-9)
    assert np.all(ps["max_drawdown"] >= 0) and np.all(-ps["worst_day"] <= ps["max_drawdown"] + 1e-9)
    # 4 sample paths kept per chunk, with their global indices
    assert res.sample_spx.shape == (12, sc.n_steps + 1)
    assert list(res.sample_path_index) == [0, 1, 2, 3, 128, 129, 130, 131, 256, 257, 258, 259]
    assert np.allclose(res.sample_cum_pnl[:, :, -1], ps["pnl"][:, res.sample_path_index], rtol=1e-5, atol=1.0)
    # deltas are measured on every day when the scenario has no event calendar, where a condor is open
    assert np.isfinite(res.daily_delta).mean() > 0.5
    assert np.array_equal(np.isfinite(res.daily_delta[0]), np.isfinite(res.daily_delta[1]))


def test_measure_days_around_events():
    event, measure = measure_days(10, {"first_day": 3, "every_days": 4, "multiplier": 4.0})
    assert list(np.flatnonzero(event)) == [3, 7]
    assert list(np.flatnonzero(measure)) == [2, 3, 6, 7]
    event, measure = measure_days(5, None)
    assert not event.any() and measure.all()


def test_spot_vol_beta_recovers_a_known_elasticity():
    # d ln VIX = beta d ln S + independent noise: OLS recovers beta within its standard error
    rng = np.random.default_rng(1)
    ds = rng.normal(0.0, 0.01, (50, 400))
    dv = -4.0 * ds + rng.normal(0.0, 0.03, ds.shape)
    spot = 2500.0 * np.exp(np.cumsum(ds, axis=1))
    vix = 15.0 * np.exp(np.cumsum(dv, axis=1))
    se = 0.03 / (0.01 * np.sqrt(ds.size - 50))   # OLS slope SE: sigma_e / (sigma_x sqrt(n))
    assert abs(spot_vol_beta(spot, vix) + 4.0) < 4 * se


def test_initial_variance_choices(tiny_scenario, tiny_prepared, tmp_path):
    import dataclasses

    from alvh.modelspec import build_model, write_params

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


# ---- bounded samples: memory flat in the number of paths -----------------------------------------

def _with_simulation(prepared, **changes):
    import dataclasses

    sc = prepared.scenario
    return dataclasses.replace(prepared, scenario=dataclasses.replace(sc, simulation={**sc.simulation, **changes}))


def test_sample_plan_caps_the_whole_paths_by_path_index():
    from alvh.runner import sample_plan

    plan = sample_plan([128, 128, 128, 44], per_chunk=4, max_sample=10, daily_paths=200)
    assert [p["n_sample"] for p in plan] == [4, 4, 2, 0]
    assert [p["n_daily"] for p in plan] == [128, 72, 0, 0]
    # no cap reached: every chunk keeps its head, every path its days
    plan = sample_plan([3, 2], per_chunk=4, max_sample=100, daily_paths=10)
    assert plan == [{"n_sample": 3, "n_daily": 3}, {"n_sample": 2, "n_daily": 2}]


def test_daily_sample_is_the_head_of_the_full_run_and_per_path_results_do_not_change(tiny_prepared):
    from alvh.claims import claim_check, strategy_metrics
    from alvh.results import run_arrays

    full = run(tiny_prepared, 300, seed=7, jobs=1, progress=False)
    capped = run(_with_simulation(tiny_prepared, daily_paths=150, max_sample_paths=6), 300, seed=7, jobs=2,
                 progress=False)
    for key in STRATEGY_FIELDS:
        assert np.array_equal(full.per_strategy[key], capped.per_strategy[key]), key
    for key in PATH_FIELDS:
        assert np.array_equal(full.per_path[key], capped.per_path[key]), key
    assert capped.daily_pnl.shape[1] == 150 and capped.regime.shape[0] == 150
    assert np.array_equal(capped.daily_pnl, full.daily_pnl[:, :150])
    assert np.array_equal(capped.daily_delta, full.daily_delta[:, :150], equal_nan=True)
    assert list(capped.sample_path_index) == [0, 1, 2, 3, 128, 129]
    assert np.array_equal(capped.sample_cum_pnl, full.sample_cum_pnl[:, :6])

    # the pooled daily statistics of the capped run are those of the first 150 paths; the per-path
    # statistics are those of all 300
    a_full, a_cap = run_arrays(full), run_arrays(capped)
    head = run_arrays(full)
    head.daily_pnl, head.daily_delta, head.regime = full.daily_pnl[:, :150], full.daily_delta[:, :150], full.regime[:150]
    rows_cap = {(r.strategy, r.key): r for r in strategy_metrics(a_cap)}
    rows_head = {(r.strategy, r.key): r for r in strategy_metrics(head)}
    rows_full = {(r.strategy, r.key): r for r in strategy_metrics(a_full)}
    assert rows_cap.keys() == rows_full.keys()
    for k, r in rows_cap.items():
        assert r.est == rows_head[k].est, k
        if "daily" in k[1] or k[1] == "convexity":
            assert "first 150 of 300 paths" in r.label, k
        else:
            assert r.est == rows_full[k].est, k
    assert rows_cap[("unhedged", "cvar99_daily")].est != rows_full[("unhedged", "cvar99_daily")].est
    claims = claim_check(a_cap)
    assert all("first 150 of 300 paths" in c.note for c in claims if c.claim in (2, 3))


def test_whole_path_memory_does_not_grow_with_paths(tiny_prepared):
    """Once the daily and fan-chart samples are full, more paths add only per-path summaries."""
    p = _with_simulation(tiny_prepared, daily_paths=100, max_sample_paths=5)

    def held(res):
        whole = [res.daily_pnl, res.daily_delta, res.regime, res.sample_spx, res.sample_vix, res.sample_cum_pnl,
                 res.sample_regime]
        summaries = list(res.per_strategy.values()) + list(res.per_path.values()) + [
            res.layer_pnl, res.layer_entries, res.layer_cap_bound, res.condor_leg_pnl]
        return sum(x.nbytes for x in whole), sum(x.nbytes for x in summaries)

    from alvh.pathstore import StoredArray

    r1, r2 = run(p, 200, seed=3, jobs=1, progress=False), run(p, 400, seed=3, jobs=1, progress=False)
    w1, s1 = held(r1)
    w2, s2 = held(r2)
    assert w1 == w2 > 0
    assert s2 == 2 * s1      # bytes on disk
    # the per-path summaries are on disk, not in memory
    per_path = list(r2.per_strategy.values()) + list(r2.per_path.values()) + [r2.layer_pnl, r2.condor_leg_pnl]
    assert all(isinstance(x, StoredArray) for x in per_path)
    assert np.array_equal(np.asarray(r1.per_strategy["pnl"]), np.asarray(r2.per_strategy["pnl"])[:, :200])


def _loky_workers():
    import psutil

    return [c for c in psutil.Process().children(recursive=True)
            if c.is_running() and c.status() != psutil.STATUS_ZOMBIE and "popen_loky" in " ".join(c.cmdline())]


def test_alvh_run_stops_its_joblib_workers_before_the_analysis(tiny_prepared, tmp_path, monkeypatch):
    """Idle loky workers (about 0.5 GB each on baseline.toml) must not sit beside the analysis.

    They were about 1 GB of the 10M-path baseline run's 3.7 GiB peak, which came in the analysis.
    """
    from alvh import results
    from alvh.pipeline import run_scenario

    seen = {"during": [], "analysis": None}
    real = results.analyse

    def spy(result):
        seen["analysis"] = _loky_workers()
        return real(result)

    monkeypatch.setattr(results, "analyse", spy)
    run_scenario(tiny_prepared.scenario, tmp_path / "out", n_paths=300, jobs=2, prepared=tiny_prepared,
                 checkpoint=False, on_chunk=lambda i: seen["during"].append(len(_loky_workers())))
    assert max(seen["during"]) >= 1          # the chunks did run in worker processes
    assert seen["analysis"] == []


class _Scaled:
    """A picklable task with a large array, standing in for a chunk task and its VIX table."""

    def __init__(self):
        self.table = np.arange(300_000, dtype=float)       # 2.4 MB: above joblib's memmapping threshold

    def __call__(self, i):
        import os

        return i, (float(self.table[i]) * 2.0, os.getpid())


def test_joblib_workers_read_the_task_from_one_file_once(tmp_path, monkeypatch):
    """jobs > 1: the task goes to the workers as a file path (alvh.parallel.FileTask), read once per
    worker, and the file is removed after the run. Handed to joblib directly, the task's large
    arrays were memory-mapped into a folder joblib then failed to delete while the workers mapped
    them: 1.0 s of retries at the end of every run."""
    import tempfile

    import cloudpickle

    from alvh.parallel import FileTask, run_tasks

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = dict(run_tasks(_Scaled(), range(6), jobs=2))
    assert {i: v for i, (v, _) in out.items()} == {i: 2.0 * i for i in range(6)}
    assert len({pid for _, pid in out.values()} - {__import__("os").getpid()}) >= 1   # ran in workers
    assert list(tmp_path.iterdir()) == []                  # the task file went with the run
    # in one process, the file is read on the first call only; a new file replaces the cached task
    path = tmp_path / "task.pkl"
    path.write_bytes(cloudpickle.dumps(_Scaled()))
    task = FileTask(path)
    assert task(3)[1][0] == 6.0
    path.unlink()
    assert task(4)[1][0] == 8.0                             # from the process's cache
    other = tmp_path / "other.pkl"
    other.write_bytes(cloudpickle.dumps(_Scaled()))
    assert FileTask(other)(5)[1][0] == 10.0
    assert list(FileTask._loaded) == [str(other)]           # only the latest task is kept


def _se_of(est) -> float:
    """An estimate's standard error, or its 95% interval's half-width / 1.96 where it has only an interval."""
    from alvh.metrics import Z95

    return est.se if np.isfinite(est.se) else (est.ci_high - est.ci_low) / (2.0 * Z95)


def _close(a: float, b: float, bound: float) -> bool:
    """Equal (NaN and NaN, inf and inf included), or finite and within ``bound`` of each other."""
    if a == b or (np.isnan(a) and np.isnan(b)):
        return True
    return bool(np.isfinite(a) and np.isfinite(b) and abs(a - b) <= bound)


def test_float32_daily_sample_moves_no_metric_beyond_its_standard_error(tiny_prepared, monkeypatch):
    """The daily sample is stored in float32 (``alvh.runner.DAILY_DTYPE``); issue 6 allows that only if
    no reported metric moves by more than its standard error. The same run with float64 daily arrays is
    the reference: every metric's value, SE and 95% interval, and every claim's value, interval, count
    and verdict (the report's numbers that read the daily sample: ``alvh.report`` reads no daily array
    itself). Every reader converts the daily arrays to float64 before any arithmetic, so the error is
    one rounding per stored value: it moves a mean less, and a quantile no more, as the sample grows,
    while the SE falls as 1/sqrt(path-days). The bound is therefore the SE scaled down to the daily
    sample of baseline.toml (20,000 paths x 252 days). This scenario has 63 days and one regime, so
    the regime rows and baseline's budget sweep are not exercised here. Measured (2026-11-22): float32
    moves the largest metric (the ladder's convexity) by 1.6e-5 of its SE here, 0.03% of the scaled
    bound; daily arrays rounded to a 10-bit mantissa (float16's precision) move it by 0.34 SE, 5.6
    times the bound, and fail."""
    import alvh.runner.chunks as runner_chunks     # simulate_chunk reads DAILY_DTYPE there
    from alvh.metrics import Z95
    from alvh.results import analyse

    result32 = run(tiny_prepared, 300, seed=7, jobs=1, progress=False)
    monkeypatch.setattr(runner_chunks, "DAILY_DTYPE", np.float64)
    result64 = run(tiny_prepared, 300, seed=7, jobs=1, progress=False)
    assert result32.daily_pnl.dtype == np.float32 and result64.daily_pnl.dtype == np.float64
    assert result32.daily_delta.dtype == np.float32 and result64.daily_delta.dtype == np.float64
    # the per-path summaries do not read the daily sample: identical
    for key in STRATEGY_FIELDS:
        assert np.array_equal(result32.per_strategy[key], result64.per_strategy[key]), key

    rows32, claims32 = analyse(result32)
    rows64, claims64 = analyse(result64)
    path_days = result32.daily_pnl.shape[1] * (result32.daily_pnl.shape[2] - 1)
    scale = math.sqrt(path_days / (20_000 * 252))
    ref = {(r.strategy, r.key): r.est for r in rows64}
    assert ref.keys() == {(r.strategy, r.key) for r in rows32}
    moved = 0
    for r in rows32:
        e32, e64 = r.est, ref[(r.strategy, r.key)]
        bound = scale * _se_of(e64)
        for name in ("value", "se", "ci_low", "ci_high"):
            a, b = getattr(e32, name), getattr(e64, name)
            assert _close(a, b, bound), (r.strategy, r.key, name, a, b, bound)
        moved += e32.value != e64.value
    # the daily statistics do see the cast (otherwise this test would compare a run with itself)
    assert moved > 0
    assert len(claims32) == len(claims64)
    for c32, c64 in zip(claims32, claims64):
        key = (c32.claim, c32.strategy, c32.regime)
        assert key == (c64.claim, c64.strategy, c64.regime)
        assert (c32.verdict, c32.n) == (c64.verdict, c64.n), key
        # the note's numbers (crash-day counts, claim 3's premise and paired reduction), as printed
        assert c32.note == c64.note, key
        bound = scale * (c64.ci_high - c64.ci_low) / (2.0 * Z95)
        for name in ("value", "ci_low", "ci_high"):
            a, b = getattr(c32, name), getattr(c64, name)
            assert _close(a, b, bound if np.isfinite(bound) else 0.0), (key, name, a, b)


def test_chunk_sizes_cover_the_paths_once_and_refuse_nonsense():
    from alvh.runner import chunk_sizes

    assert chunk_sizes(10, 4) == [4, 4, 2]
    assert chunk_sizes(8, 4) == [4, 4]
    assert chunk_sizes(3, 10) == [3]
    for n, c in ((1, 1), (20_000, 2_000), (20_001, 2_000), (7, 3)):
        s = chunk_sizes(n, c)
        assert sum(s) == n and max(s) <= c and min(s) >= 1 and len(s) == -(-n // c)
    for bad in ((0, 5), (5, 0)):
        with pytest.raises(ValueError):
            chunk_sizes(*bad)
