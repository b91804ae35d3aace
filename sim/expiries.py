"""Trading days and expiries from the exchange calendar: VIX futures and SPX monthly options.

Trading days are the New York Stock Exchange's sessions (``exchange_calendars``, calendar
``XNYS``), which Cboe's options holidays follow.

* **VIX futures (VX)**, Cboe Futures Exchange contract specifications, "Final Settlement Date": the
  Wednesday 30 days before the third Friday of the calendar month after the contract month; if that
  Friday is not a trading day, 30 days before the trading day before it; if the Wednesday so found
  is not a trading day, the trading day before it. (The March 2014 contract settled on Tuesday
  2014-03-18, Good Friday being 2014-04-18; the June 2024 contract on Tuesday 2024-06-18, Juneteenth
  being a Wednesday.)
* **SPX monthly options**: the third Friday of the month, or the trading day before it when it is not
  a trading day (Cboe, SPX options product specifications).

Simulated years keep a 252-step grid (:mod:`alvh.runner`); where they need calendar DTEs they map
them through these same rules.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache

import numpy as np
import pandas as pd

__all__ = ["trading_days", "vix_expiry", "spx_monthly_expiry", "vix_expiries", "trading_days_between",
           "CALENDAR"]

#: The exchange calendar of every rule here.
CALENDAR = "XNYS"


@lru_cache(maxsize=1)
def _calendar():
    import exchange_calendars as xc

    return xc.get_calendar(CALENDAR, start="1990-01-01", end=f"{_dt.date.today().year + 2}-12-31")


def _session_on_or_before(day: pd.Timestamp) -> pd.Timestamp:
    cal = _calendar()
    return day if cal.is_session(day) else cal.date_to_session(day, direction="previous")


def _third_friday(year: int, month: int) -> pd.Timestamp:
    d = pd.Timestamp(year, month, 15)
    return d + pd.Timedelta(days=(4 - d.weekday()) % 7)


def trading_days(start, end) -> pd.DatetimeIndex:
    """The trading days (sessions of :data:`CALENDAR`) from ``start`` to ``end``, both included.

    Raises
    ------
    ValueError
        ``start`` after ``end``, or outside the calendar's range (1990 to two years from now).
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if start > end:
        raise ValueError(f"start {start.date()} is after end {end.date()}")
    return pd.DatetimeIndex(_calendar().sessions_in_range(start, end))


def trading_days_between(start, end) -> int:
    """Trading days after ``start`` up to and including ``end`` (0 when ``end`` <= ``start``)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end <= start:
        return 0
    return len(trading_days(start + pd.Timedelta(days=1), end))


def spx_monthly_expiry(year: int, month: int) -> pd.Timestamp:
    """Expiration date of the SPX monthly options of ``year``-``month``: the third Friday, or the
    trading day before it when it is not a trading day."""
    return _session_on_or_before(_third_friday(year, month))


def vix_expiry(year: int, month: int) -> pd.Timestamp:
    """Final settlement date of the VX futures contract of ``year``-``month`` (rule in the module
    docstring; Cboe Futures Exchange, VX contract specifications)."""
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    friday = _session_on_or_before(_third_friday(ny, nm))
    return _session_on_or_before(friday - pd.Timedelta(days=30))


def vix_expiries(start, end) -> pd.DatetimeIndex:
    """Every VX final settlement date from ``start`` to ``end``, both included, in order."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    out = []
    for period in pd.period_range(start - pd.DateOffset(months=1), end, freq="M"):
        d = vix_expiry(period.year, period.month)
        if start <= d <= end:
            out.append(d)
    return pd.DatetimeIndex(np.array(out, dtype="datetime64[ns]"))
