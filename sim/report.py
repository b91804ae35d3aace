"""The self-contained HTML stress-test report, the CSV tables and the terminal summary.

Everything here reads the results :class:`xarray.Dataset` described in the data contract
("The results Dataset"): per-strategy arrays on dims ``(strategy, path)``, the metric table on
``(strategy, metric)``, the claim check on ``claim_row``, optional sample paths and an optional
historical replay. Metric keys are looked up defensively: a missing key shows as "n/a" and the
metric table renders whatever rows exist.

Public API
----------
render_report(ds, path)
    Write one HTML file; every figure is a seaborn/matplotlib PNG inlined as a ``data:`` URI.
write_tables(ds, out_dir) -> list[Path]
    ``metrics.csv``, ``claims.csv``, ``worst_paths.csv``, ``budget_sweep.csv`` and, when the run
    has a historical replay, ``replay_by_year.csv``.
summary_text(ds, out_dir=None) -> str
    Headline lines and the main hedge's claim-check verdicts for the terminal.
format_metric(value, se, lo, hi) -> (value, "[lo, hi]", se) strings.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402

from alvh import metrics as mx  # noqa: E402
from alvh.results import WORST_PATHS  # noqa: E402

__all__ = ["render_report", "write_tables", "summary_text", "format_metric", "HEADLINE_KEYS", "COST_BAND"]

#: The claimed annual hedge cost band, % of capital per year (claim 1).
COST_BAND = (1.0, 2.0)
#: Metric keys the headline reads (each shown as "n/a" when absent).
HEADLINE_KEYS = ("cost_median", "cost_share_1_2", "cvar99_annual", "cvar99_annual_reduction")
#: Condor legs, in the order of the ``leg`` dimension.
LEGS = ("long_put", "short_put", "short_call", "long_call")
#: Number of worst paths (by unhedged annual P&L) the report lists; the dataset keeps them (from all paths).
N_WORST = WORST_PATHS
#: The replay day shown in detail when ``replay_detail_json`` does not name one.
DETAIL_DATE = "2018-02-05"
#: Columns of claims.csv when the Dataset has no claim rows.
CLAIM_VARS = ("claim_id", "claim_text", "claim_strategy", "claim_regime", "claim_statistic", "claim_units",
              "claim_value", "claim_ci_low", "claim_ci_high", "claim_threshold", "claim_verdict", "claim_n",
              "claim_note")

_STAT_LABELS = {
    "vix_mean": ("VIX mean", "VIX points"),
    "vix_q05": ("VIX 5% quantile", "VIX points"),
    "vix_q50": ("VIX median", "VIX points"),
    "vix_q95": ("VIX 95% quantile", "VIX points"),
    "vix_q99": ("VIX 99% quantile", "VIX points"),
    "vix_max_rise": ("Largest one-day VIX rise", "VIX points"),
    "vix_max_rise_pct": ("Largest one-day VIX rise", "%"),
    "spx_vol": ("SPX daily-return volatility", "% per year"),
    "spx_kurtosis": ("SPX daily-return excess kurtosis", "1"),
    "share_below_3pct": ("Share of days below -3%", "% of days"),
}
_SHARE_UNITS = ("1", "fraction", "share", "")
_PCT_YR = "% of capital per year"


# --------------------------------------------------------------------------------------------------
# formatting


def _fmt(x, digits: int = 3) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    if not np.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits}g}"
    return f"{x:,.{digits}f}" if abs(x) < 100 else f"{x:,.1f}"


def _f2(x) -> str:
    """Two decimals, or "n/a"."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return f"{x:,.2f}" if np.isfinite(x) else "n/a"


def format_metric(value: float, se: float, lo: float, hi: float) -> tuple[str, str, str]:
    """Strings for a metric row: value, ``[lo, hi]`` 95% CI, SE ("n/a" where not finite)."""
    return _fmt(value), f"[{_fmt(lo)}, {_fmt(hi)}]", _fmt(se)


def _is_share(units: str) -> bool:
    return str(units).strip().lower() in _SHARE_UNITS


