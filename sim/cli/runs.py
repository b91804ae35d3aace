"""``alvh run``, ``alvh batch``, ``alvh agree`` and ``alvh rerun``: running scenarios and batches,
and checking results against each other or against their own metadata."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from alvh.cli.common import _check_backend, _execution_errors, _fail, _resume_hint, _say, _storage_message


def _run(args: argparse.Namespace) -> int:
    from alvh.checkpoint import CheckpointError, StorageError
    from alvh.config import ConfigError, load_scenario
    from alvh.data import DataError
    from alvh.modelspec import ParamsFileError
    from alvh.outdir import OutputFolderError
    from alvh.pipeline import run_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ConfigError as exc:
        return _fail(str(exc))
    problem = _check_backend(args)
    if problem:
        return _fail(problem)
    out_dir = Path(args.out) if args.out else Path("reports") / scenario.name
    out_key = "--out" if args.out else f"{scenario.path}: key 'name': output folder"
    n_paths = args.paths or scenario.simulation["n_paths"]
    if n_paths < 2 and scenario.model["type"] != "replay":
        return _fail("--paths: at least 2 paths are needed for VaR, CVaR and their errors")
    progress = not args.no_progress and sys.stderr.isatty()
    command = "alvh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        ds = run_scenario(scenario, out_dir, n_paths=n_paths, seed=args.seed, jobs=args.jobs, backend=args.backend,
                          scheduler=args.scheduler, resume=args.resume, fresh=args.fresh, progress=progress,
                          command=command, checkpoint=not args.no_checkpoint, say=_say, out_key=out_key)
    except OutputFolderError as exc:
        return _fail(str(exc))
    except (DataError, ParamsFileError) as exc:
        return _fail(str(exc))
    except CheckpointError as exc:
        return _fail(str(exc))
    except StorageError as exc:
        return _fail(_storage_message(exc, "finished chunks are kept", not args.no_checkpoint), 1)
    except ValueError as exc:  # calibration failure, or a model rule the scenario breaks
        return _fail(f"{scenario.path}: {exc}")
    except _execution_errors() as exc:  # workers or the cluster
        return _fail(f"{type(exc).__name__}: {exc}" + _resume_hint(exc, not args.no_checkpoint,
                                                                     "finished chunks are kept"), 1)
    from alvh import report

    print(report.summary_text(ds, out_dir))
    return 0


def _batch(args: argparse.Namespace) -> int:
    from alvh.batch import batch_from_scenarios, is_batch_file, load_batch, run_batch
    from alvh.checkpoint import CheckpointError, StorageError
    from alvh.config import ConfigError
    from alvh.outdir import OutputFolderError, check_batch_folder

    problem = _check_backend(args)
    if problem:
        return _fail(problem)
    files = [Path(f) for f in args.files]
    batch_files = [f for f in files if f.is_file() and is_batch_file(f)]
    try:
        if batch_files:
            if len(files) != 1:
                return _fail(f"{batch_files[0]}: a batch file is given alone (it lists its own scenarios)")
            spec = load_batch(files[0])
        else:
            spec = batch_from_scenarios(files)
    except ConfigError as exc:
        return _fail(str(exc))
    if args.paths:
        spec.paths = args.paths
    if args.seed is not None:
        spec.seed = args.seed
    out = Path(args.out) if args.out else Path("reports") / f"batch-{spec.name}"
    try:
        check_batch_folder(out)     # before a word of progress: nothing of the user's is touched
    except OutputFolderError as exc:
        return _fail(str(exc))
    progress = not args.no_progress and sys.stderr.isatty()
    command = "alvh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    _say(f"alvh: batch '{spec.name}': {len(spec.points)} point(s) into {out}; log: {out / 'batch.log'}")
    try:
        outcome = run_batch(spec, out, jobs=args.jobs, backend=args.backend, scheduler=args.scheduler,
                            resume=args.resume, fresh=args.fresh, progress=progress, command=command, say=_say)
    except (CheckpointError, OutputFolderError) as exc:
        return _fail(str(exc))
    except StorageError as exc:
        return _fail(_storage_message(exc, "complete points and finished chunks are kept"), 1)
    except _execution_errors() as exc:  # the Dask cluster (a point's own failure does not stop the batch)
        return _fail(f"{type(exc).__name__}: {exc}; complete points are kept: rerun with --resume", 1)
    n = len(spec.points)
    print(f"Batch '{spec.name}': {len(outcome.complete)} of {n} point(s) complete"
          + (f" ({len(outcome.skipped)} from an earlier run)" if outcome.skipped else "")
          + (f", {len(outcome.failed)} failed" if outcome.failed else "") + ".")
    for name, err in outcome.failed.items():
        print(f"  FAILED {name}: {err}")
    if outcome.dataset is not None:
        print(f"Dataset: {out / 'batch.nc'}   Summary: {out / 'summary.html'}   Log: {out / 'batch.log'}")
    return 3 if outcome.failed else 0


def _agree(args: argparse.Namespace) -> int:
    from alvh.agree import agreement, format_agreement, load_metrics

    try:
        a, b = load_metrics(args.a), load_metrics(args.b)
        res = agreement(a, b, alpha=args.alpha)
    except (FileNotFoundError, ValueError, OSError) as exc:
        return _fail(str(exc))
    print(format_agreement(res, args.a, args.b, top=args.top))
    return 0 if res.agree else 5


def _rerun(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    import xarray as xr

    from alvh.checkpoint import CheckpointError, StorageError
    from alvh.config import ConfigError, parse_scenario
    from alvh.data import DataError
    from alvh.modelspec import ParamsFileError
    from alvh.outdir import OutputFolderError, check_result_folder
    from alvh.pipeline import compare_results, run_scenario
    from alvh.results import package_versions

    problem = _check_backend(args)
    if problem:
        return _fail(problem)
    src = Path(args.result)
    if not src.is_file():
        return _fail(f"{src}: file not found")
    try:
        with xr.open_dataset(src, engine="h5netcdf") as ds:
            old = ds.load()
    except (OSError, ValueError) as exc:
        return _fail(f"{src}: not a readable netCDF result ({exc})")
    need = ("scenario_text", "seed", "n_paths", "chunk_size")
    missing = [k for k in need if k not in old.attrs]
    if missing:
        return _fail(f"{src}: not an alvh result (attrs {', '.join(missing)} missing)")
    where = Path(old.attrs.get("scenario_path") or "")
    try:  # relative data and parameter files resolve beside the original scenario file (or the working folder)
        scenario = parse_scenario(old.attrs["scenario_text"], where=f"{src} (stored scenario)",
                                  path=where if where.is_file() else None)
    except ConfigError as exc:
        return _fail(str(exc))
    scenario = dataclasses.replace(scenario, simulation={**scenario.simulation,
                                                         "chunk_size": int(old.attrs["chunk_size"])})
    folder = src.resolve().parent
    out_dir = Path(args.out) if args.out else folder.with_name(folder.name + "-rerun")
    if out_dir.resolve() == folder:
        return _fail(f"--out {out_dir}: is the folder of the result being checked; choose another")
    try:
        check_result_folder(out_dir, "--out" if args.out else "rerun folder")
    except OutputFolderError as exc:
        return _fail(str(exc))
    then = json.loads(old.attrs.get("package_versions_json", "{}"))
    now = package_versions()
    changed = {k: (then.get(k), now.get(k)) for k in sorted(set(then) | set(now))
               if k != "python" and then.get(k) != now.get(k)}
    for k, (a, b) in changed.items():
        _say(f"alvh: warning: {k} {a} when the result was made, {b} now; results may differ")
    progress = not args.no_progress and sys.stderr.isatty()
    command = "alvh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    _say(f"alvh: rerunning {src} (seed {old.attrs['seed']}, {old.attrs['n_paths']:,} paths, chunks of "
         f"{old.attrs['chunk_size']}) into {out_dir}")
    try:
        new = run_scenario(scenario, out_dir, n_paths=int(old.attrs["n_paths"]), seed=int(old.attrs["seed"]),
                           jobs=args.jobs, backend=args.backend, scheduler=args.scheduler, fresh=True,
                           progress=progress, command=command, say=_say,
                           out_key="--out" if args.out else "rerun folder")
    except (DataError, ParamsFileError, ConfigError, CheckpointError, OutputFolderError) as exc:
        return _fail(str(exc))
    except StorageError as exc:
        return _fail(str(exc), 1)
    except ValueError as exc:
        return _fail(f"{src}: {exc}")
    except _execution_errors() as exc:
        return _fail(f"{type(exc).__name__}: {exc}", 1)
    diffs = compare_results(old, new)
    if not diffs:
        print(f"Reproduced: every variable of {out_dir / 'results.nc'} is identical to {src} "
              f"({len(old.data_vars)} variables, bit for bit).")
        return 0
    print(f"NOT reproduced: {len(diffs)} difference(s) between {src} and {out_dir / 'results.nc'}:")
    for line in diffs[:40]:
        print("  " + line)
    return 4
