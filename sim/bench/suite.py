"""The ``alvh bench`` suite: the selected measurements run in turn, five rows always, with row (e)
taken one fresh ``alvh run`` per path count."""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Callable

from alvh.bench.memory import alvh_run_command, peak_tree_rss
from alvh.bench.specs import DEFAULT_SCENARIO, GIB, HESTON, QL_MISSING, Row
from alvh.bench.timing import time_generation, time_numpy_floor, time_ours_paths, time_pipelines, time_quantlib


# --------------------------------------------------------------------------------------------------
# the suite


def _quantlib_available() -> bool:
    try:
        import QuantLib  # noqa: F401
    except ImportError:
        return False
    return True


def _ratio_row(row: Row, ours: float, reference: float, ratio: float, ok: bool, note: str, detail: dict) -> Row:
    row.ours, row.reference, row.ratio, row.met, row.note, row.detail = ours, reference, ratio, ok, note, detail
    return row


def run_suite(only: str | set = "abcde", quick: bool = False, repeats: int = 3, paths: int | None = None,
              pipeline_paths: int | None = None, chunks: int = 8, memory_paths: list[int] | None = None,
              timeout: float = 3600.0, scenario: Path | str = DEFAULT_SCENARIO, prepared=None,
              say: Callable[[str], None] | None = None) -> list[Row]:
    """Run the selected measurements; always five rows, unselected ones marked "not run".

    Parameters
    ----------
    only : str or set of str
        Keys among "abcde".
    quick : bool
        Smoke-test sizes: 2,000 kernel paths, 200 pipeline paths, memory at 2,000 and 8,000 paths
        (each overridden by the explicit options below).
    repeats : int, default 3
        Timed repetitions; the best is kept.
    paths : int, optional
        (a), (c): paths of the kernel and of QuantLib (default 50,000; quick 2,000).
    pipeline_paths : int, optional
        (b), (d): paths of the pipeline runs (default 40,000; quick 200).
    chunks : int, default 8
        (b), (d): the pipeline's paths are cut into this many chunks (joblib tasks).
    memory_paths : list of int, optional
        (e): path counts, each a fresh ``alvh run`` (default 1,000,000 and 10,000,000; quick 2,000
        and 8,000). Once one times out, the larger ones are not run.
    timeout : float, default 3600
        (e): seconds allowed per ``alvh run``.
    scenario : path
        (b), (d), (e): scenario file (default ``scenarios/bench.toml``).
    prepared : alvh.runner.Prepared, optional
        For (b), (d): an already prepared scenario (then ``scenario`` is not read for them).
    say : callable, optional
        Progress lines (default: print to stderr).

    Returns
    -------
    list of Row
        Rows (a) to (e), in that order.
    """
    say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
    only = set(only)
    paths = paths or (2_000 if quick else 50_000)
    pipeline_paths = pipeline_paths or (200 if quick else 40_000)
    memory_paths = sorted(memory_paths or ([2_000, 8_000] if quick else [1_000_000, 10_000_000]))
    chunk_size = max(1, math.ceil(pipeline_paths / chunks))
    n_steps = HESTON["n_steps"]
    rows = {
        "a": Row("a", f"(a) Heston QE paths, ours vs QuantLib ({paths:,} x {n_steps} steps)", "path-steps/s", ">= 10"),
        "b": Row("b", f"(b) pipeline, 1 core, vs our generation of its paths ({pipeline_paths:,} paths)",
                 "path-steps/s", ">= 0.1"),
        "c": Row("c", f"(c) time of (a)'s paths vs numpy normals ({paths:,} x {n_steps} x 2)", "s", "<= 2"),
        "d": Row("d", f"(d) pipeline, 2 workers vs 1 ({pipeline_paths:,} paths, {chunks} chunks)", "s", ">= 1.8"),
        "e": Row("e", "(e) peak RSS of alvh run --jobs 2, process tree, "
                      + " vs ".join(f"{n:,}" for n in memory_paths[::-1]) + " paths", "GiB",
                 f"< 4 GiB at {max(memory_paths):,}; ratio <= 1.2"),
    }
    for key, row in rows.items():
        if key not in only:
            row.note = "not run (--only)"
    have_ql = _quantlib_available()
    ours = ql = None
    if only & {"a", "c"}:
        say(f"bench (a/c): our Heston QE paths, {paths:,} x {n_steps} steps, one core: warm-up, then best of {repeats}")
        ours = time_ours_paths(paths, repeats)
        say(f"bench (a/c): {ours['seconds']:.3f} s, {ours['path_steps_per_s']:,.0f} path-steps/s ({ours['kernel']})")
    if "a" in only and have_ql:
        say(f"bench (a): QuantLib MCEuropeanHestonEngine, {paths:,} x {n_steps} steps: warm-up, then best of {repeats}")
        ql = time_quantlib(paths, repeats)
        say(f"bench (a): {ql['seconds']:.3f} s, {ql['path_steps_per_s']:,.0f} path-steps/s")
    if "a" in only:
        row = rows["a"]
        if ql is None:
            _ratio_row(row, ours["path_steps_per_s"], math.nan, math.nan, None, f"{QL_MISSING}; ours: {ours['kernel']}",
                       {"ours": ours})
        else:
            r = ours["path_steps_per_s"] / ql["path_steps_per_s"]
            _ratio_row(row, ours["path_steps_per_s"], ql["path_steps_per_s"], r, r >= 10, f"ours: {ours['kernel']}",
                       {"ours": ours, "quantlib": ql})
    if "c" in only:
        say(f"bench (c): numpy standard_normal(({paths:,}, {n_steps}, 2)), one core: best of {repeats}")
        floor = time_numpy_floor(paths, repeats)
        r = ours["seconds"] / floor["seconds"]
        _ratio_row(rows["c"], ours["seconds"], floor["seconds"], r, r <= 2, f"ours: {ours['kernel']}",
                   {"ours": ours, "numpy": floor})
    pipe = None
    if only & {"b", "d"}:
        if prepared is None:
            from alvh.config import load_scenario
            from alvh.runner import prepare

            sc = load_scenario(scenario)
            say(f"bench (b/d): preparing {scenario} (data, calibration, VIX tables, surface; not timed)")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prepared = prepare(sc, sc.simulation["seed"])
        steps = prepared.n_steps
        jobs = [1, 2] if "d" in only else [1]
        one = "run + analysis" if "b" in only else "run"
        say(f"bench (b/d): pipeline, {pipeline_paths:,} paths x {steps} steps in {math.ceil(pipeline_paths / chunk_size)} "
            f"chunks of {chunk_size:,}, best of {repeats} on 1 worker ({one})"
            + (", alternating with 2 workers (run)" if "d" in only else "") + ", each run after a warm-up")
        timed = time_pipelines(prepared, pipeline_paths, chunk_size, jobs, repeats, analyse=["b" in only, False][:len(jobs)])
        pipe = timed[0]
        say(f"bench (b/d): 1 worker {pipe['seconds']:.2f} s ({pipe['run_seconds']:.2f} s run), "
            f"{pipe['path_steps_per_core_s']:,.0f} path-steps per core-second")
    if "b" in only:
        rate = pipe["path_steps_per_core_s"]
        say(f"bench (b): the scenario's own path generation, {pipeline_paths:,} paths, one core: best of {repeats}")
        gen = time_generation(prepared, pipeline_paths, repeats)
        r = rate / gen["path_steps_per_s"]
        _ratio_row(rows["b"], rate, gen["path_steps_per_s"], r, r >= 0.1,
                   f"pipeline per core-second vs generating its paths ({gen['model']}); target: no more than 10x "
                   f"slower, and >= 3 M path-steps/s ({'met' if rate >= 3e6 else 'missed'}); "
                   f"{prepared.scenario.name}: {len(prepared.scenario.hedges)} hedge book(s)",
                   {"pipeline": pipe, "generation": gen})
    if "d" in only:
        two = timed[1]
        t1, t2 = pipe["run_seconds"], two["run_seconds"]
        say(f"bench (d): {t1:.2f} s on 1 worker, {t2:.2f} s on 2: speedup {t1 / t2:.2f}")
        _ratio_row(rows["d"], t2, t1, t1 / t2, t1 / t2 >= 1.8, "ours = 2 workers, reference = 1; ratio = speedup",
                   {"one": pipe, "two": two})
    if "e" in only:
        rows["e"] = _memory_row(rows["e"], memory_paths, timeout, Path(scenario).resolve(), say)
    return [rows[k] for k in "abcde"]


