"""The chunked Monte Carlo runner: calibrate once, then generate, price and reduce chunk by chunk.

Randomness follows numpy's SPEC 7: one root ``SeedSequence(seed)``; its child 0 seeds the path
chunks (chunk i gets grandchild i, whatever the number of chunks or workers) and its child 1 seeds the
calibration diagnostics. Chunk sizes depend only on ``n_paths`` and ``chunk_size``, never on the
number of workers, so results are identical for any ``jobs``.

A chunk never leaves the worker as whole paths: it is reduced to per-path summaries (a few numbers
per path) plus the first ``sample_paths_per_chunk`` paths kept whole for fan charts. Memory is
therefore flat in the number of paths.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from models.base import FitReport, PathModel
from models.calibration import market_statistics, model_statistics
from models.heston import FellerConditionWarning
from models.replay import HistoricalReplay
from models.stress import Shock, event_intensity, preset_shock, simulate_with_overlays
from sim.config import Scenario
from sim.data import MarketData, load_market_data, load_series
from sim.modelspec import build_model
from sim.pricing import make_vix_table
from sim.surface import FourierSurface, SpxSurface, make_surface
from sim.strategy import AlvhSpec, CondorSpec, MarketSpec, dte_to_steps, run_books

__all__ = ["Prepared", "RunResult", "prepare", "simulate_chunk", "run", "PATH_FIELDS"]

#: Per-path summary fields: name -> (units, description).
PATH_FIELDS: dict[str, tuple[str, str]] = {
    "pnl_unhedged": ("USD", "condor P&L over the horizon"),
    "pnl_hedged": ("USD", "condor + ALVH P&L over the horizon"),
    "max_drawdown_unhedged": ("USD", "largest peak-to-trough fall of cumulative P&L, condor alone"),
    "max_drawdown_hedged": ("USD", "largest peak-to-trough fall of cumulative P&L, condor + ALVH"),
    "worst_day_unhedged": ("USD", "worst one-day P&L, condor alone"),
    "worst_day_hedged": ("USD", "worst one-day P&L, condor + ALVH"),
    "hedge_premium": ("USD", "premium paid for VIX calls at mid"),
    "hedge_payoff": ("USD", "value received from VIX calls: sales, settlements, final mark"),
    "hedge_spread_cost": ("USD", "half-spreads paid on VIX call trades"),
    "hedge_commission": ("USD", "commissions paid on VIX call trades"),
    "hedge_cost_annual_pct": ("% of capital per year", "net hedge cost: premium - payoff + spreads + commissions"),
    "hedge_active_share": ("1", "share of days with VIX at or above the activation level"),
    "condor_credit": ("USD", "opening credits collected at mid"),
    "condor_spread_cost": ("USD", "half-spreads paid on condor legs"),
    "condor_commission": ("USD", "commissions paid on condor legs"),
    "condor_contracts": ("1", "mean condors per entry, sized on defined-risk margin (width - credit)"),
    "peak_capital_used_pct": ("% of capital", "largest daily condor margin + premium of VIX calls held"),
    "n_condors": ("1", "condors opened"),
    "n_profit_takes": ("1", "condors closed at the profit target"),
    "n_stops": ("1", "condors closed at the stop"),
    "spx_return": ("%", "SPX price return over the horizon"),
    "vix_max": ("VIX points", "highest model VIX on the path"),
    "top_regime_share": ("1", "share of days in the most volatile regime (0 for single-regime models)"),
    "regime_worst_day": ("1", "regime label on the worst day of condor + ALVH"),
}


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
        VIX futures and call prices for the model (:func:`sim.pricing.make_vix_table`).
    surface : SpxSurface
        SPX implied-volatility surface for the model (:func:`sim.surface.make_surface`).
    shocks : tuple of Shock
        Scripted stress shocks.
    intensity : ndarray of shape (n_steps,) or None
        Jump-intensity multipliers of the event calendar.
    history_stats, model_stats : dict
        :func:`models.calibration.market_statistics` of the real sample and of stationary model
        paths of the same length.
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

    @property
    def surface_name(self) -> str:
        """Which SPX surface prices the options, in words."""
        if isinstance(self.surface, FourierSurface):
            return f"{self.surface.model.name} model's own (Fourier prices, tabulated)"
        return "SSVI (anchored to the model's expected variance)"

    @property
    def dt(self) -> float:
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
    per_path : dict of str to ndarray of shape (n_paths,)
        Fields of :data:`PATH_FIELDS`.
    sample_spx, sample_vix, sample_cum_unhedged, sample_cum_hedged : ndarray of shape (n_sample, n_steps + 1)
        Whole paths kept for fan charts: SPX (points), VIX (points), cumulative P&L (USD).
    sample_regime : ndarray of int8, shape (n_sample, n_steps + 1)
        Regime labels of the sampled paths.
    sample_path_index : ndarray of int, shape (n_sample,)
        Index of each sampled path among all paths.
    elapsed_s : float
        Wall time of the simulation (after preparation), seconds.
    """

    prepared: Prepared
    n_paths: int
    seed: int
    jobs: int
    chunk_size: int
    per_path: dict[str, np.ndarray]
    sample_spx: np.ndarray
    sample_vix: np.ndarray
    sample_cum_unhedged: np.ndarray
    sample_cum_hedged: np.ndarray
    sample_regime: np.ndarray
    sample_path_index: np.ndarray
    elapsed_s: float = 0.0


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


