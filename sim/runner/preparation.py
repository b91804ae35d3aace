"""A run's preparation: data, calibration, VIX table, surface, stress shocks and diagnostics
(:func:`prepare`), with the model's spot-vol elasticity and the days deltas are measured on."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from alvh.models.calibration import market_statistics, model_statistics
from alvh.models.heston import FellerConditionWarning
from alvh.models.replay import HistoricalReplay
from alvh.models.stress import Shock, event_intensity, preset_shock, simulate_with_overlays
from alvh.config import Scenario
from alvh.data import load_market_data, load_series
from alvh.modelspec import build_model
from alvh.pricing import make_vix_table
from alvh.surface import make_surface
from alvh.strategy import BACKWARDATION_DTE, dte_to_steps
from alvh.runner.records import Prepared


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
