"""The bundled real market data (``alvh/marketdata``) and a loader that checks every file.

Eight daily series are bundled, byte for byte as published (provenance and checksums in
``sim/marketdata/PROVENANCE.md``): SPX 1927-2026, VIX 1990-2026, VIX3M, VIX6M, VVIX, SKEW, the VX
futures M1-M7 2004-2024 with the front contract's trading days to expiry, and the 3-month T-bill
rate. :func:`load` reads one of them, or a user's newer file in the same layout, and checks it:

* refused (:class:`alvh.data.DataError`, one line naming the file, the line and date, and the rule):
  a missing column, a date that does not parse, a date repeated or out of order, a value that is not
  a number, not finite, or not positive (a rate: outside -5 .. 25 % a year; days to expiry: not a
  whole number >= 0);
* reported, never dropped or kept silently (:attr:`RealSeries.issues`, one :class:`Issue` each):
  outliers, a close more than 0.9 in log terms (a factor 2.46) from the median of the 21
  observations around it (VVIX 15.71 on 2006-03-15, median 61; no day of SPX, VIX, VIX3M, VIX6M or
  SKEW, whose largest real moves, VIX 2008, 2018 and 2020 included, stay within it), isolated
  one-day spikes (more than 0.4 in log terms from both neighbours while the neighbours agree within
  0.2: VVIX 36.14 on 2006-11-13 between 61.06 and 60.77), days on which OPEN = HIGH = LOW = CLOSE
  (closes only: SPX to 1983, VIX to 2004), and days on which the futures file's days to expiry
  disagree by more than one day with Cboe's expiry rule (:func:`alvh.expiries.vix_expiry`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alvh.data import DataError

__all__ = ["SERIES", "Issue", "RealSeries", "load", "bundled_path", "BUNDLED_DIR", "VIX_BUCKETS", "market_targets"]

#: Folder of the bundled files (package data of alvh).
BUNDLED_DIR = Path(__file__).parent / "marketdata"


@dataclass(frozen=True)
class _Layout:
    file: str
    date_column: str
    date_format: str
    columns: tuple[str, ...]
    rule: str = "positive"          # "positive", "rate" (% a year) or "futures"
    description: str = ""


#: The bundled series: name -> file, date column and format, value columns, value rule.
SERIES: dict[str, _Layout] = {
    "spx": _Layout("SPX_History.csv", "DATE", "%m/%d/%Y", ("OPEN", "HIGH", "LOW", "CLOSE"),
                   description="S&P 500 index, daily OHLC, points"),
    "vix": _Layout("VIX_History.csv", "DATE", "%m/%d/%Y", ("OPEN", "HIGH", "LOW", "CLOSE"),
                   description="Cboe VIX, 30-day implied volatility, points"),
    "vix3m": _Layout("VIX3M_History.csv", "DATE", "%m/%d/%Y", ("OPEN", "HIGH", "LOW", "CLOSE"),
                     description="Cboe VIX3M, 93-day implied volatility, points"),
    "vix6m": _Layout("VIX6M_History.csv", "DATE", "%m/%d/%Y", ("OPEN", "HIGH", "LOW", "CLOSE"),
                     description="Cboe VIX6M, 186-day implied volatility, points"),
    "vvix": _Layout("VVIX_History.csv", "DATE", "%m/%d/%Y", ("VVIX",),
                    description="Cboe VVIX, 30-day implied volatility of VIX options, points"),
    "skew": _Layout("SKEW_History.csv", "DATE", "%m/%d/%Y", ("SKEW",),
                    description="Cboe SKEW index (100 - 10 x risk-neutral skewness of 30-day SPX returns)"),
    "vix_futures": _Layout("VIX_futures_M1_M7.csv", "Date", "%Y-%m-%d",
                           ("M1", "M2", "M3", "M4", "M5", "M6", "M7", "days_to_expiration"), rule="futures",
                           description="VX futures settlements M1..M7, points; front contract's trading days "
                                       "to its last trading day"),
    "tbill3m": _Layout("DTB3.csv", "Date", "%Y-%m-%d", ("DTB3",), rule="rate",
                       description="3-month Treasury bill rate (FRED DTB3), % a year"),
}

#: Log distance from both neighbours above which a one-day value is reported as a spike, and the
#: largest log distance between the neighbours for it to count as isolated.
SPIKE_LOG, NEIGHBOURS_LOG = 0.40, 0.20

#: Log distance from the centred rolling median (:data:`MEDIAN_WINDOW` observations) above which a
#: value is reported as an outlier.
MEDIAN_LOG, MEDIAN_WINDOW = 0.90, 21


@dataclass(frozen=True)
class Issue:
    """A row of a data file worth a reader's attention: kept in the data, and reported."""

    date: pd.Timestamp
    column: str
    value: float
    what: str

    def __str__(self) -> str:
        return f"{self.date.date()} {self.column} = {self.value:g}: {self.what}"


