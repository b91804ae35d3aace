"""Results as an xarray Dataset: per-strategy and per-path summaries, sample paths, the metric table,
the claim check, the historical replay and run metadata.

Layout (every variable has ``attrs["units"]`` and ``attrs["long_name"]``):

* dim ``strategy``: "unhedged" (the condor alone) then every hedge book, with coordinates
  ``strategy_label``, ``strategy_kind`` ("unhedged", "alvh", "baseline", "sweep") and
  ``strategy_budget`` (% of capital per year);
* dims ``(strategy, path)``: :data:`alvh.runner.STRATEGY_FIELDS`; ``(strategy, layer, path)``:
  ``layer_pnl``; ``(leg, path)``: ``condor_leg_pnl``; ``path``: :data:`alvh.runner.PATH_FIELDS`; for
  the first ``result_paths`` paths (attr; the scenario's ``simulation.result_paths``, default
  100,000) and the :data:`WORST_PATHS` paths of lowest unhedged P&L among all paths (the coordinate
  ``path`` holds each path's index in the run); the per-path metrics and claims use all paths, the
  pooled daily ones the daily sample (attr ``daily_sample_paths``);
* dims ``(strategy, layer)``: ``layer_pnl_mean``, ``layer_pnl_se``; ``strategy``: ``hedge_book_pnl_mean``,
  ``hedge_book_pnl_se``; ``leg``: ``condor_leg_pnl_mean``,
  ``condor_leg_pnl_se``; scalars ``condor_trading_cost_mean``, ``condor_trading_cost_se``: the P&L
  attribution, means over all paths with their standard errors;
* dims ``(sample, day)`` and ``(strategy, sample, day)``: whole sample paths;
* dims ``(strategy, metric)``: ``metric_value``, ``metric_se``, ``metric_ci_low``, ``metric_ci_high``
  (NaN where a metric does not apply), coordinates ``metric_units``, ``metric_label``;
* dim ``claim_row``: the claim check (:func:`alvh.claims.claim_check`), ``claim_*`` variables;
* dims ``replay_year``, ``replay_day`` (when the scenario asks for the replay): the same strategies
  on the real path;
* dim ``calibration_param``: fitted model parameters and standard errors; dim ``statistic``: fit
  diagnostics, historical vs model;
* attrs: seed, paths, chunking, jobs, package versions, the scenario text, the rules of every
  strategy, creation time.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from alvh import metrics as mx
from alvh import varred
from alvh.claims import ClaimRow, MetricRow, RunArrays, StrategyInfo, claim_check, strategy_metrics
from alvh.runner import LEG_NAMES, PATH_FIELDS, STRATEGY_FIELDS, ReplayResult, RunResult

__all__ = ["run_arrays", "analyse", "capital_definitions", "build_dataset", "write_dataset", "package_versions",
           "strategy_infos", "kept_paths", "WORST_PATHS", "RESULTS_FORMAT"]

#: Paths of lowest unhedged P&L whose per-path variables are always kept (the report's worst-paths table).
WORST_PATHS = 20

#: Layout version of the results Dataset (attr ``results_format``; absent before version 2). 2: the
#: worst paths kept beside the head and the attribution over all paths.
RESULTS_FORMAT = 2


def strategy_infos(result: RunResult) -> list[StrategyInfo]:
    """Name, label, kind and budget of each strategy of a run (the condor alone first)."""
    out = [StrategyInfo("unhedged", "condor (unhedged)", "unhedged", float("nan"))]
    for h in result.strategies[1:]:
        out.append(StrategyInfo(h.name, h.label, h.kind, float("nan") if h.banded else float(h.budget_pct_per_year)))
    return out


def run_arrays(result: RunResult) -> RunArrays:
    """The arrays of a run in the form :mod:`alvh.claims` reads."""
    prep = result.prepared
    return RunArrays(
        strategies=strategy_infos(result), per_strategy=result.per_strategy, layer_pnl=result.layer_pnl,
        condor_leg_pnl=result.condor_leg_pnl, per_path=result.per_path, daily_pnl=result.daily_pnl,
        daily_delta=result.daily_delta, regime=result.regime, event_day=result.event_day,
        regime_names=list(prep.model.regime_names), capital=float(prep.scenario.market.capital),
        years=float(prep.n_steps * prep.dt), steps_per_year=float(prep.scenario.simulation["steps_per_year"]),
        controls=_controls(result),
    )


def _controls(result: RunResult) -> dict:
    """Control variates of a run, ``{name: (per-path values, exact mean)}`` (:mod:`alvh.varred`); {} if none."""
    means = varred.control_means(result.prepared)
    if means is None or result.n_paths < 2:
        return {}
    # read when the analysis builds its controls (alvh.varred.ControlVariates copies them once): held
    # here in memory for the whole analysis, they were 16 bytes per path at its peak
    spx_return = result.per_path["spx_return"]
    values = {"spx_growth": _ReadLater(lambda: spx_return[:] / 100.0 + 1.0),
              "integrated_variance": result.per_path["integrated_variance"]}
    return {k: (values[k], means[k]) for k in means}


class _ReadLater:
    """A per-path array computed each time it is read (``np.asarray``), not held."""

    def __init__(self, read) -> None:
        self._read = read

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.asarray(self._read(), dtype=dtype)


def analyse(result: RunResult) -> tuple[list[MetricRow], list[ClaimRow]]:
    """Metric table and claim check of a run (:func:`alvh.claims.strategy_metrics`, :func:`alvh.claims.claim_check`)."""
    arrays = run_arrays(result)
    metrics = strategy_metrics(arrays)
    # how often each layer traded, and how often the caps cut it (a layer that never trades is a finding)
    years = arrays.years
    for j, info in enumerate(arrays.strategies[1:], 1):
        for k in range(result.layer_entries.shape[1]):
            if k >= len(result.strategies[j].layers):
                break
            for key, arr, label in (
                    (f"layer{k + 1}_entries_per_year", result.layer_entries, f"Entries of layer {k + 1} per year"),
                    (f"layer{k + 1}_capped_per_year", result.layer_cap_bound,
                     f"Entries of layer {k + 1} cut or blocked by the caps, per year")):
                est = mx.mean(arr[j, k] / years) if result.n_paths > 1 else mx.Estimate(
                    float(arr[j, k, 0] / years), np.nan, np.nan, np.nan)
                metrics.append(MetricRow(info.name, key, label, "1 per year", est))
    return metrics, claim_check(arrays)


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    from alvh.parallel import versions_of

    return {"python": platform.python_version(),
            **versions_of(("alvh", "numpy", "scipy", "arch", "statsmodels", "pandas", "joblib", "xarray", "h5netcdf",
                           "seaborn", "matplotlib", "dask", "distributed"))}


def capital_definitions(scenario) -> list[str]:
    """How costs, margin and capital are defined in a run, one sentence each (for the report).

    Parameters
    ----------
    scenario : alvh.config.Scenario

    Returns
    -------
    list of str
    """
    m, c = scenario.market, scenario.condor
    return [
        f"Capital base: ${m.capital:,.0f}; every '% of capital' figure divides dollars by it, and "
        "'per year' figures divide the horizon's total by the horizon in years.",
        f"Condor margin: defined-risk, (wing width - credit) x $100 per condor (wing width {c.wing_width:g} points); "
        f"at each entry the number of condors is floor({c.margin_fraction:g} x capital / margin per condor), "
        "on the initial capital: the book keeps trading after losses, so annual losses can exceed 100% of capital.",
        "Hedge capital: long options are paid in full (the premium is the capital they use); a short VIX call "
        "credit spread holds its maximum loss (width - credit) x $100; a long VIX future holds a share of its "
        "notional. Capital used on a day = open condor margin + hedge capital. Risk capital, the base of the "
        f"hedge caps, is margin_fraction x capital = ${c.margin_fraction * m.capital:,.0f}.",
        "Net annual hedge cost = -(hedge book P&L) / capital / years x 100 = (premium paid - value received from "
        "sales, settlements and the final mark + half-spreads + commissions) / capital / years x 100.",
        *m.frictions.describe(),
        "Every trade before expiry pays half the spread and the commission; cash settlement at expiry pays "
        "neither (SPX PM-settled against the simulated close; VIX options against the model VIX of the day, "
        "standing in for the special opening quotation).",
    ]


def _replay_vars(rp: ReplayResult, names: list[str], capital: float, detail_day: str) -> tuple[dict, dict, dict]:
    """Replay variables by calendar year and by day, and the detail of one day (JSON-ready)."""
    years = rp.dates.astype("datetime64[Y]").astype(int) + 1970
    uniq = np.unique(years)
    by_year = np.stack([rp.daily_pnl[:, years == y].sum(axis=1) for y in uniq], axis=1) / capital * 100.0
    cost = np.stack([-rp.hedge_pnl[:, years == y].sum(axis=1) for y in uniq], axis=1) / capital * 100.0
    # a calendar year's cost per year of days in it (the first and last years may be partial)
    frac = np.array([(years == y).sum() / 252.0 for y in uniq])
    data = {
        "replay_pnl_pct": xr.Variable(("strategy", "replay_year"), by_year,
                                      {"units": "% of capital", "long_name": "P&L of the calendar year on the real path"}),
        "replay_hedge_cost_pct": xr.Variable(("strategy", "replay_year"), cost / frac,
                                             {"units": "% of capital per year",
                                              "long_name": "net hedge cost of the calendar year on the real path"}),
        "replay_spx": xr.Variable("replay_day", rp.spx, {"units": "index points", "long_name": "real SPX close"}),
        "replay_vix": xr.Variable("replay_day", rp.vix, {"units": "VIX points", "long_name": "real VIX close"}),
        "replay_cum_pnl": xr.Variable(("strategy", "replay_day"), np.cumsum(rp.daily_pnl, axis=1),
                                      {"units": "USD", "long_name": "cumulative P&L on the real path"}),
    }
    coords = {"replay_year": uniq.astype(np.int64), "replay_day": [str(d) for d in rp.dates]}
    detail = {}
    hit = np.flatnonzero(rp.dates == np.datetime64(detail_day))
    if hit.size and hit[0] > 0:
        i = int(hit[0])
        pct = lambda usd: float(usd) / capital * 100.0  # noqa: E731
        detail = {
            "date": detail_day, "spx_prev": float(rp.spx[i - 1]), "spx": float(rp.spx[i]),
            "spx_return_pct": float((rp.spx[i] / rp.spx[i - 1] - 1.0) * 100.0),
            "vix_prev": float(rp.vix[i - 1]), "vix": float(rp.vix[i]),
            "pnl_pct": {n: pct(rp.daily_pnl[j, i]) for j, n in enumerate(names)},
            "hedge_pnl_pct": {n: pct(rp.hedge_pnl[j, i]) for j, n in enumerate(names)},
            "layer_pnl_pct": {n: [pct(x) for x in rp.layer_daily_pnl[j, :, i]] for j, n in enumerate(names) if j},
            "condor_leg_pnl_pct": [pct(x) for x in rp.condor_leg_daily_pnl[:, i]],
            "pricing_model": rp.pricing_model,
        }
    return data, coords, detail


def kept_paths(result: RunResult, head: int) -> np.ndarray:
    """Indices of the paths whose per-path variables a dataset keeps, ascending.

    The first ``head`` paths, and the :data:`WORST_PATHS` paths with the lowest unhedged P&L among
    all paths of the run (the lowest first by a stable sort, so ties go to the lower index).

    Parameters
    ----------
    result : RunResult
    head : int
        Leading paths kept (``simulation.result_paths``).

    Returns
    -------
    ndarray of int64, shape (n_kept,)
    """
    n = int(result.n_paths)
    head = max(0, min(int(head), n))
    if head >= n:
        return np.arange(n, dtype=np.int64)
    unhedged = np.asarray(result.per_strategy["pnl"][0], dtype=float)        # all paths (read from the store)
    worst = np.argsort(unhedged, kind="stable")[:min(WORST_PATHS, n)]
    return np.union1d(np.arange(head, dtype=np.int64), worst.astype(np.int64))


def _mean_se(x) -> tuple[float, float]:
    """Mean and its standard error ``sd / sqrt(n)`` of the finite values (NaN below two)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan"), float("nan")
    est = mx.mean(x)
    return est.value, est.se


