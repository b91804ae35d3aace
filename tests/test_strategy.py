"""Strategy rules pinned on hand-built paths, and the books' accounting identities.

Most tests run one to a few hand-made paths (SPX and VIX levels per day, the variance backed out of
the VIX) through :func:`alvh.strategy.run_books` with ``trace=True`` and compare what the books did
(the trade log, the P&L arrays) with values computed here independently: SPX legs from
:func:`alvh.pricing.spx_option` calls, VIX options and futures read straight from the
:class:`~alvh.pricing.VixOptionTable`, costs from the formula of :mod:`alvh.costs` written out, the RSI
from a plain-Python Wilder recursion. On such paths the rules are deterministic, so the comparisons
are exact up to rounding (relative 1e-9), with no Monte Carlo tolerance.

References: J. W. Wilder, *New Concepts in Technical Trading Systems* (1978), ch. 6 (RSI);
F. Black, "The pricing of commodity contracts", J. Financial Economics 3 (1976) (Black-76 price and
delta of an option on a future).
"""

from __future__ import annotations

import math
import types
import warnings
from dataclasses import replace

import numpy as np
import pytest
from scipy import optimize, special

from alvh.models.heston import FellerConditionWarning, HestonModel, HestonParams, model_vix, simulate_qe, variance_from_vix
from alvh.pricing import VixOptionTable, spx_option, strike_for_delta
from alvh.strategy import (
    MULTIPLIER, CondorSpec, HedgeSpec, LayerSpec, MarketSpec, baseline_hedges, default_alvh_layers, dte_to_steps,
    run_books, wilder_rsi,
)
from alvh.surface import SsviSurface

DT = 1.0 / 252.0

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FellerConditionWarning)
    # close to the baseline calibration (README), so prices are realistic
    PARAMS = HestonParams(v0=0.0177, kappa=11.0, theta=0.0177, sigma=0.68, rho=-0.74, mu=0.076, lam=-9.8)

MARKET = MarketSpec()
SURFACE = SsviSurface(HestonModel(PARAMS), MARKET.smile)
CAP = MARKET.capital
ONE_CONDOR = CondorSpec(entry_interval_days=1000)   # only the day-0 condor
# a hedge with only the rule under test: no exits, no RSI, no caps
NO_RULES = dict(exit_multiple=0.0, rsi_exit=0.0, deepest_layer_cap=100.0, margin_share_cap=100.0)
C_STEPS = dte_to_steps(CondorSpec().dte)                              # 45 DTE -> 31 steps
C_STEPS_SHIFTED = dte_to_steps(CondorSpec().dte + CondorSpec().time_shift_days)   # 75 DTE -> 52 steps


@pytest.fixture(scope="module")
def table():
    return VixOptionTable(PARAMS, DT, 62, MARKET.rate)   # 90 DTE -> 62 steps: the deepest layer


# ------------------------------------------------------------------------------------------------
# helpers, independent of alvh.strategy
# ------------------------------------------------------------------------------------------------

def _paths(spot_days, vix_days):
    """(n_paths, T+1) arrays from per-day SPX and VIX levels (1-D: one path); variance from the VIX."""
    spot = np.atleast_2d(np.asarray(spot_days, dtype=float))
    vix = np.atleast_2d(np.asarray(vix_days, dtype=float))
    spot, vix = np.broadcast_arrays(spot, vix)
    var = variance_from_vix(vix, PARAMS.kappa_q, PARAMS.theta_q)
    return spot.copy(), var, model_vix(var, PARAMS.kappa_q, PARAMS.theta_q)


def _run(paths, table, condor=ONE_CONDOR, hedges=(), market=MARKET, **kw):
    spot, var, vix = paths
    return run_books(spot, var, vix, SURFACE, market, condor, list(hedges), table, DT, trace=True, **kw)


def _hedge(*layers, name="h", **kw):
    return HedgeSpec(name, name, "sweep", tuple(layers), **{**NO_RULES, **kw})


def _log(book, who=None, layer=None, action=None, path=None):
    """Trade-log rows ``(day, path, book, layer, action, contracts, price)`` that match."""
    return [r for r in book.trades
            if (who is None or r[2] == who) and (layer is None or r[3] == layer)
            and (action is None or r[4] == action) and (path is None or r[1] == path)]


def _days(rows):
    return [r[0] for r in rows]


def _condor_strikes(spot, var, steps, cs=CondorSpec(), market=MARKET):
    """Day-0 strikes (long put, short put, short call, long call) by the rule of CondorSpec."""
    tau = steps * DT
    s, v = np.array([spot]), np.array([var])
    kp = strike_for_delta(s, tau, v, -cs.short_delta, False, SURFACE, market.rate, market.div)[0]
    kc = strike_for_delta(s, tau, v, cs.short_delta, True, SURFACE, market.rate, market.div)[0]
    if cs.wing_delta > 0:
        kpl = strike_for_delta(s, tau, v, -cs.wing_delta, False, SURFACE, market.rate, market.div)[0]
        kcl = strike_for_delta(s, tau, v, cs.wing_delta, True, SURFACE, market.rate, market.div)[0]
        return min(kpl, kp - 5.0), kp, kc, max(kcl, kc + 5.0)
    return kp - cs.wing_width, kp, kc, kc + cs.wing_width


def _leg_prices(spot, var, strikes, steps_left):
    """Mid prices of the four condor legs from four independent spx_option calls."""
    out = []
    for k, is_call in zip(strikes, (False, False, True, True)):
        p, _ = spx_option(np.array([spot]), np.array([k]), steps_left * DT, np.array([var]), is_call,
                          SURFACE, MARKET.rate, MARKET.div)
        out.append(float(p[0]))
    return out


def _condor_mark(spot, var, strikes, steps_left):
    """Mid value of the short condor: short put + short call - long wings (points)."""
    lp, sp, sc, lc = _leg_prices(spot, var, strikes, steps_left)
    return sp + sc - lp - lc


def _cost(costs, mids, vix, qty):
    """Half-spreads plus commissions of one trade, the formula of alvh.costs written out:
    ``qty * (sum_legs min((a + b |mid|) (VIX/ref)^e, cap) * multiplier + n_legs * commission)``."""
    ref = MARKET.frictions.vix_ref
    half = sum(min((costs.min_half_spread + costs.rel_half_spread * abs(p)) * (vix / ref) ** costs.vix_elasticity,
                   costs.max_half_spread) for p in mids)
    return qty * (half * costs.multiplier + len(mids) * costs.commission)


def _call(table, vix, steps, strike):
    """VIX call (points) read from the table at an integer strike."""
    return float(table.call(np.array([float(vix)]), int(steps), int(round(strike)) - 1)[0])


def _fut(table, vix, steps):
    return float(table.futures(np.array([float(vix)]), int(steps))[0])


def _bs_vega(spot, strike, tau, vol):
    """Black-Scholes vega per 1.00 of volatility, ``S e^{-q tau} n(d1) sqrt(tau)``."""
    fwd = spot * math.exp((MARKET.rate - MARKET.div) * tau)
    sd = vol * math.sqrt(tau)
    d1 = (math.log(fwd / strike) + 0.5 * sd * sd) / sd
    return spot * math.exp(-MARKET.div * tau) * math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) * math.sqrt(tau)


def _rsi_reference(xs, period):
    """Wilder's RSI (1978, ch. 6) in plain Python: first averages are simple means of the first
    ``period`` changes, then ``avg = (avg * (period - 1) + today) / period``; 100 when no losses."""
    out = [math.nan] * len(xs)
    changes = [xs[i + 1] - xs[i] for i in range(len(xs) - 1)]
    if len(changes) < period:
        return out
    gain = sum(max(c, 0.0) for c in changes[:period]) / period
    loss = sum(max(-c, 0.0) for c in changes[:period]) / period

    def rsi(g, l_):
        return 100.0 if l_ == 0 else 100.0 - 100.0 / (1.0 + g / l_)

    out[period] = rsi(gain, loss)
    for day in range(period + 1, len(xs)):
        c = changes[day - 1]
        gain = (gain * (period - 1) + max(c, 0.0)) / period
        loss = (loss * (period - 1) + max(-c, 0.0)) / period
        out[day] = rsi(gain, loss)
    return out


