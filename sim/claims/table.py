"""The metric table: every strategy's risk, cost and attribution (:func:`strategy_metrics`)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from alvh import metrics as mx
from alvh import varred
from alvh.claims.helpers import (
    _checked_flat,
    _cost_rate,
    _daily,
    _no_errors,
    _per_path,
    _psi_se,
    _regime_masks,
    _slug,
)
from alvh.claims.records import LEG_NAMES, LEVELS, MetricRow, RunArrays


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


def strategy_metrics(a: RunArrays) -> list[MetricRow]:
    """The metric table: every strategy's risk, cost and attribution, each with SE and/or CI.

    Parameters
    ----------
    a : RunArrays

    Returns
    -------
    list of MetricRow
        Per strategy, in strategy order. Keys (units), for every strategy:

        * ``pnl_mean`` mean annual P&L (% of capital per year);
        * ``var95_annual``, ``cvar95_annual``, ``var99_annual``, ``cvar99_annual``: VaR / CVaR of the
          annual loss ``-pnl / capital * 100 / years`` (% of capital; :func:`alvh.metrics.var_cvar`);
        * ``var95_daily``, ``cvar95_daily``, ``var99_daily``, ``cvar99_daily``: of the daily loss, all
          path-days pooled (% of capital; :func:`alvh.metrics.pooled_var_cvar`, SE clustered by path);
        * ``max_drawdown_mean`` (% of capital), ``worst_day_mean`` (% of capital, a negative number
          for a loss), ``peak_capital_used_median`` (% of capital);
        * ``leg_<leg>_pnl_mean`` per condor leg (% of capital per year; the condor is the same in
          every strategy) and ``condor_costs_mean`` (half-spreads + commissions, % of capital per
          year; when the per-path fields are present);
        * with more than one regime, per regime name ``<r>`` (snake_case): ``cvar99_daily_regime_<r>``
          (% of capital), pooled over that regime's path-days.

        For hedged strategies only (absent for "unhedged"):

        * ``cvar95_annual_reduction``, ``cvar99_annual_reduction``, ``cvar95_daily_reduction``,
          ``cvar99_daily_reduction``: paired CVaR(unhedged) - CVaR(strategy) (% of capital; > 0 when
          the hedge lowers the tail);
        * ``max_drawdown_change``, ``worst_day_change``: paired mean of strategy - unhedged
          (% of capital);
        * ``cost_mean``, ``cost_median``, ``cost_q05``, ``cost_q95`` of ``hedge_cost_annual_pct``
          (% of capital per year) and ``cost_share_1_2``, the share of paths with a cost in [1, 2]
          (1, Wilson interval);
        * ``hedge_efficiency``: ``cvar99_annual_reduction`` per 1% of mean annual cost
          (% of capital per (% of capital per year); :func:`alvh.metrics.ratio`, NaN when the mean
          cost is not above 2 SE);
        * ``convexity``: mean hedge P&L per year summed on the path-days in the worst 1% of the
          unhedged daily P&L (pooled), divided by the mean annual hedge cost (1; ratio of means,
          delta method, NaN when the cost is not above 2 SE; the 1% cut-off is treated as fixed);
        * ``layer<k>_pnl_mean``, k = 1..L, mean P&L of hedge layer k incl. its costs (% of capital
          per year), for the layers with any non-zero P&L;
        * ``hedge_premium_mean``, ``hedge_payoff_mean``, ``hedge_spread_mean``,
          ``hedge_commission_mean`` (% of capital per year), ``hedge_active_share_mean`` (1);
        * with control variates (``a.controls``): ``pnl_mean_cv`` for every strategy and
          ``cost_mean_cv`` for hedged ones (same units as ``pnl_mean`` / ``cost_mean``), each with
          ``*_cv_se_factor``, the measured SE plain / SE with controls (1; :mod:`alvh.varred`);
        * with more than one regime: ``cost_rate_regime_<r>``, the annualised net hedge cost on the
          regime's path-days (% of capital per year; ratio of sums, SE clustered by path).

    Raises
    ------
    ValueError
        For non-finite per-path values or daily P&L (:mod:`alvh.metrics`).

    Notes
    -----
    A single path (a historical replay) gives every metric's value on that path (its own P&L, its
    loss as VaR and CVaR, its days pooled) with NaN standard errors and intervals.
    """
    cap, yrs = float(a.capital), float(a.years)
    pp = _per_path(a.n_paths)
    pct = lambda usd: pp(usd) / cap * 100.0  # noqa: E731
    per_year = lambda usd: pct(usd) / yrs  # noqa: E731
    ps = a.per_strategy
    regimes = [(name, m) for name, m in _regime_masks(a) if m.sum() >= 2]
    rows: list[MetricRow] = []
    scope = f" [{a.daily_scope()}]" if a.daily_scope() else ""
    cv, cv_names = None, ", ".join(a.controls)
    if a.controls and a.n_paths >= len(a.controls) + 3:
        cv = varred.ControlVariates([v for v, _ in a.controls.values()], [m for _, m in a.controls.values()])

    pnl_u_daily = _daily(a, 0)
    loss_u_daily = pnl_u_daily * (-100.0 / cap)
    worst_days = loss_u_daily >= np.quantile(_checked_flat(loss_u_daily, "daily_pnl[0]"), 0.99)
    loss_u_annual = -per_year(ps["pnl"][0])
    daily_u: dict = {}
    legs = [(f"leg_{leg}_pnl_mean", f"Mean P&L of the condor's {leg.replace('_', ' ')} leg", "% of capital per year",
             mx.mean(per_year(a.condor_leg_pnl[j]))) for j, leg in enumerate(LEG_NAMES)]
    if "condor_spread_cost" in a.per_path and "condor_commission" in a.per_path:
        legs.append(("condor_costs_mean", "Mean condor trading costs (half-spreads + commissions)",
                     "% of capital per year",
                     mx.mean(per_year(a.per_path["condor_spread_cost"] + a.per_path["condor_commission"]))))

    for s, info in enumerate(a.strategies):
        add = lambda key, label, units, est: rows.append(MetricRow(info.name, key, label, units, est))  # noqa: E731
        hedged = s > 0
        pnl_d = pnl_u_daily if s == 0 else _daily(a, s)
        loss_d = loss_u_daily if s == 0 else pnl_d * (-100.0 / cap)
        loss_annual = loss_u_annual if s == 0 else -per_year(ps["pnl"][s])

        add("pnl_mean", "Mean annual P&L", "% of capital per year", mx.mean(per_year(ps["pnl"][s])))
        if cv is not None:
            est, factor = cv.mean(per_year(ps["pnl"][s]))
            add("pnl_mean_cv", f"Mean annual P&L, control variates ({cv_names})", "% of capital per year", est)
            add("pnl_mean_cv_se_factor", "Standard-error reduction of the mean annual P&L by the control variates "
                "(SE plain / SE with controls, measured)", "1", mx.Estimate(factor, math.nan, math.nan, math.nan))
        daily = dict(zip(LEVELS, mx.pooled_var_cvar_levels(loss_d, LEVELS)))
        if s == 0:
            daily_u = daily
        for level in LEVELS:
            lv = int(round(level * 100))
            var, cvar = mx.var_cvar(loss_annual, level)
            add(f"var{lv}_annual", f"VaR {lv}% of the annual loss", "% of capital", var)
            add(f"cvar{lv}_annual", f"CVaR {lv}% of the annual loss", "% of capital", cvar)
            dvar, dcvar, _ = daily[level]
            add(f"var{lv}_daily", f"VaR {lv}% of the daily loss (path-days pooled)" + scope, "% of capital", dvar)
            add(f"cvar{lv}_daily", f"CVaR {lv}% of the daily loss (path-days pooled, SE clustered by path)" + scope,
                "% of capital", dcvar)
        add("max_drawdown_mean", "Mean max drawdown", "% of capital", mx.mean(pct(ps["max_drawdown"][s])))
        add("worst_day_mean", "Mean worst day", "% of capital", mx.mean(pct(ps["worst_day"][s])))
        add("peak_capital_used_median", "Median peak capital used", "% of capital",
            mx.quantile(pp(ps["peak_capital_used_pct"][s]), 0.5))
        for key, label, units, est in legs:
            add(key, label, units, est)
        for name, m in regimes:
            _, c, _ = mx.pooled_var_cvar(loss_d, 0.99, m)
            add(f"cvar99_daily_regime_{_slug(name)}", f"CVaR 99% of the daily loss on {name}-regime path-days" + scope,
                "% of capital", c)
        if not hedged:
            continue

        # paired against the unhedged condor (common random numbers)
        for level in LEVELS:
            lv = int(round(level * 100))
            diff, infl = mx.cvar_difference(loss_u_annual, loss_annual, level)
            add(f"cvar{lv}_annual_reduction", f"CVaR {lv}% of the annual loss: reduction vs unhedged (paired)",
                "% of capital", diff)
            if level == 0.99:
                annual_diff99 = (diff, infl)
            del infl                            # n values each: only the 99% one is kept
            # the paired difference of pooled_cvar_difference, from the influence values already at hand
            _, cu, psi_u = daily_u[level]
            _, cs, psi_s = daily[level]
            d = psi_u - psi_s
            add(f"cvar{lv}_daily_reduction", f"CVaR {lv}% of the daily loss: reduction vs unhedged (paired)" + scope,
                "% of capital", mx.Estimate.normal(cu.value - cs.value, _psi_se(d)))
        del loss_annual
        add("max_drawdown_change", "Max drawdown: hedged minus unhedged (paired mean; < 0 = the hedge helps)", "% of capital",
            mx.mean(pct(ps["max_drawdown"][s] - ps["max_drawdown"][0])))
        add("worst_day_change", "Worst day: hedged minus unhedged (paired mean; > 0 = the hedge helps)", "% of capital",
            mx.mean(pct(ps["worst_day"][s] - ps["worst_day"][0])))
        cost = pp(ps["hedge_cost_annual_pct"][s])
        add("cost_mean", "Mean net annual hedge cost", "% of capital per year", mx.mean(cost))
        if cv is not None:
            est, factor = cv.mean(cost)
            add("cost_mean_cv", f"Mean net annual hedge cost, control variates ({cv_names})", "% of capital per year",
                est)
            add("cost_mean_cv_se_factor", "Standard-error reduction of the mean hedge cost by the control variates "
                "(SE plain / SE with controls, measured)", "1", mx.Estimate(factor, math.nan, math.nan, math.nan))
        add("cost_median", "Median net annual hedge cost", "% of capital per year", mx.quantile(cost, 0.5))
        add("cost_q05", "5% quantile of the net annual hedge cost", "% of capital per year", mx.quantile(cost, 0.05))
        add("cost_q95", "95% quantile of the net annual hedge cost", "% of capital per year", mx.quantile(cost, 0.95))
        add("cost_share_1_2", "Share of paths with a net annual hedge cost in [1%, 2%]", "1",
            mx.share((cost >= 1.0) & (cost <= 2.0)))
        add("hedge_efficiency", "Hedge efficiency: annual CVaR 99% reduction per 1% of mean annual cost",
            "% of capital per (% of capital per year)", mx.ratio(*annual_diff99, cost))
        del annual_diff99
        hedge_d = pnl_d - pnl_u_daily
        nd = a.n_daily_paths
        tail = _per_path(nd)(np.where(worst_days, hedge_d, 0.0).sum(axis=1) / cap * 100.0 / yrs)
        add("convexity", "Convexity: hedge P&L on the unhedged worst 1% of path-days / hedge cost (per year)" + scope,
            "1", mx.ratio(mx.mean(tail), tail - tail.mean(), cost[:tail.size] if nd < a.n_paths else cost))
        del cost
        for k in range(a.layer_pnl.shape[1]):
            layer = np.asarray(a.layer_pnl[s, k], dtype=float)    # one layer at a time: n values each
            if np.any(layer != 0.0):
                add(f"layer{k + 1}_pnl_mean", f"Mean P&L of hedge layer {k + 1} incl. its costs",
                    "% of capital per year", mx.mean(per_year(layer)))
            del layer
        add("hedge_premium_mean", "Mean hedge premium paid", "% of capital per year",
            mx.mean(per_year(ps["hedge_premium"][s])))
        add("hedge_payoff_mean", "Mean hedge payoff received", "% of capital per year",
            mx.mean(per_year(ps["hedge_payoff"][s])))
        add("hedge_spread_mean", "Mean hedge half-spreads paid", "% of capital per year",
            mx.mean(per_year(ps["hedge_spread_cost"][s])))
        add("hedge_commission_mean", "Mean hedge commissions", "% of capital per year",
            mx.mean(per_year(ps["hedge_commission"][s])))
        add("hedge_active_share_mean", "Mean share of days ending with a hedge layer held", "1",
            mx.mean(pp(ps["hedge_active_share"][s])))
        for name, m in regimes:
            add(f"cost_rate_regime_{_slug(name)}", f"Annualised net hedge cost on {name}-regime path-days" + scope,
                "% of capital per year", _cost_rate(hedge_d, m, a))
    if a.n_paths == 1:
        rows = [replace(r, est=_no_errors(r.est)) for r in rows]
    return rows
