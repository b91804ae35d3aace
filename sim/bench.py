"""``alvh bench``: five throughput and memory measurements, taken in one run on this machine.

Each measurement is a ratio against a reference measured in the same run, with a target:

=====  ============================================  ==========================================  =========
row    ours                                          reference                                   target
=====  ============================================  ==========================================  =========
(a)    Heston QE path generation, path-steps/s       QuantLib ``MCEuropeanHestonEngine`` (QE     >= 10
       (:func:`heston_kernel`, one core)             martingale, pseudorandom), path-steps/s
(b)    full pipeline (paths + condor + three ALVH    our own generation of the same paths        >= 0.1
       VIX-call layers marked daily + metrics),      (:func:`time_generation`, one core),
       path-steps per core-second                    path-steps/s
(c)    time of (a)'s path generation, s              ``rng.standard_normal((n, 252, 2))``, s     <= 2
(d)    pipeline on 2 joblib workers, s               the same on 1 worker, s; ratio t1 / t2      >= 1.8
(e)    peak memory of ``alvh run --jobs 2`` at the   the same at the smallest N, GiB             < 4 GiB,
       largest N (default 10M paths), GiB                                                        <= 1.2
=====  ============================================  ==========================================  =========

Every timing is the best of ``repeats`` runs after one warm-up call that is not timed (numba
compilation, loky worker start-up and QuantLib's first call are excluded); each pipeline run of (b) and
(d) follows its own warm-up, and with (d) the 1- and 2-worker runs alternate (:func:`time_pipelines`).
Ours runs on one core
(numba and BLAS pools limited to one thread) except in (d)'s two-worker run. QuantLib is the optional
``bench`` extra and is imported inside the functions that need it; without it (a) reports
"QuantLib not installed" and the other rows still run. (b) compared the pipeline with QuantLib's bare
paths until it was found to compare unlike work; it now compares it with our own generation of the
same paths, the part of the pipeline no book can make faster.

Memory (e) is sampled every 0.2 s as the sum of the resident set sizes (RSS) of the whole process
tree of a fresh ``alvh run`` subprocess: the ``alvh`` process and its joblib (loky) worker
processes. The loky workers are children of ``alvh``, grandchildren of the benchmark, so
``getrusage(RUSAGE_CHILDREN)`` would give only the largest single process; that number is kept
in the row's details beside the sum. A sum of RSS counts shared pages (libraries) once per
process, so it is an upper bound of the memory the tree needs; a peak shorter than the sampling
interval can be missed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["HESTON", "MEASUREMENTS", "QL_MISSING", "Row", "best_of", "heston_kernel", "machine_info",
           "time_ours_paths", "time_generation", "time_numpy_floor", "quantlib_heston_mc", "time_quantlib", "time_pipelines",
           "peak_tree_rss", "run_suite", "format_table", "write_json", "json_problem", "DEFAULT_SCENARIO", "GIB"]

#: The Heston test case of (a) and (c): parameters, horizon, steps and the European call's strike.
HESTON = dict(s0=100.0, v0=0.04, kappa=2.0, theta=0.04, sigma=0.6, rho=-0.7, r=0.0, q=0.0, years=1.0,
              n_steps=252, strike=100.0)

#: The five measurements, by key.
MEASUREMENTS = {
    "a": "Heston QE path generation vs QuantLib",
    "b": "full pipeline vs QuantLib path generation",
    "c": "path generation vs drawing its normals",
    "d": "pipeline scaling, 1 -> 2 workers",
    "e": "peak memory of alvh run --jobs 2",
}

QL_MISSING = "QuantLib not installed (pip install -e '.[bench]')"
GIB = 2.0 ** 30
DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "bench.toml"


@dataclass
class Row:
    """One line of the table.

    Attributes
    ----------
    key : str
        "a" .. "e".
    measurement : str
    ours, reference : float
        Values in ``units`` (NaN when not measured).
    units : str
        Units of ``ours`` and ``reference``: "path-steps/s", "s" or "GiB".
    ratio : float
        As the target reads it (ours / reference, or t1 / t2 for (d)); NaN when not measured.
    target : str
    met : bool or None
        None when not measured.
    note : str
        What was measured, or why not ("not run", "timed out after X s", QuantLib missing).
    detail : dict
        Sizes, times and sanity values behind the row (written to the JSON file).
    """

    key: str
    measurement: str
    units: str
    target: str
    ours: float = math.nan
    reference: float = math.nan
    ratio: float = math.nan
    met: bool | None = None
    note: str = ""
    detail: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# timing helpers


@contextlib.contextmanager
def one_core():
    """Limit numba's and the BLAS/OpenMP thread pools to one thread inside the block."""
    from threadpoolctl import threadpool_limits

    try:
        import numba
        before = numba.get_num_threads()
    except ImportError:  # pragma: no cover - numba is a dependency
        numba, before = None, None
    with threadpool_limits(limits=1):
        if numba is not None:
            numba.set_num_threads(1)
        try:
            yield
        finally:
            if numba is not None:
                numba.set_num_threads(before)


