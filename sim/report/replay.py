"""The historical-replay section of the report: its tables and figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from alvh.report.common import (COST_BAND, DETAIL_DATE, LEGS, _annual_pnl_pct, _capital, _f2, _has_replay,  # noqa: E402
                                _json_attr, _png, _strategies)
from alvh.report.tables import _replay_frame  # noqa: E402


def _fig_replay_dist(ds: xr.Dataset) -> str | None:
    strats = [s for s in _strategies(ds) if s.kind != "sweep"]
    if "pnl" not in ds or not strats:
        return None
    ann = _annual_pnl_pct(ds)
    years = [int(y) for y in ds["replay_year"].values]
    has_cost = "hedge_cost_annual_pct" in ds and "replay_hedge_cost_pct" in ds
    fig, axes = plt.subplots(1, 2 if has_cost else 1, figsize=(12, 4.0), squeeze=False)
    pal = sns.color_palette("tab10", len(years))
    markers = "oDs^v<>Ph*X"
    panels = [(axes[0, 0], strats, ann, ds["replay_pnl_pct"].values, "annual P&L (% of capital per year)",
               "calendar-year P&L (% of capital)")]
    if has_cost:
        hedges = [s for s in strats if s.kind != "unhedged" and s.index != 0]
        panels.append((axes[0, 1], hedges, ds["hedge_cost_annual_pct"].values, ds["replay_hedge_cost_pct"].values,
                       "net annual hedge cost (% of capital per year)", "calendar-year cost (% of capital)"))
    for ax, ss, mc, rp, ylab, what in panels:
        if not ss:
            ax.set_visible(False)
            continue
        ax.boxplot([mc[s.index][np.isfinite(mc[s.index])] for s in ss], positions=np.arange(len(ss)),
                   whis=(1, 99), showfliers=False, widths=0.5, patch_artist=True,
                   boxprops={"facecolor": "0.88"}, medianprops={"color": "k"})
        ax.set_xticks(np.arange(len(ss)), [s.label for s in ss])
        for t, (year, c) in enumerate(zip(years, pal)):
            ax.scatter(np.arange(len(ss)) + (t - (len(years) - 1) / 2) * 0.06, [rp[s.index, t] for s in ss],
                       color=c, marker=markers[t % len(markers)], s=30, zorder=3, label=f"replay {year}")
        if "cost" in ylab:
            ax.axhspan(*COST_BAND, color="tab:green", alpha=0.12)
        ax.set_xlabel("")
        ax.set_ylabel(ylab)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        ax.set_title(f"Monte Carlo (box 25-75%, whiskers 1-99%) and the replay's {what}", fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _fig_replay_cum(ds: xr.Dataset, detail_date: str) -> str | None:
    if "replay_cum_pnl" not in ds or "replay_day" not in ds.dims:
        return None
    dates = pd.to_datetime([str(d) for d in ds["replay_day"].values])
    has_vix = "replay_vix" in ds
    fig, axes = plt.subplots(2 if has_vix else 1, 1, figsize=(11, 5.2 if has_vix else 3.8), sharex=True,
                             squeeze=False, gridspec_kw={"height_ratios": [3, 1]} if has_vix else None)
    ax = axes[0, 0]
    cum = ds["replay_cum_pnl"].values / _capital(ds) * 100.0
    for s in _strategies(ds):
        if s.kind == "sweep":
            ax.plot(dates, cum[s.index], color="0.7", lw=0.6)
        else:
            ax.plot(dates, cum[s.index], lw=1.3, label=s.label)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("cumulative P&L (% of capital)")
    ax.legend(fontsize=7)
    ax.set_title("Historical replay: cumulative P&L (grey: budget-sweep variants)", fontsize=9)
    try:
        d = pd.Timestamp(detail_date)
        for a in axes[:, 0]:
            a.axvline(d, color="tab:red", ls=":", lw=1)
    except (ValueError, TypeError):
        pass
    if has_vix:
        axes[1, 0].plot(dates, ds["replay_vix"].values, color="tab:red", lw=1)
        axes[1, 0].set_ylabel("VIX (points)")
    fig.tight_layout()
    return _png(fig)


def _replay_section(ds: xr.Dataset) -> dict | None:
    if not _has_replay(ds):
        return None
    strats = _strategies(ds)
    df = _replay_frame(ds)
    years = [int(y) for y in ds["replay_year"].values]
    shown = [s for s in strats if s.kind != "sweep"]
    by_year = []
    for s in shown:
        g = df[df["strategy"] == s.name].set_index("year")
        hedged = s.kind != "unhedged" and s.index != 0
        by_year.append({"strategy": s.label, "hedged": hedged,
                        "pnl": [_f2(g.loc[y, "pnl_pct"]) for y in years],
                        "pnl_below": [_f2(100 * g.loc[y, "mc_share_pnl_below"]) for y in years],
                        "cost": [_f2(g.loc[y, "hedge_cost_pct"]) for y in years],
                        "cost_below": [_f2(100 * g.loc[y, "mc_share_cost_below"]) for y in years]})
    raw = _json_attr(ds, "replay_detail_json", None)
    detail = None
    date = DETAIL_DATE
    if isinstance(raw, dict) and raw:
        date = str(raw.get("date", DETAIL_DATE))
        labels = {s.name: s.label for s in strats}
        pnl = raw.get("pnl_pct", {}) or {}
        lay = raw.get("layer_pnl_pct", {}) or {}
        n_layers = max([len(v) for v in lay.values()] + [0])
        rows = []
        for name in [s.name for s in strats if s.kind != "sweep"] + [n for n in pnl if n not in labels]:
            if name not in pnl and name not in lay:
                continue
            layers = list(lay.get(name, []))
            rows.append({"strategy": labels.get(name, name), "pnl": _f2(pnl.get(name, np.nan)),
                         "layers": [_f2(layers[j]) if j < len(layers) else "-" for j in range(n_layers)]})
        legs = raw.get("condor_leg_pnl_pct", []) or []
        detail = {
            "date": date, "spx": _f2(raw.get("spx_return_pct", np.nan)),
            "vix_prev": _f2(raw.get("vix_prev", np.nan)), "vix": _f2(raw.get("vix", np.nan)),
            "rows": rows, "n_layers": n_layers,
            "legs": [{"leg": LEGS[j].replace("_", " ") if j < len(LEGS) else f"leg {j + 1}", "pnl": _f2(v)}
                     for j, v in enumerate(legs)],
            "legs_total": _f2(float(np.nansum(np.asarray(legs, dtype=float)))) if legs else "n/a",
        }
    first = str(ds["replay_day"].values[0]) if "replay_day" in ds.dims and ds.sizes["replay_day"] else ""
    last = str(ds["replay_day"].values[-1]) if "replay_day" in ds.dims and ds.sizes["replay_day"] else ""
    return {"years": years, "by_year": by_year, "fig_dist": _fig_replay_dist(ds), "fig_cum": _fig_replay_cum(ds, date),
            "detail": detail, "detail_date": date, "first": first, "last": last}
