"""The chunked Monte Carlo runner: calibrate once, then generate, price and reduce chunk by chunk.

Randomness follows numpy's SPEC 7: one root ``SeedSequence(seed)``; its child 0 seeds the path
chunks (chunk i gets grandchild i, whatever the number of chunks or workers) and its child 1 seeds the
calibration diagnostics. Chunk sizes depend only on ``n_paths`` and ``chunk_size``, never on the
number of workers, so results are identical for any ``jobs``.

A chunk never leaves the worker as whole paths: it is reduced to per-path summaries (a few numbers
per path) before the next one starts. Whole paths are kept only for two bounded samples, fixed by
path index (so identical for any number of workers):

* the fan-chart sample: the first ``sample_paths_per_chunk`` paths of each chunk, until
  ``max_sample_paths`` paths are kept;
* the daily sample: the daily P&L and deltas of the first ``daily_paths`` paths, on which the pooled
  daily statistics (daily VaR/CVaR, convexity, claims 2 and 3, regime cost rates) are computed.

The per-path summaries themselves go to disk as each chunk finishes (:mod:`alvh.pathstore`), so
beyond those caps memory does not grow with the number of paths.

Submodules: :mod:`alvh.runner.layout` (per-path fields and the chunk layout),
:mod:`alvh.runner.records` (:class:`Prepared`, :class:`RunResult`), :mod:`alvh.runner.preparation`
(:func:`prepare`), :mod:`alvh.runner.chunks` (:func:`simulate_chunk`, the chunking, :class:`ChunkTask`),
:mod:`alvh.runner.driver` (:func:`run`, :func:`run_identity`) and :mod:`alvh.runner.historical`
(:func:`replay` on the real path).
"""

from __future__ import annotations

from alvh.runner.layout import (
    CHUNK_FORMAT,
    DAILY_DTYPE,
    LEG_NAMES,
    PATH_FIELDS,
    PER_PATH_KEYS,
    STRATEGY_FIELDS,
    WHOLE_PATH_KEYS,
)
from alvh.runner.records import Prepared, RunResult
from alvh.runner.preparation import measure_days, prepare, spot_vol_beta
from alvh.runner.chunks import ChunkTask, book_summaries, chunk_sizes, sample_plan, simulate_chunk
from alvh.runner.chunks import _max_drawdown  # noqa: F401  (alvh.frontierrun, tests/test_fastbook.py)
from alvh.runner.driver import run, run_identity
from alvh.runner.driver import log  # noqa: F401  (the runner's logger, as before)
from alvh.runner.historical import ReplayResult, replay

__all__ = ["Prepared", "RunResult", "prepare", "simulate_chunk", "run", "ChunkTask", "run_identity", "PATH_FIELDS", "STRATEGY_FIELDS",
           "LEG_NAMES", "spot_vol_beta", "measure_days", "replay", "ReplayResult",
           "CHUNK_FORMAT", "PER_PATH_KEYS", "WHOLE_PATH_KEYS", "DAILY_DTYPE", "book_summaries", "chunk_sizes",
           "sample_plan"]