def best_of(fn: Callable[[], object], repeats: int, warmup: Callable[[], object] | None = None) -> float:
    """Best wall-clock time of ``fn()`` over ``repeats`` calls, after one untimed warm-up call.

    Parameters
    ----------
    fn : callable
        What is timed (``time.perf_counter``).
    repeats : int
        Timed calls, >= 1.
    warmup : callable, optional
        Untimed first call (default: ``fn`` itself), e.g. a smaller size that compiles numba.

    Returns
    -------
    float
        Seconds.
    """
    (warmup or fn)()
    best = math.inf
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def heston_kernel() -> tuple[Callable, str]:
    """Our Heston QE path generator and its name.

    ``alvh.models.kernels.simulate_heston_qe`` (compiled) when it exists, else the numpy reference
    ``alvh.models.heston.simulate_qe`` behind the same signature
    ``(s0, v0, kappa, theta, sigma, rho, drift, dt, n_steps, *, n_paths, rng, antithetic=False,
    psi_c=1.5) -> (spot, var)``, arrays of shape ``(n_paths, n_steps + 1)``.
    """
    try:
        from alvh.models.kernels import simulate_heston_qe
        return simulate_heston_qe, "alvh.models.kernels.simulate_heston_qe"
    except ImportError:
        from alvh.models.heston import simulate_qe

        def simulate(s0, v0, kappa, theta, sigma, rho, drift, dt, n_steps, *, n_paths, rng, antithetic=False,
                     psi_c=1.5):
            if antithetic:
                raise ValueError("alvh.models.heston.simulate_qe has no antithetic option")
            return simulate_qe(s0, v0, kappa, theta, sigma, rho, drift, dt, n_steps, rng=rng, n_paths=n_paths,
                               psi_c=psi_c)

        return simulate, "alvh.models.heston.simulate_qe (numpy; alvh.models.kernels.simulate_heston_qe not found)"


def _ours_once(n_paths: int, seed: int):
    kernel, _ = heston_kernel()
    h = HESTON
    return kernel(h["s0"], h["v0"], h["kappa"], h["theta"], h["sigma"], h["rho"], h["r"] - h["q"],
                  h["years"] / h["n_steps"], h["n_steps"], n_paths=n_paths, rng=np.random.default_rng(seed))


