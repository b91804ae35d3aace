"""Market data loading: built-in arch series and CSV files, with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alvh.data import DataError, load_market_data, load_series

HERE = Path(__file__).parent / "data"


def test_builtin_series_are_the_real_closes():
    spx = load_series("arch:sp500", "data.spx", "f.toml")
    vix = load_series("arch:vix", "data.vix", "f.toml")
    # arch ships S&P 500 1999-01-04..2018-12-31 and VIX 2014-01-03..2019-01-03 (arch.data docs)
    assert str(spx.index[0].date()) == "1999-01-04" and str(spx.index[-1].date()) == "2018-12-31"
    assert str(vix.index[0].date()) == "2014-01-03"
    # 2018-02-05: SPX -4.1%, VIX +116% in one day (DESIGN.md)
    assert spx.loc["2018-02-05"] / spx.loc["2018-02-02"] - 1 == pytest.approx(-0.041, abs=0.001)
    assert vix.loc["2018-02-05"] / vix.loc["2018-02-02"] - 1 == pytest.approx(1.16, abs=0.01)


def test_csv_round_trip(tmp_path):
    spx = load_series("arch:sp500", "data.spx", "f.toml").loc["2016"]
    path = tmp_path / "spx.csv"
    spx.rename("close").to_csv(path, index_label="date")
    data = load_market_data({"spx": str(path), "vix": "arch:vix", "start": "2016-01-01", "end": "2016-12-31"},
                            "f.toml")
    assert len(data.spx) == 252 and np.allclose(data.spx, spx.loc[data.dates].values)


def test_errors_name_the_key_and_file(tmp_path):
    with pytest.raises(DataError, match=r"f.toml: key 'data.spx': data file not found"):
        load_series("missing.csv", "data.spx", "f.toml", tmp_path)
    with pytest.raises(DataError, match=r"key 'data.spx': .*date first column"):
        load_series(str(HERE / "spx_bad.csv"), "data.spx", "f.toml")
    with pytest.raises(DataError, match=r"unknown built-in data set 'arch:dax'"):
        load_series("arch:dax", "data.spx", "f.toml")
    with pytest.raises(DataError, match=r"key 'data.start': only 0 days"):
        load_market_data({"spx": "arch:sp500", "vix": "arch:vix", "start": "2001-01-01", "end": "2002-01-01"}, "f.toml")
