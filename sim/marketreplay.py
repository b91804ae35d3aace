"""VIX hedges replayed at real prices, 2004-2024: the plainest VIX hedge and Cboe's VXTH rule.

Every other replay in alvh prices the hedge with a model; this one takes the hedge's prices from the
real market, so its result does not depend on any model's Q side.

**Long front-month VIX futures** (``long_futures``): one VX contract (multiplier $1,000) held from
each settlement to the next and rolled into the new front month at that day's settlement price. The
daily P&L is arithmetic on the bundled daily settlements (``VIX_futures_M1_M7.csv``): ``M1_t -
M1_{t-1}`` on the same contract, and on a roll day the old contract's final settlement minus its last
settlement. The final settlement value (Cboe's special opening quotation of the VIX) is not in the
data; the VIX open of the settlement day stands in for it (stated, and the only non-settlement
price used). Reported per contract (VIX points), as a return on the notional held, and in % of a
$1,000,000 portfolio holding one contract.

**VXTH rule** (``vxth``; Cboe VIX Tail Hedge Index methodology), from the first settlement after the
VVIX starts (2006-03-06; the two VVIX values the loader reports as outliers, 2006-03-15 and
2006-11-13, and days the VVIX file lacks take the previous day's value): on each VIX settlement day, with the
new front future ``F`` between 15 and 30, buy one-month 30-delta VIX calls for 1% of the portfolio;
between 30 and 50, for 0.5%; otherwise none. The calls expire at the next settlement and pay
``max(VIX_open - K, 0)``. Without VIX option quotes in the bundled data, the calls are priced by
Black-76 (Black 1976) on the real future of their expiry with discounting at the 3-month T-bill
(DTB3; before its first day, 2005-01-03, its first value), and a volatility built from the real
VVIX by a stated *smile rule*: ``sigma(K) = atm_ratio x VVIX / 100 x (K / F) ** slope``. The
default (``atm_ratio`` 1, ``slope`` 0) prices every strike at the VVIX; :data:`SMILE_RULES` lists
the alternatives whose results the report shows beside it (the VVIX is a 30-day variance-swap level,
above the at-the-money implied vol, and the VIX smile slopes upward).

Results: by calendar year and by episode (:data:`EPISODES`), as P&L in % of the portfolio (the
hedge overlay alone, no SPX holding). A VXTH purchase is booked in the period of its expiry (the
calls bought at the 2015-08-19 roll count in September 2015); ``trades`` counts purchases for
``vxth`` and trading days for ``long_futures``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import ndtr

__all__ = ["EPISODES", "SMILE_RULES", "SmileRule", "black76_call", "strike_for_call_delta", "futures_rolls",
           "long_futures_daily", "vxth_trades", "market_replay", "real_vvix", "real_rate", "periods", "VX_MULTIPLIER"]

#: VX futures multiplier, dollars per VIX point (Cboe Futures Exchange contract specifications).
VX_MULTIPLIER = 1000.0

#: Episodes of the issue, first and last day included.
EPISODES = {
    "2008-09..2009-03": ("2008-09-01", "2009-03-31"),
    "2011-08": ("2011-08-01", "2011-08-31"),
    "2015-08": ("2015-08-01", "2015-08-31"),
    "2018-02": ("2018-02-01", "2018-02-28"),
    "2020-02..04": ("2020-02-01", "2020-04-30"),
    "2022": ("2022-01-01", "2022-12-31"),
}


@dataclass(frozen=True)
class SmileRule:
    """``sigma(K) = atm_ratio * VVIX / 100 * (K / F) ** slope`` (dimensionless, per year^0.5)."""

    name: str
    atm_ratio: float = 1.0
    slope: float = 0.0

    def vol(self, vvix, strike, forward):
        """The volatility of strike ``strike`` on future ``forward`` for a VVIX of ``vvix`` points."""
        return self.atm_ratio * np.asarray(vvix, float) / 100.0 * (np.asarray(strike, float) / forward) ** self.slope


#: The default rule and the alternatives the sensitivity table shows.
SMILE_RULES = (SmileRule("flat at VVIX"), SmileRule("ATM 0.85 VVIX, flat", 0.85, 0.0),
               SmileRule("ATM 0.85 VVIX, slope 0.5", 0.85, 0.5), SmileRule("ATM at VVIX, slope 0.5", 1.0, 0.5))


def black76_call(forward, strike, tau, vol, rate) -> np.ndarray:
    """Black (1976) call on a future: ``e^{-r tau} (F N(d1) - K N(d2))``, ``d1 = (ln(F/K) + vol^2 tau/2) /
    (vol sqrt(tau))``. Points; arrays broadcast; ``tau`` in years, ``vol`` and ``rate`` per year. It is
    :func:`alvh.pricing.black_scholes` on the future with the dividend yield equal to the rate (the
    forward of a future is the future)."""
    from alvh.pricing import black_scholes

    return black_scholes(forward, strike, tau, rate, rate, vol, True)[0]


def strike_for_call_delta(forward: float, tau: float, vvix: float, rate: float, delta: float, rule: SmileRule) -> float:
    """Strike whose Black-76 call delta ``e^{-r tau} N(d1)`` is ``delta`` under the smile rule (brentq on
    ``[F/2, 3F]``; a steep sticky-strike smile makes the delta rise again far out, so the bracket is kept
    near the money).

    Raises
    ------
    ValueError
        No strike in the bracket has that delta.
    """
    def gap(k):
        s = float(rule.vol(vvix, k, forward)) * math.sqrt(tau)
        return math.exp(-rate * tau) * ndtr((math.log(forward / k) + 0.5 * s * s) / s) - delta
    return float(optimize.brentq(gap, forward * 0.5, forward * 3.0, xtol=1e-10))


def futures_rolls(start: str, end: str) -> pd.DataFrame:
    """Daily front-month settlements with the contract each belongs to.

    Returns
    -------
    pandas.DataFrame
        Index: trading days from ``start`` to ``end`` with futures data. Columns ``M1``, ``M2``
        (points), ``expiry`` (the settlement date of the day's front contract: the first VX settlement
        after the day, :func:`alvh.expiries.vix_expiries`), ``vix_open`` (points).
    """
    from alvh.expiries import vix_expiries
    from alvh.realdata import load

    fut = load("vix_futures").frame.loc[start:end, ["M1", "M2"]].dropna()
    if fut.empty:
        raise ValueError(f"no VIX futures settlements from {start} to {end} (bundled: 2004-03-26 .. 2024-12-31)")
    vix = _vix_frame()
    exp = vix_expiries(fut.index[0], fut.index[-1] + pd.DateOffset(months=2))
    nxt = np.searchsorted(exp.values, fut.index.values, side="right")
    out = fut.copy()
    out["expiry"] = exp[nxt].values
    out["vix_open"] = vix["OPEN"].reindex(out.index).to_numpy()
    return out


@functools.lru_cache(maxsize=1)
def _vix_frame() -> pd.DataFrame:
    from alvh.realdata import load

    return load("vix").frame


def _final_settlement(expiry: pd.Timestamp) -> float:
    """The VIX open on the settlement day (stand-in for the special opening quotation)."""
    vix = _vix_frame()
    if expiry not in vix.index:
        raise ValueError(f"no VIX open on the settlement day {expiry.date()}")
    return float(vix.loc[expiry, "OPEN"])


def long_futures_daily(start: str = "2004-03-26", end: str = "2024-12-31") -> pd.DataFrame:
    """Daily P&L of one long front-month VX contract, rolled at each settlement (module docstring).

    Returns
    -------
    pandas.DataFrame
        Index: trading days (the first day is the entry, P&L 0). Columns ``pnl_points`` (VIX points per
        contract), ``notional`` (points: the contract's previous settlement, the value held during the
        day), ``contract`` (settlement date of the contract held during the day; NaT on the entry day).
    """
    fr = futures_rolls(start, end)
    m1, exp = fr["M1"].to_numpy(), fr["expiry"].to_numpy()
    pnl = np.zeros(len(fr))
    notional = np.full(len(fr), np.nan)
    held = exp.copy()
    held[0] = np.datetime64("NaT")             # the entry day: bought at its close, nothing held during it
    for t in range(1, len(fr)):
        held[t] = exp[t - 1]
        notional[t] = m1[t - 1]
        if exp[t] == exp[t - 1]:
            pnl[t] = m1[t] - m1[t - 1]
        else:               # the contract held yesterday settled today: its final value, then the new front
            pnl[t] = _final_settlement(pd.Timestamp(exp[t - 1])) - m1[t - 1]
    return pd.DataFrame({"pnl_points": pnl, "notional": notional, "contract": held}, index=fr.index)


def vxth_trades(start: str = "2004-03-26", end: str = "2024-12-31", rule: SmileRule = SMILE_RULES[0]
                ) -> pd.DataFrame:
    """One row per monthly VXTH purchase (module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns ``trade_date, expiry, future, vvix, strike, vol, price, budget_pct, payoff, pnl_pct``:
        the settlement day of the purchase, the calls' expiry, the front future and VVIX that day
        (points), the 30-delta strike, its volatility, the Black-76 price (points), the premium spent
        (% of the portfolio: 1, 0.5 or 0), the payoff at expiry (points) and the trade's P&L (% of the
        portfolio, ``budget * (payoff / price - 1)``).
    """
    from alvh.expiries import trading_days_between

    vvix = real_vvix()
    columns = ["trade_date", "expiry", "future", "vvix", "strike", "vol", "price", "budget_pct", "payoff", "pnl_pct"]
    start = max(pd.Timestamp(start), vvix.index[0])          # the VVIX starts 2006-03-06
    if start >= pd.Timestamp(end):
        return pd.DataFrame(columns=columns)
    fr = futures_rolls(start.strftime("%Y-%m-%d"), end)
    if fr.empty:
        return pd.DataFrame(columns=columns)
    vvix = real_vvix(fr.index)                  # a day the VVIX file lacks: the day before
    rate = real_rate(fr.index)
    rows = []
    for day, expiry in zip(fr.index[1:], fr["expiry"].iloc[1:]):
        prev = fr.index[fr.index.get_loc(day) - 1]
        if fr.loc[prev, "expiry"] == expiry:       # not a roll day
            continue
        if expiry > fr.index[-1]:
            break
        f = float(fr.loc[day, "M1"])
        vv = float(vvix.get(day, np.nan))
        budget = 1.0 if 15.0 <= f < 30.0 else 0.5 if 30.0 <= f <= 50.0 else 0.0
        row = {"trade_date": day, "expiry": expiry, "future": f, "vvix": vv, "strike": np.nan, "vol": np.nan,
               "price": np.nan, "budget_pct": budget, "payoff": np.nan, "pnl_pct": 0.0}
        if budget > 0.0:
            if not np.isfinite(vv):
                raise ValueError(f"VXTH replay: no VVIX on {day.date()} to price the calls")
            tau = trading_days_between(day, expiry) / 252.0
            r = float(rate.loc[day])
            k = strike_for_call_delta(f, tau, vv, r, 0.30, rule)
            vol = float(rule.vol(vv, k, f))
            price = float(black76_call(f, k, tau, vol, r))
            payoff = max(_final_settlement(pd.Timestamp(expiry)) - k, 0.0)
            row.update(strike=k, vol=vol, price=price, payoff=payoff, pnl_pct=budget * (payoff / price - 1.0))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def real_vvix(days: pd.DatetimeIndex | None = None) -> pd.Series:
    """The bundled VVIX closes (points) from 2006-03-06, the loader's reported outliers (2006-03-15,
    2006-11-13) replaced by the previous day's value; on ``days`` when given (a day the file lacks
    takes the previous day's value, NaN before 2006-03-06)."""
    from alvh.realdata import load

    series = load("vvix")
    vvix = series.frame["VVIX"].copy()
    flagged = [i.date for i in series.issues if i.column == "VVIX"]
    vvix.loc[vvix.index.isin(flagged)] = np.nan
    vvix = vvix.ffill()
    if days is None:
        return vvix
    return vvix.reindex(days.union(vvix.index)).sort_index().ffill().reindex(days)


