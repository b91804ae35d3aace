"""Shared fixtures: a tiny scenario and its (session-wide) calibrated preparation."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

# The package is installed as `alvh` (sim/ is alvh, models/ is alvh.models). `python -m pytest` puts
# the working folder on sys.path, which would make the folders importable as `sim` and `models` too
# and hide any reference to those names (a template looked up in package "sim" worked in the tests
# and failed for every user); the repository root is taken off the path.
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT]

from alvh.models.heston import FellerConditionWarning

TESTS = Path(__file__).parent
TINY = TESTS / "data" / "tiny.toml"


def alvh_cli(*args, cwd, timeout: float = 900):
    """``python -m alvh.cli ARGS`` in a subprocess from ``cwd``: the CompletedProcess, text captured."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "alvh.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def widest_line(text: str, *paths) -> int:
    """Length of the longest line of ``text`` that names none of ``paths`` (a line that prints a file's
    path is as long as the path, wherever the checkout or the temporary folder lives)."""
    return max(len(line) for line in text.splitlines() if not any(str(p) in line for p in paths))


def snapshot(root: Path) -> dict:
    """Every entry under ``root`` and ``root`` itself: relative path -> (mode, bytes, or None for a
    folder). Two equal snapshots mean nothing was written, moved, deleted or chmod-ed there."""
    import os
    import stat

    out = {".": (stat.S_IMODE(root.lstat().st_mode), None)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = (stat.S_IMODE(p.lstat().st_mode), None if p.is_dir() else p.read_bytes())
    return out


@pytest.fixture(scope="session", autouse=True)
def _session_calibration_cache(tmp_path_factory):
    """One calibration cache for the whole session, outside the user's home: a model calibrated once
    (the two-factor fit takes about 2 minutes) serves every later test, and no test reads a fit that an
    earlier session, or the user, left behind. Tests of the cache itself set their own folder."""
    import os

    old = os.environ.get("ALVH_CACHE_DIR")
    os.environ["ALVH_CACHE_DIR"] = str(tmp_path_factory.mktemp("alvh-cache"))
    yield
    if old is None:
        os.environ.pop("ALVH_CACHE_DIR", None)
    else:
        os.environ["ALVH_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def tiny_scenario():
    from alvh.config import load_scenario

    return load_scenario(TINY)


@pytest.fixture(scope="session")
def tiny_prepared(tiny_scenario):
    from alvh.runner import prepare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        return prepare(tiny_scenario, seed=tiny_scenario.simulation["seed"])
