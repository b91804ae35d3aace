"""Verdicts that hold across models: the claim check under every model that passes the market
scorecard, and the replay at real VIX prices, combined into one headline per claim (issue 21, item 9).

Which models count
------------------
A model counts when it passes the scorecard's *acceptance rows* (:data:`ACCEPTANCE`; the rows the
market-true work set as the bar a model must clear before its verdicts are read): the VIX futures
M1..M7 within 1 point of the real bucket means and the VVIX within 12 points, in every VIX bucket up
to 30; the largest one-day VIX rise and the share of days with the VIX above 30 inside the
simulated histories' 5-95% range (:mod:`alvh.scorecard`). A model that fails one is listed with
the rows it fails and not counted; ``require_pass=False`` counts every model asked for (said in
the table).

The real path
-------------
The scenario's own model prices the condor (SPX options) on the real days of 2006-03-06 ..
2024-12-31 inside its data window, and the VIX layers are at real prices
(:func:`alvh.realprices.real_price_replay`, default smile rule; the other rules' values are in
the note). One real path decides claim 1 only: the net hedge cost of each complete calendar year
is one observation, and the claim's statistic is their mean with a Student-t 95% interval over
the years (years treated as independent draws; the cost of one year hardly predicts the next's).
Claims 2-4 need what one path cannot give (a -40% day, deltas around scheduled events, a 1% tail of
annual losses), so the replay does not vote on them; the table says so.

The headline
------------
For each claim and hedged strategy (regime "all"): the verdict every counted source gives, when they
all give the same one (*supported*, *refuted* or *not decidable*); otherwise *depends on the model*,
with the table showing which source says what.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from alvh.claims import CLAIM_TEXTS, REFUTED, SUPPORTED, UNDECIDED, ClaimThresholds

__all__ = ["ACCEPTANCE_BUCKETS", "DEPENDS", "REPLAY", "acceptance_failures", "replay_claim1", "headline",
           "VerdictsAcross", "verdicts_across_models", "COLUMNS"]

#: The headline when counted sources disagree.
DEPENDS = "depends on the model"
#: The source name of the real-price replay.
REPLAY = "real path, real VIX prices"
#: VIX buckets of the acceptance rows (the Q rows up to a VIX of 30).
ACCEPTANCE_BUCKETS = ("<=13", "13-16", "16-20", "20-30")
#: Columns of the table (:attr:`VerdictsAcross.table`).
COLUMNS = ("claim", "strategy", "source", "counted", "verdict", "value", "ci_low", "ci_high", "units", "note")


def acceptance_failures(card: pd.DataFrame) -> list[str]:
    """The acceptance rows a scorecard fails (``"futures_M5[20-30]"``, ``"vix_max_rise"``), empty when it
    passes them all (module docstring).

    Raises
    ------
    ValueError
        The scorecard lacks one of the acceptance rows.
    """
    q = card[(card["side"] == "Q") & card["bucket"].isin(ACCEPTANCE_BUCKETS)
             & card["statistic"].str.match(r"^(futures_M[1-7]|vvix)$")]
    p = card[(card["side"] == "P") & card["statistic"].isin(["vix_max_rise", "share_vix_above_30"])]
    if len(p) != 2 or q["statistic"].nunique() != 8:
        raise ValueError("the scorecard lacks acceptance rows (futures M1..M7, VVIX, vix_max_rise, share_vix_above_30)")
    bad = pd.concat([q, p])
    bad = bad[~bad["pass"].astype(bool)]
    return [s if b == "all" else f"{s}[{b}]" for s, b in zip(bad["statistic"], bad["bucket"])]


def replay_claim1(result, strategy: int, capital: float, th: ClaimThresholds = ClaimThresholds()) -> dict:
    """Claim 1 on a replay: the mean net hedge cost of the complete calendar years, % of capital.

    Parameters
    ----------
    result : alvh.runner.ReplayResult
    strategy : int
        Index into the replay's strategies (0 is the condor alone).
    capital : float
        Dollars.
    th : ClaimThresholds
        ``cost_band`` and ``level``.

    Returns
    -------
    dict
        ``value, ci_low, ci_high`` (% of capital a year; mean of the yearly costs, Student-t interval
        at ``th.level`` with ``n - 1`` degrees of freedom; Student 1908, Biometrika 6(1)), ``verdict``, ``n`` (complete years),
        ``years`` (ndarray of the yearly costs).
    """
    idx = pd.DatetimeIndex(result.dates)
    cost = pd.Series(-100.0 * result.hedge_pnl[strategy] / capital, index=idx)
    first, last = idx[0], idx[-1]
    full = [y for y in sorted(set(idx.year))
            if first <= pd.Timestamp(f"{y}-01-05") and last >= pd.Timestamp(f"{y}-12-24")]
    yearly = np.array([cost[str(y)].sum() for y in full])
    n = yearly.size
    if n < 2:
        return {"value": float(yearly.mean()) if n else math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "verdict": UNDECIDED, "n": n, "years": yearly}
    m, se = float(yearly.mean()), float(yearly.std(ddof=1) / math.sqrt(n))
    h = float(stats.t.ppf(0.5 + th.level / 2.0, n - 1)) * se
    lo, hi = m - h, m + h
    band = th.cost_band
    verdict = (SUPPORTED if band[0] <= lo and hi <= band[1] else REFUTED if hi < band[0] or lo > band[1]
               else UNDECIDED)
    return {"value": m, "ci_low": lo, "ci_high": hi, "verdict": verdict, "n": n, "years": yearly}


def headline(verdicts) -> str:
    """The headline of the counted sources' verdicts: their common verdict, or :data:`DEPENDS`
    (``"not decidable"`` when there are none)."""
    v = set(verdicts)
    if not v:
        return UNDECIDED
    return v.pop() if len(v) == 1 else DEPENDS


@dataclass
class VerdictsAcross:
    """The claim check across models and the real path.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns :data:`COLUMNS`: one row per claim, hedged strategy and source (a model type, or
        :data:`REPLAY`), regime "all"; then the headline rows (``source`` ``"headline"``).
    models : pandas.DataFrame
        One row per model asked for: ``model, counted, scorecard_passed, scorecard_rows, failed``
        (the acceptance rows it fails, or why it was not run).
    window : str
        The real path's first and last day.
    """

    table: pd.DataFrame
    models: pd.DataFrame
    window: str

    def summary(self, strategies=("alvh",), width: int = 100) -> str:
        """Which models counted, then the headline of each claim for each of ``strategies`` with each
        source's verdict, in lines of at most ``width`` characters."""
        import re
        import textwrap

        def short(failed: str) -> str:          # "fails a[x], a[y], b" -> "fails 3 rows (a, b)"
            if not failed.startswith("fails "):
                return failed
            names = failed[6:].split(", ")
            stats_ = list(dict.fromkeys(re.sub(r"\[.*\]$", "", n) for n in names))
            return f"fails {len(names)} acceptance rows: {', '.join(stats_)}"

        m = self.models
        lines = [textwrap.fill(
            "Models counted: " + (", ".join(r.model + ("" if r.failed.startswith("passes") else
                                                       f" (by request; it {short(r.failed)})")
                                            for r in m[m["counted"]].itertuples()) or "none") + ". Not counted: "
            + ("; ".join(f"{r.model} ({short(r.failed)})" for r in m[~m["counted"]].itertuples()) or "none") + ".",
            width=width, subsequent_indent="  ")]
        for strategy in strategies:
            t = self.table[self.table["strategy"] == strategy]
            for claim in sorted(set(t["claim"])):
                c = t[t["claim"] == claim]
                head = c[c["source"] == "headline"]["verdict"].iloc[0]
                votes = ", ".join(f"{r.source}: {r.verdict}" for r in c[(c["source"] != "headline")
                                                                       & c["counted"].astype(bool)].itertuples())
                lines.append(textwrap.fill(f"Claim {claim} ({strategy}): {head.upper()} -- "
                                           + (votes or "no counted source"), width=width, subsequent_indent="  "))
        return "\n".join(lines)


