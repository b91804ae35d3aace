"""Where chunks run: in this process, on local joblib workers, or on a Dask cluster.

Every backend runs the same task, ``task(i)`` for chunk ``i``, and yields ``(i, result)`` in the
order chunks finish; the runner puts results back in chunk order, so the result never depends on
the backend, the number of workers or the order of completion.

Faults: a joblib worker that dies (killed, out of memory) ends the pool with
``TerminatedWorkerError``; the chunks not yet returned are submitted again, up to ``retries`` times.
On Dask the scheduler itself reruns the tasks of a worker that dies (up to its
``distributed.scheduler.allowed-failures``) and ``retries`` reruns a task that raised.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator

from joblib import Parallel, delayed

__all__ = ["BACKENDS", "WorkerLostError", "FileTask", "run_tasks", "release_workers", "dask_client", "check_worker_versions",
           "pinned_versions", "versions_of", "close_client", "PINNED"]

log = logging.getLogger("alvh")

BACKENDS = ("joblib", "dask")


class WorkerLostError(RuntimeError):
    """Workers kept dying: a chunk could not be finished within the allowed retries."""


class FileTask:
    """``task(i)`` in a joblib worker, the task read from a pickle file once per worker process.

    A chunk task carries the model, the VIX option table (21 MB on ``baseline.toml``) and the SPX
    surface. Handed to joblib directly, it went to the workers with every chunk, and joblib
    memory-mapped its large arrays into a temporary folder that it then failed to delete while
    the workers still mapped them: ten retries of 0.1 s at the end of every run (1.0 s measured
    on each 8-chunk bench run). This wrapper pickles to a few bytes (the path); each worker loads
    the task on its first chunk and keeps only the latest one.

    Parameters
    ----------
    path : str or Path
        A file written by ``cloudpickle.dump(task, f)``; it must exist while chunks run.
    """

    _loaded: dict = {}      # per process: {path: task}, at most one entry

    def __init__(self, path) -> None:
        self.path = str(path)

    def __call__(self, i: int):
        task = FileTask._loaded.get(self.path)
        if task is None:
            import pickle

            with open(self.path, "rb") as f:
                task = pickle.load(f)
            FileTask._loaded.clear()
            FileTask._loaded[self.path] = task
        return task(i)


def _joblib_tasks(task: Callable, indices: list[int], jobs: int, retries: int) -> Iterator[tuple[int, object]]:
    if jobs == 1:        # in this process: nothing to ship
        yield from _joblib_attempts(task, indices, jobs, retries)
        return
    import tempfile
    from pathlib import Path

    import cloudpickle

    with tempfile.TemporaryDirectory(prefix="alvh-task-") as tmp:
        path = Path(tmp) / "task.pkl"
        with open(path, "wb") as f:
            cloudpickle.dump(task, f, protocol=5)
        yield from _joblib_attempts(FileTask(path), indices, jobs, retries)


def _joblib_attempts(task: Callable, indices: list[int], jobs: int, retries: int) -> Iterator[tuple[int, object]]:
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    pending = list(indices)
    for attempt in range(retries + 1):
        try:
            gen = Parallel(n_jobs=jobs, return_as="generator_unordered")(delayed(task)(i) for i in list(pending))
            for i, out in gen:
                pending.remove(i)
                yield i, out
            return
        except TerminatedWorkerError as exc:
            if attempt == retries:
                raise WorkerLostError(f"a worker died {retries + 1} times; chunks {pending} not finished: "
                                      f"{str(exc).splitlines()[0]}") from exc
            log.warning("a worker died (%s); rerunning %d unfinished chunk(s): %s", str(exc).splitlines()[0],
                        len(pending), pending)


def dask_client(scheduler: str | None, jobs: int, wait_s: float = 120.0):
    """A ``distributed.Client``: connected to ``scheduler`` (``tcp://host:port``), or to a new local
    cluster of ``jobs`` single-threaded worker processes when ``scheduler`` is None.

    Raises
    ------
    OSError
        The scheduler cannot be reached (within 30 s).
    RuntimeError
        No worker joined within ``wait_s`` seconds, a worker runs more than one thread, or a worker
        has other versions of :data:`PINNED` (every chunk checks this again on its worker).
    """
    import distributed

    if scheduler:
        client = distributed.Client(scheduler, timeout="30s")
        try:
            try:
                client.wait_for_workers(1, timeout=wait_s)
            except (TimeoutError, distributed.TimeoutError) as exc:
                raise RuntimeError(f"no Dask worker joined {scheduler} within {wait_s:g} s") from exc
            multi = {w: n for w, n in client.nthreads().items() if n != 1}
            if multi:
                raise RuntimeError(f"Dask workers {sorted(multi)} run {sorted(set(multi.values()))} threads; start "
                                   "them with --nthreads 1 (one chunk per process keeps results bit-identical)")
            check_worker_versions(client)
        except Exception:
            client.close()
            raise
        return client
    cluster = distributed.LocalCluster(n_workers=max(jobs, 1), threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
    try:
        return distributed.Client(cluster)
    except Exception:
        cluster.close()
        raise


#: Packages whose versions must agree between this process and every worker: they draw and price paths.
PINNED = ("alvh", "numpy", "scipy", "statsmodels", "arch")


def versions_of(packages) -> dict[str, str]:
    """Installed version of each package in this process ("not installed" where missing)."""
    from importlib import metadata

    out = {}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


#: Widest progress bar, in characters (terminal lines stay within 100 characters).
PROGRESS_MAX_COLUMNS = 100


def progress_bar(**kwargs):
    """A tqdm progress bar on stderr: on a terminal at most :data:`PROGRESS_MAX_COLUMNS` wide,
    elsewhere (a notebook) tqdm's own choice (:mod:`tqdm.auto`).

    On a terminal its size is the terminal's where the terminal says it (``COLUMNS`` when it is a
    positive number, or the size of stderr's terminal), else 80 columns and 24 rows. tqdm asks the
    terminal alone, and a pseudo-terminal whose size was never set (``script``, ``ssh -t`` without a
    size, a pty opened by a program) reports 0 columns and 0 rows, for which tqdm drew nothing at
    all. Keyword arguments go to :class:`tqdm.tqdm`.
    """
    import sys

    try:
        on_terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):
        on_terminal = False
    if not on_terminal:
        from tqdm.auto import tqdm as auto_tqdm

        return auto_tqdm(**kwargs)
    from tqdm import tqdm

    try:
        cols, rows = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        cols, rows = 0, 0
    try:
        env_cols = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        env_cols = 0
    cols = env_cols if env_cols > 0 else cols if cols > 0 else 80
    kwargs.setdefault("ncols", min(cols, PROGRESS_MAX_COLUMNS))
    kwargs.setdefault("nrows", rows if rows > 0 else 24)      # tqdm hides every bar when it reads 0 rows
    kwargs.setdefault("file", sys.stderr)
    return tqdm(**kwargs)


def pinned_versions() -> dict[str, str]:
    """Versions of the :data:`PINNED` packages in this process."""
    return versions_of(PINNED)


def release_workers() -> None:
    """Stop joblib's worker processes now, instead of when they have been idle for 300 s.

    loky keeps its workers for reuse by the next ``Parallel`` call, each holding its imports, the
    compiled kernels and the last chunk's arrays (about 0.5 GB on ``baseline.toml``). ``alvh run``
    calls this when the chunks are done, so that the analysis, whose memory grows with the number
    of paths, does not run beside them: on a 2-core machine the two idle workers were about 1 GB
    of the run's peak. The next joblib run starts fresh workers (a few seconds).

    loky has no public accessor for its executor that does not create one, so this reads the
    module's singleton; a loky without it is left alone.
    """
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=False)


def close_client(client) -> None:
    """Close a Dask client, and the local cluster it started (a cluster reached by address is left running)."""
    from distributed import LocalCluster

    cluster = getattr(client, "cluster", None)
    client.close()
    if isinstance(cluster, LocalCluster):
        cluster.close()


def check_worker_versions(client) -> None:
    """Refuse a cluster whose workers run other versions of :data:`PINNED` than this process.

    Raises
    ------
    RuntimeError
        Naming the worker, the package and both versions (results would not be reproducible).
    """
    here = pinned_versions()
    for worker, theirs in client.run(pinned_versions).items():
        for pkg, v in here.items():
            if theirs.get(pkg) != v:
                raise RuntimeError(f"Dask worker {worker} has {pkg} {theirs.get(pkg)}, this process {v}; install the "
                                   "same versions on every worker (results would differ)")


def _call(task: Callable, i: int):
    return task(i)


def _dask_tasks(task: Callable, indices: list[int], client, retries: int) -> Iterator[tuple[int, object]]:
    import distributed

    shared = client.scatter(task, broadcast=True, hash=False)  # the model, tables and surface, sent once
    futures = [client.submit(_call, shared, i, pure=False, retries=retries) for i in indices]
    try:
        for fut in distributed.as_completed(futures):
            i, out = fut.result()
            fut.release()
            yield i, out
    finally:
        for fut in futures:
            fut.cancel()


def run_tasks(task: Callable, indices: Iterable[int], backend: str = "joblib", jobs: int = 1,
              scheduler: str | None = None, client=None, retries: int = 2) -> Iterator[tuple[int, object]]:
    """Run ``task(i)`` for each chunk index and yield ``(i, result)`` as chunks finish.

    Parameters
    ----------
    task : callable
        ``task(i) -> (i, result)``; must be picklable (cloudpickle) for worker processes.
    indices : iterable of int
        Chunks to run.
    backend : {"joblib", "dask"}
    jobs : int
        joblib workers (1: in this process; -1: all cores), or the size of a local Dask cluster.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); Dask only.
    client : distributed.Client, optional
        An existing Dask client to use instead (Dask only; not closed here).
    retries : int
        Reruns of a chunk whose worker died (joblib) or that raised (Dask).

    Raises
    ------
    ValueError
        Unknown backend, or a scheduler given for joblib.
    WorkerLostError
        joblib workers died more than ``retries`` times.
    """
    indices = list(indices)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not indices:
        return
    if backend == "joblib":
        if scheduler:
            raise ValueError("--scheduler needs --backend dask")
        yield from _joblib_tasks(task, indices, jobs, retries)
        return
    own = client is None
    if own:
        client = dask_client(scheduler, jobs if jobs > 0 else (os.cpu_count() or 1))
    try:
        yield from _dask_tasks(task, indices, client, retries)
    finally:
        if own:
            close_client(client)