def _est_text(est: mx.Estimate | None, units: str, *, as_share: bool = False) -> str:
    """``"1.52 % of capital per year (95% CI 1.31 to 1.70)"``; shares in "1" are shown in % of paths."""
    if est is None or not np.isfinite(est.value):
        return "n/a"
    scale, u = 1.0, units
    if as_share and _is_share(units):
        scale, u = 100.0, "% of paths"
    v, lo, hi = (scale * x for x in (est.value, est.ci_low, est.ci_high))
    ci = f" (95% CI {_f2(lo)} to {_f2(hi)})" if np.isfinite(lo) and np.isfinite(hi) else " (no CI)"
    return f"{_f2(v)} {u}".rstrip() + ci


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _json_attr(ds: xr.Dataset, key: str, default):
    raw = ds.attrs.get(key)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return default


# --------------------------------------------------------------------------------------------------
# reading the Dataset


@dataclass(frozen=True)
class _Strategy:
    index: int
    name: str
    label: str
    kind: str
    budget: float


def _coord_list(ds: xr.Dataset, name: str, default: list) -> list:
    if name in ds.coords or name in ds:
        return [x.item() if hasattr(x, "item") else x for x in ds[name].values]
    return default


def _strategies(ds: xr.Dataset) -> list[_Strategy]:
    if "strategy" not in ds.dims:
        return []
    names = [str(x) for x in ds["strategy"].values]
    labels = [str(x) for x in _coord_list(ds, "strategy_label", names)]
    kinds = [str(x) for x in _coord_list(ds, "strategy_kind", [])]
    if len(kinds) != len(names):
        kinds = ["unhedged" if i == 0 else "sweep" if n.startswith("alvh_budget") else
                 "alvh" if n == "alvh" else "baseline" for i, n in enumerate(names)]
    budgets = [float(x) for x in _coord_list(ds, "strategy_budget", [np.nan] * len(names))]
    return [_Strategy(i, n, l, k, b) for i, (n, l, k, b) in enumerate(zip(names, labels, kinds, budgets))]


def _hedges(strats: list[_Strategy], *, sweep: bool = False) -> list[_Strategy]:
    """Hedged strategies (not "unhedged"); sweep variants only when ``sweep``."""
    return [s for s in strats if s.kind != "unhedged" and s.index != 0 and (sweep or s.kind != "sweep")]


def _unhedged(strats: list[_Strategy]) -> _Strategy | None:
    for s in strats:
        if s.kind == "unhedged":
            return s
    return strats[0] if strats else None


def _main(ds: xr.Dataset, strats: list[_Strategy]) -> _Strategy | None:
    """The strategy the headline refers to: attrs ``main_hedge``, else the first of kind "alvh"."""
    want = ds.attrs.get("main_hedge")
    for s in strats:
        if s.name == want:
            return s
    for kind in ("alvh", "baseline", "sweep"):
        for s in strats:
            if s.kind == kind:
                return s
    return None


def _metric(ds: xr.Dataset, strategy: str, key: str) -> mx.Estimate | None:
    """The (strategy, key) metric as an Estimate, or None when absent or NaN."""
    if "metric" not in ds.dims or "metric_value" not in ds:
        return None
    keys = [str(k) for k in ds["metric"].values]
    names = [str(s) for s in ds["strategy"].values] if "strategy" in ds.dims else []
    if key not in keys or strategy not in names:
        return None
    i, j = names.index(strategy), keys.index(key)

    def get(var: str) -> float:
        if var not in ds:
            return np.nan
        da = ds[var]
        if "strategy" in da.dims:
            da = da.isel(strategy=i)
        return float(da.isel(metric=j))

    est = mx.Estimate(get("metric_value"), get("metric_se"), get("metric_ci_low"), get("metric_ci_high"))
    return est if np.isfinite(est.value) else None


def _metric_units(ds: xr.Dataset, key: str, default: str = "") -> str:
    if "metric" not in ds.dims or "metric_units" not in ds.coords:
        return default
    keys = [str(k) for k in ds["metric"].values]
    return str(ds["metric_units"].values[keys.index(key)]) if key in keys else default


def _capital(ds: xr.Dataset) -> float:
    return float(ds.attrs.get("capital_usd", np.nan))


def _years(ds: xr.Dataset) -> float:
    return float(ds.attrs.get("horizon_years", np.nan))


