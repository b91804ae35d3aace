"""Scenario files: TOML, validated against a JSON Schema, turned into typed specs.

A scenario names its data, model, simulation size, market frictions and strategy rules. Every key is
optional except ``name``; a missing key takes the default documented in the schema (and in the spec
dataclasses of :mod:`alvh.strategy`). An unknown key, a wrong type or an out-of-range value is refused
with :class:`ConfigError`, whose message names the file, the key and the rule. Submodules:
:mod:`~alvh.config.scenario` (the validated :class:`Scenario` and :class:`ConfigError`),
:mod:`~alvh.config.schema` (:data:`SCHEMA`, :func:`schema_problem`, :func:`scenario_reference`) and
:mod:`~alvh.config.parse` (:func:`parse_scenario`, :func:`load_scenario`, the rules across keys).
"""

from __future__ import annotations

from alvh.config.scenario import ConfigError, Scenario
from alvh.config.schema import _HEDGE, _LAYER, NAME_PATTERN, SCHEMA, scenario_reference, schema_problem  # noqa: F401
from alvh.config.parse import frontier_claim_line, load_scenario, parse_scenario

__all__ = ["ConfigError", "Scenario", "SCHEMA", "NAME_PATTERN", "load_scenario", "parse_scenario", "schema_problem",
           "scenario_reference", "frontier_claim_line"]
