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

Submodules: :mod:`alvh.batch.spec` (the batch file, its points and their validation),
:mod:`alvh.batch.run` (:func:`run_batch`, the manifest and resume), :mod:`alvh.batch.collect` (the
dataset of every point) and :mod:`alvh.batch.summary` (the summary table and page).
"""

from __future__ import annotations

from alvh.batch.collect import gather
from alvh.batch.run import BatchOutcome, run_batch
from alvh.batch.spec import (BATCH_SCHEMA, RESERVED, BatchSpec, Point, _point_text, batch_from_scenarios,  # noqa: F401
                             is_batch_file, load_batch)
from alvh.batch.summary import SUMMARY_METRICS, summary_html, summary_table

__all__ = ["BATCH_SCHEMA", "BatchSpec", "Point", "load_batch", "is_batch_file", "batch_from_scenarios",
           "run_batch", "gather", "BatchOutcome", "summary_html", "RESERVED", "SUMMARY_METRICS", "summary_table"]