def _memory_row(row: Row, memory_paths: list[int], timeout: float, scenario, say) -> Row:
    """Row (e): one fresh ``alvh run --jobs 2`` per path count (:func:`peak_tree_rss`)."""
    results, notes = {}, []
    for n in memory_paths:
        if any(r["status"] != "ok" for r in results.values()):
            notes.append(f"{n:,}: not run (a smaller run did not finish)")
            continue
        say(f"bench (e): alvh run {Path(scenario).name} --paths {n:,} --jobs 2 in a fresh process "
            f"(timeout {timeout:.0f} s), sampling the RSS of its process tree every 0.2 s")
        with tempfile.TemporaryDirectory(prefix="alvh-bench-") as tmp:
            with open(Path(tmp) / "stderr.txt", "w+b") as err:
                res = peak_tree_rss(alvh_run_command(scenario, n, 2, Path(tmp) / "out"), timeout,
                                    stdout=subprocess.DEVNULL, stderr=err, cwd=DEFAULT_SCENARIO.parents[1])
                err.seek(0)
                tail = err.read().decode(errors="replace").strip().splitlines()
        res["peak_sum_gib"], res["peak_single_gib"] = res["peak_sum_bytes"] / GIB, res["peak_single_bytes"] / GIB
        results[n] = res
        if res["status"] == "timed out":
            notes.append(f"{n:,}: timed out after {res['seconds']:.0f} s")
        elif res["status"] == "failed":
            notes.append(f"{n:,}: failed (exit {res['returncode']}): {tail[-1] if tail else ''}")
        say(f"bench (e): {n:,} paths: {res['status']} in {res['seconds']:.0f} s, peak {res['peak_sum_gib']:.3f} GiB "
            f"(tree of up to {res['max_processes']} processes; largest one {res['peak_single_gib']:.3f} GiB)")
    row.detail = {str(n): r for n, r in results.items()}
    small, big = memory_paths[0], memory_paths[-1]
    done = {n: r["peak_sum_gib"] for n, r in results.items() if r["status"] == "ok"}
    if big in done:
        row.ours = done[big]
        if small in done and small != big:
            row.reference, row.ratio = done[small], done[big] / done[small]
            row.met = row.ours < 4.0 and row.ratio <= 1.2
        notes.append("sum of RSS over alvh + its loky workers (shared pages counted per process)")
    row.note = "; ".join(notes)
    return row
