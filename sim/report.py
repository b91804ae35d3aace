"""The self-contained HTML report (seaborn figures embedded as PNG) and the terminal summary."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402

__all__ = ["render_report", "summary_text", "format_metric"]

_STAT_LABELS = {
    "vix_mean": ("VIX mean", "points"),
    "vix_q05": ("VIX 5% quantile", "points"),
    "vix_q50": ("VIX median", "points"),
    "vix_q95": ("VIX 95% quantile", "points"),
    "vix_q99": ("VIX 99% quantile", "points"),
    "vix_max_rise": ("Largest one-day VIX rise", "points"),
    "vix_max_rise_pct": ("Largest one-day VIX rise", "%"),
    "spx_vol": ("SPX daily-return volatility", "% per year"),
    "spx_kurtosis": ("SPX daily-return excess kurtosis", "1"),
    "share_below_3pct": ("Share of days below -3%", "% of days"),
}


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits}g}"
    return f"{x:,.{digits}f}" if abs(x) < 100 else f"{x:,.1f}"


def format_metric(value: float, se: float, lo: float, hi: float) -> tuple[str, str, str]:
    """Strings for a metric row: value, ``[lo, hi]`` 95% CI, SE."""
    return _fmt(value), f"[{_fmt(lo)}, {_fmt(hi)}]", _fmt(se)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fan(ds: xr.Dataset) -> str:
    years = ds["time"].values
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, var, label, color in (
        (axes[0], "sample_spx", "SPX (index points)", "tab:blue"),
        (axes[1], "sample_vix", "Model VIX (points)", "tab:red"),
    ):
        x = ds[var].values
        q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ax.fill_between(years, q[0], q[4], color=color, alpha=0.15, label="5-95%")
        ax.fill_between(years, q[1], q[3], color=color, alpha=0.35, label="25-75%")
        ax.plot(years, q[2], color=color, lw=1.5, label="median")
        for i in range(min(3, x.shape[0])):
            ax.plot(years, x[i], color="0.3", lw=0.5, alpha=0.7)
        ax.set_xlabel("time (years)")
        ax.set_ylabel(label)
        ax.legend(loc="upper left", fontsize=8)
    axes[1].axhline(16.0, color="k", ls=":", lw=1)
    fig.suptitle(f"Fan chart over {ds.sizes['sample']} sample paths (P-measure)", fontsize=10)
    return _png(fig)


def _pnl(ds: xr.Dataset) -> str:
    cap = ds.attrs["capital_usd"]
    yrs = ds.attrs["horizon_years"]
    u = ds["pnl_unhedged"].values / cap * 100 / yrs
    h = ds["pnl_hedged"].values / cap * 100 / yrs
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    data = {"condor (unhedged)": u, "condor + ALVH": h}
    bins = np.linspace(min(u.min(), h.min()), max(u.max(), h.max()), 80)
    for name, x in data.items():
        sns.histplot(x, bins=bins, stat="density", element="step", fill=False, ax=axes[0], label=name)
    axes[0].set_xlabel("annual P&L (% of capital)")
    axes[0].legend(fontsize=8)
    cut = np.quantile(u, 0.05)
    for name, x in data.items():
        tail = x[u <= cut]
        sns.ecdfplot(tail, ax=axes[1], label=name)
    axes[1].set_xlabel("annual P&L (% of capital), paths in the unhedged worst 5%")
    axes[1].legend(fontsize=8)
    fig.suptitle("Hedged vs unhedged P&L on the same paths", fontsize=10)
    return _png(fig)


def _cost(ds: xr.Dataset) -> str:
    c = ds["hedge_cost_annual_pct"].values
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.axvspan(1.0, 2.0, color="tab:green", alpha=0.15, label="claimed 1-2% band")
    sns.histplot(c, bins=80, ax=ax, color="tab:purple")
    ax.axvline(np.median(c), color="k", ls="--", lw=1, label=f"median {np.median(c):.2f}%")
    ax.set_xlabel("net annual hedge cost (% of capital per year)")
    ax.legend(fontsize=8)
    return _png(fig)


def _rows(ds: xr.Dataset) -> list[dict]:
    rows = []
    for i, key in enumerate(ds["metric"].values):
        v, ci, se = format_metric(
            float(ds["metric_value"][i]), float(ds["metric_se"][i]),
            float(ds["metric_ci_low"][i]), float(ds["metric_ci_high"][i]),
        )
        rows.append({"key": str(key), "label": str(ds["metric_label"][i].values), "value": v, "ci": ci, "se": se,
                     "units": str(ds["metric_units"][i].values)})
    return rows


def _stats_rows(ds: xr.Dataset) -> list[dict]:
    rows = []
    for i, key in enumerate(ds["statistic"].values):
        label, units = _STAT_LABELS.get(str(key), (str(key), ""))
        rows.append({"label": label, "units": units, "history": _fmt(float(ds["history_statistic"][i])),
                     "model": _fmt(float(ds["model_statistic"][i]))})
    return rows


def _metric(ds: xr.Dataset, key: str) -> tuple[float, float, float]:
    i = list(ds["metric"].values).index(key)
    return float(ds["metric_value"][i]), float(ds["metric_ci_low"][i]), float(ds["metric_ci_high"][i])


def render_report(ds: xr.Dataset, path: Path) -> None:
    """Write the HTML report for a result Dataset (figures inlined, no external files).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`sim.results.build_dataset`.
    path : Path
        Output file.
    """
    sns.set_theme(style="whitegrid", context="notebook")
    env = Environment(loader=PackageLoader("sim", "templates"), autoescape=select_autoescape(["html", "j2"]))
    tpl = env.get_template("report.html.j2")
    cal = ds["calibration_value"]
    se = ds["calibration_se"]
    cal_rows = [{"name": str(k), "value": _fmt(float(cal[i])), "se": _fmt(float(se[i]))}
                for i, k in enumerate(ds["calibration_param"].values)]
    page = tpl.render(
        ds=ds, attrs=ds.attrs, rows=_rows(ds), stats=_stats_rows(ds), cal_rows=cal_rows,
        versions=json.loads(ds.attrs["package_versions_json"]),
        fig_fan=_fan(ds), fig_pnl=_pnl(ds), fig_cost=_cost(ds),
        headline=_headline(ds), scenario_text=ds.attrs["scenario_text"],
        capital_definitions=json.loads(ds.attrs.get("capital_definitions_json", "[]")),
    )
    Path(path).write_text(page, encoding="utf-8")


def _headline(ds: xr.Dataset) -> list[str]:
    cost, clo, chi = _metric(ds, "hedge_cost_median")
    share, slo, shi = _metric(ds, "hedge_cost_share_1_2")
    red, rlo, rhi = _metric(ds, "cvar99_reduction")
    cu, _, _ = _metric(ds, "cvar99_unhedged")
    ch, _, _ = _metric(ds, "cvar99_hedged")
    active, _, _ = _metric(ds, "hedge_active_share_mean")
    prem, _, _ = _metric(ds, "hedge_premium_mean")
    pay, _, _ = _metric(ds, "hedge_payoff_mean")
    spx, slo1, shi1 = _metric(ds, "spx_return_worst1")
    vmax, _, _ = _metric(ds, "vix_max_worst1")
    hw, hlo, hhi = _metric(ds, "hedge_pnl_worst1")
    return [
        f"Median net annual hedge cost {cost:.2f}% of capital (95% CI {clo:.2f} to {chi:.2f}); "
        f"{100 * share:.1f}% of paths (CI {100 * slo:.1f} to {100 * shi:.1f}) land inside the claimed 1-2% band.",
        f"CVaR 99% of the annual loss: {cu:.1f}% of capital unhedged, {ch:.1f}% hedged; "
        f"reduction {red:.2f} points (95% CI {rlo:.2f} to {rhi:.2f}).",
        f"The hedge was switched on {100 * active:.0f}% of days; it paid {prem:.2f}% of capital a year in premium "
        f"and got back {pay:.2f}% ({100 * pay / prem if prem > 0 else float('nan'):.0f}%) before spreads.",
        f"Tail anatomy, unhedged worst 1% of paths: SPX {spx:+.1f}% over the horizon (CI {slo1:+.1f} to {shi1:+.1f}), "
        f"highest VIX {vmax:.1f} on average, hedge P&L {hw:+.2f}% of capital a year (CI {hlo:+.2f} to {hhi:+.2f}).",
    ]


def summary_text(ds: xr.Dataset, out_dir: Path | None = None) -> str:
    """A short plain-text summary of a result for the terminal."""
    a = ds.attrs
    lines = [
        f"ALVH stress test '{a['scenario']}': {a['n_paths']:,} paths x {a['n_steps']} days "
        f"(seed {a['seed']}, {a['jobs']} job(s), {a['elapsed_s']:.1f} s)",
        f"{a['model_type']} ({a['calibration_window']}): "
        + ", ".join(f"{k}={float(v):.4g}" for k, v in
                    list(zip(ds['calibration_param'].values, ds['calibration_value'].values))[:10])
        + (", ... (all in results.nc)" if ds.sizes["calibration_param"] > 10 else ""),
    ]
    lines += _headline(ds)
    keys = ["pnl_mean_unhedged", "pnl_mean_hedged", "cvar95_unhedged", "cvar95_hedged", "cvar99_unhedged",
            "cvar99_hedged", "hedge_cost_mean", "hedge_efficiency"]
    width = max(len(str(ds["metric_label"][list(ds["metric"].values).index(k)].values)) for k in keys)
    for k in keys:
        i = list(ds["metric"].values).index(k)
        v, ci, _ = format_metric(float(ds["metric_value"][i]), float(ds["metric_se"][i]),
                                 float(ds["metric_ci_low"][i]), float(ds["metric_ci_high"][i]))
        label = str(ds["metric_label"][i].values)
        lines.append(f"  {label:<{width}}  {v:>9} {ci:<22} {ds['metric_units'][i].values}")
    if out_dir is not None:
        lines.append(f"Results: {Path(out_dir) / 'results.nc'}   Report: {Path(out_dir) / 'report.html'}")
    return "\n".join(lines)
