"""The answers: the headline lines, the verdicts across sources, the claim-1 sentence and the
claim table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from alvh.report.common import (COST_BAND, _PCT_YR, _Strategy, _cost_median, _est_text, _f2, _fmt, _json_attr,
                                _main, _metric, _metric_units, _strategies, _unhedged)
from alvh.report.tables import _claims_frame


def _headline(ds: xr.Dataset) -> list[str]:
    strats = _strategies(ds)
    main = _main(ds, strats)
    if main is None:
        return ["No hedged strategy in this run: no headline."]
    return [
        *_verdict_lines(ds, main),
        *([str(ds.attrs["frontier_line"])] if ds.attrs.get("frontier_line") else []),
        *_key_numbers(ds, main),
    ]


def _key_numbers(ds: xr.Dataset, main: _Strategy) -> list[str]:
    """The main hedge's median cost, its share of paths in the claimed band, and the CVaR 99 of the
    annual loss unhedged and hedged with the paired cut, each with its 95% CI."""
    u = _unhedged(_strategies(ds))
    cost = _metric(ds, main.name, "cost_median")
    share = _metric(ds, main.name, "cost_share_1_2")
    cu = _metric(ds, u.name, "cvar99_annual") if u is not None else None
    ch = _metric(ds, main.name, "cvar99_annual")
    red = _metric(ds, main.name, "cvar99_annual_reduction")
    cost_u = _metric_units(ds, "cost_median", _PCT_YR)
    cvar_u = _metric_units(ds, "cvar99_annual", "% of capital")
    red_u = _metric_units(ds, "cvar99_annual_reduction", "% of capital")
    lo, hi = COST_BAND
    return [
        f"Main hedge: {main.label}. Median annual net hedge cost: {_est_text(cost, cost_u)}.",
        f"Share of paths whose annual net hedge cost lies in the claimed {lo:g}-{hi:g}% band: "
        f"{_est_text(share, _metric_units(ds, 'cost_share_1_2', '1'), as_share=True)}.",
        f"CVaR 99% of the annual loss: {_est_text(cu, cvar_u)} unhedged vs {_est_text(ch, cvar_u)} hedged; "
        f"paired reduction {_est_text(red, red_u)}.",
    ]


def _verdict_lines(ds: xr.Dataset, main: _Strategy) -> list[str]:
    """The main hedge's headline per claim across sources (:func:`alvh.verdicts.run_headlines`): the
    run's model, counted when it passes the scorecard's acceptance rows, and the real path at real VIX
    prices (claim 1)."""
    raw = _json_attr(ds, "verdicts_json", None)
    if not isinstance(raw, dict) or not raw.get("headlines"):
        return []
    model, fails, real = raw.get("model", "model"), raw.get("acceptance_fails"), raw.get("real")
    who = (f"the {model} model (it passes the scorecard's acceptance rows)" if fails == [] else
           f"the {model} model, not counted (it fails {len(fails)} of the scorecard's acceptance rows)"
           if fails else f"the {model} model, not counted (no scorecard)")
    where = (f"; the real path {real['window']} with the VIX layers at real prices (smile '{real['smile']}'), "
             "claim 1 only" if isinstance(real, dict) else "; no real path at real VIX prices in the data window")
    lines = [f"Verdicts across sources, {main.label}: a claim is supported or refuted only when every counted "
             f"source says so. Sources: {who}{where}."]
    for h in sorted((h for h in raw["headlines"] if h.get("strategy") == main.name), key=lambda h: h["claim"]):
        parts = []
        for src in h.get("sources", []):
            text = f"{src['source']}: {src['verdict']}" + ("" if src.get("counted") else " (not counted)")
            if src["source"] != model and isinstance(real, dict) and main.name in real.get("strategies", {}):
                r = real["strategies"][main.name]
                text += (f", {_f2(r['value'])} {_PCT_YR} (mean of {r['n']} complete years, 95% CI "
                         f"{_f2(r['ci_low'])} to {_f2(r['ci_high'])}; over the whole window {_f2(r['real_cost'])} a "
                         f"year at real VIX prices, {_f2(r['model_cost'])} at the model's)")
            parts.append(text)
        none = "" if any(src.get("counted") for src in h.get("sources", [])) else " (no counted source)"
        lines.append(f"  claim {h['claim']}: {str(h['headline']).upper()}{none} - " + "; ".join(parts))
    return lines


def _verdicts_table(ds: xr.Dataset) -> list[dict]:
    """Rows of the report's "Verdicts across sources" table: per hedged strategy (sweeps left out) and
    claim, the headline, the model's verdict and the real path's (claim 1), from ``verdicts_json``."""
    raw = _json_attr(ds, "verdicts_json", None)
    if not isinstance(raw, dict) or not raw.get("headlines"):
        return []
    strats = {s.name: s for s in _strategies(ds)}
    real = raw.get("real") if isinstance(raw.get("real"), dict) else {}
    rows = []
    for h in sorted(raw["headlines"], key=lambda h: (list(strats).index(h["strategy"]) if h["strategy"] in strats
                                                     else len(strats), h["claim"])):
        s = strats.get(h["strategy"])
        if s is not None and s.kind == "sweep":
            continue
        src = {x["source"]: x for x in h.get("sources", [])}
        model = src.get(raw.get("model"), {})
        rp = next((x for k, x in src.items() if k != raw.get("model")), None)
        r = (real.get("strategies") or {}).get(h["strategy"]) if rp is not None else None
        rows.append({
            "strategy": s.label if s is not None else h["strategy"], "claim": h["claim"],
            "headline": h["headline"], "css": "v-" + str(h["headline"]).replace(" ", "-"),
            "model": str(model.get("verdict", "")) + ("" if model.get("counted", False) else " (not counted)"),
            "real": "-" if rp is None else (f"{rp['verdict']}, {_f2(r['value'])} ({_f2(r['ci_low'])} to "
                                            f"{_f2(r['ci_high'])}) {_PCT_YR}" if r else str(rp["verdict"])),
        })
    return rows


def _claim1_sentence(ds: xr.Dataset, sweep: pd.DataFrame) -> str:
    strats = _strategies(ds)
    main = _main(ds, strats)
    if main is None:
        return "No hedged strategy in this run."
    med = _cost_median(ds, main)
    lo, hi = COST_BAND
    scen = ds.attrs.get("scenario", "this scenario")
    budget = f" at its budget of {_f2(main.budget)} {_PCT_YR}" if np.isfinite(main.budget) else ""
    text = (f"In scenario '{scen}' the main hedge ({main.label}) has a median annual net hedge cost of "
            f"{_est_text(med, _PCT_YR)}{budget}.")
    n_sweep = int((sweep["kind"] == "sweep").sum()) if len(sweep) else 0
    if n_sweep == 0:
        return text + (" No budget sweep was run (no strategy of kind \"sweep\"), so how the cost changes "
                       "with the hedge budget is not measured here.")
    sw = sweep[np.isfinite(sweep["budget_pct_per_year"].astype(float))]
    if len(sw) < 2:
        return text + " The budget sweep has fewer than two budgets with a known value; no trend can be given."
    first, last = sw.iloc[0], sw.iloc[-1]

    def point(r) -> str:
        return (f"{_f2(r['cost_median'])} {_PCT_YR} (95% CI {_f2(r['cost_median_ci_low'])} to "
                f"{_f2(r['cost_median_ci_high'])}) at a budget of {_f2(r['budget_pct_per_year'])} {_PCT_YR}")

    inside = sw[(sw["cost_median_ci_low"] >= lo) & (sw["cost_median_ci_high"] <= hi)]
    where = (", ".join(_f2(b) for b in inside["budget_pct_per_year"]) + f" {_PCT_YR}" if len(inside)
             else "none of the budgets tried")
    return text + (f" Across {len(sw)} budgets (sweep and main hedge) the median cost goes from {point(first)} "
                   f"to {point(last)}. Budgets whose whole 95% CI lies inside the {lo:g}-{hi:g}% band: "
                   f"{where}.")


def _claim_short(text: str) -> str:
    """A claim's text without its quotation and final stop: "The hedge costs 1-2% a year"."""
    return text.split(" (")[0].strip().rstrip(".")


