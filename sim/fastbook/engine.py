"""The Python side of the compiled engine: which inputs it covers (:func:`supported`), the surface and
VIX table packed for the kernel, and :func:`run_books_compiled`, which packs the specs, runs the
kernel and returns the :class:`~alvh.strategy.BookResult`."""

from __future__ import annotations

import math

import numpy as np

from alvh.fastbook.base import (_GUIDE_BUCKETS, _HAVE_NUMBA, _INSTRUMENTS, _LOCAL, _SIZINGS, _STRIKE_RULES, _TRIGGERS,
                                numpy_engine)
from alvh.fastbook.kernel import _kernel
from alvh.fastprice import _atm_tv


def _numpy_bisection_constants(tau: float, rate: float, div: float) -> np.ndarray:
    t = np.asarray(tau, dtype=float)
    return np.array([math.exp((rate - div) * tau), float(np.exp((rate - div) * t)), float(np.sqrt(t)),
                     float(np.exp(-rate * t)), float(np.exp(-div * t))])


_SURF_CACHE: dict = {}


def _fourier_args(surface):
    """``(var_nodes, atm_flat, coef, params)`` of a FourierSurface for the kernel, or a reason string."""
    from alvh.surface import FourierSurface, _q_variance_coefficients

    if type(surface) is not FourierSurface:
        return f"SPX surface {type(surface).__name__} (only FourierSurface is compiled)"
    if not surface._uses_own_formulas(FourierSurface):
        return "FourierSurface with overridden formulas"
    hit = _SURF_CACHE.get(id(surface))
    if hit is not None and hit[0] is surface:
        return hit[1]
    coeffs = _q_variance_coefficients(surface.pricing_model)
    if coeffs is None:
        return f"no closed-form Q variance for the {surface.pricing_model.name} model"
    n_v, n_t, n_i = surface._shape
    kappa, theta, c = coeffs
    params = np.array([surface._v_shift, surface._x0, surface._sv_step, surface._lt0, surface._lt_step, surface._xi0,
                       surface._xi_step, surface.z_scale, kappa, theta, c, n_v, n_t, n_i], dtype=float)
    # the kernel evaluates the Q-expected variance itself: only where it reproduces the model's
    v = np.concatenate((surface.var_nodes, 0.5 * (surface.var_nodes[:-1] + surface.var_nodes[1:])))
    t = np.concatenate((surface.tau_nodes, [1e-12, 1e-9, 1.0 / 365.0, 2.0]))
    ref = np.asarray(surface.pricing_model.atm_total_variance(v[:, None], t[None, :]), dtype=float)
    mine = np.array([[_atm_tv(a, b, params) for b in t] for a in v])
    if not np.all(np.abs(mine - ref) <= 1e-13 * np.abs(ref)):
        out = "the model's Q-expected variance differs from the closed form"
    else:
        out = (np.ascontiguousarray(surface.var_nodes, dtype=float), np.ascontiguousarray(surface._atm_flat),
               np.ascontiguousarray(surface._coef_t.T), params)
    if len(_SURF_CACHE) > 16:
        _SURF_CACHE.clear()
    _SURF_CACHE[id(surface)] = (surface, out)
    return out


