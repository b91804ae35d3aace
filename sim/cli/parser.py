"""The ``alvh`` argument parser: every subcommand with its options, and the argparse types and
option groups they share."""

from __future__ import annotations

import argparse

from alvh.cli.common import _model_types


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
                                     "over scenario keys, see sim/batch/) or of the scenario files given, one at a "
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
                                     "that passes the scorecard and on the real path (sim/frontier/).")
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
                         description="Without TARGET: five measurements, each a ratio with its target (sim/bench/): "
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


def _window_arguments(parser, start_note: str = "", end_note: str = "") -> None:
    """``--data``, ``--start`` and ``--end``: where the calibration data and window come from."""
    parser.add_argument("--data", metavar="SCENARIO.toml", help="take the data sources and window from this scenario")
    parser.add_argument("--start", metavar="YYYY-MM-DD", help="first day of the window" + start_note)
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last day of the window" + end_note)
