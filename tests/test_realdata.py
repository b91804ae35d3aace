"""The bundled real data (alvh.realdata) and the exchange calendar's expiries (alvh.expiries).

References: the checks of the data's own README (repeated in sim/marketdata/PROVENANCE.md), the
SHA-256 of each file, Cboe's VX final-settlement rule (Cboe Futures Exchange, VX contract
specifications) checked against the real futures file's own days to expiry, and the SPX monthly
expiry rule (Cboe, SPX options specifications).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alvh import realdata
from alvh.data import DataError
from alvh.expiries import spx_monthly_expiry, trading_days, trading_days_between, vix_expiries, vix_expiry

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def test_bundled_files_are_the_published_files_byte_for_byte():
    """Every bundled file has the SHA-256 PROVENANCE.md lists (and, where the shared data folder is
    beside the checkout, is that file byte for byte): no value was edited."""
    text = (realdata.BUNDLED_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    sums = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+\.csv)$", text, re.M))
    assert set(sums) == {layout.file for layout in realdata.SERIES.values()}
    for name, digest in sums.items():
        data = (realdata.BUNDLED_DIR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        if (SHARED / name).is_file():
            assert (SHARED / name).read_bytes() == data, name


def test_the_data_readme_checks():
    """VIX closed 17.31 on 2018-02-02 and 37.32 on 2018-02-05; the VX front month went 15.625 -> 33.225
    over the same days; M1 settled 72.625 on 2020-03-16 (shared/data/README.md)."""
    vix = realdata.load("vix").frame["CLOSE"]
    assert vix["2018-02-02"] == 17.31 and vix["2018-02-05"] == 37.32
    m1 = realdata.load("vix_futures").frame["M1"]
    assert (m1["2018-02-02"], m1["2018-02-05"]) == (15.625, 33.225) and m1["2020-03-16"] == 72.625


def test_every_series_loads_with_its_span_and_units():
    spans = {"spx": ("1927-12-30", "2026-07-09"), "vix": ("1990-01-02", "2026-07-07"),
             "vix3m": ("2009-09-18", "2026-04-24"), "vix6m": ("2008-01-02", "2026-04-24"),
             "vvix": ("2006-03-06", "2026-04-24"), "skew": ("1990-01-02", "2026-03-06"),
             "vix_futures": ("2004-03-26", "2024-12-31"), "tbill3m": ("2005-01-03", "2025-03-27")}
    for name, (first, last) in spans.items():
        s = realdata.load(name)
        assert (str(s.frame.index[0].date()), str(s.frame.index[-1].date())) == (first, last), name
        assert s.frame.index.is_monotonic_increasing and s.frame.index.is_unique
        assert np.isfinite(s.frame.to_numpy()).all()


def test_outliers_and_quirks_are_reported_not_dropped():
    """VVIX 15.71 on 2006-03-15 (a quarter of its 21-day median) and 36.14 on 2006-11-13 (between 61.06
    and 60.77) are reported and kept; the closes of SPX, VIX, VIX3M, VIX6M and SKEW, their largest real
    moves included (VIX 37.32 on 2018-02-05, 82.69 on 2020-03-16), have no outlier; the SPX days with
    one price only are reported; so are the 27 days the futures file's days to expiry disagree with
    Cboe's rule (the August 2018 cycle counted to 2018-08-14, and two settlement days read 0)."""
    vvix = realdata.load("vvix")
    assert [(str(i.date.date()), i.value) for i in vvix.issues] == [("2006-03-15", 15.71), ("2006-11-13", 36.14)]
    assert vvix.frame.loc["2006-03-15", "VVIX"] == 15.71           # kept
    for name in ("spx", "vix", "vix3m", "vix6m", "skew"):
        assert not [i for i in realdata.load(name).issues if "outlier" in i.what or "spike" in i.what], name
    spx = realdata.load("spx").issues
    assert len(spx) == 1 and spx[0].column == "OPEN=HIGH=LOW=CLOSE" and "1927-12-30" in spx[0].what
    fut = realdata.load("vix_futures").issues
    days = [str(i.date.date()) for i in fut]
    assert len(fut) == 27 and days[0] == "2018-07-18" and "2018-08-14" in days and days[-2:] == ["2022-08-17",
                                                                                                 "2024-06-18"]


