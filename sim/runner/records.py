"""The records of a run: :class:`Prepared` (computed once per run) and :class:`RunResult`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alvh.models.base import FitReport, PathModel
from alvh.models.replay import HistoricalReplay
from alvh.config import Scenario
from alvh.data import MarketData
from alvh.pathstore import PathStore
from alvh.surface import FourierSurface, SpxSurface
from alvh.strategy import MarketSpec


@dataclass
class Prepared:
    """Everything a chunk needs, computed once per run.

    Attributes
    ----------
    scenario : Scenario
    data : MarketData
    model : PathModel
        The calibrated model (P paths, Q prices), with the scenario's overrides.
    fit : FitReport
        How the model was fitted (or which parameter file it came from).
    s0 : float
        Initial SPX level.
    var0 : float
        Initial variance (annualised).
    regime0 : int
        Initial regime.
    table : VixOptionTable or MarkovVixTable
        VIX futures and call prices for the model (:func:`alvh.pricing.make_vix_table`).
    surface : SpxSurface
        SPX implied-volatility surface for the model (:func:`alvh.surface.make_surface`).
    shocks : tuple of Shock
        Scripted stress shocks.
    intensity : ndarray of shape (n_steps,) or None
        Jump-intensity multipliers of the event calendar.
    history_stats, model_stats : dict
        :func:`alvh.models.calibration.market_statistics` of the real sample and of stationary model
        paths of the same length.
    market : MarketSpec
        The scenario's market with ``spot_vol_beta`` set from the model (:func:`spot_vol_beta`).
    """

    scenario: Scenario
    data: MarketData
    model: PathModel
    fit: FitReport
    s0: float
    var0: float
    regime0: int
    table: object
    surface: SpxSurface
    shocks: tuple
    intensity: np.ndarray | None
    history_stats: dict
    model_stats: dict
    market: MarketSpec | None = None

    @property
    def surface_name(self) -> str:
        """Which SPX surface prices the options, in words."""
        if isinstance(self.surface, FourierSurface):
            return f"{self.surface.model.name} model's own (Fourier prices, tabulated)"
        return "SSVI (anchored to the model's expected variance)"

    @property
    def dt(self) -> float:
        """Years per step (``1 / steps_per_year``)."""
        return 1.0 / self.scenario.simulation["steps_per_year"]

    @property
    def n_steps(self) -> int:
        """Steps simulated: the scenario's horizon, or the whole real path for a replay."""
        if isinstance(self.model, HistoricalReplay):
            return self.model.n_days - 1
        return self.scenario.n_steps


@dataclass
class RunResult:
    """Output of :func:`run`.

    Attributes
    ----------
    prepared : Prepared
    n_paths, seed, jobs, chunk_size : int
    strategies : list of HedgeSpec or None
        ``None`` first (the condor alone, "unhedged"), then the scenario's hedges in order.
    per_strategy : dict of str to array of shape (n_strategies, n_paths)
        Fields of :data:`STRATEGY_FIELDS`. These and the other per-path arrays (``layer_*``,
        ``condor_leg_pnl``, ``per_path``) are :class:`alvh.pathstore.StoredArray` objects on disk:
        ``x[s]`` reads one row, ``np.asarray(x)`` all of it.
    layer_pnl : ndarray of shape (n_strategies, n_layers, n_paths)
        P&L of each hedge layer incl. its costs, USD (0 where a strategy has fewer layers).
    layer_entries, layer_cap_bound : ndarray of shape (n_strategies, n_layers, n_paths)
        Entries of each layer, and entries cut or blocked by the hedge's caps.
    condor_leg_pnl : ndarray of shape (4, n_paths)
        Mark-to-mid P&L per condor leg (:data:`LEG_NAMES`), USD.
    per_path : dict of str to ndarray of shape (n_paths,)
        Fields of :data:`PATH_FIELDS`.
    daily_pnl : ndarray of DAILY_DTYPE (float32), shape (n_strategies, n_daily, n_steps + 1)
        Daily P&L per strategy of the daily sample, paths ``0 .. n_daily - 1`` with
        ``n_daily = min(n_paths, daily_paths)``, USD (for the pooled daily metrics and claims).
    daily_delta : ndarray of DAILY_DTYPE (float32), shape (n_strategies, n_daily, n_steps + 1)
        Position delta per condor on measured days (:func:`measure_days`), NaN elsewhere.
    regime : ndarray of int8, shape (n_daily, n_steps + 1)
    event_day : ndarray of bool, shape (n_steps + 1,)
        Scheduled event days of the scenario.
    sample_spx, sample_vix : ndarray of shape (n_sample, n_steps + 1)
    sample_cum_pnl : ndarray of shape (n_strategies, n_sample, n_steps + 1)
        Cumulative P&L of the sampled paths per strategy, USD.
    sample_regime : ndarray of int8, shape (n_sample, n_steps + 1)
    sample_path_index : ndarray of int, shape (n_sample,)
    elapsed_s : float
        Wall time of the simulation (after preparation), seconds.
    resumed_chunks : int
        Chunks read back from a checkpoint instead of computed.
    path_store : alvh.pathstore.PathStore
        The files behind the per-path arrays (a temporary folder unless :func:`run` was given one).
    """

    prepared: Prepared
    n_paths: int
    seed: int
    jobs: int
    chunk_size: int
    strategies: list
    per_strategy: dict[str, np.ndarray]
    layer_pnl: np.ndarray
    condor_leg_pnl: np.ndarray
    per_path: dict[str, np.ndarray]
    daily_pnl: np.ndarray
    daily_delta: np.ndarray
    regime: np.ndarray
    event_day: np.ndarray
    layer_entries: np.ndarray
    layer_cap_bound: np.ndarray
    sample_spx: np.ndarray
    sample_vix: np.ndarray
    sample_cum_pnl: np.ndarray
    sample_regime: np.ndarray
    sample_path_index: np.ndarray
    elapsed_s: float = 0.0
    resumed_chunks: int = 0
    path_store: PathStore | None = None

    @property
    def strategy_names(self) -> list[str]:
        """Strategy names, ``'unhedged'`` first."""
        return ["unhedged"] + [h.name for h in self.strategies[1:]]
