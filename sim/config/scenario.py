"""The validated scenario (:class:`Scenario`) and the error a bad scenario raises (:class:`ConfigError`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alvh.strategy import CondorSpec, MarketSpec


class ConfigError(ValueError):
    """A scenario is unreadable or breaks a rule; the message is one line for the user."""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name : str
    path : Path or None
        File it came from.
    text : str
        The scenario's TOML text, stored with every result.
    raw : dict
        The parsed TOML (dates as ISO strings).
    data : dict
        ``spx``, ``vix`` sources, ``start``, ``end`` dates.
    model : dict
        ``type``, ``v0`` ("last", "theta" or a float), ``mu`` ("fit" or a float).
    simulation : dict
        ``n_paths``, ``horizon_years``, ``steps_per_year``, ``chunk_size``, ``seed``,
        ``sample_paths_per_chunk``, ``max_sample_paths``, ``daily_paths``, ``result_paths``, ``spot0``.
    market : MarketSpec
    condor : CondorSpec
    hedges : tuple of HedgeSpec
        Every hedge book run on the paths: the declared ones, the baselines, the budget sweep.
    main_hedge : str
        Name of the hedge the headline and claim 1's sweep refer to (the first of kind "alvh"),
        or "" when there is no hedge.
    analysis : dict
        ``budget_sweep``, ``replay``, ``replay_detail_day``.
    stress : dict
        ``shocks`` (list of tables: ``day`` and a ``preset`` or ``spx_return``/``vix_multiplier``/
        ``var_jump``/``regime``) and ``events`` (``every_days``, ``multiplier``, ``first_day``) or
        ``None`` when the scenario has no event calendar.
    """

    name: str
    path: Path | None
    text: str
    raw: dict
    data: dict
    model: dict
    simulation: dict
    market: MarketSpec
    condor: CondorSpec
    hedges: tuple
    main_hedge: str
    analysis: dict
    stress: dict

    @property
    def n_steps(self) -> int:
        """Number of daily steps over the horizon."""
        return max(int(round(self.simulation["horizon_years"] * self.simulation["steps_per_year"])), 1)
