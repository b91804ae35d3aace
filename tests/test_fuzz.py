"""Property tests of the input space (hypothesis): the contract of every scenario and output folder.

The contract, for any scenario file and any ``--out``:

* either ``alvh`` refuses with exit status 2 and one line on stderr naming the file, the key and the
  rule, and writes nothing (no folder, no file, nothing deleted);
* or the run completes (exit 0) and every per-path number it wrote is finite.

Three properties, each with a fixed seed (``derandomize=True``) so CI runs the same cases every time:

* :func:`test_every_broken_field_is_refused_before_any_work` — a valid scenario with one field of the
  JSON Schema (:data:`alvh.config.SCHEMA`, walked to its leaves) broken in one way: NaN, +-inf, a
  wrong type, below its minimum, above its maximum, huge, empty, not a date, a table where a value
  belongs, a name that is not a folder name (``.``, ``..``, absolute, with a '/'), a data file that
  does not exist or whose name is too long, or bytes that are not UTF-8; through ``alvh run`` or
  ``alvh batch``. :data:`BROKEN_CASES` cases drawn, and :func:`test_each_field_and_breakage_once`
  runs every one of the :data:`CASES` pairs once.
* :func:`test_valid_scenarios_run_to_finite_numbers` — scenarios drawn inside the schema's bounds (the
  market, the condor, the hedge, the simulation's size), run end to end on a few paths from a
  parameter file: exit 0 with finite P&L, costs and metrics, or a one-line refusal of a rule across
  keys. :data:`VALID_CASES` cases.
* :func:`test_foreign_files_under_out_are_never_touched` — ``--out`` (run, rerun, batch) at a folder
  holding files alvh did not write, some beside a real or a forged marker: refused, every file and
  mode unchanged. :data:`FOREIGN_CASES` cases.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import snapshot

from alvh.cli import main
from alvh.config import SCHEMA

TESTS = Path(__file__).parent
TINY = TESTS / "data" / "tiny.toml"

BROKEN_CASES = 1000
VALID_CASES = 20
FOREIGN_CASES = 200

#: A valid scenario in which every table and list of tables of the schema is present, so that each leaf
#: can be broken in place (the three ALVH layers written out, one stress shock).
BASE = {
    "name": "fuzz",
    "simulation": {"n_paths": 16, "horizon_years": 0.1, "chunk_size": 8, "seed": 7, "sample_paths_per_chunk": 2},
    "strategy": {"hedges": {"alvh": {"budget_pct_per_year": 1.5, "layers": [
        {"allocation": 0.4, "dte_open": 6.0, "dte_roll": 2.0},
        {"allocation": 0.4, "dte_open": 38.0, "dte_roll": 14.0},
        {"allocation": 0.2, "dte_open": 75.0, "dte_roll": 30.0}]}}},
    "stress": {"shocks": [{"day": 5, "spx_return": -0.05, "vix_multiplier": 1.5}]},
}


def _leaves(schema: dict, path: tuple = ()):
    """(key path, sub-schema) of every leaf of the scenario schema; a named table (hedges) is entered
    as 'alvh' and a list of tables at its first element."""
    if schema.get("type") == "object" and "properties" in schema:
        for key, sub in schema["properties"].items():
            yield from _leaves(sub, path + (key,))
    elif schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        yield from _leaves(schema["additionalProperties"], path + ("alvh",))
    elif schema.get("type") == "array" and schema.get("items", {}).get("type") == "object":
        yield path, schema
        yield from _leaves(schema["items"], path + (0,))
    else:
        yield path, schema


LEAVES = [(p, s) for p, s in _leaves(SCHEMA) if p[:2] != ("stress", "events")] + \
         [(("stress", "events", k), s) for k, s in SCHEMA["properties"]["stress"]["properties"]["events"]["properties"].items()]


def dotted(path: tuple) -> str:
    """``('a', 'b', 0, 'c')`` -> ``a.b[0].c``, as alvh's messages name keys."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _numeric(schema: dict) -> dict | None:
    """The number/integer branch of a schema (itself, or the one inside ``oneOf``)."""
    if schema.get("type") in ("number", "integer"):
        return schema
    for branch in schema.get("oneOf", []):
        if branch.get("type") in ("number", "integer"):
            return branch
    return None