def _black76_delta(price, fwd, strike, tau, rate):
    """Black (1976): ``C = e^{-r tau} (F N(d1) - K N(d2))``; the implied volatility by root
    finding, then the delta on the future ``N(d1)`` (the undiscounted "forward delta" the strategy
    documents). None where no volatility reproduces the price."""
    def c(sig):
        sd = sig * math.sqrt(tau)
        d1 = (math.log(fwd / strike) + 0.5 * sd * sd) / sd
        return math.exp(-rate * tau) * (fwd * special.ndtr(d1) - strike * special.ndtr(d1 - sd)) - price
    lo, hi = 1e-4, 20.0
    if not c(lo) < 0.0 < c(hi):
        return None
    sig = optimize.brentq(c, lo, hi, xtol=1e-14, rtol=1e-14)
    sd = sig * math.sqrt(tau)
    return float(special.ndtr((math.log(fwd / strike) + 0.5 * sd * sd) / sd))


# ------------------------------------------------------------------------------------------------
# the condor
# ------------------------------------------------------------------------------------------------

def test_flat_path_takes_profit_on_the_first_day_the_mark_halves(table):
    n = 40
    paths = _paths(np.full(n + 1, 2500.0), np.full(n + 1, 15.0))
    var0 = paths[1][0, 0]
    cs = ONE_CONDOR
    measure = np.zeros(n + 1, dtype=bool)
    measure[[0, 5]] = True
    book = _run(paths, table, cs, measure_days=measure)
    assert book.n_condors[0] == 1 and book.n_profit_takes[0] == 1 and book.n_stops[0] == 0
    strikes = _condor_strikes(2500.0, var0, C_STEPS)
    credit = _condor_mark(2500.0, var0, strikes, C_STEPS)
    # sized on the defined-risk margin: floor(0.5 * capital / ((width - credit) * 100))
    qty = np.floor(cs.margin_fraction * CAP / ((cs.wing_width - credit) * MULTIPLIER))
    assert _log(book, "condor", action="open") == [(0, 0, "condor", 0, "open", qty, pytest.approx(credit, rel=1e-12))]
    assert book.condor_credit[0] == pytest.approx(credit * qty * MULTIPLIER, rel=1e-10)
    assert book.condor_contracts[0] == qty
    open_cost = _cost(MARKET.frictions.spx_option, _leg_prices(2500.0, var0, strikes, C_STEPS), 15.0, qty)
    assert book.condor_pnl[0, 0] == pytest.approx(-open_cost, rel=1e-10)
    marks = [_condor_mark(2500.0, var0, strikes, C_STEPS - t) for t in range(C_STEPS)]
    close_day = next(t for t, m in enumerate(marks) if m <= 0.5 * credit)
    assert _days(_log(book, "condor", action="take")) == [close_day]
    close_cost = _cost(MARKET.frictions.spx_option, _leg_prices(2500.0, var0, strikes, C_STEPS - close_day), 15.0, qty)
    # closed that day (closing cost charged), flat afterwards
    expected_close_pnl = -(marks[close_day] - marks[close_day - 1]) * qty * MULTIPLIER - close_cost
    assert book.condor_pnl[0, close_day] == pytest.approx(expected_close_pnl, rel=1e-9)
    assert np.all(book.condor_pnl[0, close_day + 1:] == 0.0)
    # total P&L = credit kept minus the buy-back, minus opening and closing costs
    assert book.condor_pnl.sum() == pytest.approx(
        (credit - marks[close_day]) * qty * MULTIPLIER - open_cost - close_cost, rel=1e-9)
    assert book.condor_spread_cost[0] + book.condor_commission[0] == pytest.approx(open_cost + close_cost, rel=1e-10)
    assert book.condor_commission[0] == pytest.approx(2 * 4 * qty * MARKET.frictions.spx_option.commission)
    # capital in use peaks at the condor's margin
    assert book.condor_peak_capital[0] == pytest.approx((cs.wing_width - credit) * qty * MULTIPLIER, rel=1e-10)
    # delta per condor on measured days: dV/dS of the short condor, -(short legs - long wings)
    for t in (0, 5):
        d = [float(spx_option(np.array([2500.0]), np.array([k]), (C_STEPS - t) * DT, np.array([var0]), c,
                              SURFACE, MARKET.rate, MARKET.div)[1][0])
             for k, c in zip(strikes, (False, False, True, True))]
        assert book.condor_delta[0, t] == pytest.approx(-(d[1] + d[2] - d[0] - d[3]), rel=1e-9)
    assert np.isnan(book.condor_delta[0, [1, 2, 3, 4, 6]]).all()


def test_condor_stop_at_twice_the_credit_closes_that_day_not_before_not_after(table):
    n = 25
    levels = 2500.0 * 1.006 ** np.clip(np.arange(n + 1) - 2, 0, None)   # flat 3 days, then +0.6% a day
    paths = _paths(levels, np.full(n + 1, 15.0))
    var0 = paths[1][0, 0]
    book = _run(paths, table)
    strikes = _condor_strikes(2500.0, var0, C_STEPS)
    credit = _condor_mark(2500.0, var0, strikes, C_STEPS)
    marks = [_condor_mark(levels[t], var0, strikes, C_STEPS - t) for t in range(n + 1)]
    stop_day = next(t for t in range(1, n + 1) if marks[t] >= 2.0 * credit)
    assert 3 < stop_day < n
    assert all(0.5 * credit < m < 2.0 * credit for m in marks[1:stop_day])   # no exit before
    assert book.n_stops[0] == 1 and book.n_profit_takes[0] == 0 and book.n_dte_closes[0] == 0
    (row,) = _log(book, "condor", action="stop")
    qty = row[5]
    assert row[0] == stop_day and row[6] == pytest.approx(marks[stop_day], rel=1e-12)
    close_cost = _cost(MARKET.frictions.spx_option, _leg_prices(levels[stop_day], var0, strikes, C_STEPS - stop_day),
                       15.0, qty)
    assert book.condor_pnl[0, stop_day] == pytest.approx(
        -(marks[stop_day] - marks[stop_day - 1]) * qty * MULTIPLIER - close_cost, rel=1e-9)
    assert np.all(book.condor_pnl[0, 1:stop_day] != 0.0)      # marked while open
    assert np.all(book.condor_pnl[0, stop_day + 1:] == 0.0)   # closed on the stop day
    # the same path without the rally does not stop
    flat = _run(_paths(np.full(n + 1, 2500.0), np.full(n + 1, 15.0)), table)
    assert flat.n_stops[0] == 0 and not _log(flat, "condor", action="stop")


def test_no_closing_cost_on_the_last_day_of_the_horizon(table):
    n = 25
    levels = 2500.0 * 1.006 ** np.clip(np.arange(n + 1) - 2, 0, None)
    paths = _paths(levels, np.full(n + 1, 15.0))
    var0 = paths[1][0, 0]
    strikes = _condor_strikes(2500.0, var0, C_STEPS)
    credit = _condor_mark(2500.0, var0, strikes, C_STEPS)
    marks = [_condor_mark(levels[t], var0, strikes, C_STEPS - t) for t in range(n + 1)]
    last = next(t for t in range(1, n + 1) if marks[t] >= 2.0 * credit)     # the stop day is the horizon's last
    book = _run(tuple(a[:, :last + 1] for a in paths), table)
    qty = book.condor_contracts[0]
    assert book.condor_pnl[0, last] == pytest.approx(-(marks[last] - marks[last - 1]) * qty * MULTIPLIER, rel=1e-9)


