"""One scenario end to end: prepare, simulate (checkpointed), analyse, write results and report.

Used by ``alvh run``, ``alvh batch`` and ``alvh rerun``. Output is written into a hidden temporary
folder next to ``out_dir`` and renamed into place only when the results, the report and the tables
are complete; the chunk checkpoint (``.NAME.chunks`` beside ``out_dir``) is removed only after that.
An existing ``out_dir`` is replaced only if it is empty or alvh wrote everything in it
(:mod:`alvh.outdir`); that is checked before any work, and again just before the replacement.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import xarray as xr

from alvh.checkpoint import output_lock, storage_guard
from alvh.config import Scenario
from alvh.outdir import check_result_folder, check_writable, publish_mode, tidy_beside, write_marker

__all__ = ["run_scenario", "analyse_run", "checkpoint_folder", "VOLATILE_ATTRS", "VERSION_ATTRS", "compare_results"]

log = logging.getLogger("alvh")

#: Result attributes that describe how a run was executed, not what it computed.
VOLATILE_ATTRS = ("created", "elapsed_s", "command", "jobs", "backend", "scenario_path", "resumed_chunks")

#: Result attributes that describe the software, reported apart from the results by ``alvh rerun``.
VERSION_ATTRS = ("package_versions_json", "run_identity_json")


def checkpoint_folder(out_dir: Path) -> Path:
    """The chunk checkpoint of a run writing into ``out_dir``: ``.NAME.chunks`` beside it."""
    out_dir = Path(out_dir)
    return out_dir.parent / f".{out_dir.name}.chunks"


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Put the finished folder ``tmp`` in place of ``out_dir``, which :func:`alvh.outdir.check_result_folder`
    has accepted (absent, empty, or alvh's own result)."""
    old = None
    if out_dir.exists():
        if not any(out_dir.iterdir()):
            out_dir.rmdir()        # an empty folder: nothing to set aside
        else:
            old = out_dir.with_name(f".{out_dir.name}-old-{os.getpid()}")
            os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _tidy(out_dir: Path) -> None:
    """Before a run (under its lock): restore a result left aside by a run killed between its two
    renames, and remove the partial folders of killed runs (only folders with alvh's marker)."""
    tidy_beside(out_dir, log)


def run_scenario(scenario: Scenario, out_dir: Path, n_paths: int | None = None, seed: int | None = None,
                 jobs: int = 1, backend: str = "joblib", scheduler: str | None = None, client=None,
                 resume: bool = False, fresh: bool = False, progress: bool = False, on_chunk=None,
                 command: str = "", checkpoint: bool = True, prepared=None,
                 say=lambda msg: None, out_key: str = "--out", cache: bool = False) -> xr.Dataset:
    """Run ``scenario`` and write ``results.nc``, ``report.html`` and the CSV tables into ``out_dir``.

    Parameters
    ----------
    scenario : Scenario
    out_dir : Path
        Output folder (replaced atomically when complete).
    n_paths, seed : int, optional
        Defaults: the scenario's.
    jobs, backend, scheduler, client
        Where chunks run (:func:`alvh.runner.run`).
    resume, fresh : bool
        Continue or discard the checkpoint of an interrupted run (:class:`alvh.checkpoint.ChunkStore`).
    progress : bool
        Progress bar over chunks.
    on_chunk : callable, optional
        Called after each finished chunk.
    command : str
        Command line stored in the result's attrs.
    checkpoint : bool, default True
        Persist finished chunks (``.NAME.chunks`` beside ``out_dir``) so an interrupted run can resume.
    prepared : alvh.runner.Prepared, optional
        A preparation to reuse (same scenario and seed).
    say : callable
        Receives one-line progress messages (e.g. ``print`` to stderr).
    out_key : str
        How the user named ``out_dir`` (``--out``, ``name``), for refusals.
    cache : bool, default False
        Reuse a cached calibration of the same model, data and window (:func:`alvh.runner.prepare`).

    Returns
    -------
    xarray.Dataset
        The result as written.

    Raises
    ------
    alvh.outdir.OutputFolderError
        ``out_dir`` holds files alvh did not write, or its parent cannot be written (checked
        before any work; nothing is written or deleted).
    alvh.data.DataError, alvh.modelspec.ParamsFileError, ValueError
        Bad data, parameter file or model rule (from :func:`alvh.runner.prepare`).
    alvh.checkpoint.CheckpointExists, alvh.checkpoint.CheckpointError, alvh.checkpoint.StorageError
        Checkpoint conflicts, another process writing ``out_dir``, or a full disk (nothing partial
        is left as a result).
    alvh.parallel.WorkerLostError, RuntimeError, OSError, distributed.KilledWorker
        Workers that keep dying, a worker with other package versions, an unreachable scheduler.
    """
    from alvh import runner

    out_dir = Path(os.path.abspath(out_dir))   # 'a/..' and '.' resolved before any name is taken from it
    check_result_folder(out_dir, out_key)    # before any work: never replace what alvh did not write
    check_writable(out_dir.parent, out_key)
    seed = scenario.simulation["seed"] if seed is None else seed
    if prepared is None:  # before anything is written: bad data or a failed fit leaves no folder behind
        say(f"alvh: scenario '{scenario.name}' ({scenario.path}): calibrating to real data...")
        prepared = runner.prepare(scenario, seed, cache=True) if cache else runner.prepare(scenario, seed)
        say(prepared.fit.summary())
    from alvh.modelspec import model_warnings

    for warning in model_warnings(prepared.model, prepared.fit):
        say(f"alvh: warning: {scenario.path or scenario.name}: {warning}")
    _say_scorecard(scenario, prepared, say)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out_dir):
        _tidy(out_dir)
        check_result_folder(out_dir, out_key)
        return _run_locked(scenario, out_dir, n_paths, seed, jobs, backend, scheduler, client, resume, fresh,
                           progress, on_chunk, command, checkpoint, prepared, say, out_key)