def breakages(path: tuple, schema: dict) -> list[tuple[str, object]]:
    """Ways to make the value at ``path`` invalid: (label, value); every one breaks a rule."""
    out: list[tuple[str, object]] = [("nan", math.nan), ("+inf", math.inf), ("-inf", -math.inf),
                                     ("table", {"x": 1})]
    num = _numeric(schema)
    kind = schema.get("type")
    if num is not None:
        out += [("text", "12abc"), ("bool", True), ("list", [1.0])]
        lo = num.get("minimum", num.get("exclusiveMinimum"))
        hi = num.get("maximum", num.get("exclusiveMaximum"))
        if lo is not None:
            out.append(("below minimum", lo - 1 if num["type"] == "integer" else
                        (lo if "exclusiveMinimum" in num else lo - max(1e-6, abs(lo) * 1e-3))))
        if hi is not None:
            out.append(("above maximum", hi + 1 if num["type"] == "integer" else
                        (hi if "exclusiveMaximum" in num else hi + max(1e-6, abs(hi) * 1e-3))))
            if hi < 10**18:     # TOML integers stop at 2**63 - 1 (the seed's own maximum)
                out.append(("huge", 10**18 if num["type"] == "integer" else 1e308))
        if num["type"] == "integer":
            out.append(("fraction", 1.5))
    if "enum" in schema:
        out += [("not a choice", "no-such-choice"), ("number for a choice", 7.25)]
    if "const" in schema:
        out.append(("not the constant", schema["const"] - 1))
    if kind == "string":
        out += [("number for text", 42), ("list for text", ["a"])]
    if kind == "boolean":
        out += [("text for a flag", "yes"), ("number for a flag", 1)]
    if kind == "array":
        out.append(("text for a list", "x"))
        if schema.get("items", {}).get("type") == "number":
            out += [("nan in a list", [math.nan]), ("below minimum in a list", [-1.0])]
        if "maxItems" in schema:
            out.append(("too many items", [1.0] * (schema["maxItems"] + 1)))
    if path == ("name",):
        out += [("dot", "."), ("dotdot", ".."), ("absolute", "/tmp/x"), ("slash", "a/b"), ("empty", ""),
                ("hidden", ".x"), ("huge", "n" * 10_000), ("not ascii", "né")]
    if path in (("data", "spx"), ("data", "vix")):
        out += [("empty", ""), ("missing file", "no_such.csv"), ("huge", "d" * 10_000), ("unknown arch", "arch:nope")]
    if schema.get("pattern", "").startswith(r"^\d{4}"):
        out += [("not a calendar day", "2018-02-30"), ("empty", ""), ("no dashes", "20180101")]
    return out


CASES = [(path, label, value) for path, schema in LEAVES for label, value in breakages(path, schema)]


def _set(doc: dict, path: tuple, value) -> dict:
    doc = json.loads(json.dumps(doc))     # a deep copy (BASE holds only JSON types)
    node = doc
    for p in path[:-1]:
        node = node.setdefault(p, {}) if isinstance(p, str) else node[p]
    node[path[-1]] = value
    return doc


def _cli(*args) -> tuple[int, str]:
    """``alvh ARGS`` in this process; (exit status, what it printed to sys.stderr)."""
    import contextlib
    import io

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = main([str(a) for a in args])
    return rc, err.getvalue()


def _refusal(rc: int, err: str, where: Path) -> str:
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("alvh: error: "), err
    assert "Traceback" not in err and str(where) in lines[0], err
    return lines[0]


