"""The run over all chunks (:func:`run`, locally with joblib or on Dask) and the identity that
decides whether a checkpoint may be resumed (:func:`run_identity`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from alvh.pathstore import PathStore
from alvh.parallel import progress_bar
from alvh.runner.chunks import ChunkTask, chunk_sizes, sample_plan
from alvh.runner.layout import CHUNK_FORMAT, PATH_FIELDS, PER_PATH_KEYS, STRATEGY_FIELDS, WHOLE_PATH_KEYS
from alvh.runner.preparation import measure_days
from alvh.runner.records import Prepared, RunResult

log = logging.getLogger("alvh")


def run_identity(prepared: Prepared, n_paths: int, seed: int, chunk_size: int) -> dict:
    """What makes two runs the same run: the checkpoint of one may be resumed by the other.

    The scenario text, the calibrated model (its parameters, from a fit or a parameter file), the
    initial state and the data (SHA-256 of each), the root seed, the number of paths, the chunking,
    the number of steps, and the versions of the packages that draw and price the paths.
    """
    import hashlib
    import json

    from alvh.parallel import pinned_versions

    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    sim = prepared.scenario.simulation
    model = json.dumps(prepared.model.to_dict(), sort_keys=True, default=float)
    state = json.dumps([float(prepared.s0), float(prepared.var0), int(prepared.regime0)])
    data = np.ascontiguousarray(np.concatenate([np.asarray(prepared.data.spx, float).ravel(),
                                                np.asarray(prepared.data.vix, float).ravel()]))
    return {"scenario_sha256": sha(prepared.scenario.text.encode()), "model_sha256": sha(model.encode()),
            "state_sha256": sha(state.encode()), "data_sha256": sha(data.tobytes()), "seed": int(seed),
            "n_paths": int(n_paths), "chunk_size": int(chunk_size), "n_steps": int(prepared.n_steps),
            "chunk_format": CHUNK_FORMAT, "daily_paths": int(sim["daily_paths"]),
            "sample_paths_per_chunk": int(sim["sample_paths_per_chunk"]),
            "max_sample_paths": int(sim["max_sample_paths"]), "versions": pinned_versions()}


def run(
    prepared: Prepared,
    n_paths: int,
    seed: int,
    jobs: int = 1,
    chunk_size: int | None = None,
    progress: bool = True,
    backend: str = "joblib",
    scheduler: str | None = None,
    client=None,
    checkpoint: Path | str | None = None,
    resume: bool = False,
    fresh: bool = False,
    on_chunk=None,
    path_store: Path | str | None = None,
) -> RunResult:
    """Run all chunks (locally with joblib, or on Dask) and gather per-path summaries.

    Each finished chunk's per-path summaries go to disk at once (:class:`alvh.pathstore.PathStore`)
    and only its bounded samples stay in memory, so memory does not grow with the chunks done.

    Parameters
    ----------
    prepared : Prepared
    n_paths : int
        Total number of paths, >= 1.
    seed : int
        Root seed (>= 0); chunk i draws from child i of ``SeedSequence(seed).spawn(2)[0]``.
    jobs : int, default 1
        joblib workers (-1 = all cores), or the size of a local Dask cluster. Results do not depend on it.
    chunk_size : int, optional
        Paths per chunk; defaults to the scenario's.
    progress : bool, default True
        Show a progress bar (tqdm, with ETA) over chunks.
    backend : {"joblib", "dask"}, default "joblib"
        Where chunks run (:func:`alvh.parallel.run_tasks`). Results do not depend on it.
    scheduler : str, optional
        Dask scheduler address (``tcp://host:8786``); without it ``backend="dask"`` starts a local cluster.
    client : distributed.Client, optional
        A Dask client to use (not closed here).
    checkpoint : path, optional
        Checkpoint folder (:class:`alvh.checkpoint.ChunkStore`): every finished chunk is persisted
        atomically; with ``resume``, chunks finished by an earlier, interrupted run are read back
        instead of recomputed.
    resume, fresh : bool
        Continue the checkpoint of an interrupted run, or discard it.
    on_chunk : callable, optional
        Called with the chunk index after each chunk is finished (computed or read back).
    path_store : path, optional
        Folder for the per-path summaries (:class:`alvh.pathstore.PathStore`), created after the
        checkpoint is opened (so it may live inside it: :func:`alvh.pipeline.run_scenario` puts it in
        the checkpoint folder, which a killed run then leaves in one place); default a temporary
        directory removed with the result.

    Returns
    -------
    RunResult

    Raises
    ------
    ValueError
        For ``n_paths < 1`` or ``seed < 0``.
    alvh.checkpoint.CheckpointExists, alvh.checkpoint.CheckpointError
        A checkpoint is present without ``resume``/``fresh``, or belongs to another run.
    alvh.checkpoint.StorageError
        The disk filled up while writing a checkpoint.
    alvh.parallel.WorkerLostError
        Workers kept dying.
    """
    from alvh.checkpoint import ChunkStore
    from alvh.parallel import run_tasks

    if n_paths < 1:
        raise ValueError(f"n_paths must be >= 1, got {n_paths}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    sc = prepared.scenario
    chunk_size = chunk_size or sc.simulation["chunk_size"]
    sizes = chunk_sizes(n_paths, chunk_size)
    n_chunks = len(sizes)
    children = np.random.SeedSequence(seed).spawn(2)[0].spawn(n_chunks)
    event_day, measure = measure_days(prepared.n_steps, sc.stress["events"])
    common = dict(
        model=prepared.model, s0=prepared.s0, var0=prepared.var0, regime0=prepared.regime0,
        n_steps=prepared.n_steps, dt=prepared.dt, market=prepared.market or sc.market, condor=sc.condor,
        hedges=sc.hedges, table=prepared.table, surface=prepared.surface, shocks=prepared.shocks,
        intensity=prepared.intensity, measure=measure,
    )
    per_chunk = sample_plan(sizes, sc.simulation["sample_paths_per_chunk"], sc.simulation["max_sample_paths"],
                            sc.simulation["daily_paths"])
    store = None
    done = [False] * n_chunks
    starts = [int(s) for s in np.cumsum([0] + sizes[:-1])]
    kept: list[dict | None] = [None] * n_chunks      # per chunk: its bounded whole-path samples only

    def keep(i: int, out: dict) -> None:
        """Per-path summaries to disk; the bounded samples (daily head, fan-chart paths) in memory."""
        missing = [k for k in PER_PATH_KEYS + WHOLE_PATH_KEYS if k not in out]
        if missing:
            raise ValueError(f"chunk {i} lacks {missing}")
        paths.write(starts[i], {k: out[k] for k in PER_PATH_KEYS})
        kept[i] = {k: out[k] for k in WHOLE_PATH_KEYS}
        done[i] = True

    finished: list[int] = []
    if checkpoint is not None:
        store = ChunkStore(Path(checkpoint), run_identity(prepared, n_paths, seed, chunk_size), n_chunks)
        finished = list(store.open(resume=resume, fresh=fresh))    # (a fresh start empties the folder)
    paths = PathStore(n_paths, path_store)
    if store is not None:
        for i in finished:
            out = store.load(i)
            if out is not None:
                keep(i, out)
        n_done = sum(done)
        if n_done:
            log.info("%s: %d of %d chunks read back from the checkpoint %s", sc.name, n_done, n_chunks, checkpoint)
    todo = [i for i in range(n_chunks) if not done[i]]
    resumed = n_chunks - len(todo)
    t0 = time.perf_counter()
    bar = progress_bar(total=n_chunks, initial=n_chunks - len(todo), desc=f"{sc.name}: chunks of {chunk_size} paths",
                       unit="chunk", disable=not progress, leave=False)
    if on_chunk is not None:
        for i in range(n_chunks):
            if done[i]:
                on_chunk(i)
    task = ChunkTask(children, sizes, common, per_chunk)
    with bar:
        for i, out in run_tasks(task, todo, backend=backend, jobs=jobs, scheduler=scheduler, client=client):
            if store is not None:
                store.save(i, out)
            keep(i, out)
            del out
            log.info("%s: chunk %d of %d done (%d paths)", sc.name, i + 1, n_chunks, sizes[i])
            bar.update(1)
            if on_chunk is not None:
                on_chunk(i)
    elapsed = time.perf_counter() - t0
    cat = lambda k, axis=0: np.concatenate([c[k] for c in kept], axis=axis)  # noqa: E731
    sample_idx = np.concatenate([s + np.arange(c["sample_spx"].shape[0]) for s, c in zip(starts, kept)])
    return RunResult(
        prepared=prepared, n_paths=n_paths, seed=seed, jobs=jobs, chunk_size=chunk_size,
        strategies=[None, *sc.hedges],
        per_strategy={k: paths[k] for k in STRATEGY_FIELDS},
        layer_pnl=paths["layer_pnl"], condor_leg_pnl=paths["condor_leg_pnl"],
        layer_entries=paths["layer_entries"], layer_cap_bound=paths["layer_cap_bound"],
        per_path={k: paths[k] for k in PATH_FIELDS},
        daily_pnl=cat("daily_pnl", 1), daily_delta=cat("daily_delta", 1), regime=cat("regime"),
        event_day=event_day,
        sample_spx=cat("sample_spx"), sample_vix=cat("sample_vix"), sample_cum_pnl=cat("sample_cum_pnl", 1),
        sample_regime=cat("sample_regime"), sample_path_index=sample_idx.astype(np.int64), elapsed_s=elapsed,
        resumed_chunks=resumed, path_store=paths,
    )