def time_ours_paths(n_paths: int, repeats: int = 3, seed: int = 42) -> dict:
    """Time our Heston QE path generation on :data:`HESTON`, one core.

    Parameters
    ----------
    n_paths : int
        Paths per timed call; each has ``HESTON["n_steps"]`` (252) steps.
    repeats : int, default 3
        Timed calls; the best is kept, after an untimed warm-up call on ``min(n_paths, 1000)``
        paths (numba compilation excluded).
    seed : int, default 42

    Returns
    -------
    dict
        ``seconds`` (best call), ``path_steps`` (``n_paths * 252``), ``path_steps_per_s``,
        ``kernel`` (name), ``price`` and ``price_se`` (the discounted European call of
        :data:`HESTON` on the last call's paths, in spot units: a sanity value).
    """
    out = {}

    def call():
        out["spot"] = _ours_once(n_paths, seed)[0]

    with one_core():
        seconds = best_of(call, repeats, warmup=lambda: _ours_once(min(n_paths, 1000), seed))
    payoff = np.maximum(out.pop("spot")[:, -1] - HESTON["strike"], 0.0) * math.exp(-HESTON["r"] * HESTON["years"])
    steps = n_paths * HESTON["n_steps"]
    return dict(seconds=seconds, path_steps=steps, path_steps_per_s=steps / seconds, kernel=heston_kernel()[1],
                price=float(payoff.mean()), price_se=float(payoff.std(ddof=1) / math.sqrt(n_paths)))


def time_generation(prepared, n_paths: int, repeats: int = 3, seed: int = 42) -> dict:
    """Time the scenario's own path generation, one core: what a chunk of the pipeline draws before
    any book runs (:func:`alvh.models.stress.simulate_with_overlays` of the prepared model, its start
    state, steps, stress shocks and event intensity).

    Returns
    -------
    dict
        ``seconds`` (best of ``repeats`` calls, after an untimed warm-up on ``min(n_paths, 1000)``
        paths), ``path_steps`` (``n_paths * n_steps``), ``path_steps_per_s``, ``model``.
    """
    from alvh.models.stress import simulate_with_overlays

    m = prepared.model

    def once(n):
        rng = np.random.default_rng(seed)
        return simulate_with_overlays(m, m.initial_state(prepared.s0, n, prepared.var0, prepared.regime0),
                                      prepared.n_steps, prepared.dt, rng, shocks=prepared.shocks,
                                      intensity=prepared.intensity)

    with one_core():
        seconds = best_of(lambda: once(n_paths), repeats, warmup=lambda: once(min(n_paths, 1000)))
    steps = n_paths * prepared.n_steps
    return dict(seconds=seconds, path_steps=steps, path_steps_per_s=steps / seconds, model=m.name)


def time_numpy_floor(n_paths: int, repeats: int = 3, seed: int = 42) -> dict:
    """Time numpy drawing the normals a QE path set needs: ``rng.standard_normal((n_paths, 252, 2))``.

    Returns
    -------
    dict
        ``seconds`` (best of ``repeats`` after one warm-up), ``draws`` (``n_paths * 252 * 2``).
    """
    shape = (n_paths, HESTON["n_steps"], 2)
    with one_core():
        seconds = best_of(lambda: np.random.default_rng(seed).standard_normal(shape), repeats)
    return dict(seconds=seconds, draws=int(np.prod(shape)))


def quantlib_heston_mc(n_paths: int, seed: int = 42, antithetic: bool = False):
    """QuantLib's reference: the European call of :data:`HESTON` priced by ``MCEuropeanHestonEngine``.

    The process is ``ql.HestonProcess(r, q, spot, v0, kappa, theta, sigma, rho,
    ql.HestonProcess.QuadraticExponentialMartingale)`` (Andersen's QE scheme with martingale
    correction, as ours) with flat ``r = q = 0`` curves (Actual/365 Fixed, one year to expiry);
    the engine is ``ql.MCEuropeanHestonEngine(process, "pseudorandom", timeSteps=252,
    requiredSamples=n_paths, seed=seed)`` (Mersenne twister, no antithetic paths).

    Returns
    -------
    option : QuantLib.VanillaOption
        With the engine set; ``option.NPV()`` runs the simulation (the first call only: QuantLib
        caches the result until a new engine is set).
    process : QuantLib.HestonProcess
    """
    import QuantLib as ql

    h = HESTON
    today = ql.Date(2, ql.January, 2025)  # 365 days to 2026-01-02: exactly one year on Actual/365 Fixed
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    r = ql.YieldTermStructureHandle(ql.FlatForward(today, h["r"], dc))
    q = ql.YieldTermStructureHandle(ql.FlatForward(today, h["q"], dc))
    process = ql.HestonProcess(r, q, ql.QuoteHandle(ql.SimpleQuote(h["s0"])), h["v0"], h["kappa"], h["theta"],
                               h["sigma"], h["rho"], ql.HestonProcess.QuadraticExponentialMartingale)
    expiry = today + int(round(365 * h["years"]))
    option = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Call, h["strike"]), ql.EuropeanExercise(expiry))
    option.setPricingEngine(ql.MCEuropeanHestonEngine(process, "pseudorandom", timeSteps=h["n_steps"],
                                                      antitheticVariate=antithetic, requiredSamples=n_paths,
                                                      seed=seed))
    return option, process


