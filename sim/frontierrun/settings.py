"""What one frontier is (:class:`FrontierSettings`, checked before any work) and what it gives back
(:class:`FrontierOutcome`)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import pandas as pd

from alvh import frontier as fr


@dataclass
class FrontierSettings:
    """What one frontier is.

    Attributes
    ----------
    budgets : tuple of float
        % of capital a year.
    n_trials, n_paths, seed : int
        Designs searched, paths per design, root seed of the search's paths and sampler.
    confirm_seed, confirm_paths : int
        Seed and paths of the confirmation (the seed must differ from ``seed``).
    models : tuple of str
        Models the confirmation runs under (those that pass the scorecard are counted).
    all_models : bool
        Count every model, passing or not.
    replay : bool
        Confirm on the real path at real VIX prices too.
    space : dict of str to Dimension
    n_startup : int
    jobs : int
    """

    budgets: tuple
    n_trials: int
    n_paths: int
    seed: int
    confirm_seed: int
    confirm_paths: int
    models: tuple
    all_models: bool = False
    replay: bool = True
    space: dict = field(default_factory=dict)
    n_startup: int = fr.N_STARTUP
    jobs: int = 1

    def check(self) -> None:
        """Refuse bad settings before any work.

        Raises
        ------
        alvh.frontier.FrontierError
        """
        if not self.budgets:
            raise fr.FrontierError("--budgets: give at least one budget")
        for b in self.budgets:
            if not (isinstance(b, (int, float)) and math.isfinite(b) and b > 0):
                raise fr.FrontierError(f"--budgets: a budget must be a finite number > 0 (% a year), got {b!r}")
        if self.n_trials <= 0:
            raise fr.FrontierError(f"--trials must be > 0, got {self.n_trials}")
        for key, n in (("--paths", self.n_paths), ("--confirm-paths", self.confirm_paths)):
            if n < 2:
                raise fr.FrontierError(f"{key} must be >= 2 (a CVaR needs paths), got {n}")
        if self.seed < 0 or self.confirm_seed < 0:
            raise fr.FrontierError("--seed and --confirm-seed must be >= 0")
        if self.confirm_seed == self.seed:
            raise fr.FrontierError(f"--confirm-seed {self.confirm_seed}: the confirmation needs paths the search "
                                   "never saw; give a seed other than the search's")

    def identity(self, scenario) -> dict:
        """What a resumed search must share with the one it resumes."""
        return {"format": "alvh-frontier/1", "scenario": scenario.name,
                "scenario_sha256": hashlib.sha256(scenario.text.encode()).hexdigest(), "seed": self.seed,
                "paths": self.n_paths, "chunk_size": scenario.simulation["chunk_size"],
                "space": fr.space_record(self.space), "n_startup": self.n_startup}


@dataclass
class FrontierOutcome:
    """Result of :func:`run_frontier`.

    Attributes
    ----------
    table : pandas.DataFrame
        The confirmed frontier and the references (``frontier.csv``).
    trials : pandas.DataFrame
        Every searched design with its in-sample numbers.
    dataset : xarray.Dataset
    lines : list of str
        The summary, answers first.
    search_s, confirm_s : float
        Wall time of the search and of the confirmation, seconds.
    """

    table: pd.DataFrame
    trials: pd.DataFrame
    dataset: object
    lines: list
    search_s: float
    confirm_s: float
