"""Timing helpers of ``alvh bench``: one core, best of several calls, and the timed runs of rows
(a) to (d): our Heston QE paths, the scenario's own path generation, numpy's normals, QuantLib's
Heston Monte Carlo and the whole pipeline on several worker counts."""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Sequence
from typing import Callable

import numpy as np

from alvh.bench.specs import HESTON


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
