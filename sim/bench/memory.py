"""Row (e) of ``alvh bench``: the peak resident memory of a fresh ``alvh run`` subprocess and of its
whole process tree, and the command line it runs."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path


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