def _annual_pnl_pct(ds: xr.Dataset) -> np.ndarray:
    """(S, n) annual P&L, % of capital per year."""
    return ds["pnl"].values / _capital(ds) * 100.0 / _years(ds)


def _regime_names(ds: xr.Dataset) -> list[str]:
    names = _json_attr(ds, "regime_names", [])
    return [str(x) for x in names] if isinstance(names, list) else []


def _has_replay(ds: xr.Dataset) -> bool:
    return "replay_pnl_pct" in ds and "replay_year" in ds.dims and ds.sizes["replay_year"] > 0


def _cost_median(ds: xr.Dataset, s: _Strategy) -> mx.Estimate | None:
    """Median annual net hedge cost: metric ``cost_median``, else from ``hedge_cost_annual_pct``."""
    est = _metric(ds, s.name, "cost_median")
    if est is not None or "hedge_cost_annual_pct" not in ds:
        return est
    x = ds["hedge_cost_annual_pct"].values[s.index]
    x = x[np.isfinite(x)]
    return mx.quantile(x, 0.5) if x.size >= 2 else None


def _annual_cvar(ds: xr.Dataset, s: _Strategy, lv: int) -> mx.Estimate | None:
    """CVaR ``lv``% of the annual loss: metric ``cvar{lv}_annual``, else computed from ``pnl``."""
    est = _metric(ds, s.name, f"cvar{lv}_annual")
    if est is not None or "pnl" not in ds:
        return est
    loss = -_annual_pnl_pct(ds)[s.index]
    loss = loss[np.isfinite(loss)]
    return mx.var_cvar(loss, lv / 100.0)[1] if loss.size >= 2 else None


# --------------------------------------------------------------------------------------------------
# tables (pandas)


def _metrics_frame(ds: xr.Dataset) -> pd.DataFrame:
    cols = ["strategy", "key", "label", "units", "value", "se", "ci_low", "ci_high"]
    if "metric" not in ds.dims or "metric_value" not in ds:
        return pd.DataFrame(columns=cols)
    keys = [str(k) for k in ds["metric"].values]
    labels = [str(x) for x in _coord_list(ds, "metric_label", keys)]
    units = [str(x) for x in _coord_list(ds, "metric_units", [""] * len(keys))]
    rows = []
    for s in _strategies(ds):
        for j, key in enumerate(keys):
            est = _metric(ds, s.name, key)
            if est is None:
                continue
            rows.append([s.name, key, labels[j], units[j], est.value, est.se, est.ci_low, est.ci_high])
    return pd.DataFrame(rows, columns=cols)


def _claims_frame(ds: xr.Dataset) -> pd.DataFrame:
    if "claim_row" not in ds.dims:
        return pd.DataFrame(columns=["claim_row", *CLAIM_VARS])
    names = [v for v in ds.data_vars if str(v).startswith("claim_") and ds[v].dims == ("claim_row",)]
    out = {"claim_row": ds["claim_row"].values}
    for v in names:
        vals = ds[v].values
        out[str(v)] = [x.decode() if isinstance(x, bytes) else x for x in vals]
    return pd.DataFrame(out)


def _head(ds: xr.Dataset) -> xr.Dataset:
    """The dataset without the worst paths kept beyond its leading ``result_paths`` paths.

    Distributions, medians and tail shares must come from the head, a sample of the run by path index;
    the worst paths appended after it (:func:`alvh.results.kept_paths`) are for the worst-paths table.
    """
    n_head = ds.attrs.get("result_paths")
    if n_head is None or "path" not in ds.dims or ds.sizes["path"] <= int(n_head):
        return ds
    return ds.isel(path=slice(0, int(n_head)))