def _why(note: str) -> str:
    """Why a claim row is not decidable, in a short sentence: the note's first clause when it gives
    the reason (too few qualifying paths or path-days, or a fallback rule), else the 95% CI
    straddling the threshold (the verdict rule's only other way to be undecided)."""
    first = str(note or "").split(";")[0].strip()
    if first.startswith(("only ", "FALLBACK")):
        return first
    return "its 95% CI straddles the threshold"


def claim_answers(ds: xr.Dataset) -> list[dict]:
    """One plain sentence per claim on the main hedge over all paths: the verdict, the number and its
    95% CI, the rule, and the reason when the claim is not decidable.

    Where the run carries verdicts across sources (``verdicts_json``), the verdict is their headline
    (a claim is supported or refuted only when every counted source says so) and the sentence names
    each source's verdict.

    Parameters
    ----------
    ds : xarray.Dataset
        The results Dataset.

    Returns
    -------
    list of dict
        ``{"id", "verdict", "css", "sentence"}`` per claim, in claim order; empty without claim rows.
    """
    strats = _strategies(ds)
    main = _main(ds, strats)
    df = _claims_frame(ds)
    if main is None or df.empty or "claim_strategy" not in df:
        return []
    mine = df[(df["claim_strategy"].astype(str) == main.name) & (df["claim_regime"].astype(str) == "all")]
    raw = _json_attr(ds, "verdicts_json", None)
    heads = {int(h["claim"]): h for h in (raw.get("headlines", []) if isinstance(raw, dict) else [])
             if h.get("strategy") == main.name}
    out = []
    for _, r in mine.sort_values("claim_id").iterrows():
        cid = int(r["claim_id"])
        model_verdict = str(r["claim_verdict"])
        units = str(r.get("claim_units", ""))
        units = "" if units in ("", "1") else f" {units}"
        head = heads.get(cid)
        verdict = str(head["headline"]) if head else model_verdict
        text = (f"Claim {cid}, \u201c{_claim_short(str(r.get('claim_text', '')))}\u201d: {verdict.upper()}. "
                f"For {main.label}, the {r.get('claim_statistic', '')} is {_fmt(r.get('claim_value'))}{units} "
                f"(95% CI {_fmt(r.get('claim_ci_low'))} to {_fmt(r.get('claim_ci_high'))}) on the model; "
                f"rule: {r.get('claim_threshold', '')}.")
        if model_verdict == "not decidable":
            text += f" The model's check is not decidable: {_why(r.get('claim_note', ''))}."
        if head and head.get("sources"):
            text += " " + _sources_sentence(raw, head, main.name, verdict, model_verdict)
        out.append({"id": cid, "verdict": verdict, "css": "v-" + verdict.replace(" ", "-"), "sentence": text})
    return out


