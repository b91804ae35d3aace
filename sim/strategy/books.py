"""The books' engine: :func:`run_books` runs the condor book and every hedge book along a chunk of
paths, day by day (the numpy reference; the compiled engine :mod:`alvh.fastbook` where it applies),
with the condor's valuation at mid and at expiry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alvh.costs import condor_margin
from alvh.pricing import MarkovVixTable, VixOptionTable, spx_option, strike_for_delta
from alvh.strategy.hedge import _Hedge
from alvh.strategy.results import BookResult, _charge, _daily_from_cumulative
from alvh.strategy.signals import _run_length, wilder_rsi
from alvh.strategy.specs import MULTIPLIER, CondorSpec, MarketSpec, dte_to_steps
from alvh.surface import SpxSurface, surface_option


_SGN = np.array([-1.0, 1.0, 1.0, -1.0])[:, None]    # +1 = short leg (we owe its value)
_IS_CALL = np.array([False, False, True, True])[:, None]


def _condor_value(spot, v, strikes, tau, surface, market, regime=None):
    """Mid value (points) of one short iron condor (short put, call minus long wings), its delta,
    and the four leg prices, shape (4, n), ordered long put, short put, short call, long call."""
    n = spot.size
    price, delta = spx_option(
        np.broadcast_to(spot, (4, n)), strikes, tau, np.broadcast_to(v, (4, n)), _IS_CALL,
        surface, market.rate, market.div,
        None if regime is None else np.broadcast_to(regime, (4, n)),
    )
    return (_SGN * price).sum(axis=0), -(_SGN * delta).sum(axis=0), price


def _condor_legs_intrinsic(spot, strikes):
    """Leg values at expiry, shape (4, n)."""
    return np.where(_IS_CALL, np.maximum(spot - strikes, 0.0), np.maximum(strikes - spot, 0.0))


@dataclass(frozen=True)
class _Context:
    market: MarketSpec
    condor: CondorSpec
    surface: SpxSurface


def run_books(
    spot: np.ndarray,
    variance: np.ndarray,
    vix: np.ndarray,
    surface: SpxSurface,
    market: MarketSpec,
    condor: CondorSpec,
    hedges,
    table: VixOptionTable | MarkovVixTable | None,
    dt: float,
    regime: np.ndarray | None = None,
    measure_days: np.ndarray | None = None,
    trace: bool = False,
) -> BookResult:
    """Run the condor book and every hedge book along a chunk of paths.

    Parameters
    ----------
    spot, variance, vix : ndarray of shape (n_paths, n_steps + 1)
        SPX level (points), variance state (annualised) and model VIX (points) per path and day.
    surface : alvh.surface.SpxSurface
        Prices the SPX options (:func:`alvh.surface.make_surface`; its model's Q side).
    market : MarketSpec
    condor : CondorSpec
    hedges : sequence of HedgeSpec
        Hedge books run on the same paths (may be empty).
    table : VixOptionTable or MarkovVixTable or alvh.realprices.RealVixPrices or None
        VIX futures and call prices (:func:`alvh.pricing.make_vix_table`); required when a hedge
        has a VIX layer. Its ``max_steps`` must cover every VIX layer's ``dte_open``. A pricer with an
        ``on_day(t)`` method (real prices of the market replay) is asked for day ``t``'s view each day.
    dt : float
        Years per step.
    regime : ndarray of int8, shape (n_paths, n_steps + 1), optional
        Regime labels (regime-switching models); ``None`` means a single regime.
    measure_days : ndarray of bool, shape (n_steps + 1,), optional
        Days on which positions' deltas are computed (``condor_delta``, ``HedgeResult.delta``);
        default none.
    trace : bool, default False
        Keep a trade log (``BookResult.trades``); for tests and small runs.

    Returns
    -------
    BookResult

    Raises
    ------
    ValueError
        If shapes disagree, the VIX table is missing or too short, or the SPX surface's table
        (``surface.tau_max``) does not reach the condor's or a put spread's maturity.

    Notes
    -----
    Runs the compiled engine (:mod:`alvh.fastbook`, the same results to round-off) where
    :func:`alvh.fastbook.supported` says it applies, unless ``trace`` or ``ALVH_NUMPY_REFERENCE=1``;
    the numpy code below is the reference.
    """
    from alvh.switches import NUMPY_REFERENCE

    if not trace and not NUMPY_REFERENCE:
        from alvh import fastbook

        hedges = tuple(hedges)
        if fastbook.supported(spot, variance, vix, surface, market, condor, hedges, table, dt, regime,
                              measure_days)[0]:
            return fastbook.run_books_compiled(spot, variance, vix, surface, market, condor, hedges, table, dt,
                                               regime=regime, measure_days=measure_days)
    if spot.shape != variance.shape or spot.shape != vix.shape or spot.ndim != 2:
        raise ValueError("spot, variance and vix must be 2-D arrays of equal shape (n_paths, n_steps + 1)")
    n, t_len = spot.shape
    n_steps = t_len - 1
    spy = 1.0 / dt
    cap = market.capital
    hedges = tuple(hedges)
    if measure_days is None:
        measure_days = np.zeros(t_len, dtype=bool)
    if np.shape(measure_days) != (t_len,):
        raise ValueError(f"measure_days must have shape ({t_len},)")
    zeros = lambda: np.zeros(n)  # noqa: E731

    # ---- condor state
    c_open = np.zeros(n, dtype=bool)
    c_strikes = np.zeros((4, n))
    c_legs = np.zeros((4, n))     # leg marks (points)
    c_expiry = np.zeros(n, dtype=np.int64)
    c_credit, c_mark, c_qty, c_margin = zeros(), zeros(), zeros(), zeros()
    c_delta = np.full(n, np.nan)
    c_steps = max(dte_to_steps(condor.dte, spy), 1)
    c_steps_shift = condor.max_steps(spy)
    close_steps = dte_to_steps(condor.close_dte, spy) if condor.close_dte > 0 else 0
    tau_max = getattr(surface, "tau_max", None)
    spx_steps = [max(dte_to_steps(ly.dte_open, spy), 1) for h in hedges for ly in h.layers if ly.on_spx]
    need = max([c_steps_shift] + spx_steps) * dt
    if tau_max is not None and need > tau_max * (1.0 + 1e-9):
        raise ValueError(f"the SPX surface is tabulated to {tau_max:.4f} years; the strategies need {need:.4f}")
    if any(not ly.on_spx or ly.sizing == "bands" for h in hedges for ly in h.layers) and table is None:
        raise ValueError("VIX layers and 'bands' sizing need a VixOptionTable or MarkovVixTable")
    condor_pnl = np.zeros((n, t_len))
    condor_delta = np.full((n, t_len), np.nan)
    leg_pnl = np.zeros((4, n))
    condor_spread, condor_comm, condor_credit, contracts_sum, c_peak = zeros(), zeros(), zeros(), zeros(), zeros()
    n_condors, n_takes, n_stops, n_dte = (np.zeros(n, dtype=np.int64) for _ in range(4))
    fr = market.frictions
    trades = [] if trace else None

    ctx = _Context(market, condor, surface)
    books = [_Hedge(h, n, t_len, dt, table, ctx, trace) for h in hedges]
    leg_daily = np.zeros((4, n, t_len)) if trace else None
    rsi = {p: wilder_rsi(vix, p) for p in {h.rsi_period for h in hedges if h.rsi_exit > 0}}
    runlen = {ly.trigger_vix: _run_length(vix, ly.trigger_vix)
              for h in hedges for ly in h.layers if ly.trigger == "vix_sustained"}

    def log(t, idx, action, q, price):
        if trades is not None:
            for p, qq, pr in zip(idx, np.broadcast_to(q, idx.shape), np.broadcast_to(price, idx.shape)):
                trades.append((t, int(p), "condor", 0, action, float(qq), float(pr)))

    for t in range(t_len):
        s_t, v_t, x_t = spot[:, t], variance[:, t], vix[:, t]
        r_t = None if regime is None else regime[:, t]
        sub = (lambda ix: None) if r_t is None else (lambda ix: r_t[ix])
        last = t == n_steps
        decay_today = np.full(n, -np.inf)      # profit share of the condor marked today (before its trades)

        # ---------------- condor: mark, settle, exits
        if c_open.any():
            idx = np.flatnonzero(c_open)
            rem = c_expiry[idx] - t
            expiring = rem <= 0
            legs = np.zeros((4, idx.size))
            delta = np.full(idx.size, np.nan)
            if expiring.any():
                e = idx[expiring]
                legs[:, expiring] = _condor_legs_intrinsic(s_t[e], c_strikes[:, e])
            live = ~expiring
            if live.any():
                l_ = idx[live]
                _, delta[live], legs[:, live] = _condor_value(s_t[l_], v_t[l_], c_strikes[:, l_], rem[live] * dt,
                                                              surface, market, sub(l_))
            value = (_SGN * legs).sum(axis=0)
            q = c_qty[idx]
            leg_pnl[:, idx] -= _SGN * (legs - c_legs[:, idx]) * q * MULTIPLIER
            condor_pnl[idx, t] -= (value - c_mark[idx]) * q * MULTIPLIER
            c_mark[idx] = value
            c_legs[:, idx] = legs
            c_delta[idx] = delta
            decay_today[idx] = np.where(c_credit[idx] > 0, 1.0 - value / np.where(c_credit[idx] > 0, c_credit[idx], 1.0), 0.0)
            live_trade = live & (not last)     # on the horizon's last day positions are only marked
            take = live_trade & (value <= (1.0 - condor.profit_take) * c_credit[idx])
            stop = live_trade & ~take & (value >= condor.stop_multiple * c_credit[idx])
            at_dte = live_trade & ~take & ~stop & (rem <= close_steps)
            close = take | stop | at_dte
            if close.any():
                cl = idx[close]
                _charge(condor_pnl, condor_spread, condor_comm, cl, t,
                        fr.spx_option.spread_and_commission(legs[:, close], x_t[cl], fr.vix_ref, q[close]))
            n_takes[idx[take]] += 1
            n_stops[idx[stop]] += 1
            n_dte[idx[at_dte]] += 1
            for action, mask in (("take", take), ("stop", stop), ("dte_close", at_dte), ("expire", expiring)):
                log(t, idx[mask], action, q[mask], value[mask])
            shut = idx[close | expiring]
            c_open[shut] = False
            c_mark[shut] = 0.0
            c_margin[shut] = 0.0
            c_legs[:, shut] = 0.0
            c_delta[shut] = np.nan

        # ---------------- condor: entries on the schedule
        if not last and t % condor.entry_interval_days == 0:
            new = np.flatnonzero(~c_open)
            shifted = np.zeros(new.size, dtype=bool)
            if condor.time_shift and c_steps_shift > c_steps:
                shifted = x_t[new] > condor.time_shift_vix
            for grp, steps in ((new[~shifted], c_steps), (new[shifted], c_steps_shift)):
                if not grp.size:
                    continue
                tau = steps * dt
                s_n, v_n, r_n = s_t[grp], v_t[grp], sub(grp)
                kp = strike_for_delta(s_n, tau, v_n, -condor.short_delta, False, surface, market.rate, market.div,
                                      regime=r_n)
                kc = strike_for_delta(s_n, tau, v_n, condor.short_delta, True, surface, market.rate, market.div,
                                      regime=r_n)
                if condor.wing_delta > 0:
                    kpl = strike_for_delta(s_n, tau, v_n, -condor.wing_delta, False, surface, market.rate,
                                           market.div, regime=r_n)
                    kcl = strike_for_delta(s_n, tau, v_n, condor.wing_delta, True, surface, market.rate,
                                           market.div, regime=r_n)
                    kpl, kcl = np.minimum(kpl, kp - 5.0), np.maximum(kcl, kc + 5.0)
                else:
                    kpl, kcl = kp - condor.wing_width, kc + condor.wing_width
                strikes = np.stack((kpl, kp, kc, kcl))
                value, delta, legs = _condor_value(s_n, v_n, strikes, tau, surface, market, r_n)
                width = np.maximum(kp - kpl, kcl - kc)
                margin = condor_margin(width, value) * MULTIPLIER   # dollars per condor
                # a credit at or above the wing width would mean an arbitrage in the surface: no trade
                ok = (value > 0.0) & (margin > 0.0)
                q = np.where(ok, np.floor(condor.margin_fraction * cap / np.where(ok, margin, 1.0)), 0.0)
                ok &= q >= 1.0
                g, strikes, value, legs, q, margin, delta = (grp[ok], strikes[:, ok], value[ok], legs[:, ok], q[ok],
                                                              margin[ok], delta[ok])
                c_open[g] = True
                c_strikes[:, g] = strikes
                c_expiry[g] = t + steps
                c_credit[g] = value
                c_mark[g] = value
                c_legs[:, g] = legs
                c_delta[g] = delta
                c_qty[g] = q
                c_margin[g] = margin * q
                contracts_sum[g] += q
                condor_credit[g] += value * q * MULTIPLIER
                _charge(condor_pnl, condor_spread, condor_comm, g, t,
                        fr.spx_option.spread_and_commission(legs, x_t[g], fr.vix_ref, q))
                n_condors[g] += 1
                log(t, g, "open", q, value)
        np.maximum(c_peak, c_margin, out=c_peak)
        if leg_daily is not None:             # cumulative snapshot; differenced below
            leg_daily[:, :, t] = leg_pnl
        if measure_days[t]:
            condor_delta[c_open, t] = c_delta[c_open]

        # ---------------- hedge books
        if books:
            def vega_usd(ix, t=t, s_t=s_t, v_t=v_t, sub=sub):
                """Open condors' dollar vega per vol point on paths ``ix`` (0 where none is open)."""
                out = np.zeros(ix.size)
                o = c_open[ix]
                j = ix[o]
                if j.size:
                    g = surface_option(np.broadcast_to(s_t[j], (4, j.size)), c_strikes[:, j],
                                       np.maximum(c_expiry[j] - t, 1) * dt, np.broadcast_to(v_t[j], (4, j.size)),
                                       _IS_CALL, surface, market.rate, market.div,
                                       None if sub(j) is None else np.broadcast_to(sub(j), (4, j.size)))
                    # vega per 1.00 of vol / 100 = per vol point, times 100 dollars per point
                    # a short condor is short vega: -position vega > 0; long-vega states need no VIX hedge
                    out[o] = np.maximum((_SGN * g.vega).sum(axis=0), 0.0) * c_qty[j]
                return out

            cond = {"open": c_open, "profit_share": decay_today, "breakeven": c_strikes[1] - c_credit,
                    "margin": c_margin, "vega_usd": vega_usd, "delta": c_delta, "contracts": c_qty}
            for b in books:
                h = b.spec
                block = np.zeros(n, dtype=bool)
                if h.rsi_exit > 0:
                    r = rsi[h.rsi_period][:, t]
                    block = np.isfinite(r) & (r < h.rsi_exit)
                b.step(t, last, s_t, v_t, x_t, r_t, cond, block, runlen, bool(measure_days[t]), trades)

    return BookResult(
        condor_pnl=condor_pnl, condor_leg_pnl=leg_pnl, condor_delta=condor_delta,
        condor_spread_cost=condor_spread, condor_commission=condor_comm, condor_credit=condor_credit,
        n_condors=n_condors, n_profit_takes=n_takes, n_stops=n_stops, n_dte_closes=n_dte,
        condor_contracts=np.divide(contracts_sum, n_condors, out=np.zeros(n), where=n_condors > 0),
        condor_peak_capital=c_peak, hedges=[b.result(t_len) for b in books], trades=trades,
        condor_leg_pnl_daily=None if leg_daily is None else _daily_from_cumulative(leg_daily),
    )