def _worst_paths_frame(ds: xr.Dataset, k: int = N_WORST) -> pd.DataFrame:
    """The k paths with the lowest unhedged annual P&L, worst first; P&L and cost in % of capital per year."""
    strats = _strategies(ds)
    u = _unhedged(strats)
    if u is None or "pnl" not in ds:
        return pd.DataFrame()
    ann = _annual_pnl_pct(ds)
    order = np.argsort(ann[u.index], kind="stable")[: min(k, ann.shape[1])]
    paths = ds["path"].values[order] if "path" in ds.coords else order
    df = pd.DataFrame({"rank": np.arange(1, order.size + 1), "path": paths})
    for var, col in (("spx_return", "spx_return_pct"), ("vix_max", "vix_max_points"), ("n_stops", "n_stops")):
        if var in ds:
            df[col] = ds[var].values[order]
    if "regime_worst_day" in ds:
        names = _regime_names(ds)
        lab = ds["regime_worst_day"].values[order]
        df["regime_worst_day"] = [names[int(r)] if 0 <= int(r) < len(names) else str(int(r)) for r in lab]
    df[f"pnl_{u.name}_pct_per_year"] = ann[u.index, order]
    cost = ds["hedge_cost_annual_pct"].values if "hedge_cost_annual_pct" in ds else None
    for s in _hedges(strats, sweep=True):
        df[f"pnl_{s.name}_pct_per_year"] = ann[s.index, order]
        if cost is not None:
            df[f"hedge_cost_{s.name}_pct_per_year"] = cost[s.index, order]
    return df


_SWEEP_EXTRA = ("cost_mean", "cost_share_1_2", "cvar99_annual", "cvar99_annual_reduction")


def _sweep_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Sweep variants and the main hedge (when its budget is known), by budget."""
    strats = _strategies(ds)
    main = _main(ds, strats)
    chosen = [s for s in strats if s.kind == "sweep"]
    if main is not None and main not in chosen and np.isfinite(main.budget):
        chosen.append(main)
    rows = []
    for s in sorted(chosen, key=lambda s: (s.budget if np.isfinite(s.budget) else np.inf, s.index)):
        med = _cost_median(ds, s)
        row = {"strategy": s.name, "label": s.label, "kind": s.kind, "budget_pct_per_year": s.budget,
               "cost_median": np.nan, "cost_median_ci_low": np.nan, "cost_median_ci_high": np.nan}
        if med is not None:
            row.update(cost_median=med.value, cost_median_ci_low=med.ci_low, cost_median_ci_high=med.ci_high)
        for key in _SWEEP_EXTRA:
            est = _metric(ds, s.name, key)
            if est is not None:
                row.update({key: est.value, f"{key}_ci_low": est.ci_low, f"{key}_ci_high": est.ci_high})
        rows.append(row)
    base = ["strategy", "label", "kind", "budget_pct_per_year", "cost_median", "cost_median_ci_low",
            "cost_median_ci_high"]
    return pd.DataFrame(rows, columns=None if rows else base)


def _replay_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Per strategy and calendar year: replay P&L and hedge cost (% of capital) and where they fall in the MC."""
    strats = _strategies(ds)
    years = [int(y) for y in ds["replay_year"].values]
    ann = _annual_pnl_pct(ds) if "pnl" in ds else None
    cost = ds["hedge_cost_annual_pct"].values if "hedge_cost_annual_pct" in ds else None
    rows = []
    for s in strats:
        for t, year in enumerate(years):
            p = float(ds["replay_pnl_pct"].values[s.index, t])
            c = float(ds["replay_hedge_cost_pct"].values[s.index, t]) if "replay_hedge_cost_pct" in ds else np.nan
            rows.append({
                "strategy": s.name, "label": s.label, "kind": s.kind, "year": year,
                "pnl_pct": p, "hedge_cost_pct": c,
                "mc_share_pnl_below": float(np.mean(ann[s.index] < p)) if ann is not None else np.nan,
                "mc_share_cost_below": (float(np.mean(cost[s.index] < c))
                                        if cost is not None and s.kind != "unhedged" else np.nan),
            })
    return pd.DataFrame(rows)


