"""alvh bench (sim/bench/): the measurements at tiny sizes, the table, --only, the QuantLib reference."""

from __future__ import annotations

import json
import math
import sys

import pytest

from alvh.models.heston import heston_call_price
from alvh import bench
from alvh.cli import main

H = bench.HESTON


def _finite_positive(*values):
    return all(math.isfinite(v) and v > 0 for v in values)


def test_ours_paths_counts_and_rate():
    out = bench.time_ours_paths(300, repeats=1)
    assert out["path_steps"] == 300 * 252
    assert _finite_positive(out["seconds"], out["path_steps_per_s"])
    assert out["kernel"].startswith(("alvh.models.kernels", "alvh.models.heston"))


def test_numpy_floor_counts():
    out = bench.time_numpy_floor(300, repeats=1)
    assert out["draws"] == 300 * 252 * 2
    assert _finite_positive(out["seconds"])


def test_best_of_runs_warmup_once_and_keeps_the_minimum():
    calls = []
    t = bench.best_of(lambda: calls.append("fn"), repeats=3, warmup=lambda: calls.append("warm"))
    assert calls == ["warm", "fn", "fn", "fn"] and t >= 0


def test_quantlib_timing_counts():
    pytest.importorskip("QuantLib")
    out = bench.time_quantlib(300, repeats=1)
    assert out["path_steps"] == 300 * 252
    assert _finite_positive(out["seconds"], out["path_steps_per_s"], out["price"], out["price_se"])


def test_quantlib_engine_is_the_same_model():
    """QuantLib's QE Monte Carlo, its analytic engine and our MC agree with our Fourier closed form.

    Reference: alvh.models.heston.heston_call_price (Gil-Pelaez, Albrecher et al. 2007 form), on v0 = theta
    = 0.04, kappa = 2, sigma = 0.6, rho = -0.7, r = q = 0, S = K = 100, T = 1 (about 6.96).
    """
    ql = pytest.importorskip("QuantLib")
    exact = heston_call_price(H["s0"], H["strike"], H["years"], H["r"], H["q"], H["v0"], H["kappa"], H["theta"],
                              H["sigma"], H["rho"])
    option, process = bench.quantlib_heston_mc(20_000, seed=42)
    mc, se = option.NPV(), option.errorEstimate()
    assert abs(mc - exact) < 4 * se, (mc, se, exact)
    option.setPricingEngine(ql.AnalyticHestonEngine(ql.HestonModel(process)))
    assert option.NPV() == pytest.approx(exact, abs=1e-4)  # same parameters, in the same places
    ours = bench.time_ours_paths(20_000, repeats=1)
    assert abs(ours["price"] - exact) < 4 * ours["price_se"], (ours["price"], ours["price_se"], exact)


def test_pipeline_and_scaling_rows(tiny_prepared):
    n = 8
    rows = bench.run_suite(only="bd", paths=300, pipeline_paths=n, chunks=2, repeats=1, prepared=tiny_prepared,
                           say=lambda m: None)
    assert [r.key for r in rows] == list("abcde")
    a, b, c, d, e = rows
    for r in (a, c, e):
        assert r.note == "not run (--only)" and math.isnan(r.ours) and r.met is None
    steps = n * tiny_prepared.n_steps
    assert b.detail["pipeline"]["path_steps"] == steps and b.detail["pipeline"]["n_chunks"] == 2
    assert b.ours == pytest.approx(steps / b.detail["pipeline"]["seconds"])
    if "quantlib" in b.detail:
        assert _finite_positive(b.ratio)
    assert d.detail["two"]["path_steps"] == steps and d.detail["two"]["jobs"] == 2
    assert _finite_positive(d.ours, d.reference, d.ratio)
    assert d.ratio == pytest.approx(d.reference / d.ours)


