"""Running a batch: its manifest of points complete or failed, the output folder's checks and lock,
and the points run one at a time (:func:`run_batch`), then gathered and summarised."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import traceback
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from alvh.batch.collect import gather
from alvh.batch.spec import BatchSpec, Point
from alvh.batch.summary import summary_html, summary_table
from alvh.checkpoint import CheckpointError, CheckpointExists, StorageError, atomic_write_bytes, file_sha256

log = logging.getLogger("alvh")


@dataclass
class BatchOutcome:
    """What a batch did: points complete, failed, and the gathered dataset."""

    complete: list[str]
    failed: dict[str, str]
    skipped: list[str]
    dataset: xr.Dataset | None


def _settings(spec: BatchSpec, pt: Point) -> dict:
    """What a complete point was run with: a resumed batch reruns the point if any of it changed."""
    import hashlib

    from alvh.parallel import pinned_versions

    return {"scenario_sha256": hashlib.sha256(pt.scenario.text.encode()).hexdigest(), "paths": spec.paths,
            "seed": spec.seed, "versions": pinned_versions()}


def _manifest(out: Path) -> Path:
    return out / "batch_manifest.json"


def _batch_settings(spec: BatchSpec) -> dict:
    """What a batch was started with; ``--resume`` with other settings is refused."""
    import hashlib

    from alvh.parallel import pinned_versions

    return {"batch_sha256": hashlib.sha256(spec.text.encode()).hexdigest(), "paths": spec.paths, "seed": spec.seed,
            "versions": pinned_versions()}


def _write_manifest(out: Path, spec: BatchSpec, state: dict) -> None:
    doc = {"format": "alvh-batch/1", "name": spec.name, "settings": _batch_settings(spec), "points": state}
    atomic_write_bytes(_manifest(out), json.dumps(doc, indent=1).encode(), "batch manifest")


def run_batch(spec: BatchSpec, out: Path, jobs: int = 1, backend: str = "joblib", scheduler: str | None = None,
              resume: bool = False, fresh: bool = False, progress: bool = False, command: str = "",
              say=lambda msg: None) -> BatchOutcome:
    """Run every point of a batch, gather the results and write the summary.

    Parameters
    ----------
    spec : BatchSpec
    out : Path
        Output folder (see the module docstring).
    jobs, backend, scheduler
        Where chunks run (:func:`alvh.runner.run`); one Dask client serves the whole batch.
    resume, fresh : bool
        Continue an interrupted batch in ``out`` (complete points skipped, the point in progress
        resumed from its chunk checkpoint), or discard it.
    progress : bool
        Progress bars with ETA: overall (chunks of all points) and per point.
    command : str
        Command line stored in the dataset's attrs.
    say : callable
        One-line messages for the user.

    Returns
    -------
    BatchOutcome

    Raises
    ------
    alvh.outdir.OutputFolderError
        ``out`` holds anything alvh did not write (checked before any work; nothing is written).
    alvh.checkpoint.CheckpointExists
        ``out`` holds a batch and neither ``resume`` nor ``fresh`` is set.
    alvh.checkpoint.CheckpointError
        The batch in ``out`` was started with another batch text, paths, seed or package versions,
        or another process is writing ``out``.
    alvh.checkpoint.StorageError
        The disk filled up (points already complete stay complete).
    RuntimeError, OSError, distributed.KilledWorker
        Dask: an unreachable scheduler, workers with other package versions, workers that keep dying.
    """
    import os
    import shutil

    from alvh.checkpoint import QuietFileHandler, output_lock
    from alvh.outdir import BATCH_ENTRIES, check_batch_folder, check_writable, read_marker, write_marker

    out = Path(os.path.abspath(out))
    check_batch_folder(out)     # before any work: never write into, or delete, what alvh did not write
    check_writable(out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        check_batch_folder(out)
        if _manifest(out).is_file() and not resume:
            if not fresh:
                raise CheckpointExists(f"{out}: holds a batch already; pass --resume to continue it or --fresh to "
                                       "start again")
            shutil.rmtree(out)
        if _manifest(out).is_file():
            try:
                before = json.loads(_manifest(out).read_text(encoding="utf-8")).get("settings", {})
            except (OSError, ValueError) as exc:
                raise CheckpointError(f"{_manifest(out)}: unreadable ({exc}); pass --fresh to start again") from None
            now = _batch_settings(spec)
            for key in now:
                if before.get(key) != now[key]:
                    raise CheckpointError(f"{out}: the batch there was started with other settings ({key}: "
                                          f"{before.get(key)!r} there, {now[key]!r} now); resume it with the same "
                                          "batch file and options, or pass --fresh")
        out.mkdir(parents=True, exist_ok=True)
        if read_marker(out) is None:
            write_marker(out, "batch", BATCH_ENTRIES)
        return _run_batch_locked(spec, out, jobs, backend, scheduler, progress, command, say, QuietFileHandler)


def _run_batch_locked(spec, out, jobs, backend, scheduler, progress, command, say, handler_cls) -> BatchOutcome:
    import os

    from alvh.parallel import progress_bar

    from alvh.pipeline import checkpoint_folder, run_scenario

    handler = handler_cls(out / "batch.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    old_level = log.level
    log.setLevel(logging.INFO)
    client = None
    try:
        state = {}
        if _manifest(out).is_file():
            state = json.loads(_manifest(out).read_text(encoding="utf-8")).get("points", {})
        log.info("batch %s: %d point(s) into %s%s", spec.name, len(spec.points), out, " (resuming)" if state else "")
        complete, failed, skipped = [], {}, []
        todo = []
        for pt in spec.points:
            entry = state.get(pt.name, {})
            res = out / "points" / pt.name / "results.nc"
            if pt.error:
                failed[pt.name] = pt.error
                state[pt.name] = {"status": "failed", "error": pt.error}
                log.error("point %s: invalid scenario: %s", pt.name, pt.error)
                say(f"alvh: point {pt.name}: FAILED validation: {pt.error}")
            elif (entry.get("status") == "complete" and entry.get("settings") == _settings(spec, pt)
                  and res.is_file() and file_sha256(res) == entry.get("results_sha256")):
                skipped.append(pt.name)
                complete.append(pt.name)
                log.info("point %s: complete in an earlier run (checksum verified); skipped", pt.name)
            else:
                if entry.get("status") == "complete":
                    log.warning("point %s: its results.nc is missing or changed, or its scenario, paths or seed "
                                "changed; it will be rerun", pt.name)
                todo.append(pt)
        _write_manifest(out, spec, state)
        if backend == "dask" and todo:
            from alvh.parallel import dask_client

            client = dask_client(scheduler, jobs if jobs > 0 else (os.cpu_count() or 1))
        totals = {pt.name: 1 if pt.scenario.model["type"] == "replay" else
                  -(-(spec.paths or pt.scenario.simulation["n_paths"]) // pt.scenario.simulation["chunk_size"])
                  for pt in todo}
        overall = progress_bar(total=sum(totals.values()), desc=f"batch {spec.name}: chunks of {len(todo)} point(s)",
                       unit="chunk", disable=not progress, position=0)
        with overall:
            for k, pt in enumerate(todo, 1):
                point_dir = out / "points" / pt.name
                say(f"alvh: point {k} of {len(todo)}: {pt.name}")
                log.info("point %s: started (%s)", pt.name, pt.source)
                has_ck = (checkpoint_folder(point_dir) / "manifest.json").is_file()
                counted = [0]

                def advance(i, counted=counted):
                    counted[0] += 1
                    overall.update(1)

                kwargs = dict(n_paths=spec.paths, seed=spec.seed, jobs=jobs, backend=backend, scheduler=scheduler,
                              client=client, progress=progress, on_chunk=advance, command=command)
                try:
                    from alvh.runner import prepare

                    seed = pt.scenario.simulation["seed"] if spec.seed is None else spec.seed
                    kwargs["prepared"] = prepare(pt.scenario, seed)  # once, even if the point must start again
                    try:
                        run_scenario(pt.scenario, point_dir, resume=has_ck, out_key=f"point {pt.name}", **kwargs)
                    except CheckpointError as exc:  # the point's checkpoint is of other settings: start it again
                        if isinstance(exc, CheckpointExists) or "in use by another" in str(exc):
                            raise
                        log.warning("point %s: %s; starting the point again", pt.name, exc)
                        overall.update(-counted[0])
                        counted[0] = 0
                        run_scenario(pt.scenario, point_dir, fresh=True, out_key=f"point {pt.name}", **kwargs)
                except StorageError:  # a full disk stops the batch: every later point would fail too
                    log.error("point %s: disk full:\n%s", pt.name, traceback.format_exc())
                    raise
                except Exception as exc:  # a point that fails is reported; the batch goes on
                    failed[pt.name] = f"{type(exc).__name__}: {exc}"
                    log.error("point %s: failed:\n%s", pt.name, traceback.format_exc())
                    overall.update(max(totals[pt.name] - counted[0], 0))  # the bar still reaches its end
                if pt.name in failed:
                    state[pt.name] = {"status": "failed", "error": failed[pt.name]}
                    say(f"alvh: point {pt.name}: FAILED: {failed[pt.name]}")
                else:
                    res = point_dir / "results.nc"
                    state[pt.name] = {"status": "complete", "results_sha256": file_sha256(res),
                                      "settings": _settings(spec, pt),
                                      "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
                    complete.append(pt.name)
                    log.info("point %s: complete", pt.name)
                _write_manifest(out, spec, state)
        # a batch none of whose points is complete writes no dataset or summary that looks finished
        ds = gather(spec, out, state, command=command) if complete else None
        if ds is None:
            for stale in ("batch.nc", "summary.html", "summary.csv"):   # an earlier run's, alvh's own
                (out / stale).unlink(missing_ok=True)
            log.error("batch %s: no point is complete; no batch.nc or summary written", spec.name)
        else:
            from alvh.results import write_dataset

            write_dataset(ds, out / "batch.nc")
            atomic_write_bytes(out / "summary.html", summary_html(ds).encode(), "batch summary")
            atomic_write_bytes(out / "summary.csv", summary_table(ds).to_csv(index=False).encode(), "batch summary")
        log.info("batch %s: %d complete, %d failed", spec.name, len(complete), len(failed))
        return BatchOutcome(complete=complete, failed=failed, skipped=skipped, dataset=ds)
    finally:
        if client is not None:
            from alvh.parallel import close_client

            close_client(client)
        log.removeHandler(handler)
        handler.close()
        log.setLevel(old_level)
