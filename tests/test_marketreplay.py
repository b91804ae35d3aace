"""Tests for sim/marketreplay.py: VIX hedges at real prices.

References: the VX contract's P&L telescopes to (final settlement - entry settlement) over its life
(Cboe Futures Exchange VX specifications: $1,000 per point, settlement at the special opening
quotation, here the VIX open); Black-76 against a direct quadrature of the lognormal payoff; the VXTH
rule (Cboe VXTH methodology: 1% of the portfolio a month in 30-delta one-month calls for a front
future of 15-30, 0.5% for 30-50) re-derived from the raw CSV files read here with pandas.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from alvh.marketreplay import (
    EPISODES,
    SMILE_RULES,
    black76_call,
    long_futures_daily,
    market_replay,
    strike_for_call_delta,
    vxth_trades,
)
from alvh.realdata import bundled_path


def _raw(name: str, date_col: str, fmt: str) -> pd.DataFrame:
    """A bundled file read directly with pandas (not through alvh's loader)."""
    frame = pd.read_csv(bundled_path(name))
    frame.index = pd.to_datetime(frame.pop(date_col), format=fmt)
    return frame


def test_black76_matches_a_quadrature_of_the_lognormal_payoff():
    f, k, tau, vol, r = 18.0, 22.0, 28 / 365, 0.9, 0.03
    sd = vol * math.sqrt(tau)

    def payoff(z):
        return max(f * math.exp(sd * z - 0.5 * sd * sd) - k, 0.0) * stats.norm.pdf(z)

    ref = math.exp(-r * tau) * integrate.quad(payoff, -12, 12, points=[(math.log(k / f) + 0.5 * sd * sd) / sd])[0]
    assert float(black76_call(f, k, tau, vol, r)) == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("rule", SMILE_RULES, ids=[r.name for r in SMILE_RULES])
def test_the_strike_has_the_asked_delta(rule):
    f, tau, vvix, r = 16.0, 20 / 252, 95.0, 0.02
    k = strike_for_call_delta(f, tau, vvix, r, 0.30, rule)
    vol = float(rule.vol(vvix, k, f))
    h = 1e-5                                  # dC/dF at the strike's own (sticky-strike) vol
    delta = (float(black76_call(f + h, k, tau, vol, r)) - float(black76_call(f - h, k, tau, vol, r))) / (2 * h)
    assert delta == pytest.approx(0.30, abs=1e-6) and k > f


def test_long_futures_pnl_telescopes_to_each_contracts_final_minus_entry_settlement():
    daily = long_futures_daily("2017-06-01", "2018-06-30")
    fut = _raw("vix_futures", "Date", "%Y-%m-%d").loc["2017-06-01":"2018-06-30"]
    vix_open = _raw("vix", "DATE", "%m/%d/%Y")["OPEN"]
    contracts = daily["contract"].iloc[1:].unique()
    assert len(contracts) == 14             # June 2017 .. July 2018 contracts
    for c in contracts:
        days = daily.index[daily["contract"] == c]
        entry_day = fut.index[fut.index.get_loc(days[0]) - 1]        # bought at the close before its first day
        settled = days[-1] == pd.Timestamp(c)
        end_value = vix_open.loc[pd.Timestamp(c)] if settled else fut.loc[days[-1], "M1"]
        total = daily.loc[days, "pnl_points"].sum()
        assert total == pytest.approx(end_value - fut.loc[entry_day, "M1"], abs=1e-9), c
    # 2018-02-05 (VIX 17.31 -> 37.32): the February contract gained 10.17 points that day
    assert daily.loc["2018-02-05", "pnl_points"] == pytest.approx(fut.loc["2018-02-05", "M1"] - fut.loc["2018-02-02", "M1"])


def test_vxth_follows_the_published_rule_on_the_raw_files():
    tr = vxth_trades("2007-01-01", "2009-12-31")
    vix_open = _raw("vix", "DATE", "%m/%d/%Y")["OPEN"]
    m1 = _raw("vix_futures", "Date", "%Y-%m-%d")["M1"]
    assert len(tr) >= 34
    for row in tr.itertuples():
        f = m1.loc[row.trade_date]
        assert row.future == f
        want = 1.0 if 15 <= f < 30 else 0.5 if 30 <= f <= 50 else 0.0
        assert row.budget_pct == want
        if want:
            payoff = max(vix_open.loc[row.expiry] - row.strike, 0.0)
            assert row.payoff == pytest.approx(payoff)
            assert row.pnl_pct == pytest.approx(want * (payoff / row.price - 1.0))
            assert row.strike > row.future
        else:
            assert row.pnl_pct == 0.0
    # October 2008: the front future above 50 means no purchase
    assert (tr.loc[tr["future"] > 50, "budget_pct"] == 0).all() and (tr["future"] > 50).any()


def test_market_replay_has_every_year_and_episode():
    r = market_replay()
    years = set(r.loc[(r.strategy == "long_futures") & (r.period_kind == "year"), "period"])
    assert years == {str(y) for y in range(2004, 2025)}
    for strategy in ("long_futures", "vxth"):
        eps = set(r.loc[(r.strategy == strategy) & (r.period_kind == "episode"), "period"])
        assert eps == set(EPISODES)
    assert set(r.loc[r.strategy == "vxth", "smile"]) == {s.name for s in SMILE_RULES}
    # the plainest VIX hedge bleeds: the front month loses on the notional in most years (contango)
    f = r[(r.strategy == "long_futures") & (r.period_kind == "year")]
    assert (f["return_on_notional_pct"] < 0).sum() >= 15


@pytest.mark.slow
def test_the_command_prints_writes_a_new_csv_and_refuses_bad_input(tmp_path):
    from conftest import alvh_cli

    def cli(*args):
        return alvh_cli("market-replay", *args, cwd=tmp_path, timeout=600)

    out = tmp_path / "replay.csv"
    ok = cli("--start", "2019-01-02", "--end", "2021-12-31", "--out", out)
    assert ok.returncode == 0, ok.stderr
    from conftest import widest_line

    assert widest_line(ok.stdout, tmp_path) <= 100
    table = pd.read_csv(out)
    assert set(table["period"]) >= {"2019", "2020", "2021", "2020-02..04"}
    mine = out.read_bytes()
    again = cli("--out", out)
    assert again.returncode == 2 and "exists" in again.stderr and out.read_bytes() == mine
    for args, words in ((("--start", "2024-01-02", "--end", "2023-01-02"), "before"),
                        (("--start", "2001-01-02"), "2004-03-26"), (("--end", "2024-13-40"), "not a date")):
        bad = cli(*args)
        assert bad.returncode == 2 and words in bad.stderr, (args, bad.stderr)


def test_windows_without_a_purchase_or_without_the_vvix_give_futures_rows_only():
    for start, end in (("2004-03-26", "2005-06-30"), ("2024-12-01", "2024-12-31"), ("2006-01-03", "2006-03-10")):
        r = market_replay(start, end)
        assert set(r["strategy"]) == {"long_futures"} and len(r) >= 1, (start, end)
    assert vxth_trades("2004-03-26", "2005-06-30").empty
