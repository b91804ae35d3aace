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

from models.calibration import HestonCalibration, calibrate_heston, market_statistics, simulate_stationary_statistics
from models.heston import FellerConditionWarning, HestonParams, model_vix, simulate_qe
from sim.config import Scenario
from sim.data import MarketData, load_market_data
from sim.pricing import VixOptionTable
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
    "hedge_cost_annual_pct": ("% of capital per year", "net hedge cost: premium - payoff + spreads"),
    "hedge_active_share": ("1", "share of days with VIX at or above the activation level"),
    "condor_credit": ("USD", "opening credits collected at mid"),
    "condor_spread_cost": ("USD", "half-spreads paid on condor legs"),
    "n_condors": ("1", "condors opened"),
    "n_profit_takes": ("1", "condors closed at the profit target"),
    "n_stops": ("1", "condors closed at the stop"),
    "spx_return": ("%", "SPX price return over the horizon"),
    "vix_max": ("VIX points", "highest model VIX on the path"),
}


@dataclass
class Prepared:
    """Everything a chunk needs, computed once per run.

    Attributes
    ----------
    scenario : Scenario
    data : MarketData
    calibration : HestonCalibration
    params : HestonParams
        Parameters used for the paths (``v0`` and ``mu`` as the scenario chose).
    s0 : float
        Initial SPX level.
    table : VixOptionTable
    history_stats, model_stats : dict
        :func:`models.calibration.market_statistics` of the real sample and of stationary model
        paths of the same length.
    """

    scenario: Scenario
    data: MarketData
    calibration: HestonCalibration
    params: HestonParams
    s0: float
    table: VixOptionTable
    history_stats: dict
    model_stats: dict

    @property
    def dt(self) -> float:
        return 1.0 / self.scenario.simulation["steps_per_year"]


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
    sample_path_index: np.ndarray
    elapsed_s: float = 0.0


def prepare(scenario: Scenario, seed: int) -> Prepared:
    """Load data, calibrate P and Q, build the VIX option table and the fit diagnostics.

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
        Calibration failure.
    """
    where = str(scenario.path) if scenario.path else scenario.name
    base = scenario.path.parent if scenario.path else None
    data = load_market_data(scenario.data, where, base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        cal = calibrate_heston(
            data.spx, data.vix, dt=1.0 / scenario.simulation["steps_per_year"],
            start=str(data.dates[0].date()), end=str(data.dates[-1].date()),
        )
        p = cal.params
        v0 = {"last": p.v0, "theta": p.theta}.get(scenario.model["v0"], scenario.model["v0"])
        mu = p.mu if scenario.model["mu"] == "fit" else float(scenario.model["mu"])
        params = HestonParams(v0=float(v0), kappa=p.kappa, theta=p.theta, sigma=p.sigma, rho=p.rho, mu=mu, lam=p.lam)
    sim = scenario.simulation
    s0 = float(data.spx[-1]) if sim["spot0"] == "last" else float(sim["spot0"])
    dt = 1.0 / sim["steps_per_year"]
    max_steps = max([dte_to_steps(d, sim["steps_per_year"]) for d in scenario.alvh.dte_open] + [1])
    table = VixOptionTable(params, dt, max_steps, scenario.market.rate)
    diag_ss = np.random.SeedSequence(seed).spawn(2)[1]
    model_stats = simulate_stationary_statistics(params, len(data.spx), 200, np.random.default_rng(diag_ss), dt)
    return Prepared(
        scenario=scenario, data=data, calibration=cal, params=params, s0=s0, table=table,
        history_stats=market_statistics(data.spx, data.vix), model_stats=model_stats,
    )


def _max_drawdown(pnl: np.ndarray) -> np.ndarray:
    equity = np.cumsum(pnl, axis=1)
    peak = np.maximum.accumulate(np.maximum(equity, 0.0), axis=1)
    return (peak - equity).max(axis=1)


def simulate_chunk(
    seed_seq: np.random.SeedSequence,
    n_paths: int,
    params: HestonParams,
    s0: float,
    n_steps: int,
    dt: float,
    market: MarketSpec,
    condor: CondorSpec,
    alvh: AlvhSpec,
    table: VixOptionTable,
    n_sample: int,
) -> dict[str, np.ndarray]:
    """Generate one chunk of P-paths, run both books on it and reduce it to per-path summaries.

    Parameters
    ----------
    seed_seq : numpy.random.SeedSequence
        This chunk's own seed.
    n_paths : int
        Paths in the chunk.
    params : HestonParams
        Model (P for paths, Q for prices).
    s0 : float
        Initial SPX level.
    n_steps : int
        Daily steps.
    dt : float
        Years per step.
    market, condor, alvh, table
        Pricing and strategy inputs.
    n_sample : int
        Number of leading paths returned whole.

    Returns
    -------
    dict
        :data:`PATH_FIELDS` arrays of shape (n_paths,), plus ``sample_*`` arrays of shape
        (min(n_sample, n_paths), n_steps + 1).
    """
    rng = np.random.default_rng(seed_seq)
    spot, var = simulate_qe(
        s0, params.v0, params.kappa, params.theta, params.sigma, params.rho, params.mu, dt, n_steps,
        rng=rng, n_paths=n_paths,
    )
    vix = model_vix(var, params.kappa_q, params.theta_q)
    book = run_books(spot, var, vix, params, market, condor, alvh, table, dt)
    hedged = book.condor_pnl + book.hedge_pnl
    years = n_steps * dt
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
        "hedge_cost_annual_pct": -book.hedge_pnl.sum(axis=1) / market.capital / years * 100.0,
        "hedge_active_share": book.hedge_active_share,
        "condor_credit": book.condor_credit,
        "condor_spread_cost": book.condor_spread_cost,
        "n_condors": book.n_condors.astype(float),
        "n_profit_takes": book.n_profit_takes.astype(float),
        "n_stops": book.n_stops.astype(float),
        "spx_return": (spot[:, -1] / s0 - 1.0) * 100.0,
        "vix_max": vix.max(axis=1),
    }
    k = min(n_sample, n_paths)
    out["sample_spx"] = spot[:k].copy()
    out["sample_vix"] = vix[:k].copy()
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
        params=prepared.params, s0=prepared.s0, n_steps=sc.n_steps, dt=prepared.dt, market=sc.market,
        condor=sc.condor, alvh=sc.alvh, table=prepared.table, n_sample=n_sample,
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
        sample_path_index=sample_idx.astype(np.int64), elapsed_s=elapsed,
    )