def prepare(scenario: Scenario, seed: int) -> Prepared:
    """Load data, calibrate the model (or read its parameter file), build the VIX pricer and diagnostics.

    Parameters
    ----------
    scenario : Scenario
    seed : int
        Root seed; its child 1 seeds the diagnostic simulation.

    Raises
    ------
    sim.data.DataError
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
        model, fit, var0, regime0 = build_model(scenario, data, dt)
    if isinstance(model, HistoricalReplay):
        s0 = float(data.spx[0])
    else:
        s0 = float(data.spx[-1]) if sim["spot0"] == "last" else float(sim["spot0"])
    max_steps = max([dte_to_steps(d, sim["steps_per_year"]) for d in scenario.alvh.dte_open] + [1])
    table = make_vix_table(model, dt, max_steps, scenario.market.rate)
    tau_max = (dte_to_steps(scenario.condor.dte, sim["steps_per_year"]) + 1) * dt
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
    return Prepared(
        scenario=scenario, data=data, model=model, fit=fit, s0=s0, var0=var0, regime0=regime0, table=table,
        surface=surface, shocks=shocks, intensity=intensity, history_stats=history, model_stats=model_stats,
    )


def _max_drawdown(pnl: np.ndarray) -> np.ndarray:
    equity = np.cumsum(pnl, axis=1)
    peak = np.maximum.accumulate(np.maximum(equity, 0.0), axis=1)
    return (peak - equity).max(axis=1)


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
    alvh: AlvhSpec,
    table,
    surface: SpxSurface,
    n_sample: int,
    shocks: tuple = (),
    intensity: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Generate one chunk of P-paths, run both books on it and reduce it to per-path summaries.

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
    market, condor, alvh, table, surface
        Pricing and strategy inputs.
    n_sample : int
        Number of leading paths returned whole.
    shocks : tuple of Shock
        Scripted stress shocks (:func:`models.stress.simulate_with_overlays`).
    intensity : ndarray of shape (n_steps,), optional
        Jump-intensity multipliers (event calendar).

    Returns
    -------
    dict
        :data:`PATH_FIELDS` arrays of shape (n_paths,), plus ``sample_*`` arrays of shape
        (min(n_sample, n_paths), n_steps + 1).
    """
    rng = np.random.default_rng(seed_seq)
    state0 = model.initial_state(s0, n_paths, var0, regime0)
    paths = simulate_with_overlays(model, state0, n_steps, dt, rng, shocks, intensity)
    spot, vix = paths.spot, paths.vix
    book = run_books(spot, paths.var, vix, surface, market, condor, alvh, table, dt,
                     regime=paths.regime if model.n_regimes > 1 else None)
    hedged = book.condor_pnl + book.hedge_pnl
    years = n_steps * dt
    worst = np.argmin(hedged, axis=1)
    top = model.n_regimes - 1
    out = {
        "pnl_unhedged": book.condor_pnl.sum(axis=1),
        "pnl_hedged": hedged.sum(axis=1),
        "max_drawdown_unhedged": _max_drawdown(book.condor_pnl),
        "max_drawdown_hedged": _max_drawdown(hedged),
        "worst_day_unhedged": book.condor_pnl.min(axis=1),
        "worst_day_hedged": hedged.min(axis=1),
        "hedge_premium": book.hedge_premium,
        "hedge_payoff": book.hedge_payoff,
        "hedge_spread_cost": book.hedge_spread_cost,
        "hedge_commission": book.hedge_commission,
        "hedge_cost_annual_pct": -book.hedge_pnl.sum(axis=1) / market.capital / years * 100.0,
        "hedge_active_share": book.hedge_active_share,
        "condor_credit": book.condor_credit,
        "condor_spread_cost": book.condor_spread_cost,
        "condor_commission": book.condor_commission,
        "condor_contracts": book.condor_contracts,
        "peak_capital_used_pct": book.peak_capital_used / market.capital * 100.0,
        "n_condors": book.n_condors.astype(float),
        "n_profit_takes": book.n_profit_takes.astype(float),
        "n_stops": book.n_stops.astype(float),
        "spx_return": (spot[:, -1] / spot[:, 0] - 1.0) * 100.0,
        "vix_max": vix.max(axis=1),
        "top_regime_share": (paths.regime == top).mean(axis=1) if top > 0 else np.zeros(n_paths),
        "regime_worst_day": paths.regime[np.arange(n_paths), worst].astype(float),
    }
    k = min(n_sample, n_paths)
    out["sample_spx"] = spot[:k].copy()
    out["sample_vix"] = vix[:k].copy()
    out["sample_regime"] = paths.regime[:k].copy()
    out["sample_cum_unhedged"] = np.cumsum(book.condor_pnl[:k], axis=1)
    out["sample_cum_hedged"] = np.cumsum(hedged[:k], axis=1)
    return out


