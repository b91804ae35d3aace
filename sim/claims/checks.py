"""The verdicts on the four claims for every hedged strategy (:func:`claim_check`)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from alvh import metrics as mx
from alvh.claims.helpers import (
    _NAN,
    _checked_flat,
    _cost_rate,
    _daily,
    _f,
    _hedged,
    _no_errors,
    _per_path,
    _psi_se,
    _regime_masks,
    _relevel,
    _scope_note,
)
from alvh.claims.records import (
    CLAIM_TEXTS,
    REFUTED,
    SUPPORTED,
    UNDECIDED,
    ClaimRow,
    ClaimThresholds,
    RunArrays,
)


# ----------------------------------------------------------------------------------------------
# Claims
# ----------------------------------------------------------------------------------------------


def _band_verdict(lo: float, hi: float, band: tuple[float, float]) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return UNDECIDED
    if band[0] <= lo and hi <= band[1]:
        return SUPPORTED
    if hi < band[0] or lo > band[1]:
        return REFUTED
    return UNDECIDED


def _too_few(mask: np.ndarray, th: ClaimThresholds) -> str:
    """Why a daily statistic on ``mask`` is not decidable for lack of data, or ''."""
    k = int(mask.sum())
    p = int(mask.any(axis=1).sum())
    if k < th.min_n:
        return f"only {k} qualifying path-days (< min_n = {th.min_n}); "
    if p < th.min_n:
        return f"qualifying path-days come from only {p} paths (< min_n = {th.min_n} clusters); "
    return ""


def _claim1(a: RunArrays, s: int, th: ClaimThresholds, hedge_d: np.ndarray, regimes) -> list[ClaimRow]:
    name = a.strategies[s].name
    band = th.cost_band
    words = f"{th.level:.0%} CI within [{band[0]:g}, {band[1]:g}] % of capital per year"
    n = a.n_paths
    cost = _per_path(n)(a.per_strategy["hedge_cost_annual_pct"][s])
    med = mx.quantile(cost, 0.5)
    if n == 1:
        med = _no_errors(med)
    elif th.level != 0.95:
        ci = stats.quantile_test(cost, q=med.value, p=0.5).confidence_interval(th.level)
        med = mx.Estimate(med.value, math.nan, float(ci.low), float(ci.high))
    verdict = _band_verdict(med.ci_low, med.ci_high, band) if n >= th.min_n else UNDECIDED
    side = ("below the band (cheaper than claimed); " if med.ci_high < band[0] else
            "above the band (dearer than claimed); " if med.ci_low > band[1] else "")
    note = (side + f"order-statistic CI of the median over {n} paths; mean {_f(float(cost.mean()))}, "
            f"share of paths in the band {_f(float(np.mean((cost >= band[0]) & (cost <= band[1]))))}; "
            "the cost follows the hedge's own budget and sizing rules (see the budget sweep)")
    if n < th.min_n:
        note = f"only {n} paths (< min_n = {th.min_n}); " + note
    rows = [ClaimRow(1, CLAIM_TEXTS[1], name, "all", "median net annual hedge cost over paths",
                     "% of capital per year", med.value, med.ci_low, med.ci_high, words, verdict, n, note)]
    for rname, m in regimes:
        k = int(m.sum())
        few = _too_few(m, th)
        est = _relevel(_cost_rate(hedge_d, m, a), th.level) if k >= 2 else _NAN
        verdict = UNDECIDED if few else _band_verdict(est.ci_low, est.ci_high, band)
        rows.append(ClaimRow(
            1, CLAIM_TEXTS[1], name, rname, f"annualised net hedge cost rate on {rname}-regime path-days",
            "% of capital per year", est.value, est.ci_low, est.ci_high, words, verdict, k,
            few + f"-(sum of hedge daily P&L) / path-days x {a.steps_per_year:g} / capital; ratio of sums, "
            f"SE clustered by path; {k} path-days on {int(m.any(axis=1).sum())} paths" + _scope_note(a)))
    return rows


def _crash_days(loss_u_pct: np.ndarray, th: ClaimThresholds) -> tuple[np.ndarray, str]:
    crash = loss_u_pct >= th.crash_loss_pct
    k = int(crash.sum())
    if k >= th.crash_min_days:
        return crash, (f"crash days: unhedged day P&L <= -{th.crash_loss_pct:g}% of capital "
                       f"({k} path-days)")
    # too few days of the claim's own size: the verdict is 'not decidable'; the worst days are
    # still measured and shown, labelled as such (they test milder days than the claim's)
    q = float(np.quantile(loss_u_pct, th.fallback_quantile))
    crash = loss_u_pct >= q
    return crash, (f"FALLBACK: only {k} path-days with an unhedged loss >= {th.crash_loss_pct:g}% of capital "
                   f"(< {th.crash_min_days}), so the claim as stated is not decidable here; measured instead on the unhedged worst {1 - th.fallback_quantile:.2%} of "
                   f"path-days (loss >= {_f(q)}% of capital, {int(crash.sum())} path-days)")


def _claim2(a: RunArrays, s: int, th: ClaimThresholds, loss_u_pct: np.ndarray, crash: np.ndarray,
            how: str, regimes) -> list[ClaimRow]:
    name = a.strategies[s].name
    loss_s_pct = _daily(a, s) * (-100.0 / a.capital)
    words = f"{th.level:.0%} CI high <= {th.retained_max:g} (the -8% of a -40% day)"
    rows = []
    for rname, m in [("all", None)] + list(regimes):
        mask = crash if m is None else crash & m
        k = int(mask.sum())
        few = _too_few(mask, th)
        if k >= 2:
            est = _relevel(mx.ratio_of_sums(loss_s_pct, loss_u_pct, mask)[0], th.level)
            mu, mh = float(-loss_u_pct[mask].mean()), float(-loss_s_pct[mask].mean())
        else:
            est, mu, mh = _NAN, math.nan, math.nan
        if few or not np.isfinite(est.ci_high) or how.startswith("FALLBACK"):
            verdict = UNDECIDED
        elif est.ci_high <= th.retained_max:
            verdict = SUPPORTED
        elif est.ci_low > th.retained_max:
            verdict = REFUTED
        else:
            verdict = UNDECIDED
        where = "" if m is None else f" in the {rname} regime"
        rows.append(ClaimRow(
            2, CLAIM_TEXTS[2], name, rname,
            "retained loss share on crash days: sum(hedged loss) / sum(unhedged loss)", "1",
            est.value, est.ci_low, est.ci_high, words, verdict, k,
            few + how + f"; {k} path-days{where} on {int(mask.any(axis=1).sum())} paths; mean day P&L "
            f"unhedged {_f(mu, 2)}, hedged {_f(mh, 2)} (% of capital); ratio of sums, SE clustered by path" + _scope_note(a)))
    return rows


def _claim3(a: RunArrays, s: int, th: ClaimThresholds, regimes) -> list[ClaimRow]:
    name = a.strategies[s].name
    du = np.abs(np.asarray(a.daily_delta[0], dtype=float))
    dh = np.abs(np.asarray(a.daily_delta[s], dtype=float))
    ev = np.asarray(a.event_day, dtype=bool)
    base = np.isfinite(du) & np.isfinite(dh)
    if ev.any():
        before = np.zeros_like(ev)
        before[:-1] = ev[1:]             # the close before an event: the position carried into it
        base &= (ev | before)[None, :]
        days = "event days and the day before each"
    else:
        days = "all measured days (no event day in the horizon)"
    words = (f"supported: {th.level:.0%} CI high <= {th.near_neutral_delta:g} and paired reduction CI low > 0; "
             f"refuted: CI low > {th.near_neutral_delta:g} or reduction CI high <= 0")
    rows = []
    for rname, m in [("all", None)] + list(regimes):
        mask = base if m is None else base & m
        k = int(mask.sum())
        few = _too_few(mask, th)
        if k >= 2:
            est_h, psi_h = mx.pooled_mean(dh, mask)
            est_u, psi_u = mx.pooled_mean(du, mask)
            # paired reduction: same path-days and denominators, so its influence is psi_u - psi_h
            d = psi_u - psi_h
            red = _relevel(mx.Estimate.normal(est_u.value - est_h.value, _psi_se(d)), th.level)
            est, unh = _relevel(est_h, th.level), est_u.value
            signed = float(np.asarray(a.daily_delta[0], dtype=float)[mask].mean())
        else:
            est = red = _NAN
            unh = signed = math.nan
        ok = np.isfinite([est.ci_low, est.ci_high, red.ci_low, red.ci_high]).all()
        if few or not ok:
            verdict = UNDECIDED
        elif est.ci_high <= th.near_neutral_delta and red.ci_low > 0:
            verdict = SUPPORTED
        elif est.ci_low > th.near_neutral_delta or red.ci_high <= 0:
            verdict = REFUTED
        else:
            verdict = UNDECIDED
        rows.append(ClaimRow(
            3, CLAIM_TEXTS[3], name, rname, f"mean |delta| of the hedged book on {days}", "SPX delta per condor",
            est.value, est.ci_low, est.ci_high, words, verdict, k,
            few + f"premise: unhedged mean delta {_f(signed)} (the texts: about -0.15); unhedged mean |delta| {_f(unh)}; paired reduction {_f(red.value)} "
            f"[{_f(red.ci_low)}, {_f(red.ci_high)}]; {k} path-days where both deltas are measured, on "
            f"{int(mask.any(axis=1).sum())} paths; SE clustered by path" + _scope_note(a)))
    return rows


def _claim4(a: RunArrays, s: int, th: ClaimThresholds) -> ClaimRow:
    name = a.strategies[s].name
    n = a.n_paths
    pp = _per_path(n)
    per_year = lambda usd: pp(usd) / a.capital * 100.0 / a.years  # noqa: E731
    lu, lh = -per_year(a.per_strategy["pnl"][0]), -per_year(a.per_strategy["pnl"][s])
    diff = _relevel(mx.cvar_difference(lu, lh, 0.99)[0], th.level)
    if n == 1:
        diff = _no_errors(diff)
    cu, ch = (mx.var_cvar(lu, 0.99)[1].value, mx.var_cvar(lh, 0.99)[1].value) if n >= 2 else (float(lu[0]), float(lh[0]))
    bar = th.material_share * max(cu, 0.0)
    tail = int(n * 0.01)
    if tail < th.min_n or not (np.isfinite(diff.ci_low) and np.isfinite(diff.ci_high)):
        verdict = UNDECIDED
    elif diff.ci_low > bar:
        verdict = SUPPORTED
    elif diff.ci_high < bar:
        verdict = REFUTED
    else:
        verdict = UNDECIDED
    few = (f"only {tail} paths in the 1% tail (< min_n = {th.min_n}); " if tail < th.min_n else "")
    return ClaimRow(
        4, CLAIM_TEXTS[4], name, "all",
        "paired reduction of CVaR 99% of the annual loss (unhedged minus hedged)", "% of capital",
        diff.value, diff.ci_low, diff.ci_high,
        f"supported: {th.level:.0%} CI low > {th.material_share:.0%} of the unhedged CVaR 99% ({_f(bar, 2)}); "
        f"refuted: CI high below it", verdict, n,
        few + f"CVaR 99% of the annual loss: unhedged {_f(cu, 2)}%, hedged {_f(ch, 2)}% of capital; "
        "regime 'all' only: a path's annual loss has no single regime")


def claim_check(a: RunArrays, thresholds: ClaimThresholds = ClaimThresholds()) -> list[ClaimRow]:
    """Verdicts on the four claims for every hedged strategy (kind alvh, baseline or sweep).

    Parameters
    ----------
    a : RunArrays
    thresholds : ClaimThresholds

    Returns
    -------
    list of ClaimRow
        Per hedged strategy, claims 1, 2, 3 for regime "all" and then each regime (when the model
        has more than one), then claim 4 (regime "all" only). Statistics:

        1. "all": median of ``hedge_cost_annual_pct`` over paths, order-statistic CI
           (:func:`alvh.metrics.quantile`); per regime r: ``-(sum of hedge daily P&L on r-days) /
           (r path-days) * steps_per_year / capital * 100`` (hedge daily P&L = strategy minus
           unhedged daily P&L), path-clustered ratio SE. Supported iff the CI lies in ``cost_band``.
        2. retained loss share ``sum(hedged loss) / sum(unhedged loss)`` on crash path-days (unhedged
           day loss >= ``crash_loss_pct`` % of capital; with fewer than ``crash_min_days`` of those
           the verdict is "not decidable" and the statistic is measured on the unhedged worst
           ``1 - fallback_quantile`` share of path-days instead, said in the note);
           supported iff CI high <= ``retained_max``, refuted iff CI low > it.
        3. mean |delta| of the strategy on event days and the day before each (every day when there
           are none) where both its
           and the unhedged delta are finite; supported iff CI high <= ``near_neutral_delta`` and
           the paired reduction of mean |delta| vs unhedged has CI low > 0; refuted iff CI low >
           ``near_neutral_delta`` or the reduction's CI high <= 0.
        4. paired CVaR 99% reduction of the annual loss (% of capital; :func:`alvh.metrics.cvar_difference`);
           supported iff CI low > ``material_share`` of the unhedged CVaR 99%, refuted iff CI high is
           below it; not decidable with fewer than ``min_n`` paths in the 1% tail.

        CIs are at ``thresholds.level``; see the module notes for "not decidable".

    Raises
    ------
    ValueError
        For non-finite per-path values or daily P&L.

    Notes
    -----
    A single path (a historical replay) gives each statistic's value on that path, NaN intervals
    and "not decidable" everywhere (fewer than ``min_n`` paths).
    """
    regimes = _regime_masks(a)
    pnl_u = _daily(a, 0)
    loss_u_pct = pnl_u * (-100.0 / a.capital)
    _checked_flat(loss_u_pct, "daily_pnl[0]")
    crash, how = _crash_days(loss_u_pct, thresholds)
    rows: list[ClaimRow] = []
    for s in _hedged(a):
        hedge_d = _daily(a, s) - pnl_u
        rows += _claim1(a, s, thresholds, hedge_d, regimes)
        del hedge_d
        rows += _claim2(a, s, thresholds, loss_u_pct, crash, how, regimes)
        rows += _claim3(a, s, thresholds, regimes)
        rows.append(_claim4(a, s, thresholds))
    return rows