def test_condor_held_to_expiry_settles_at_intrinsic_without_costs(table):
    cs = replace(ONE_CONDOR, profit_take=1.0, stop_multiple=1e6)
    var0 = float(variance_from_vix(15.0, PARAMS.kappa_q, PARAMS.theta_q))
    strikes = _condor_strikes(2500.0, var0, C_STEPS)
    settle = strikes[1] - 20.0                       # between the long and the short put
    n = C_STEPS + 2
    levels = np.concatenate((np.linspace(2500.0, settle, C_STEPS + 1), [settle, settle]))
    paths = _paths(levels, np.full(n + 1, 15.0))
    book = _run(paths, table, cs)
    credit = _condor_mark(2500.0, var0, strikes, C_STEPS)
    qty = book.condor_contracts[0]
    assert _log(book, "condor", action="expire") == [(C_STEPS, 0, "condor", 0, "expire", qty, pytest.approx(20.0))]
    before = _condor_mark(levels[C_STEPS - 1], var0, strikes, 1)
    # settled at intrinsic, no spread, no commission
    assert book.condor_pnl[0, C_STEPS] == pytest.approx(-(20.0 - before) * qty * MULTIPLIER, rel=1e-9)
    assert np.all(book.condor_pnl[0, C_STEPS + 1:] == 0.0)
    open_cost = _cost(MARKET.frictions.spx_option, _leg_prices(2500.0, var0, strikes, C_STEPS), 15.0, qty)
    assert book.condor_spread_cost[0] + book.condor_commission[0] == pytest.approx(open_cost, rel=1e-10)
    assert book.condor_pnl.sum() == pytest.approx((credit - 20.0) * qty * MULTIPLIER - open_cost, rel=1e-9)
    # per leg: the short put pays its intrinsic value, every other leg expires worthless
    legs0 = _leg_prices(2500.0, var0, strikes, C_STEPS)
    # long legs: (value at expiry - paid), short legs: (received - value at expiry)
    expected = np.array([0.0 - legs0[0], legs0[1] - 20.0, legs0[2] - 0.0, 0.0 - legs0[3]]) * qty * MULTIPLIER
    np.testing.assert_allclose(book.condor_leg_pnl[:, 0], expected, rtol=1e-9, atol=1e-6)


def test_close_dte_closes_with_that_many_calendar_days_left(table):
    cs = replace(ONE_CONDOR, profit_take=1.0, stop_multiple=1e6, close_dte=10.0)
    n = C_STEPS + 2
    paths = _paths(np.full(n + 1, 2500.0), np.full(n + 1, 15.0))
    var0 = paths[1][0, 0]
    book = _run(paths, table, cs)
    day = C_STEPS - dte_to_steps(10.0)                 # first day with <= 10 DTE left: 31 - 7 = 24
    assert _days(_log(book, "condor", action="dte_close")) == [day]
    assert book.n_dte_closes[0] == 1 and book.n_profit_takes[0] == 0 and book.n_stops[0] == 0
    strikes = _condor_strikes(2500.0, var0, C_STEPS)
    qty = book.condor_contracts[0]
    close_cost = _cost(MARKET.frictions.spx_option, _leg_prices(2500.0, var0, strikes, C_STEPS - day), 15.0, qty)
    move = _condor_mark(2500.0, var0, strikes, C_STEPS - day) - _condor_mark(2500.0, var0, strikes, C_STEPS - day + 1)
    assert book.condor_pnl[0, day] == pytest.approx(-move * qty * MULTIPLIER - close_cost, rel=1e-9)
    assert np.all(book.condor_pnl[0, day + 1:] == 0.0)


def test_time_shift_sells_the_next_monthly_cycle_when_vix_is_above_16(table):
    cs = replace(ONE_CONDOR, profit_take=1.0, stop_multiple=1e6)
    n = C_STEPS_SHIFTED + 1
    vix_levels = np.array([[17.0], [16.0], [15.0]]) * np.ones(n + 1)
    paths = _paths(np.full(n + 1, 2500.0), vix_levels)
    book = _run(paths, table, cs)
    assert C_STEPS_SHIFTED == dte_to_steps(45.0 + 30.0) == 52 and C_STEPS == 31
    # VIX 17 > 16: expiry 75 calendar days out; VIX 16 (not above) and 15: 45 days
    assert _days(_log(book, "condor", action="expire", path=0)) == [C_STEPS_SHIFTED]
    assert _days(_log(book, "condor", action="expire", path=1)) == [C_STEPS]
    assert _days(_log(book, "condor", action="expire", path=2)) == [C_STEPS]
    for p, steps in ((0, C_STEPS_SHIFTED), (1, C_STEPS)):
        var0 = paths[1][p, 0]
        credit = _condor_mark(2500.0, var0, _condor_strikes(2500.0, var0, steps), steps)
        assert _log(book, "condor", action="open", path=p)[0][6] == pytest.approx(credit, rel=1e-12)
    # without time-shifting the VIX-17 entry takes the front cycle
    plain = _run(tuple(a[:1] for a in paths), table, replace(cs, time_shift=False))
    assert _days(_log(plain, "condor", action="expire")) == [C_STEPS]


def test_wing_delta_strikes_the_wings_by_delta_and_sizes_on_the_wider_wing(table):
    cs = replace(ONE_CONDOR, wing_delta=0.05)
    paths = _paths(np.full(4, 2500.0), np.full(4, 15.0))
    var0 = paths[1][0, 0]
    book = _run(paths, table, cs)
    strikes = _condor_strikes(2500.0, var0, C_STEPS, cs)
    assert strikes[1] - strikes[0] != 50.0 or strikes[3] - strikes[2] != 50.0     # not the 50-point wings
    credit = _condor_mark(2500.0, var0, strikes, C_STEPS)
    width = max(strikes[1] - strikes[0], strikes[3] - strikes[2])
    qty = np.floor(cs.margin_fraction * CAP / ((width - credit) * MULTIPLIER))
    assert _log(book, "condor", action="open") == [(0, 0, "condor", 0, "open", qty, pytest.approx(credit, rel=1e-12))]
    assert book.condor_peak_capital[0] == pytest.approx((width - credit) * qty * MULTIPLIER, rel=1e-10)


def test_margin_sizing_and_no_trade_when_the_credit_reaches_the_wing_width(table):
    paths = _paths(np.full(6, 2500.0), np.full(6, 15.0))
    var0 = paths[1][0, 0]
    # 45-delta shorts: a fat credit, still below the 50-point width
    cs = replace(ONE_CONDOR, short_delta=0.45)
    strikes = _condor_strikes(2500.0, var0, C_STEPS, cs)
    credit = _condor_mark(2500.0, var0, strikes, C_STEPS)
    assert 25.0 < credit < cs.wing_width
    book = _run(paths, table, cs)
    assert book.condor_contracts[0] == np.floor(0.5 * CAP / ((cs.wing_width - credit) * MULTIPLIER))
    # 70-delta shorts (strikes crossed): credit >= width, a free lunch on paper; the book refuses it
    cs = replace(ONE_CONDOR, short_delta=0.7)
    strikes = _condor_strikes(2500.0, var0, C_STEPS, cs)
    assert _condor_mark(2500.0, var0, strikes, C_STEPS) >= cs.wing_width
    book = _run(paths, table, cs)
    assert book.n_condors[0] == 0 and not book.trades and np.all(book.condor_pnl == 0.0)


# ------------------------------------------------------------------------------------------------
# ALVH triggers and strikes
# ------------------------------------------------------------------------------------------------

def _crossing_paths(n=14):
    vix = np.full(n + 1, 14.0)
    vix[10:] = 18.0                                   # crosses 16 on day 10
    return _paths(np.full(n + 1, 2500.0), vix)


