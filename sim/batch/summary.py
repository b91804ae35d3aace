"""The summary of a batch: a long table of every point and strategy (``summary.csv``) and one HTML
page comparing the points, with a dot plot per summary metric (``summary.html``)."""

from __future__ import annotations

import html
import json

import numpy as np
import xarray as xr

#: Metrics of the summary (labels and units come from the results).
SUMMARY_METRICS = ("cost_median", "cvar99_annual_reduction", "cvar99_daily_reduction", "pnl_mean", "hedge_efficiency")


def summary_table(ds: xr.Dataset):
    """Long table of the batch: one row per point and strategy.

    Columns: the point's coordinates (``scenario`` and each grid dimension), ``point``, ``status``,
    ``n_paths``, ``strategy``; for each of :data:`SUMMARY_METRICS` present, "LABEL (UNITS)" with the
    estimate and "LABEL (UNITS) CI" with its 95% interval as text; "claim N [regime]" with the verdict.
    A failed point has one row with ``error`` instead. Returns a pandas DataFrame.
    """
    import pandas as pd

    grid_dims = [d for d in ds.point_status.dims]
    rows = []
    for idx in np.ndindex(ds.point_status.shape):
        sel = dict(zip(grid_dims, idx))
        pt = ds.isel(sel)
        base = {d: (pt[d].values.item() if d in pt.coords else None) for d in grid_dims}
        base.update({"point": str(pt.point_name.values), "status": str(pt.point_status.values),
                     "n_paths": int(pt.n_paths.values)})
        if base["status"] != "complete":
            rows.append({**base, "error": str(pt.point_error.values)})
            continue
        for s in ds.strategy.values:
            row = dict(base, strategy=str(s))
            for key in SUMMARY_METRICS:
                if key in ds.metric.values:
                    m = ds.sel(metric=key)
                    label = f"{m.metric_label.values.item()} ({m.metric_units.values.item()})"
                    v = pt.metric_value.sel(strategy=s, metric=key).values.item()
                    lo = pt.metric_ci_low.sel(strategy=s, metric=key).values.item()
                    hi = pt.metric_ci_high.sel(strategy=s, metric=key).values.item()
                    row[label] = v
                    row[f"{label} CI"] = "" if np.isnan(lo) else f"{lo:.3g} to {hi:.3g}"
            for c in ds.claim.values:
                n, strat, regime = str(c).split("|")
                if strat == str(s):
                    row[f"claim {n} [{regime}]"] = str(pt.claim_verdict.sel(claim=c).values)
            rows.append(row)
    return pd.DataFrame(rows)


def _figure(ds: xr.Dataset, key: str) -> str | None:
    """A dot plot of one metric with its 95% CI: one row per complete point, one colour per hedge
    (the budget-sweep copies left out); an inline PNG (base64), or None if the metric is absent."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if key not in ds.metric.values:
        return None
    m = ds.sel(metric=key)
    flat = ds.point_status.values.ravel()
    names = ds.point_name.values.ravel()
    rows = [i for i, st in enumerate(flat) if st == "complete"]
    strategies = [str(s) for s in ds.strategy.values if s != "unhedged" and "_budget_" not in str(s)]
    if not rows or not strategies:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) * max(1, len(strategies)) ** 0.5 + 1.5))
    for j, s in enumerate(strategies):
        v = m.metric_value.sel(strategy=s).values.ravel()[rows]
        lo = m.metric_ci_low.sel(strategy=s).values.ravel()[rows]
        hi = m.metric_ci_high.sel(strategy=s).values.ravel()[rows]
        y = np.arange(len(rows)) + (j - (len(strategies) - 1) / 2) * 0.8 / max(len(strategies), 1)
        err = np.vstack([np.where(np.isnan(lo), 0, v - lo), np.where(np.isnan(hi), 0, hi - v)])
        ax.errorbar(v, y, xerr=err, fmt="o", ms=4, capsize=2, label=s)
    ax.set_yticks(np.arange(len(rows)), [str(names[i]) for i in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"{m.metric_label.values.item()} ({m.metric_units.values.item()})")
    if key == "cost_median":
        ax.axvspan(1.0, 2.0, color="0.9", zorder=0, label="claimed 1-2%/yr")
    ax.axvline(0.0, color="0.5", lw=0.8)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def summary_html(ds: xr.Dataset) -> str:
    """One HTML page comparing the points of a batch (status, summary metrics with CIs, verdicts)."""
    table = summary_table(ds)
    n = int(ds.point_status.size)
    ok = int((ds.point_status.values == "complete").sum())
    grid = json.loads(ds.attrs.get("grid_keys_json", "{}"))
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(ds.attrs['title'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:90%}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}"
        ".failed{color:#a00}.refuted{color:#a00}.supported{color:#070}</style></head><body>",
        f"<h1>{esc(ds.attrs['title'])}</h1>",
        f"<p>{ok} of {n} point(s) complete. Created {esc(ds.attrs['created'])}. Command: "
        f"<code>{esc(ds.attrs.get('command', ''))}</code></p>",
    ]
    if grid:
        parts.append("<p>Grid: " + "; ".join(f"<b>{esc(d)}</b> = <code>{esc(k)}</code> over "
                                              f"{esc(', '.join(map(str, ds[d].values.tolist())))}"
                                              for d, k in grid.items()) + "</p>")
    failed = table[table["status"] != "complete"] if "status" in table else table.iloc[0:0]
    if len(failed):
        parts.append("<h2>Failed points</h2><ul>" + "".join(
            f"<li class='failed'><b>{esc(r.point)}</b>: {esc(str(r.error))}</li>" for r in failed.itertuples()) + "</ul>")
    done = table[table["status"] == "complete"]
    for key in ("cost_median", "cvar99_annual_reduction"):
        png = _figure(ds, key) if len(done) else None
        if png:
            parts.append(f"<h2>{esc(str(ds.sel(metric=key).metric_label.values.item()))}, every point</h2>"
                         f"<img alt='{esc(key)} per point' src='data:image/png;base64,{png}'>")
    if len(done):
        parts.append("<h2>Every point and strategy</h2><p>Metrics as in each point's report (95% CIs); "
                     "claim verdicts per strategy. Each point's own report is in <code>points/NAME/report.html</code>."
                     "</p>")
        shown = done.drop(columns=[c for c in ("status", "error") if c in done])
        head = "".join(f"<th>{esc(str(c))}</th>" for c in shown.columns)
        body = []
        for r in shown.itertuples(index=False):
            cells = []
            for v in r:
                text = f"{v:.3f}" if isinstance(v, float) else esc(str(v))
                cls = f" class='{esc(str(v).split()[0])}'" if str(v) in ("refuted", "supported") else ""
                cells.append(f"<td{cls}>{text}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        parts.append(f"<table><tr>{head}</tr>{''.join(body)}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
