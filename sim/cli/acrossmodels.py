"""``alvh verdicts`` and ``alvh frontier``: the claim check and the hedge-design search across every
model that passes the scorecard and on the real path."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from alvh.cli.common import _fail, _model_scenario, _new_csv, _say, _write_csv


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