@dataclass
class RealSeries:
    """A loaded daily series: ``frame`` (float columns, indexed by date), where it came from, and the
    :class:`Issue` list of its reported rows."""

    name: str
    path: Path
    frame: pd.DataFrame
    issues: list[Issue] = field(default_factory=list)

    def describe_issues(self, limit: int = 20) -> list[str]:
        """One line per issue (at most ``limit``, then a count of the rest)."""
        lines = [f"{self.path.name}: {i}" for i in self.issues[:limit]]
        if len(self.issues) > limit:
            lines.append(f"{self.path.name}: ... and {len(self.issues) - limit} more")
        return lines


def bundled_path(name: str) -> Path:
    """The bundled file of series ``name``.

    Raises
    ------
    KeyError
        Unknown name (the message lists the known ones).
    """
    if name not in SERIES:
        raise KeyError(f"unknown series {name!r}; known: {', '.join(SERIES)}")
    return BUNDLED_DIR / SERIES[name].file


def load(name: str, path: str | Path | None = None) -> RealSeries:
    """Load series ``name`` from the bundled file, or from ``path`` (a newer file in the same layout).

    Parameters
    ----------
    name : str
        One of :data:`SERIES`.
    path : str or Path, optional
        A file in the bundled file's layout (same date column and format, same value columns).

    Returns
    -------
    RealSeries
        Float columns indexed by date (``days_to_expiration`` too), with the reported issues.

    Raises
    ------
    KeyError
        Unknown ``name``.
    alvh.data.DataError
        The file is missing or breaks a rule (module docstring); the message is one line naming
        the file, the line and date, and the rule.
    """
    layout = SERIES[name] if name in SERIES else None
    if layout is None:
        raise KeyError(f"unknown series {name!r}; known: {', '.join(SERIES)}")
    p = Path(path) if path is not None else BUNDLED_DIR / layout.file
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises many types for malformed files
        raise DataError(f"{p}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
    missing = [c for c in (layout.date_column, *layout.columns) if c not in raw.columns]
    if missing:
        raise DataError(f"{p}: column {missing[0]!r} missing (needs {layout.date_column}, {', '.join(layout.columns)})")
    line = lambda i: i + 2  # noqa: E731  (1-based, after the header)
    dates = pd.to_datetime(raw[layout.date_column].str.strip(), format=layout.date_format, errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        i = bad[0]
        raise DataError(f"{p}: line {line(i)}: date {raw[layout.date_column].iloc[i]!r} does not parse "
                        f"(format {layout.date_format})")
    steps = np.diff(dates.to_numpy().astype("datetime64[D]").astype(np.int64))
    back = np.flatnonzero(steps <= 0)
    if back.size:
        i = back[0] + 1
        rule = "repeats the line before" if steps[back[0]] == 0 else "comes before the line before"
        raise DataError(f"{p}: line {line(i)}: date {dates.iloc[i].date()} {rule} (dates must increase)")
    frame = pd.DataFrame(index=pd.DatetimeIndex(dates, name="date"))
    for col in layout.columns:
        values = pd.to_numeric(raw[col].str.strip(), errors="coerce").to_numpy(dtype=float)
        if col == "days_to_expiration":
            ok = np.isfinite(values) & (values >= 0) & (values == np.round(values))
            rule = "days to expiry must be a whole number >= 0"
        elif layout.rule == "rate":
            ok = np.isfinite(values) & (values >= -5.0) & (values <= 25.0)
            rule = "a rate must be a finite number within -5 .. 25 (% a year)"
        else:
            ok = np.isfinite(values) & (values > 0)
            rule = "values must be finite numbers > 0"
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise DataError(f"{p}: line {line(i)}: date {dates.iloc[i].date()}: {col} = {raw[col].iloc[i]!r}: {rule}")
        frame[col] = values
    series = RealSeries(name=name, path=p, frame=frame)
    series.issues = _issues(name, layout, frame)
    return series


def _issues(name: str, layout: _Layout, frame: pd.DataFrame) -> list[Issue]:
    out: list[Issue] = []
    value_col = "CLOSE" if "CLOSE" in frame else layout.columns[0]
    if layout.rule == "positive":
        v = frame[value_col]
        med = v.rolling(MEDIAN_WINDOW, center=True, min_periods=5).median()
        far = np.abs(np.log(v / med)) > MEDIAN_LOG
        for day in v.index[far.to_numpy()]:
            out.append(Issue(day, value_col, float(v[day]), f"outlier: {float(v[day] / med[day]):.2f} x the median "
                             f"{float(med[day]):g} of the {MEDIAN_WINDOW} observations around it"))
        x = np.log(frame[value_col].to_numpy())
        if x.size >= 3:
            d_prev, d_next, d_nb = x[1:-1] - x[:-2], x[1:-1] - x[2:], np.abs(x[2:] - x[:-2])
            spike = (np.sign(d_prev) == np.sign(d_next)) & (np.abs(d_prev) > SPIKE_LOG) & \
                    (np.abs(d_next) > SPIKE_LOG) & (d_nb < NEIGHBOURS_LOG)
            for i in np.flatnonzero(spike) + 1:
                out.append(Issue(frame.index[i], value_col, float(frame[value_col].iloc[i]),
                                 f"isolated one-day spike (neighbours {frame[value_col].iloc[i - 1]:g} and "
                                 f"{frame[value_col].iloc[i + 1]:g})"))
    if {"OPEN", "HIGH", "LOW", "CLOSE"} <= set(frame):
        flat = (frame["OPEN"] == frame["HIGH"]) & (frame["HIGH"] == frame["LOW"]) & (frame["LOW"] == frame["CLOSE"])
        if flat.any():
            days = frame.index[flat.to_numpy()]
            out.append(Issue(days[0], "OPEN=HIGH=LOW=CLOSE", float(flat.sum()),
                             f"{int(flat.sum())} days with one price only (first {days[0].date()}, last "
                             f"{days[-1].date()}): closes only, no intraday range"))
    if name == "vix_futures":
        out += _futures_dte_issues(frame)
    return sorted(out, key=lambda i: i.date)


def _futures_dte_issues(frame: pd.DataFrame) -> list[Issue]:
    """Days on which the file's front-contract days to expiry disagree by more than one trading day
    with Cboe's rule, counted as the file counts: to the front contract's last trading day, the
    session before its settlement date (on a settlement day the front contract is the next one)."""
    from alvh.expiries import trading_days, vix_expiries

    dates = frame.index
    expiries = vix_expiries(dates[0], dates[-1] + pd.DateOffset(months=2))
    sessions = trading_days(dates[0], expiries[-1])
    pos = sessions.get_indexer(dates)
    nxt = np.searchsorted(expiries.values, dates.values, side="right")   # first settlement after the day
    exp_pos = sessions.get_indexer(expiries[np.minimum(nxt, len(expiries) - 1)])
    rule_dte = exp_pos - pos - 1
    diff = frame["days_to_expiration"].to_numpy() - rule_dte
    out = []
    for i in np.flatnonzero((pos >= 0) & (np.abs(diff) > 1)):
        out.append(Issue(dates[i], "days_to_expiration", float(frame["days_to_expiration"].iloc[i]),
                         f"Cboe's rule gives {int(rule_dte[i])} trading days to the last trading day before "
                         f"the settlement on {expiries[min(nxt[i], len(expiries) - 1)].date()}"))
    return out


#: The scorecard's VIX buckets (points): (label, low, high), low inclusive, high exclusive.
VIX_BUCKETS = (("<=13", 0.0, 13.0), ("13-16", 13.0, 16.0), ("16-20", 16.0, 20.0), ("20-30", 20.0, 30.0),
               (">30", 30.0, np.inf))


def market_targets(start: str = "2004-03-26", end: str = "2024-12-31", buckets=VIX_BUCKETS) -> pd.DataFrame:
    """The real market's Q-side statistics by VIX bucket: what a model's futures curve, VVIX, term
    structure and SKEW are compared with (the ``real`` column of the scorecard).

    For each bucket of the day's VIX close, over the days from ``start`` to ``end`` on which the series
    exist: the mean settlement of the futures M1..M7 (points), the mean VVIX (points), the mean
    VIX3M/VIX and VIX6M/VIX ratios, and the mean SKEW, each with its standard error (sd/sqrt(n); the
    days are autocorrelated, so it understates the uncertainty of a mean over a regime) and the
    number of days.

    Returns
    -------
    pandas.DataFrame
        Columns ``statistic, bucket, real, se, n_days``; a statistic with no day in a bucket is absent.
    """
    vix = load("vix").frame["CLOSE"].rename("VIX")
    fut = load("vix_futures").frame
    frames = {
        **{f"futures_{m}": fut[m] for m in ("M1", "M2", "M3", "M4", "M5", "M6", "M7")},
        "vvix": load("vvix").frame["VVIX"],
        "vix3m_over_vix": load("vix3m").frame["CLOSE"],
        "vix6m_over_vix": load("vix6m").frame["CLOSE"],
        "skew": load("skew").frame["SKEW"],
    }
    rows = []
    for stat, series in frames.items():
        both = pd.concat([vix, series.rename("x")], axis=1, join="inner").loc[start:end]
        x = both["x"] / both["VIX"] if stat.endswith("_over_vix") else both["x"]
        for label, lo, hi in buckets:
            sel = x[(both["VIX"] >= lo) & (both["VIX"] < hi)]
            if len(sel):
                se = float(sel.std(ddof=1) / np.sqrt(len(sel))) if len(sel) > 1 else float("nan")
                rows.append({"statistic": stat, "bucket": label, "real": float(sel.mean()), "se": se,
                             "n_days": int(len(sel))})
    return pd.DataFrame(rows)
