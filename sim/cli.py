"""Command line: ``alvh run SCENARIO.toml [--paths N] [--seed S] [--jobs J] [--out DIR]``.

Exit status: 0 on success, 2 on bad input (scenario, data, options; one line on stderr naming the
file, the key and the rule, no traceback), 1 on an unexpected failure, 130 when interrupted. A run
writes into a hidden temporary folder next to the output and renames it into place only when the
results and the report are complete, so a failed run leaves nothing that looks like a result.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
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
    return parser


def _fail(message: str, code: int = 2) -> int:
    print(f"alvh: error: {message}", file=sys.stderr)
    return code


def _run(args: argparse.Namespace) -> int:
    from sim.config import ConfigError, load_scenario
    from sim.data import DataError

    try:
        scenario = load_scenario(args.scenario)
    except ConfigError as exc:
        return _fail(str(exc))
    out_dir = Path(args.out) if args.out else Path("reports") / scenario.name
    if out_dir.exists() and not out_dir.is_dir():
        return _fail(f"--out {out_dir}: exists and is not a folder")
    n_paths = args.paths or scenario.simulation["n_paths"]
    if n_paths < 2:
        return _fail("--paths: at least 2 paths are needed for VaR, CVaR and their errors")
    seed = scenario.simulation["seed"] if args.seed is None else args.seed
    progress = not args.no_progress and sys.stderr.isatty()

    from sim import report, results, runner

    print(f"alvh: scenario '{scenario.name}' ({scenario.path}): calibrating to real data...", file=sys.stderr)
    try:
        prepared = runner.prepare(scenario, seed)
    except DataError as exc:
        return _fail(str(exc))
    print(prepared.calibration.summary(), file=sys.stderr)
    print(f"alvh: simulating {n_paths:,} paths x {scenario.n_steps} days in chunks of "
          f"{scenario.simulation['chunk_size']:,} on {args.jobs} job(s)...", file=sys.stderr)
    result = runner.run(prepared, n_paths, seed, jobs=args.jobs, progress=progress)
    years = scenario.n_steps * prepared.dt
    metric_list = results.compute_metrics(result.per_path, scenario.market.capital, years)
    command = "alvh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    ds = results.build_dataset(result, metric_list, command=command)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-partial-", dir=out_dir.parent))
    try:
        results.write_dataset(ds, tmp / "results.nc")
        report.render_report(ds, tmp / "report.html")
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}-old-{os.getpid()}")
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    print(report.summary_text(ds, out_dir))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alvh`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="scipy")
    try:
        if args.command == "run":
            return _run(args)
    except KeyboardInterrupt:
        return _fail("interrupted; no result was written", 130)
    return _fail(f"unknown command {args.command!r}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