def _attribution_vars(result: RunResult) -> dict:
    """Mean P&L per hedge layer and per condor leg, and the condor's trading costs, over all paths (USD)."""
    n_s, n_l = result.layer_pnl.shape[:2]
    layer = np.full((2, n_s, n_l), np.nan)
    total = np.full((2, n_s), np.nan)
    for i in range(1, n_s):                     # strategy 0 (the condor alone) has no layers
        book = None
        for j in range(n_l):                    # one layer at a time: n values each, not (layer, path)
            row = np.asarray(result.layer_pnl[i, j], dtype=float)
            if j < len(result.strategies[i].layers):      # NaN: a layer the book lacks
                layer[:, i, j] = _mean_se(row)
            if book is None:
                book = np.array(row)
            else:
                book += row
        total[:, i] = _mean_se(book)
    legs = np.array([_mean_se(result.condor_leg_pnl[j]) for j in range(len(LEG_NAMES))]).T
    costs = -np.abs(np.asarray(result.per_path["condor_spread_cost"][:], float)
                    + np.asarray(result.per_path["condor_commission"][:], float))
    m, se = _mean_se(costs)
    out = {
        "layer_pnl_mean": xr.Variable(("strategy", "layer"), layer[0], {
            "units": "USD", "long_name": "mean P&L of each hedge layer over all paths, trading costs included "
                                         "(NaN: the book has no such layer)"}),
        "layer_pnl_se": xr.Variable(("strategy", "layer"), layer[1], {
            "units": "USD", "long_name": "standard error of layer_pnl_mean"}),
        "hedge_book_pnl_mean": xr.Variable("strategy", total[0], {
            "units": "USD", "long_name": "mean P&L of the hedge book (its layers summed) over all paths"}),
        "hedge_book_pnl_se": xr.Variable("strategy", total[1], {
            "units": "USD", "long_name": "standard error of hedge_book_pnl_mean"}),
        "condor_leg_pnl_mean": xr.Variable("leg", legs[0], {
            "units": "USD", "long_name": "mean mark-to-mid P&L per condor leg over all paths (costs apart)"}),
        "condor_leg_pnl_se": xr.Variable("leg", legs[1], {
            "units": "USD", "long_name": "standard error of condor_leg_pnl_mean"}),
        "condor_trading_cost_mean": xr.Variable((), m, {
            "units": "USD", "long_name": "mean condor trading costs (half-spreads and commissions, negative) over all paths"}),
        "condor_trading_cost_se": xr.Variable((), se, {
            "units": "USD", "long_name": "standard error of condor_trading_cost_mean"}),
    }
    return out