def time_quantlib(n_paths: int, repeats: int = 3, seed: int = 42) -> dict:
    """Time QuantLib's Heston QE Monte Carlo (:func:`quantlib_heston_mc`) on one core.

    The time is that of ``option.NPV()``: path generation plus the payoff, which is one ``max`` per
    path and negligible beside 252 steps. The engine is set up outside the timer.

    Returns
    -------
    dict
        ``seconds`` (best of ``repeats`` after an untimed call on ``min(n_paths, 1000)`` paths),
        ``path_steps`` (``n_paths * 252``), ``path_steps_per_s``, ``price`` and ``price_se``
        (QuantLib's error estimate), ``version``.

    Raises
    ------
    ImportError
        QuantLib is not installed.
    """
    import QuantLib as ql

    quantlib_heston_mc(min(n_paths, 1000), seed)[0].NPV()  # warm-up
    best, option = math.inf, None
    for _ in range(max(repeats, 1)):
        option, _ = quantlib_heston_mc(n_paths, seed)
        t0 = time.perf_counter()
        option.NPV()
        best = min(best, time.perf_counter() - t0)
    steps = n_paths * HESTON["n_steps"]
    return dict(seconds=best, path_steps=steps, path_steps_per_s=steps / best, price=option.NPV(),
                price_se=option.errorEstimate(), version=ql.__version__)