LAYOUT = "DATE,OPEN,HIGH,LOW,CLOSE\n"


@pytest.mark.parametrize("rows, expected", [
    ("01/02/2020,1,1,1,1\n", None),
    ("01/02/2020,1,1,1\n", None),      # a short row: CLOSE empty -> not a number
    ("01/02/2020,1,1,1,1\n13/45/2020,1,1,1,1\n", r"line 3: date '13/45/2020' does not parse"),
    ("01/02/2020,1,1,1,1\n01/02/2020,1,1,1,1\n", r"line 3: date 2020-01-02 repeats the line before"),
    ("01/03/2020,1,1,1,1\n01/02/2020,1,1,1,1\n", r"line 3: date 2020-01-02 comes before the line before"),
    ("01/02/2020,1,1,1,-3\n", r"line 2: date 2020-01-02: CLOSE = '-3': values must be finite numbers > 0"),
    ("01/02/2020,1,1,1,inf\n", r"CLOSE = 'inf': values must be finite"),
    ("01/02/2020,1,nan,1,1\n", r"HIGH = 'nan': values must be finite"),
    ("01/02/2020,1,1,1,abc\n", r"CLOSE = 'abc'"),
])
def test_each_loader_rule_refuses_with_file_line_date_and_rule(tmp_path, rows, expected):
    p = tmp_path / "VIX_History.csv"
    p.write_text(LAYOUT + rows)
    if expected is None and rows.count(",") == 4:
        assert realdata.load("vix", p).frame["CLOSE"].iloc[0] == 1.0
        return
    with pytest.raises(DataError) as info:
        realdata.load("vix", p)
    msg = str(info.value)
    assert msg.startswith(str(p)) and "\n" not in msg
    if expected:
        assert re.search(expected, msg), msg