def test_vix_crossing_16_opens_layers_2_and_3_that_day_and_not_before(table):
    paths = _crossing_paths()
    alvh = HedgeSpec()
    assert alvh.layers == default_alvh_layers()
    book = _run(paths, table, CondorSpec(), [alvh])
    for layer, (dte_open, dte_roll, alloc) in ((2, (45.0, 30.0, 0.4)), (3, (90.0, 60.0, 0.2))):
        rows = _log(book, "alvh", layer)
        assert rows and min(_days(rows)) == 10
        (first,) = [r for r in rows if r[0] == 10 and r[4] == "open"]
        steps = dte_to_steps(dte_open)
        k = round(_fut(table, 18.0, steps) * 1.2)         # 20% above the future of its expiry
        assert first[6] == pytest.approx(_call(table, 18.0, steps, k), rel=1e-12)
        if layer == 3:  # budget sizing: premium = 1.5%/yr x allocation x capital x holding period
            spend = CAP * 1.5 / 100 * alloc * (steps - dte_to_steps(dte_roll)) * DT
            assert first[5] * first[6] * MULTIPLIER == pytest.approx(spend, rel=1e-9)
        else:           # layer 2 is vega-sized by default (seed 004); the sizing itself is tested below
            assert alvh.layers[1].sizing == "vega" and first[5] > 0
    # the half-spread and commission of the two purchases on day 10 (layer 1 may trade too)
    day10 = [r for r in _log(book, "alvh") if r[0] == 10 and r[4] == "open" and r[3] in (2, 3)]
    assert len(day10) == 2


def test_stagger_days_lets_one_layer_enter_a_day(table):
    book = _run(_crossing_paths(), table, CondorSpec(), [replace(HedgeSpec(), stagger_days=1)])
    opens = _log(book, "alvh", action="open")
    assert min(_days(_log(book, "alvh", 2, "open"))) == 10
    assert min(_days(_log(book, "alvh", 3, "open"))) == 11        # not 10: layer 2 entered that day
    assert len(_days(opens)) == len(set(_days(opens)))             # at most one entry a day


def test_no_vix_layer_while_vix_stays_below_the_threshold(table):
    n = 30
    book = _run(_paths(np.full(n + 1, 2500.0), np.full(n + 1, 15.9)), table, CondorSpec(), [HedgeSpec()])
    assert not _log(book, "alvh", 2) and not _log(book, "alvh", 3) and not _log(book, "alvh", 4)
    h = book.hedges[0]
    assert np.all(h.premium_by_layer[1:] == 0.0) and np.all(h.layer_pnl[1:] == 0.0)


def test_vix_sustained_opens_the_cash_press_on_the_fifth_day_at_26(table):
    vix = np.array([20, 20, 20, 27, 27, 27, 27, 25.9, 27, 27, 27, 27, 27, 27, 27], dtype=float)
    paths = _paths(np.full(vix.size, 2500.0), vix)
    book = _run(paths, table, CondorSpec(), [HedgeSpec()])
    rows = _log(book, "alvh", 4)
    # days 3-6: four days >= 26, then a break; days 8-12: the fifth day in a row is day 12
    assert rows and rows[0][:5] == (12, 0, "alvh", 4, "open")
    steps = dte_to_steps(14.0)
    k1 = round(_fut(table, 27.0, steps) * 1.1)
    credit = _call(table, 27.0, steps, k1) - _call(table, 27.0, steps, k1 + 5)
    assert rows[0][6] == pytest.approx(-credit, rel=1e-12)           # a short position, marked negative
    # budget sizing of a credit spread: maximum loss = 1.5%/yr x 0.2 x capital x holding period
    spend = CAP * 1.5 / 100 * 0.2 * (steps - dte_to_steps(3.0)) * DT
    assert rows[0][5] * (5.0 - credit) * MULTIPLIER == pytest.approx(spend, rel=1e-9)
    assert book.hedges[0].premium_by_layer[3, 0] == pytest.approx(-credit * rows[0][5] * MULTIPLIER, rel=1e-9)


def test_backwardation_opens_only_while_the_30_day_future_is_above_the_60_day_one(table):
    """The 'backwardation' trigger against the table's own curve: in a one-factor Heston the curve is
    inverted above its crossover level and upward-sloping below it, so a path that jumps from a VIX of
    12 to 40 opens the layer on the first day at 40 and never before."""
    m1, m2 = dte_to_steps(30.0), dte_to_steps(60.0)
    assert _fut(table, 12.0, m1) < _fut(table, 12.0, m2) and _fut(table, 40.0, m1) > _fut(table, 40.0, m2)
    layer = LayerSpec(1.0, 7.0, 4.0, "call", "otm", 0.2, trigger="backwardation")
    up = _run(_paths(np.full(12, 2500.0), np.r_[np.full(6, 12.0), np.full(6, 40.0)]), table, ONE_CONDOR,
              [_hedge(layer)])
    assert _days(_log(up, "h", 1, "open"))[:1] == [6]
    calm = _run(_paths(np.full(12, 2500.0), np.full(12, 12.0)), table, ONE_CONDOR, [_hedge(layer)])
    assert not _log(calm, "h", 1, "open")
    assert "60-day" in _hedge(layer).rules()[1]


def test_backwardation_needs_the_60_day_future_in_the_table():
    short = VixOptionTable(PARAMS, DT, 20, MARKET.rate)          # 20 steps < the 60-day future's 41
    layer = LayerSpec(1.0, 7.0, 4.0, "call", "otm", 0.2, trigger="backwardation")
    paths = _paths(np.full(5, 2500.0), np.full(5, 20.0))
    with pytest.raises(ValueError, match="needs 41"):
        _run(paths, short, ONE_CONDOR, [_hedge(layer)])


def _decay_paths(n=30, vix=15.0):
    return _paths(np.full(n + 1, 2500.0), np.full(n + 1, vix))


@pytest.mark.parametrize("beta", [-5.0, -3.0])
def test_condor_decay_opens_layer_1_at_the_breakeven_strike(table, beta):
    paths = _decay_paths()
    var0 = paths[1][0, 0]
    market = replace(MARKET, spot_vol_beta=beta)
    book = _run(paths, table, ONE_CONDOR, [HedgeSpec()], market=market)
    strikes = _condor_strikes(2500.0, var0, C_STEPS)
    credit = _condor_mark(2500.0, var0, strikes, C_STEPS)
    shares = [1.0 - _condor_mark(2500.0, var0, strikes, C_STEPS - t) / credit for t in range(C_STEPS)]
    day = next(t for t, s in enumerate(shares) if s >= 0.4)
    take = next(t for t, s in enumerate(shares) if s >= 0.5)
    assert 0 < day < take and shares[day - 1] < 0.4
    rows = _log(book, "alvh", 1, "open")
    assert rows and rows[0][0] == day                                 # the first day, not before
    # strike = rint(VIX (BE / S) ** beta), BE = short put - credit
    k = round(15.0 * ((strikes[1] - credit) / 2500.0) ** beta)
    steps = dte_to_steps(7.0)
    price = rows[0][6]
    assert price == pytest.approx(_call(table, 15.0, steps, k), rel=1e-12)
    assert price != pytest.approx(_call(table, 15.0, steps, k - 1), rel=1e-6)
    assert price != pytest.approx(_call(table, 15.0, steps, k + 1), rel=1e-6)
    # the decay is read at the day's mark, so the take day itself still counts; none after it
    # (the condor is gone and entry_interval_days keeps it closed)
    assert all(r[0] <= take for r in rows)


def test_breakeven_strike_falls_back_to_otm_without_a_condor(table):
    # no condor can open (credit >= width), so layer 1 with the breakeven rule and an 'always'
    # trigger strikes 20% above the future instead
    layer = replace(default_alvh_layers()[0], allocation=1.0, trigger="always")
    paths = _decay_paths(n=3)
    book = _run(paths, table, replace(ONE_CONDOR, short_delta=0.7), [_hedge(layer)])
    assert book.n_condors[0] == 0
    steps = dte_to_steps(7.0)
    row = _log(book, "h", 1, "open")[0]
    assert row[0] == 0
    assert row[6] == pytest.approx(_call(table, 15.0, steps, round(_fut(table, 15.0, steps) * 1.2)), rel=1e-12)


