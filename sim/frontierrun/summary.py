"""The frontier's summary, answers first: what each budget buys, the tie-in with claims 1 and 4, and the
settings (:func:`summary_lines`)."""

from __future__ import annotations

import math

import pandas as pd

from alvh.frontierrun.settings import FrontierSettings


#: The texts' claimed annual cost, % of capital a year (``../shared/ALVH.md``, claim 1).
BAND = (1.0, 2.0)


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
