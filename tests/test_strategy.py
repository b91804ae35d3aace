"""Strategy rules pinned on hand-built paths, and the books' accounting identities."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from models.heston import FellerConditionWarning, HestonModel, HestonParams, model_vix, simulate_qe, variance_from_vix
from sim.pricing import VixOptionTable, spx_option
from sim.strategy import MULTIPLIER, AlvhSpec, CondorSpec, MarketSpec, dte_to_steps, run_books
from sim.surface import SsviSurface

DT = 1.0 / 252.0

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FellerConditionWarning)
    # close to the baseline calibration (README), so prices are realistic
    PARAMS = HestonParams(v0=0.0177, kappa=11.0, theta=0.0177, sigma=0.68, rho=-0.74, mu=0.076, lam=-9.8)

MARKET = MarketSpec()
SURFACE = SsviSurface(HestonModel(PARAMS), MARKET.smile)
NO_HEDGE = AlvhSpec(enabled=False)


@pytest.fixture(scope="module")
def table():
    return VixOptionTable(PARAMS, DT, 62, MARKET.rate)


def _paths(spot_days, vix_days):
    """(1, T+1) arrays from per-day SPX and VIX levels; variance from the VIX."""
    spot = np.asarray(spot_days, dtype=float)[None, :]
    vix = np.asarray(vix_days, dtype=float)[None, :]
    var = variance_from_vix(vix, PARAMS.kappa_q, PARAMS.theta_q)
    return spot, var, model_vix(var, PARAMS.kappa_q, PARAMS.theta_q)


def _condor_mark(spot, var, strikes, steps_left):
    """Independent mark of the short condor from four spx_option calls."""
    legs = [(strikes[0], False, -1.0), (strikes[1], False, 1.0), (strikes[2], True, 1.0), (strikes[3], True, -1.0)]
    total = 0.0
    for k, is_call, sign in legs:
        p, _ = spx_option(np.array([spot]), np.array([k]), steps_left * DT, np.array([var]), is_call,
                          SURFACE, MARKET.rate, MARKET.div)
        total += sign * float(p[0])
    return total


def _leg_prices(spot, var, strikes, steps_left):
    out = []
    for k, is_call in zip(strikes, (False, False, True, True)):
        p, _ = spx_option(np.array([spot]), np.array([k]), steps_left * DT, np.array([var]), is_call,
                          SURFACE, MARKET.rate, MARKET.div)
        out.append(float(p[0]))
    return out


def _condor_trade_cost(legs, vix, qty):
    """Half-spreads and commissions by the formula of sim.costs, written out independently."""
    c, ref = MARKET.frictions.spx_option, MARKET.frictions.vix_ref
    half = sum((c.min_half_spread + c.rel_half_spread * p) * (vix / ref) ** c.vix_elasticity for p in legs)
    return qty * (half * MULTIPLIER + 4 * c.commission)


def test_flat_path_takes_profit_on_the_first_day_the_mark_halves(table):
    n = 40
    spot, var, vix = _paths(np.full(n + 1, 2500.0), np.full(n + 1, 15.0))
    cs = CondorSpec(entry_interval_days=1000)  # only the day-0 condor
    book = run_books(spot, var, vix, SURFACE, MARKET, cs, NO_HEDGE, table, DT)
    assert book.n_condors[0] == 1 and book.n_profit_takes[0] == 1 and book.n_stops[0] == 0
    # recompute the day-0 strikes and the expected close day with an independent mark
    from sim.pricing import strike_for_delta

    steps = dte_to_steps(cs.dte)
    tau = steps * DT
    kp = strike_for_delta(spot[:, 0], tau, var[:, 0], -cs.short_delta, False, SURFACE, MARKET.rate, MARKET.div)[0]
    kc = strike_for_delta(spot[:, 0], tau, var[:, 0], cs.short_delta, True, SURFACE, MARKET.rate, MARKET.div)[0]
    strikes = (kp - cs.wing_width, kp, kc, kc + cs.wing_width)
    credit = _condor_mark(2500.0, var[0, 0], strikes, steps)
    # sized on the defined-risk margin: floor(0.5 * capital / ((width - credit) * 100))
    qty = np.floor(cs.margin_fraction * MARKET.capital / ((cs.wing_width - credit) * MULTIPLIER))
    assert book.condor_credit[0] == pytest.approx(credit * qty * MULTIPLIER, rel=1e-10)
    assert book.condor_contracts[0] == qty
    open_cost = _condor_trade_cost(_leg_prices(2500.0, var[0, 0], strikes, steps), 15.0, qty)
    assert book.condor_pnl[0, 0] == pytest.approx(-open_cost, rel=1e-10)
    marks = [_condor_mark(2500.0, var[0, 0], strikes, steps - t) for t in range(steps)]
    close_day = next(t for t, m in enumerate(marks) if m <= 0.5 * credit)
    close_cost = _condor_trade_cost(_leg_prices(2500.0, var[0, 0], strikes, steps - close_day), 15.0, qty)
    # closed that day (closing cost charged), flat afterwards
    expected_close_pnl = -(marks[close_day] - marks[close_day - 1]) * qty * MULTIPLIER - close_cost
    assert book.condor_pnl[0, close_day] == pytest.approx(expected_close_pnl, rel=1e-9)
    assert np.all(book.condor_pnl[0, close_day + 1:] == 0.0)
    # total P&L = credit kept minus the buy-back, minus opening and closing costs
    assert book.condor_pnl.sum() == pytest.approx(
        (credit - marks[close_day]) * qty * MULTIPLIER - open_cost - close_cost, rel=1e-9)
    assert book.condor_spread_cost[0] + book.condor_commission[0] == pytest.approx(open_cost + close_cost, rel=1e-10)
    assert book.condor_commission[0] == pytest.approx(2 * 4 * qty * MARKET.frictions.spx_option.commission)
    # capital in use peaks at the condor's margin (no hedge)
    assert book.peak_capital_used[0] == pytest.approx((cs.wing_width - credit) * qty * MULTIPLIER, rel=1e-10)


def test_rally_through_the_short_call_stops_that_day(table):
    n = 12
    levels = np.full(n + 1, 2500.0)
    levels[3:] = 2500.0 * 1.08
    spot, var, vix = _paths(levels, np.full(n + 1, 15.0))
    cs = CondorSpec(entry_interval_days=1000)
    book = run_books(spot, var, vix, SURFACE, MARKET, cs, NO_HEDGE, table, DT)
    assert book.n_stops[0] == 1 and book.n_profit_takes[0] == 0
    assert np.all(book.condor_pnl[0, 1:3] != 0.0)   # marked while open
    assert book.condor_pnl[0, 3] < 0.0
    assert np.all(book.condor_pnl[0, 4:] == 0.0)    # closed on day 3
    # the same path without the rally does not stop
    spot2, var2, vix2 = _paths(np.full(n + 1, 2500.0), np.full(n + 1, 15.0))
    book2 = run_books(spot2, var2, vix2, SURFACE, MARKET, cs, NO_HEDGE, table, DT)
    assert book2.n_stops[0] == 0


def test_hedge_opens_on_the_day_vix_crosses_16_with_a_40_40_20_budget_split(table):
    n = 12
    vix_days = np.full(n + 1, 14.0)
    vix_days[10:] = 18.0
    spot, var, vix = _paths(np.full(n + 1, 2500.0), vix_days)
    alvh = AlvhSpec()
    book = run_books(spot, var, vix, SURFACE, MARKET, CondorSpec(), alvh, table, DT)
    assert np.all(book.hedge_pnl[0, :10] == 0.0)
    assert book.hedge_pnl[0, 10] < 0.0  # the half-spreads of the first purchases
    # each layer spends budget * share * (steps between open and roll) * dt at entry
    spend = [
        MARKET.capital * alvh.budget_pct_per_year / 100 * w * (dte_to_steps(o) - dte_to_steps(r)) * DT
        for w, o, r in zip(alvh.allocation, alvh.dte_open, alvh.dte_roll)
    ]
    # by day 12 layer 1 (rolled every 2 steps) has been bought twice, layers 2 and 3 once
    assert book.hedge_premium_by_layer[1, 0] == pytest.approx(spend[1], rel=1e-12)
    assert book.hedge_premium_by_layer[2, 0] == pytest.approx(spend[2], rel=1e-12)
    per_year = [spend[i] / ((dte_to_steps(o) - dte_to_steps(r)) * DT)
                for i, (o, r) in enumerate(zip(alvh.dte_open, alvh.dte_roll))]
    assert np.allclose(np.array(per_year) / sum(per_year), alvh.allocation, rtol=1e-12)


def test_no_hedge_while_vix_stays_below_the_threshold(table):
    n = 30
    spot, var, vix = _paths(np.full(n + 1, 2500.0), np.full(n + 1, 15.9))
    book = run_books(spot, var, vix, SURFACE, MARKET, CondorSpec(), AlvhSpec(), table, DT)
    assert np.all(book.hedge_pnl == 0.0) and book.hedge_premium[0] == 0.0


def test_vix_call_held_to_expiry_settles_at_intrinsic(table):
    alvh = AlvhSpec(allocation=(1.0,), dte_open=(7.0,), dte_roll=(0.0,), activation_vix=16.0)
    steps = dte_to_steps(7.0)
    vix_days = np.full(steps + 1, 17.0)
    vix_days[steps] = 30.0  # expiry day, the horizon's last: nothing new is bought
    spot, var, vix = _paths(np.full(steps + 1, 2500.0), vix_days)
    book = run_books(spot, var, vix, SURFACE, MARKET, CondorSpec(), alvh, table, DT)
    fut = table.futures(vix[:, 0], steps)
    k = float(table.strikes[table.strike_index(fut * 1.2)][0])
    price0 = float(table.call(vix[:, 0], steps, table.strike_index(fut * 1.2))[0])
    qty = book.hedge_premium[0] / (price0 * MULTIPLIER)
    assert book.hedge_payoff[0] == pytest.approx((30.0 - k) * qty * MULTIPLIER, rel=1e-9)
    c, ref = MARKET.frictions.vix_option, MARKET.frictions.vix_ref
    half = (c.min_half_spread + c.rel_half_spread * price0) * (17.0 / ref) ** c.vix_elasticity
    assert book.hedge_spread_cost[0] == pytest.approx(half * qty * MULTIPLIER, rel=1e-12)
    assert book.hedge_commission[0] == pytest.approx(qty * c.commission, rel=1e-12)   # bought once, settled free


def test_hedge_pnl_equals_payoff_minus_premium_minus_spreads_on_simulated_paths(table):
    rng = np.random.default_rng(11)
    spot, var = simulate_qe(2500.0, 0.04, PARAMS.kappa, PARAMS.theta, PARAMS.sigma, PARAMS.rho, PARAMS.mu, DT, 126,
                            rng=rng, n_paths=200)
    vix = model_vix(var, PARAMS.kappa_q, PARAMS.theta_q)
    book = run_books(spot, var, vix, SURFACE, MARKET, CondorSpec(), AlvhSpec(), table, DT)
    lhs = book.hedge_pnl.sum(axis=1)
    rhs = book.hedge_payoff - book.hedge_premium - book.hedge_spread_cost - book.hedge_commission
    assert np.allclose(lhs, rhs, rtol=0, atol=1e-6)
    assert book.hedge_premium.sum() > 0 and book.n_condors.min() >= 1


def test_books_refuse_mismatched_shapes(table):
    spot, var, vix = _paths(np.full(5, 2500.0), np.full(5, 15.0))
    with pytest.raises(ValueError, match="equal shape"):
        run_books(spot, var[:, :-1], vix, SURFACE, MARKET, CondorSpec(), AlvhSpec(), table, DT)
    with pytest.raises(ValueError, match="VixOptionTable"):
        run_books(spot, var, vix, SURFACE, MARKET, CondorSpec(), AlvhSpec(), None, DT)
