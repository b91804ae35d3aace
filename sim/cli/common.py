"""Helpers every ``alvh`` subcommand shares: one-line failures and messages, the backend and
failure hints of runs, the calibration data of a window, new table files, and the scenario a
command needs a model for."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _check_backend(args: argparse.Namespace) -> str | None:
    if args.scheduler and args.backend != "dask":
        return "--scheduler needs --backend dask"
    if getattr(args, "no_checkpoint", False) and args.resume:
        return "--resume needs checkpoints (drop --no-checkpoint)"
    return None


def _execution_errors() -> tuple:
    """Failures of the workers or the cluster, reported in one line (exit 1)."""
    from distributed import KilledWorker

    from alvh.parallel import WorkerLostError

    return (WorkerLostError, KilledWorker, RuntimeError, TimeoutError, OSError)


def _storage_message(exc, kept: str, checkpointed: bool = True) -> str:
    from errno import EDQUOT, ENOSPC

    if not checkpointed:
        return f"{exc.strerror or exc}; no chunks were kept (--no-checkpoint)"
    hint = "free space and rerun with --resume" if exc.errno in (ENOSPC, EDQUOT) else "fix it and rerun with --resume"
    return f"{exc.strerror or exc}; {kept}: {hint}"


def _resume_hint(exc: BaseException, checkpointed: bool, kept: str) -> str:
    """The advice after a failure of the workers, the cluster or the disk: a resume only where the run
    kept its chunks and a resume would not meet the same failure (a permission or a missing file
    would: those are fixed first)."""
    if not checkpointed:
        return "; no chunks were kept (--no-checkpoint): fix the cause and run again"
    if isinstance(exc, (PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return f"; {kept}: fix the cause, then rerun with --resume"
    return f"; {kept}: rerun with --resume"


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def _model_types() -> tuple[str, ...]:
    from alvh.modelspec import MODEL_TYPES

    return MODEL_TYPES


def _fail(message: str, code: int = 2) -> int:
    print(f"alvh: error: {message}", file=sys.stderr)
    return code


def _data_for(args: argparse.Namespace, default_data: dict | None = None):
    """The calibration data: a scenario's [data] table (or the defaults, updated by ``default_data``)
    with --start/--end applied."""
    from alvh.config import ConfigError, load_scenario, parse_scenario
    from alvh.data import load_market_data

    scenario = load_scenario(args.data) if getattr(args, "data", None) else parse_scenario('name = "calibrate"')
    spec = dict(scenario.data)
    if not getattr(args, "data", None) and default_data:
        spec.update(default_data)
    for key in ("start", "end"):
        value = getattr(args, key, None)
        if value:
            spec[key] = value
    if spec["start"] >= spec["end"]:
        raise ConfigError(f"--start {spec['start']} must be before --end {spec['end']}")
    where = str(scenario.path) if scenario.path else "defaults"
    return load_market_data(spec, where, scenario.path.parent if scenario.path else None)


def _new_file(out, suffix: str | None = None) -> str | None:
    """Why ``out`` cannot take a new table file (one line), or None: a wrong suffix, an existing
    file (alvh never replaces a file it did not write), or a folder that is missing or read-only."""
    if suffix and not str(out).lower().endswith(suffix):
        return f"{out}: give a file name ending in {suffix}"
    p = Path(out)
    if p.exists() or p.is_symlink():
        return f"{out}: exists; alvh writes its tables only to a new file (rule: never replace a file alvh did not write)"
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"{out}: the folder {parent} does not exist"
    if not os.access(parent, os.W_OK):
        return f"{out}: the folder {parent} cannot be written"
    return None


def _write_csv(table, out, what: str) -> int | None:
    """Write ``table`` to the new file ``out`` (checked by :func:`_new_csv`) and name it; the exit
    status 1 with one line when the disk refuses, else None."""
    try:
        table.to_csv(out, index=False)
    except OSError as exc:
        return _fail(f"--out {out}: cannot write: {exc}", 1)
    print(f"{what}: {out}")
    return None


def _new_csv(out) -> str | None:
    """:func:`_new_file` for a CSV table."""
    return _new_file(out, ".csv")


def _model_scenario(path: str, why_not_replay: str):
    """The scenario at ``path``, or the exit status of its refusal: a bad file, or a replay where the
    command needs a model (``why_not_replay`` says why)."""
    from alvh.config import ConfigError, load_scenario

    try:
        scenario = load_scenario(path)
    except ConfigError as exc:
        return _fail(str(exc))
    if scenario.model["type"] == "replay":
        return _fail(f"{path}: key 'model.type': {why_not_replay}")
    return scenario