SETTINGS = dict(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow
@settings(max_examples=BROKEN_CASES, **SETTINGS)
@given(case=st.sampled_from(CASES), command=st.sampled_from(["run", "run", "batch"]), utf8=st.integers(0, 19))
def test_every_broken_field_is_refused_before_any_work(case, command, utf8):
    _check_broken(case, command, utf8)


def test_each_field_and_breakage_once():
    """Beside the random draw: every (field, breakage) pair of :data:`CASES` once, through ``alvh run``."""
    assert len(CASES) > 800        # every leaf of the schema has a way to be broken
    for case in CASES:
        _check_broken(case, "run", 1)


def _check_broken(case, command, utf8):
    """One broken scenario through ``alvh COMMAND``: refused in one line naming the file and the key
    (or, for bytes that are not UTF-8, the file and the reason), nothing written."""
    path, label, value = case
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scen = tmp / "s.toml"
        text = tomli_w.dumps(_set(BASE, path, value))
        if utf8 == 0:       # one case in twenty: the same file with a byte that is not UTF-8
            scen.write_bytes(text.encode() + b'\ndescription = "\xff\xfe"\n')
        else:
            scen.write_text(text, encoding="utf-8")
        out = tmp / "out"
        args = ([command, scen, "--out", out, "--no-progress"] +
                (["--paths", 16, "--no-checkpoint"] if command == "run" else []))
        cwd = os.getcwd()
        os.chdir(tmp)       # a name that slipped through would write under tmp/reports, where it is seen
        try:
            rc, err = _cli(*args)
        finally:
            os.chdir(cwd)
        line = _refusal(rc, err, scen)
        if utf8 == 0:
            assert "cannot read" in line and "utf-8" in line, line
        else:
            named = re.search(r"key '([^']*)'", line)
            assert named is not None, (label, line)
            assert named.group(1).startswith(dotted(path)), (dotted(path), label, line)
        assert sorted(p.name for p in tmp.iterdir()) == ["s.toml"], (label, line)


@settings(max_examples=FOREIGN_CASES, **SETTINGS)
@given(files=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_.]{0,11}", fullmatch=True), st.binary(max_size=64),
                             min_size=1, max_size=4),
       nested=st.booleans(), marker=st.sampled_from(["none", "real", "forged", "batch"]),
       command=st.sampled_from(["run", "rerun", "batch"]), mode=st.sampled_from([0o700, 0o750, 0o755]))
def test_foreign_files_under_out_are_never_touched(files, nested, marker, command, mode):
    from alvh.outdir import BATCH_ENTRIES, MARKER, write_marker

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out = tmp / "out"
        (out / "sub").mkdir(parents=True)
        for name, data in files.items():
            ((out / "sub") if nested else out).joinpath(name).write_bytes(data)
        if marker == "real":            # alvh's marker, listing some of the files but not the user's
            write_marker(out, "result", files=["results.nc"])
        elif marker == "batch":
            write_marker(out, "batch", BATCH_ENTRIES)
        elif marker == "forged":
            (out / MARKER).write_text('{"format": "something-else", "files": []}')
        os.chmod(out, mode)
        before = snapshot(out)
        if command == "rerun":
            import xarray as xr

            (tmp / "res").mkdir()
            xr.Dataset(attrs={"scenario_text": TINY.read_text(), "seed": 7, "n_paths": 10, "chunk_size": 10,
                              "scenario_path": str(TINY)}).to_netcdf(tmp / "res" / "results.nc", engine="h5netcdf")
            args = ["rerun", tmp / "res" / "results.nc", "--out", out, "--no-progress"]
        else:
            args = [command, TINY, "--out", out, "--no-progress"]
        rc, err = _cli(*args)
        _refusal(rc, err, out)
        assert snapshot(out) == before
        assert sorted(p.name for p in tmp.iterdir()) == (["out", "res"] if command == "rerun" else ["out"])


@pytest.fixture(scope="module")
def params_file(tiny_prepared, tmp_path_factory):
    """The tiny scenario's calibrated Heston model as a parameter file (no calibration per case)."""
    from alvh.modelspec import write_params

    p = tmp_path_factory.mktemp("fuzz_params") / "heston.json"
    write_params(p, "heston", tiny_prepared.model, tiny_prepared.fit)
    return p