def _variant(scenario, model_type: str):
    """The scenario with ``model.type`` set, validated as a scenario file is."""
    from alvh.batch import _point_text
    from alvh.config import parse_scenario

    if model_type == scenario.model["type"]:
        return scenario
    if scenario.path is None:
        return dataclasses.replace(scenario, name=f"{scenario.name}.{model_type}",
                                   model={**scenario.model, "type": model_type})
    text = _point_text(scenario.path, {"model.type": model_type}, model_type)
    return parse_scenario(text, where=f"{scenario.path} (model.type = {model_type})", path=scenario.path)


def verdicts_across_models(scenario, models=None, n_paths: int | None = None, seed: int | None = None,
                           jobs: int = 1, require_pass: bool = True, replay: bool = True,
                           say=lambda msg: None) -> VerdictsAcross:
    """Run the claim check under each model and on the real path at real prices; combine.

    Parameters
    ----------
    scenario : alvh.config.Scenario
    models : sequence of str, optional
        Model types (:data:`alvh.modelspec.MODEL_TYPES` but ``replay``); default all of them.
    n_paths, seed : int, optional
        Per model; default the scenario's. Every model runs on the same seed.
    jobs : int
        Workers per run.
    require_pass : bool, default True
        Count only the models that pass the acceptance rows (module docstring).
    replay : bool, default True
        Add the real path at real VIX prices (claim 1), first: data it cannot price is said (``say``)
        and the real path left out, before any model runs.
    say : callable
        Progress lines.

    Returns
    -------
    VerdictsAcross

    Raises
    ------
    ValueError
        An unknown model type, or a replay scenario.
    """
    from alvh import runner
    from alvh.api import Result
    from alvh.config import ConfigError
    from alvh.data import DataError
    from alvh.modelspec import MODEL_TYPES
    from alvh.pipeline import analyse_run
    from alvh.scorecard import model_scorecard

    known = [m for m in MODEL_TYPES if m != "replay"]
    models = list(models) if models else known
    bad = [m for m in models if m not in known]
    if bad:
        raise ValueError(f"unknown model type {bad[0]!r}; known: {', '.join(known)}")
    if scenario.model["type"] == "replay":
        raise ValueError("a replay scenario has no model to vary")
    seed = scenario.simulation["seed"] if seed is None else int(seed)
    n_paths = int(n_paths or scenario.simulation["n_paths"])
    window, real_rows = "", []
    if replay:
        try:
            window, real_rows = _replay_rows(scenario, seed, ClaimThresholds(), say)
        except ValueError as exc:     # e.g. a user's data with days the bundled futures lack
            say(f"alvh: warning: no real path at real VIX prices: {exc}")
    rows, status = [], []
    for m in models:
        try:
            sc = _variant(scenario, m)
            say(f"alvh: {m}: calibrating (cached) ...")
            prep = runner.prepare(sc, seed, cache=True)
            card = model_scorecard(m, prep.model)
            fails = acceptance_failures(card)
        except (ConfigError, DataError, ValueError) as exc:
            status.append({"model": m, "counted": False, "scorecard_passed": 0, "scorecard_rows": 0,
                           "failed": f"not run: {str(exc).splitlines()[0]}"})
            continue
        counted = not fails or not require_pass
        status.append({"model": m, "counted": counted, "scorecard_passed": int(card["pass"].astype(bool).sum()),
                       "scorecard_rows": len(card),
                       "failed": ("fails " + ", ".join(fails)) if fails else "passes the acceptance rows"})
        if not counted:
            say(f"alvh: {m}: fails {len(fails)} acceptance rows; not run")
            continue
        say(f"alvh: {m}: {n_paths:,} paths ...")
        try:
            ds = analyse_run(sc, prep, n_paths, seed, jobs=jobs, command="alvh verdicts")
        except (ValueError, RuntimeError, OSError) as exc:   # the other models' results are kept
            status[-1].update(counted=False, failed=f"failed while running: {str(exc).splitlines()[0]}")
            say(f"alvh: warning: {m}: {status[-1]['failed']}")
            continue
        claims = Result(ds, sc, None).claims
        claims = claims[claims["claim_regime"] == "all"]
        for r in claims.itertuples():
            rows.append({"claim": int(r.claim_id), "strategy": r.claim_strategy, "source": m, "counted": counted,
                         "verdict": r.claim_verdict, "value": r.claim_value, "ci_low": r.claim_ci_low,
                         "ci_high": r.claim_ci_high, "units": r.claim_units,
                         "note": f"{r.claim_statistic}; {n_paths:,} paths, seed {seed}"})
    table = pd.DataFrame(rows + real_rows, columns=list(COLUMNS))
    heads = []
    for (claim, strat), g in table.groupby(["claim", "strategy"], sort=True):
        counted = g[g["counted"].astype(bool)]
        # the real path votes only where it can decide (claim 1)
        votes = counted[(counted["source"] != REPLAY) | (counted["claim"] == 1)]["verdict"]
        heads.append({"claim": claim, "strategy": strat, "source": "headline", "counted": True,
                      "verdict": headline(votes), "value": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                      "units": "", "note": f"{len(votes)} counted sources: {CLAIM_TEXTS[claim]}"})
    table = pd.concat([table, pd.DataFrame(heads, columns=list(COLUMNS))], ignore_index=True)
    return VerdictsAcross(table=table, models=pd.DataFrame(status), window=window)