def supported(spot, variance, vix, surface, market, condor, hedges, table, dt, regime=None, measure_days=None,
              trace=False) -> tuple[bool, str]:
    """Whether :func:`run_books_compiled` covers these arguments of :func:`alvh.strategy.run_books`.

    Returns
    -------
    (bool, str)
        ``(True, "")``, or ``(False, reason)``: the numpy engine must run (it also raises every input
        error, so anything malformed is answered "no" here).
    """
    from alvh.costs import Frictions, InstrumentCosts
    from alvh.pricing import VixOptionTable
    from alvh.strategy import CondorSpec, HedgeSpec, MarketSpec, dte_to_steps

    if getattr(_LOCAL, "off", False):
        return False, "the numpy engine was requested (alvh.fastbook.numpy_engine)"
    if not _HAVE_NUMBA:
        return False, "numba is not installed"
    import sys

    fp_mod = sys.modules.get("alvh.fastprice")
    if fp_mod is not None and not getattr(fp_mod, "ENABLED", True):
        return False, "the numpy reference is selected (alvh.fastprice kernels off)"
    if trace:
        return False, "trace=True (the trade log) runs on the numpy engine"
    if regime is not None:
        return False, "regime-switching paths (regime given)"
    if type(market) is not MarketSpec or type(condor) is not CondorSpec:
        return False, "market or condor is not a plain MarketSpec / CondorSpec"
    fr = market.frictions
    if type(fr) is not Frictions or any(type(c) is not InstrumentCosts
                                        for c in (fr.spx_option, fr.vix_option, fr.vix_future)):
        return False, "frictions are not plain Frictions / InstrumentCosts"
    try:
        hedges = tuple(hedges)
    except TypeError:
        return False, "hedges is not a sequence"
    if any(type(h) is not HedgeSpec for h in hedges):
        return False, "a hedge is not a HedgeSpec"
    arrs = []
    for a in (spot, variance, vix):
        if not isinstance(a, np.ndarray) or a.ndim != 2 or a.dtype.kind not in "fiu":
            return False, "spot, variance and vix must be 2-D numeric arrays"
        arrs.append(a)
    if not (arrs[0].shape == arrs[1].shape == arrs[2].shape) or arrs[0].shape[0] == 0 or arrs[0].shape[1] == 0:
        return False, "spot, variance and vix shapes differ (or are empty)"
    t_len = arrs[0].shape[1]
    if measure_days is not None and np.shape(measure_days) != (t_len,):
        return False, "measure_days has the wrong shape"
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        return False, "dt is not a number"
    if not (dt > 0 and math.isfinite(dt)):
        return False, "dt must be > 0"
    spy = 1.0 / dt
    if condor.entry_interval_days < 1:
        return False, "entry_interval_days < 1"
    if not 0.0 < condor.short_delta < 1.0 or (condor.wing_delta > 0 and not condor.wing_delta < 1.0):
        return False, "condor deltas outside (0, 1) (strike_for_delta raises)"
    f = _fourier_args(surface)
    if isinstance(f, str):
        return False, f
    tau_max = surface.tau_max
    c_steps_shift = condor.max_steps(spy)
    spx_steps = [max(dte_to_steps(ly.dte_open, spy), 1) for h in hedges for ly in h.layers if ly.on_spx]
    if max([c_steps_shift] + spx_steps) * dt > tau_max * (1.0 + 1e-9):
        return False, "the SPX surface does not reach the strategies' maturities (numpy raises)"
    needs_table = any(not ly.on_spx or ly.sizing == "bands" for h in hedges for ly in h.layers)
    if needs_table:
        if type(table) is not VixOptionTable:
            return False, f"VIX pricer {type(table).__name__} (only VixOptionTable is compiled)"
    for h in hedges:
        for ly in h.layers:
            o = max(dte_to_steps(ly.dte_open, spy), 1)
            r = dte_to_steps(ly.dte_roll, spy)
            if not r < o:
                return False, f"hedge '{h.name}': roll step not after the entry (numpy raises)"
            if not ly.on_spx and o > table.max_steps:
                return False, f"hedge '{h.name}': the VIX table is too short (numpy raises)"
            if ly.strike_rule == "delta" and not 0.0 < ly.strike_delta < 1.0:
                return False, f"hedge '{h.name}': strike_delta outside (0, 1) (numpy raises)"
            if ly.instrument not in _INSTRUMENTS or ly.strike_rule not in _STRIKE_RULES \
                    or ly.trigger not in _TRIGGERS or ly.sizing not in _SIZINGS:
                return False, f"hedge '{h.name}': unknown rule"
            if ly.trigger == "backwardation":
                return False, f"hedge '{h.name}': the 'backwardation' trigger is not compiled"
        if h.rsi_exit > 0 and h.rsi_period < 1:
            return False, "rsi_period < 1 (numpy raises)"
    return True, ""


_ZERO_RSI = np.zeros((1, 1, 1))
_TABLE_CACHE: dict = {}


