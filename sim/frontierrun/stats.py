"""The numbers of the confirmation: a design's cost and cuts on Monte Carlo paths (with its comparison
with the ALVH) and on the real path (circular block bootstrap), and Holm's adjustment of the
p-values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alvh import frontier as fr
from alvh import metrics as mx


#: Block length of the real path's bootstrap, trading days (one month).
BLOCK_DAYS = 21
#: Bootstrap resamples on the real path.
BOOTSTRAP_REPS = 1000


def _cvar(loss: np.ndarray) -> float:
    loss = np.sort(np.asarray(loss, float))[::-1]
    n = max(int(math.ceil((1.0 - fr.LEVEL) * loss.size)), 1)
    return float(loss[:n].mean())


def replay_metrics(ref_daily, des_daily, capital: float, seed: int, alvh_daily=None) -> dict:
    """Cost and cuts of a design on the real path, against the condor alone on the same days.

    Parameters
    ----------
    ref_daily, des_daily : ndarray of shape (n_days,)
        Daily P&L, USD (the condor alone, the design).
    capital : float
    seed : int
        Seed of the bootstrap.
    alvh_daily : ndarray of shape (n_days,), optional
        The ALVH's daily P&L: adds ``vs_alvh`` (the design's daily CVaR 99 below the ALVH's).

    Returns
    -------
    dict
        ``cost`` (% of capital a year: mean daily P&L given up x 252) and ``cut`` (daily-loss CVaR 99
        of the condor minus the design's, % of capital) with 95% circular-block-bootstrap intervals
        (:data:`BLOCK_DAYS`-day blocks, :data:`BOOTSTRAP_REPS` resamples, percentile);
        ``worst_day_cut`` and ``drawdown_cut`` (% of capital, no interval: one path has one worst day).
    """
    from arch.bootstrap import CircularBlockBootstrap

    from alvh.runner import _max_drawdown

    k = 100.0 / capital
    r, d = k * np.asarray(ref_daily, float), k * np.asarray(des_daily, float)
    cols = [r, d] + ([k * np.asarray(alvh_daily, float)] if alvh_daily is not None else [])

    def stats(*a):
        out = [252.0 * float(np.mean(a[0] - a[1])), _cvar(-a[0]) - _cvar(-a[1])]
        if len(a) == 3:
            out.append(_cvar(-a[2]) - _cvar(-a[1]))
        return np.array(out)

    point = stats(*cols)
    bs = CircularBlockBootstrap(BLOCK_DAYS, *cols, seed=np.random.default_rng(seed))
    ci = bs.conf_int(stats, reps=BOOTSTRAP_REPS, method="percentile")
    out = {"cost": point[0], "cost_ci_low": ci[0, 0], "cost_ci_high": ci[1, 0],
           "cut": point[1], "cut_ci_low": ci[0, 1], "cut_ci_high": ci[1, 1],
           "worst_day_cut": float((-r).max() - (-d).max()),
           "drawdown_cut": float(_max_drawdown(r) - _max_drawdown(d))}
    if alvh_daily is not None:
        out.update(vs_alvh=point[2], vs_alvh_ci_low=ci[0, 2], vs_alvh_ci_high=ci[1, 2])
    return {key: float(v) for key, v in out.items()}


def _mc_row(ref: dict, des: dict, alvh: dict | None, capital: float, years: float) -> dict:
    m = fr.design_metrics(ref, des, capital, years)
    row = {"cost": m["cost"], "cost_ci_low": m["cost"] - mx.Z95 * m["cost_se"],
           "cost_ci_high": m["cost"] + mx.Z95 * m["cost_se"], "cut": m["cut"],
           "cut_ci_low": m["cut"] - mx.Z95 * m["cut_se"], "cut_ci_high": m["cut"] + mx.Z95 * m["cut_se"],
           "cut_rel": m["cut_rel"], "worst_day_cut": m["worst_day_cut"], "drawdown_cut": m["drawdown_cut"]}
    if alvh is not None:
        k = 100.0 / capital
        est, _ = mx.cvar_difference(-k * alvh["pnl"], -k * des["pnl"], fr.LEVEL)
        from scipy import stats

        row.update(vs_alvh=est.value, vs_alvh_ci_low=est.ci_low, vs_alvh_ci_high=est.ci_high,
                   vs_alvh_p=float(2.0 * stats.norm.sf(abs(est.value / est.se))) if est.se > 0 else math.nan)
    return row


def _holm(table: pd.DataFrame) -> pd.Series:
    """Holm-adjusted p-values of the comparisons with the ALVH, per source (designs only)."""
    from statsmodels.stats.multitest import multipletests

    out = pd.Series(math.nan, index=table.index)
    for _, g in table[(table["kind"] == "design") & table["vs_alvh_p"].notna()].groupby("source"):
        uniq = g.drop_duplicates("trial")
        adj = multipletests(uniq["vs_alvh_p"].to_numpy(), method="holm")[1]
        by_trial = dict(zip(uniq["trial"], adj))
        out[g.index] = [by_trial[t] for t in g["trial"]]
    return out