def _sources_sentence(raw: dict, head: dict, strategy: str, verdict: str, model_verdict: str) -> str:
    """Each source's verdict on one claim (``verdicts_json``), the real path's value with its CI, and
    why the headline differs from the model's own verdict when it does."""
    real = raw.get("real") if isinstance(raw.get("real"), dict) else {}
    parts = []
    for src in head["sources"]:
        text = f"{src['source']} {src['verdict']}" + ("" if src.get("counted") else " (not counted)")
        r = (real.get("strategies") or {}).get(strategy) if src["source"] != raw.get("model") else None
        if r:
            text += (f", {_f2(r['value'])} {_PCT_YR} (mean of {r['n']} complete years at real VIX prices, "
                     f"95% CI {_f2(r['ci_low'])} to {_f2(r['ci_high'])})")
        parts.append(text)
    out = "Sources: " + "; ".join(parts) + "."
    if verdict != model_verdict:
        counted = [src for src in head["sources"] if src.get("counted")]
        fails = raw.get("acceptance_fails")
        if not counted:
            out += (" No source is counted" + (f" (the model fails {len(fails)} of the scorecard's acceptance rows)"
                                               if fails else "") + ", so the claim is not decided.")
        else:
            out += " The counted sources do not agree, so the claim is not decided."
    return out


def claim_grid(ds: xr.Dataset, *, sweep: bool = False) -> dict:
    """The claim check as one table: a row per strategy and regime, a column per claim.

    Parameters
    ----------
    ds : xarray.Dataset
        The results Dataset.
    sweep : bool
        False: every strategy but the budget-sweep variants, every regime. True: the main hedge and
        the sweep variants, regime "all" (the budget sweep's own section).

    Returns
    -------
    dict
        ``{"claims": [{"id", "text", "statistic", "threshold"}], "rows": [{"strategy", "regime",
        "cells": [{"verdict", "css", "value", "ci", "n", "note", "why"} or None]}]}``; ``rows`` is
        empty without claim rows. ``why`` (:func:`_why`) is given only where the claim is not decidable.
    """
    df = _claims_frame(ds)
    strats = _strategies(ds)
    main = _main(ds, strats)
    if df.empty or "claim_strategy" not in df:
        return {"claims": [], "rows": []}
    keep = (sorted((s for s in strats if s.kind == "sweep" or (main is not None and s.name == main.name)),
                   key=lambda s: (s.budget if np.isfinite(s.budget) else np.inf, s.index)) if sweep
            else [s for s in strats if s.kind != "sweep"])
    if sweep and not any(s.kind == "sweep" for s in keep):
        return {"claims": [], "rows": []}
    ids = sorted({int(c) for c in df["claim_id"]})
    claims = []
    for cid in ids:
        g = df[df["claim_id"] == cid]
        first = g[g["claim_regime"].astype(str) == "all"]
        first = first if len(first) else g
        claims.append({"id": cid, "text": _claim_short(str(first["claim_text"].iloc[0])),
                       "statistic": str(first["claim_statistic"].iloc[0]),
                       "threshold": str(first["claim_threshold"].iloc[0])})
    regimes = list(dict.fromkeys(df["claim_regime"].astype(str)))
    rows = []
    for s in keep:
        for reg in (["all"] if sweep else regimes):
            sel = df[(df["claim_strategy"].astype(str) == s.name) & (df["claim_regime"].astype(str) == reg)]
            if sel.empty:
                continue
            cells = []
            for cid in ids:
                r = sel[sel["claim_id"] == cid]
                if r.empty:
                    cells.append(None)
                    continue
                r = r.iloc[0]
                verdict = str(r["claim_verdict"])
                units = str(r.get("claim_units", ""))
                n = r.get("claim_n", np.nan)
                cells.append({"verdict": verdict, "css": "v-" + verdict.replace(" ", "-"),
                              "value": f"{_fmt(r.get('claim_value'))} {'' if units in ('', '1') else units}".strip(),
                              "ci": f"[{_fmt(r.get('claim_ci_low'))}, {_fmt(r.get('claim_ci_high'))}]",
                              "n": f"{int(n):,}" if pd.notna(n) else "n/a", "note": str(r.get("claim_note", "")),
                              "why": _why(r.get("claim_note", "")) if verdict == "not decidable" else ""})
            rows.append({"strategy": s.label, "regime": reg, "cells": cells})
    return {"claims": claims, "rows": rows}