def time_pipelines(prepared, n_paths: int, chunk_size: int, jobs: Sequence[int], repeats: int = 3,
                   seed: int | None = None, analyse: bool | Sequence[bool] = True) -> list[dict]:
    """Time the whole Monte Carlo pipeline on several worker counts, interleaved.

    ``alvh.runner.prepare`` (data, calibration, VIX tables, surface) is done once before and not
    counted. What is timed: ``alvh.runner.run`` (Heston paths, the condor and every hedge layer priced
    and marked daily, per-path summaries) and, where ``analyse``, ``alvh.results.analyse`` (the metric
    table and the claim check).

    Each repeat runs every configuration once, in the order given (for ``jobs=[1, 2]``: 1, 2, 1, 2,
    ... workers), and the best run of each is kept. The machine's speed drifts by several per cent
    over minutes on a shared host; interleaved, the drift reaches every configuration more alike than
    when each has its own block of repeats, so a ratio of two of them (the scaling row (d)) depends
    less on when each block ran. Every timed run follows an untimed warm-up run of the same
    configuration (``2 * j`` chunks of at most 8 paths for ``j`` workers): the first compiles numba
    and starts the loky workers, and the later ones keep those workers alive however long the other
    configurations take (loky stops idle workers after 300 s).

    Parameters
    ----------
    prepared : alvh.runner.Prepared
    n_paths : int
    chunk_size : int
        Paths per chunk (joblib task).
    jobs : sequence of int
        joblib workers of each configuration (1: in this process, with numba and BLAS limited to one
        thread).
    repeats : int, default 3
        Timed runs of each configuration; the best is kept.
    seed : int, optional
        Root seed (default: the scenario's).
    analyse : bool or sequence of bool, default True
        Whether the analysis is timed too: for every configuration, or one flag per configuration.

    Returns
    -------
    list of dict
        One per configuration: ``seconds`` (best run, + analysis where analysed), ``run_seconds`` (best
        run alone), ``analysed`` (bool), ``path_steps`` (``n_paths * prepared.n_steps``),
        ``path_steps_per_core_s`` (``path_steps / (seconds * jobs)``), ``n_chunks``, ``jobs``.

    Raises
    ------
    ValueError
        If ``analyse`` is a sequence of another length than ``jobs``.
    """
    from alvh.results import analyse as analyse_result
    from alvh.runner import chunk_sizes, run

    jobs = [int(j) for j in jobs]
    flags = [bool(analyse)] * len(jobs) if np.ndim(analyse) == 0 else [bool(a) for a in analyse]
    if len(flags) != len(jobs):
        raise ValueError(f"analyse has {len(flags)} entries for {len(jobs)} configurations")
    seed = prepared.scenario.simulation["seed"] if seed is None else seed
    best_total, best_run = [math.inf] * len(jobs), [math.inf] * len(jobs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(max(repeats, 1)):
            for i, j in enumerate(jobs):
                n_warm = min(n_paths, 2 * j * 8)
                with one_core() if j == 1 else contextlib.nullcontext():
                    run(prepared, n_warm, seed, jobs=j, chunk_size=max(1, math.ceil(n_warm / (2 * j))), progress=False)
                    t0 = time.perf_counter()
                    result = run(prepared, n_paths, seed, jobs=j, chunk_size=chunk_size, progress=False)
                    t1 = time.perf_counter()
                    if flags[i]:
                        analyse_result(result)
                    t2 = time.perf_counter()
                del result
                best_run[i], best_total[i] = min(best_run[i], t1 - t0), min(best_total[i], t2 - t0)
    steps = n_paths * prepared.n_steps
    return [dict(seconds=best_total[i], run_seconds=best_run[i], analysed=flags[i], path_steps=steps,
                 path_steps_per_core_s=steps / (best_total[i] * j), n_chunks=len(chunk_sizes(n_paths, chunk_size)), jobs=j)
            for i, j in enumerate(jobs)]


def peak_tree_rss(cmd: list[str], timeout: float, interval: float = 0.2, **popen_kwargs) -> dict:
    """Run ``cmd`` in a fresh subprocess and sample the RSS of its whole process tree.

    Every ``interval`` seconds the RSS of the child and of all its descendants (psutil, which
    ``dask.distributed`` already requires) is summed; the largest sum is the peak.

    Parameters
    ----------
    cmd : list of str
    timeout : float
        Seconds; past it the child and its descendants are killed.
    interval : float, default 0.2
        Sampling period, seconds.
    **popen_kwargs
        Passed to ``subprocess.Popen`` (e.g. ``stdout``, ``stderr``, ``cwd``).

    Returns
    -------
    dict
        ``status`` ("ok", "failed" or "timed out"), ``returncode``, ``seconds`` (wall time),
        ``peak_sum_bytes`` (largest sampled sum of RSS over the tree), ``peak_single_bytes``
        (largest sampled RSS of one process), ``max_processes`` (largest tree seen).
    """
    import psutil

    def kill(tree):
        for p in reversed(tree):  # descendants of the child we started, then the child
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        proc.wait()

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, **popen_kwargs)
    root = psutil.Process(proc.pid)
    peak_sum = peak_single = max_procs = 0
    status, tree = None, [root]
    try:
        while status is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                tree = [root, *root.children(recursive=True)]
            rss = []
            for p in tree:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    rss.append(p.memory_info().rss)
            if rss:
                peak_sum, peak_single = max(peak_sum, sum(rss)), max(peak_single, max(rss))
                max_procs = max(max_procs, len(rss))
            try:
                proc.wait(timeout=interval)
                status = "ok" if proc.returncode == 0 else "failed"
            except subprocess.TimeoutExpired:
                if time.perf_counter() - t0 > timeout:
                    kill(tree)
                    status = "timed out"
    finally:
        if proc.poll() is None:  # interrupted: leave nothing running
            kill(tree)
    return dict(status=status, returncode=proc.returncode, seconds=time.perf_counter() - t0, peak_sum_bytes=peak_sum,
                peak_single_bytes=peak_single, max_processes=max_procs)