def _table_args(table):
    """``(nodes, guide, futures (steps, nodes), calls (steps, strikes, nodes), strikes)`` of a
    VixOptionTable for the kernel, built once per table (placeholders without a table)."""
    if table is None or not hasattr(table, "vix_nodes"):
        return np.array([0.0, 1.0]), np.zeros(2, dtype=np.int64), np.zeros((1, 2)), np.zeros((1, 1, 2)), np.array([1.0])
    hit = _TABLE_CACHE.get(id(table))
    if hit is not None and hit[0] is table and hit[1][2].shape[::-1] == table.futures_table.shape:
        return hit[1]
    nodes = np.ascontiguousarray(table.vix_nodes, dtype=float)
    edges = nodes[0] + (nodes[-1] - nodes[0]) * (np.arange(_GUIDE_BUCKETS + 1) / _GUIDE_BUCKETS)
    guide = np.clip(np.searchsorted(nodes, edges, side="right") - 1, 0, nodes.size - 1).astype(np.int64)
    futs = np.ascontiguousarray(np.asarray(table.futures_table, dtype=float).T)
    calls = np.ascontiguousarray(np.asarray(table.call_table, dtype=float).transpose(1, 2, 0))
    out = (nodes, guide, futs, calls, np.ascontiguousarray(table.strikes, dtype=float))
    if len(_TABLE_CACHE) > 4:
        _TABLE_CACHE.clear()
    _TABLE_CACHE[id(table)] = (table, out)
    return out