def _scorecard(scenario: Scenario, prepared):
    """The realism scorecard of the run's model (:func:`alvh.scorecard.model_scorecard`, cached by its
    parameters), or the reason it is missing (a replay is scored by its pricing model elsewhere)."""
    if scenario.model["type"] == "replay":
        return None, "a replay is the real path"
    from alvh.scorecard import model_scorecard

    try:
        return model_scorecard(scenario.model["type"], prepared.model), ""
    except (ValueError, OSError) as exc:    # the run does not depend on it; say why it is missing
        return None, str(exc)


def _say_scorecard(scenario: Scenario, prepared, say) -> None:
    """Name the realism scorecard rows the run's model fails."""
    import textwrap

    from alvh.scorecard import failed_rows

    card, why = _scorecard(scenario, prepared)
    if card is None:
        if scenario.model["type"] != "replay":
            say(f"alvh: warning: realism scorecard not computed: {why}")
        return
    say(textwrap.fill(f"alvh: realism scorecard of the {scenario.model['type']} model (alvh validate --market "
                      f"for the table): {failed_rows(card)}", width=100, subsequent_indent="    "))


def analyse_run(scenario: Scenario, prepared, n_paths: int | None, seed: int, jobs: int = 1,
                backend: str = "joblib", scheduler: str | None = None, client=None, progress: bool = False,
                on_chunk=None, command: str = "", checkpoint: Path | None = None, resume: bool = False,
                fresh: bool = False, say=lambda msg: None) -> xr.Dataset:
    """Simulate a prepared scenario and analyse it: the results Dataset, in memory (nothing written
    but the chunk checkpoint, when one is given).

    Parameters
    ----------
    scenario : Scenario
    prepared : alvh.runner.Prepared
        The scenario's preparation (:func:`alvh.runner.prepare`, same scenario and seed).
    n_paths : int or None
        Default: the scenario's; a replay is one path.
    seed : int
        Root seed.
    jobs, backend, scheduler, client, progress, on_chunk, command, say
        As :func:`run_scenario`.
    checkpoint : Path, optional
        Chunk checkpoint folder (:class:`alvh.checkpoint.ChunkStore`); ``resume``/``fresh`` act on it.

    Returns
    -------
    xarray.Dataset
        The results Dataset (layout: :mod:`alvh.results`).
    """
    from alvh import results, runner

    n_paths = n_paths or scenario.simulation["n_paths"]
    if scenario.model["type"] == "replay" and n_paths != 1:
        say(f"alvh: a replay is one path (the real one); ignoring {n_paths:,} paths")
        n_paths = 1
    say(f"alvh: simulating {n_paths:,} paths x {prepared.n_steps} days in chunks of "
        f"{scenario.simulation['chunk_size']:,} on {jobs} job(s) ({backend})...")
    ck = checkpoint
    # the per-path store inside the checkpoint: removed with it, and not left in $TMPDIR by a killed run
    result = runner.run(prepared, n_paths, seed, jobs=jobs, progress=progress, backend=backend, scheduler=scheduler,
                        client=client, checkpoint=ck, resume=resume, fresh=fresh, on_chunk=on_chunk,
                        path_store=None if ck is None else ck / "paths")
    if backend == "joblib" and jobs != 1:
        from alvh.parallel import release_workers

        release_workers()   # idle workers (~0.5 GB each) would otherwise sit beside the analysis
    replayed = None
    if scenario.analysis["replay"] and scenario.model["type"] != "replay":
        say(f"alvh: replaying every strategy on the real path {prepared.fit.sample}...")
        replayed = runner.replay(prepared)
    say("alvh: metrics and claim check...")
    metric_list, claims = results.analyse(result)
    ds = results.build_dataset(result, metric_list, claims, command=command, replay=replayed)
    ds.attrs.update({
        "backend": backend,
        "scenario_path": str(scenario.path.resolve()) if scenario.path else "",
        "n_chunks": len(runner.chunk_sizes(n_paths, result.chunk_size)),
        "run_identity_json": json.dumps(runner.run_identity(prepared, n_paths, seed, result.chunk_size)),
        "resumed_chunks": int(result.resumed_chunks),
    })
    card, _ = _scorecard(scenario, prepared)
    if card is not None:      # the report's "Realism scorecard" section
        ds.attrs["scorecard_json"] = card.to_json(orient="records")
    if replayed is not None:  # the same rules with the VIX layers at real prices, and the headlines
        from alvh import verdicts

        say("alvh: replaying the hedges at real VIX prices (2006-03-06 .. 2024-12-31)...")
        try:
            real = verdicts.real_path_summary(prepared, replayed)
        except ValueError as exc:   # e.g. a user's data with days the bundled futures lack: said, not fatal
            say(f"alvh: warning: no replay at real VIX prices: {exc}")
            real = None
        try:
            fails = verdicts.acceptance_failures(card) if card is not None else None
        except ValueError:
            fails = None
        from alvh.report import _claims_frame

        heads = verdicts.run_headlines(_claims_frame(ds), scenario.model["type"], fails, real)
        ds.attrs["verdicts_json"] = json.dumps({"real": real, "model": scenario.model["type"],
                                                "acceptance_fails": fails, "headlines": heads},
                                               default=float)
    if scenario.analysis.get("frontier"):     # the frontier's line on claims 1 and 4 (alvh frontier)
        from alvh.config import frontier_claim_line

        fp = Path(scenario.analysis["frontier"])
        fp = fp if fp.is_absolute() else (scenario.path.parent if scenario.path else Path.cwd()) / fp
        try:
            ds.attrs["frontier_line"] = f"{frontier_claim_line(fp)} (alvh frontier, {fp.name})"
        except (OSError, ValueError) as exc:    # moved or rewritten since the scenario was read: said
            say(f"alvh: warning: analysis.frontier: {exc}")
    return ds


