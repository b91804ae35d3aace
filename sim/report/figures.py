"""The Monte Carlo figures of the report (seaborn/matplotlib PNGs inlined as ``data:`` URIs)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from alvh import metrics as mx  # noqa: E402
from alvh.claims import ClaimThresholds  # noqa: E402
from alvh.strategy import VIX_THRESHOLD  # noqa: E402
from alvh.report.common import (COST_BAND, LEGS, _annual_cvar, _annual_pnl_pct, _capital, _hedges, _main,  # noqa: E402
                                _mean_est, _metric, _png, _stored_est, _strategies, _unhedged, _years)


def _grid(n: int, w: float = 4.2, h: float = 3.2, ncols: int = 3):
    cols = max(1, min(ncols, n))
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _fig_fan(ds: xr.Dataset) -> str | None:
    if "sample_spx" not in ds or ds.sizes.get("sample", 0) == 0:
        return None
    years = ds["time"].values if "time" in ds.coords else ds["day"].values
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, var, label, color in (
        (axes[0], "sample_spx", "SPX (index points)", "tab:blue"),
        (axes[1], "sample_vix", "model VIX (VIX points)", "tab:red"),
    ):
        if var not in ds:
            ax.set_visible(False)
            continue
        x = ds[var].values
        q = np.nanquantile(x, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ax.fill_between(years, q[0], q[4], color=color, alpha=0.15, label="5-95%")
        ax.fill_between(years, q[1], q[3], color=color, alpha=0.35, label="25-75%")
        ax.plot(years, q[2], color=color, lw=1.5, label="median")
        for i in range(min(3, x.shape[0])):
            ax.plot(years, x[i], color="0.3", lw=0.5, alpha=0.7)
        ax.set_xlabel("time (years)")
        ax.set_ylabel(label)
        ax.legend(loc="upper left", fontsize=8)
    axes[1].axhline(VIX_THRESHOLD, color="k", ls=":", lw=1)
    fig.suptitle(f"Fan chart over {ds.sizes['sample']} sample paths (P-measure)", fontsize=10)
    return _png(fig)


def _fig_pnl(ds: xr.Dataset) -> str | None:
    strats = _strategies(ds)
    u, hedges = _unhedged(strats), _hedges(strats)
    if u is None or not hedges or "pnl" not in ds:
        return None
    ann = _annual_pnl_pct(ds)
    fig, axes = _grid(len(hedges) + 1)
    lo, hi = np.nanmin(ann[[u.index] + [s.index for s in hedges]]), np.nanmax(ann[[u.index] + [s.index for s in hedges]])
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 60)
    for ax, s in zip(axes, hedges):
        sns.histplot(ann[u.index], bins=bins, stat="density", element="step", fill=False, ax=ax,
                     color="0.35", label=u.label)
        sns.histplot(ann[s.index], bins=bins, stat="density", element="step", fill=True, alpha=0.25, ax=ax,
                     color="tab:blue", label=s.label)
        ax.set_xlabel("annual P&L (% of capital per year)")
        ax.set_ylabel("density (per %/yr)")
        ax.set_title(s.label, fontsize=9)
        ax.legend(fontsize=7)
    ax = axes[-1]
    cut = np.quantile(ann[u.index], 0.05)
    tail = ann[u.index] <= cut
    for s in [u] + hedges:
        sns.ecdfplot(ann[s.index][tail], ax=ax, label=s.label)
    ax.set_xlabel("annual P&L (% of capital per year)")
    ax.set_ylabel("share of tail paths (1)")
    ax.set_title(f"paths in the unhedged worst 5% ({int(tail.sum())} paths)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.suptitle("Hedged vs unhedged annual P&L on the same paths", fontsize=10, y=1.02)
    return _png(fig)


def _fig_cost(ds: xr.Dataset) -> str | None:
    hedges = _hedges(_strategies(ds))
    if not hedges or "hedge_cost_annual_pct" not in ds:
        return None
    c = ds["hedge_cost_annual_pct"].values
    fig, axes = _grid(len(hedges))
    for ax, s in zip(axes, hedges):
        x = c[s.index]
        ax.axvspan(*COST_BAND, color="tab:green", alpha=0.15, label=f"claimed {COST_BAND[0]:g}-{COST_BAND[1]:g}% band")
        sns.histplot(x, bins=40, ax=ax, color="tab:purple")
        med = float(np.median(x))
        ax.axvline(med, color="k", ls="--", lw=1, label=f"median {med:.2f}%")
        ax.set_xlabel("net annual hedge cost (% of capital per year)")
        ax.set_ylabel("paths (count)")
        ax.set_title(s.label, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _errbar(ax, x, est: list[mx.Estimate | None], **kw):
    v = np.array([e.value if e else np.nan for e in est])
    lo = np.array([e.ci_low if e else np.nan for e in est])
    hi = np.array([e.ci_high if e else np.nan for e in est])
    yerr = np.vstack([np.where(np.isfinite(lo), v - lo, 0.0), np.where(np.isfinite(hi), hi - v, 0.0)])
    return ax.bar(x, np.nan_to_num(v), yerr=np.maximum(yerr, 0.0), capsize=3, **kw)


def _fig_cvar(ds: xr.Dataset) -> str | None:
    strats = _strategies(ds)
    if not strats or "pnl" not in ds:
        return None
    x = np.arange(len(strats))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(strats) + 2), 3.8))
    for off, lv, color in ((-0.2, 95, "tab:orange"), (0.2, 99, "tab:red")):
        _errbar(ax, x + off, [_annual_cvar(ds, s, lv) for s in strats], width=0.4, color=color,
                label=f"CVaR {lv}%")
    ax.set_xticks(x, [s.label for s in strats], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("CVaR of the annual loss (% of capital)")
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(fontsize=8)
    ax.set_title("Expected shortfall of the annual loss, 95% CI error bars", fontsize=10)
    return _png(fig)


def _attribution(ds: xr.Dataset) -> tuple[list[dict], list[dict], list[str]]:
    """Rows of mean P&L per layer per hedge and per condor leg, % of capital per year.

    From the dataset's attribution over all paths (``layer_pnl_mean`` and the rest) where present,
    else from its per-path variables (datasets written before those were added).
    """
    scale = 100.0 / _capital(ds) / _years(ds)
    layers = [int(x) for x in ds["layer"].values] if "layer" in ds.coords else []
    layer_rows = []
    if all(v in ds for v in ("layer_pnl_mean", "hedge_book_pnl_mean", "condor_leg_pnl_mean")):
        m, se = ds["layer_pnl_mean"].values, ds["layer_pnl_se"].values
        for s in _hedges(_strategies(ds), sweep=False):
            ests = [_stored_est(m[s.index, j], se[s.index, j], scale, layer=True) for j in range(m.shape[1])]
            total = _stored_est(ds["hedge_book_pnl_mean"].values[s.index], ds["hedge_book_pnl_se"].values[s.index],
                                scale)
            layer_rows.append({"strategy": s.label, "est": ests, "total": total})
        legs = [str(x) for x in ds["leg"].values] if "leg" in ds.coords else list(LEGS)
        lm, lse = ds["condor_leg_pnl_mean"].values, ds["condor_leg_pnl_se"].values
        leg_rows = [{"leg": leg.replace("_", " "), "est": _stored_est(lm[j], lse[j], scale)} for j, leg in enumerate(legs)]
        if "condor_trading_cost_mean" in ds:
            leg_rows.append({"leg": "trading costs", "est": _stored_est(ds["condor_trading_cost_mean"].values,
                                                                        ds["condor_trading_cost_se"].values, scale)})
        return layer_rows, leg_rows, [f"layer {k}" for k in layers]
    if "layer_pnl" in ds:
        lp = ds["layer_pnl"].values
        for s in _hedges(_strategies(ds), sweep=False):
            ests = []
            for j in range(lp.shape[1]):
                x = lp[s.index, j]
                ests.append(None if np.all(x == 0) else _mean_est(x * scale))
            total = _mean_est(lp[s.index].sum(axis=0) * scale)
            layer_rows.append({"strategy": s.label, "est": ests, "total": total})
    leg_rows = []
    if "condor_leg_pnl" in ds:
        legs = [str(x) for x in ds["leg"].values] if "leg" in ds.coords else list(LEGS)
        for j, leg in enumerate(legs):
            leg_rows.append({"leg": leg.replace("_", " "), "est": _mean_est(ds["condor_leg_pnl"].values[j] * scale)})
        costs = sum(ds[v].values for v in ("condor_spread_cost", "condor_commission") if v in ds)
        if not np.isscalar(costs):
            leg_rows.append({"leg": "trading costs", "est": _mean_est(-np.abs(costs) * scale)})
    return layer_rows, leg_rows, [f"layer {k}" for k in layers]


def _fig_attribution(layer_rows, leg_rows, layer_names) -> str | None:
    if not layer_rows and not leg_rows:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.9), gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    if layer_rows:
        x = np.arange(len(layer_rows))
        k = max(1, len(layer_names))
        w = 0.8 / k
        pal = sns.color_palette("deep", k)
        for j in range(k):
            _errbar(ax, x - 0.4 + w * (j + 0.5), [r["est"][j] if j < len(r["est"]) else None for r in layer_rows],
                    width=w, color=pal[j], label=layer_names[j] if j < len(layer_names) else f"layer {j + 1}")
        ax.scatter(x, [r["total"].value if r["total"] else np.nan for r in layer_rows], color="k", marker="D",
                   zorder=3, s=18, label="hedge book total")
        ax.set_xticks(x, [r["strategy"] for r in layer_rows], rotation=20, ha="right", fontsize=8)
        ax.legend(fontsize=7)
    else:
        ax.set_visible(False)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("mean P&L (% of capital per year)")
    ax.set_title("Hedge layers (incl. their costs), 95% CI", fontsize=9)
    ax = axes[1]
    if leg_rows:
        x = np.arange(len(leg_rows))
        _errbar(ax, x, [r["est"] for r in leg_rows], color="tab:gray", width=0.6)
        ax.set_xticks(x, [r["leg"] for r in leg_rows], rotation=20, ha="right", fontsize=8)
    else:
        ax.set_visible(False)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("mean P&L (% of capital per year)")
    ax.set_title("Condor legs (common to every strategy), 95% CI", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _fig_worst_cum(ds: xr.Dataset, worst: pd.DataFrame) -> tuple[str | None, int]:
    if worst.empty or "sample_cum_pnl" not in ds or ds.sizes.get("sample", 0) == 0:
        return None, 0
    sample_paths = [int(p) for p in ds["sample"].values]
    hits = [(int(p), sample_paths.index(int(p))) for p in worst["path"] if int(p) in sample_paths]
    if not hits:
        return None, 0
    strats = _strategies(ds)
    u, main = _unhedged(strats), _main(ds, strats)
    years = ds["time"].values if "time" in ds.coords else ds["day"].values
    cum = ds["sample_cum_pnl"].values / _capital(ds) * 100.0
    fig, ax = plt.subplots(figsize=(9, 3.8))
    pal = sns.color_palette("husl", len(hits))
    for c, (p, i) in zip(pal, hits):
        ax.plot(years, cum[u.index, i], color=c, lw=1.2, label=f"path {p}, {u.label}")
        if main is not None:
            ax.plot(years, cum[main.index, i], color=c, lw=1.2, ls="--", label=f"path {p}, {main.label}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("time (years)")
    ax.set_ylabel("cumulative P&L (% of capital)")
    ax.legend(fontsize=6, ncol=2)
    ax.set_title("Worst paths among the stored sample paths: solid unhedged, dashed main hedge", fontsize=9)
    return _png(fig), len(hits)


def _fig_sweep(sweep: pd.DataFrame, main_name: str | None) -> str | None:
    if sweep.empty or int((sweep["kind"] == "sweep").sum()) == 0:
        return None
    sw = sweep[np.isfinite(sweep["budget_pct_per_year"].astype(float))]
    if sw.empty:
        return None
    b = sw["budget_pct_per_year"].to_numpy(float)
    m = sw["cost_median"].to_numpy(float)
    yerr = np.vstack([np.nan_to_num(m - sw["cost_median_ci_low"].to_numpy(float)),
                      np.nan_to_num(sw["cost_median_ci_high"].to_numpy(float) - m)])
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.axhspan(*COST_BAND, color="tab:green", alpha=0.15, label=f"claimed {COST_BAND[0]:g}-{COST_BAND[1]:g}% band")
    ax.errorbar(b, m, yerr=np.maximum(yerr, 0), fmt="o-", capsize=3, color="tab:purple", label="median cost, 95% CI")
    is_main = (sw["strategy"] == main_name).to_numpy()
    if is_main.any():
        ax.scatter(b[is_main], m[is_main], s=90, facecolors="none", edgecolors="k", zorder=3, label="main hedge")
    top = float(np.nanmax(np.r_[b, m, COST_BAND[1]]))
    ax.plot([0, top], [0, top], color="0.5", ls=":", lw=1, label="cost = budget")
    ax.set_xlabel("hedge budget (% of capital per year)")
    ax.set_ylabel("median net hedge cost (% of capital per year)")
    ax.legend(fontsize=7)
    return _png(fig)


def _fig_answer(ds: xr.Dataset) -> str | None:
    """The report's one answer figure: net annual hedge cost (median over paths, claim 1) against the
    paired CVaR 99 cut of the annual loss (claim 4) for every hedged strategy, with 95% CIs on both
    axes, the claimed cost band shaded and claim 4's threshold (10% of the unhedged CVaR 99) dashed."""
    strats = [s for s in _hedges(_strategies(ds), sweep=True)]
    pts = [(s, _metric(ds, s.name, "cost_median"), _metric(ds, s.name, "cvar99_annual_reduction")) for s in strats]
    pts = [p for p in pts if p[1] is not None and p[2] is not None]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    ax.axvspan(*COST_BAND, color="tab:green", alpha=0.15,
               label=f"claim 1: {COST_BAND[0]:g}-{COST_BAND[1]:g}% of capital a year")
    u = _unhedged(_strategies(ds))
    cu = _metric(ds, u.name, "cvar99_annual") if u is not None else None
    if cu is not None:
        share = ClaimThresholds().material_share
        ax.axhline(share * max(cu.value, 0.0), color="tab:red", ls="--", lw=1,
                   label=f"claim 4: cut > {100 * share:g}% of the unhedged CVaR 99 ({share * max(cu.value, 0.0):.3g})")
    ax.axhline(0, color="k", lw=0.8)
    pal = sns.color_palette("deep", len(pts))
    for (s, c, r), color in zip(pts, pal):
        xerr = [[max(c.value - c.ci_low, 0.0) if np.isfinite(c.ci_low) else 0.0],
                [max(c.ci_high - c.value, 0.0) if np.isfinite(c.ci_high) else 0.0]]
        yerr = [[max(r.value - r.ci_low, 0.0) if np.isfinite(r.ci_low) else 0.0],
                [max(r.ci_high - r.value, 0.0) if np.isfinite(r.ci_high) else 0.0]]
        ax.errorbar([c.value], [r.value], xerr=xerr, yerr=yerr, fmt="o" if s.kind != "sweep" else "s",
                    ms=6 if s.kind != "sweep" else 4, capsize=3, color=color, label=s.label)
    ax.set_xlabel("net annual hedge cost, median over paths (% of capital per year)")
    ax.set_ylabel("CVaR 99 cut of the annual loss (% of capital)")
    ax.set_title("Every hedge: what it costs against what it cuts (95% CIs)", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _png(fig)
