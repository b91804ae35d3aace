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
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import textwrap
import warnings
from pathlib import Path

__all__ = ["main", "build_parser"]


def _int_option(minimum: int, all_cores: bool = False):
    """argparse type: an integer >= ``minimum`` (or -1 meaning all cores, when allowed)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum and not (all_cores and value == -1):
            rule = f">= {minimum}" + (", or -1 for all cores" if all_cores else "")
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value

    return parse


def _letters(text: str) -> str:
    """argparse type of ``bench --only``: a comma list of a..e."""
    keys = [k.strip().lower() for k in text.split(",") if k.strip()]
    bad = [k for k in keys if k not in "abcde" or len(k) != 1]
    if not keys or bad:
        raise argparse.ArgumentTypeError(f"must be a comma list of a, b, c, d, e, got {text!r}")
    return "".join(keys)


def _int_list(text: str) -> list[int]:
    """argparse type of ``bench --memory-paths``: a comma list of integers >= 2."""
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a comma list of integers, got {text!r}") from None
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"must be a comma list of integers >= 2, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The ``alvh`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="alvh",
        description="Monte Carlo stress tests of short SPX iron condors with layered VIX hedges (ALVH).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="calibrate, simulate, price and report one scenario",
                         description="Calibrate the model to the scenario's data, simulate paths, run the condor "
                                     "with and without the ALVH on them, and write results.nc and report.html.")
    run.add_argument("scenario", metavar="SCENARIO.toml", help="scenario file (see scenarios/baseline.toml)")
    run.add_argument("--paths", type=_int_option(1), help="number of paths (default: the scenario's n_paths)")
    run.add_argument("--seed", type=_int_option(0), help="root seed (default: the scenario's seed)")
    run.add_argument("--jobs", type=_int_option(1, all_cores=True), default=1, help="parallel workers, -1 for all cores (default 1); "
                                                           "results do not depend on it")
    run.add_argument("--out", metavar="DIR", help="output folder (default: reports/<scenario name>)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    _execution_options(run)
    run.add_argument("--no-checkpoint", action="store_true",
                     help="do not persist finished chunks (a killed run then starts again)")

    bat = sub.add_parser("batch", help="run a grid or a set of scenarios; one dataset and one summary report",
                         description="Run every point of a batch file (a [batch] table: scenario files and a grid "
                                     "over scenario keys, see sim/batch.py) or of the scenario files given, one at a "
                                     "time; write each point's results and report under OUT/points, then batch.nc "
                                     "(the grid's keys as dimensions), summary.html, summary.csv and batch.log. "
                                     "Every point is validated before the first runs (exit 2 if any is invalid); a "
                                     "point that fails while running is reported and the others go on (exit 3).")
    bat.add_argument("files", nargs="+", metavar="FILE", help="one batch file, or scenario files")
    bat.add_argument("--out", metavar="DIR", help="output folder (default: reports/batch-<name>)")
    bat.add_argument("--paths", type=_int_option(2), help="paths per point (default: the batch's, or each scenario's)")
    bat.add_argument("--seed", type=_int_option(0), help="root seed of every point (default: the batch's, or each "
                                                         "scenario's)")
    bat.add_argument("--no-progress", action="store_true", help="no progress bars")
    _execution_options(bat)

    rer = sub.add_parser("rerun", help="reproduce a result from its own metadata and compare bit for bit",
                         description="Read the scenario text, root seed, paths and chunking stored in RESULTS.nc, run "
                                     "it again, and compare every variable with the stored one (exit 0: identical, "
                                     "4: different). Package versions that differ from the stored ones are listed.")
    rer.add_argument("result", metavar="RESULTS.nc", help="a results.nc written by alvh run or alvh batch")
    rer.add_argument("--out", metavar="DIR", help="output folder (default: the result's folder + '-rerun')")
    rer.add_argument("--no-progress", action="store_true", help="no progress bar")
    rer.add_argument("--jobs", type=_int_option(1, all_cores=True), default=1, help="parallel workers (default 1)")
    rer.add_argument("--backend", choices=["joblib", "dask"], default="joblib", help="where chunks run")
    rer.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (with --backend dask)")

    agr = sub.add_parser("agree", help="do two runs of one scenario agree within their standard errors?",
                         description="Compare the metric tables of two results of one scenario (say 100,000 and "
                                     "10,000,000 paths): z = difference / its standard deviation, nested samples when "
                                     "scenario, seed and chunking are the same (the smaller run's paths are the first "
                                     "of the larger), else independent; the runs agree when every |z| is within the "
                                     "Bonferroni bound for the number of comparisons (exit 0), else exit 5 "
                                     "(sim/agree.py).")
    agr.add_argument("a", metavar="A.nc", help="a results.nc")
    agr.add_argument("b", metavar="B.nc", help="another results.nc of the same scenario")
    agr.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate of the verdict (default 0.05)")
    agr.add_argument("--top", type=_int_option(1), default=15, help="rows of largest |z| to print (default 15)")

    cal = sub.add_parser("calibrate", help="fit a model to the real data and write its parameter file",
                         description="Fit MODEL to the SPX and VIX closes of a scenario's [data] table (default: the "
                                     "arch-bundled series, 2014-01-03 to 2018-12-31) and write a JSON parameter file "
                                     "with the fit report (log-likelihood, AIC/BIC, standard errors).")
    cal.add_argument("model", choices=[t for t in _model_types() if t != "replay"], metavar="MODEL",
                     help="one of: " + ", ".join(t for t in _model_types() if t != "replay"))
    _window_arguments(cal)
    cal.add_argument("--k-regimes", type=int, choices=[2, 3], default=3, help="regimes of regime_heston (default 3)")
    cal.add_argument("--out", metavar="FILE", help="parameter file (default: reports/params/MODEL.json)")

    val = sub.add_parser("validate", help="compare each model's simulated statistics with the real data",
                         description="For each model: calibrate (or read DIR/MODEL.json with --params-dir), "
                                     "simulate stationary paths as long as the real sample, and print the VIX mean "
                                     "and quantiles, SPX volatility, kurtosis, share of days below -3% and largest "
                                     "one-day VIX rise next to the real 2014-2018 values.")
    val.add_argument("models", nargs="*", metavar="MODEL", help="models to validate (default: all)")
    val.add_argument("--paths", type=_int_option(2), default=200, help="stationary paths per model (default 200)")
    val.add_argument("--seed", type=_int_option(0), default=20261121, help="root seed (default 20261121)")
    val.add_argument("--params-dir", metavar="DIR",
                     help="folder of parameter files (MODEL.json from alvh calibrate) to use instead of calibrating")
    val.add_argument("--out", metavar="FILE", help="also write the table here (Markdown)")
    val.add_argument("--pricing", action="store_true",
                     help="instead: VIX pricer vs Monte Carlo under Q, and the VIX futures curve, per model")
    _window_arguments(val, " (--market: default 1990-01-02)", " (--market: default 2024-12-31)")
    val.add_argument("--market", action="store_true",
                     help="instead: the realism scorecard (P rows on 1990-2024 histories, Q rows by VIX bucket "
                          "against real futures, VVIX, VIX3M, VIX6M); --out writes it as CSV")
    val.add_argument("--mc-paths", type=_int_option(1000), default=200_000,
                     help="Q Monte Carlo paths per start state with --pricing (default 200000)")

    ver = sub.add_parser("verdicts", help="the claim check under every model that passes the scorecard, and on the "
                                          "real path at real VIX prices; one headline per claim",
                         description="Runs the scenario under each model type (calibrated, cached), counts the models "
                                     "that pass the scorecard's acceptance rows, adds the real path with its VIX layers "
                                     "at real prices (claim 1), and says per claim whether the counted sources agree "
                                     "(sim/verdicts.py).")
    ver.add_argument("scenario", metavar="SCENARIO.toml")
    ver.add_argument("--models", metavar="A,B", help="model types to try (default: all)")
    ver.add_argument("--paths", type=_int_option(2), help="paths per model (default: the scenario's)")
    ver.add_argument("--seed", type=_int_option(0), help="root seed, the same for every model (default: the scenario's)")
    ver.add_argument("--jobs", type=_int_option(1, all_cores=True), default=1, help="parallel workers (default 1)")
    ver.add_argument("--all-models", action="store_true",
                     help="count every model tried, also those that fail the acceptance rows (said in the table)")
    ver.add_argument("--out", metavar="FILE.csv", help="also write the table here (a new file)")

    fro = sub.add_parser("frontier", help="the best hedge design each budget buys, searched and confirmed out of sample",
                         description="Searches hedge designs (instrument, strikes, DTEs, trigger, sizing, exits, the "
                                     "condor's own protection) with optuna on the scenario's paths, keeps the largest "
                                     "CVaR 99 cut within each budget, and confirms it on fresh paths under every model "
                                     "that passes the scorecard and on the real path (sim/frontier.py).")
    fro.add_argument("scenario", metavar="SCENARIO.toml")
    fro.add_argument("--budgets", metavar="B,B", default="0.5,1,1.5,2,3",
                     help="net cost budgets, %% of capital a year (default 0.5,1,1.5,2,3)")
    fro.add_argument("--trials", type=int, default=200, help="designs to search (default 200)")
    fro.add_argument("--paths", type=_int_option(2), help="paths per design (default: the scenario's)")
    fro.add_argument("--confirm-paths", type=_int_option(2), help="paths of the confirmation (default: as --paths)")
    fro.add_argument("--seed", type=int, help="root seed of the search (default: the scenario's)")
    fro.add_argument("--confirm-seed", type=int, help="root seed of the confirmation (default: the search's + 1)")
    fro.add_argument("--jobs", type=_int_option(1, all_cores=True), default=1, help="parallel workers (default 1)")
    fro.add_argument("--space", metavar="SPACE.toml", help="bounds of the design keys: a [space] table")
    fro.add_argument("--models", metavar="A,B", help="models to confirm under (default: all; those that pass count)")
    fro.add_argument("--all-models", action="store_true", help="count every model, also those that fail the scorecard")
    fro.add_argument("--no-replay", action="store_true", help="skip the real path at real VIX prices")
    fro.add_argument("--resume", action="store_true", help="continue the search in --out")
    fro.add_argument("--out", metavar="DIR", help="output folder (default: reports/frontier-<scenario name>)")

    mrp = sub.add_parser("market-replay", help="VIX hedges at real prices, 2004-2024: long front-month futures and VXTH",
                         description="The plainest VIX hedge (one long front-month VX contract, rolled at each "
                                     "settlement) and Cboe's VXTH rule (one-month 30-delta VIX calls, Black-76 on the "
                                     "real future with a VVIX-based vol, under each smile rule), on the bundled real "
                                     "settlements; P&L by calendar year and episode (sim/marketreplay.py).")
    mrp.add_argument("--start", metavar="YYYY-MM-DD", default="2004-03-26", help="first day (default 2004-03-26)")
    mrp.add_argument("--end", metavar="YYYY-MM-DD", default="2024-12-31", help="last day (default 2024-12-31)")
    mrp.add_argument("--out", metavar="FILE.csv", help="also write the table here (a new file)")
    mrp.add_argument("--scenario", metavar="SCENARIO.toml",
                     help="also every strategy of this scenario on the real days of 2006-03-06 .. 2024-12-31 in its "
                          "data window, its VIX layers at real prices (each smile rule) and at its model's prices "
                          "(sim/realprices.py)")

    ben = sub.add_parser("bench", help="benchmarks, measured on this machine in one run",
                         description="Without TARGET: five measurements, each a ratio with its target (sim/bench.py): "
                                     "(a) Heston QE path-steps/s, ours vs QuantLib's MCEuropeanHestonEngine, >= 10; "
                                     "(b) the whole pipeline (paths, condor, three ALVH layers, metrics) per core-second "
                                     "vs our own generation of its paths, >= 0.1; (c) path generation vs numpy drawing its normals, "
                                     "<= 2; (d) pipeline speedup from 1 to 2 joblib workers, >= 1.8; (e) peak memory "
                                     "(RSS of the process tree) of 'alvh run --jobs 2' at 10M paths < 4 GiB and "
                                     "10M/1M <= 1.2. Every timing is the best of --repeats after a warm-up. "
                                     "TARGET pricing: SPX option evaluations per second on one core: implied vol from "
                                     "the model's tabulated Fourier surface and from the SSVI smile, then "
                                     "Black-Scholes price and delta (and all five Greeks), against Black-Scholes alone "
                                     "at a given vol (the floor any surface lookup adds to).")
    ben.add_argument("target", nargs="?", choices=["pricing"], help="pricing: the SPX option kernel alone")
    ben.add_argument("--repeats", type=_int_option(1), help="timed repetitions, best kept (default 3; pricing: 7)")
    ben.add_argument("--quick", action="store_true", help="smoke-test sizes: 2,000 kernel paths, 200 pipeline paths, "
                                                          "memory at 2,000 and 8,000 paths")
    ben.add_argument("--only", type=_letters, default="a,b,c,d,e", metavar="a,b,c,d,e",
                     help="measurements to run (default all)")
    ben.add_argument("--json", metavar="PATH", help="also write the results (with details) as JSON")
    ben.add_argument("--profile", action="store_true",
                     help="instead: where one chunk of the scenario (default scenarios/baseline.toml; --pipeline-paths "
                          "its paths, default the scenario's chunk_size) spends its time, by pyinstrument's sampling "
                          "profiler (sim/benchprofile.py); --json keeps it")
    ben.add_argument("--paths", type=_int_option(100), help="(a), (c): kernel and QuantLib paths (default 50000)")
    ben.add_argument("--pipeline-paths", type=_int_option(2),
                     help="(b), (d): pipeline paths (default 40000: enough work per worker that start-up and task "
                          "transfer do not dominate)")
    ben.add_argument("--chunks", type=_int_option(1), default=8, help="(b), (d): chunks the pipeline paths are cut "
                                                                      "into (default 8)")
    ben.add_argument("--memory-paths", type=_int_list, metavar="N,N",
                     help="(e): paths of each 'alvh run' (default 1000000,10000000)")
    ben.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                     help="(e): seconds allowed per 'alvh run' (default 3600)")
    ben.add_argument("--scenario", metavar="SCENARIO.toml", help="(b), (d), (e): scenario (default scenarios/bench.toml)")
    ben.add_argument("--n", type=_int_option(1000), default=200_000, help="pricing: options per evaluation "
                                                                           "(default 200000)")
    return parser


def _execution_options(p: argparse.ArgumentParser) -> None:
    """Options shared by run and batch: resume, backend."""
    if not any(a.dest == "jobs" for a in p._actions):
        p.add_argument("--jobs", type=_int_option(1, all_cores=True), default=1,
                       help="parallel workers, -1 for all cores (default 1); results do not depend on it")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    g.add_argument("--fresh", action="store_true", help="discard the checkpoint of an interrupted run and start again")
    p.add_argument("--backend", choices=["joblib", "dask"], default="joblib",
                   help="where chunks run: local joblib workers (default) or Dask; results do not depend on it")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (with --backend dask; without it a local "
                        "cluster of --jobs workers is started)")


def _check_backend(args: argparse.Namespace) -> str | None:
    if args.scheduler and args.backend != "dask":
        return "--scheduler needs --backend dask"
    if getattr(args, "no_checkpoint", False) and args.resume:
        return "--resume needs checkpoints (drop --no-checkpoint)"
    return None


def _execution_errors() -> tuple:
    """Failures of the workers or the cluster, reported in one line (exit 1)."""
    from distributed import KilledWorker

    from alvh.parallel import WorkerLostError

    return (WorkerLostError, KilledWorker, RuntimeError, TimeoutError, OSError)


def _storage_message(exc, kept: str, checkpointed: bool = True) -> str:
    from errno import EDQUOT, ENOSPC

    if not checkpointed:
        return f"{exc.strerror or exc}; no chunks were kept (--no-checkpoint)"
    hint = "free space and rerun with --resume" if exc.errno in (ENOSPC, EDQUOT) else "fix it and rerun with --resume"
    return f"{exc.strerror or exc}; {kept}: {hint}"


def _resume_hint(exc: BaseException, checkpointed: bool, kept: str) -> str:
    """The advice after a failure of the workers, the cluster or the disk: a resume only where the run
    kept its chunks and a resume would not meet the same failure (a permission or a missing file
    would: those are fixed first)."""
    if not checkpointed:
        return "; no chunks were kept (--no-checkpoint): fix the cause and run again"
    if isinstance(exc, (PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return f"; {kept}: fix the cause, then rerun with --resume"
    return f"; {kept}: rerun with --resume"


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def _model_types() -> tuple[str, ...]:
    from alvh.modelspec import MODEL_TYPES

    return MODEL_TYPES


def _fail(message: str, code: int = 2) -> int:
    print(f"alvh: error: {message}", file=sys.stderr)
    return code


def _run(args: argparse.Namespace) -> int:
    from alvh.checkpoint import CheckpointError, StorageError
    from alvh.config import ConfigError, load_scenario
    from alvh.data import DataError
    from alvh.modelspec import ParamsFileError
    from alvh.outdir import OutputFolderError
    from alvh.pipeline import run_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ConfigError as exc:
        return _fail(str(exc))
    problem = _check_backend(args)
    if problem:
        return _fail(problem)
    out_dir = Path(args.out) if args.out else Path("reports") / scenario.name
    out_key = "--out" if args.out else f"{scenario.path}: key 'name': output folder"
    n_paths = args.paths or scenario.simulation["n_paths"]
    if n_paths < 2 and scenario.model["type"] != "replay":
        return _fail("--paths: at least 2 paths are needed for VaR, CVaR and their errors")
    progress = not args.no_progress and sys.stderr.isatty()
    command = "alvh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        ds = run_scenario(scenario, out_dir, n_paths=n_paths, seed=args.seed, jobs=args.jobs, backend=args.backend,
                          scheduler=args.scheduler, resume=args.resume, fresh=args.fresh, progress=progress,
                          command=command, checkpoint=not args.no_checkpoint, say=_say, out_key=out_key)
    except OutputFolderError as exc:
        return _fail(str(exc))
    except (DataError, ParamsFileError) as exc:
        return _fail(str(exc))
    except CheckpointError as exc:
        return _fail(str(exc))
    except StorageError as exc:
        return _fail(_storage_message(exc, "finished chunks are kept", not args.no_checkpoint), 1)
    except ValueError as exc:  # calibration failure, or a model rule the scenario breaks
        return _fail(f"{scenario.path}: {exc}")
    except _execution_errors() as exc:  # workers or the cluster
        return _fail(f"{type(exc).__name__}: {exc}" + _resume_hint(exc, not args.no_checkpoint,
                                                                     "finished chunks are kept"), 1)
    from alvh import report

    print(report.summary_text(ds, out_dir))
    return 0


def _batch(args: argparse.Namespace) -> int:
    from alvh.batch import batch_from_scenarios, is_batch_file, load_batch, run_batch
    from alvh.checkpoint import CheckpointError, StorageError
    from alvh.config import ConfigError
    from alvh.outdir import OutputFolderError, check_batch_folder

    problem = _check_backend(args)
    if problem:
        return _fail(problem)
    files = [Path(f) for f in args.files]
    batch_files = [f for f in files if f.is_file() and is_batch_file(f)]
    try:
        if batch_files:
            if len(files) != 1:
                return _fail(f"{batch_files[0]}: a batch file is given alone (it lists its own scenarios)")
            spec = load_batch(files[0])
        else:
            spec = batch_from_scenarios(files)
    except ConfigError as exc:
        return _fail(str(exc))
    if args.paths:
        spec.paths = args.paths
    if args.seed is not None:
        spec.seed = args.seed
    out = Path(args.out) if args.out else Path("reports") / f"batch-{spec.name}"
    try:
        check_batch_folder(out)     # before a word of progress: nothing of the user's is touched
    except OutputFolderError as exc:
        return _fail(str(exc))
    progress = not args.no_progress and sys.stderr.isatty()
    command = "alvh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    _say(f"alvh: batch '{spec.name}': {len(spec.points)} point(s) into {out}; log: {out / 'batch.log'}")
    try:
        outcome = run_batch(spec, out, jobs=args.jobs, backend=args.backend, scheduler=args.scheduler,
                            resume=args.resume, fresh=args.fresh, progress=progress, command=command, say=_say)
    except (CheckpointError, OutputFolderError) as exc:
        return _fail(str(exc))
    except StorageError as exc:
        return _fail(_storage_message(exc, "complete points and finished chunks are kept"), 1)
    except _execution_errors() as exc:  # the Dask cluster (a point's own failure does not stop the batch)
        return _fail(f"{type(exc).__name__}: {exc}; complete points are kept: rerun with --resume", 1)
    n = len(spec.points)
    print(f"Batch '{spec.name}': {len(outcome.complete)} of {n} point(s) complete"
          + (f" ({len(outcome.skipped)} from an earlier run)" if outcome.skipped else "")
          + (f", {len(outcome.failed)} failed" if outcome.failed else "") + ".")
    for name, err in outcome.failed.items():
        print(f"  FAILED {name}: {err}")
    if outcome.dataset is not None:
        print(f"Dataset: {out / 'batch.nc'}   Summary: {out / 'summary.html'}   Log: {out / 'batch.log'}")
    return 3 if outcome.failed else 0


def _agree(args: argparse.Namespace) -> int:
    from alvh.agree import agreement, format_agreement, load_metrics

    try:
        a, b = load_metrics(args.a), load_metrics(args.b)
        res = agreement(a, b, alpha=args.alpha)
    except (FileNotFoundError, ValueError, OSError) as exc:
        return _fail(str(exc))
    print(format_agreement(res, args.a, args.b, top=args.top))
    return 0 if res.agree else 5


def _rerun(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    import xarray as xr

    from alvh.checkpoint import CheckpointError, StorageError
    from alvh.config import ConfigError, parse_scenario
    from alvh.data import DataError
    from alvh.modelspec import ParamsFileError
    from alvh.outdir import OutputFolderError, check_result_folder
    from alvh.pipeline import compare_results, run_scenario
    from alvh.results import package_versions

    problem = _check_backend(args)
    if problem:
        return _fail(problem)
    src = Path(args.result)
    if not src.is_file():
        return _fail(f"{src}: file not found")
    try:
        with xr.open_dataset(src, engine="h5netcdf") as ds:
            old = ds.load()
    except (OSError, ValueError) as exc:
        return _fail(f"{src}: not a readable netCDF result ({exc})")
    need = ("scenario_text", "seed", "n_paths", "chunk_size")
    missing = [k for k in need if k not in old.attrs]
    if missing:
        return _fail(f"{src}: not an alvh result (attrs {', '.join(missing)} missing)")
    where = Path(old.attrs.get("scenario_path") or "")
    try:  # relative data and parameter files resolve beside the original scenario file (or the working folder)
        scenario = parse_scenario(old.attrs["scenario_text"], where=f"{src} (stored scenario)",
                                  path=where if where.is_file() else None)
    except ConfigError as exc:
        return _fail(str(exc))
    scenario = dataclasses.replace(scenario, simulation={**scenario.simulation,
                                                         "chunk_size": int(old.attrs["chunk_size"])})
    folder = src.resolve().parent
    out_dir = Path(args.out) if args.out else folder.with_name(folder.name + "-rerun")
    if out_dir.resolve() == folder:
        return _fail(f"--out {out_dir}: is the folder of the result being checked; choose another")
    try:
        check_result_folder(out_dir, "--out" if args.out else "rerun folder")
    except OutputFolderError as exc:
        return _fail(str(exc))
    then = json.loads(old.attrs.get("package_versions_json", "{}"))
    now = package_versions()
    changed = {k: (then.get(k), now.get(k)) for k in sorted(set(then) | set(now))
               if k != "python" and then.get(k) != now.get(k)}
    for k, (a, b) in changed.items():
        _say(f"alvh: warning: {k} {a} when the result was made, {b} now; results may differ")
    progress = not args.no_progress and sys.stderr.isatty()
    command = "alvh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    _say(f"alvh: rerunning {src} (seed {old.attrs['seed']}, {old.attrs['n_paths']:,} paths, chunks of "
         f"{old.attrs['chunk_size']}) into {out_dir}")
    try:
        new = run_scenario(scenario, out_dir, n_paths=int(old.attrs["n_paths"]), seed=int(old.attrs["seed"]),
                           jobs=args.jobs, backend=args.backend, scheduler=args.scheduler, fresh=True,
                           progress=progress, command=command, say=_say,
                           out_key="--out" if args.out else "rerun folder")
    except (DataError, ParamsFileError, ConfigError, CheckpointError, OutputFolderError) as exc:
        return _fail(str(exc))
    except StorageError as exc:
        return _fail(str(exc), 1)
    except ValueError as exc:
        return _fail(f"{src}: {exc}")
    except _execution_errors() as exc:
        return _fail(f"{type(exc).__name__}: {exc}", 1)
    diffs = compare_results(old, new)
    if not diffs:
        print(f"Reproduced: every variable of {out_dir / 'results.nc'} is identical to {src} "
              f"({len(old.data_vars)} variables, bit for bit).")
        return 0
    print(f"NOT reproduced: {len(diffs)} difference(s) between {src} and {out_dir / 'results.nc'}:")
    for line in diffs[:40]:
        print("  " + line)
    return 4


def _window_arguments(parser, start_note: str = "", end_note: str = "") -> None:
    """``--data``, ``--start`` and ``--end``: where the calibration data and window come from."""
    parser.add_argument("--data", metavar="SCENARIO.toml", help="take the data sources and window from this scenario")
    parser.add_argument("--start", metavar="YYYY-MM-DD", help="first day of the window" + start_note)
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last day of the window" + end_note)


def _data_for(args: argparse.Namespace, default_data: dict | None = None):
    """The calibration data: a scenario's [data] table (or the defaults, updated by ``default_data``)
    with --start/--end applied."""
    from alvh.config import ConfigError, load_scenario, parse_scenario
    from alvh.data import load_market_data

    scenario = load_scenario(args.data) if getattr(args, "data", None) else parse_scenario('name = "calibrate"')
    spec = dict(scenario.data)
    if not getattr(args, "data", None) and default_data:
        spec.update(default_data)
    for key in ("start", "end"):
        value = getattr(args, key, None)
        if value:
            spec[key] = value
    if spec["start"] >= spec["end"]:
        raise ConfigError(f"--start {spec['start']} must be before --end {spec['end']}")
    where = str(scenario.path) if scenario.path else "defaults"
    return load_market_data(spec, where, scenario.path.parent if scenario.path else None)


def _calibrate(args: argparse.Namespace) -> int:
    from alvh.config import ConfigError
    from alvh.data import DataError
    from alvh.modelspec import calibrate, write_params

    try:
        data = _data_for(args)
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    out = Path(args.out) if args.out else Path("reports") / "params" / f"{args.model}.json"
    if out.exists() and out.is_dir():
        return _fail(f"--out {out}: is a folder")
    print(f"alvh: calibrating {args.model} to {len(data.spx)} days, {data.dates[0].date()} to "
          f"{data.dates[-1].date()}...", file=sys.stderr)
    try:
        model, fit = calibrate(args.model, data, options={"k_regimes": args.k_regimes})
    except ValueError as exc:
        return _fail(f"calibrating {args.model}: {exc}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    write_params(tmp, args.model, model, fit)
    os.replace(tmp, out)
    print(fit.summary())
    print(f"Parameter file: {out}  (name it in a scenario as [model] params = \"...\")")
    return 0


#: Rows of the validation table: statistic key, label, units.
VALIDATION_ROWS = (
    ("vix_mean", "VIX mean", "points"),
    ("vix_q05", "VIX 5% quantile", "points"),
    ("vix_q50", "VIX median", "points"),
    ("vix_q95", "VIX 95% quantile", "points"),
    ("vix_q99", "VIX 99% quantile", "points"),
    ("spx_vol", "SPX daily-return sd, annualised", "%"),
    ("spx_kurtosis", "SPX excess kurtosis", "1"),
    ("share_below_3pct", "days with SPX below -3%", "% of days"),
    ("vix_max_rise", "largest one-day VIX rise", "points"),
    ("vix_max_rise_pct", "largest one-day VIX rise", "%"),
)


def validation_table(stats: dict[str, dict[str, float]]) -> str:
    """Markdown table: one row per statistic, one column per source (``real`` first)."""
    cols = list(stats)
    lines = ["| statistic | units | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for key, label, units in VALIDATION_ROWS:
        lines.append(f"| {label} | {units} | " + " | ".join(f"{stats[c][key]:.2f}" for c in cols) + " |")
    return "\n".join(lines)


def pricing_validation(models: dict, n_paths: int, mc_paths: int, seed: int) -> str:
    """Markdown tables: VIX pricer vs Q Monte Carlo, and the futures curve on calm days, per model.

    Parameters
    ----------
    models : dict of str -> PathModel
    n_paths : int
        Stationary P paths for the futures curve (one year each after a year of burn-in).
    mc_paths : int
        Q Monte Carlo paths per start state (:func:`alvh.vixcheck.vix_table_vs_mc`).
    seed : int

    Returns
    -------
    str
    """
    import numpy as np

    from alvh.vixcheck import futures_term_structure, vix_table_vs_mc

    err_lines = [
        f"VIX pricer minus Monte Carlo under each model's Q dynamics ({mc_paths:,} paths per start state; start VIX "
        "12, 16, 25, 40, 60 where reachable, every regime; 5, 21, 42 and 63 trading days; strikes at the future, "
        "+20% and +50%). Largest absolute difference in VIX points, with its size in standard errors:",
        "",
        "| model | pricer | futures: max abs diff (pts) | at (SE) | calls: max abs diff (pts) | at (SE) | cases |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    ts_lines = [
        "",
        f"VIX futures curve along {n_paths:,} stationary P paths (one year each after a year's burn-in); calm = VIX "
        "below the model's own median; roll yield = (F_1M - VIX) / F_1M; 1M futures return = (VIX_(t+21) - F_1M) / "
        "F_1M realised under P. Means with their standard errors over paths:",
        "",
        "| model | calm below VIX | slope, calm days (pts per month) | contango share, all days | roll yield, calm | "
        "roll yield, all | (F_2M - F_1M) / F_1M, all | 1M futures return, all |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, (name, model) in enumerate(models.items()):
        print(f"alvh: {name}: VIX pricer vs Monte Carlo...", file=sys.stderr)
        ds = vix_table_vs_mc(model, n_paths=mc_paths, seed=seed + i)
        fd, cd = np.abs(ds["futures_diff"].values), np.abs(ds["call_diff"].values)
        fi, ci = np.nanargmax(fd), np.nanargmax(cd)
        fz, cz = ds["futures_z"].values.ravel()[fi], ds["call_z"].values.ravel()[ci]
        n_cases = int(np.isfinite(fd).sum() + np.isfinite(cd).sum())
        pricer = "exact CIR law" if model.cir_q() is not None else "Markov chain"
        err_lines.append(f"| {name} | {pricer} | {fd.ravel()[fi]:.4f} | {fz:+.1f} | {cd.ravel()[ci]:.4f} | {cz:+.1f} "
                         f"| {n_cases} |")
        print(f"alvh: {name}: futures curve...", file=sys.stderr)
        ts = futures_term_structure(model, n_paths=n_paths, seed=seed + i)
        c, a = ts.sel(subset="calm"), ts.sel(subset="all")
        pm = lambda d, k, scale=1.0: f"{scale * float(d[k]):.2f} ± {scale * float(d[k + '_se']):.2f}"  # noqa: E731
        ts_lines.append(
            f"| {name} | {ts.attrs['calm_threshold']:.2f} | {pm(c, 'slope')} | {100 * float(a['contango_share']):.1f}% "
            f"| {pm(c, 'roll_yield', 100)}% | {pm(a, 'roll_yield', 100)}% | {pm(a, 'roll_yield_spread', 100)}% "
            f"| {pm(a, 'futures_return_1m', 100)}% |")
    return "\n".join(err_lines + ts_lines)


def _validate(args: argparse.Namespace) -> int:
    import numpy as np

    if args.market:
        return _validate_market(args)
    if args.out and (why := _new_file(args.out)):
        return _fail(f"--out {why}")

    from alvh.models.calibration import market_statistics, model_statistics
    from alvh.config import ConfigError
    from alvh.data import DataError
    from alvh.modelspec import MODEL_TYPES, ParamsFileError, calibrate, read_params

    known = [t for t in MODEL_TYPES if t != "replay"]
    models = args.models or known
    bad = [m for m in models if m not in known]
    if bad:
        return _fail(f"unknown model {bad[0]!r}; known: {', '.join(known)}")
    try:
        data = _data_for(args)
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    stats = {"real": market_statistics(data.spx, data.vix)}
    seeds = np.random.SeedSequence(args.seed).spawn(len(known))
    fitted = {}
    for name in models:
        params = Path(args.params_dir) / f"{name}.json" if args.params_dir else None
        try:
            if params is not None:
                print(f"alvh: {name}: parameters from {params}", file=sys.stderr)
                model, _ = read_params(params, name)
            else:
                print(f"alvh: {name}: calibrating...", file=sys.stderr)
                model, _ = calibrate(name, data)
        except ParamsFileError as exc:
            return _fail(str(exc))
        except ValueError as exc:
            return _fail(f"calibrating {name}: {exc}")
        if args.pricing:
            fitted[name] = model
            continue
        rng = np.random.default_rng(seeds[known.index(name)])
        stats[name] = model_statistics(model, len(data.spx), args.paths, rng)
    if args.pricing:
        table = pricing_validation(fitted, args.paths, args.mc_paths, args.seed)
        print(table)
        if args.out:
            Path(args.out).write_text(table + "\n", encoding="utf-8")
        return 0
    table = validation_table(stats)
    print(f"Real: {data.dates[0].date()} to {data.dates[-1].date()} ({len(data.spx)} days); each model: "
          f"{args.paths} stationary paths of the same length (seed {args.seed}).")
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n", encoding="utf-8")
    return 0


def _validate_market(args: argparse.Namespace) -> int:
    """``alvh validate --market``: the realism scorecard of each model (:mod:`alvh.scorecard`)."""
    from alvh.config import ConfigError
    from alvh.data import DataError
    from alvh.modelspec import MODEL_TYPES, ParamsFileError, calibrate_cached, read_params
    from alvh.scorecard import scorecard

    known = [t for t in MODEL_TYPES if t != "replay"]
    models = args.models or known
    bad = [m for m in models if m not in known]
    if bad:
        return _fail(f"unknown model {bad[0]!r}; known: {', '.join(known)}")
    if args.pricing:
        return _fail("--market and --pricing are two different checks; give one")
    if args.out and (why := _new_csv(args.out)):
        return _fail(f"--out {why}")
    if not getattr(args, "data", None):
        args.start = args.start or "1990-01-02"
        args.end = args.end or "2024-12-31"
    try:
        data = _data_for(args, default_data={"spx": "bundled:spx", "vix": "bundled:vix"})
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    fitted, skipped, unconverged = {}, {}, {}
    for name in models:
        params = Path(args.params_dir) / f"{name}.json" if args.params_dir else None
        try:
            if params is not None:
                print(f"alvh: {name}: parameters from {params}", file=sys.stderr)
                fitted[name], fit = read_params(params, name)
            else:
                print(f"alvh: {name}: calibrating on {data.dates[0].date()} .. {data.dates[-1].date()} "
                      "(cached)...", file=sys.stderr)
                fitted[name], fit = calibrate_cached(name, data)
            if not fit.converged:
                unconverged[name] = "" if fit.objective is None else f" (objective {fit.objective:.6g})"
        except ParamsFileError as exc:
            return _fail(str(exc))
        except ValueError as exc:   # one model that cannot be fitted on this window does not stop the others
            skipped[name] = str(exc)
            print(f"alvh: warning: {name}: not scored, its calibration failed: {exc}", file=sys.stderr)
    if not fitted:
        return _fail("no model could be calibrated on this window; nothing to score")
    start, end = str(data.dates[0].date()), str(data.dates[-1].date())
    try:
        table = scorecard(fitted, n_paths=args.paths, seed=args.seed, start=start, end=end,
                          progress=lambda line: print(f"alvh: {line}", file=sys.stderr))
    except ValueError as exc:
        return _fail(str(exc))
    print(f"Realism scorecard: P rows on {args.paths} simulated histories of the real window {start} .. {end} "
          f"(pass: real value inside the 5-95% range of the histories); Q rows by VIX bucket on real days "
          f"2008-2024 (pass: within the stated tolerance).")
    for name, rows in table.groupby("model", sort=False):
        failed = rows[~rows["pass"]]
        print(f"{name}: passes {int(rows['pass'].sum())} of {len(rows)} rows")
        for side, part in failed.groupby("side", sort=False):
            items = ", ".join(f"{r.statistic}[{r.bucket}] {r.simulated:.3g} vs {r.real:.3g}" for r in part.itertuples())
            print(textwrap.fill(f"fails ({side}): {items}", width=100, initial_indent="  ", subsequent_indent="    "))
    for name, why in skipped.items():
        print(textwrap.fill(f"{name}: not scored (calibration failed: {why})", width=100, subsequent_indent="    "))
    for name, note in unconverged.items():
        print(f"{name}: its calibration did not converge{note}; its rows describe that fit")
    if args.out and (failed := _write_csv(table, args.out, "Scorecard")) is not None:
        return failed
    # a model named on the command line that could not be scored is a failure; from the default list
    # (every model) it is named above and skipped
    return 3 if skipped and args.models else 0


def _new_file(out, suffix: str | None = None) -> str | None:
    """Why ``out`` cannot take a new table file (one line), or None: a wrong suffix, an existing
    file (alvh never replaces a file it did not write), or a folder that is missing or read-only."""
    if suffix and not str(out).lower().endswith(suffix):
        return f"{out}: give a file name ending in {suffix}"
    p = Path(out)
    if p.exists() or p.is_symlink():
        return f"{out}: exists; alvh writes its tables only to a new file (rule: never replace a file alvh did not write)"
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"{out}: the folder {parent} does not exist"
    if not os.access(parent, os.W_OK):
        return f"{out}: the folder {parent} cannot be written"
    return None


def _write_csv(table, out, what: str) -> int | None:
    """Write ``table`` to the new file ``out`` (checked by :func:`_new_csv`) and name it; the exit
    status 1 with one line when the disk refuses, else None."""
    try:
        table.to_csv(out, index=False)
    except OSError as exc:
        return _fail(f"--out {out}: cannot write: {exc}", 1)
    print(f"{what}: {out}")
    return None


def _new_csv(out) -> str | None:
    """:func:`_new_file` for a CSV table."""
    return _new_file(out, ".csv")


def _market_replay(args: argparse.Namespace) -> int:
    """``alvh market-replay``: :func:`alvh.marketreplay.market_replay`, printed and optionally written."""
    import pandas as pd

    from alvh.marketreplay import SMILE_RULES, market_replay

    for key in ("start", "end"):
        try:
            pd.Timestamp(getattr(args, key))
        except ValueError:
            return _fail(f"--{key} {getattr(args, key)}: not a date (YYYY-MM-DD)")
    if pd.Timestamp(args.start) >= pd.Timestamp(args.end):
        return _fail(f"--start {args.start} must be before --end {args.end}")
    if pd.Timestamp(args.start) < pd.Timestamp("2004-03-26") or pd.Timestamp(args.end) > pd.Timestamp("2024-12-31"):
        return _fail(f"--start/--end {args.start} .. {args.end}: the bundled VIX futures cover 2004-03-26 .. 2024-12-31")
    if args.out and (why := _new_csv(args.out)):
        return _fail(f"--out {why}")
    scenario = None
    if args.scenario:
        scenario = _model_scenario(args.scenario, "a replay has no model to price its SPX options")
        if isinstance(scenario, int):
            return scenario
        from alvh.data import DataError, load_market_data
        from alvh.realprices import FIRST_DAY, LAST_DAY, real_price_window

        try:
            data = load_market_data(scenario.data, str(scenario.path), scenario.path.parent)
        except DataError as exc:
            return _fail(str(exc))
        if real_price_window(data.dates).sum() < 2:
            return _fail(f"{args.scenario}: key 'data': its window has no day in {FIRST_DAY} .. {LAST_DAY} "
                         "(the days with real VIX prices)")
    try:
        table = market_replay(args.start, args.end)
    except ValueError as exc:
        return _fail(str(exc))
    fut = table[table["strategy"] == "long_futures"].set_index(["period_kind", "period"])
    vx = table[table["strategy"] == "vxth"].pivot_table(index=["period_kind", "period"], columns="smile",
                                                         values="pnl_pct", sort=False)
    default = SMILE_RULES[0].name
    print(textwrap.fill(
        f"VIX hedges at real prices, {args.start} .. {args.end}, in % of a $1,000,000 portfolio (the hedge alone). "
        "Futures: one long front-month VX contract, rolled (also as summed daily returns on its notional). VXTH: "
        f"Cboe's rule from 2006-03, calls by Black-76 with the smile rule '{default}'; its range over the "
        f"{len(SMILE_RULES)} smile rules beside it.", width=100))
    print(f"{'period':<17} {'futures':>8} {'on notional':>12} {'VXTH':>8} {'VXTH range':>16}")
    for (kind, period), row in fut.iterrows():
        if (kind, period) in vx.index:
            v = vx.loc[(kind, period)]
            vx_txt = f"{v[default]:>8.2f} {f'{v.min():.2f} .. {v.max():.2f}':>16}"
        else:
            vx_txt = f"{'':>8} {'no VVIX':>16}"
        print(f"{period:<17} {row['pnl_pct']:>8.2f} {row['return_on_notional_pct']:>12.1f} {vx_txt}")
    if scenario is not None:
        strat = _scenario_at_real_prices(scenario)
        if isinstance(strat, int):
            return strat
        table = pd.concat([table.assign(hedge_pnl_pct=table["pnl_pct"], pricing="real"), strat], ignore_index=True)
    if args.out and (failed := _write_csv(table, args.out, "Table")) is not None:
        return failed
    return 0


def _model_scenario(path: str, why_not_replay: str):
    """The scenario at ``path``, or the exit status of its refusal: a bad file, or a replay where the
    command needs a model (``why_not_replay`` says why)."""
    from alvh.config import ConfigError, load_scenario

    try:
        scenario = load_scenario(path)
    except ConfigError as exc:
        return _fail(str(exc))
    if scenario.model["type"] == "replay":
        return _fail(f"{path}: key 'model.type': {why_not_replay}")
    return scenario


def _verdicts(args: argparse.Namespace) -> int:
    """``alvh verdicts``: :func:`alvh.verdicts.verdicts_across_models`, printed and optionally written."""
    from alvh.data import DataError
    from alvh.modelspec import MODEL_TYPES, ParamsFileError
    from alvh.verdicts import verdicts_across_models

    scenario = _model_scenario(args.scenario, "a replay has no model to vary")
    if isinstance(scenario, int):
        return scenario
    known = [m for m in MODEL_TYPES if m != "replay"]
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else known
    bad = [m for m in models if m not in known]
    if bad or not models:
        return _fail(f"--models {args.models}: each must be one of {', '.join(known)}")
    if args.out and (why := _new_csv(args.out)):
        return _fail(f"--out {why}")
    try:
        res = verdicts_across_models(scenario, models, n_paths=args.paths, seed=args.seed, jobs=args.jobs,
                                     require_pass=not args.all_models, say=_say)
    except (DataError, ParamsFileError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"{args.scenario}: {exc}")
    print(textwrap.fill(
        f"Verdicts across models, scenario '{scenario.name}'"
        + (f"; the real path {res.window} with its VIX layers at real prices" if res.window else "")
        + ". A headline is a verdict only when every counted source gives it; the real path votes on claim 1 "
        "only (sim/verdicts.py).", width=100))
    print(res.summary([h.name for h in scenario.hedges if h.kind != "sweep"]))
    if args.out and (failed := _write_csv(res.table, args.out, "Table")) is not None:
        return failed
    return 0


def _frontier(args: argparse.Namespace) -> int:
    """``alvh frontier``: :func:`alvh.frontierrun.run_frontier`, every input refused before any work."""
    import tomllib

    from alvh import frontier as fr
    from alvh.data import DataError
    from alvh.frontierrun import FrontierSettings, check_frontier_folder, run_frontier
    from alvh.modelspec import MODEL_TYPES, ParamsFileError
    from alvh.outdir import OutputFolderError

    scenario = _model_scenario(args.scenario, "a replay is one path; search a Monte Carlo scenario")
    if isinstance(scenario, int):
        return scenario
    try:
        budgets = tuple(float(b) for b in args.budgets.split(",") if b.strip())
    except ValueError:
        return _fail(f"--budgets {args.budgets}: give numbers separated by commas (% of capital a year)")
    known = [m for m in MODEL_TYPES if m != "replay"]
    models = tuple(m.strip() for m in args.models.split(",") if m.strip()) if args.models else tuple(known)
    overrides = {}
    if args.space:
        try:
            doc = tomllib.loads(Path(args.space).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            return _fail(f"--space {args.space}: {exc}")
        if set(doc) != {"space"} or not isinstance(doc["space"], dict):
            return _fail(f"--space {args.space}: the file holds one table, [space], of design keys and bounds")
        overrides = doc["space"]
    seed = scenario.simulation["seed"] if args.seed is None else args.seed
    paths = args.paths or scenario.simulation["n_paths"]
    out = Path(args.out) if args.out else Path("reports") / f"frontier-{scenario.name}"
    try:
        space = fr.parse_space(overrides, scenario)
        st = FrontierSettings(budgets=budgets, n_trials=args.trials, n_paths=paths, seed=seed,
                              confirm_seed=seed + 1 if args.confirm_seed is None else args.confirm_seed,
                              confirm_paths=args.confirm_paths or paths, models=models, all_models=args.all_models,
                              replay=not args.no_replay, space=space, jobs=args.jobs)
        st.check()
        bad = [m for m in models if m not in known]
        if bad or not models:
            raise fr.FrontierError(f"--models {args.models}: each must be one of {', '.join(known)}")
        check_frontier_folder(out, args.resume)
    except (fr.FrontierError, OutputFolderError) as exc:
        return _fail(str(exc))
    try:
        res = run_frontier(scenario, out, st, resume=args.resume, say=_say, progress=True)
    except (DataError, ParamsFileError, fr.FrontierError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"{args.scenario}: {exc}")
    print("\n".join(res.lines))
    print(f"Frontier: {out / 'frontier.html'}   Data: {out / 'frontier.nc'}, {out / 'frontier.csv'}")
    return 0


def _scenario_at_real_prices(scenario):
    """``market-replay --scenario``: the scenario's strategies at real and at model VIX prices, printed;
    the rows of :func:`alvh.realprices.replay_periods` (columns as the market-replay table), or an exit
    status."""
    import pandas as pd

    from alvh import runner
    from alvh.data import DataError
    from alvh.marketreplay import SMILE_RULES
    from alvh.modelspec import ParamsFileError
    from alvh.realprices import real_price_replay, real_price_window, replay_periods

    path = scenario.path or scenario.name
    _say(f"alvh: scenario '{scenario.name}': calibrating (cached) ...")
    try:
        prep = runner.prepare(scenario, scenario.simulation["seed"], cache=True)
        names = ["condor"] + [h.name for h in scenario.hedges]
        cap = prep.market.capital
        _say(f"alvh: replaying {len(names)} strategies at real prices under {len(SMILE_RULES)} smile rules ...")
        parts = [replay_periods(real_price_replay(prep, rule), names, cap, "real").assign(smile=rule.name)
                 for rule in SMILE_RULES]
        model = runner.replay(prep, days=real_price_window(prep.data.dates))
        parts.append(replay_periods(model, names, cap, "model").assign(smile=""))
    except (DataError, ParamsFileError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"{path}: {exc}")
    rows = pd.concat(parts, ignore_index=True)
    rows["strategy"] = scenario.name + ":" + rows["strategy"]
    first, last = (str(d)[:10] for d in (model.dates[0], model.dates[-1]))
    whole = rows[rows["period_kind"] == "whole"]
    default = SMILE_RULES[0].name
    print()
    print(textwrap.fill(
        f"Scenario '{scenario.name}', every strategy on the real days {first} .. {last}: the hedge book's P&L in "
        f"% of capital a year, its VIX layers at real prices (smile rule '{default}', the range over the "
        f"{len(SMILE_RULES)} rules) and at the {prep.model.name} model's own prices; SPX options at the model's "
        "prices in both (sim/realprices.py).", width=100))
    print(f"{'strategy':<28} {'real':>8} {'real range':>16} {'model':>8} {'book, real':>11}")
    for name in names:
        w = whole[whole["strategy"] == f"{scenario.name}:{name}"]
        real = w[w["pricing"] == "real"].set_index("smile")
        mod = w[w["pricing"] == "model"].iloc[0]
        rng = f"{real['hedge_pnl_pct'].min():.2f} .. {real['hedge_pnl_pct'].max():.2f}"
        print(f"{name[:28]:<28} {real.loc[default, 'hedge_pnl_pct']:>8.2f} {rng:>16} {mod['hedge_pnl_pct']:>8.2f} "
              f"{real.loc[default, 'pnl_pct']:>11.2f}")
    return rows


def _bench(args: argparse.Namespace) -> int:
    if args.target != "pricing":
        return _bench_suite(args)
    import platform

    from alvh.models.heston import HestonModel, HestonParams
    from alvh.pricing import SpxSmile
    from alvh.surface import SsviSurface, benchmark_surface

    repeats = args.repeats or 7
    fourier = benchmark_surface(n=args.n, repeats=repeats)
    print(f"alvh bench pricing: {args.n:,} random SPX options per evaluation, best of {repeats}, one process; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy float64.")
    print(f"Fourier surface (Heston, tau_max 0.5 y) built in {fourier['build_seconds']:.2f} s.")
    rows = [("model surface (Fourier table) + Black-Scholes price, delta", fourier["surface_bs_per_s"]),
            ("model surface + all five Greeks", fourier["surface_greeks_per_s"])]
    # the SSVI surface on the same model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = HestonModel(HestonParams(v0=0.04, kappa=2.0, theta=0.04, sigma=0.6, rho=-0.7))
    ssvi = benchmark_surface(SsviSurface(model, SpxSmile()), n=args.n, repeats=repeats)
    rows += [("SSVI surface + Black-Scholes price, delta", ssvi["surface_bs_per_s"]),
             ("Black-Scholes price, delta alone (floor)", fourier["bs_only_per_s"])]
    floor = fourier["bs_only_per_s"]
    print("| kernel | options per second | time vs Black-Scholes alone |")
    print("|---|---:|---:|")
    for label, rate in rows:
        print(f"| {label} | {rate:,.0f} | {floor / rate:.2f}x |")
    return 0


def _bench_suite(args: argparse.Namespace) -> int:
    """``alvh bench``: the five measurements of :mod:`alvh.bench`, a table on stdout, progress on stderr."""
    from alvh import bench
    from alvh.config import ConfigError, load_scenario
    from alvh.data import DataError

    if args.json and (why := bench.json_problem(args.json)):
        return _fail(f"--json {why}")
    if args.profile:
        return _bench_profile(args)
    scenario = Path(args.scenario) if args.scenario else bench.DEFAULT_SCENARIO
    if set(args.only) & set("bde"):
        try:
            load_scenario(scenario)
        except ConfigError as exc:
            return _fail(str(exc))
    if args.timeout <= 0:
        return _fail(f"--timeout must be > 0, got {args.timeout}")
    repeats = args.repeats or 3
    machine = bench.machine_info()
    try:
        rows = bench.run_suite(only=args.only, quick=args.quick, repeats=repeats, paths=args.paths,
                               pipeline_paths=args.pipeline_paths, chunks=args.chunks, memory_paths=args.memory_paths,
                               timeout=args.timeout, scenario=scenario, say=_say)
    except (DataError, ValueError) as exc:
        return _fail(f"{scenario}: {exc}")
    print(bench.format_table(rows, machine, repeats))
    if args.json:
        settings = {k: getattr(args, k) for k in ("quick", "only", "paths", "pipeline_paths", "chunks",
                                                  "memory_paths", "timeout")}
        try:
            bench.write_json(args.json, rows, machine, {**settings, "repeats": repeats, "scenario": str(scenario)})
        except OSError as exc:
            return _fail(f"--json {args.json}: {exc.strerror or exc}", 1)
        print(f"Results: {args.json}")
    return 0


def _bench_profile(args: argparse.Namespace) -> int:
    """``alvh bench --profile``: :func:`alvh.benchprofile.profile_chunk` on one chunk, a table, optional JSON."""
    from alvh import bench, runner
    from alvh.data import DataError
    from alvh.modelspec import ParamsFileError

    path = Path(args.scenario) if args.scenario else Path(bench.DEFAULT_SCENARIO).with_name("baseline.toml")
    scenario = _model_scenario(str(path), "a replay is one path; profile a Monte Carlo scenario")
    if isinstance(scenario, int):
        return scenario
    try:
        from alvh.benchprofile import format_profile, profile_chunk
        import pyinstrument  # noqa: F401
    except ImportError:
        return _fail("--profile needs pyinstrument (pip install 'alvh[bench]')")
    try:
        _say(f"alvh: {path}: calibrating (cached) ...")
        prep = runner.prepare(scenario, scenario.simulation["seed"], cache=True)
        _say("alvh: one warm-up chunk, then the profiled one ...")
        prof = profile_chunk(prep, args.pipeline_paths, seed=scenario.simulation["seed"])
    except (DataError, ParamsFileError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"{path}: {exc}")
    rel = os.path.relpath(path)
    shown = rel if not rel.startswith("..") else str(path)
    print(format_profile(prof, shown))
    if args.json:
        try:
            bench.write_json(args.json, [], bench.machine_info(), {"profile": True, "scenario": shown},
                             extra={"profile": prof})
        except OSError as exc:
            return _fail(f"--json {args.json}: {exc.strerror or exc}", 1)
        print(f"Results: {args.json}")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's time limit or pre-emption, ``kill``), handled as Ctrl-C is."""