def test_missing_column_rates_and_days_to_expiry(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("DATE,OPEN,HIGH,LOW\n01/02/2020,1,1,1\n")
    with pytest.raises(DataError, match=r"column 'CLOSE' missing"):
        realdata.load("vix", p)
    p.write_text("Date,DTB3\n2020-01-02,-7.5\n")
    with pytest.raises(DataError, match=r"line 2: date 2020-01-02: DTB3 = '-7.5': a rate must be"):
        realdata.load("tbill3m", p)
    p.write_text("Date,DTB3\n2020-01-02,0.00\n")
    assert realdata.load("tbill3m", p).frame["DTB3"].iloc[0] == 0.0      # a zero rate is real
    p.write_text("Date,M1,M2,M3,M4,M5,M6,M7,days_to_expiration\n2020-01-02,1,1,1,1,1,1,1,2.5\n")
    with pytest.raises(DataError, match="days to expiry must be a whole number"):
        realdata.load("vix_futures", p)
    with pytest.raises(KeyError, match="unknown series"):
        realdata.load("vxx")


def test_a_scenario_reads_a_newer_cboe_file_with_the_same_checks(tmp_path, capsys):
    """[data] vix = a file in Cboe's layout goes through the same loader: a repeated date is a one-line
    refusal naming the scenario key, the file, the line and the rule (exit 2)."""
    from alvh.cli import main
    from alvh.data import load_series

    good = tmp_path / "VIX_History.csv"
    good.write_text(LAYOUT + "01/02/2020,12,13,11,12.5\n01/03/2020,13,14,12,13.5\n")
    assert load_series(str(good), "data.vix", "s.toml").tolist() == [12.5, 13.5]
    bad = tmp_path / "bad.csv"
    bad.write_text(LAYOUT + "01/02/2020,12,13,11,12.5\n01/02/2020,13,14,12,13.5\n")
    scen = tmp_path / "s.toml"
    scen.write_text('name = "s"\n[data]\nvix = "bad.csv"\n')
    rc = main(["run", str(scen), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "key 'data.vix'" in err[-1] and "line 3" in err[-1] and "repeats" in err[-1]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("month, expected", [
    ((2018, 2), "2018-02-14"),      # the Volmageddon week's expiry
    ((2020, 3), "2020-03-18"),
    ((2014, 3), "2014-03-18"),      # third Friday of April 2014 is Good Friday: 30 days before Thursday
    ((2024, 6), "2024-06-18"),      # the Wednesday is Juneteenth: the trading day before it
    ((2022, 12), "2022-12-21"),     # December: the following month is January of the next year
])
def test_vix_expiry_rule_on_known_settlements(month, expected):
    """Cboe's rule; each date is also the one the real futures file rolls on (dte 0 the session before,
    or that day)."""
    assert vix_expiry(*month) == pd.Timestamp(expected)


def test_vix_expiry_rule_against_the_real_futures_file():
    """Over 2004-2024 the futures file's front contract reaches 0 days to expiry on the session before
    each settlement the rule gives, or on that day, in every month but the reported August 2018."""
    fut = realdata.load("vix_futures").frame
    zero = fut.index[fut["days_to_expiration"].to_numpy() == 0]
    sessions = trading_days(zero[0], zero[-1] + pd.Timedelta(days=10))
    misses = []
    for day in zero:
        settle = vix_expiry(day.year, day.month)
        if not (settle == day or sessions[sessions.get_loc(day) + 1] == settle):
            misses.append(str(day.date()))
    assert len(zero) > 240 and misses == ["2018-08-14"]
    got = vix_expiries("2018-01-01", "2018-12-31")
    assert len(got) == 12 and got[1] == pd.Timestamp("2018-02-14") and got.is_monotonic_increasing


def test_spx_monthly_expiry_and_trading_days():
    assert spx_monthly_expiry(2018, 2) == pd.Timestamp("2018-02-16")
    assert spx_monthly_expiry(2014, 4) == pd.Timestamp("2014-04-17")     # Good Friday: the Thursday
    days = trading_days("2018-01-01", "2018-12-31")
    assert len(days) == 251 and pd.Timestamp("2018-12-05") not in days    # the day of mourning for G. H. W. Bush
    assert trading_days_between("2018-02-02", "2018-02-14") == 8
    with pytest.raises(ValueError, match="after end"):
        trading_days("2018-02-02", "2018-01-01")


def test_market_targets_reproduce_the_issue_table():
    """The real column of the scorecard: over 2004-2024, days with VIX between 14 and 16 have mean VIX
    futures M1 / M2 / M4 / M6 of 15.8 / 16.9 / 18.1 / 19.0 and VVIX near 89 (the market-true issue's
    table, computed separately); by bucket the curve is in contango below 20 and in backwardation above 30."""
    from alvh.realdata import market_targets

    band = (("14-16", 14.0, 16.0 + 1e-9),)
    t = market_targets(buckets=band).set_index("statistic")
    assert [round(t.loc[f"futures_{m}", "real"], 1) for m in ("M1", "M2", "M4", "M6")] == [15.8, 16.9, 18.1, 19.0]
    assert abs(t.loc["vvix", "real"] - 89.0) < 1.0
    full = market_targets().pivot(index="statistic", columns="bucket", values="real")
    assert full.loc["futures_M7", "13-16"] > full.loc["futures_M1", "13-16"]          # contango when calm
    assert full.loc["futures_M7", ">30"] < full.loc["futures_M1", ">30"]              # backwardation in stress
    assert full.loc["vix3m_over_vix", "<=13"] > 1.0 > full.loc["vix3m_over_vix", ">30"]
    counts = market_targets().query("statistic == 'futures_M1'")["n_days"].sum()
    assert counts == len(realdata.load("vix_futures").frame)
