"""The replay at real VIX prices (alvh.realprices): the pricer against the raw bundled files and an
independent Black-76, and the engine seam against the real curve's day-by-day moves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from alvh.marketreplay import SMILE_RULES
from alvh.realdata import load
from alvh.realprices import RealVixPrices, real_curves, real_price_window, replay_periods
from alvh.strategy import HedgeSpec, LayerSpec, dte_to_steps

DT = 1.0 / 252.0
WINDOW = ("2018-01-02", "2018-04-30")     # holds 2018-02-05, the largest VIX futures move of the decade


@pytest.fixture(scope="module")
def curves():
    vix = load("vix").frame.loc[WINDOW[0]:WINDOW[1]]
    return real_curves(vix.index)


def _raw(day):
    """One day of the raw files: VIX close, M1..M7 settlements and the VVIX (points)."""
    fut = load("vix_futures").frame.loc[day]
    return (float(load("vix").frame.loc[day, "CLOSE"]), [float(fut[f"M{i}"]) for i in range(1, 8)],
            float(load("vvix").frame.loc[day, "VVIX"]))


def test_the_curve_passes_through_the_spot_vix_and_every_real_settlement(curves, tiny_prepared):
    px = RealVixPrices(curves, tiny_prepared.table, DT)
    for t in (0, 23, 24, len(curves) - 1):         # 2018-02-05 is day 23
        day = curves.index[t]
        vix, m, _ = _raw(day)
        view = px.on_day(t)
        ks = [int(curves.loc[day, f"k{i}"]) for i in range(1, 8)]
        assert view.futures(np.array([vix]), 0)[0] == pytest.approx(vix, abs=1e-12)
        got = [view.futures(np.array([vix]), k)[0] for k in ks]
        np.testing.assert_allclose(got, m, atol=1e-9)
        # halfway between M1 and M2 in trading days: the midpoint of the two settlements
        if (ks[1] - ks[0]) % 2 == 0:
            mid = view.futures(np.array([vix]), (ks[0] + ks[1]) // 2)[0]
            assert mid == pytest.approx(0.5 * (m[0] + m[1]), abs=1e-9)


def test_the_settlements_are_at_their_real_trading_days_to_expiry(curves):
    # 2018-02-05: the February VX contract settled on 2018-02-14 (Cboe), 7 NYSE sessions later (the
    # futures file's own days_to_expiration counts 6, to its last trading day, the session before
    # the settlement); the March contract on 2018-03-21, 24 sessions after 2018-02-14 (five weeks
    # less Presidents' Day, 2018-02-19)
    assert int(curves.loc["2018-02-05", "k1"]) == 7
    assert load("vix_futures").frame.loc["2018-02-05", "days_to_expiration"] + 1 == 7
    assert int(curves.loc["2018-02-05", "k2"]) == 7 + 24


@pytest.mark.parametrize("rule", SMILE_RULES)
def test_calls_are_black76_on_the_real_future_at_the_vvix_smile(curves, tiny_prepared, rule):
    px = RealVixPrices(curves, tiny_prepared.table, DT, rule)
    t, day = 23, curves.index[23]
    vix, m, vvix = _raw(day)
    k1 = int(curves.loc[day, "k1"])
    r = float(curves.loc[day, "rate"])
    j = px.strike_index(np.array([m[0] + 5.0, m[0] - 3.0]))
    k = px.strikes[j]
    got = px.on_day(t).call(np.full(2, vix), k1, j)
    tau = k1 / 252.0
    vol = rule.atm_ratio * vvix / 100.0 * (k / m[0]) ** rule.slope
    d1 = (np.log(m[0] / k) + 0.5 * vol**2 * tau) / (vol * np.sqrt(tau))        # Black (1976)
    want = np.exp(-r * tau) * (m[0] * norm.cdf(d1) - k * norm.cdf(d1 - vol * np.sqrt(tau)))
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # at expiry: the intrinsic value on the day's VIX
    np.testing.assert_allclose(px.on_day(t).call(np.full(2, vix), 0, j), np.maximum(vix - k, 0.0), atol=1e-12)


def test_away_from_the_real_vix_a_price_moves_as_the_models(curves, tiny_prepared):
    px = RealVixPrices(curves, tiny_prepared.table, DT)
    t = 10
    vix = float(curves["vix"].iloc[t])
    x = np.array([vix, vix + 2.0])
    got = px.on_day(t).futures(x, 30)
    model = tiny_prepared.table.futures(x, 30)
    assert got[1] - got[0] == pytest.approx(model[1] - model[0], rel=1e-12)
    assert model[1] - model[0] > 0.0


@pytest.mark.slow
def test_a_long_call_layer_earns_the_real_prices_daily_moves(curves, tiny_prepared):
    """The engine's daily P&L of a long 30-day VIX call layer (strike 20% over the future, budget-sized,
    rolled at 10 days), at real prices, against an independent reconstruction: the real curve
    interpolated from the raw settlements, the raw VVIX, Black-76 by scipy's normal CDF, the budget
    rule's quantity; every day without a trade must match."""
    from alvh.runner import replay

    layer = LayerSpec(instrument="call", trigger="always", dte_open=30.0, dte_roll=10.0, strike_otm=0.2)
    hedge = HedgeSpec(name="calls", layers=(layer,), rsi_exit=0.0, exit_multiple=0.0, deepest_layer_cap=1e6,
                      margin_share_cap=1e6)
    sc = dataclasses.replace(tiny_prepared.scenario, hedges=(hedge,))
    prep = dataclasses.replace(tiny_prepared, scenario=sc)
    dates = pd.DatetimeIndex(prep.data.dates)
    days = np.asarray((dates >= WINDOW[0]) & (dates <= WINDOW[1]))
    assert dates[days].equals(curves.index)
    res = replay(prep, table=RealVixPrices(curves, prep.table, prep.dt), days=days)
    pnl = res.hedge_pnl[1]

    o, r = dte_to_steps(30.0, 252), dte_to_steps(10.0, 252)
    spend = prep.market.capital * hedge.budget_pct_per_year / 100.0 * (o - r) / 252.0

    def call(t, n, k=None):               # the raw files' call of day t at n trading days
        vix, m, vvix = _raw(curves.index[t])
        ks = [0] + [int(curves[f"k{i}"].iloc[t]) for i in range(1, 8)]
        f = float(np.interp(n, ks, [vix] + m))
        k = np.rint(f * 1.2) if k is None else k
        tau, vol, rate = n / 252.0, vvix / 100.0, float(curves["rate"].iloc[t])
        d1 = (np.log(f / k) + 0.5 * vol**2 * tau) / (vol * np.sqrt(tau))
        return np.exp(-rate * tau) * (f * norm.cdf(d1) - k * norm.cdf(d1 - vol * np.sqrt(tau))), k

    price, k = call(0, o)
    rem, q, checked = o, spend / (price * 100.0), 0
    for t in range(1, len(curves)):
        rem -= 1
        now, _ = call(t, rem, k)
        if rem <= r:                        # roll day: sold at the mark (with costs), a new one bought
            price, k = call(t, o)
            rem, q = o, spend / (price * 100.0)
            continue
        want = q * 100.0 * (now - call(t - 1, rem + 1, k)[0])
        assert pnl[t] == pytest.approx(want, rel=1e-9, abs=1e-6), curves.index[t]
        checked += 1
    assert checked > 50
    # the replay's summary adds those days up, in % of capital
    tab = replay_periods(res, ["condor", "calls"], prep.market.capital, "real")
    feb = tab[(tab.strategy == "calls") & (tab.period == "2018-02")]["hedge_pnl_pct"].iloc[0]
    sel = (dates[days] >= "2018-02-01") & (dates[days] <= "2018-02-28")
    assert feb == pytest.approx(100.0 * pnl[sel].sum() / prep.market.capital, rel=1e-12)


