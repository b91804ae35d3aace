"""Overnight batches: a set of scenarios, or a grid over scenario keys, run one point at a time.

A batch file is TOML with a ``[batch]`` table (validated against :data:`BATCH_SCHEMA`)::

    [batch]
    name = "budget_by_threshold"
    scenarios = ["../scenarios/baseline.toml"]      # relative to this file
    paths = 5000                                     # optional: paths per point (default: each scenario's)
    seed = 20261121                                  # optional: root seed of every point

    [batch.grid]                                     # optional: the cartesian product of these values
    "strategy.hedges.alvh.budget_pct_per_year" = [0.5, 1.5, 3.0]
    "strategy.hedges.alvh.layers[1].trigger_vix" = [16.0, 20.0]
    "model.type" = ["heston", "bates"]

Every point is a scenario: the file's TOML with the grid's keys set (``a.b.c`` names nested tables,
``name[k]`` the k-th element of an array of tables), validated exactly as a scenario file is. The
batch is validated whole before its first point: a grid key the scenario schema does not have, or
any point that breaks a scenario rule, refuses the batch (exit 2, nothing written). A point that
fails while it runs is reported and the batch goes on with the others; a batch none of whose points
completes writes no ``batch.nc`` or summary.

Layout of the output folder::

    OUT/batch.log                  log of the batch (chunks, checkpoints, failures with tracebacks)
    OUT/batch_manifest.json        points complete or failed, with the SHA-256 of each results.nc
    OUT/points/<point>/            each point's results.nc, report.html and CSV tables (as alvh run)
    OUT/.<point>.chunks/           chunk checkpoint of a point in progress (inside points/)
    OUT/batch.nc                   metrics and claims of every point, the grid's keys as dimensions
    OUT/summary.html, summary.csv  one summary comparing the points

``resume`` skips complete points (their results verified by checksum) and resumes a point in
progress from its chunk checkpoint, so a batch killed at any moment and resumed gives the results an
uninterrupted one gives.
"""

from __future__ import annotations

import datetime as _dt
import html
import itertools
import json
import logging
import math
import re
import tomllib
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import numpy as np
import xarray as xr
from jsonschema.exceptions import best_match

from alvh.checkpoint import CheckpointError, CheckpointExists, StorageError, atomic_write_bytes, file_sha256
from alvh.config import NAME_PATTERN, ConfigError, Scenario, parse_scenario, schema_problem

__all__ = ["BATCH_SCHEMA", "BatchSpec", "Point", "load_batch", "is_batch_file", "batch_from_scenarios",
           "run_batch", "gather", "BatchOutcome", "summary_html"]

log = logging.getLogger("alvh")

_scalar = {"type": ["number", "string", "boolean"]}
BATCH_SCHEMA = {
    "type": "object",
    "required": ["batch"],
    "additionalProperties": False,
    "properties": {"batch": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "scenarios"],
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN,
                     "description": "batch name (a folder name: letters, digits, '_', '-', '.'; not starting with '.')"},
            "scenarios": {"type": "array", "minItems": 1, "items": {"type": "string"},
                          "description": "scenario files, relative to the batch file"},
            "paths": {"type": "integer", "minimum": 2, "maximum": 100_000_000, "description": "paths per point"},
            "seed": {"type": "integer", "minimum": 0, "description": "root seed of every point"},
            "grid": {"type": "object", "additionalProperties": {"type": "array", "minItems": 1, "items": _scalar},
                     "description": "scenario key -> values; the points are their cartesian product"},
        },
    }},
}

#: Names of the gathered dataset's own dimensions, coordinates and variables.
RESERVED = frozenset({"scenario", "strategy", "metric", "claim", "n_paths", "point_status", "point_error",
                      "point_name", "metric_units", "metric_label", "claim_statistic", "claim_units"})

_FOLDER = re.compile(NAME_PATTERN)     # a point's folder obeys the rule of a scenario's name

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?)*$")


@dataclass
class Point:
    """One run of a batch: a scenario file with grid values set."""

    index: tuple[int, ...]          # position along (scenario, *grid dims)
    name: str                       # folder name under points/
    source: Path                    # scenario file
    values: dict                    # grid key -> value
    scenario: Scenario | None = None
    error: str = ""                 # why it cannot run (validation), empty if it can


