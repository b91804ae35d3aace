"""``alvh calibrate`` and ``alvh validate``: fitting a model to the real data, and comparing each
model's simulated statistics, VIX pricer and realism scorecard with the real data."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path

from alvh.cli.common import _data_for, _fail, _new_csv, _new_file, _write_csv


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