def test_exit_multiple_sells_a_layer_the_day_its_value_doubles(table):
    layer = LayerSpec(1.0, 45.0, 30.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=16.0)
    vix = np.array([17.0, 17.5, 18.0, 19.0, 20.5, 22.0, 23.5, 25.0, 26.0, 27.0])
    paths = _paths(np.full(vix.size, 2500.0), vix)
    book = _run(paths, table, ONE_CONDOR, [_hedge(layer, exit_multiple=2.0)])
    steps = dte_to_steps(45.0)
    k = round(_fut(table, 17.0, steps) * 1.2)
    values = [_call(table, vix[t], steps - t, k) for t in range(vix.size)]
    day = next(t for t, v in enumerate(values) if v >= 2.0 * values[0])
    assert 1 < day < steps - dte_to_steps(30.0) and day < vix.size - 2     # before the roll and the horizon
    rows = _log(book, "h", 1)
    assert rows[0][:5] == (0, 0, "h", 1, "open") and rows[0][6] == pytest.approx(values[0], rel=1e-12)
    exits = _log(book, "h", 1, "exit_multiple")
    assert exits[0][0] == day and exits[0][6] == pytest.approx(values[day], rel=1e-12)
    assert not [r for r in rows if 0 < r[0] < day]                     # nothing between entry and exit
    # not bought back the day it was sold; the trigger still holds, so the next day
    assert day not in _days(_log(book, "h", 1, "open")) and day + 1 in _days(_log(book, "h", 1, "open"))
    # without the rule the layer is held
    held = _run(paths, table, ONE_CONDOR, [_hedge(layer)])
    assert _days(_log(held, "h", 1)) == [0]


def test_exit_multiple_buys_back_a_credit_spread_at_twice_the_credit(table):
    layer = LayerSpec(0.2, 14.0, 3.0, "short_call_spread", "otm", 0.1, spread_width=5.0, trigger="always")
    vix = np.array([20.0, 20.0, 21.0, 23.0, 25.0, 27.0, 29.0, 29.0])
    paths = _paths(np.full(vix.size, 2500.0), vix)
    book = _run(paths, table, ONE_CONDOR, [_hedge(layer, exit_multiple=2.0)])
    steps = dte_to_steps(14.0)
    k1 = round(_fut(table, 20.0, steps) * 1.1)
    cost = [_call(table, vix[t], steps - t, k1) - _call(table, vix[t], steps - t, k1 + 5) for t in range(vix.size)]
    day = next(t for t, c in enumerate(cost) if c >= 2.0 * cost[0])
    assert 0 < day < steps - dte_to_steps(3.0) and day < vix.size - 1
    rows = _log(book, "h", 1)
    assert rows[0][:5] == (0, 0, "h", 1, "open") and rows[0][6] == pytest.approx(-cost[0], rel=1e-12)
    q = rows[0][5]
    assert q * (5.0 - cost[0]) * MULTIPLIER == pytest.approx(CAP * 1.5 / 100 * 0.2 * 8 * DT, rel=1e-9)
    (ex,) = [r for r in rows if r[4] == "exit_multiple"]
    assert ex[0] == day and ex[6] == pytest.approx(-cost[day], rel=1e-12)
    h = book.hedges[0]
    # bought back at mid: layer P&L to that day = (credit - buy-back) x q x 100 - both trades' costs
    vc = MARKET.frictions.vix_option
    legs = lambda t: (_call(table, vix[t], steps - t, k1), _call(table, vix[t], steps - t, k1 + 5))  # noqa: E731
    costs = _cost(vc, legs(0), vix[0], q) + _cost(vc, legs(day), vix[day], q)
    assert h.layer_pnl_daily[0, 0, :day + 1].sum() == pytest.approx((cost[0] - cost[day]) * q * MULTIPLIER - costs,
                                                                    rel=1e-9)
    # peak capital: the condor's margin plus the spread's maximum loss
    assert h.peak_capital[0] == pytest.approx(book.condor_peak_capital[0] + q * (5.0 - cost[0]) * MULTIPLIER, rel=1e-9)


def test_an_exit_of_one_layer_does_not_block_the_roll_of_another(table):
    l1 = LayerSpec(0.5, 7.0, 4.0, "call", "otm", 0.2, trigger="always")
    l2 = LayerSpec(0.5, 45.0, 30.0, "call", "otm", 0.2, trigger="always")
    vix = np.array([17.0, 18.0, 19.0, 21.0, 25.0, 25.0, 25.0])
    book = _run(_paths(np.full(vix.size, 2500.0), vix), table, ONE_CONDOR, [_hedge(l1, l2, exit_multiple=2.0)])
    # layer 1 (opened day 0, 5 steps) rolls on day 4, the day layer 2 doubles
    assert 4 in _days(_log(book, "h", 1, "roll")) and _days(_log(book, "h", 2, "exit_multiple")) == [4]
    assert 4 in _days(_log(book, "h", 1, "open"))          # replaced the same day, as documented for rolls


# ------------------------------------------------------------------------------------------------
# RSI
# ------------------------------------------------------------------------------------------------

def test_wilder_rsi_matches_a_plain_python_wilder_recursion():
    rng = np.random.default_rng(3)
    x = 20.0 + np.cumsum(rng.normal(0.0, 1.0, (3, 80)), axis=1)
    for period in (21, 5, 1):
        got = wilder_rsi(x, period)
        for p in range(3):
            ref = np.array(_rsi_reference(list(x[p]), period))
            assert np.isnan(got[p, :period]).all() and np.isnan(ref[:period]).all()
            np.testing.assert_allclose(got[p, period:], ref[period:], rtol=1e-12, atol=1e-10)
    # rising only: no losses, RSI 100; falling only: 0; too short: all NaN
    np.testing.assert_array_equal(wilder_rsi(np.arange(30.0)[None, :], 21)[0, 21:], 100.0)
    np.testing.assert_allclose(wilder_rsi(-np.arange(30.0)[None, :], 21)[0, 21:], 0.0, atol=1e-12)
    assert np.isnan(wilder_rsi(np.ones((2, 21)), 21)).all()
    with pytest.raises(ValueError):
        wilder_rsi(np.ones(30), 21)
    with pytest.raises(ValueError):
        wilder_rsi(np.ones((1, 30)), 0)


def _rsi_vix_path():
    """VIX 20/20.2 back and forth for 22 days (RSI about 50), then down 0.4 a day (still above 16)
    until the RSI is below 30, then up again."""
    osc = [20.0 + (0.2 if i % 2 else 0.0) for i in range(22)]
    fall = [osc[-1] - 0.4 * (i + 1) for i in range(9)]
    rise = [fall[-1] + 0.8 * (i + 1) for i in range(8)]
    return np.array(osc + fall + rise)


def test_rsi_below_30_sells_every_layer_that_day_and_blocks_entries(table):
    vix_days = _rsi_vix_path()
    paths = _paths(np.full(vix_days.size, 2500.0), vix_days)
    rsi = _rsi_reference(list(paths[2][0]), 21)
    low = [t for t, r in enumerate(rsi) if r == r and r < 30.0]
    cross = low[0]
    assert 21 < cross and rsi[cross - 1] >= 30.0 and min(vix_days[cross:]) > 16.0
    book = _run(paths, table, CondorSpec(), [HedgeSpec()])
    held = set()                                        # layers held at the end of each day
    held_before = None
    for t in range(vix_days.size):
        for r in _log(book, "alvh"):
            if r[0] == t:
                held.discard(r[3]) if r[4] != "open" else held.add(r[3])
        if t == cross - 1:
            held_before = set(held)
    assert held_before >= {2, 3}                        # the calls bought at VIX >= 16
    sold = _log(book, "alvh")
    on_cross = [r for r in sold if r[0] == cross]
    assert sorted(r[3] for r in on_cross) == sorted(held_before)
    assert all(r[4] == "rsi_exit" for r in on_cross)
    assert not [r for r in sold if r[4] == "rsi_exit" and r[0] != cross]    # nothing left to sell after
    opens = _log(book, "alvh", action="open")
    assert not [r for r in opens if r[0] in low]        # nothing opened while RSI < 30
    first_back = next(t for t in range(cross, vix_days.size) if rsi[t] >= 30.0)
    assert {2, 3} <= {r[3] for r in opens if r[0] == first_back}   # VIX >= 16: back the first day RSI >= 30