@dataclass
class BatchSpec:
    """A parsed batch: its name, scenario files, grid and points."""

    name: str
    path: Path | None
    text: str
    scenarios: list[Path]
    grid: dict[str, list]
    paths: int | None = None
    seed: int | None = None
    dims: list[str] = field(default_factory=list)          # dimension name of each grid key
    scenario_names: list[str] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)


def is_batch_file(path: Path) -> bool:
    """Whether a TOML file is a batch file (has a ``[batch]`` table)."""
    try:
        return "batch" in tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def _dim_names(keys: list[str]) -> list[str]:
    """Short dimension names: the key's last component, longer where two would clash."""
    parts = [re.sub(r"[\[\]]", "_", k).strip("_").split(".") for k in keys]
    generic = ("type", "name", "value", "enabled", "params")
    names = [re.sub(r"\W", "_", k) for k in keys]
    for n in range(1, max((len(p) for p in parts), default=1) + 1):
        short = ["_".join(p[-(n + (p[-1] in generic)):]).replace("__", "_").strip("_") for p in parts]
        if len(set(short)) == len(short):
            names = short
            break
    # names the gathered dataset uses for itself are prefixed
    return [f"grid_{d}" if d in RESERVED or d.startswith(("metric_", "claim_", "point_")) else d for d in names]


def _set_key(raw: dict, key: str, value) -> None:
    """Set ``key`` (``a.b[1].c``) in a parsed TOML document, creating missing tables."""
    node = raw
    parts = key.split(".")
    for depth, part in enumerate(parts):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?", part)
        name, idx = m.group(1), m.group(2)
        last = depth == len(parts) - 1
        if idx is None:
            if last:
                node[name] = value
            else:
                node = node.setdefault(name, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"grid key '{key}': '{name}' is not a table")
        else:
            arr = node.get(name)
            k = int(idx)
            if not isinstance(arr, list) or k >= len(arr):
                have = len(arr) if isinstance(arr, list) else 0
                raise ConfigError(f"grid key '{key}': the scenario declares {have} '{name}' entries, "
                                  f"so [{k}] does not exist (write the list out in the scenario)")
            if last:
                arr[k] = value
            else:
                node = arr[k]
                if not isinstance(node, dict):
                    raise ConfigError(f"grid key '{key}': '{name}[{k}]' is not a table")


def _fmt(v) -> str:
    """A grid value in a point's name: floats by their shortest exact repr (1.0 and 1.0000001 stay apart)."""
    if isinstance(v, float):
        text = repr(v)
        return text[:-2] if text.endswith(".0") else text
    return str(v)


def _point_text(source: Path, values: dict, suffix: str) -> str:
    """The TOML text of a point: the scenario file with the grid values set and the name suffixed."""
    import tomli_w

    text = source.read_text(encoding="utf-8")
    if not values:
        return text
    raw = tomllib.loads(text)
    for key, value in values.items():
        _set_key(raw, key, value)
    raw["name"] = f"{raw.get('name', source.stem)}.{suffix}"
    return tomli_w.dumps(raw)


def _expand(spec: BatchSpec, where: str) -> None:
    keys = list(spec.grid)
    spec.dims = _dim_names(keys)
    names = []
    for p in spec.scenarios:
        try:
            nm = tomllib.loads(p.read_text(encoding="utf-8")).get("name", p.stem)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            nm = p.stem
        names.append(str(nm))
    if len(set(names)) != len(names):  # two files with one name: tell them apart by file
        names = [f"{n}-{p.stem}" if names.count(n) > 1 else n for n, p in zip(names, spec.scenarios)]
    spec.scenario_names = names
    combos = list(itertools.product(*[list(enumerate(spec.grid[k])) for k in keys]))
    for si, src in enumerate(spec.scenarios):
        for combo in combos:
            values = {k: v for k, (_, v) in zip(keys, combo)}
            suffix = re.sub(r"[^A-Za-z0-9_.-]", "_", ".".join(f"{d}_{_fmt(v)}" for d, (_, v) in zip(spec.dims, combo)))
            folder = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{names[si]}" + (f".{suffix}" if suffix else ""))
            pt = Point(index=(si, *[i for i, _ in combo]), name=folder, source=src, values=values)
            label = f"{src}" + (f" [{suffix}]" if suffix else "")
            try:
                if not src.is_file():
                    raise ConfigError(f"{src}: " + ("is a folder, not a scenario file" if src.is_dir()
                                                    else "file not found"))
                text = _point_text(src, values, suffix)
                pt.scenario = parse_scenario(text, where=label, path=src)
            except ConfigError as exc:
                pt.error = str(exc) if str(exc).startswith(str(src)) else f"{label}: {exc}"
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                pt.error = f"{label}: cannot read: {exc}"
            spec.points.append(pt)


