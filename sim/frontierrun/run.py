"""The run of ``alvh frontier``: the search on common paths, the confirmation of the best designs and the
references under each model and on the real path, and the frontier table (:func:`run_frontier`)."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from alvh import frontier as fr
from alvh.frontierrun.folder import _open_folder
from alvh.frontierrun.settings import FrontierOutcome, FrontierSettings
from alvh.frontierrun.sources import _arrays, _prepare_source
from alvh.frontierrun.stats import _holm, _mc_row, replay_metrics
from alvh.frontierrun.summary import summary_lines


def run_frontier(scenario, out: Path | None, st: FrontierSettings, resume: bool = False, say=lambda m: None,
                 progress: bool = True) -> FrontierOutcome:
    """Search, confirm and write the frontier of ``scenario`` (module docstrings).

    Parameters
    ----------
    scenario : alvh.config.Scenario
        A Monte Carlo scenario (its condor and hedges are the references).
    out : Path or None
        Output folder (checked with :func:`check_frontier_folder` by the caller); None keeps the study
        in memory and writes nothing.
    st : FrontierSettings
    resume : bool
        Continue the search in ``out``.
    say : callable
        Progress lines.
    progress : bool
        A progress bar over the designs.

    Raises
    ------
    alvh.frontier.FrontierError
        Bad settings, or a resume whose settings differ from the search's.
    ValueError
        A scenario the engine refuses (from preparation).
    """
    from alvh.modelspec import MODEL_TYPES

    st.check()
    if scenario.model["type"] == "replay":
        raise fr.FrontierError("a replay scenario has one path; search a Monte Carlo scenario")
    known = [m for m in MODEL_TYPES if m != "replay"]
    bad = [m for m in st.models if m not in known]
    if bad:
        raise fr.FrontierError(f"--models: unknown model type {bad[0]!r}; known: {', '.join(known)}")
    if out is None:
        return _run(scenario, None, st, say, progress)
    from alvh.checkpoint import output_lock

    with output_lock(out):      # two processes never search or resume one folder at once
        return _run(scenario, out, st, say, progress, resume)


def _run(scenario, out, st: FrontierSettings, say, progress: bool, resume: bool = False) -> FrontierOutcome:
    from alvh.parallel import progress_bar
    from alvh.scorecard import model_scorecard
    from alvh.verdicts import acceptance_failures

    ident = st.identity(scenario)
    journal = _open_folder(out, ident, resume) if out is not None else None
    own = scenario.model["type"]
    say(f"alvh: {own}: calibrating (cached) ...")
    ref_sc, prep = _prepare_source(scenario, None, st.space, st.seed)
    cap, years = prep.market.capital, prep.n_steps * prep.dt
    names = [h.name for h in ref_sc.hedges]
    say(f"alvh: the condor and its {len(names)} reference hedges on {st.n_paths:,} search paths ...")
    ref = _arrays(prep, ref_sc, st.n_paths, st.seed, st.jobs)

    def evaluate(p: dict) -> dict:
        t0 = time.perf_counter()
        sc = fr.design_scenario(scenario, p, prep.s0)
        des = _arrays(prep, sc, st.n_paths, st.seed, st.jobs)[1]
        m = fr.design_metrics(ref[0], des, cap, years)
        m["seconds"] = time.perf_counter() - t0
        return m

    bar = progress_bar(total=st.n_trials, desc=f"{scenario.name}: designs", unit="design", disable=not progress,
                       leave=False)
    with bar:
        trials = fr.search(evaluate, st.space, st.n_trials, st.seed, journal, st.n_startup,
                           on_trial=lambda t, resumed: bar.update(1))
    trials_df = _trials_frame(trials, st.space)
    search_s = float(np.nansum(trials_df["seconds"])) if len(trials_df) else 0.0   # resumed designs included
    best = fr.best_per_budget(trials, st.budgets)
    num = fr.design_numbers(trials)
    best = {b: (None if t is None else (num[t.number], t)) for b, t in best.items()}     # budget -> (design, trial)
    chosen = sorted({k: t for k, t in (x for x in best.values() if x is not None)}.items())
    say(f"alvh: {len(trials)} designs searched; confirming {len(chosen)} best and {len(names)} references "
        f"on {st.confirm_paths:,} fresh paths (seed {st.confirm_seed}) ...")
    t1 = time.perf_counter()
    rows, sources = [], []
    main = ref_sc.main_hedge
    for m in dict.fromkeys([own, *st.models]):
        try:
            if m == own:
                m_ref_sc, m_prep = ref_sc, prep
            else:
                say(f"alvh: {m}: calibrating (cached) ...")
                m_ref_sc, m_prep = _prepare_source(scenario, m, st.space, st.seed)
            fails = acceptance_failures(model_scorecard(m, m_prep.model))
        except (ValueError, OSError) as exc:
            sources.append({"source": m, "counted": False, "note": f"not run: {str(exc).splitlines()[0]}"})
            continue
        counted = not fails or st.all_models
        note = ("passes the acceptance rows" if not fails else f"fails {len(fails)} acceptance rows"
                + ("" if counted else "; not counted"))
        sources.append({"source": m, "counted": counted, "note": note})
        if not counted and m != own:
            continue
        say(f"alvh: {m}: confirming ...")
        c_ref = _arrays(m_prep, m_ref_sc, st.confirm_paths, st.confirm_seed, st.jobs)
        alvh = c_ref[1 + names.index(main)] if main in names else None
        for j, h in enumerate(names, 1):
            rows.append({"kind": "reference", "name": h, "budget": math.nan, "trial": -1, "source": m,
                         "counted": counted, **_mc_row(c_ref[0], c_ref[j], None, cap, years)})
        for number, t in chosen:
            des = _arrays(m_prep, fr.design_scenario(scenario if m == own else m_ref_sc, t.params, m_prep.s0),
                          st.confirm_paths, st.confirm_seed, st.jobs)[1]
            r = _mc_row(c_ref[0], des, alvh, cap, years)
            for b, bt in best.items():
                if bt is not None and bt[0] == number:
                    rows.append({"kind": "design", "name": f"trial {number}", "budget": b, "trial": number,
                                 "source": m, "counted": counted, **r})
    if st.replay:
        rows += _replay_rows(scenario, prep, ref_sc, names, main, chosen, best, cap, st, say, sources)
    confirm_s = time.perf_counter() - t1
    table = _finish(pd.DataFrame(rows), best, trials_df, sources, own)
    lines = summary_lines(table, sources, st, len(trials), search_s, confirm_s, main)
    from alvh.frontierreport import build_dataset, write_outputs

    ds = build_dataset(table, trials_df, sources, st, ident, search_s, confirm_s, lines)
    if out is not None:
        write_outputs(out, ds, table, trials_df, lines, main, str(scenario.path or scenario.name))
    return FrontierOutcome(table=table, trials=trials_df, dataset=ds, lines=lines, search_s=search_s,
                           confirm_s=confirm_s)


def _replay_rows(scenario, prep, ref_sc, names, main, chosen, best, cap, st, say, sources) -> list[dict]:
    from alvh.realprices import real_price_replay, real_price_window
    from alvh.verdicts import REPLAY

    if real_price_window(prep.data.dates).sum() < 2:
        sources.append({"source": REPLAY, "counted": False, "note": "not run: the data window has no real VIX prices"})
        return []
    say("alvh: the real path at real VIX prices ...")
    real_ref = real_price_replay(dataclasses.replace(prep, scenario=ref_sc))
    window = f"{str(real_ref.dates[0])[:10]} .. {str(real_ref.dates[-1])[:10]}"
    sources.append({"source": REPLAY, "counted": True,
                    "note": f"{window}, {real_ref.daily_pnl.shape[1]:,} days; SPX options at the model's prices"})
    rows = []
    alvh_daily = real_ref.daily_pnl[1 + names.index(main)] if main in names else None
    for j, h in enumerate(names, 1):
        r = replay_metrics(real_ref.daily_pnl[0], real_ref.daily_pnl[j], cap, st.confirm_seed)
        rows.append({"kind": "reference", "name": h, "budget": math.nan, "trial": -1, "source": REPLAY,
                     "counted": True, **r})
    for number, t in chosen:
        sc = fr.design_scenario(scenario, t.params, prep.s0)
        real = real_price_replay(dataclasses.replace(prep, scenario=sc))
        r = replay_metrics(real_ref.daily_pnl[0], real.daily_pnl[1], cap, st.confirm_seed, alvh_daily)
        for b, bt in best.items():
            if bt is not None and bt[0] == number:
                rows.append({"kind": "design", "name": f"trial {number}", "budget": b, "trial": number,
                             "source": REPLAY, "counted": True, **r})
    return rows


def _trials_frame(trials, space) -> pd.DataFrame:
    rows = []
    num = fr.design_numbers(trials)
    for t in trials:
        a = t.user_attrs
        rows.append({"trial": num[t.number], "error": a.get("error", ""),
                     **{f"param_{k}": t.params.get(k) for k in space},
                     **{k: a.get(k, math.nan) for k in ("cost", "cost_se", "cut", "cut_se", "cut_rel", "worst_day_cut",
                                                         "worst_day_cut_se", "drawdown_cut", "drawdown_cut_se",
                                                         "seconds")},
                     "description": fr.describe(t.params)})
    df = pd.DataFrame(rows)
    df["pareto"] = fr.pareto_front(df["cost"], df["cut"]) if len(df) else []
    return df


def _finish(table: pd.DataFrame, best, trials_df: pd.DataFrame, sources: list[dict], own: str) -> pd.DataFrame:
    """Holm p-values, the in-sample numbers, the optimism and the robustness of each design."""
    cols = ["kind", "name", "budget", "trial", "source", "counted", "cost", "cost_ci_low", "cost_ci_high", "cut",
            "cut_ci_low", "cut_ci_high", "cut_rel", "worst_day_cut", "drawdown_cut", "vs_alvh", "vs_alvh_ci_low",
            "vs_alvh_ci_high", "vs_alvh_p"]
    table = table.reindex(columns=cols) if len(table) else pd.DataFrame(columns=cols)
    for b, t in best.items():          # a budget no design meets still gets a row
        if t is None:
            table = pd.concat([table, pd.DataFrame([{"kind": "design", "name": "none within budget", "budget": b,
                                                     "trial": -1, "source": "", "counted": False}])],
                              ignore_index=True)
    table["vs_alvh_p_holm"] = _holm(table) if len(table) else []
    by = trials_df.set_index("trial") if len(trials_df) else None
    def of(col, missing):
        return [by.loc[t, col] if by is not None and t in by.index else missing for t in table["trial"]]

    table["in_sample_cost"], table["in_sample_cut"] = of("cost", math.nan), of("cut", math.nan)
    # the winner's curse on the search's own model; another model's or the real path's cut measures
    # something else (the model change, the daily loss), so no optimism there
    table["optimism"] = (table["in_sample_cut"] - table["cut"]).where(table["source"] == own)
    table["description"] = of("description", "")
    from alvh.verdicts import REPLAY

    counted = {s["source"] for s in sources if s["counted"]}
    robust = {}
    for t, g in table[(table["kind"] == "design") & (table["trial"] >= 0)].groupby("trial"):
        g = g[g["source"].isin(counted)]
        # at least one counted model: the real path alone (a daily-loss bootstrap) does not make a design robust
        robust[t] = bool(counted - {REPLAY} and set(g["source"]) == counted and (g["cut_ci_low"] > 0).all())
    table["robust"] = [robust.get(t, False) if k == "design" else False for t, k in zip(table["trial"], table["kind"])]
    return table