# ------------------------------------------------------------------------------------------------
# sizing and caps
# ------------------------------------------------------------------------------------------------

THREE = ((0.4, 7.0, 4.0), (0.4, 45.0, 30.0), (0.2, 90.0, 60.0))


def test_vega_sizing_splits_the_condor_vega_40_40_20(table):
    layers = [LayerSpec(a, o, r, "call", "otm", 0.2, trigger="always", sizing="vega") for a, o, r in THREE]
    paths = _paths(np.full(3, 2500.0), np.full(3, 15.0))
    var0 = paths[1][0, 0]
    book = _run(paths, table, ONE_CONDOR, [_hedge(*layers, vega_ratio=0.5)])
    # the condor's dollar vega per vol point: |sum of signed leg vegas| / 100 x $100 x contracts
    strikes = _condor_strikes(2500.0, var0, C_STEPS)
    tau = C_STEPS * DT
    fwd = 2500.0 * math.exp((MARKET.rate - MARKET.div) * tau)
    vegas = [_bs_vega(2500.0, k, tau, float(SURFACE.implied_vol(np.log(k / fwd), tau, var0))) for k in strikes]
    qc = book.condor_contracts[0]
    condor_vega = abs(vegas[1] + vegas[2] - vegas[0] - vegas[3]) / 100.0 * MULTIPLIER * qc
    dollars = []
    for i, (alloc, dte_open, _) in enumerate(THREE):
        (row,) = _log(book, "h", i + 1, "open")
        assert row[0] == 0
        steps = dte_to_steps(dte_open)
        k = round(_fut(table, 15.0, steps) * 1.2)
        # dV/dVIX from the table, central difference of half a point
        dv = (_call(table, 15.5, steps, k) - _call(table, 14.5, steps, k)) / 1.0
        assert row[6] == pytest.approx(_call(table, 15.0, steps, k), rel=1e-12)
        dollars.append(row[5] * MULTIPLIER * dv)
        assert dollars[-1] == pytest.approx(0.5 * alloc * condor_vega, rel=1e-9)
    np.testing.assert_allclose(np.array(dollars) / sum(dollars), [0.4, 0.4, 0.2], rtol=1e-9)


def test_budget_sizing_spends_budget_times_allocation_times_holding_period(table):
    layers = [LayerSpec(a, o, r, "call", "otm", 0.2, trigger="always") for a, o, r in THREE]
    book = _run(_paths(np.full(3, 2500.0), np.full(3, 15.0)), table, ONE_CONDOR,
                [_hedge(*layers, budget_pct_per_year=1.5)])
    h = book.hedges[0]
    for i, (alloc, dte_open, dte_roll) in enumerate(THREE):
        spend = CAP * 0.015 * alloc * (dte_to_steps(dte_open) - dte_to_steps(dte_roll)) * DT
        (row,) = _log(book, "h", i + 1, "open")
        assert row[5] * row[6] * MULTIPLIER == pytest.approx(spend, rel=1e-9)
        assert h.premium_by_layer[i, 0] == pytest.approx(spend, rel=1e-9)
    # the annual rate splits 40/40/20: spend / holding period in proportion to the allocations
    per_year = h.premium_by_layer[:, 0] / [(dte_to_steps(o) - dte_to_steps(r)) * DT for _, o, r in THREE]
    np.testing.assert_allclose(per_year / per_year.sum(), [0.4, 0.4, 0.2], rtol=1e-9)
    assert np.all(h.n_cap_bound == 0)


TWO = (LayerSpec(0.5, 45.0, 30.0, "call", "otm", 0.2, trigger="always"),
       LayerSpec(0.5, 90.0, 60.0, "call", "otm", 0.2, trigger="always"))
RISK_CAPITAL = CondorSpec().margin_fraction * CAP
SPEND = [CAP * 0.015 * 0.5 * (dte_to_steps(o) - dte_to_steps(r)) * DT for o, r in ((45.0, 30.0), (90.0, 60.0))]


@pytest.mark.parametrize("share", [0.5, 1.0 - 1e-6, 1.0 + 1e-6, 2.0])
def test_deepest_layer_cap_binds_exactly_when_the_uncapped_size_exceeds_it(table, share):
    cap = share * SPEND[1] / RISK_CAPITAL            # the cap as a share of risk capital
    h = _hedge(*TWO, deepest_layer_cap=cap, margin_share_cap=100.0)
    assert h.deepest_layer == 1
    book = _run(_paths(np.full(3, 2500.0), np.full(3, 15.0)), table, ONE_CONDOR, [h])
    r = book.hedges[0]
    binds = share < 1.0
    assert r.premium_by_layer[1, 0] == pytest.approx(cap * RISK_CAPITAL if binds else SPEND[1], rel=1e-9)
    assert r.n_cap_bound[:, 0].tolist() == [0, int(binds)]
    assert r.premium_by_layer[0, 0] == pytest.approx(SPEND[0], rel=1e-9)     # the other layer is not capped


@pytest.mark.parametrize("total", [0.5, 1.0 - 1e-6, 1.0 + 1e-6, 2.0])
def test_margin_share_cap_binds_on_the_total(table, total):
    limit = SPEND[0] + total * SPEND[1]
    h = _hedge(*TWO, deepest_layer_cap=100.0, margin_share_cap=limit / RISK_CAPITAL)
    book = _run(_paths(np.full(3, 2500.0), np.full(3, 15.0)), table, ONE_CONDOR, [h])
    r = book.hedges[0]
    binds = total < 1.0
    # layer 2 enters first and fits; layer 3 gets what is left under the cap
    assert r.premium_by_layer[0, 0] == pytest.approx(SPEND[0], rel=1e-9)
    assert r.premium_by_layer[1, 0] == pytest.approx(total * SPEND[1] if binds else SPEND[1], rel=1e-9)
    assert r.premium_by_layer[:, 0].sum() <= limit * (1 + 1e-12)
    assert r.n_cap_bound[:, 0].tolist() == [0, int(binds)]
    assert r.peak_capital[0] == pytest.approx(book.condor_peak_capital[0] + r.premium_by_layer[:, 0].sum(), rel=1e-9)


def test_margin_share_cap_below_the_first_layer_leaves_nothing_for_the_next(table):
    limit = 0.5 * SPEND[0]
    h = _hedge(*TWO, deepest_layer_cap=100.0, margin_share_cap=limit / RISK_CAPITAL)
    book = _run(_paths(np.full(3, 2500.0), np.full(3, 15.0)), table, ONE_CONDOR, [h])
    r = book.hedges[0]
    assert r.premium_by_layer[0, 0] == pytest.approx(limit, rel=1e-9) and r.n_cap_bound[0, 0] == 1
    assert r.premium_by_layer[1, 0] == 0.0 and r.n_entries[1, 0] == 0 and not _log(book, "h", 2)


def test_vxth_bands_spend_12_or_6_percent_a_year_by_the_future_and_nothing_above_50(table):
    vxth = baseline_hedges()[1]
    assert vxth.name == "vxth"
    levels = np.array([9.5, 17.0, 35.0, 60.0])
    paths = _paths(np.full(3, 2500.0), levels[:, None] * np.ones(3))
    book = _run(paths, table, ONE_CONDOR, [vxth])
    steps = dte_to_steps(30.0)
    hold = steps * DT                                    # held to expiry: dte_roll = 0
    for p, x in enumerate(levels):
        f = _fut(table, x, steps)
        pct = 12.0 if 15.0 <= f < 30.0 else 6.0 if 30.0 <= f < 50.0 else 0.0
        assert (pct, p) in ((0.0, 0), (12.0, 1), (6.0, 2), (0.0, 3))     # one path per band
        assert book.hedges[0].premium_by_layer[0, p] == pytest.approx(CAP * pct / 100 * hold, rel=1e-9)
        assert bool(_log(book, "vxth", 1, "open", p)) == (pct > 0)


