"""``alvh frontier``: the search on common paths, the confirmation out of sample, and the outputs
(:mod:`alvh.frontier` says what is computed and why).

Layout of the output folder::

    OUT/settings.json     what the search is (scenario text, seeds, paths, space): a resume must match
    OUT/study.journal     the optuna study (every design proposed, its in-sample numbers)
    OUT/frontier.nc       xarray: the trials; the confirmed frontier (budget x source); the references
    OUT/frontier.csv      the confirmed frontier and the references, one row per design and source
    OUT/frontier.json     the settings, times and summary
    OUT/frontier.html     the report section: answers, the figure, the tables, the settings
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alvh import frontier as fr
from alvh import metrics as mx

__all__ = ["FrontierSettings", "FrontierOutcome", "run_frontier", "check_frontier_folder", "FRONTIER_ENTRIES",
           "replay_metrics", "summary_lines", "BAND"]

#: Entries of a frontier folder besides alvh's marker.
FRONTIER_ENTRIES = frozenset({"settings.json", "study.journal", "frontier.nc", "frontier.csv", "frontier.json",
                              "frontier.html"})
#: The texts' claimed annual cost, % of capital a year (``../shared/ALVH.md``, claim 1).
BAND = (1.0, 2.0)
#: Block length of the real path's bootstrap, trading days (one month).
BLOCK_DAYS = 21
#: optuna's journal lock beside ``study.journal`` (a symbolic link, and its rename file while it moves).
_OPTUNA_LOCK = r"study\.journal\.lock\S*"
#: Bootstrap resamples on the real path.
BOOTSTRAP_REPS = 1000
_FIELDS = ("pnl", "worst_day", "max_drawdown")


@dataclass
class FrontierSettings:
    """What one frontier is.

    Attributes
    ----------
    budgets : tuple of float
        % of capital a year.
    n_trials, n_paths, seed : int
        Designs searched, paths per design, root seed of the search's paths and sampler.
    confirm_seed, confirm_paths : int
        Seed and paths of the confirmation (the seed must differ from ``seed``).
    models : tuple of str
        Models the confirmation runs under (those that pass the scorecard are counted).
    all_models : bool
        Count every model, passing or not.
    replay : bool
        Confirm on the real path at real VIX prices too.
    space : dict of str to Dimension
    n_startup : int
    jobs : int
    """

    budgets: tuple
    n_trials: int
    n_paths: int
    seed: int
    confirm_seed: int
    confirm_paths: int
    models: tuple
    all_models: bool = False
    replay: bool = True
    space: dict = field(default_factory=dict)
    n_startup: int = fr.N_STARTUP
    jobs: int = 1

    def check(self) -> None:
        """Refuse bad settings before any work.

        Raises
        ------
        alvh.frontier.FrontierError
        """
        if not self.budgets:
            raise fr.FrontierError("--budgets: give at least one budget")
        for b in self.budgets:
            if not (isinstance(b, (int, float)) and math.isfinite(b) and b > 0):
                raise fr.FrontierError(f"--budgets: a budget must be a finite number > 0 (% a year), got {b!r}")
        if self.n_trials <= 0:
            raise fr.FrontierError(f"--trials must be > 0, got {self.n_trials}")
        for key, n in (("--paths", self.n_paths), ("--confirm-paths", self.confirm_paths)):
            if n < 2:
                raise fr.FrontierError(f"{key} must be >= 2 (a CVaR needs paths), got {n}")
        if self.seed < 0 or self.confirm_seed < 0:
            raise fr.FrontierError("--seed and --confirm-seed must be >= 0")
        if self.confirm_seed == self.seed:
            raise fr.FrontierError(f"--confirm-seed {self.confirm_seed}: the confirmation needs paths the search "
                                   "never saw; give a seed other than the search's")

    def identity(self, scenario) -> dict:
        """What a resumed search must share with the one it resumes."""
        return {"format": "alvh-frontier/1", "scenario": scenario.name,
                "scenario_sha256": hashlib.sha256(scenario.text.encode()).hexdigest(), "seed": self.seed,
                "paths": self.n_paths, "chunk_size": scenario.simulation["chunk_size"],
                "space": fr.space_record(self.space), "n_startup": self.n_startup}


@dataclass
class FrontierOutcome:
    """Result of :func:`run_frontier`.

    Attributes
    ----------
    table : pandas.DataFrame
        The confirmed frontier and the references (``frontier.csv``).
    trials : pandas.DataFrame
        Every searched design with its in-sample numbers.
    dataset : xarray.Dataset
    lines : list of str
        The summary, answers first.
    search_s, confirm_s : float
        Wall time of the search and of the confirmation, seconds.
    """

    table: pd.DataFrame
    trials: pd.DataFrame
    dataset: object
    lines: list
    search_s: float
    confirm_s: float


def check_frontier_folder(path: Path, resume: bool, key: str = "--out") -> None:
    """Refuse, before any work, a folder this search may not write.

    A frontier folder holds only :data:`FRONTIER_ENTRIES`, alvh's marker (kind ``frontier``) and
    alvh's hidden work files. One that holds a search is continued only with ``resume``.

    Raises
    ------
    alvh.outdir.OutputFolderError
    """
    import os
    import re

    from alvh.outdir import OutputFolderError, _rule, check_owned_folder, read_marker

    path = Path(path)
    # optuna's journal lock (a symbolic link and its rename file) is left behind by a kill -9
    locks = {e for e in (os.listdir(path) if path.is_dir() and not path.is_symlink() else ())
             if re.fullmatch(_OPTUNA_LOCK, e)}
    if not check_owned_folder(path, "frontier", FRONTIER_ENTRIES | locks, key):
        return
    listed = set(read_marker(path).get("files", [])) | locks
    mine = [e for e in os.listdir(path) if not e.startswith(".") and e not in listed]
    if mine:      # a name alvh uses, but a file alvh did not write
        raise OutputFolderError(f"{key} {path}: holds {sorted(mine)[0]!r}, which alvh did not write; {_rule(key)}")
    if (path / "study.journal").exists() and not resume:
        raise OutputFolderError(f"{key} {path}: holds a frontier search; add --resume to continue it, or choose "
                                "another folder")


def _reference_scenario(scenario):
    """The scenario's own hedges (the ALVH and its baselines) without the budget sweep or the replay."""
    def edit(raw):
        an = raw.setdefault("analysis", {})
        an["budget_sweep"], an["replay"] = [], False

    return fr.rewritten(scenario, edit, "references")