def real_rate(days: pd.DatetimeIndex) -> pd.Series:
    """The 3-month T-bill rate (DTB3, per year, decimal) on ``days``: a day without a value takes the
    previous one, days before 2005-01-03 the first one."""
    from alvh.realdata import load

    rate = load("tbill3m").frame["DTB3"] / 100.0
    return rate.reindex(days.union(rate.index)).sort_index().ffill().bfill().reindex(days)


def periods(index: pd.DatetimeIndex) -> list[tuple[str, str, pd.Timestamp, pd.Timestamp]]:
    """``(kind, name, first, last)`` of every calendar year of ``index`` (kind ``"year"``) and of every
    :data:`EPISODES` entry (kind ``"episode"``)."""
    years = sorted(set(index.year))
    out = [("year", str(y), pd.Timestamp(f"{y}-01-01"), pd.Timestamp(f"{y}-12-31")) for y in years]
    out += [("episode", name, pd.Timestamp(a), pd.Timestamp(b)) for name, (a, b) in EPISODES.items()]
    return out


def market_replay(start: str = "2004-03-26", end: str = "2024-12-31", capital: float = 1_000_000.0
                  ) -> pd.DataFrame:
    """Both hedges at real prices, by calendar year and episode.

    Parameters
    ----------
    start, end : str
        Window (the bundled futures run 2004-03-26 .. 2024-12-31).
    capital : float, default 1,000,000
        Portfolio in dollars for the one-contract futures position.

    Returns
    -------
    pandas.DataFrame
        Columns ``strategy, smile, period_kind, period, pnl_pct, pnl_points, return_on_notional_pct,
        trades``: ``long_futures`` rows give the P&L of one contract in % of ``capital``, in VIX points,
        and summed daily returns on the notional held (%); ``vxth`` rows (one set per smile rule) give
        the P&L in % of the portfolio and the number of purchases. A VXTH purchase counts in the period
        of its expiry.
    """
    fut = long_futures_daily(start, end)
    ret = fut["pnl_points"] / fut["notional"]
    rows = []
    for kind, name, a, b in periods(fut.index):
        sel = (fut.index >= a) & (fut.index <= b)
        if not sel.any():
            continue
        pts = float(fut.loc[sel, "pnl_points"].sum())
        rows.append({"strategy": "long_futures", "smile": "", "period_kind": kind, "period": name,
                     "pnl_pct": 100.0 * pts * VX_MULTIPLIER / capital, "pnl_points": pts,
                     "return_on_notional_pct": 100.0 * float(ret[sel].sum()), "trades": int(sel.sum())})
    for rule in SMILE_RULES:
        tr = vxth_trades(start, end, rule)
        when = pd.DatetimeIndex(tr["expiry"])
        for kind, name, a, b in periods(fut.index):
            sel = (when >= a) & (when <= b)
            if not sel.any():
                continue
            rows.append({"strategy": "vxth", "smile": rule.name, "period_kind": kind, "period": name,
                         "pnl_pct": float(tr.loc[sel, "pnl_pct"].sum()), "pnl_points": np.nan,
                         "return_on_notional_pct": np.nan, "trades": int((tr.loc[sel, "budget_pct"] > 0).sum())})
    return pd.DataFrame(rows)
