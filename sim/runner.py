"""The chunked Monte Carlo runner: calibrate once, then generate, price and reduce chunk by chunk.

Randomness follows numpy's SPEC 7: one root ``SeedSequence(seed)``; its child 0 seeds the path
chunks (chunk i gets grandchild i, whatever the number of chunks or workers) and its child 1 seeds the
calibration diagnostics. Chunk sizes depend only on ``n_paths`` and ``chunk_size``, never on the
number of workers, so results are identical for any ``jobs``.

A chunk never leaves the worker as whole paths: it is reduced to per-path summaries (a few numbers
per path) before the next one starts. Whole paths are kept only for two bounded samples, fixed by
path index (so identical for any number of workers):

* the fan-chart sample: the first ``sample_paths_per_chunk`` paths of each chunk, until
  ``max_sample_paths`` paths are kept;
* the daily sample: the daily P&L and deltas of the first ``daily_paths`` paths, on which the pooled
  daily statistics (daily VaR/CVaR, convexity, claims 2 and 3, regime cost rates) are computed.

The per-path summaries themselves go to disk as each chunk finishes (:mod:`alvh.pathstore`), so
beyond those caps memory does not grow with the number of paths.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alvh.models.base import FitReport, PathModel, Paths
from alvh.models.calibration import market_statistics, model_statistics
from alvh.models.heston import FellerConditionWarning
from alvh.models.replay import HistoricalReplay
from alvh.models.stress import Shock, event_intensity, preset_shock, simulate_with_overlays
from alvh.config import Scenario
from alvh.data import MarketData, load_market_data, load_series
from alvh.modelspec import build_model
from alvh.pathstore import PathStore
from alvh.pricing import make_vix_table
from alvh.surface import FourierSurface, SpxSurface, make_surface
from alvh.strategy import BACKWARDATION_DTE, CondorSpec, MarketSpec, dte_to_steps, run_books
from alvh.parallel import progress_bar

__all__ = ["Prepared", "RunResult", "prepare", "simulate_chunk", "run", "ChunkTask", "run_identity", "PATH_FIELDS", "STRATEGY_FIELDS",
           "LEG_NAMES", "spot_vol_beta", "measure_days", "replay", "ReplayResult"]

#: Per-strategy, per-path fields (shape (n_strategies, n_paths)): name -> (units, description).
STRATEGY_FIELDS: dict[str, tuple[str, str]] = {
    "pnl": ("USD", "P&L over the horizon, condor + hedge (the condor alone for 'unhedged')"),
    "max_drawdown": ("USD", "largest peak-to-trough fall of cumulative P&L (peak floored at 0)"),
    "worst_day": ("USD", "worst one-day P&L"),
    "hedge_cost_annual_pct": ("% of capital per year", "net hedge cost: -(hedge book P&L) / capital / years"),
    "hedge_premium": ("USD", "paid at mid to open hedge positions (credits received count negative)"),
    "hedge_payoff": ("USD", "received at mid on hedge sales, settlements and the final mark"),
    "hedge_spread_cost": ("USD", "half-spreads paid on hedge trades"),
    "hedge_commission": ("USD", "commissions paid on hedge trades"),
    "hedge_active_share": ("1", "share of days ending with at least one hedge layer held"),
    "peak_capital_used_pct": ("% of capital", "largest daily condor margin + hedge capital"),
}

#: Per-path fields shared by every strategy (shape (n_paths,)): name -> (units, description).
PATH_FIELDS: dict[str, tuple[str, str]] = {
    "condor_credit": ("USD", "opening credits collected at mid"),
    "condor_spread_cost": ("USD", "half-spreads paid on condor legs"),
    "condor_commission": ("USD", "commissions paid on condor legs"),
    "condor_contracts": ("1", "mean condors per entry, sized on defined-risk margin (width - credit)"),
    "n_condors": ("1", "condors opened"),
    "n_profit_takes": ("1", "condors closed at the profit target"),
    "n_stops": ("1", "condors closed at the stop"),
    "spx_return": ("%", "SPX price return over the horizon"),
    "vix_max": ("VIX points", "highest model VIX on the path"),
    "integrated_variance": ("variance x years", "dt * sum of the variance state over the horizon's steps "
                            "(a control variate: alvh.varred)"),
    "top_regime_share": ("1", "share of days in the most volatile regime (0 for single-regime models)"),
    "regime_worst_day": ("1", "regime label on the condor's worst day"),
}

#: what a chunk holds (PER_PATH_KEYS + WHOLE_PATH_KEYS, daily arrays cut to the daily sample); part of
#: the run identity, so a checkpoint written in another layout is refused rather than mixed in
CHUNK_FORMAT = 2
#: chunk outputs with a path axis last, written to the path store
PER_PATH_KEYS = (*STRATEGY_FIELDS, "layer_pnl", "layer_entries", "layer_cap_bound", "condor_leg_pnl", *PATH_FIELDS)
#: chunk outputs kept in memory: the bounded daily sample and fan-chart paths
WHOLE_PATH_KEYS = ("daily_pnl", "daily_delta", "regime", "sample_spx", "sample_vix", "sample_regime", "sample_cum_pnl")
#: dtype of the daily sample's P&L and deltas (computed in float64, stored in float32): half the
#: memory of the sample that stays in memory and in the checkpoint, 364 MB instead of 729 MB for
#: baseline.toml's nine strategies x 20,000 paths x 253 days x 2 arrays. Single precision changes no
#: reported metric or claim by more than a small fraction of its standard error, scaled to that size
#: (tests/test_runner.py::test_float32_daily_sample_moves_no_metric_beyond_its_standard_error).
#: Part of a chunk's layout: changing it needs CHUNK_FORMAT raised, or a resumed checkpoint would mix
#: the two precisions.
DAILY_DTYPE = np.float32

log = logging.getLogger("alvh")

LEG_NAMES = ("long_put", "short_put", "short_call", "long_call")


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


def spot_vol_beta(spot: np.ndarray, vix: np.ndarray) -> float:
    """Elasticity of the VIX to SPX, the OLS slope of daily ``d ln VIX`` on ``d ln S`` (pooled).

    Parameters
    ----------
    spot, vix : ndarray of shape (n_paths, n_days) or (n_days,)
        SPX and VIX levels, points.

    Returns
    -------
    float
        ``cov(d ln VIX, d ln S) / var(d ln S)``; about -5 to -7 on 2014-2018 closes.
    """
    ds = np.diff(np.log(np.atleast_2d(spot)), axis=-1).ravel()
    dv = np.diff(np.log(np.atleast_2d(vix)), axis=-1).ravel()
    ok = np.isfinite(ds) & np.isfinite(dv)
    ds, dv = ds[ok] - ds[ok].mean(), dv[ok] - dv[ok].mean()
    return float((ds * dv).sum() / (ds * ds).sum())


def measure_days(n_steps: int, events: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """Event days of a scenario and the days on which deltas are measured.

    Returns
    -------
    event_day, measure : ndarray of bool, shape (n_steps + 1,)
        Scheduled event days (:func:`alvh.models.stress.event_intensity`: event day ``d`` is the step
        ending on ``d``); deltas are measured on each event day and the day before it (the
        position carried into the event), or on every day when the scenario has no events.
    """
    event = np.zeros(n_steps + 1, dtype=bool)
    if events is None:
        return event, np.ones(n_steps + 1, dtype=bool)
    event[np.arange(events["first_day"], n_steps + 1, events["every_days"])] = True
    return event, event | np.roll(event, -1) & (np.arange(n_steps + 1) < n_steps)


def _shocks(scenario: Scenario, where: str) -> tuple[Shock, ...]:
    out = []
    long_spx = None
    for sh in scenario.stress["shocks"]:
        if "preset" in sh:
            if long_spx is None:
                s = load_series("arch:sp500", "spx", where)
                v = load_series("arch:vix", "vix", where)
                long_spx = (s.index.values, s.to_numpy(float), v.index.values, v.to_numpy(float))
            shock = preset_shock(sh["preset"], sh["day"], *long_spx)
            if "var_jump" in sh or "regime" in sh:
                shock = Shock(shock.day, shock.spx_return, shock.vix_multiplier, sh.get("var_jump", 0.0),
                              sh.get("regime"), shock.name)
        else:
            shock = Shock(sh["day"], sh["spx_return"], sh.get("vix_multiplier", 1.0), sh.get("var_jump", 0.0),
                          sh.get("regime"), f"day {sh['day']}")
        out.append(shock)
    return tuple(out)


def _one_blas_thread(func):
    """Run ``func`` with BLAS/OpenMP pools limited to one thread (threadpoolctl).

    A multithreaded matrix product rounds differently for different thread counts, so the VIX
    tables, the surface and the calibration would otherwise depend on the machine's core count (or
    ``OMP_NUM_THREADS``), and a result would not reproduce bit for bit elsewhere.
    """
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return func(*args, **kwargs)

    return wrapper


@_one_blas_thread
def prepare(scenario: Scenario, seed: int, cache: bool = False) -> Prepared:
    """Load data, calibrate the model (or read its parameter file), build the VIX pricer and diagnostics.

    Parameters
    ----------
    scenario : Scenario
    seed : int
        Root seed; its child 1 seeds the diagnostic simulation.
    cache : bool, default False
        Reuse a calibration of the same model, data and window from the on-disk cache
        (:func:`alvh.modelspec.calibrate_cached`); the result is the same either way.

    Raises
    ------
    alvh.data.DataError
        Missing or unreadable data.
    ValueError
        Calibration failure, a bad parameter file, or parameters that break a model rule.
    """
    where = str(scenario.path) if scenario.path else scenario.name
    base = scenario.path.parent if scenario.path else None
    data = load_market_data(scenario.data, where, base)
    sim = scenario.simulation
    dt = 1.0 / sim["steps_per_year"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        model, fit, var0, regime0 = build_model(scenario, data, dt, cache=cache)
    if isinstance(model, HistoricalReplay):
        s0 = float(data.spx[0])
    else:
        s0 = float(data.spx[-1]) if sim["spot0"] == "last" else float(sim["spot0"])
    spy = sim["steps_per_year"]
    layers = [ly for h in scenario.hedges for ly in h.layers]
    max_steps = max([dte_to_steps(ly.dte_open, spy) for ly in layers if not ly.on_spx] + [1]
                    + [dte_to_steps(BACKWARDATION_DTE[1], spy) for ly in layers if ly.trigger == "backwardation"])
    table = make_vix_table(model, dt, max_steps, scenario.market.rate)
    tau_max = (max([scenario.condor.max_steps(spy)] + [dte_to_steps(ly.dte_open, spy) for ly in layers if ly.on_spx])
               + 1) * dt
    pricing_model = model.pricing if isinstance(model, HistoricalReplay) else model
    surface = make_surface(pricing_model, scenario.market.surface, scenario.market.smile, tau_max)
    shocks = _shocks(scenario, where)
    for sh in shocks:
        if sh.regime is not None and not 0 <= sh.regime < model.n_regimes:
            raise ValueError(f"stress shock on day {sh.day}: regime {sh.regime} is outside 0..{model.n_regimes - 1} "
                             f"for the {model.name} model")
    ev = scenario.stress["events"]
    intensity = None if ev is None else event_intensity(scenario.n_steps, ev["every_days"], ev["multiplier"],
                                                          ev["first_day"])
    diag_ss = np.random.SeedSequence(seed).spawn(2)[1]
    history = market_statistics(data.spx, data.vix)
    if isinstance(model, HistoricalReplay):
        model_stats = dict(history)
    else:
        model_stats = model_statistics(model, len(data.spx), 200, np.random.default_rng(diag_ss), dt)
    # the model's own spot-vol elasticity, from 200 one-year paths of its own (seed child 2)
    if isinstance(model, HistoricalReplay):
        beta = spot_vol_beta(data.spx, data.vix)
    else:
        beta_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
        bp = simulate_with_overlays(model, model.initial_state(s0, 200, var0, regime0), 252, dt, beta_rng)
        beta = spot_vol_beta(bp.spot, bp.vix)
    market = dataclasses.replace(scenario.market, spot_vol_beta=beta)
    return Prepared(
        scenario=scenario, data=data, model=model, fit=fit, s0=s0, var0=var0, regime0=regime0, table=table,
        surface=surface, shocks=shocks, intensity=intensity, history_stats=history, model_stats=model_stats,
        market=market,
    )


def _max_drawdown(pnl: np.ndarray) -> np.ndarray:
    equity = np.cumsum(pnl, axis=-1)
    peak = np.maximum.accumulate(np.maximum(equity, 0.0), axis=-1)
    return (peak - equity).max(axis=-1)


def book_summaries(book, market: MarketSpec, years: float, n_layers: int) -> dict[str, np.ndarray]:
    """Reduce a :class:`alvh.strategy.BookResult` to the per-strategy arrays of :class:`RunResult`.

    Returns
    -------
    dict
        :data:`STRATEGY_FIELDS` arrays of shape (n_strategies, n_paths), ``layer_pnl``,
        ``layer_entries`` and ``layer_cap_bound`` of shape (n_strategies, n_layers, n_paths), ``daily_pnl`` and ``daily_delta`` of shape
        (n_strategies, n_paths, n_steps + 1), strategy 0 being the condor alone.
    """
    n, t_len = book.condor_pnl.shape
    cap = market.capital
    daily = np.stack([book.condor_pnl] + [book.condor_pnl + h.pnl for h in book.hedges])
    zero = np.zeros(n)
    hs = book.hedges
    stack = lambda f, base=zero: np.stack([base] + [f(h) for h in hs])  # noqa: E731
    layer = np.zeros((len(hs) + 1, n_layers, n))
    entries = np.zeros((len(hs) + 1, n_layers, n))
    capped = np.zeros((len(hs) + 1, n_layers, n))
    for j, h in enumerate(hs, 1):
        k = h.layer_pnl.shape[0]
        layer[j, :k] = h.layer_pnl
        entries[j, :k] = h.n_entries
        capped[j, :k] = h.n_cap_bound
    from alvh.fastbook import drawdown_and_worst_day

    fast = drawdown_and_worst_day(daily)        # one compiled pass; None: the numpy code below
    max_dd, worst = fast if fast is not None else (_max_drawdown(daily), daily.min(axis=-1))
    return {
        "pnl": daily.sum(axis=-1),
        "max_drawdown": max_dd,
        "worst_day": worst,
        "hedge_cost_annual_pct": stack(lambda h: -h.pnl.sum(axis=1) / cap / years * 100.0),
        "hedge_premium": stack(lambda h: h.premium),
        "hedge_payoff": stack(lambda h: h.payoff),
        "hedge_spread_cost": stack(lambda h: h.spread_cost),
        "hedge_commission": stack(lambda h: h.commission),
        "hedge_active_share": stack(lambda h: h.active_share),
        "peak_capital_used_pct": stack(lambda h: h.peak_capital, book.condor_peak_capital) / cap * 100.0,
        "layer_pnl": layer,
        "layer_entries": entries,
        "layer_cap_bound": capped,
        "daily_pnl": daily,
        "daily_delta": np.stack([book.condor_delta] + [h.delta for h in hs]),
    }


def simulate_chunk(
    seed_seq: np.random.SeedSequence,
    n_paths: int,
    model: PathModel,
    s0: float,
    var0: float,
    regime0: int,
    n_steps: int,
    dt: float,
    market: MarketSpec,
    condor: CondorSpec,
    hedges: tuple,
    table,
    surface: SpxSurface,
    n_sample: int,
    shocks: tuple = (),
    intensity: np.ndarray | None = None,
    measure: np.ndarray | None = None,
    n_daily: int | None = None,
) -> dict[str, np.ndarray]:
    """Generate one chunk of P-paths, run every book on it and reduce it to per-path summaries.

    Parameters
    ----------
    seed_seq : numpy.random.SeedSequence
        This chunk's own seed.
    n_paths : int
        Paths in the chunk.
    model : PathModel
        P for paths, Q for prices.
    s0, var0, regime0 : float, float, int
        Initial SPX level, variance and regime.
    n_steps : int
        Daily steps.
    dt : float
        Years per step.
    market, condor, hedges, table, surface
        Pricing and strategy inputs (:func:`alvh.strategy.run_books`).
    n_sample : int
        Number of leading paths returned whole.
    shocks : tuple of Shock
        Scripted stress shocks (:func:`alvh.models.stress.simulate_with_overlays`).
    intensity : ndarray of shape (n_steps,), optional
        Jump-intensity multipliers (event calendar).
    measure : ndarray of bool, shape (n_steps + 1,), optional
        Days on which deltas are measured.
    n_daily : int, optional
        Leading paths whose daily arrays are returned (the daily sample); default all.

    Returns
    -------
    dict
        :func:`book_summaries` arrays, the daily ones (:data:`DAILY_DTYPE`) cut to the first ``n_daily`` paths,
        ``condor_leg_pnl`` (4, n_paths), :data:`PATH_FIELDS` arrays of shape (n_paths,), ``regime``
        (n_daily, n_steps + 1), plus ``sample_*`` arrays of the first min(n_sample, n_paths) paths.
    """
    rng = np.random.default_rng(seed_seq)
    state0 = model.initial_state(s0, n_paths, var0, regime0)
    paths = simulate_with_overlays(model, state0, n_steps, dt, rng, shocks, intensity)
    spot, vix = paths.spot, paths.vix
    nd = n_paths if n_daily is None else max(0, min(int(n_daily), n_paths))
    # deltas are kept for the daily sample only: a chunk wholly outside it measures none (they are
    # about a third of the strategy engine's time when measured every day; nothing else reads them)
    book = run_books(spot, paths.var, vix, surface, market, condor, hedges, table, dt,
                     regime=paths.regime if model.n_regimes > 1 else None, measure_days=measure if nd else None)
    years = n_steps * dt
    n_layers = max([len(h.layers) for h in hedges] + [1])
    out = book_summaries(book, market, years, n_layers)
    k = min(n_sample, n_paths)
    sample_cum = np.cumsum(out["daily_pnl"][:, :k], axis=-1)
    out["daily_pnl"] = out["daily_pnl"][:, :nd].astype(DAILY_DTYPE)
    out["daily_delta"] = out["daily_delta"][:, :nd].astype(DAILY_DTYPE)
    worst = np.argmin(book.condor_pnl, axis=1)
    top = model.n_regimes - 1
    out.update({
        "condor_leg_pnl": book.condor_leg_pnl,
        "condor_credit": book.condor_credit,
        "condor_spread_cost": book.condor_spread_cost,
        "condor_commission": book.condor_commission,
        "condor_contracts": book.condor_contracts,
        "n_condors": book.n_condors.astype(float),
        "n_profit_takes": book.n_profit_takes.astype(float),
        "n_stops": book.n_stops.astype(float),
        "spx_return": (spot[:, -1] / spot[:, 0] - 1.0) * 100.0,
        "vix_max": vix.max(axis=1),
        "integrated_variance": paths.var[:, :-1].sum(axis=1) * dt,
        "top_regime_share": (paths.regime == top).mean(axis=1) if top > 0 else np.zeros(n_paths),
        "regime_worst_day": paths.regime[np.arange(n_paths), worst].astype(float),
        "regime": paths.regime[:nd].astype(np.int8),
    })
    out["sample_spx"] = spot[:k].copy()
    out["sample_vix"] = vix[:k].copy()
    out["sample_regime"] = paths.regime[:k].copy()
    out["sample_cum_pnl"] = sample_cum
    return out


def chunk_sizes(n_paths: int, chunk_size: int) -> list[int]:
    """Paths of each chunk of a run: ``ceil(n_paths / chunk_size)`` chunks of ``chunk_size``, the last
    one holding the rest (the one place the chunking is computed; chunk ``i`` gets seed child ``i``).

    Raises
    ------
    ValueError
        ``n_paths`` or ``chunk_size`` below 1.
    """
    if n_paths < 1 or chunk_size < 1:
        raise ValueError(f"n_paths and chunk_size must be >= 1, got {n_paths} and {chunk_size}")
    return [min(chunk_size, n_paths - i * chunk_size) for i in range(math.ceil(n_paths / chunk_size))]


def sample_plan(sizes: list[int], per_chunk: int, max_sample: int, daily_paths: int) -> list[dict]:
    """What each chunk keeps whole: ``n_sample`` fan-chart paths and ``n_daily`` daily-sample paths.

    Parameters
    ----------
    sizes : list of int
        Paths per chunk, in chunk order.
    per_chunk : int
        Fan-chart paths taken from the head of each chunk.
    max_sample : int
        Cap on the fan-chart paths over the run; later chunks contribute none.
    daily_paths : int
        The daily sample: paths ``0 .. daily_paths - 1`` of the run.

    Returns
    -------
    list of dict
        Per chunk ``{"n_sample": int, "n_daily": int}``. Depends only on the chunking, never on
        the workers, so every backend keeps the same paths.
    """
    plan, start, kept = [], 0, 0
    for size in sizes:
        k = max(0, min(per_chunk, size, max_sample - kept))
        plan.append({"n_sample": k, "n_daily": max(0, min(size, daily_paths - start))})
        kept += k
        start += size
    return plan


class ChunkTask:
    """Chunk ``i`` of a run, as a picklable callable: ``task(i) -> (i, simulate_chunk(...))``.

    Each chunk runs with BLAS and OpenMP pools limited to one thread (threadpoolctl), so a chunk's
    arithmetic is the same in this process, in a joblib worker and on a Dask worker.

    Fault injection for tests: when the environment variable ``ALVH_TEST_KILL_CHUNK`` is
    ``"I:MARKER"``, the process running chunk ``I`` exits abruptly (``os._exit``) the first time,
    leaving the file ``MARKER`` so the rerun goes through.
    """

    def __init__(self, children: list, sizes: list[int], common: dict, per_chunk: list[dict]):
        from alvh.parallel import pinned_versions

        self.children, self.sizes, self.common = children, sizes, common
        self.per_chunk = per_chunk      # sample_plan(): n_sample and n_daily of each chunk
        self.versions = pinned_versions()

    def __call__(self, i: int) -> tuple[int, dict]:
        import os

        from threadpoolctl import threadpool_limits

        from alvh.parallel import pinned_versions

        theirs = pinned_versions()
        if theirs != self.versions:
            bad = {k: (self.versions.get(k), theirs.get(k)) for k in self.versions if theirs.get(k) != self.versions[k]}
            raise RuntimeError(f"the worker running chunk {i} has other package versions than the client "
                               f"(client, worker): {bad}; results would differ")
        fault = os.environ.get("ALVH_TEST_KILL_CHUNK")
        if fault:
            idx, marker = fault.split(":", 1)
            if int(idx) == i and not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(17)
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)
            return i, simulate_chunk(self.children[i], self.sizes[i], **self.common, **self.per_chunk[i])


def run_identity(prepared: Prepared, n_paths: int, seed: int, chunk_size: int) -> dict:
    """What makes two runs the same run: the checkpoint of one may be resumed by the other.

    The scenario text, the calibrated model (its parameters, from a fit or a parameter file), the
    initial state and the data (SHA-256 of each), the root seed, the number of paths, the chunking,
    the number of steps, and the versions of the packages that draw and price the paths.
    """
    import hashlib
    import json

    from alvh.parallel import pinned_versions

    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    sim = prepared.scenario.simulation
    model = json.dumps(prepared.model.to_dict(), sort_keys=True, default=float)
    state = json.dumps([float(prepared.s0), float(prepared.var0), int(prepared.regime0)])
    data = np.ascontiguousarray(np.concatenate([np.asarray(prepared.data.spx, float).ravel(),
                                                np.asarray(prepared.data.vix, float).ravel()]))
    return {"scenario_sha256": sha(prepared.scenario.text.encode()), "model_sha256": sha(model.encode()),
            "state_sha256": sha(state.encode()), "data_sha256": sha(data.tobytes()), "seed": int(seed),
            "n_paths": int(n_paths), "chunk_size": int(chunk_size), "n_steps": int(prepared.n_steps),
            "chunk_format": CHUNK_FORMAT, "daily_paths": int(sim["daily_paths"]),
            "sample_paths_per_chunk": int(sim["sample_paths_per_chunk"]),
            "max_sample_paths": int(sim["max_sample_paths"]), "versions": pinned_versions()}


def run(
    prepared: Prepared,
    n_paths: int,
    seed: int,
    jobs: int = 1,
    chunk_size: int | None = None,
    progress: bool = True,
    backend: str = "joblib",
    scheduler: str | None = None,
    client=None,
    checkpoint: Path | str | None = None,
    resume: bool = False,
    fresh: bool = False,
    on_chunk=None,
    path_store: Path | str | None = None,
) -> RunResult:
    """Run all chunks (locally with joblib, or on Dask) and gather per-path summaries.

    Each finished chunk's per-path summaries go to disk at once (:class:`alvh.pathstore.PathStore`)
    and only its bounded samples stay in memory, so memory does not grow with the chunks done.

    Parameters
    ----------
    prepared : Prepared
    n_paths : int
        Total number of paths, >= 1.
    seed : int
        Root seed (>= 0); chunk i draws from child i of ``SeedSequence(seed).spawn(2)[0]``.
    jobs : int, default 1
        joblib workers (-1 = all cores), or the size of a local Dask cluster. Results do not depend on it.
    chunk_size : int, optional
        Paths per chunk; defaults to the scenario's.
    progress : bool, default True
        Show a progress bar (tqdm, with ETA) over chunks.
    backend : {"joblib", "dask"}, default "joblib"
        Where chunks run (:func:`alvh.parallel.run_tasks`). Results do not depend on it.
    scheduler : str, optional
        Dask scheduler address (``tcp://host:8786``); without it ``backend="dask"`` starts a local cluster.
    client : distributed.Client, optional
        A Dask client to use (not closed here).
    checkpoint : path, optional
        Checkpoint folder (:class:`alvh.checkpoint.ChunkStore`): every finished chunk is persisted
        atomically; with ``resume``, chunks finished by an earlier, interrupted run are read back
        instead of recomputed.
    resume, fresh : bool
        Continue the checkpoint of an interrupted run, or discard it.
    on_chunk : callable, optional
        Called with the chunk index after each chunk is finished (computed or read back).
    path_store : path, optional
        Folder for the per-path summaries (:class:`alvh.pathstore.PathStore`), created after the
        checkpoint is opened (so it may live inside it: :func:`alvh.pipeline.run_scenario` puts it in
        the checkpoint folder, which a killed run then leaves in one place); default a temporary
        directory removed with the result.

    Returns
    -------
    RunResult

    Raises
    ------
    ValueError
        For ``n_paths < 1`` or ``seed < 0``.
    alvh.checkpoint.CheckpointExists, alvh.checkpoint.CheckpointError
        A checkpoint is present without ``resume``/``fresh``, or belongs to another run.
    alvh.checkpoint.StorageError
        The disk filled up while writing a checkpoint.
    alvh.parallel.WorkerLostError
        Workers kept dying.
    """
    from alvh.checkpoint import ChunkStore
    from alvh.parallel import run_tasks

    if n_paths < 1:
        raise ValueError(f"n_paths must be >= 1, got {n_paths}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    sc = prepared.scenario
    chunk_size = chunk_size or sc.simulation["chunk_size"]
    sizes = chunk_sizes(n_paths, chunk_size)
    n_chunks = len(sizes)
    children = np.random.SeedSequence(seed).spawn(2)[0].spawn(n_chunks)
    event_day, measure = measure_days(prepared.n_steps, sc.stress["events"])
    common = dict(
        model=prepared.model, s0=prepared.s0, var0=prepared.var0, regime0=prepared.regime0,
        n_steps=prepared.n_steps, dt=prepared.dt, market=prepared.market or sc.market, condor=sc.condor,
        hedges=sc.hedges, table=prepared.table, surface=prepared.surface, shocks=prepared.shocks,
        intensity=prepared.intensity, measure=measure,
    )
    per_chunk = sample_plan(sizes, sc.simulation["sample_paths_per_chunk"], sc.simulation["max_sample_paths"],
                            sc.simulation["daily_paths"])
    store = None
    done = [False] * n_chunks
    starts = [int(s) for s in np.cumsum([0] + sizes[:-1])]
    kept: list[dict | None] = [None] * n_chunks      # per chunk: its bounded whole-path samples only

    def keep(i: int, out: dict) -> None:
        """Per-path summaries to disk; the bounded samples (daily head, fan-chart paths) in memory."""
        missing = [k for k in PER_PATH_KEYS + WHOLE_PATH_KEYS if k not in out]
        if missing:
            raise ValueError(f"chunk {i} lacks {missing}")
        paths.write(starts[i], {k: out[k] for k in PER_PATH_KEYS})
        kept[i] = {k: out[k] for k in WHOLE_PATH_KEYS}
        done[i] = True

    finished: list[int] = []
    if checkpoint is not None:
        store = ChunkStore(Path(checkpoint), run_identity(prepared, n_paths, seed, chunk_size), n_chunks)
        finished = list(store.open(resume=resume, fresh=fresh))    # (a fresh start empties the folder)
    paths = PathStore(n_paths, path_store)
    if store is not None:
        for i in finished:
            out = store.load(i)
            if out is not None:
                keep(i, out)
        n_done = sum(done)
        if n_done:
            log.info("%s: %d of %d chunks read back from the checkpoint %s", sc.name, n_done, n_chunks, checkpoint)
    todo = [i for i in range(n_chunks) if not done[i]]
    resumed = n_chunks - len(todo)
    t0 = time.perf_counter()
    bar = progress_bar(total=n_chunks, initial=n_chunks - len(todo), desc=f"{sc.name}: chunks of {chunk_size} paths",
                       unit="chunk", disable=not progress, leave=False)
    if on_chunk is not None:
        for i in range(n_chunks):
            if done[i]:
                on_chunk(i)
    task = ChunkTask(children, sizes, common, per_chunk)
    with bar:
        for i, out in run_tasks(task, todo, backend=backend, jobs=jobs, scheduler=scheduler, client=client):
            if store is not None:
                store.save(i, out)
            keep(i, out)
            del out
            log.info("%s: chunk %d of %d done (%d paths)", sc.name, i + 1, n_chunks, sizes[i])
            bar.update(1)
            if on_chunk is not None:
                on_chunk(i)
    elapsed = time.perf_counter() - t0
    cat = lambda k, axis=0: np.concatenate([c[k] for c in kept], axis=axis)  # noqa: E731
    sample_idx = np.concatenate([s + np.arange(c["sample_spx"].shape[0]) for s, c in zip(starts, kept)])
    return RunResult(
        prepared=prepared, n_paths=n_paths, seed=seed, jobs=jobs, chunk_size=chunk_size,
        strategies=[None, *sc.hedges],
        per_strategy={k: paths[k] for k in STRATEGY_FIELDS},
        layer_pnl=paths["layer_pnl"], condor_leg_pnl=paths["condor_leg_pnl"],
        layer_entries=paths["layer_entries"], layer_cap_bound=paths["layer_cap_bound"],
        per_path={k: paths[k] for k in PATH_FIELDS},
        daily_pnl=cat("daily_pnl", 1), daily_delta=cat("daily_delta", 1), regime=cat("regime"),
        event_day=event_day,
        sample_spx=cat("sample_spx"), sample_vix=cat("sample_vix"), sample_cum_pnl=cat("sample_cum_pnl", 1),
        sample_regime=cat("sample_regime"), sample_path_index=sample_idx.astype(np.int64), elapsed_s=elapsed,
        resumed_chunks=resumed, path_store=paths,
    )


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
