"""The report's tables as pandas frames and the CSV files written beside it (metrics.csv,
claims.csv, worst_paths.csv, budget_sweep.csv, replay_by_year.csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alvh.report.common import (CLAIM_VARS, N_WORST, _Strategy, _annual_pnl_pct, _coord_list, _cost_median,
                                _f2, _has_replay, _hedges, _main, _metric, _regime_names, _strategies,
                                _unhedged, format_metric)


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


def _sweep_table(sweep: pd.DataFrame) -> list[dict]:
    """Rows of the report's budget-sweep table, one per budget: the median cost and the CVaR 99 cut
    with their 95% CIs, the share of paths in the claimed band (from :func:`_sweep_frame`)."""
    def est(r, key: str) -> str:
        v = r.get(key, np.nan)
        if not np.isfinite(float(v)):
            return "n/a"
        return f"{_f2(v)} [{_f2(r.get(f'{key}_ci_low', np.nan))}, {_f2(r.get(f'{key}_ci_high', np.nan))}]"

    return [{"label": str(r["label"]), "budget": _f2(r["budget_pct_per_year"]), "cost": est(r, "cost_median"),
             "share": (f"{100 * float(r['cost_share_1_2']):.1f}" if np.isfinite(float(r.get("cost_share_1_2", np.nan)))
                       else "n/a"),
             "cut": est(r, "cvar99_annual_reduction")} for _, r in sweep.iterrows()]
