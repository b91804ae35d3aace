"""The self-contained HTML stress-test report, the CSV tables and the terminal summary.

Everything here reads the results :class:`xarray.Dataset` described in the data contract
("The results Dataset"): per-strategy arrays on dims ``(strategy, path)``, the metric table on
``(strategy, metric)``, the claim check on ``claim_row``, optional sample paths and an optional
historical replay. Metric keys are looked up defensively: a missing key shows as "n/a" and the
metric table renders whatever rows exist.

Public API
----------
render_report(ds, path)
    Write one HTML file; every figure is a seaborn/matplotlib PNG inlined as a ``data:`` URI.
write_tables(ds, out_dir) -> list[Path]
    ``metrics.csv``, ``claims.csv``, ``worst_paths.csv``, ``budget_sweep.csv`` and, when the run
    has a historical replay, ``replay_by_year.csv``.
summary_text(ds, out_dir=None) -> str
    Headline lines and the main hedge's claim-check verdicts for the terminal.
format_metric(value, se, lo, hi) -> (value, "[lo, hi]", se) strings.

Submodules: :mod:`~alvh.report.common` (constants, formatting, Dataset lookups),
:mod:`~alvh.report.tables` (frames and CSV files), :mod:`~alvh.report.answers` (headline, verdicts,
claim sentences and table), :mod:`~alvh.report.figures`, :mod:`~alvh.report.replay`,
:mod:`~alvh.report.render` (the page) and :mod:`~alvh.report.summary` (the terminal).
"""

from alvh.report.answers import _verdicts_table
from alvh.report.common import COST_BAND, HEADLINE_KEYS, format_metric
from alvh.report.figures import _attribution
from alvh.report.render import render_report
from alvh.report.summary import TERMINAL_WIDTH, summary_text
from alvh.report.tables import _claims_frame, _head, _metrics_frame, _worst_paths_frame, write_tables

__all__ = ["render_report", "write_tables", "summary_text", "format_metric", "HEADLINE_KEYS", "COST_BAND",
           "TERMINAL_WIDTH"]
