"""The HTML page: the model, calibration and scorecard sections and :func:`render_report`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr
from jinja2 import Environment, PackageLoader, select_autoescape

from alvh.report.answers import (_claim1_sentence, _headline, _key_numbers, _verdicts_table, claim_answers,
                                  claim_grid)
from alvh.report.common import (COST_BAND, _STAT_LABELS, _est_text, _fmt, _json_attr, _main, _regime_names,
                                _strategies, _unhedged)
from alvh.report.figures import (_attribution, _fig_attribution, _fig_cost, _fig_cvar, _fig_fan, _fig_pnl,
                                 _fig_sweep, _fig_worst_cum, _fig_answer)
from alvh.report.replay import _replay_section
from alvh.report.tables import _head, _metric_table, _sweep_frame, _sweep_table, _worst_paths_frame, _worst_table


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

    The first screen answers: one plain sentence per claim on the main hedge (verdict, number, 95% CI,
    rule, and why where not decidable; :func:`alvh.report.answers.claim_answers`) and one figure, net
    annual cost against the CVaR 99 cut for every hedge with CIs and the claimed 1-2% band. Every other
    section is a collapsed ``<details>``: verdicts across sources, the claim check (one row per
    strategy and regime), the budget sweep, the metrics per strategy, the run and strategies, sample
    paths, P&L and cost distributions, CVaR bars, attribution, the worst paths, the historical replay,
    capital definitions, strategy rules, calibration, the realism scorecard, fit diagnostics, the
    scenario text and the package versions. No table appears twice. Every figure is a PNG inlined as
    a ``data:`` URI; the file references nothing outside itself. Missing optional parts (replay,
    regimes, sweep, samples) are replaced by a sentence.

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
    rules = _json_attr(ds, "strategy_rules_json", {})
    labels = {s.name: s.label for s in strats}
    page = tpl.render(
        meta=_meta(ds), headline=_headline(ds), verdicts=_verdicts_table(ds),
        verdicts_model=str((_json_attr(ds, "verdicts_json", None) or {}).get("model", "model")), main=main, unhedged=u,
        answers=claim_answers(ds), key_numbers=_key_numbers(ds, main) if main is not None else [], fig_answer=_fig_answer(ds), frontier_line=ds.attrs.get("frontier_line", ""),
        claim_grid=claim_grid(ds), sweep_grid=claim_grid(ds, sweep=True), claim1_sentence=_claim1_sentence(ds, sweep),
        fig_sweep=_fig_sweep(sweep, main.name if main else None),
        regimes=regimes, multi_regime=len(regimes) > 1,
        strategies=strats, table_strats=main_strats, metric_rows=_metric_table(ds, main_strats),
        sweep_rows=_sweep_table(sweep) if int((sweep.get("kind", pd.Series(dtype=str)) == "sweep").sum()) else [],
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
