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

Submodules: :mod:`alvh.bench.specs` (the test case, the measurements, :class:`Row`),
:mod:`alvh.bench.timing` (timing helpers and rows (a) to (d)), :mod:`alvh.bench.memory` (row (e):
the peak RSS of a process tree), :mod:`alvh.bench.machine` (the machine's description),
:mod:`alvh.bench.suite` (:func:`run_suite`) and :mod:`alvh.bench.output` (table and JSON).
"""

from __future__ import annotations

from alvh.bench.machine import machine_info
from alvh.bench.memory import alvh_run_command, peak_tree_rss
from alvh.bench.output import format_table, json_problem, write_json
from alvh.bench.specs import DEFAULT_SCENARIO, GIB, HESTON, MEASUREMENTS, QL_MISSING, Row
from alvh.bench.suite import _quantlib_available, run_suite  # noqa: F401 (private, patched and used by tests)
from alvh.bench.timing import (best_of, heston_kernel, one_core, quantlib_heston_mc, time_generation,
                               time_numpy_floor, time_ours_paths, time_pipelines, time_quantlib)

__all__ = ["HESTON", "MEASUREMENTS", "QL_MISSING", "Row", "best_of", "heston_kernel", "machine_info",
           "time_ours_paths", "time_generation", "time_numpy_floor", "quantlib_heston_mc", "time_quantlib", "time_pipelines",
           "peak_tree_rss", "run_suite", "format_table", "write_json", "json_problem", "DEFAULT_SCENARIO", "GIB",
           "one_core", "alvh_run_command"]
