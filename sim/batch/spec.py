"""Batch files and their points: :data:`BATCH_SCHEMA`, :class:`Point` and :class:`BatchSpec`, and the
parsing that turns a batch file (:func:`load_batch`) or scenario files on the command line
(:func:`batch_from_scenarios`) into points, each validated as a scenario."""

from __future__ import annotations

import itertools
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
from jsonschema.exceptions import best_match

from alvh.config import NAME_PATTERN, ConfigError, Scenario, parse_scenario, schema_problem

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