def _arrays(prep, sc, n_paths: int, seed: int, jobs: int) -> list[dict]:
    """Per strategy (the condor alone first): ``pnl``, ``worst_day``, ``max_drawdown`` per path, USD."""
    from alvh import runner

    res = runner.run(dataclasses.replace(prep, scenario=sc), n_paths, seed, jobs=jobs, progress=False)
    try:
        return [{k: np.asarray(res.per_strategy[k][s], float) for k in _FIELDS} for s in range(len(res.strategies))]
    finally:
        res.path_store.close()


def _cvar(loss: np.ndarray) -> float:
    loss = np.sort(np.asarray(loss, float))[::-1]
    n = max(int(math.ceil((1.0 - fr.LEVEL) * loss.size)), 1)
    return float(loss[:n].mean())


def replay_metrics(ref_daily, des_daily, capital: float, seed: int, alvh_daily=None) -> dict:
    """Cost and cuts of a design on the real path, against the condor alone on the same days.

    Parameters
    ----------
    ref_daily, des_daily : ndarray of shape (n_days,)
        Daily P&L, USD (the condor alone, the design).
    capital : float
    seed : int
        Seed of the bootstrap.
    alvh_daily : ndarray of shape (n_days,), optional
        The ALVH's daily P&L: adds ``vs_alvh`` (the design's daily CVaR 99 below the ALVH's).

    Returns
    -------
    dict
        ``cost`` (% of capital a year: mean daily P&L given up x 252) and ``cut`` (daily-loss CVaR 99
        of the condor minus the design's, % of capital) with 95% circular-block-bootstrap intervals
        (:data:`BLOCK_DAYS`-day blocks, :data:`BOOTSTRAP_REPS` resamples, percentile);
        ``worst_day_cut`` and ``drawdown_cut`` (% of capital, no interval: one path has one worst day).
    """
    from arch.bootstrap import CircularBlockBootstrap

    from alvh.runner import _max_drawdown

    k = 100.0 / capital
    r, d = k * np.asarray(ref_daily, float), k * np.asarray(des_daily, float)
    cols = [r, d] + ([k * np.asarray(alvh_daily, float)] if alvh_daily is not None else [])

    def stats(*a):
        out = [252.0 * float(np.mean(a[0] - a[1])), _cvar(-a[0]) - _cvar(-a[1])]
        if len(a) == 3:
            out.append(_cvar(-a[2]) - _cvar(-a[1]))
        return np.array(out)

    point = stats(*cols)
    bs = CircularBlockBootstrap(BLOCK_DAYS, *cols, seed=np.random.default_rng(seed))
    ci = bs.conf_int(stats, reps=BOOTSTRAP_REPS, method="percentile")
    out = {"cost": point[0], "cost_ci_low": ci[0, 0], "cost_ci_high": ci[1, 0],
           "cut": point[1], "cut_ci_low": ci[0, 1], "cut_ci_high": ci[1, 1],
           "worst_day_cut": float((-r).max() - (-d).max()),
           "drawdown_cut": float(_max_drawdown(r) - _max_drawdown(d))}
    if alvh_daily is not None:
        out.update(vs_alvh=point[2], vs_alvh_ci_low=ci[0, 2], vs_alvh_ci_high=ci[1, 2])
    return {key: float(v) for key, v in out.items()}