def write_tables(ds: xr.Dataset, out_dir: Path) -> list[Path]:
    """Write the report's tables as CSV files.

    Parameters
    ----------
    ds : xarray.Dataset
        The results Dataset (data contract, "The results Dataset").
    out_dir : Path
        Folder, created if missing.

    Returns
    -------
    list of Path
        ``metrics.csv`` (long form: strategy, key, label, units, value, se, ci_low, ci_high; rows
        where a metric does not apply to a strategy are left out), ``claims.csv`` (``claim_row`` and
        every ``claim_*`` variable), ``worst_paths.csv`` (the 20 paths with the lowest unhedged annual
        P&L: SPX return %, highest VIX in points, regime on the worst day, stops, each strategy's annual
        P&L and net hedge cost in % of capital per year), ``budget_sweep.csv`` (sweep variants and the
        main hedge by budget, % of capital per year; header only when there is neither) and, when the
        run has a historical replay, ``replay_by_year.csv`` (per strategy and calendar year: P&L and
        net hedge cost in % of capital, and the share of Monte Carlo paths whose annual P&L / cost
        is below it).
    """
    full = ds.load()
    ds = _head(full)          # per-path shares and distributions: the leading paths only
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = [("metrics.csv", _metrics_frame(ds)), ("claims.csv", _claims_frame(ds)),
              ("worst_paths.csv", _worst_paths_frame(full)), ("budget_sweep.csv", _sweep_frame(ds))]
    if _has_replay(ds):
        frames.append(("replay_by_year.csv", _replay_frame(ds)))
    paths = []
    for name, df in frames:
        p = out_dir / name
        df.to_csv(p, index=False)
        paths.append(p)
    return paths


# --------------------------------------------------------------------------------------------------
# headline and claim text


def _headline(ds: xr.Dataset) -> list[str]:
    strats = _strategies(ds)
    main, u = _main(ds, strats), _unhedged(strats)
    if main is None:
        return ["No hedged strategy in this run: no headline."]
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
        *_verdict_lines(ds, main),
        *([str(ds.attrs["frontier_line"])] if ds.attrs.get("frontier_line") else []),
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


def _claim_tables(ds: xr.Dataset) -> list[dict]:
    df = _claims_frame(ds)
    if df.empty:
        return []
    labels = {s.name: s.label for s in _strategies(ds)}
    out = []
    for cid, g in df.groupby("claim_id", sort=True):
        text = str(g["claim_text"].iloc[0]) if "claim_text" in g else ""
        rows = []
        for _, r in g.iterrows():
            units = str(r.get("claim_units", ""))
            verdict = str(r.get("claim_verdict", ""))
            n = r.get("claim_n", np.nan)
            rows.append({
                "strategy": labels.get(str(r.get("claim_strategy")), str(r.get("claim_strategy"))),
                "regime": str(r.get("claim_regime", "")),
                "statistic": str(r.get("claim_statistic", "")),
                "value": f"{_fmt(r.get('claim_value'))} {units}".strip(),
                "ci": f"[{_fmt(r.get('claim_ci_low'))}, {_fmt(r.get('claim_ci_high'))}]",
                "threshold": str(r.get("claim_threshold", "")),
                "verdict": verdict, "css": "v-" + verdict.replace(" ", "-"),
                "n": f"{int(n):,}" if pd.notna(n) else "n/a",
                "note": str(r.get("claim_note", "")),
            })
        out.append({"id": int(cid), "text": text, "rows": rows})
    return out


# --------------------------------------------------------------------------------------------------
# figures


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
    axes[1].axhline(16.0, color="k", ls=":", lw=1)
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


def _mean_est(x: np.ndarray) -> mx.Estimate | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return mx.mean(x) if x.size >= 2 else None


def _stored_est(mean, se, scale: float, layer: bool = False) -> mx.Estimate | None:
    """An Estimate from a stored mean and standard error; None where missing (NaN) and, for a layer,
    where it never traded (both 0), as the per-path computation (:func:`_mean_est`) gives."""
    mean, se = float(mean), float(se)
    if not (np.isfinite(mean) and np.isfinite(se)) or (layer and mean == 0.0 and se == 0.0):
        return None
    return mx.Estimate.normal(mean * scale, se * scale)


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


# --------------------------------------------------------------------------------------------------
# report sections


def _metric_table(ds: xr.Dataset, strats: list[_Strategy]) -> list[dict]:
    """Rows with one cell per strategy (value and CI); rows with no value for any of ``strats`` left out."""
    if "metric" not in ds.dims or not strats:
        return []
    keys = [str(k) for k in ds["metric"].values]
    labels = [str(x) for x in _coord_list(ds, "metric_label", keys)]
    units = [str(x) for x in _coord_list(ds, "metric_units", [""] * len(keys))]
    rows = []
    for j, key in enumerate(keys):
        cells = []
        for s in strats:
            est = _metric(ds, s.name, key)
            if est is None:
                cells.append({"value": "", "ci": ""})
            else:
                v, ci, _ = format_metric(est.value, est.se, est.ci_low, est.ci_high)
                cells.append({"value": v, "ci": ci if ci != "[n/a, n/a]" else ""})
        if any(c["value"] for c in cells):
            rows.append({"key": key, "label": labels[j], "units": units[j], "cells": cells})
    return rows


