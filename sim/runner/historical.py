"""A scenario's strategies run on the real path of its calibration window (:func:`replay`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alvh.models.base import Paths
from alvh.models.replay import HistoricalReplay
from alvh.strategy import run_books
from alvh.runner.preparation import _one_blas_thread
from alvh.runner.records import Prepared


@dataclass
class ReplayResult:
    """Every strategy of a scenario run on the real path of its calibration window.

    Attributes
    ----------
    dates : ndarray of datetime64[D], shape (n_days,)
    spx, vix : ndarray of shape (n_days,)
        Real closes, points.
    daily_pnl : ndarray of shape (n_strategies, n_days)
        Daily P&L per strategy (strategy 0 the condor alone), USD.
    hedge_pnl : ndarray of shape (n_strategies, n_days)
        Daily P&L of each hedge book alone (0 for the condor alone), USD.
    layer_daily_pnl : ndarray of shape (n_strategies, n_layers, n_days)
        Daily P&L per hedge layer, trading costs included, USD.
    condor_leg_daily_pnl : ndarray of shape (4, n_days)
        Daily mark-to-mid P&L per condor leg, USD.
    pricing_model : str
    """

    dates: np.ndarray
    spx: np.ndarray
    vix: np.ndarray
    daily_pnl: np.ndarray
    hedge_pnl: np.ndarray
    layer_daily_pnl: np.ndarray
    condor_leg_daily_pnl: np.ndarray
    pricing_model: str


@_one_blas_thread
def replay(prepared: Prepared, table=None, days: np.ndarray | None = None) -> ReplayResult:
    """Run the condor and every hedge of the scenario on the real daily closes of its data window.

    Options are priced by the scenario's calibrated model (its Q side, the run's own VIX table and
    SPX surface) on the state it implies from the real VIX (:class:`alvh.models.replay.HistoricalReplay`);
    a regime model is priced in the regime it reads off the real data
    (:meth:`~alvh.models.base.PathModel.real_levels`: the two-factor model's level from the VIX6M), or
    in its regime 0 when it cannot.

    Parameters
    ----------
    prepared : Prepared
    table : VIX pricer, optional
        Prices the VIX layers instead of the run's own table: for instance
        :class:`alvh.realprices.RealVixPrices`, the real futures and a VVIX-based vol, whose day ``t``
        is the ``t``-th replayed day.
    days : ndarray of bool, shape (n_data_days,), optional
        The data days to replay (contiguous); default all.

    Raises
    ------
    ValueError
        If the scenario's model is itself a replay (run it directly), or ``days`` selects fewer than 2
        days or has the wrong shape.
    """
    if isinstance(prepared.model, HistoricalReplay):
        raise ValueError("the scenario is already a replay")
    sc, data = prepared.scenario, prepared.data
    sel = np.ones(len(data.spx), bool) if days is None else np.asarray(days, bool)
    if sel.shape != (len(data.spx),) or sel.sum() < 2:
        raise ValueError(f"replay days: need a mask of {len(data.spx)} days selecting at least 2")
    spx, vix, dates = np.asarray(data.spx)[sel], np.asarray(data.vix)[sel], np.asarray(data.dates)[sel]
    # the states are read off the whole window (a level filter warms up on it), then the days kept
    rp = HistoricalReplay(np.asarray(data.spx), np.asarray(data.vix), np.asarray(data.dates), prepared.model)
    full = rp.simulate(rp.initial_state(0.0, 1), rp.n_days - 1, prepared.dt)
    paths = Paths(full.spot[:, sel], full.var[:, sel], full.vix[:, sel], full.regime[:, sel])
    n_steps = int(sel.sum()) - 1
    market = prepared.market or sc.market
    regime = paths.regime if prepared.model.n_regimes > 1 else None
    book = run_books(paths.spot, paths.var, paths.vix, prepared.surface, market, sc.condor, sc.hedges,
                     prepared.table if table is None else table, prepared.dt, regime=regime, trace=True)
    n_layers = max([len(h.layers) for h in sc.hedges] + [1])
    layer_daily = np.zeros((len(sc.hedges) + 1, n_layers, n_steps + 1))
    for j, h in enumerate(book.hedges, 1):
        layer_daily[j, : h.layer_pnl_daily.shape[0]] = h.layer_pnl_daily[:, 0]
    leg_daily = book.condor_leg_pnl_daily[:, 0]
    daily = np.stack([book.condor_pnl[0]] + [book.condor_pnl[0] + h.pnl[0] for h in book.hedges])
    hedge = np.stack([np.zeros(n_steps + 1)] + [h.pnl[0] for h in book.hedges])
    return ReplayResult(
        dates=dates.astype("datetime64[D]"), spx=spx.astype(float), vix=vix.astype(float), daily_pnl=daily, hedge_pnl=hedge, layer_daily_pnl=layer_daily,
        condor_leg_daily_pnl=leg_daily, pricing_model=prepared.model.name,
    )