def _mc_row(ref: dict, des: dict, alvh: dict | None, capital: float, years: float) -> dict:
    m = fr.design_metrics(ref, des, capital, years)
    row = {"cost": m["cost"], "cost_ci_low": m["cost"] - mx.Z95 * m["cost_se"],
           "cost_ci_high": m["cost"] + mx.Z95 * m["cost_se"], "cut": m["cut"],
           "cut_ci_low": m["cut"] - mx.Z95 * m["cut_se"], "cut_ci_high": m["cut"] + mx.Z95 * m["cut_se"],
           "cut_rel": m["cut_rel"], "worst_day_cut": m["worst_day_cut"], "drawdown_cut": m["drawdown_cut"]}
    if alvh is not None:
        k = 100.0 / capital
        est, _ = mx.cvar_difference(-k * alvh["pnl"], -k * des["pnl"], fr.LEVEL)
        from scipy import stats

        row.update(vs_alvh=est.value, vs_alvh_ci_low=est.ci_low, vs_alvh_ci_high=est.ci_high,
                   vs_alvh_p=float(2.0 * stats.norm.sf(abs(est.value / est.se))) if est.se > 0 else math.nan)
    return row


def _holm(table: pd.DataFrame) -> pd.Series:
    """Holm-adjusted p-values of the comparisons with the ALVH, per source (designs only)."""
    from statsmodels.stats.multitest import multipletests

    out = pd.Series(math.nan, index=table.index)
    for _, g in table[(table["kind"] == "design") & table["vs_alvh_p"].notna()].groupby("source"):
        uniq = g.drop_duplicates("trial")
        adj = multipletests(uniq["vs_alvh_p"].to_numpy(), method="holm")[1]
        by_trial = dict(zip(uniq["trial"], adj))
        out[g.index] = [by_trial[t] for t in g["trial"]]
    return out


def _prepare_source(scenario, model: str | None, space, seed: int):
    """(reference scenario, prepared widest scenario) under ``model`` (None: the scenario's own)."""
    from alvh import runner

    def edit(raw):
        raw.setdefault("model", {})["type"] = model
        raw["name"] = f"{scenario.name}.{model}"

    sc = scenario                   # a variant from the text, so that a scenario without a file varies too
    if model is not None and model != scenario.model["type"]:
        sc = fr.rewritten(scenario, edit, f"model.type = {model}")
    base = runner.prepare(sc, seed, cache=True)          # the calibration, cached; s0 for the widths
    wide = fr.widest_scenario(sc, space, base.s0)
    return _reference_scenario(sc), runner.prepare(wide, seed, cache=True)


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


def _open_folder(out: Path, ident: dict, resume: bool) -> Path:
    """Mark the folder as alvh's first, then check (on resume) and write the search's settings."""
    import json
    import os
    import re

    from alvh.outdir import read_marker, write_marker

    out.mkdir(parents=True, exist_ok=True)
    have = out / "settings.json"
    if resume and have.exists() and (out / "study.journal").exists():
        old = json.loads(have.read_text())
        diff = [k for k in ident if old.get(k) != ident[k]]
        if diff:
            raise fr.FrontierError(f"--resume: {out} holds a search with another {diff[0]} ({old.get(diff[0])!r}); "
                                   "resume with the same scenario, seed, paths and space, or use another folder")
    # optuna's journal lock left by a process killed while it wrote: stale, since this process holds the
    # folder's lock (no other alvh process writes here), and optuna would wait on it for ever
    for e in os.listdir(out):
        if re.fullmatch(_OPTUNA_LOCK, e) and ((out / e).is_symlink() or (out / e).is_file()):
            (out / e).unlink()
    listed = set((read_marker(out) or {}).get("files", []))         # only what alvh wrote before
    write_marker(out, "frontier", files=sorted(listed | {"settings.json", "study.journal"}))
    fr.write_json(have, ident)
    return out / "study.journal"


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


def _fmt_ci(v, lo, hi, d=2) -> str:
    return f"{v:.{d}f} ({lo:.{d}f} to {hi:.{d}f})" if math.isfinite(v) else "n/a"