def _bounded(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


#: Fields drawn inside their schema bounds for the valid runs (the horizon kept short so that each run
#: takes seconds; every other bound is the schema's own).
VALID_FIELDS = {
    ("market", "rate"): _bounded(-0.05, 0.25),
    ("market", "dividend_yield"): _bounded(-0.05, 0.25),
    ("market", "spx_surface"): st.sampled_from(["auto", "model", "ssvi"]),
    ("market", "spx_smile", "rho"): _bounded(-0.99, 0.99),
    ("market", "spx_smile", "eta"): _bounded(0.01, 1.0),
    ("market", "spx_smile", "gamma"): _bounded(0.01, 0.5),
    ("market", "costs", "spx_option", "rel_half_spread"): _bounded(0.0, 1.0),
    ("market", "costs", "vix_option", "min_half_spread"): _bounded(0.0, 50.0),
    ("market", "costs", "vix_ref"): _bounded(0.1, 100.0),
    ("portfolio", "capital"): _bounded(1.0, 1e12),
    ("strategy", "condor", "dte"): _bounded(1.0, 365.0),
    ("strategy", "condor", "short_delta"): _bounded(0.01, 0.49),
    ("strategy", "condor", "wing_width"): _bounded(0.5, 2000.0),
    ("strategy", "condor", "profit_take"): _bounded(0.01, 1.0),
    ("strategy", "condor", "stop_multiple"): _bounded(1.01, 100.0),
    ("strategy", "condor", "entry_interval_days"): st.integers(1, 252),
    ("strategy", "condor", "close_dte"): _bounded(0.0, 365.0),
    ("strategy", "condor", "time_shift"): st.booleans(),
    ("strategy", "hedges", "alvh", "budget_pct_per_year"): _bounded(0.0, 100.0),
    ("strategy", "hedges", "alvh", "exit_multiple"): _bounded(0.0, 100.0),
    ("strategy", "hedges", "alvh", "min_price"): _bounded(0.0, 100.0),
    ("strategy", "hedges", "alvh", "vega_ratio"): _bounded(0.0, 100.0),
    ("simulation", "horizon_years"): _bounded(0.001, 0.1),
    ("simulation", "chunk_size"): st.integers(1, 64),
    ("analysis", "budget_sweep"): st.lists(_bounded(0.01, 100.0), max_size=2),
}


@pytest.mark.slow     # 20 end-to-end runs, about 2.5 minutes on 2 cores
@settings(max_examples=VALID_CASES, **SETTINGS)
@given(values=st.fixed_dictionaries({}, optional=VALID_FIELDS))
def test_valid_scenarios_run_to_finite_numbers(values, params_file):
    import xarray as xr

    doc = {"name": "fuzz", "model": {"params": str(params_file)},
           "simulation": {"n_paths": 16, "horizon_years": 0.05, "chunk_size": 8, "seed": 7,
                          "sample_paths_per_chunk": 2}}
    for path, value in values.items():
        doc = _set(doc, path, value)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scen = tmp / "s.toml"
        scen.write_text(tomli_w.dumps(doc), encoding="utf-8")
        rc, err = _cli("run", scen, "--out", tmp / "out", "--no-progress", "--no-checkpoint")
        if rc == 2:     # a rule across keys (the SSVI bound, a DTE rule): refused before any work
            _refusal(rc, err, scen)
            assert "calibrating" not in err and sorted(p.name for p in tmp.iterdir()) == ["s.toml"], err
            return
        assert rc == 0, (values, err)
        with xr.open_dataset(tmp / "out" / "results.nc", engine="h5netcdf") as ds:
            for name in ("pnl", "hedge_cost_annual_pct"):
                assert np.isfinite(ds[name].values).all(), (name, values)
            m = ds["metric_value"].values
            assert not np.isinf(m).any(), values      # NaN marks a metric that does not apply
