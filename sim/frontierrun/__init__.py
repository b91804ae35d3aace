"""``alvh frontier``: the search on common paths, the confirmation out of sample, and the outputs
(:mod:`alvh.frontier` says what is computed and why).

Submodules: :mod:`~alvh.frontierrun.settings` (what a frontier is and gives back),
:mod:`~alvh.frontierrun.folder` (the output folder), :mod:`~alvh.frontierrun.sources` (the paths of
a source), :mod:`~alvh.frontierrun.stats` (the confirmation's numbers), :mod:`~alvh.frontierrun.run`
(:func:`run_frontier`) and :mod:`~alvh.frontierrun.summary` (the summary lines).

Layout of the output folder::

    OUT/settings.json     what the search is (scenario text, seeds, paths, space): a resume must match
    OUT/study.journal     the optuna study (every design proposed, its in-sample numbers)
    OUT/frontier.nc       xarray: the trials; the confirmed frontier (budget x source); the references
    OUT/frontier.csv      the confirmed frontier and the references, one row per design and source
    OUT/frontier.json     the settings, times and summary
    OUT/frontier.html     the report section: answers, the figure, the tables, the settings
"""

from __future__ import annotations

from alvh.frontierrun.settings import FrontierOutcome, FrontierSettings
from alvh.frontierrun.folder import FRONTIER_ENTRIES, check_frontier_folder
from alvh.frontierrun.sources import _arrays, _reference_scenario  # noqa: F401
from alvh.frontierrun.stats import BLOCK_DAYS, BOOTSTRAP_REPS, _holm, replay_metrics  # noqa: F401
from alvh.frontierrun.summary import BAND, summary_lines
from alvh.frontierrun.run import _finish, run_frontier  # noqa: F401

__all__ = ["FrontierSettings", "FrontierOutcome", "run_frontier", "check_frontier_folder", "FRONTIER_ENTRIES",
           "replay_metrics", "summary_lines", "BAND", "BLOCK_DAYS", "BOOTSTRAP_REPS"]
