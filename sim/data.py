"""Market data: the real daily SPX and VIX series bundled with ``arch``, or user CSV files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DataError", "MarketData", "load_series", "load_market_data", "BUILTIN_DATA", "BUNDLED_SOURCES"]


class DataError(ValueError):
    """Market data is missing or unreadable; the message is one line naming the file and key."""


#: Named data sets bundled with ``arch``: source name -> (``arch.data`` module, column).
BUILTIN_DATA = {
    "arch:sp500": ("sp500", "Adj Close"),
    "arch:vix": ("vix", "vix"),
}
_BUILTIN = BUILTIN_DATA

#: The real series bundled with alvh that a scenario's ``[data] spx``/``vix`` can name (their closes;
#: :mod:`alvh.realdata` loads and checks them, provenance in ``sim/marketdata/PROVENANCE.md``).
BUNDLED_SOURCES = {"bundled:spx": "spx", "bundled:vix": "vix"}


@dataclass(frozen=True)
class MarketData:
    """Aligned daily closes.

    Attributes
    ----------
    dates : pandas.DatetimeIndex of length n
    spx : ndarray of shape (n,)
        S&P 500 closes, index points.
    vix : ndarray of shape (n,)
        VIX closes, points.
    source : str
        Where the series came from (for metadata).
    """

    dates: pd.DatetimeIndex
    spx: np.ndarray
    vix: np.ndarray
    source: str


def load_series(source: str, key: str, where: str, base_dir: Path | None = None) -> pd.Series:
    """Load one daily close series.

    Parameters
    ----------
    source : str
        ``"arch:sp500"`` (S&P 500 adjusted close, 1999-2018, shipped with ``arch``), ``"arch:vix"``
        (VIX close, 2014-2018), ``"bundled:spx"`` (S&P 500 close, 1927-2026) and ``"bundled:vix"``
        (VIX close, 1990-2026) bundled with alvh (:mod:`alvh.realdata`), or a CSV path whose first
        column is a date and which has one numeric column (or one named ``close``/``Close``/
        ``CLOSE``/``Adj Close``/``vix``: Cboe's layout).
    key : str
        Scenario key (e.g. ``data.spx``), for error messages.
    where : str
        Scenario file name, for error messages.
    base_dir : Path, optional
        Directory relative paths are resolved against (the scenario's folder).

    Returns
    -------
    pandas.Series
        Float closes indexed by date, sorted, without missing values.

    Raises
    ------
    DataError
        Unknown ``arch:`` name, missing file, unparseable file, no usable column, non-positive
        values.
    """
    if source.startswith("bundled:"):
        if source not in BUNDLED_SOURCES:
            raise DataError(f"{where}: key '{key}': unknown bundled data set {source!r} "
                            f"(known: {', '.join(BUNDLED_SOURCES)})")
        from alvh.realdata import load

        series = load(BUNDLED_SOURCES[source]).frame["CLOSE"]
    elif source.startswith("arch:"):
        if source not in _BUILTIN:
            raise DataError(f"{where}: key '{key}': unknown built-in data set {source!r} "
                            f"(known: {', '.join(_BUILTIN)})")
        import importlib

        mod_name, column = _BUILTIN[source]
        mod = importlib.import_module(f"arch.data.{mod_name}")
        series = mod.load()[column]
    else:
        path = Path(source)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise DataError(f"{where}: key '{key}': data file not found: {path}")
        if _cboe_layout(path):      # a newer file in the layout of the bundled ones: the same checks
            from alvh.realdata import load

            try:
                return load("spx" if key == "data.spx" else "vix", path).frame["CLOSE"]
            except DataError as exc:
                raise DataError(f"{where}: key '{key}': {exc}") from None
        try:
            frame = pd.read_csv(path, index_col=0, parse_dates=[0])
        except Exception as exc:  # pandas raises many types for malformed files
            raise DataError(f"{where}: key '{key}': cannot read {path} as CSV: {exc}".splitlines()[0]) from None
        named = [c for c in frame.columns if str(c) in ("close", "Close", "CLOSE", "Adj Close", "vix", "VIX")]
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        cols = named or numeric
        if len(cols) != 1 or not isinstance(frame.index, pd.DatetimeIndex):
            raise DataError(
                f"{where}: key '{key}': {path} must have a date first column and one numeric close column"
            )
        series = frame[cols[0]]
    series = series.astype(float).dropna().sort_index()
    if series.empty:
        raise DataError(f"{where}: key '{key}': {source} has no data")
    if not np.all(np.isfinite(series.values)) or series.min() <= 0:
        raise DataError(f"{where}: key '{key}': {source} has non-positive or non-finite closes")
    return series


def _cboe_layout(path: Path) -> bool:
    """Whether a CSV file has the header of Cboe's daily history files (DATE, OPEN, HIGH, LOW, CLOSE)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            header = f.readline().strip().split(",")
    except OSError:
        return False
    return header[:1] == ["DATE"] and "CLOSE" in header


def load_market_data(data: dict, where: str, base_dir: Path | None = None) -> MarketData:
    """Load and align the SPX and VIX series of a scenario's ``[data]`` table.

    Parameters
    ----------
    data : dict
        ``spx``, ``vix``, ``start``, ``end`` (ISO dates, inclusive).
    where : str
        Scenario file name for error messages.
    base_dir : Path, optional
        Folder for relative CSV paths.

    Returns
    -------
    MarketData
        Days on which both series have a close, within ``[start, end]``.

    Raises
    ------
    DataError
        As :func:`load_series`, or fewer than 60 common days in the window.
    """
    spx = load_series(data["spx"], "data.spx", where, base_dir)
    vix = load_series(data["vix"], "data.vix", where, base_dir)
    joined = pd.concat({"spx": spx, "vix": vix}, axis=1, join="inner").loc[data["start"]:data["end"]]
    if len(joined) < 60:
        raise DataError(
            f"{where}: key 'data.start': only {len(joined)} days with both SPX and VIX between "
            f"{data['start']} and {data['end']} (need at least 60)"
        )
    return MarketData(
        dates=pd.DatetimeIndex(joined.index), spx=joined["spx"].to_numpy(), vix=joined["vix"].to_numpy(),
        source=f"spx={data['spx']}, vix={data['vix']}",
    )
