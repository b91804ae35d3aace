"""Outputs of ``alvh frontier``: ``frontier.nc`` (xarray), ``frontier.csv`` and the report section
``frontier.html`` with the frontier figure (:mod:`alvh.frontierrun`)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["build_dataset", "write_outputs", "netcdf_ready", "frontier_record", "frontier_figure", "frontier_html"]

_UNITS = {"cost": "% of capital per year", "cut": "% of capital", "worst_day_cut": "% of capital",
          "drawdown_cut": "% of capital", "vs_alvh": "% of capital", "cut_rel": "1", "in_sample_cost":
          "% of capital per year", "in_sample_cut": "% of capital", "optimism": "% of capital"}


def _units(name: str) -> str:
    for k, u in _UNITS.items():
        if name == k or name.startswith(k + "_ci") or name.startswith(k + "_se"):
            return u
    return "% of capital" if name.endswith("_cut") else ""


def build_dataset(table: pd.DataFrame, trials: pd.DataFrame, sources: list[dict], st, ident: dict,
                  search_s: float, confirm_s: float, lines: list[str]) -> xr.Dataset:
    """The frontier as one dataset.

    Dimensions ``trial`` (every searched design, its parameters as ``param_*`` coordinates and its
    in-sample numbers), ``budget`` x ``source`` (the confirmed best design of each budget under each
    model and on the real path; its parameters as ``param_*(budget)`` coordinates), and ``reference`` x
    ``source`` (the scenario's own hedges).
    """
    metrics = ["cost", "cost_ci_low", "cost_ci_high", "cut", "cut_ci_low", "cut_ci_high", "cut_rel", "worst_day_cut",
               "drawdown_cut", "vs_alvh", "vs_alvh_ci_low", "vs_alvh_ci_high", "vs_alvh_p", "vs_alvh_p_holm",
               "optimism"]
    src = [s["source"] for s in sources]
    budgets = [float(b) for b in st.budgets]
    refs = list(dict.fromkeys(table.loc[table["kind"] == "reference", "name"]))
    d = table[table["kind"] == "design"]
    r = table[table["kind"] == "reference"]
    data = {}
    for m in metrics:
        a = np.full((len(budgets), len(src)), np.nan)
        b = np.full((len(refs), len(src)), np.nan)
        for row in d.itertuples():
            if row.source in src and row.budget in budgets:
                a[budgets.index(row.budget), src.index(row.source)] = getattr(row, m)
        for row in r.itertuples():
            if row.source in src:
                b[refs.index(row.name), src.index(row.source)] = getattr(row, m)
        data[m] = (("budget", "source"), a, {"units": _units(m)})
        if m != "optimism" and not m.startswith("vs_alvh"):
            data[f"reference_{m}"] = (("reference", "source"), b, {"units": _units(m)})
    first = d.drop_duplicates("budget").set_index("budget")
    best = [int(first.loc[b, "trial"]) if b in first.index else -1 for b in budgets]
    data["best_trial"] = (("budget",), np.array(best, np.int64),
                          {"description": "design number, -1: none within budget"})
    data["trial_pareto"] = (("trial",), trials["pareto"].to_numpy(bool) if len(trials) else np.zeros(0, bool),
                            {"description": "no other searched design costs no more and cuts no less (in sample)"})
    data["robust"] = (("budget",), np.array([bool(first.loc[b, "robust"]) if b in first.index else False
                                              for b in budgets]),
                      {"description": "cut > 0 (95% CI) under every counted source"})
    for m in ("in_sample_cost", "in_sample_cut"):
        data[m] = (("budget",), np.array([float(first.loc[b, m]) if b in first.index else np.nan for b in budgets]),
                   {"units": _units(m)})
    for m in ("cost", "cost_se", "cut", "cut_se", "cut_rel", "worst_day_cut", "worst_day_cut_se", "drawdown_cut",
              "drawdown_cut_se", "seconds"):
        data[f"trial_{m}"] = (("trial",), trials[m].to_numpy(float) if len(trials) else np.zeros(0),
                              {"units": "s" if m == "seconds" else _units(m.replace("_se", ""))})
    coords = {"budget": ("budget", budgets, {"units": "% of capital per year"}), "source": src,
              "reference": refs, "trial": trials["trial"].to_numpy(np.int64) if len(trials) else np.zeros(0, np.int64),
              "counted": ("source", np.array([bool(s["counted"]) for s in sources])),
              "source_note": ("source", np.array([s["note"] for s in sources], dtype=object)),
              "description": ("budget", np.array([str(first.loc[b, "description"]) if b in first.index else ""
                                                  for b in budgets], dtype=object)),
              "trial_description": ("trial", trials["description"].to_numpy(object) if len(trials) else
                                    np.zeros(0, object))}
    by_trial = trials.set_index("trial") if len(trials) else None
    for name in st.space:
        col = f"param_{name}"
        vals = trials[col].to_numpy() if len(trials) else np.zeros(0)
        kind = st.space[name].kind
        coords[col] = ("trial", vals.astype(object) if kind == "choice" else vals.astype(float))
        missing = None if kind == "choice" else np.nan
        bv = [by_trial.loc[t, col] if by_trial is not None and t in by_trial.index else missing for t in best]
        coords[f"best_{col}"] = ("budget", np.array([("" if v is None else str(v)) for v in bv], dtype=object)
                                 if kind == "choice" else np.array(bv, float))
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(title="alvh hedge-design frontier", settings_json=json.dumps(ident, sort_keys=True),
                    budgets=json.dumps(budgets), trials=len(trials), paths=st.n_paths, seed=st.seed,
                    confirm_seed=st.confirm_seed, confirm_paths=st.confirm_paths, search_seconds=search_s,
                    confirm_seconds=confirm_s, optimiser=f"optuna TPESampler(multivariate=True, "
                                                          f"n_startup_trials={st.n_startup}), two objectives",
                    multiple_comparisons="Holm step-down, per source", summary="\n".join(lines))
    return ds


def frontier_figure(table: pd.DataFrame, trials: pd.DataFrame, source: str, main: str) -> str:
    """The frontier figure as a base64 PNG: net cost against CVaR 99 cut, the searched designs, the
    confirmed best per budget with 95% CIs, the references, the claimed 1-2% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alvh.frontierrun import BAND

    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    ax.axvspan(*BAND, color="#f2e6c9", alpha=0.7, label="claimed cost, 1-2%/yr")
    if len(trials):
        ax.scatter(trials["cost"], trials["cut"], s=10, color="#b0b0b0", label="searched designs (in sample)")
        front = trials[trials["pareto"]].sort_values("cost")
        ax.step(front["cost"], front["cut"], where="post", color="#8a8a8a", lw=1, label="in-sample front")
    d = table[(table["kind"] == "design") & (table["source"] == source) & (table["trial"] >= 0)]
    if len(d):
        ax.errorbar(d["cost"], d["cut"], xerr=[d["cost"] - d["cost_ci_low"], d["cost_ci_high"] - d["cost"]],
                    yerr=[d["cut"] - d["cut_ci_low"], d["cut_ci_high"] - d["cut"]], fmt="o", color="#1f5fa8",
                    capsize=3, label="best per budget, confirmed")
        for _, g in d.groupby("trial"):        # one label per design, naming every budget it wins
            ax.annotate(", ".join(f"{b:g}" for b in sorted(g["budget"])) + "%", (g["cost"].iloc[0], g["cut"].iloc[0]),
                        textcoords="offset points", xytext=(5, 5), fontsize=8)
    r = table[(table["kind"] == "reference") & (table["source"] == source)]
    for row in r.itertuples():
        is_main = row.name == main
        ax.errorbar([row.cost], [row.cut], yerr=[[row.cut - row.cut_ci_low], [row.cut_ci_high - row.cut]],
                    fmt="*" if is_main else "s", color="#c0392b" if is_main else "#555555",
                    markersize=12 if is_main else 6,
                    capsize=3)
        ax.annotate(row.name, (row.cost, row.cut), textcoords="offset points", xytext=(5, -10), fontsize=8)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("net cost, % of capital per year")
    ax.set_ylabel("CVaR 99 cut of the horizon loss, % of capital")
    ax.set_title(f"Hedge-design frontier ({source})")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.3f}", border=0, escape=True)