def test_pipelines_are_timed_interleaved(tiny_prepared, monkeypatch):
    """(d)'s two configurations alternate within each repeat, each timed run after its own untimed
    warm-up (which also keeps loky's workers alive); one thread for the 1-worker runs only; analysis
    only where asked; the best run kept per configuration."""
    import numba

    import alvh.results
    import alvh.runner

    calls, analysed = [], []

    def fake_run(prepared, n_paths, seed, jobs, chunk_size, progress):
        calls.append((jobs, n_paths, numba.get_num_threads()))
        return jobs

    monkeypatch.setattr(alvh.runner, "run", fake_run)
    monkeypatch.setattr(alvh.results, "analyse", lambda result: analysed.append(result))
    threads = numba.get_num_threads()
    out = bench.time_pipelines(tiny_prepared, 100, 50, [1, 2], repeats=3, analyse=[True, False])
    assert calls == [(1, 16, 1), (1, 100, 1), (2, 32, threads), (2, 100, threads)] * 3
    assert analysed == [1, 1, 1]
    assert [(o["jobs"], o["analysed"], o["n_chunks"]) for o in out] == [(1, True, 2), (2, False, 2)]
    assert all(0 < o["run_seconds"] <= o["seconds"] for o in out)
    with pytest.raises(ValueError, match="2 configurations"):
        bench.time_pipelines(tiny_prepared, 100, 50, [1, 2], analyse=[True])


@pytest.mark.parametrize("only, jobs, analyse", [("b", [1], [True]), ("d", [1, 2], [False, False]),
                                                 ("bd", [1, 2], [True, False])])
def test_run_suite_times_the_workers_it_needs(tiny_prepared, monkeypatch, only, jobs, analyse):
    """--only b: 1 worker, analysed; --only d: 1 and 2 workers, run only; both: the 1-worker run analysed."""
    seen = []

    def fake(prepared, n_paths, chunk_size, jobs, repeats, analyse):
        seen.append((list(jobs), list(analyse)))
        return [dict(seconds=2.0, run_seconds=1.0 + (j == 1), analysed=a, path_steps=10, path_steps_per_core_s=5.0,
                     n_chunks=2, jobs=j) for j, a in zip(jobs, analyse)]

    monkeypatch.setattr(bench.suite, "time_pipelines", fake)
    monkeypatch.setattr(bench.suite, "_quantlib_available", lambda: False)
    rows = bench.run_suite(only=only, pipeline_paths=8, chunks=2, repeats=1, prepared=tiny_prepared, say=lambda m: None)
    assert seen == [(jobs, analyse)]
    if "d" in only:
        assert rows[3].ratio == pytest.approx(2.0)


def test_quantlib_missing_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "QuantLib", None)  # import QuantLib -> ImportError
    a, *_ = bench.run_suite(only="a", paths=300, repeats=1, say=lambda m: None)
    assert bench.QL_MISSING in a.note
    assert _finite_positive(a.ours) and math.isnan(a.ratio) and a.met is None
    assert bench.machine_info()["quantlib"] is None


def test_peak_tree_rss_sums_the_process_tree():
    # a child holding ~150 MB that starts a grandchild holding ~150 MB; both live ~1.5 s
    code = ("import subprocess, sys, time, numpy as np; a = np.ones(150 * 2**20 // 8); "
            "p = subprocess.Popen([sys.executable, '-c', "
            "'import time, numpy as np; b = np.ones(150 * 2**20 // 8); time.sleep(1.5)']); time.sleep(1.5); p.wait()")
    res = bench.peak_tree_rss([sys.executable, "-c", code], timeout=60, interval=0.1)
    assert res["status"] == "ok" and res["returncode"] == 0
    assert res["max_processes"] >= 2
    assert res["peak_sum_bytes"] > 280 * 2**20
    assert res["peak_single_bytes"] < res["peak_sum_bytes"]


