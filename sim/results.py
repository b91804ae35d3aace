"""Results as an xarray Dataset: per-path summaries, sample paths, the metric table, run metadata.

Layout (every variable has ``attrs["units"]`` and ``attrs["long_name"]``):

* dims ``path`` (all paths): the per-path fields of :data:`sim.runner.PATH_FIELDS`;
* dims ``(sample, day)``: whole sample paths ``sample_spx``, ``sample_vix``, ``sample_cum_pnl_*``;
* dim ``metric``: ``metric_value``, ``metric_se``, ``metric_ci_low``, ``metric_ci_high`` with the
  string coordinates ``metric_units`` and ``metric_label``;
* dim ``calibration_param``: fitted model parameters and standard errors;
* dim ``statistic``: fit diagnostics, historical vs model;
* attrs: seed, paths, chunking, jobs, package versions, the scenario text, creation time.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr

from sim import metrics as mx
from sim.runner import PATH_FIELDS, RunResult

__all__ = ["compute_metrics", "capital_definitions", "build_dataset", "write_dataset", "Metric", "package_versions"]

LEVELS = (0.95, 0.99)


class Metric:
    """One row of the metric table."""

    __slots__ = ("key", "label", "units", "est")

    def __init__(self, key: str, label: str, units: str, est: mx.Estimate) -> None:
        self.key, self.label, self.units, self.est = key, label, units, est


def compute_metrics(per_path: dict[str, np.ndarray], capital: float, years: float) -> list[Metric]:
    """The metric table of a run, each with its standard error and/or 95% CI.

    Parameters
    ----------
    per_path : dict of str to ndarray of shape (n_paths,)
        Per-path summaries (:data:`sim.runner.PATH_FIELDS`).
    capital : float
        Capital base, dollars.
    years : float
        Horizon in years.

    Returns
    -------
    list of Metric
        Means of per-path P&L, drawdown, worst day, hedge premium/payoff/cost (% of capital);
        VaR and CVaR at 95% and 99% of the annual P&L (loss, % of capital), hedged and unhedged;
        the paired CVaR reduction; median annual hedge cost; the share of paths with annual cost
        within 1-2%; hedge efficiency (CVaR99 reduction per 1% of mean annual cost).

    Notes
    -----
    With a single path (a historical replay) every metric is that path's own value (its P&L,
    its loss as VaR and CVaR, ...) and every standard error and interval is NaN.
    """
    n = len(next(iter(per_path.values())))
    if n == 1:
        twice = {k: np.repeat(np.asarray(v), 2) for k, v in per_path.items()}
        return [Metric(m.key, m.label, m.units, mx.Estimate(m.est.value, np.nan, np.nan, np.nan))
                for m in compute_metrics(twice, capital, years)]
    pct = lambda usd: np.asarray(usd) / capital * 100.0  # noqa: E731
    per_year = lambda usd: pct(usd) / years  # noqa: E731
    out: list[Metric] = []
    for strat in ("unhedged", "hedged"):
        name = "condor" if strat == "unhedged" else "condor + ALVH"
        out.append(Metric(f"pnl_mean_{strat}", f"Mean annual P&L, {name}", "% of capital per year",
                          mx.mean(per_year(per_path[f"pnl_{strat}"]))))
        out.append(Metric(f"max_drawdown_mean_{strat}", f"Mean max drawdown, {name}", "% of capital",
                          mx.mean(pct(per_path[f"max_drawdown_{strat}"]))))
        out.append(Metric(f"worst_day_mean_{strat}", f"Mean worst day, {name}", "% of capital",
                          mx.mean(pct(per_path[f"worst_day_{strat}"]))))
    loss_u = -per_year(per_path["pnl_unhedged"])
    loss_h = -per_year(per_path["pnl_hedged"])
    cost = per_path["hedge_cost_annual_pct"]
    for level in LEVELS:
        lv = int(round(level * 100))
        for strat, loss in (("unhedged", loss_u), ("hedged", loss_h)):
            name = "condor" if strat == "unhedged" else "condor + ALVH"
            var, cvar = mx.var_cvar(loss, level)
            out.append(Metric(f"var{lv}_{strat}", f"VaR {lv}% of annual loss, {name}", "% of capital", var))
            out.append(Metric(f"cvar{lv}_{strat}", f"CVaR {lv}% of annual loss, {name}", "% of capital", cvar))
        diff, infl = mx.cvar_difference(loss_u, loss_h, level)
        out.append(Metric(f"cvar{lv}_reduction", f"CVaR {lv}% reduction by the hedge (paired)", "% of capital", diff))
        if level == 0.99:
            eff = mx.ratio(diff, infl, cost)
            out.append(Metric("hedge_efficiency", "Hedge efficiency: CVaR 99% reduction per 1% of annual cost",
                              "% of capital per (% of capital per year)", eff))
    out.append(Metric("hedge_premium_mean", "Mean hedge premium paid", "% of capital per year",
                      mx.mean(per_year(per_path["hedge_premium"]))))
    out.append(Metric("hedge_payoff_mean", "Mean hedge payoff received", "% of capital per year",
                      mx.mean(per_year(per_path["hedge_payoff"]))))
    out.append(Metric("hedge_spread_mean", "Mean hedge spread cost", "% of capital per year",
                      mx.mean(per_year(per_path["hedge_spread_cost"]))))
    out.append(Metric("hedge_commission_mean", "Mean hedge commissions", "% of capital per year",
                      mx.mean(per_year(per_path["hedge_commission"]))))
    out.append(Metric("condor_costs_mean", "Mean condor trading costs (half-spreads + commissions)",
                      "% of capital per year",
                      mx.mean(per_year(per_path["condor_spread_cost"] + per_path["condor_commission"]))))
    out.append(Metric("peak_capital_used_median", "Median peak capital used (condor margin + VIX call premium)",
                      "% of capital", mx.quantile(per_path["peak_capital_used_pct"], 0.5)))
    out.append(Metric("hedge_cost_mean", "Mean net annual hedge cost", "% of capital per year", mx.mean(cost)))
    out.append(Metric("hedge_cost_median", "Median net annual hedge cost", "% of capital per year",
                      mx.quantile(cost, 0.5)))
    out.append(Metric("hedge_cost_share_1_2", "Share of paths with annual hedge cost in [1%, 2%]", "1",
                      mx.share((cost >= 1.0) & (cost <= 2.0))))
    out.append(Metric("hedge_active_share_mean", "Mean share of days with the hedge switched on", "1",
                      mx.mean(per_path["hedge_active_share"])))
    worst = loss_u >= np.quantile(loss_u, 0.99)
    # fewer than 200 paths leave one path in the worst 1%: its value, with no interval
    tail = lambda x: mx.mean(x) if x.size >= 2 else mx.Estimate(float(x.mean()), np.nan, np.nan, np.nan)  # noqa: E731
    out.append(Metric("spx_return_worst1", "Tail anatomy: mean SPX return on the unhedged worst 1% of paths",
                      "%", tail(per_path["spx_return"][worst])))
    out.append(Metric("vix_max_worst1", "Tail anatomy: mean highest VIX on the unhedged worst 1% of paths",
                      "VIX points", tail(per_path["vix_max"][worst])))
    out.append(Metric("hedge_pnl_worst1", "Tail anatomy: mean hedge P&L on the unhedged worst 1% of paths",
                      "% of capital per year", tail(-per_path["hedge_cost_annual_pct"][worst])))
    out.append(Metric("condor_stops_mean", "Mean condor stops per year", "1 per year",
                      mx.mean(per_path["n_stops"] / years)))
    out.append(Metric("condor_trades_mean", "Mean condors opened per year", "1 per year",
                      mx.mean(per_path["n_condors"] / years)))
    return out


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    out = {"python": platform.python_version()}
    for pkg in ("alvh", "numpy", "scipy", "arch", "statsmodels", "pandas", "joblib", "xarray", "h5netcdf", "seaborn",
                "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def capital_definitions(scenario) -> list[str]:
    """How costs, margin and capital are defined in a run, one sentence each (for the report).

    Parameters
    ----------
    scenario : sim.config.Scenario

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
        "Long VIX calls are paid in full: the premium is the capital they use. Capital used on a day = open "
        "condor margin + premium paid for the VIX calls held.",
        "Net annual hedge cost = (premium paid - value received from sales, settlements and the final mark "
        "+ half-spreads + commissions) / capital / years x 100.",
        *m.frictions.describe(),
        "Every trade before expiry pays half the spread and the commission; cash settlement at expiry pays "
        "neither (SPX PM-settled against the simulated close; VIX options against the model VIX of the day, "
        "standing in for the special opening quotation).",
    ]


