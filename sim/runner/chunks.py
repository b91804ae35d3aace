"""One chunk of a run: generate its paths, run every book on them and reduce them to per-path
summaries (:func:`simulate_chunk`); the chunking, the samples each chunk keeps, and the picklable
task that runs a chunk in a worker (:class:`ChunkTask`)."""

from __future__ import annotations

import math
import warnings

import numpy as np

from alvh.models.base import PathModel
from alvh.models.heston import FellerConditionWarning
from alvh.models.stress import simulate_with_overlays
from alvh.surface import SpxSurface
from alvh.strategy import CondorSpec, MarketSpec, run_books
from alvh.runner.layout import DAILY_DTYPE


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
