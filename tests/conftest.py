"""Shared fixtures: a tiny scenario and its (session-wide) calibrated preparation."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from models.heston import FellerConditionWarning

TESTS = Path(__file__).parent
TINY = TESTS / "data" / "tiny.toml"


@pytest.fixture(scope="session")
def tiny_scenario():
    from sim.config import load_scenario

    return load_scenario(TINY)


@pytest.fixture(scope="session")
def tiny_prepared(tiny_scenario):
    from sim.runner import prepare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        return prepare(tiny_scenario, seed=tiny_scenario.simulation["seed"])