def frontier_html(ds: xr.Dataset, table: pd.DataFrame, trials: pd.DataFrame, lines: list[str], main: str) -> str:
    """The report section: the answers first, the figure, the confirmed frontier, the references, how
    it was searched."""
    src = [s for s, c in zip(ds["source"].values, ds["counted"].values) if c and s != "real path, real VIX prices"]
    source = src[0] if src else str(ds["source"].values[0]) if ds.sizes["source"] else ""
    png = frontier_figure(table, trials, source, main)
    cols = ["budget", "source", "counted", "cost", "cost_ci_low", "cost_ci_high", "cut", "cut_ci_low", "cut_ci_high",
            "in_sample_cut", "optimism", "worst_day_cut", "drawdown_cut", "vs_alvh", "vs_alvh_p_holm", "robust"]
    d = table[table["kind"] == "design"].sort_values(["budget", "source"])
    r = table[table["kind"] == "reference"].sort_values(["name", "source"])
    design_text = d.drop_duplicates("budget")[["budget", "trial", "description"]]
    body = "\n".join(f"<p>{html.escape(x)}</p>" for x in "\n".join(lines).split("\n\n"))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Hedge-design frontier</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}}
table{{border-collapse:collapse;font-size:0.85em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}}
p{{white-space:pre-wrap}}</style></head><body>
<h1>What 1-2% a year buys: the hedge-design frontier</h1>
{body}
<img alt="frontier figure: net cost against CVaR 99 cut" src="data:image/png;base64,{png}">
<h2>The best design of each budget</h2>{_table_html(design_text)}
<h2>Confirmed out of sample</h2>
<p>Net cost in % of capital a year; cuts in % of capital (the horizon loss's CVaR 99 under the models, the
daily loss's CVaR 99 on the real path); vs_alvh: the design's CVaR 99 below the ALVH's on the same paths,
Holm-adjusted p-value per source; optimism: in-sample cut minus confirmed cut.</p>
{_table_html(d[cols])}
<h2>The scenario's own hedges on the same paths</h2>{_table_html(r[["name"] + cols[1:13]])}
<h2>How it was searched</h2><p>{html.escape(ds.attrs["optimiser"])}; {int(ds.attrs["trials"])} designs,
{int(ds.attrs["paths"]):,} paths each (seed {int(ds.attrs["seed"])}); {ds.attrs["search_seconds"] / 60:.1f} min of search,
{ds.attrs["confirm_seconds"] / 60:.1f} min of confirmation.</p>
</body></html>
"""


def netcdf_ready(ds: xr.Dataset) -> xr.Dataset:
    """A copy whose object (string) variables and coordinates are fixed-type strings netCDF stores."""
    out = ds.copy()
    for name in list(out.coords) + list(out.data_vars):
        if out[name].dtype == object:
            out[name] = out[name].astype(str)
    return out


def frontier_record(ds: xr.Dataset, scenario_file: str = "") -> dict:
    """The run's settings, times and summary as a JSON-able dict (``frontier.json``; the docs render it
    beside ``frontier.csv``)."""
    from alvh.bench import machine_info

    m = machine_info()
    a = ds.attrs
    return {"format": "alvh-frontier-summary/1", "scenario_file": scenario_file,
            "settings": json.loads(a["settings_json"]), "budgets": json.loads(a["budgets"]),
            "trials": int(a["trials"]), "paths": int(a["paths"]), "seed": int(a["seed"]),
            "confirm_seed": int(a["confirm_seed"]), "confirm_paths": int(a["confirm_paths"]),
            "search_seconds": float(a["search_seconds"]), "confirm_seconds": float(a["confirm_seconds"]),
            "optimiser": a["optimiser"], "multiple_comparisons": a["multiple_comparisons"], "summary": a["summary"],
            "machine": f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores"}


def write_outputs(out: Path, ds: xr.Dataset, table: pd.DataFrame, trials: pd.DataFrame, lines: list[str],
                  main: str, scenario_file: str = "") -> None:
    """``frontier.nc``, ``frontier.csv``, ``frontier.json`` and ``frontier.html`` in ``out``, each written
    atomically; the marker lists them."""
    from alvh.checkpoint import atomic_write_bytes
    from alvh.frontier import write_json
    from alvh.frontierrun import FRONTIER_ENTRIES
    from alvh.outdir import publish_mode, write_marker
    from alvh.results import write_dataset

    write_dataset(netcdf_ready(ds), out / "frontier.nc")
    params = trials.set_index("trial").filter(like="param_") if len(trials) else pd.DataFrame()
    csv = table.join(params, on="trial") if len(params) else table
    atomic_write_bytes(out / "frontier.csv", csv.to_csv(index=False).encode())
    write_json(out / "frontier.json", frontier_record(ds, scenario_file))
    atomic_write_bytes(out / "frontier.html", frontier_html(ds, table, trials, lines, main).encode())
    write_marker(out, "frontier", files=[e for e in FRONTIER_ENTRIES if (out / e).exists()])
    publish_mode(out)