def test_delta_strike_rule_picks_the_listed_strike_nearest_30_black76_delta(table):
    vxth = baseline_hedges()[1]
    levels = np.array([17.0, 35.0])
    book = _run(_paths(np.full(2, 2500.0), levels[:, None] * np.ones(2)), table, ONE_CONDOR, [vxth])
    steps = dte_to_steps(30.0)
    tau = steps * DT
    for p, x in enumerate(levels):
        f = _fut(table, x, steps)
        deltas = {k: _black76_delta(_call(table, x, steps, k), f, float(k), tau, MARKET.rate)
                  for k in range(max(1, int(f) - 10), int(f) + 30)}
        deltas = {k: d for k, d in deltas.items() if d is not None}
        k_best = min(deltas, key=lambda k: abs(deltas[k] - 0.3))
        (row,) = _log(book, "vxth", 1, "open", p)
        assert row[6] == pytest.approx(_call(table, x, steps, k_best), rel=1e-12)


def test_a_put_spread_wider_than_its_strike_is_a_put_with_its_short_leg_at_5_points(table):
    """A width past the long strike floors the short strike at one tick (5 points, worth nothing at a
    spot of 2,500) instead of a negative strike, whose NaN price would skip the entry."""
    spread = replace(baseline_hedges()[2], layers=(replace(baseline_hedges()[2].layers[0], spread_width=9000.0),))
    spot_days = np.full(4, 2500.0)
    paths = _paths(spot_days, np.full(4, 15.0))
    var = paths[1][0]
    book = _run(paths, table, ONE_CONDOR, [spread])
    steps = dte_to_steps(45.0)
    k1 = strike_for_delta(np.array([2500.0]), steps * DT, var[:1], -0.25, False, SURFACE, MARKET.rate,
                          MARKET.div)[0]
    put = [float(spx_option(np.array([2500.0]), np.array([k]), steps * DT, var[:1], False, SURFACE, MARKET.rate,
                            MARKET.div)[0][0]) for k in (k1, 5.0)]
    assert put[1] < 1e-12
    (row,) = _log(book, "spx_put_spread", 1, "open")
    assert row[0] == 0 and row[6] == pytest.approx(put[0] - put[1], rel=1e-12)


def test_spx_put_spread_values_equal_independent_spx_option_calls(table):
    spread = baseline_hedges()[2]
    assert spread.name == "spx_put_spread"
    spot_days = np.array([2500.0, 2480.0, 2455.0, 2470.0, 2440.0, 2450.0])
    vix_days = np.array([15.0, 16.0, 17.0, 16.5, 18.0, 17.5])
    paths = _paths(spot_days, vix_days)
    var = paths[1][0]
    book = _run(paths, table, ONE_CONDOR, [spread])
    steps = dte_to_steps(45.0)
    k1 = strike_for_delta(np.array([2500.0]), steps * DT, var[:1], -0.25, False, SURFACE, MARKET.rate,
                          MARKET.div)[0]
    k2 = k1 - 100.0

    def legs(t):
        return [float(spx_option(np.array([spot_days[t]]), np.array([k]), (steps - t) * DT, var[t:t + 1], False,
                                 SURFACE, MARKET.rate, MARKET.div)[0][0]) for k in (k1, k2)]

    values = [legs(t)[0] - legs(t)[1] for t in range(spot_days.size)]
    (row,) = _log(book, "spx_put_spread", 1)
    q = row[5]
    assert row[:5] == (0, 0, "spx_put_spread", 1, "open") and row[6] == pytest.approx(values[0], rel=1e-12)
    spend = CAP * 0.015 * 1.0 * (steps - dte_to_steps(21.0)) * DT
    assert q * values[0] * MULTIPLIER == pytest.approx(spend, rel=1e-9)
    h = book.hedges[0]
    daily = h.layer_pnl_daily[0, 0]
    assert daily[0] == pytest.approx(-_cost(MARKET.frictions.spx_option, legs(0), 15.0, q), rel=1e-9)
    for t in range(1, spot_days.size):
        assert daily[t] == pytest.approx((values[t] - values[t - 1]) * q * MULTIPLIER, rel=1e-9)
    assert h.payoff[0] == pytest.approx(values[-1] * q * MULTIPLIER, rel=1e-9)    # the final mark, at mid


def test_vix_call_held_to_expiry_settles_at_intrinsic(table):
    layer = LayerSpec(1.0, 7.0, 0.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=16.0)
    steps = dte_to_steps(7.0)
    vix_days = np.full(steps + 1, 17.0)
    vix_days[steps] = 30.0   # expiry day, the horizon's last: nothing new is bought
    book = _run(_paths(np.full(steps + 1, 2500.0), vix_days), table, ONE_CONDOR, [_hedge(layer)])
    h = book.hedges[0]
    k = round(_fut(table, 17.0, steps) * 1.2)
    price0 = _call(table, 17.0, steps, k)
    (row,) = _log(book, "h", 1, "open")
    qty = row[5]
    assert row[6] == pytest.approx(price0, rel=1e-12)
    assert h.premium[0] == pytest.approx(price0 * qty * MULTIPLIER, rel=1e-12)
    assert _log(book, "h", 1, "settle") == [(steps, 0, "h", 1, "settle", qty, pytest.approx(30.0 - k))]
    assert h.payoff[0] == pytest.approx((30.0 - k) * qty * MULTIPLIER, rel=1e-9)
    vc = MARKET.frictions.vix_option
    half = min((vc.min_half_spread + vc.rel_half_spread * price0) * (17.0 / MARKET.frictions.vix_ref)
               ** vc.vix_elasticity, vc.max_half_spread)
    assert h.spread_cost[0] == pytest.approx(half * qty * MULTIPLIER, rel=1e-12)
    assert h.commission[0] == pytest.approx(qty * vc.commission, rel=1e-12)      # bought once, settled free
    assert h.pnl.sum() == pytest.approx(h.payoff[0] - h.premium[0] - h.spread_cost[0] - h.commission[0], rel=1e-12)


# ------------------------------------------------------------------------------------------------
# accounting on simulated paths
# ------------------------------------------------------------------------------------------------

def test_accounting_identities_on_simulated_heston_paths(table):
    rng = np.random.default_rng(11)
    n_paths, n_steps = 48, 126
    spot, var = simulate_qe(2500.0, 0.03, PARAMS.kappa, PARAMS.theta, PARAMS.sigma, PARAMS.rho, PARAMS.mu, DT,
                            n_steps, rng=rng, n_paths=n_paths)
    vix = model_vix(var, PARAMS.kappa_q, PARAMS.theta_q)
    future = _hedge(LayerSpec(1.0, 45.0, 30.0, "future", "otm", trigger="vix_above", trigger_vix=16.0,
                              sizing="vega"), name="future")
    hedges = [HedgeSpec(), *baseline_hedges(), future]
    book = run_books(spot, var, vix, SURFACE, MARKET, CondorSpec(), hedges, table, DT, trace=True)
    scale = 1e-9 * CAP
    # condor: legs' mark-to-mid minus costs is the daily P&L; the daily leg P&L adds up per leg
    np.testing.assert_allclose(book.condor_leg_pnl.sum(axis=0) - book.condor_spread_cost - book.condor_commission,
                               book.condor_pnl.sum(axis=1), rtol=0, atol=scale)
    np.testing.assert_allclose(book.condor_leg_pnl_daily.sum(axis=2), book.condor_leg_pnl, rtol=0, atol=scale)
    for counter, action in ((book.n_condors, "open"), (book.n_profit_takes, "take"), (book.n_stops, "stop"),
                            (book.n_dte_closes, "dte_close")):
        np.testing.assert_array_equal(counter, np.bincount([r[1] for r in _log(book, "condor", action=action)],
                                                           minlength=n_paths))
    # condor commissions by formula: 4 legs x contracts x $1 on every trade before expiry
    comm = np.zeros(n_paths)
    for r in _log(book, "condor"):
        if r[4] != "expire":
            comm[r[1]] += 4 * r[5] * MARKET.frictions.spx_option.commission
    np.testing.assert_allclose(book.condor_commission, comm, rtol=1e-12)
    assert book.n_condors.min() >= 1 and book.n_profit_takes.sum() > 0
    for spec, h in zip(hedges, book.hedges):
        assert h.name == spec.name
        # the hedge book: mark-to-mid plus settlement minus premium minus costs
        np.testing.assert_allclose(h.pnl.sum(axis=1), h.payoff - h.premium - h.spread_cost - h.commission,
                                   rtol=0, atol=scale)
        np.testing.assert_allclose(h.layer_pnl.sum(axis=0), h.pnl.sum(axis=1), rtol=0, atol=scale)
        np.testing.assert_allclose(h.layer_pnl_daily.sum(axis=2), h.layer_pnl, rtol=0, atol=scale)
        np.testing.assert_allclose(h.layer_pnl_daily.sum(axis=0), h.pnl, rtol=0, atol=scale)
        np.testing.assert_allclose(h.premium_by_layer.sum(axis=0), h.premium, rtol=1e-12)
        for i in range(len(spec.layers)):
            np.testing.assert_array_equal(
                h.n_entries[i], np.bincount([r[1] for r in _log(book, spec.name, i + 1, "open")], minlength=n_paths))
        assert h.n_entries.sum() > 0
        assert np.all(h.peak_capital >= book.condor_peak_capital - 1e-6)
        assert np.all((h.active_share >= 0.0) & (h.active_share <= 1.0))
    assert book.hedges[-1].premium.sum() == 0.0 and np.any(book.hedges[-1].payoff != 0.0)   # futures: no premium