def _run_locked(scenario, out_dir, n_paths, seed, jobs, backend, scheduler, client, resume, fresh, progress,
                on_chunk, command, checkpoint, prepared, say, out_key) -> xr.Dataset:
    from alvh import report, results

    ck = checkpoint_folder(out_dir) if checkpoint else None
    ds = analyse_run(scenario, prepared, n_paths, seed, jobs=jobs, backend=backend, scheduler=scheduler,
                     client=client, progress=progress, on_chunk=on_chunk, command=command, checkpoint=ck,
                     resume=resume, fresh=fresh, say=say)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-partial-", dir=out_dir.parent))
    try:
        write_marker(tmp, "partial", files=())   # a killed run's partial folder is known as alvh's
        results.write_dataset(ds, tmp / "results.nc")
        with storage_guard(tmp / "report.html", "the report"):
            report.render_report(ds, tmp / "report.html")
            report.write_tables(ds, tmp)
            write_marker(tmp, "result")
        publish_mode(tmp)
        check_result_folder(out_dir, out_key)   # files may have appeared there during the run
        _replace_dir(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if ck is not None:
        shutil.rmtree(ck, ignore_errors=True)
    log.info("%s: results written to %s", scenario.name, out_dir)
    return ds


def compare_results(a: xr.Dataset, b: xr.Dataset) -> list[str]:
    """Differences between two results, ignoring how they were executed (:data:`VOLATILE_ATTRS`) and
    the software versions (:data:`VERSION_ATTRS`, which ``alvh rerun`` reports on its own).

    Every data variable and coordinate is compared bit for bit (NaN equal to NaN, strings exactly),
    and every other attribute by value.

    Returns
    -------
    list of str
        One line per difference; empty when the results are identical.
    """
    import numpy as np

    out = []
    fa, fb = (int(x.attrs.get("results_format", 1)) for x in (a, b))
    if fa != fb:    # not an error in itself: says why variables may be only in one of them
        out.append(f"results format {fa} vs {fb}: the two were written by versions of alvh that lay results "
                   "out differently; the lines below may come from that alone")
    for kind, va, vb in (("variable", a.data_vars, b.data_vars), ("coordinate", a.coords, b.coords)):
        for name in sorted(set(va) | set(vb)):
            if name not in va or name not in vb:
                out.append(f"{kind} {name}: only in {'the first' if name in va else 'the second'}")
                continue
            x, y = va[name].values, vb[name].values
            if x.shape != y.shape or va[name].dims != vb[name].dims:
                out.append(f"{kind} {name}: shape {x.shape} vs {y.shape}")
            elif x.dtype.kind in "fc":
                same = np.array_equal(x, y, equal_nan=True)
                if not same:
                    diff = np.nanmax(np.abs(x.astype(float) - y.astype(float)))
                    out.append(f"{kind} {name}: differs (largest difference {diff:.3g})")
            elif not np.array_equal(x, y):
                out.append(f"{kind} {name}: differs")
    for key in sorted(set(a.attrs) | set(b.attrs)):
        if key in VOLATILE_ATTRS or key in VERSION_ATTRS or key == "results_format":
            continue
        if key not in a.attrs or key not in b.attrs:
            out.append(f"attribute {key}: only in {'the first' if key in a.attrs else 'the second'}")
        elif str(a.attrs[key]) != str(b.attrs[key]):
            out.append(f"attribute {key}: {str(a.attrs[key])[:60]!r} vs {str(b.attrs[key])[:60]!r}")
    return out