def test_the_window_and_its_refusals():
    d = pd.DatetimeIndex(["2005-06-01", "2006-03-06", "2024-12-31", "2025-01-02"])
    assert real_price_window(d).tolist() == [False, True, True, False]
    with pytest.raises(ValueError, match="2006-03-06"):
        real_curves(pd.DatetimeIndex(["2005-06-01", "2005-06-02"]))


@pytest.mark.slow
def test_the_command_adds_every_strategy_of_a_scenario_and_refuses_a_bad_one(tmp_path):
    from conftest import TINY, alvh_cli

    def cli(*args):
        return alvh_cli("market-replay", *args, cwd=tmp_path)

    out = tmp_path / "replay.csv"
    ok = cli("--start", "2017-01-03", "--end", "2018-12-31", "--scenario", TINY, "--out", out)
    assert ok.returncode == 0, ok.stderr
    from conftest import widest_line

    assert widest_line(ok.stdout, tmp_path) <= 100
    table = pd.read_csv(out)
    mine = table[table["strategy"].str.startswith("tiny:")]
    assert set(mine["strategy"]) >= {"tiny:condor", "tiny:alvh", "tiny:vxth"}
    assert set(mine["pricing"]) == {"real", "model"}
    assert set(mine.loc[mine["pricing"] == "real", "smile"]) == {r.name for r in SMILE_RULES}
    # the tiny scenario's window is 2014-2018: those years, and no other
    years = set(mine.loc[mine["period_kind"] == "year", "period"].astype(str))
    assert years == {"2014", "2015", "2016", "2017", "2018"}
    # the condor alone has no hedge book; its whole-book P&L is the same under any VIX pricing
    c = mine[(mine["strategy"] == "tiny:condor") & (mine["period_kind"] == "whole")]
    assert (c["hedge_pnl_pct"] == 0).all() and c["pnl_pct"].nunique() == 1
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[simulation]\nn_paths = -3\n')
    refused = cli("--scenario", bad, "--out", tmp_path / "other.csv")
    assert refused.returncode == 2 and "bad.toml" in refused.stderr and not (tmp_path / "other.csv").exists()
    # a data window without a day of real VIX prices: refused before any work (no table printed)
    early = tmp_path / "early.toml"
    early.write_text('name = "early"\n[data]\nspx = "bundled:spx"\nvix = "bundled:vix"\nstart = 1995-01-03\n'
                     'end = 2003-12-31\n')
    refused = cli("--scenario", early, "--out", tmp_path / "other.csv")
    assert refused.returncode == 2 and "2006-03-06" in refused.stderr and refused.stdout == ""