def build_dataset(result: RunResult, metrics: list[Metric], command: str = "") -> xr.Dataset:
    """Assemble the run's :class:`xarray.Dataset` (see the module docstring for the layout).

    Parameters
    ----------
    result : RunResult
    metrics : list of Metric
        From :func:`compute_metrics`.
    command : str
        The command line, stored in the attrs.
    """
    prep = result.prepared
    sc = prep.scenario
    n_steps = prep.n_steps
    data_vars = {}
    for key, (units, desc) in PATH_FIELDS.items():
        data_vars[key] = xr.Variable("path", result.per_path[key], {"units": units, "long_name": desc})
    sample_attrs = {
        "sample_spx": ("index points", "SPX level on sample paths"),
        "sample_vix": ("VIX points", "model VIX on sample paths"),
        "sample_cum_pnl_unhedged": ("USD", "cumulative P&L of the condor on sample paths"),
        "sample_cum_pnl_hedged": ("USD", "cumulative P&L of condor + ALVH on sample paths"),
        "sample_regime": ("1", "regime label on sample paths"),
    }
    arrays = {
        "sample_spx": result.sample_spx, "sample_vix": result.sample_vix,
        "sample_cum_pnl_unhedged": result.sample_cum_unhedged, "sample_cum_pnl_hedged": result.sample_cum_hedged,
        "sample_regime": result.sample_regime,
    }
    for key, (units, desc) in sample_attrs.items():
        data_vars[key] = xr.Variable(("sample", "day"), arrays[key], {"units": units, "long_name": desc})
    data_vars["metric_value"] = xr.Variable("metric", [m.est.value for m in metrics], {"long_name": "estimate"})
    data_vars["metric_se"] = xr.Variable("metric", [m.est.se for m in metrics],
                                         {"long_name": "standard error (NaN: interval only)"})
    data_vars["metric_ci_low"] = xr.Variable("metric", [m.est.ci_low for m in metrics], {"long_name": "95% CI low"})
    data_vars["metric_ci_high"] = xr.Variable("metric", [m.est.ci_high for m in metrics], {"long_name": "95% CI high"})

    fit = prep.fit
    pnames = [k for k, v in fit.params.items() if isinstance(v, (int, float))]
    data_vars["calibration_value"] = xr.Variable(
        "calibration_param", [float(fit.params[k]) for k in pnames], {"long_name": f"fitted {fit.model} parameter"})
    data_vars["calibration_se"] = xr.Variable(
        "calibration_param", [float(fit.stderr.get(k, np.nan) or np.nan) for k in pnames],
        {"long_name": "standard error (NaN: not available)"})
    stat_names = list(prep.history_stats)
    data_vars["history_statistic"] = xr.Variable(
        "statistic", [prep.history_stats[k] for k in stat_names], {"long_name": "real data, calibration window"})
    data_vars["model_statistic"] = xr.Variable(
        "statistic", [prep.model_stats[k] for k in stat_names],
        {"long_name": "stationary model paths of the same length (200 paths)"})

    coords = {
        "path": np.arange(result.n_paths, dtype=np.int64),
        "sample": result.sample_path_index,
        "day": xr.Variable("day", np.arange(n_steps + 1, dtype=np.int64), {"units": "trading days"}),
        "time": xr.Variable("day", np.arange(n_steps + 1) * prep.dt, {"units": "years"}),
        "metric": [m.key for m in metrics],
        "metric_units": ("metric", [m.units for m in metrics]),
        "metric_label": ("metric", [m.label for m in metrics]),
        "calibration_param": pnames,
        "statistic": stat_names,
    }
    attrs = {
        "title": f"ALVH stress test: {sc.name}",
        "scenario": sc.name,
        "scenario_text": sc.text,
        "seed": int(result.seed),
        "n_paths": int(result.n_paths),
        "chunk_size": int(result.chunk_size),
        "jobs": int(result.jobs),
        "horizon_years": float(n_steps * prep.dt),
        "n_steps": int(n_steps),
        "capital_usd": float(sc.market.capital),
        "capital_definitions_json": json.dumps(capital_definitions(sc)),
        "spx_surface": prep.surface_name,
        "spot0": float(prep.s0),
        "v0": float(prep.var0),
        "regime0": int(prep.regime0),
        "regime_names": json.dumps(list(prep.model.regime_names)),
        "model_type": prep.model.name,
        "stress_shocks_json": json.dumps([vars(x) for x in prep.shocks]),
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
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def write_dataset(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to netCDF-4 (h5netcdf engine) atomically: a temporary file, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".nc.part", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=False)
        shutil.move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