def summary_lines(table: pd.DataFrame, sources, st: FrontierSettings, n_trials: int, search_s: float,
                  confirm_s: float, main: str) -> list[str]:
    """The summary, answers first: one sentence per budget, then the claim tie-in and the settings."""
    import textwrap

    lines = ["What each budget buys (confirmed out of sample; net cost in % of capital a year, CVaR 99 cut of",
             "the horizon loss in % of capital, 95% CI):"]
    from alvh.verdicts import REPLAY

    counted = [s["source"] for s in sources if s["counted"]]
    models = [c for c in counted if c != REPLAY]
    if not models:
        lines.append(f"(No model passes the scorecard's acceptance rows: the numbers below are under "
                     f"{sources[0]['source'] if sources else 'no model'}, not counted, and no design is robust.)")
    first = models[0] if models else (sources[0]["source"] if sources else "")
    d = table[table["kind"] == "design"]
    groups: dict[int, list[float]] = {}
    for b in st.budgets:                     # budgets whose best design is the same are said once
        g = d[(d["budget"] == b)]
        groups.setdefault(int(g["trial"].iloc[0]) if len(g) else -1, []).append(b)
    for trial, bs in groups.items():
        when = ", ".join(f"{b:g}" for b in bs) + "%/yr"
        if trial < 0:
            lines += textwrap.wrap(f"- {when}: no design searched costs this little.", 100, subsequent_indent="  ")
            continue
        g = d[d["trial"] == trial]
        r = g[g["source"] == first].iloc[0] if (g["source"] == first).any() else g.iloc[0]
        verdict = "robust" if bool(r["robust"]) else "not robust"
        lead = ("" if r["in_sample_cut"] > 0 else
                "no searched design cuts the tail even in sample; the least bad: ")
        text = (f"- {when}: {lead}{r['description']}. Under {r['source']}: cost "
                f"{_fmt_ci(r['cost'], r['cost_ci_low'], r['cost_ci_high'])}, cut "
                f"{_fmt_ci(r['cut'], r['cut_ci_low'], r['cut_ci_high'])} (in sample {r['in_sample_cut']:.2f}); "
                f"{verdict} across {len(counted)} counted source(s).")
        lines += textwrap.wrap(text, 100, subsequent_indent="  ")
    a = table[(table["kind"] == "reference") & (table["name"] == main) & (table["source"] == first)]
    # the design chosen (in sample) for the largest budget inside the claimed band: choosing among the
    # band's designs by their confirmed cut would bring back the winner's curse
    in_band = sorted(b for b in st.budgets if BAND[0] <= b <= BAND[1])
    top = d[(d["budget"] == in_band[-1]) & (d["source"] == first)] if in_band else d.iloc[:0]
    band = top[top["robust"].astype(bool)]
    alvh_txt = (f"the ALVH as written cuts {_fmt_ci(a['cut'].iloc[0], a['cut_ci_low'].iloc[0], a['cut_ci_high'].iloc[0])}"
                f" at a cost of {a['cost'].iloc[0]:.2f}%/yr" if len(a) else "the scenario has no ALVH")
    alvh_txt += f" (under {first}, on fresh paths)"
    if len(band):
        r = band.iloc[0]
        tie = (f"Claims 1 and 4: within {BAND[0]:g}-{BAND[1]:g}% a year the best robust design (the "
               f"{in_band[-1]:g}%/yr budget's) cuts CVaR 99 by {_fmt_ci(r['cut'], r['cut_ci_low'], r['cut_ci_high'])}; "
               f"{alvh_txt}.")
        if math.isfinite(r.get("vs_alvh", math.nan)):
            tie += (f" What the ALVH gives up against it: {_fmt_ci(r['vs_alvh'], r['vs_alvh_ci_low'], r['vs_alvh_ci_high'])}"
                    f" of CVaR 99 (Holm-adjusted p {r['vs_alvh_p_holm']:.3g}) for "
                    f"{r['cost'] - a['cost'].iloc[0]:+.2f}%/yr of cost." if len(a) else "")
    elif not in_band:
        tie = f"Claims 1 and 4: no budget searched lies in {BAND[0]:g}-{BAND[1]:g}% a year; {alvh_txt}."
    else:
        tie = (f"Claims 1 and 4: the best design within {BAND[0]:g}-{BAND[1]:g}% a year (the {in_band[-1]:g}%/yr "
               f"budget's) is not robust; {alvh_txt}.")
    lines += [""] + textwrap.wrap(tie, 100)
    lines += [""] + textwrap.wrap(
        f"Search: {n_trials} designs x {st.n_paths:,} paths (seed {st.seed}), optuna TPE (multivariate, "
        f"{st.n_startup} random first), {search_s / 60:.1f} min; confirmation: {st.confirm_paths:,} fresh paths "
        f"(seed {st.confirm_seed}) under {', '.join(s['source'] for s in sources)}, {confirm_s / 60:.1f} min. "
        "Comparisons with the ALVH: paired CVaR differences, Holm-adjusted per source.", 100)
    return lines