def load_batch(path: str | Path) -> BatchSpec:
    """Read a batch file, validate it and expand its points (each validated as a scenario).

    Raises
    ------
    ConfigError
        The batch file is unreadable or breaks :data:`BATCH_SCHEMA`, a grid key is not a key of the
        scenario schema, or any point breaks a scenario rule (the first one's message).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    err = best_match(jsonschema.Draft202012Validator(BATCH_SCHEMA).iter_errors(raw))
    if err is not None:
        path = list(err.absolute_path)
        where = ".".join(str(x) for x in path[:2])
        if path[:2] == ["batch", "grid"] and len(path) > 2:     # batch.grid."a.b[1].c"[k]
            where += f'."{path[2]}"' + "".join(f"[{x}]" for x in path[3:])
        else:
            where = ".".join(str(x) for x in path)
        raise ConfigError(f"{p}: key '{where}': {err.message}")
    b = raw["batch"]
    for key, values in b.get("grid", {}).items():
        if not _KEY.match(key):
            raise ConfigError(f"{p}: key 'batch.grid.\"{key}\"': not a scenario key (a.b.c or a.b[1].c)")
        problem = schema_problem(key)
        if problem:
            raise ConfigError(f"{p}: key 'batch.grid.\"{key}\"': {problem}")
        bad = next((v for v in values if isinstance(v, float) and not math.isfinite(v)), None)
        if bad is not None:
            raise ConfigError(f"{p}: key 'batch.grid.\"{key}\"': {bad!r} is not a finite number")
        if any(a == b for i, a in enumerate(values) for b in values[i + 1:]):  # 1 and 1.0 repeat too
            raise ConfigError(f"{p}: key 'batch.grid.\"{key}\"': values repeat: {values}")
    for opt, key in (("paths", "simulation.n_paths"), ("seed", "simulation.seed")):
        if opt in b and key in b.get("grid", {}):
            raise ConfigError(f"{p}: key 'batch.{opt}': it would override the grid over '{key}'; give one of them")
    spec = BatchSpec(name=b["name"], path=p, text=text, scenarios=[(p.parent / s) for s in b["scenarios"]],
                     grid=dict(b.get("grid", {})), paths=b.get("paths"), seed=b.get("seed"))
    _expand(spec, str(p))
    _refuse_invalid(spec, f"{p}: grid point ")
    _check_names(spec, str(p))
    return spec


def _refuse_invalid(spec: BatchSpec, prefix: str = "") -> None:
    """A batch is validated whole before its first point: any point that breaks the scenario rules
    refuses the batch (the message names the batch file, the scenario file with the point's grid
    values, the key and the rule)."""
    bad = [pt for pt in spec.points if pt.error]
    if bad:
        more = f" (and {len(bad) - 1} other point(s))" if len(bad) > 1 else ""
        raise ConfigError(prefix + bad[0].error + more)


def _check_names(spec: BatchSpec, where: str) -> None:
    seen = {}
    for pt in spec.points:
        if not _FOLDER.match(pt.name):
            raise ConfigError(f"{where}: point {pt.name!r}: not a folder name (letters, digits, '_', '-', '.'; "
                              "not starting with '.')")
        if pt.name in seen:
            raise ConfigError(f"{where}: points {seen[pt.name]} and {pt.values} would share the folder {pt.name!r}; "
                              "make the grid values (or the scenario names) distinct")
        seen[pt.name] = pt.values


def batch_from_scenarios(files: list[str | Path], paths: int | None = None, seed: int | None = None) -> BatchSpec:
    """A batch of scenario files given on the command line (no grid)."""
    import hashlib

    files = [Path(f) for f in files]
    listed = ", ".join(json.dumps(str(f.resolve())) for f in files)
    name = "scenarios-" + hashlib.sha256(listed.encode()).hexdigest()[:8]  # one folder per set of files
    text = f"[batch]\nname = \"{name}\"\nscenarios = [{listed}]\n"
    spec = BatchSpec(name=name, path=None, text=text, scenarios=files, grid={}, paths=paths, seed=seed)
    _expand(spec, "command line")
    _refuse_invalid(spec)
    _check_names(spec, "command line")
    return spec


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


#: Metrics of the summary (labels and units come from the results).
SUMMARY_METRICS = ("cost_median", "cvar99_annual_reduction", "cvar99_daily_reduction", "pnl_mean", "hedge_efficiency")


def gather(spec: BatchSpec, out: Path, state: dict, command: str = "") -> xr.Dataset | None:
    """One dataset of every point's metrics and claims, the grid's keys as dimensions.

    Dimensions ``(scenario, *grid dims, strategy, metric)`` for ``metric_value``, ``metric_se``,
    ``metric_ci_low``, ``metric_ci_high``; ``(scenario, *grid dims, claim)`` for ``claim_verdict``,
    ``claim_value``, ``claim_ci_low``, ``claim_ci_high`` (claim coordinate "N|strategy|regime");
    ``(scenario, *grid dims)`` for ``point_status``, ``point_error``, ``point_name``, ``n_paths``.
    Points that failed are NaN / empty. Returns None when the batch has no point.
    """
    from alvh.results import package_versions

    if not spec.points:
        return None
    shape = (len(spec.scenarios), *[len(v) for v in spec.grid.values()])
    opened = {}
    strategies, metrics, claims = {}, {}, {}
    units, labels = {}, {}
    for pt in spec.points:
        if state.get(pt.name, {}).get("status") != "complete":
            continue
        with xr.open_dataset(out / "points" / pt.name / "results.nc", engine="h5netcdf") as full:
            n_paths = int(full.attrs["n_paths"])
            ds = full[["metric_value", "metric_se", "metric_ci_low", "metric_ci_high", "claim_id", "claim_strategy",
                     "claim_regime", "claim_verdict", "claim_value", "claim_ci_low", "claim_ci_high",
                     "claim_statistic", "claim_units"]].load()
        opened[pt.name] = (ds, n_paths)
        for s in ds.strategy.values:
            strategies.setdefault(str(s), None)
        for m, u, lab in zip(ds.metric.values, ds.metric_units.values, ds.metric_label.values):
            metrics.setdefault(str(m), None)
            units.setdefault(str(m), str(u))
            labels.setdefault(str(m), str(lab))
        for i, s, r, st, u in zip(ds.claim_id.values, ds.claim_strategy.values, ds.claim_regime.values,
                                  ds.claim_statistic.values, ds.claim_units.values):
            claims.setdefault(f"{int(i)}|{s}|{r}", (str(st), str(u)))
    S, M, C = list(strategies), list(metrics), list(claims)
    mv = {f: np.full(shape + (len(S), len(M)), np.nan) for f in ("value", "se", "ci_low", "ci_high")}
    cv = {f: np.full(shape + (len(C),), np.nan) for f in ("value", "ci_low", "ci_high")}
    verdict = np.full(shape + (len(C),), "", dtype=object)
    status = np.full(shape, "", dtype=object)
    error = np.full(shape, "", dtype=object)
    names = np.full(shape, "", dtype=object)
    npaths = np.zeros(shape, dtype=np.int64)
    for pt in spec.points:
        idx = pt.index
        names[idx] = pt.name
        st = state.get(pt.name, {})
        status[idx] = st.get("status", "not run")
        error[idx] = st.get("error", "")
        if pt.name not in opened:
            continue
        ds, npaths[idx] = opened[pt.name]
        si = [S.index(str(s)) for s in ds.strategy.values]
        mi = [M.index(str(m)) for m in ds.metric.values]
        for f in mv:
            mv[f][idx][np.ix_(si, mi)] = ds[f"metric_{f}"].values
        keys = [f"{int(i)}|{s}|{r}" for i, s, r in zip(ds.claim_id.values, ds.claim_strategy.values,
                                                        ds.claim_regime.values)]
        ci = [C.index(k) for k in keys]
        for f in cv:
            cv[f][idx][ci] = ds[f"claim_{f}"].values
        verdict[idx][ci] = ds["claim_verdict"].values.astype(str)
    dims = ["scenario", *spec.dims]
    coords = {"scenario": spec.scenario_names}
    for d, (key, values) in zip(spec.dims, spec.grid.items()):
        coords[d] = xr.Variable(d, np.asarray(values) if len({type(v) for v in values}) == 1
                                else np.asarray([str(v) for v in values], dtype=object), {"key": key})
    coords.update({"strategy": S, "metric": M, "metric_units": ("metric", [units[m] for m in M]),
                   "metric_label": ("metric", [labels[m] for m in M]), "claim": C,
                   "claim_statistic": ("claim", [claims[c][0] for c in C]),
                   "claim_units": ("claim", [claims[c][1] for c in C])})
    data = {}
    long = {"value": "estimate", "se": "standard error", "ci_low": "95% CI low", "ci_high": "95% CI high"}
    for f, arr in mv.items():
        data[f"metric_{f}"] = xr.Variable(dims + ["strategy", "metric"], arr,
                                          {"long_name": long[f], "units": "see metric_units"})
    for f, arr in cv.items():
        data[f"claim_{f}"] = xr.Variable(dims + ["claim"], arr, {"long_name": long[f], "units": "see claim_units"})
    data["claim_verdict"] = xr.Variable(dims + ["claim"], verdict,
                                        {"long_name": "supported, refuted or not decidable ('' if the point failed)",
                                         "units": ""})
    data["point_status"] = xr.Variable(dims, status, {"long_name": "complete or failed", "units": ""})
    data["point_error"] = xr.Variable(dims, error, {"long_name": "why the point failed", "units": ""})
    data["point_name"] = xr.Variable(dims, names, {"long_name": "folder under points/", "units": ""})
    data["n_paths"] = xr.Variable(dims, npaths, {"long_name": "paths simulated", "units": "1"})
    attrs = {"title": f"ALVH batch: {spec.name}", "batch": spec.name, "batch_text": spec.text,
             "grid_keys_json": json.dumps(dict(zip(spec.dims, spec.grid))),
             "package_versions_json": json.dumps(package_versions()), "command": command,
             "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def summary_table(ds: xr.Dataset):
    """Long table of the batch: one row per point and strategy.

    Columns: the point's coordinates (``scenario`` and each grid dimension), ``point``, ``status``,
    ``n_paths``, ``strategy``; for each of :data:`SUMMARY_METRICS` present, "LABEL (UNITS)" with the
    estimate and "LABEL (UNITS) CI" with its 95% interval as text; "claim N [regime]" with the verdict.
    A failed point has one row with ``error`` instead. Returns a pandas DataFrame.
    """
    import pandas as pd

    grid_dims = [d for d in ds.point_status.dims]
    rows = []
    for idx in np.ndindex(ds.point_status.shape):
        sel = dict(zip(grid_dims, idx))
        pt = ds.isel(sel)
        base = {d: (pt[d].values.item() if d in pt.coords else None) for d in grid_dims}
        base.update({"point": str(pt.point_name.values), "status": str(pt.point_status.values),
                     "n_paths": int(pt.n_paths.values)})
        if base["status"] != "complete":
            rows.append({**base, "error": str(pt.point_error.values)})
            continue
        for s in ds.strategy.values:
            row = dict(base, strategy=str(s))
            for key in SUMMARY_METRICS:
                if key in ds.metric.values:
                    m = ds.sel(metric=key)
                    label = f"{m.metric_label.values.item()} ({m.metric_units.values.item()})"
                    v = pt.metric_value.sel(strategy=s, metric=key).values.item()
                    lo = pt.metric_ci_low.sel(strategy=s, metric=key).values.item()
                    hi = pt.metric_ci_high.sel(strategy=s, metric=key).values.item()
                    row[label] = v
                    row[f"{label} CI"] = "" if np.isnan(lo) else f"{lo:.3g} to {hi:.3g}"
            for c in ds.claim.values:
                n, strat, regime = str(c).split("|")
                if strat == str(s):
                    row[f"claim {n} [{regime}]"] = str(pt.claim_verdict.sel(claim=c).values)
            rows.append(row)
    return pd.DataFrame(rows)


def _figure(ds: xr.Dataset, key: str) -> str | None:
    """A dot plot of one metric with its 95% CI: one row per complete point, one colour per hedge
    (the budget-sweep copies left out); an inline PNG (base64), or None if the metric is absent."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if key not in ds.metric.values:
        return None
    m = ds.sel(metric=key)
    flat = ds.point_status.values.ravel()
    names = ds.point_name.values.ravel()
    rows = [i for i, st in enumerate(flat) if st == "complete"]
    strategies = [str(s) for s in ds.strategy.values if s != "unhedged" and "_budget_" not in str(s)]
    if not rows or not strategies:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) * max(1, len(strategies)) ** 0.5 + 1.5))
    for j, s in enumerate(strategies):
        v = m.metric_value.sel(strategy=s).values.ravel()[rows]
        lo = m.metric_ci_low.sel(strategy=s).values.ravel()[rows]
        hi = m.metric_ci_high.sel(strategy=s).values.ravel()[rows]
        y = np.arange(len(rows)) + (j - (len(strategies) - 1) / 2) * 0.8 / max(len(strategies), 1)
        err = np.vstack([np.where(np.isnan(lo), 0, v - lo), np.where(np.isnan(hi), 0, hi - v)])
        ax.errorbar(v, y, xerr=err, fmt="o", ms=4, capsize=2, label=s)
    ax.set_yticks(np.arange(len(rows)), [str(names[i]) for i in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"{m.metric_label.values.item()} ({m.metric_units.values.item()})")
    if key == "cost_median":
        ax.axvspan(1.0, 2.0, color="0.9", zorder=0, label="claimed 1-2%/yr")
    ax.axvline(0.0, color="0.5", lw=0.8)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def summary_html(ds: xr.Dataset) -> str:
    """One HTML page comparing the points of a batch (status, summary metrics with CIs, verdicts)."""
    table = summary_table(ds)
    n = int(ds.point_status.size)
    ok = int((ds.point_status.values == "complete").sum())
    grid = json.loads(ds.attrs.get("grid_keys_json", "{}"))
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(ds.attrs['title'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:90%}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}"
        ".failed{color:#a00}.refuted{color:#a00}.supported{color:#070}</style></head><body>",
        f"<h1>{esc(ds.attrs['title'])}</h1>",
        f"<p>{ok} of {n} point(s) complete. Created {esc(ds.attrs['created'])}. Command: "
        f"<code>{esc(ds.attrs.get('command', ''))}</code></p>",
    ]
    if grid:
        parts.append("<p>Grid: " + "; ".join(f"<b>{esc(d)}</b> = <code>{esc(k)}</code> over "
                                              f"{esc(', '.join(map(str, ds[d].values.tolist())))}"
                                              for d, k in grid.items()) + "</p>")
    failed = table[table["status"] != "complete"] if "status" in table else table.iloc[0:0]
    if len(failed):
        parts.append("<h2>Failed points</h2><ul>" + "".join(
            f"<li class='failed'><b>{esc(r.point)}</b>: {esc(str(r.error))}</li>" for r in failed.itertuples()) + "</ul>")
    done = table[table["status"] == "complete"]
    for key in ("cost_median", "cvar99_annual_reduction"):
        png = _figure(ds, key) if len(done) else None
        if png:
            parts.append(f"<h2>{esc(str(ds.sel(metric=key).metric_label.values.item()))}, every point</h2>"
                         f"<img alt='{esc(key)} per point' src='data:image/png;base64,{png}'>")
    if len(done):
        parts.append("<h2>Every point and strategy</h2><p>Metrics as in each point's report (95% CIs); "
                     "claim verdicts per strategy. Each point's own report is in <code>points/NAME/report.html</code>."
                     "</p>")
        shown = done.drop(columns=[c for c in ("status", "error") if c in done])
        head = "".join(f"<th>{esc(str(c))}</th>" for c in shown.columns)
        body = []
        for r in shown.itertuples(index=False):
            cells = []
            for v in r:
                text = f"{v:.3f}" if isinstance(v, float) else esc(str(v))
                cls = f" class='{esc(str(v).split()[0])}'" if str(v) in ("refuted", "supported") else ""
                cells.append(f"<td{cls}>{text}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        parts.append(f"<table><tr>{head}</tr>{''.join(body)}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