def run_books_compiled(spot, variance, vix, surface, market, condor, hedges, table, dt, regime=None,
                       measure_days=None, trace=False):
    """:func:`alvh.strategy.run_books` by the compiled kernel; the same :class:`~alvh.strategy.BookResult`.

    Arguments as :func:`alvh.strategy.run_books`; the caller checks :func:`supported` first (where a
    strike for a delta cannot be reached, the numpy engine is run, and raises as it does).
    """
    from alvh.strategy import BookResult, HedgeResult, dte_to_steps, run_books, wilder_rsi
    from alvh.costs import VIX_FUTURE_MULTIPLIER, SPX_MULTIPLIER

    hedges = tuple(hedges)
    spot = np.ascontiguousarray(spot, dtype=float)
    variance = np.ascontiguousarray(variance, dtype=float)
    vix = np.ascontiguousarray(vix, dtype=float)
    n, t_len = spot.shape
    dt = float(dt)
    spy = 1.0 / dt
    measure = np.zeros(t_len, dtype=np.bool_) if measure_days is None else np.ascontiguousarray(measure_days,
                                                                                                 dtype=np.bool_)
    var_nodes, atm, coef, fp = _fourier_args(surface)
    fr = market.frictions
    costs = np.array([[c.multiplier, c.min_half_spread, c.rel_half_spread, c.vix_elasticity, c.commission,
                       c.max_half_spread] for c in (fr.spx_option, fr.vix_option, fr.vix_future)], dtype=float)
    nodes, guide, futs, calls, strikes = _table_args(table)
    c_steps = max(dte_to_steps(condor.dte, spy), 1)
    c_steps_shift = condor.max_steps(spy)
    close_steps = dte_to_steps(condor.close_dte, spy) if condor.close_dte > 0 else 0
    cf = np.array([condor.short_delta, condor.wing_width, condor.wing_delta, condor.profit_take, condor.stop_multiple,
                   condor.margin_fraction, condor.time_shift_vix], dtype=float)
    ci = np.array([c_steps, c_steps_shift, close_steps, condor.entry_interval_days, int(bool(condor.time_shift))],
                  dtype=np.int64)
    c_consts = np.stack([_numpy_bisection_constants(c_steps * dt, market.rate, market.div),
                         _numpy_bisection_constants(c_steps_shift * dt, market.rate, market.div)])
    n_h = len(hedges)
    l_max = max([len(h.layers) for h in hedges] + [1])
    b_max = max([len(h.budget_bands) for h in hedges] + [1])
    hf = np.zeros((n_h, 8))
    hi_ = np.zeros((n_h, 5), dtype=np.int64)
    lf = np.zeros((n_h, l_max, 8))
    li = np.zeros((n_h, l_max, 9), dtype=np.int64)
    bands = np.zeros((n_h, b_max, 3))
    l_consts = np.zeros((n_h, l_max, 5))
    periods = sorted({h.rsi_period for h in hedges if h.rsi_exit > 0})
    rsi = np.stack([wilder_rsi(vix, pp) for pp in periods]) if periods else _ZERO_RSI
    for j, h in enumerate(hedges):
        hf[j] = (h.budget_pct_per_year, h.vega_ratio, h.exit_multiple, h.rsi_exit, h.deepest_layer_cap,
                 h.margin_share_cap, h.future_margin_fraction, h.min_price)
        hi_[j] = (len(h.layers), h.stagger_days, periods.index(h.rsi_period) if h.rsi_exit > 0 else -1,
                  len(h.budget_bands), h.deepest_layer)
        for b, band in enumerate(h.budget_bands):
            bands[j, b] = band
        for i, ly in enumerate(h.layers):
            o = max(dte_to_steps(ly.dte_open, spy), 1)
            r = dte_to_steps(ly.dte_roll, spy)
            mult = VIX_FUTURE_MULTIPLIER if ly.instrument == "future" else SPX_MULTIPLIER
            lf[j, i] = (ly.allocation, ly.strike_otm, ly.strike_delta, ly.spread_width, ly.trigger_vix,
                        ly.decay_share, mult, max(o - r, 1) * dt)
            li[j, i] = (_INSTRUMENTS[ly.instrument], _STRIKE_RULES[ly.strike_rule], _TRIGGERS[ly.trigger],
                        _SIZINGS[ly.sizing], o, r, ly.trigger_days, 0,
                        0 if ly.on_spx else (2 if ly.instrument == "future" else 1))
            l_consts[j, i] = _numpy_bisection_constants(o * dt, market.rate, market.div)

    condor_pnl = np.zeros((n, t_len))
    condor_delta = np.full((n, t_len), np.nan)
    leg_pnl = np.zeros((4, n))
    c_spread, c_comm, c_credit, contracts_sum, c_peak = (np.zeros(n) for _ in range(5))
    n_condors, n_takes, n_stops, n_dte = (np.zeros(n, dtype=np.int64) for _ in range(4))
    h_pnl = np.zeros((n_h, n, t_len))
    h_delta = np.full((n_h, n, t_len), np.nan)
    h_layer_pnl = np.zeros((n_h, l_max, n))
    h_prem = np.zeros((n_h, l_max, n))
    h_payoff, h_spread, h_comm, h_active, h_peak = (np.zeros((n_h, n)) for _ in range(5))
    h_nent = np.zeros((n_h, l_max, n), dtype=np.int64)
    h_ncap = np.zeros((n_h, l_max, n), dtype=np.int64)

    status = _kernel(spot, variance, vix, measure, rsi, dt, float(market.rate), float(market.div),
                     float(market.capital), float(market.spot_vol_beta), float(fr.vix_ref), costs,
                     var_nodes, atm, coef, fp, nodes, guide, futs, calls, strikes,
                     cf, ci, c_consts, hf, hi_, lf, li, bands, l_consts,
                     condor_pnl, condor_delta, leg_pnl, c_spread, c_comm, c_credit, n_condors, n_takes, n_stops, n_dte,
                     contracts_sum, c_peak,
                     h_pnl, h_delta, h_layer_pnl, h_prem, h_payoff, h_spread, h_comm, h_active, h_peak, h_nent, h_ncap,
                     np.zeros((8, 4)), np.zeros((2, 4), dtype=np.bool_))
    if status != 0:   # a delta strike out of reach: the numpy engine raises its error
        with numpy_engine():
            return run_books(spot, variance, vix, surface, market, condor, hedges, table, dt, regime=regime,
                             measure_days=measure_days, trace=trace)
    out_hedges = []
    for j, h in enumerate(hedges):
        L = len(h.layers)
        prem = h_prem[j, :L]
        out_hedges.append(HedgeResult(
            name=h.name, pnl=h_pnl[j], layer_pnl=h_layer_pnl[j, :L], premium=prem.sum(axis=0),
            premium_by_layer=prem, payoff=h_payoff[j], spread_cost=h_spread[j], commission=h_comm[j],
            active_share=h_active[j] / t_len, peak_capital=h_peak[j], delta=h_delta[j],
            n_entries=h_nent[j, :L], n_cap_bound=h_ncap[j, :L], layer_pnl_daily=None,
        ))
    return BookResult(
        condor_pnl=condor_pnl, condor_leg_pnl=leg_pnl, condor_delta=condor_delta,
        condor_spread_cost=c_spread, condor_commission=c_comm, condor_credit=c_credit,
        n_condors=n_condors, n_profit_takes=n_takes, n_stops=n_stops, n_dte_closes=n_dte,
        condor_contracts=np.divide(contracts_sum, n_condors, out=np.zeros(n), where=n_condors > 0),
        condor_peak_capital=c_peak, hedges=out_hedges, trades=None, condor_leg_pnl_daily=None,
    )
