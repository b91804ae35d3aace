"""Command line of the framework.

- ``alvh run SCENARIO.toml [--paths N] [--seed S] [--jobs J] [--out DIR] [--resume | --fresh]
  [--backend joblib|dask] [--scheduler ADDRESS]``: one scenario end to end, every finished chunk
  checkpointed so that ``--resume`` continues an interrupted run;
- ``alvh batch BATCH.toml | SCENARIO.toml ... [--out DIR] [--resume | --fresh] [...]``: a grid or a
  set of scenarios, one dataset and one summary (:mod:`alvh.batch`);
- ``alvh rerun RESULTS.nc [--out DIR]``: reproduce a result from its own metadata and compare;
- ``alvh agree A.nc B.nc [--alpha A] [--top K]``: whether two runs of one scenario agree within their
  standard errors (:mod:`alvh.agree`);
- ``alvh calibrate MODEL [--data SCENARIO.toml] [--start D] [--end D] [--out FILE]``: fit a model
  to the real data and write a parameter file a scenario can name in ``[model] params``;
- ``alvh market-replay [--start D] [--end D] [--scenario SCENARIO.toml] [--out FILE.csv]``: long VIX
  futures and the VXTH rule at real prices (:mod:`alvh.marketreplay`), by year and episode; with
  ``--scenario``, every strategy of the scenario with its VIX layers at real prices too
  (:mod:`alvh.realprices`).
- ``alvh verdicts SCENARIO.toml [--models A,B] [--paths N] [--seed S] [--jobs J] [--all-models]
  [--out FILE.csv]``: the claim check under every model that passes the scorecard's acceptance rows
  and on the real path at real VIX prices, one headline per claim (:mod:`alvh.verdicts`).
- ``alvh frontier SCENARIO.toml [--budgets 0.5,1,1.5,2,3] [--trials N] [--paths N] [--jobs J]
  [--resume] [--space SPACE.toml] [--models A,B] [--out DIR]``: the best hedge design each budget
  buys, searched on common paths, confirmed on fresh ones, across models and on the real path
  (:mod:`alvh.frontier`).
- ``alvh validate --market [MODEL ...] [--paths N] [--out FILE.csv]``: the realism scorecard
  (:mod:`alvh.scorecard`), each model's P and Q rows against the bundled real data, pass or fail.
- ``alvh validate [MODEL ...] [--paths N] [--seed S] [--params-dir DIR] [--out FILE]``: simulated vs
  real statistics per model (VIX mean and quantiles, SPX volatility, kurtosis, crash days, largest
  VIX rise). With ``--pricing``: each model's VIX futures/call pricer against Monte Carlo under its
  own Q dynamics, and its VIX futures curve on simulated calm days (slope, roll yield).
- ``alvh bench [--quick] [--only a,b,c,d,e] [--json PATH] [--repeats K] [...]``: path generation, the
  whole pipeline, parallel scaling and peak memory, each as a ratio against a reference measured in
  the same run (QuantLib's Heston Monte Carlo, numpy's normal draws, one worker, a smaller run), with
  its target (:mod:`alvh.bench`);
- ``alvh bench pricing [--n N] [--repeats R]``: micro-benchmark of SPX option evaluation (surface
  lookup + Black–Scholes price and delta) in options per second, against Black–Scholes alone.

Exit status: 0 on success, 2 on bad input (scenario, data, options, a checkpoint of another run;
one line on stderr naming the file, the key and the rule, no traceback), 1 on a failure (a full disk,
workers that keep dying, anything unexpected), 3 when a batch finished but some of its points failed,
4 when ``rerun`` did not reproduce the result, 5 when ``agree`` finds the runs disagree, 130 when
interrupted (Ctrl-C), 143 when terminated (SIGTERM, e.g. a batch scheduler's time limit; as Ctrl-C:
the workers are stopped and finished chunks kept for ``--resume``), 141 when the reader of its
output went away (a closed pipe). A run
writes into a hidden temporary folder next to the output and renames it into place only when the
results and the report are complete, so a failed run leaves nothing that looks like a result.

Submodules: :mod:`alvh.cli.parser` (the argument parser), :mod:`alvh.cli.entry` (:func:`main` and the
dispatch), :mod:`alvh.cli.common` (helpers the subcommands share), :mod:`alvh.cli.runs` (run, batch,
agree, rerun), :mod:`alvh.cli.calibration` (calibrate, validate), :mod:`alvh.cli.market`
(market-replay), :mod:`alvh.cli.acrossmodels` (verdicts, frontier) and :mod:`alvh.cli.benchmarks`
(bench); ``python -m alvh.cli`` runs :mod:`alvh.cli.__main__`.
"""

from __future__ import annotations

from alvh.cli.calibration import VALIDATION_ROWS, pricing_validation, validation_table
from alvh.cli.entry import Terminated, main
from alvh.cli.parser import build_parser

__all__ = ["main", "build_parser", "Terminated", "VALIDATION_ROWS", "validation_table", "pricing_validation"]