# ------------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------------

def test_books_refuse_bad_inputs(table):
    spot, var, vix = _paths(np.full(5, 2500.0), np.full(5, 15.0))
    args = (SURFACE, MARKET, CondorSpec())
    with pytest.raises(ValueError, match="equal shape"):
        run_books(spot, var[:, :-1], vix, *args, [HedgeSpec()], table, DT)
    with pytest.raises(ValueError, match="VixOptionTable"):
        run_books(spot, var, vix, *args, [HedgeSpec()], None, DT)
    with pytest.raises(ValueError, match="VIX table covers 10 steps"):
        run_books(spot, var, vix, *args, [HedgeSpec()], types.SimpleNamespace(max_steps=10), DT)
    with pytest.raises(ValueError, match="measure_days"):
        run_books(spot, var, vix, *args, [], table, DT, measure_days=np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="SPX surface is tabulated"):
        run_books(spot, var, vix, types.SimpleNamespace(tau_max=0.1), MARKET, CondorSpec(), [], table, DT)
    # the condor alone needs no VIX table
    assert run_books(spot, var, vix, *args, [], None, DT).n_condors[0] == 1


@pytest.mark.parametrize("layers, kw, match", [
    ((), {}, "at least one layer"),
    ((LayerSpec(instrument="put"),), {}, "instrument"),
    ((LayerSpec(trigger="vix_below"),), {}, "trigger"),
    ((LayerSpec(dte_open=30.0, dte_roll=30.0),), {}, "rolls at"),
    ((LayerSpec(instrument="future"),), {}, "size it by 'vega'"),
    ((LayerSpec(instrument="spx_put_spread", sizing="vega"),), {}, "by 'budget' or 'bands'"),
    ((LayerSpec(instrument="spx_put_spread", strike_rule="breakeven"),), {}, "not for SPX puts"),
    ((LayerSpec(sizing="bands"),), {}, "needs budget_bands"),
    ((LayerSpec(0.5), LayerSpec(0.4)), {}, "must sum to 1"),
])
def test_hedge_spec_validation(layers, kw, match):
    with pytest.raises(ValueError, match=match):
        HedgeSpec(layers=layers, **kw)


def test_bands_sizing_on_an_spx_layer_without_a_vix_table_is_refused(table):
    h = _hedge(LayerSpec(1.0, 45.0, 21.0, "spx_put_spread", "delta", strike_delta=0.25, spread_width=100.0,
                         trigger="always", sizing="bands"), budget_bands=((15.0, 30.0, 12.0),))
    with pytest.raises(ValueError):
        _run(_paths(np.full(3, 2500.0), np.full(3, 15.0)), None, ONE_CONDOR, [h])


def test_options_quoted_below_min_price_are_not_bought(table):
    # a 7-DTE call 100% above the future at VIX 15 is worth far less than one 0.05 tick
    far = LayerSpec(1.0, 7.0, 4.0, "call", "otm", 1.0, trigger="always")
    paths = _paths(np.full(4, 2500.0), np.full(4, 15.0))
    steps = dte_to_steps(7.0)
    k = np.rint(_fut(table, 15.0, steps) * 2.0)
    assert _call(table, 15.0, steps, k) < 0.05
    book = _run(paths, table, ONE_CONDOR, [_hedge(far)])
    assert not _log(book, "h", action="open")
    # with the floor at zero the same rule buys it, and its costs dwarf its premium
    book = _run(paths, table, ONE_CONDOR, [_hedge(far, min_price=0.0)])
    h = book.hedges[0]
    assert _log(book, "h", action="open") and h.spread_cost[0] + h.commission[0] > 5 * h.premium[0]


def test_entries_blocked_entirely_by_a_cap_are_counted(table):
    # a cap far below one contract's worth still leaves a fractional position; a zero room blocks
    lay = LayerSpec(1.0, 45.0, 30.0, "call", "otm", 0.2, trigger="always")
    paths = _paths(np.full(3, 2500.0), np.full(3, 17.0))
    book = _run(paths, table, ONE_CONDOR, [_hedge(lay, margin_share_cap=1e-12)])
    h = book.hedges[0]
    assert h.n_cap_bound[0, 0] >= 1
    assert h.premium[0] <= 1e-12 * RISK_CAPITAL * (1 + 1e-9)


def test_a_short_credit_spread_cannot_be_sized_by_vega():
    with pytest.raises(ValueError, match="short credit spread is sized by 'budget' or 'bands'"):
        HedgeSpec(layers=(LayerSpec(1.0, 45.0, 30.0, "call"),
                          LayerSpec(0.2, 14.0, 3.0, "short_call_spread", sizing="vega")))


def test_condor_decay_fires_for_a_1dte_condor_at_its_expiry(table):
    # a 1DTE condor opened daily expires and is replaced at each close: its decay is read at the
    # mark before the replacement, so layer 1 (decay >= 0.4) opens on the first expiry day with
    # the condor out of the money (all of the credit kept)
    daily = CondorSpec(dte=1.0, entry_interval_days=1, time_shift=False)
    layer = replace(default_alvh_layers()[0], allocation=1.0, strike_rule="otm", strike_otm=0.0)
    book = _run(_decay_paths(n=6, vix=20.0), table, daily, [_hedge(layer, min_price=0.0)])
    assert _days(_log(book, "condor", action="expire"))[:1] == [1]
    assert _days(_log(book, "h", 1, "open"))[:1] == [1]


def test_stagger_does_not_block_a_roll_replacement(table):
    # with stagger_days = 1, a layer that rolls is replaced the same day even when another layer
    # entered that day; the roll is not a new entry
    l1 = LayerSpec(0.5, 7.0, 4.0, "call", "otm", 0.2, trigger="always")
    l2 = LayerSpec(0.5, 45.0, 30.0, "call", "otm", 0.2, trigger="always")
    book = _run(_paths(np.full(12, 2500.0), np.full(12, 18.0)), table, ONE_CONDOR,
                [_hedge(l1, l2, stagger_days=1)])
    opens1 = _days(_log(book, "h", 1, "open"))
    rolls1 = _days(_log(book, "h", 1, "roll"))
    assert _days(_log(book, "h", 2, "open"))[0] == 1                 # layer 2 waits one day
    assert rolls1 and all(d in opens1 for d in rolls1)                # every roll replaced that day