def build_dataset(result: RunResult, metrics: list[MetricRow], claims: list[ClaimRow], command: str = "",
                  replay: ReplayResult | None = None) -> xr.Dataset:
    """Assemble the run's :class:`xarray.Dataset` (see the module docstring for the layout).

    Parameters
    ----------
    result : RunResult
    metrics : list of alvh.claims.MetricRow
        From :func:`alvh.claims.strategy_metrics`.
    claims : list of alvh.claims.ClaimRow
        From :func:`alvh.claims.claim_check`.
    command : str
        The command line, stored in the attrs.
    replay : alvh.runner.ReplayResult, optional
        The same strategies on the real path (:func:`alvh.runner.replay`).
    """
    prep = result.prepared
    sc = prep.scenario
    n_steps = prep.n_steps
    infos = strategy_infos(result)
    names = [i.name for i in infos]
    data_vars = {}
    kept = min(result.n_paths, int(sc.simulation.get("result_paths", result.n_paths)))   # leading paths kept
    sel = kept_paths(result, kept)
    # the leading block as a slice (a plain read), the worst paths beyond it by index
    pick = (lambda a: a[..., :kept]) if sel.size == kept else (lambda a: a[..., sel])  # noqa: E731
    for key, (units, desc) in STRATEGY_FIELDS.items():
        data_vars[key] = xr.Variable(("strategy", "path"), pick(result.per_strategy[key]),
                                     {"units": units, "long_name": desc})
    data_vars["layer_pnl"] = xr.Variable(("strategy", "layer", "path"), pick(result.layer_pnl),
                                         {"units": "USD", "long_name": "P&L of each hedge layer, trading costs included"})
    data_vars["layer_entries"] = xr.Variable(("strategy", "layer", "path"), pick(result.layer_entries),
                                             {"units": "1", "long_name": "entries of each hedge layer"})
    data_vars["layer_cap_bound"] = xr.Variable(("strategy", "layer", "path"), pick(result.layer_cap_bound),
                                               {"units": "1", "long_name": "layer entries cut or blocked by the caps"})
    data_vars["condor_leg_pnl"] = xr.Variable(("leg", "path"), pick(result.condor_leg_pnl),
                                              {"units": "USD", "long_name": "mark-to-mid P&L per condor leg (costs apart)"})
    for key, (units, desc) in PATH_FIELDS.items():
        data_vars[key] = xr.Variable("path", pick(result.per_path[key]), {"units": units, "long_name": desc})
    data_vars.update(_attribution_vars(result))
    sample = {
        "sample_spx": ("index points", "SPX level on sample paths", result.sample_spx),
        "sample_vix": ("VIX points", "model VIX on sample paths", result.sample_vix),
        "sample_regime": ("1", "regime label on sample paths", result.sample_regime),
    }
    for key, (units, desc, arr) in sample.items():
        data_vars[key] = xr.Variable(("sample", "day"), arr, {"units": units, "long_name": desc})
    data_vars["sample_cum_pnl"] = xr.Variable(("strategy", "sample", "day"), result.sample_cum_pnl,
                                              {"units": "USD", "long_name": "cumulative P&L on sample paths"})

    keys = list(dict.fromkeys(m.key for m in metrics))
    kpos = {k: i for i, k in enumerate(keys)}
    spos = {n: i for i, n in enumerate(names)}
    table = {f: np.full((len(names), len(keys)), np.nan) for f in ("value", "se", "ci_low", "ci_high")}
    label, units = {}, {}
    for m in metrics:
        i, j = spos[m.strategy], kpos[m.key]
        for f in table:
            table[f][i, j] = getattr(m.est, f)
        label.setdefault(m.key, m.label)
        units.setdefault(m.key, m.units)
    long = {"value": "estimate", "se": "standard error (NaN: interval only)", "ci_low": "95% CI low",
            "ci_high": "95% CI high"}
    for f, arr in table.items():
        data_vars[f"metric_{f}"] = xr.Variable(("strategy", "metric"), arr, {"long_name": long[f], "units": "see metric_units"})

    claim_fields = {
        "claim_id": ("claim", "1", "claim number in ../shared/ALVH.md"),
        "claim_text": ("text", "", "the claim"),
        "claim_strategy": ("strategy", "", "strategy checked"),
        "claim_regime": ("regime", "", "'all' or a regime name"),
        "claim_statistic": ("statistic", "", "what was measured"),
        "claim_units": ("units", "", "units of the value"),
        "claim_value": ("value", "see claim_units", "measured value"),
        "claim_ci_low": ("ci_low", "see claim_units", "95% CI low"),
        "claim_ci_high": ("ci_high", "see claim_units", "95% CI high"),
        "claim_threshold": ("threshold", "", "the claim's side, in words"),
        "claim_verdict": ("verdict", "", "supported, refuted or not decidable"),
        "claim_n": ("n", "1", "paths or path-days used"),
        "claim_note": ("note", "", "how it was measured"),
    }
    for var, (attr, unit, desc) in claim_fields.items():
        vals = [getattr(c, attr) for c in claims]
        if var in ("claim_id", "claim_n"):
            arr = np.asarray(vals, dtype=np.int64)
        elif var in ("claim_value", "claim_ci_low", "claim_ci_high"):
            arr = np.asarray(vals, dtype=float)
        else:
            arr = np.asarray([str(v) for v in vals], dtype=object)
        data_vars[var] = xr.Variable("claim_row", arr, {"units": unit, "long_name": desc})

    fit = prep.fit
    pnames = [k for k, v in fit.params.items() if isinstance(v, (int, float))]
    data_vars["calibration_value"] = xr.Variable(
        "calibration_param", [float(fit.params[k]) for k in pnames],
        {"long_name": f"fitted {fit.model} parameter", "units": "per parameter: time in years, rates per year"})
    data_vars["calibration_se"] = xr.Variable(
        "calibration_param", [float(fit.stderr.get(k, np.nan) or np.nan) for k in pnames],
        {"long_name": "standard error (NaN: not available)", "units": "as calibration_value"})
    stat_names = list(prep.history_stats)
    data_vars["history_statistic"] = xr.Variable(
        "statistic", [prep.history_stats[k] for k in stat_names],
        {"long_name": "real data, calibration window", "units": "per statistic (see the report)"})
    data_vars["model_statistic"] = xr.Variable(
        "statistic", [prep.model_stats[k] for k in stat_names],
        {"long_name": "stationary model paths of the same length (200 paths)", "units": "per statistic (see the report)"})

    n_layers = result.layer_pnl.shape[1]
    coords = {
        "strategy": names,
        "strategy_label": ("strategy", [i.label for i in infos]),
        "strategy_kind": ("strategy", [i.kind for i in infos]),
        "strategy_budget": ("strategy", [i.budget_pct_per_year for i in infos], {"units": "% of capital per year"}),
        "path": xr.Variable("path", sel, {"long_name": "index of the path in the run"}),
        "layer": np.arange(1, n_layers + 1, dtype=np.int64),
        "leg": list(LEG_NAMES),
        "sample": result.sample_path_index,
        "day": xr.Variable("day", np.arange(n_steps + 1, dtype=np.int64), {"units": "trading days"}),
        "time": xr.Variable("day", np.arange(n_steps + 1) * prep.dt, {"units": "years"}),
        "metric": keys,
        "metric_units": ("metric", [units[k] for k in keys]),
        "metric_label": ("metric", [label[k] for k in keys]),
        "claim_row": np.arange(len(claims), dtype=np.int64),
        "calibration_param": pnames,
        "statistic": stat_names,
    }
    market = prep.market or sc.market
    rules = {"unhedged": [
        f"Condor: {sc.condor.dte:g} DTE, short strikes at {sc.condor.short_delta:g} delta, wings "
        + (f"at {sc.condor.wing_delta:g} delta" if sc.condor.wing_delta > 0 else f"{sc.condor.wing_width:g} points")
        + f"; profit take {100 * sc.condor.profit_take:g}%, stop at {sc.condor.stop_multiple:g}x credit"
        + (f", closed at {sc.condor.close_dte:g} DTE" if sc.condor.close_dte > 0 else "")
        + f"; entries every {sc.condor.entry_interval_days} trading day(s)"
        + (f"; time-shifted by {sc.condor.time_shift_days:g} days when VIX > {sc.condor.time_shift_vix:g}"
           if sc.condor.time_shift else "") + "."]}
    rules.update({h.name: h.rules() for h in sc.hedges})
    attrs = {
        "title": f"ALVH stress test: {sc.name}",
        "results_format": RESULTS_FORMAT,
        "scenario": sc.name,
        "scenario_text": sc.text,
        "seed": int(result.seed),
        "n_paths": int(result.n_paths),
        "chunk_size": int(result.chunk_size),
        "daily_sample_paths": int(np.shape(result.daily_pnl)[1]),
        "result_paths": int(kept),
        "worst_paths_kept": int(sel.size - kept),
        "jobs": int(result.jobs),
        "horizon_years": float(n_steps * prep.dt),
        "n_steps": int(n_steps),
        "capital_usd": float(sc.market.capital),
        "capital_definitions_json": json.dumps(capital_definitions(sc)),
        "main_hedge": sc.main_hedge,
        "strategy_rules_json": json.dumps(rules),
        "spot_vol_beta": float(market.spot_vol_beta),
        "spx_surface": prep.surface_name,
        "spot0": float(prep.s0),
        "v0": float(prep.var0),
        "regime0": int(prep.regime0),
        "regime_names": json.dumps(list(prep.model.regime_names)),
        "model_type": prep.model.name,
        "stress_shocks_json": json.dumps([vars(x) for x in prep.shocks]),
        "event_days": int(result.event_day.sum()),
        "data_source": prep.data.source,
        "calibration_window": fit.sample,
        "calibration_method": fit.method,
        "calibration_loglik": float("nan") if fit.loglik is None else float(fit.loglik),
        "calibration_aic": float("nan") if fit.aic is None else float(fit.aic),
        "calibration_bic": float("nan") if fit.bic is None else float(fit.bic),
        "calibration_summary": fit.summary(),
        "model_params_json": json.dumps(prep.model.to_dict(), default=float),
        "package_versions_json": json.dumps(package_versions()),
        "command": command,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "elapsed_s": float(result.elapsed_s),
        "Conventions": "CF-1.8",
    }
    if replay is not None:
        rv, rc, detail = _replay_vars(replay, names, float(sc.market.capital), sc.analysis["replay_detail_day"])
        data_vars.update(rv)
        coords.update(rc)
        attrs["replay_detail_json"] = json.dumps(detail)
        attrs["replay_pricing_model"] = replay.pricing_model
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def write_dataset(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to netCDF-4 (h5netcdf engine) atomically: a temporary file, ``fsync``, then a rename.

    Raises
    ------
    alvh.checkpoint.StorageError
        The disk is full or the folder is not writable; ``path`` is left as it was.
    """
    from alvh.checkpoint import storage_guard

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".nc.part", dir=path.parent)
    os.close(fd)
    try:
        with storage_guard(path, "results"):
            ds.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=False)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
