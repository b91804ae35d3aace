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