def run(
    prepared: Prepared,
    n_paths: int,
    seed: int,
    jobs: int = 1,
    chunk_size: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Run all chunks (in parallel with joblib) and gather per-path summaries.

    Parameters
    ----------
    prepared : Prepared
    n_paths : int
        Total number of paths, >= 1.
    seed : int
        Root seed (>= 0).
    jobs : int, default 1
        joblib workers (-1 = all cores). Results do not depend on it.
    chunk_size : int, optional
        Paths per chunk; defaults to the scenario's.
    progress : bool, default True
        Show a progress bar (tqdm) over chunks.

    Returns
    -------
    RunResult

    Raises
    ------
    ValueError
        For ``n_paths < 1`` or ``seed < 0``.
    """
    if n_paths < 1:
        raise ValueError(f"n_paths must be >= 1, got {n_paths}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    sc = prepared.scenario
    chunk_size = chunk_size or sc.simulation["chunk_size"]
    n_chunks = math.ceil(n_paths / chunk_size)
    sizes = [min(chunk_size, n_paths - i * chunk_size) for i in range(n_chunks)]
    children = np.random.SeedSequence(seed).spawn(2)[0].spawn(n_chunks)
    n_sample = sc.simulation["sample_paths_per_chunk"]
    common = dict(
        model=prepared.model, s0=prepared.s0, var0=prepared.var0, regime0=prepared.regime0,
        n_steps=prepared.n_steps, dt=prepared.dt, market=sc.market, condor=sc.condor, alvh=sc.alvh,
        table=prepared.table, surface=prepared.surface, n_sample=n_sample, shocks=prepared.shocks, intensity=prepared.intensity,
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        tasks = (delayed(simulate_chunk)(children[i], sizes[i], **common) for i in range(n_chunks))
        results = Parallel(n_jobs=jobs, return_as="generator")(tasks)
        chunks = list(
            tqdm(results, total=n_chunks, desc=f"{sc.name}: chunks of {chunk_size} paths", unit="chunk",
                 disable=not progress, leave=False)
        )
    elapsed = time.perf_counter() - t0
    per_path = {k: np.concatenate([c[k] for c in chunks]) for k in PATH_FIELDS}
    starts = np.cumsum([0] + sizes[:-1])
    sample_idx = np.concatenate([s + np.arange(c["sample_spx"].shape[0]) for s, c in zip(starts, chunks)])
    cat = lambda k: np.concatenate([c[k] for c in chunks], axis=0)  # noqa: E731
    return RunResult(
        prepared=prepared, n_paths=n_paths, seed=seed, jobs=jobs, chunk_size=chunk_size, per_path=per_path,
        sample_spx=cat("sample_spx"), sample_vix=cat("sample_vix"),
        sample_cum_unhedged=cat("sample_cum_unhedged"), sample_cum_hedged=cat("sample_cum_hedged"),
        sample_regime=cat("sample_regime"), sample_path_index=sample_idx.astype(np.int64), elapsed_s=elapsed,
    )