def _replay_rows(scenario, seed, th, say) -> tuple[str, list[dict]]:
    from alvh import runner
    from alvh.marketreplay import SMILE_RULES
    from alvh.realprices import real_price_window

    prep = runner.prepare(scenario, seed, cache=True)
    if real_price_window(prep.data.dates).sum() < 2:
        return "", []
    say(f"alvh: the real path at real VIX prices ({len(SMILE_RULES)} smile rules) ...")
    by_rule = [real_path_summary(prep, None, th, rule) for rule in SMILE_RULES]
    window = by_rule[0]["window"]
    rows = []
    for name in (h.name for h in scenario.hedges):
        first, *others = (r["strategies"][name] for r in by_rule)
        others = ", ".join(f"{rule.name} {c['value']:.2f}" for rule, c in zip(SMILE_RULES[1:], others))
        rows.append({"claim": 1, "strategy": name, "source": REPLAY, "counted": True, "verdict": first["verdict"],
                     "value": first["value"], "ci_low": first["ci_low"], "ci_high": first["ci_high"],
                     "units": "% of capital per year",
                     "note": f"mean net hedge cost of {first['n']} complete years in {window}, t interval; smile "
                             f"'{SMILE_RULES[0].name}' (others: {others}); SPX options at the "
                             f"{prep.model.name} model's prices"})
        for claim, why in ((2, "one path has no -40% day sample"), (3, "the replay does not measure deltas"),
                           (4, f"{first['n']} years hold no 1% tail of annual losses")):
            rows.append({"claim": claim, "strategy": name, "source": REPLAY, "counted": False,
                         "verdict": UNDECIDED, "value": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                         "units": "", "note": why})
    return window, rows