def test_peak_tree_rss_timeout_kills():
    res = bench.peak_tree_rss([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    assert res["status"] == "timed out" and res["seconds"] < 10 and res["returncode"] != 0


def test_memory_row(monkeypatch, tmp_path):
    peaks = {2000: 0.5, 8000: 0.55}

    def fake(cmd, timeout, interval=0.2, **kw):
        n = int(cmd[cmd.index("--paths") + 1])
        assert cmd[cmd.index("--jobs") + 1] == "2" and "--no-checkpoint" in cmd
        if n not in peaks:
            return dict(status="timed out", returncode=-9, seconds=timeout, peak_sum_bytes=2**30,
                        peak_single_bytes=2**29, max_processes=4)
        return dict(status="ok", returncode=0, seconds=1.0, peak_sum_bytes=peaks[n] * bench.GIB,
                    peak_single_bytes=0.3 * bench.GIB, max_processes=4)

    monkeypatch.setattr(bench.suite, "peak_tree_rss", fake)
    *_, e = bench.run_suite(only="e", quick=True, say=lambda m: None)
    assert e.ours == pytest.approx(0.55) and e.reference == pytest.approx(0.5)
    assert e.ratio == pytest.approx(1.1) and e.met is True
    *_, e = bench.run_suite(only="e", memory_paths=[2000, 50_000, 100_000], timeout=7, say=lambda m: None)
    assert "50,000: timed out after 7 s" in e.note and "100,000: not run" in e.note
    assert math.isnan(e.ours) and e.met is None
    table = bench.format_table(bench.run_suite(only="e", quick=True, say=lambda m: None))
    body = [ln for ln in table.splitlines() if ln.startswith("| (")]
    assert len(body) == 5 and "0.550 GiB" in body[4] and "| yes |" in body[4]
    path = tmp_path / "bench.json"
    bench.write_json(path, bench.run_suite(only="e", quick=True, say=lambda m: None), bench.machine_info(), {})
    doc = json.loads(path.read_text())
    assert [r["key"] for r in doc["rows"]] == list("abcde") and doc["rows"][0]["ours"] is None


def test_alvh_run_command():
    cmd = bench.alvh_run_command("s.toml", 1000, 2, "out")
    assert cmd[1:] == ["-m", "alvh.cli", "run", "s.toml", "--paths", "1000", "--jobs", "2", "--no-checkpoint",
                       "--no-progress", "--out", "out"]


def test_cli_quick_only_c(capsys, tmp_path):
    path = tmp_path / "b.json"
    assert main(["bench", "--quick", "--only", "c", "--repeats", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| (")]
    assert len(rows) == 5
    c = next(ln for ln in rows if ln.startswith("| (c)"))
    assert "2,000 x 252 x 2" in c and "not run" not in c
    ratio = float(c.split("|")[4])
    assert math.isfinite(ratio) and ratio > 0
    assert sum("not run (--only)" in ln for ln in rows) == 4
    doc = json.loads(path.read_text())
    assert doc["rows"][2]["detail"]["numpy"]["draws"] == 2000 * 252 * 2


def test_cli_rejects_bad_only(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--only", "a,x"])
    assert exc.value.code == 2


def test_row_b_is_the_pipeline_against_our_own_generation_of_its_paths(tiny_prepared, monkeypatch):
    """(b): pipeline path-steps per core-second over the scenario's own generation rate, target 0.1."""
    def fake_pipe(prepared, n_paths, chunk_size, jobs, repeats, analyse):
        return [dict(seconds=2.0, run_seconds=1.0, analysed=True, path_steps=10, path_steps_per_core_s=5.0e5,
                     n_chunks=2, jobs=1)]

    real_generation = bench.time_generation
    monkeypatch.setattr(bench.suite, "time_pipelines", fake_pipe)
    monkeypatch.setattr(bench.suite, "time_generation",
                        lambda prepared, n, repeats: dict(seconds=1.0, path_steps=1, path_steps_per_s=4.0e6, model="m"))
    b = bench.run_suite(only="b", pipeline_paths=8, chunks=2, repeats=1, prepared=tiny_prepared, say=lambda m: None)[1]
    assert b.ratio == pytest.approx(0.125) and b.met is True and "missed" in b.note    # 0.5 M < 3 M path-steps/s
    gen = real_generation(tiny_prepared, 64, repeats=1)
    assert gen["path_steps"] == 64 * tiny_prepared.n_steps and gen["path_steps_per_s"] > 0