def _raise_terminated(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alvh`` command; returns the exit status."""
    import signal
    import threading

    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="scipy")
    # on an abort joblib warns that chunks finished in the workers were not used: they were not
    # checkpointed and a resume computes them again, which the interruption message already implies
    warnings.filterwarnings("ignore", message=r".*tasks have been successfully executed", category=UserWarning,
                            module=r"joblib\.")
    # SIGTERM ends a command as Ctrl-C does: joblib stops its workers, finished chunks stay in the
    # checkpoint, and the exit status says which signal (a handler can only be set from the main thread)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        return _dispatch(args)
    except BrokenPipeError:
        # the reader went away (``alvh agree A B | head``): no traceback; Python's own advice is to
        # point stdout at devnull so the interpreter's final flush does not raise again
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141          # 128 + SIGPIPE, what a shell reports for a command killed by it
    except KeyboardInterrupt as exc:
        term = isinstance(exc, Terminated)
        kept = args.command in ("run", "batch") and not getattr(args, "no_checkpoint", False)
        kept_designs = args.command == "frontier"
        return _fail(("terminated (SIGTERM)" if term else "interrupted") + "; no result was written"
                     + (" (finished chunks are kept: rerun the command with --resume)" if kept else "")
                     + (" (finished designs are kept: rerun the command with --resume)" if kept_designs else ""),
                     143 if term else 130)      # 128 + the signal's number, as a shell reports it
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args) -> int:
    commands = {"run": _run, "batch": _batch, "rerun": _rerun, "agree": _agree, "calibrate": _calibrate,
                "validate": _validate, "bench": _bench, "market-replay": _market_replay,
                "verdicts": _verdicts, "frontier": _frontier}
    if args.command not in commands:
        return _fail(f"unknown command {args.command!r}")
    return commands[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