def real_path_summary(prepared, model_replay=None, th: ClaimThresholds = ClaimThresholds(),
                      rule=None) -> dict | None:
    """The real path at real VIX prices for a run's report: claim 1 per hedged strategy.

    Parameters
    ----------
    prepared : alvh.runner.Prepared
    model_replay : alvh.runner.ReplayResult, optional
        The run's model-priced replay; its hedge cost on the same days is reported beside.
    th : ClaimThresholds
    rule : SmileRule, optional
        Default the first of :data:`alvh.marketreplay.SMILE_RULES`.

    Returns
    -------
    dict or None
        ``{"window", "smile", "strategies": {name: {"value", "ci_low", "ci_high", "verdict", "n",
        "model_cost"}}}`` (% of capital a year), or None when the data window has no day with real
        VIX prices.
    """
    from alvh.marketreplay import SMILE_RULES
    from alvh.realprices import real_price_replay, real_price_window

    rule = SMILE_RULES[0] if rule is None else rule
    sel = real_price_window(prepared.data.dates)
    if sel.sum() < 2:
        return None
    real = real_price_replay(prepared, rule)
    cap = prepared.market.capital
    out = {"window": f"{str(real.dates[0])[:10]} .. {str(real.dates[-1])[:10]}", "smile": rule.name,
           "strategies": {}}
    for s, h in enumerate(prepared.scenario.hedges, 1):
        c = replay_claim1(real, s, cap, th)
        model_cost = math.nan
        if model_replay is not None and model_replay.hedge_pnl.shape[1] == sel.size:
            model_cost = float(-100.0 * model_replay.hedge_pnl[s, sel].sum() / cap / ((sel.sum() - 1) / 252.0))
        out["strategies"][h.name] = {"value": c["value"], "ci_low": c["ci_low"], "ci_high": c["ci_high"],
                                     "verdict": c["verdict"], "n": int(c["n"]), "model_cost": model_cost,
                                     "real_cost": float(-100.0 * real.hedge_pnl[s].sum() / cap
                                                        / ((real.hedge_pnl.shape[1] - 1) / 252.0))}
    return out


def run_headlines(claims: pd.DataFrame, model_type: str, fails: list[str] | None, real: dict | None) -> list[dict]:
    """Headlines of one run: its model (counted when it passes the acceptance rows) and the real path.

    Parameters
    ----------
    claims : pandas.DataFrame
        The run's claim rows (``claim_id, claim_strategy, claim_regime, claim_verdict``).
    model_type : str
    fails : list of str or None
        The acceptance rows the model fails (:func:`acceptance_failures`); None when unknown (not
        counted).
    real : dict or None
        :func:`real_path_summary`.

    Returns
    -------
    list of dict
        ``claim, strategy, headline, sources`` (``[{"source", "verdict", "counted"}]``), regime "all".
    """
    counted = fails == []
    out = []
    rows = claims[claims["claim_regime"].astype(str) == "all"]
    for r in rows.itertuples():
        claim, strat = int(r.claim_id), str(r.claim_strategy)
        src = [{"source": model_type, "verdict": str(r.claim_verdict), "counted": counted}]
        if real is not None and claim == 1 and strat in real["strategies"]:
            src.append({"source": REPLAY, "verdict": real["strategies"][strat]["verdict"], "counted": True})
        votes = [s["verdict"] for s in src if s["counted"]]
        out.append({"claim": claim, "strategy": strat, "headline": headline(votes), "sources": src})
    return out
