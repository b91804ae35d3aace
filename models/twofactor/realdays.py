"""The real days of the Q fit (:func:`q_days`: VIX, VIX6M, VVIX, futures and their days to
settlement) and the level and variance of real days (:func:`filter_levels`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alvh.models.regimes import RegimeSwitchingModel
from alvh.models.twofactor.chain import VIX6M_TAU


# ---------------------------------------------------------------------------------------- calibration
def q_days(start="2008-01-02", end="2024-12-31", every: int = 5, need=("vix", "vix6m", "M1")) -> pd.DataFrame:
    """Days with VIX, VIX6M, VVIX, futures M1..M7 and each contract's trading days to settlement
    (``k1`` .. ``k7``), every ``every``-th of the days where the ``need`` columns exist."""
    from alvh.expiries import trading_days, vix_expiries
    from alvh.realdata import load

    fut = load("vix_futures").frame
    both = pd.concat([load("vix").frame["CLOSE"].rename("vix"), load("vix6m").frame["CLOSE"].rename("vix6m"),
                      load("vix3m").frame["CLOSE"].rename("vix3m"), load("vvix").frame["VVIX"].rename("vvix"),
                      load("skew").frame["SKEW"].rename("skew"), fut[[f"M{i}" for i in range(1, 8)]]],
                     axis=1, sort=True).loc[start:end]
    both = both.dropna(subset=list(need))
    dates = both.index
    expiries = vix_expiries(dates[0], dates[-1] + pd.DateOffset(months=9))
    sessions = trading_days(dates[0], expiries[-1])
    pos = sessions.get_indexer(dates)
    both = both[pos >= 0]
    pos = pos[pos >= 0]
    nxt = np.searchsorted(expiries.values, both.index.values, side="right")
    for i in range(7):
        both[f"k{i + 1}"] = sessions.get_indexer(expiries[nxt + i]) - pos
    return both.iloc[::every] if every > 1 else both


def filter_levels(model: RegimeSwitchingModel, vix, vix6m) -> tuple[np.ndarray, np.ndarray]:
    """Level and variance of real days: the level whose model VIX6M (given the VIX) is nearest the
    real VIX6M, and the variance that gives the day's VIX in that level.

    Returns
    -------
    level : ndarray of int of shape (n,)
    var : ndarray of shape (n,)
    """
    vix, vix6m = np.asarray(vix, float), np.asarray(vix6m, float)
    n_reg = model.n_regimes
    v = np.stack([model.var_from_vix(vix, np.full(vix.shape, r)) for r in range(n_reg)], axis=1)
    levels = np.broadcast_to(np.arange(n_reg), v.shape)
    vix6m_model = 100.0 * np.sqrt(model.atm_total_variance(v, VIX6M_TAU, levels) / VIX6M_TAU)
    level = np.argmin(np.abs(vix6m_model - vix6m[:, None]), axis=1)
    return level, v[np.arange(vix.size), level]
