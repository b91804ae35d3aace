"""``alvh bench``: the benchmark suite of :mod:`alvh.bench`, its ``--profile`` of one chunk, and the
SPX option pricing micro-benchmark (``alvh bench pricing``)."""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

from alvh.cli.common import _fail, _model_scenario, _say


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