def alvh_run_command(scenario: Path | str, n_paths: int, jobs: int, out: Path | str) -> list[str]:
    """The ``alvh run`` command line measured by (e), with this interpreter."""
    return [sys.executable, "-m", "alvh.cli", "run", str(scenario), "--paths", str(n_paths), "--jobs", str(jobs),
            "--no-checkpoint", "--no-progress", "--out", str(out)]


def machine_info() -> dict:
    """CPU model (``/proc/cpuinfo``), cores, 1-minute load average, Python, numpy, numba and QuantLib versions.

    A load average near the number of cores means other processes compete for the CPU: the timings,
    (d)'s speedup above all, are then lower than on an idle machine.
    """
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import numba
        numba_version = numba.__version__
    except ImportError:  # pragma: no cover
        numba_version = None
    try:
        import QuantLib as ql
        ql_version = ql.__version__
    except ImportError:
        ql_version = None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return dict(cpu=cpu, cores=os.cpu_count(), usable_cores=usable, load_1min=load, python=platform.python_version(),
                numpy=np.__version__, numba=numba_version, quantlib=ql_version)


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


# --------------------------------------------------------------------------------------------------
# output


def _fmt(value: float, units: str) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if units == "path-steps/s":
        return f"{value:,.0f} {units}"
    if units == "GiB":
        return f"{value:.3f} GiB"
    return f"{value:.3g} {units}"


def format_table(rows: list[Row], machine: dict | None = None, repeats: int | None = None) -> str:
    """Markdown table: measurement, ours, reference, ratio, target, met, note; with a machine header."""
    lines = []
    if machine is not None:
        lines.append(f"alvh bench on {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable); "
                     f"Python {machine['python']}, numpy {machine['numpy']}, numba {machine['numba']}, "
                     f"QuantLib {machine['quantlib'] or 'not installed'}; load average "
                     f"{'n/a' if machine.get('load_1min') is None else format(machine['load_1min'], '.2f')} at the start "
                     "(other processes compete for the cores when it is near their number).")
    if repeats is not None:
        lines.append(f"Timings: best of {repeats} after one untimed warm-up (numba compilation, loky start-up and "
                     f"QuantLib's first call excluded; in (b) and (d) before every run, 1 and 2 workers alternating); "
                     f"ours and QuantLib on one core each.")
    lines += ["", "| measurement | ours | reference | ratio | target | met | note |",
              "|---|---:|---:|---:|---|---|---|"]
    for r in rows:
        met = "n/a" if r.met is None else ("yes" if r.met else "no")
        ratio = "n/a" if not math.isfinite(r.ratio) else f"{r.ratio:.3g}"
        lines.append(f"| {r.measurement} | {_fmt(r.ours, r.units)} | {_fmt(r.reference, r.units)} | {ratio} | "
                     f"{r.target} | {met} | {r.note} |")
    return "\n".join(lines)


def json_problem(path: Path | str) -> str | None:
    """Why ``--json PATH`` must not be written: an existing file that is not a bench JSON alvh wrote
    (keys ``machine``, ``settings``, ``rows``), or a folder; None when it may be."""
    p = Path(path)
    if p.is_dir():
        return f"{p}: is a folder"
    if not p.exists():
        return None
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        ok = isinstance(doc, dict) and {"machine", "settings", "rows"} <= set(doc)
    except (OSError, ValueError, UnicodeDecodeError):
        ok = False
    return None if ok else f"{p}: exists and is not a benchmark JSON alvh wrote; not replaced"


def _clean(obj):
    """JSON-safe copy: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_json(path: Path | str, rows: list[Row], machine: dict, settings: dict, extra: dict | None = None) -> None:
    """Write the machine, the settings and every row (with its details) as JSON, plus the keys of
    ``extra`` (e.g. ``"profile"``)."""
    doc = {"machine": machine, "settings": settings, "rows": [asdict(r) for r in rows], **(extra or {})}
    Path(path).write_text(json.dumps(_clean(doc), indent=2, allow_nan=False) + "\n", encoding="utf-8")