def _worst_table(ds: xr.Dataset, worst: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    if worst.empty:
        return [], []
    strats = _strategies(ds)
    u = _unhedged(strats)
    hedges = _hedges(strats)
    cols = [("rank", "rank", "int"), ("path", "path", "int"), ("spx_return_pct", "SPX return (%)", "f"),
            ("vix_max_points", "highest VIX (points)", "f"), ("regime_worst_day", "regime on worst day", "s"),
            ("n_stops", "stops (count)", "int"),
            (f"pnl_{u.name}_pct_per_year", f"{u.label} P&L (% of capital/yr)", "f")]
    for s in hedges:
        cols += [(f"pnl_{s.name}_pct_per_year", f"{s.label} P&L (% of capital/yr)", "f"),
                 (f"hedge_cost_{s.name}_pct_per_year", f"{s.label} cost (% of capital/yr)", "f")]
    cols = [c for c in cols if c[0] in worst.columns]
    body = []
    for _, r in worst.iterrows():
        body.append([f"{int(r[c])}" if t == "int" else _f2(r[c]) if t == "f" else str(r[c]) for c, _, t in cols])
    return [h for _, h, _ in cols], body


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


def _cal_rows(ds: xr.Dataset) -> list[dict]:
    if "calibration_value" not in ds or "calibration_param" not in ds.dims:
        return []
    se = ds["calibration_se"].values if "calibration_se" in ds else np.full(ds.sizes["calibration_param"], np.nan)
    return [{"name": str(k), "value": _fmt(float(v)), "se": _fmt(float(e))}
            for k, v, e in zip(ds["calibration_param"].values, ds["calibration_value"].values, se)]


def _stats_rows(ds: xr.Dataset) -> list[dict]:
    if "history_statistic" not in ds or "statistic" not in ds.dims:
        return []
    rows = []
    for i, key in enumerate(ds["statistic"].values):
        label, units = _STAT_LABELS.get(str(key), (str(key), ""))
        rows.append({"label": label, "units": units, "history": _fmt(float(ds["history_statistic"][i])),
                     "model": _fmt(float(ds["model_statistic"][i])) if "model_statistic" in ds else "n/a"})
    return rows


def _scorecard_section(ds: xr.Dataset) -> dict | None:
    """The run's realism scorecard (:mod:`alvh.scorecard`): counts, and the rows the model fails."""
    rows = _json_attr(ds, "scorecard_json", None)
    if not isinstance(rows, list) or not rows:
        return None
    failed = [r for r in rows if not r.get("pass")]

    def cell(x):
        return "-" if x is None else _fmt(float(x))

    return {"n": len(rows), "n_pass": len(rows) - len(failed),
            "n_p": sum(r.get("side") == "P" for r in rows), "n_q": sum(r.get("side") == "Q" for r in rows),
            "failed": [{"side": r.get("side"), "statistic": r.get("statistic"), "bucket": r.get("bucket"),
                        "real": cell(r.get("real")), "model": cell(r.get("simulated")),
                        "band": f"{cell(r.get('band_low'))} .. {cell(r.get('band_high'))}"} for r in failed]}


def _meta(ds: xr.Dataset) -> dict:
    a = ds.attrs

    def num(key, fmt):
        try:
            return fmt.format(float(a[key]))
        except (KeyError, TypeError, ValueError):
            return "n/a"

    return {
        "title": a.get("title", "ALVH stress test"),
        "n_paths": num("n_paths", "{:,.0f}"), "n_steps": num("n_steps", "{:,.0f}"),
        "years": num("horizon_years", "{:.2f}"), "seed": a.get("seed", "n/a"),
        "capital": num("capital_usd", "{:,.0f}"), "spot0": num("spot0", "{:,.2f}"),
        "created": a.get("created", "n/a"), "elapsed": num("elapsed_s", "{:.1f}"), "jobs": a.get("jobs", "n/a"),
        "model_type": a.get("model_type", "n/a"), "spx_surface": a.get("spx_surface", "n/a"),
        "calibration_method": a.get("calibration_method", "n/a"),
        "calibration_window": a.get("calibration_window", "n/a"),
        "calibration_summary": a.get("calibration_summary", ""),
        "stress_shocks": a.get("stress_shocks_json", "[]"),
        "command": a.get("command", ""), "data_source": a.get("data_source", "n/a"),
        "scenario": a.get("scenario", "n/a"),
        "daily_scope": (f"pooled daily statistics on the first {int(a['daily_sample_paths']):,} paths"
                        if "daily_sample_paths" in a and int(a["daily_sample_paths"]) < int(a.get("n_paths", 0)) else ""),
        "result_scope": (f"the first {int(a['result_paths']):,} of {int(a['n_paths']):,} paths"
                         if "result_paths" in a and int(a["result_paths"]) < int(a.get("n_paths", 0)) else ""),
    }


def render_report(ds: xr.Dataset, path: Path) -> None:
    """Write the self-contained HTML report of a results Dataset.

    Sections, in order: headline (main hedge), claim check (a table per claim and the claim-1 budget
    sweep), metrics per strategy, sample-path fan charts, annual P&L distributions, hedge cost
    histograms, CVaR bars, layer and condor-leg attribution, the 20 worst paths, the historical replay
    (when present), capital definitions, strategy rules, calibration, the realism scorecard (the rows
    the model fails against the real market), fit diagnostics, scenario text, package versions. Every figure is a PNG inlined as a ``data:`` URI; the file references nothing
    outside itself. Missing optional parts (replay, regimes, sweep, samples) are replaced by a sentence.

    Parameters
    ----------
    ds : xarray.Dataset
        The results Dataset (data contract, "The results Dataset").
    path : Path
        Output file.
    """
    full = ds.load()  # one read of a file-backed Dataset, not one per lookup
    ds = _head(full)    # distributions from the leading paths; the worst paths (of all) from `full`
    sns.set_theme(style="whitegrid", context="notebook")
    env = Environment(loader=PackageLoader("alvh", "templates"), autoescape=select_autoescape(["html", "j2"]))
    tpl = env.get_template("report.html.j2")
    strats = _strategies(ds)
    main, u = _main(ds, strats), _unhedged(strats)
    sweep = _sweep_frame(ds)
    worst = _worst_paths_frame(full)
    worst_head, worst_body = _worst_table(full, worst)
    fig_worst, n_worst_in_sample = _fig_worst_cum(full, worst)
    layer_rows, leg_rows, layer_names = _attribution(ds)
    regimes = _regime_names(ds)
    main_strats = [s for s in strats if s.kind != "sweep"]
    sweep_strats = ([main] if main is not None and main.kind != "sweep" else []) + [s for s in strats
                                                                                    if s.kind == "sweep"]
    rules = _json_attr(ds, "strategy_rules_json", {})
    labels = {s.name: s.label for s in strats}
    page = tpl.render(
        meta=_meta(ds), headline=_headline(ds), verdicts=_verdicts_table(ds),
        verdicts_model=str((_json_attr(ds, "verdicts_json", None) or {}).get("model", "model")), main=main, unhedged=u,
        claims=_claim_tables(ds), claim1_sentence=_claim1_sentence(ds, sweep),
        fig_sweep=_fig_sweep(sweep, main.name if main else None),
        regimes=regimes, multi_regime=len(regimes) > 1,
        strategies=strats, table_strats=main_strats, metric_rows=_metric_table(ds, main_strats),
        sweep_strats=sweep_strats if len(sweep_strats) > 1 else [],
        sweep_rows=_metric_table(ds, sweep_strats) if len(sweep_strats) > 1 else [],
        fig_fan=_fig_fan(ds), n_samples=ds.sizes.get("sample", 0),
        fig_pnl=_fig_pnl(ds), fig_cost=_fig_cost(ds), fig_cvar=_fig_cvar(ds),
        layer_rows=[{"strategy": r["strategy"],
                     "cells": [_est_text(e, "") if e else "-" for e in r["est"]],
                     "total": _est_text(r["total"], "") if r["total"] else "-"} for r in layer_rows],
        leg_rows=[{"leg": r["leg"], "value": _est_text(r["est"], "")} for r in leg_rows],
        layer_names=layer_names, fig_attr=_fig_attribution(layer_rows, leg_rows, layer_names),
        n_worst=len(worst), worst_head=worst_head, worst_body=worst_body, fig_worst=fig_worst,
        n_worst_in_sample=n_worst_in_sample,
        replay=_replay_section(ds),
        capital_definitions=_json_attr(ds, "capital_definitions_json", []),
        rules=[{"strategy": labels.get(k, k), "lines": v if isinstance(v, list) else [str(v)]}
               for k, v in (rules.items() if isinstance(rules, dict) else [])],
        cal_rows=_cal_rows(ds), stats=_stats_rows(ds), scorecard=_scorecard_section(ds),
        scenario_text=ds.attrs.get("scenario_text", ""),
        versions=_json_attr(ds, "package_versions_json", {}),
        cost_band=COST_BAND,
    )
    Path(path).write_text(page, encoding="utf-8")


def summary_text(ds: xr.Dataset, out_dir: Path | None = None) -> str:
    """A short plain-text summary for the terminal: the run, the headline, the main hedge's claim verdicts.

    Parameters
    ----------
    ds : xarray.Dataset
        The results Dataset.
    out_dir : Path, optional
        Where results.nc and report.html were written (named on the last line).
    """
    ds = ds.load()
    a = ds.attrs
    m = _meta(ds)
    lines = [f"ALVH stress test '{m['scenario']}': {m['n_paths']} paths x {m['n_steps']} days "
             f"(seed {m['seed']}, {m['jobs']} job(s), {m['elapsed']} s)"
             + (f"; {m['daily_scope']}" if m["daily_scope"] else "")]
    if "calibration_param" in ds.dims and "calibration_value" in ds:
        pairs = list(zip(ds["calibration_param"].values, ds["calibration_value"].values))
        lines.append(f"{a.get('model_type', 'model')} ({a.get('calibration_window', 'n/a')}): "
                     + ", ".join(f"{k}={float(v):.4g}" for k, v in pairs[:10])
                     + (", ... (all in results.nc)" if len(pairs) > 10 else ""))
    lines += _headline(ds)
    strats = _strategies(ds)
    main = _main(ds, strats)
    claims = _claims_frame(ds)
    if main is not None and not claims.empty and "claim_strategy" in claims:
        mine = claims[claims["claim_strategy"].astype(str) == main.name]
        lines.append(f"Claim check, {main.label}:" if len(mine) else f"Claim check: no rows for {main.label}.")
        for _, r in mine.sort_values(["claim_id", "claim_row"]).iterrows():
            units = str(r.get("claim_units", ""))
            units = "" if units in ("", "1") else f" {units}"      # a ratio has no unit to print
            n = r.get("claim_n", np.nan)
            verdict = str(r["claim_verdict"])
            why = str(r.get("claim_note", "") or "").split(";")[0].strip()
            lines.append(
                f"  claim {int(r['claim_id'])} [{r.get('claim_regime', 'all')}]: {verdict.upper()}"
                + (f" ({why})" if verdict == "not decidable" and why else "")
                + f" - {r.get('claim_statistic', '')} {_fmt(r.get('claim_value'))}{units} "
                f"(95% CI {_fmt(r.get('claim_ci_low'))} to {_fmt(r.get('claim_ci_high'))}; "
                f"threshold {r.get('claim_threshold', '')}; n={int(n) if pd.notna(n) else 'n/a'})")
    else:
        lines.append("Claim check: no claim rows in this result.")
    if out_dir is not None:
        lines.append(f"Results: {Path(out_dir) / 'results.nc'}   Report: {Path(out_dir) / 'report.html'}")
    return "\n".join(_wrap(line) for line in lines)


#: Widest line of the terminal summary, in characters.
TERMINAL_WIDTH = 100


def _wrap(line: str) -> str:
    """A summary line folded at :data:`TERMINAL_WIDTH`, continuation lines indented under it."""
    import textwrap

    lead = len(line) - len(line.lstrip(" "))
    return "\n".join(textwrap.wrap(line, width=TERMINAL_WIDTH, subsequent_indent=" " * (lead + 4),
                                   break_long_words=False, break_on_hyphens=False)) or line
