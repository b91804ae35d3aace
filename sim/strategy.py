"""Strategies priced along paths: a short SPX iron condor, and the ALVH as three VIX-call layers.

Both books are run on the same paths, day by day, vectorised over paths. The condor's decisions do
not depend on the hedge, so "unhedged" is the condor book alone and "hedged" is condor + hedge: every
hedge effect is an exact paired difference on common random numbers.

Accounting (per path, in dollars): each book's cash plus its positions marked at mid. A day's P&L is
the change of that sum: mark-to-mid moves, minus trading costs (half-spread plus commission,
:mod:`sim.costs`) when a leg is opened or closed before expiry. Options held to expiry settle at
intrinsic value with no spread and no commission (cash settlement: SPX against the simulated close,
VIX against the model VIX of that day, standing in for the special opening quotation).

Capital: the condor is sized on its defined-risk margin, ``(wing_width - credit) * 100`` per
condor (:func:`sim.costs.condor_margin`); long VIX calls are paid in full. Capital used on a day is
the open condor's margin plus the premium paid for the VIX calls held.

Time: one step is ``dt`` years of trading (1/252). Tenors given in calendar days (DTE) are turned
into steps as ``round(DTE * 252 / 365)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.costs import SPX_MULTIPLIER, VIX_OPTION_MULTIPLIER, Frictions, condor_margin
from sim.pricing import MarkovVixTable, SpxSmile, VixOptionTable, spx_option, strike_for_delta
from sim.surface import SpxSurface

__all__ = ["CondorSpec", "AlvhSpec", "MarketSpec", "BookResult", "run_books", "dte_to_steps"]

MULTIPLIER = SPX_MULTIPLIER  # SPX and VIX options: $100 per index point
assert VIX_OPTION_MULTIPLIER == SPX_MULTIPLIER


def dte_to_steps(dte: float, steps_per_year: float = 252.0) -> int:
    """Calendar days to expiry -> whole trading steps (``round(dte * steps_per_year / 365)``)."""
    return int(round(dte * steps_per_year / 365.0))


@dataclass(frozen=True)
class CondorSpec:
    """Short SPX iron condor rules.

    Attributes
    ----------
    dte : float
        Calendar days to expiry at entry (45).
    short_delta : float
        Absolute delta of both short strikes at entry (0.15).
    wing_width : float
        Distance from each short strike to its long wing, index points (50).
    profit_take : float
        Close when the condor's mid value has fallen to ``(1 - profit_take)`` of the opening
        credit (0.5 = take 50% of max profit).
    stop_multiple : float
        Close when the cost to buy the condor back reaches ``stop_multiple`` times the opening
        credit (2.0, the source texts' "2x credit stop").
    entry_interval_days : int
        A new condor may be opened only on trading days that are multiples of this (5 = weekly),
        and only when none is open.
    margin_fraction : float
        Share of capital posted as defined-risk margin; at each entry, contracts =
        floor(margin_fraction * capital / ((wing_width - credit) * 100)) (:func:`sim.costs.condor_margin`).
    """

    dte: float = 45.0
    short_delta: float = 0.15
    wing_width: float = 50.0
    profit_take: float = 0.5
    stop_multiple: float = 2.0
    entry_interval_days: int = 5
    margin_fraction: float = 0.5


@dataclass(frozen=True)
class AlvhSpec:
    """First version of the Adaptive Layered VIX Hedge: three VIX-call layers.

    Attributes
    ----------
    enabled : bool
    budget_pct_per_year : float
        Premium budget in % of capital per year; layer i spends ``allocation[i]`` of it, evenly
        over its rolls, while the hedge is active.
    allocation : tuple of float
        Share of the budget per layer (0.4, 0.4, 0.2), sums to 1.
    dte_open : tuple of float
        Calendar DTE at which each layer's call is bought (7, 45, 90).
    dte_roll : tuple of float
        Calendar DTE at or below which it is sold and, if active, replaced (4, 30, 60).
    strike_otm : float
        Strike = VIX future of the option's expiry times ``(1 + strike_otm)``, rounded to a
        whole VIX point (0.2).
    activation_vix : float
        Layers are bought only while the model VIX is at or above this level (16); held layers
        run to their roll date either way.
    """

    enabled: bool = True
    budget_pct_per_year: float = 1.5
    allocation: tuple[float, ...] = (0.4, 0.4, 0.2)
    dte_open: tuple[float, ...] = (7.0, 45.0, 90.0)
    dte_roll: tuple[float, ...] = (4.0, 30.0, 60.0)
    strike_otm: float = 0.2
    activation_vix: float = 16.0


@dataclass(frozen=True)
class MarketSpec:
    """Pricing inputs shared by every instrument.

    Attributes
    ----------
    rate, div : float
        Risk-free rate and SPX dividend yield, continuously compounded, per year.
    frictions : Frictions
        Half-spreads (widening with the VIX) and commissions per instrument (:mod:`sim.costs`).
    capital : float
        Capital base in dollars; costs in % of capital refer to it.
    smile : SpxSmile
        SSVI smile shape, used where the SPX surface is SSVI.
    surface : {"auto", "model", "ssvi"}
        Which SPX implied-volatility surface prices SPX options (:func:`sim.surface.make_surface`).
    """

    rate: float = 0.02
    div: float = 0.018
    frictions: Frictions = field(default_factory=Frictions)
    capital: float = 1_000_000.0
    smile: SpxSmile = field(default_factory=SpxSmile)
    surface: str = "auto"


@dataclass
class BookResult:
    """Daily P&L and counters of the two books on one chunk of paths.

    Attributes
    ----------
    condor_pnl, hedge_pnl : ndarray of shape (n_paths, n_steps + 1)
        Daily P&L in dollars; column 0 is the opening day (costs of the first trades).
    hedge_premium : ndarray of shape (n_paths,)
        Premium paid for VIX calls at mid, dollars.
    hedge_premium_by_layer : ndarray of shape (n_layers, n_paths)
        The same, per layer.
    hedge_payoff : ndarray of shape (n_paths,)
        Mid value received when layers were sold, settled, or marked at the horizon, dollars.
    hedge_spread_cost, hedge_commission : ndarray of shape (n_paths,)
        Half-spreads and commissions paid on hedge trades, dollars.
    condor_spread_cost, condor_commission : ndarray of shape (n_paths,)
        Half-spreads and commissions paid on condor trades, dollars.
    condor_credit : ndarray of shape (n_paths,)
        Sum of opening credits at mid, dollars.
    n_condors, n_profit_takes, n_stops : ndarray of int, shape (n_paths,)
        Condors opened, closed at the profit target, closed at the stop.
    hedge_active_share : ndarray of shape (n_paths,)
        Share of days on which the hedge was switched on (VIX at or above the threshold).
    peak_capital_used : ndarray of shape (n_paths,)
        Largest daily capital in use: open condor margin plus premium paid for VIX calls held,
        dollars.
    condor_contracts : ndarray of shape (n_paths,)
        Mean number of condors per entry (sized on margin at each entry); 0 if none opened.
    """

    condor_pnl: np.ndarray
    hedge_pnl: np.ndarray
    hedge_premium: np.ndarray
    hedge_premium_by_layer: np.ndarray
    hedge_payoff: np.ndarray
    hedge_spread_cost: np.ndarray
    hedge_commission: np.ndarray
    condor_spread_cost: np.ndarray
    condor_commission: np.ndarray
    condor_credit: np.ndarray
    n_condors: np.ndarray
    n_profit_takes: np.ndarray
    n_stops: np.ndarray
    hedge_active_share: np.ndarray
    peak_capital_used: np.ndarray
    condor_contracts: np.ndarray


def _condor_value(spot, v, strikes, tau, surface, market, regime=None):
    """Mid value (points) of one short iron condor (short put, call minus long wings), its delta,
    and the four leg prices, shape (4, n), ordered long put, short put, short call, long call."""
    kp_long, kp_short, kc_short, kc_long = strikes
    n = spot.size
    k = np.stack((kp_long, kp_short, kc_short, kc_long))
    is_call = np.array([False, False, True, True])[:, None]
    sgn = np.array([-1.0, 1.0, 1.0, -1.0])[:, None]  # +1 = short leg (we owe its value)
    price, delta = spx_option(
        np.broadcast_to(spot, (4, n)), k, tau, np.broadcast_to(v, (4, n)), is_call,
        surface, market.rate, market.div,
        None if regime is None else np.broadcast_to(regime, (4, n)),
    )
    return (sgn * price).sum(axis=0), -(sgn * delta).sum(axis=0), price


def _charge(pnl, spread_acc, comm_acc, idx, t, costs) -> None:
    """Book a trade's ``(spread, commission)`` dollars on paths ``idx`` on day ``t``."""
    spread, comm = costs
    pnl[idx, t] -= spread + comm
    spread_acc[idx] += spread
    comm_acc[idx] += comm


def _condor_intrinsic(spot, strikes):
    kp_long, kp_short, kc_short, kc_long = strikes
    return (
        np.maximum(kp_short - spot, 0.0) - np.maximum(kp_long - spot, 0.0)
        + np.maximum(spot - kc_short, 0.0) - np.maximum(spot - kc_long, 0.0)
    )


def run_books(
    spot: np.ndarray,
    variance: np.ndarray,
    vix: np.ndarray,
    surface: SpxSurface,
    market: MarketSpec,
    condor: CondorSpec,
    alvh: AlvhSpec,
    table: VixOptionTable | MarkovVixTable | None,
    dt: float,
    regime: np.ndarray | None = None,
) -> BookResult:
    """Run the condor and the ALVH books along a chunk of paths.

    Parameters
    ----------
    spot, variance, vix : ndarray of shape (n_paths, n_steps + 1)
        SPX level (points), variance state (annualised) and model VIX (points) per path and day.
    surface : sim.surface.SpxSurface
        Prices the SPX options (:func:`sim.surface.make_surface`; its model's Q side).
    market : MarketSpec
    condor : CondorSpec
    alvh : AlvhSpec
    table : VixOptionTable or MarkovVixTable or None
        VIX option prices (:func:`sim.pricing.make_vix_table`); required when ``alvh.enabled``.
        Its ``max_steps`` must cover ``dte_open``.
    dt : float
        Years per step.
    regime : ndarray of int8, shape (n_paths, n_steps + 1), optional
        Regime labels (regime-switching models); ``None`` means a single regime.

    Returns
    -------
    BookResult

    Raises
    ------
    ValueError
        If shapes disagree, the VIX table is missing or too short, or the SPX surface's table
        (``surface.tau_max``) does not reach the condor's maturity.
    """
    if spot.shape != variance.shape or spot.shape != vix.shape or spot.ndim != 2:
        raise ValueError("spot, variance and vix must be 2-D arrays of equal shape (n_paths, n_steps + 1)")
    n, t_len = spot.shape
    n_steps = t_len - 1
    steps_per_year = 1.0 / dt
    cap = market.capital
    zeros = lambda: np.zeros(n)  # noqa: E731

    # ---- condor state
    c_open = np.zeros(n, dtype=bool)
    c_strikes = np.zeros((4, n))
    c_expiry = np.zeros(n, dtype=np.int64)
    c_credit = zeros()
    c_mark = zeros()
    c_qty = zeros()
    c_margin = zeros()           # dollars posted for the open condor
    c_steps = max(dte_to_steps(condor.dte, steps_per_year), 1)
    tau_max = getattr(surface, "tau_max", None)
    if tau_max is not None and c_steps * dt > tau_max * (1.0 + 1e-9):
        raise ValueError(f"the SPX surface is tabulated to {tau_max:.4f} years; the condor needs {c_steps * dt:.4f}")
    condor_pnl = np.zeros((n, t_len))
    condor_spread, condor_comm = zeros(), zeros()
    condor_credit = zeros()
    contracts_sum = zeros()
    n_condors = np.zeros(n, dtype=np.int64)
    n_takes = np.zeros(n, dtype=np.int64)
    n_stops = np.zeros(n, dtype=np.int64)
    fr = market.frictions
    peak_capital = zeros()

    # ---- hedge state
    n_layers = len(alvh.allocation) if alvh.enabled else 0
    if alvh.enabled:
        if table is None:
            raise ValueError("the ALVH needs a VixOptionTable or MarkovVixTable")
        open_steps = [max(dte_to_steps(d, steps_per_year), 1) for d in alvh.dte_open]
        roll_steps = [dte_to_steps(d, steps_per_year) for d in alvh.dte_roll]
        if max(open_steps) > table.max_steps:
            raise ValueError(f"VIX table covers {table.max_steps} steps, a layer needs {max(open_steps)}")
        spend = [
            cap * alvh.budget_pct_per_year / 100.0 * w * max(o - r, 1) * dt
            for w, o, r in zip(alvh.allocation, open_steps, roll_steps)
        ]
    h_open = np.zeros((n_layers, n), dtype=bool)
    h_k = np.zeros((n_layers, n), dtype=np.intp)
    h_expiry = np.zeros((n_layers, n), dtype=np.int64)
    h_qty = np.zeros((n_layers, n))
    h_mark = np.zeros((n_layers, n))
    hedge_pnl = np.zeros((n, t_len))
    premium_by_layer = np.zeros((n_layers, n))
    payoff, h_spread, h_comm = zeros(), zeros(), zeros()
    h_basis = np.zeros((n_layers, n))  # premium paid for the calls held, dollars
    active_days = zeros()

    for t in range(t_len):
        s_t, v_t, x_t = spot[:, t], variance[:, t], vix[:, t]
        r_t = None if regime is None else regime[:, t]
        sub = lambda ix: None if r_t is None else r_t[ix]  # noqa: E731
        last = t == n_steps

        # ---------------- condor: mark, settle, exits
        if c_open.any():
            idx = np.flatnonzero(c_open)
            rem = c_expiry[idx] - t
            expiring = rem <= 0
            value = np.empty(idx.size)
            legs = np.zeros((4, idx.size))
            if expiring.any():
                e = idx[expiring]
                value[expiring] = _condor_intrinsic(s_t[e], c_strikes[:, e])
            live = ~expiring
            if live.any():
                l_ = idx[live]
                value[live], _, legs[:, live] = _condor_value(
                    s_t[l_], v_t[l_], c_strikes[:, l_], rem[live] * dt, surface, market, sub(l_)
                )
            q = c_qty[idx]
            condor_pnl[idx, t] -= (value - c_mark[idx]) * q * MULTIPLIER
            c_mark[idx] = value
            take = live & (value <= (1.0 - condor.profit_take) * c_credit[idx])
            stop = live & ~take & (value >= condor.stop_multiple * c_credit[idx])
            close = take | stop
            if close.any():
                cl = idx[close]
                _charge(condor_pnl, condor_spread, condor_comm, cl, t,
                        fr.spx_option.spread_and_commission(legs[:, close], x_t[cl], fr.vix_ref, q[close]))
            n_takes[idx[take]] += 1
            n_stops[idx[stop]] += 1
            shut = idx[close | expiring]
            c_open[shut] = False
            c_mark[shut] = 0.0
            c_margin[shut] = 0.0

        # ---------------- condor: entries on the schedule
        if not last and t % condor.entry_interval_days == 0:
            new = np.flatnonzero(~c_open)
            if new.size:
                tau = c_steps * dt
                s_n, v_n = s_t[new], v_t[new]
                r_n = sub(new)
                kp = strike_for_delta(s_n, tau, v_n, -condor.short_delta, False, surface, market.rate,
                                      market.div, regime=r_n)
                kc = strike_for_delta(s_n, tau, v_n, condor.short_delta, True, surface, market.rate,
                                      market.div, regime=r_n)
                strikes = np.stack((kp - condor.wing_width, kp, kc, kc + condor.wing_width))
                value, _, legs = _condor_value(s_n, v_n, strikes, tau, surface, market, r_n)
                margin = condor_margin(condor.wing_width, value) * MULTIPLIER   # dollars per condor
                # a credit at or above the wing width would mean an arbitrage in the surface: no trade
                ok = (value > 0.0) & (margin > 0.0)
                q = np.where(ok, np.floor(condor.margin_fraction * cap / np.where(ok, margin, 1.0)), 0.0)
                ok &= q >= 1.0
                new, strikes, value, legs, q, margin = new[ok], strikes[:, ok], value[ok], legs[:, ok], q[ok], margin[ok]
                c_open[new] = True
                c_strikes[:, new] = strikes
                c_expiry[new] = t + c_steps
                c_credit[new] = value
                c_mark[new] = value
                c_qty[new] = q
                c_margin[new] = margin * q
                contracts_sum[new] += q
                condor_credit[new] += value * q * MULTIPLIER
                _charge(condor_pnl, condor_spread, condor_comm, new, t,
                        fr.spx_option.spread_and_commission(legs, x_t[new], fr.vix_ref, q))
                n_condors[new] += 1

        # ---------------- hedge layers
        if n_layers:
            active = x_t >= alvh.activation_vix
            active_days += active
            for i in range(n_layers):
                held = h_open[i]
                if held.any():
                    idx = np.flatnonzero(held)
                    rem = h_expiry[i, idx] - t
                    val = table.call(x_t[idx], np.maximum(rem, 0), h_k[i, idx], sub(idx))
                    hedge_pnl[idx, t] += (val - h_mark[i, idx]) * h_qty[i, idx] * MULTIPLIER
                    h_mark[i, idx] = val
                    settle = rem <= 0
                    sell = ~settle & (rem <= roll_steps[i])
                    if last:
                        sell = ~settle  # marked at the horizon: counted as received, no spread
                    out = settle | sell
                    payoff[idx[out]] += val[out] * h_qty[i, idx[out]] * MULTIPLIER
                    if not last and sell.any():
                        sl = idx[sell]
                        _charge(hedge_pnl, h_spread, h_comm, sl, t,
                                fr.vix_option.spread_and_commission(val[sell], x_t[sl], fr.vix_ref, h_qty[i, sl]))
                    h_open[i, idx[out]] = False
                    h_mark[i, idx[out]] = 0.0
                    h_basis[i, idx[out]] = 0.0
                if last:
                    continue
                buy = np.flatnonzero(active & ~h_open[i])
                if buy.size:
                    fut = table.futures(x_t[buy], open_steps[i], sub(buy))
                    k_idx = table.strike_index(fut * (1.0 + alvh.strike_otm))
                    price = table.call(x_t[buy], open_steps[i], k_idx, sub(buy))
                    ok = price > 1e-4  # a call worth nothing is not bought
                    buy, k_idx, price = buy[ok], k_idx[ok], price[ok]
                    q = spend[i] / (price * MULTIPLIER)
                    h_open[i, buy] = True
                    h_k[i, buy] = k_idx
                    h_expiry[i, buy] = t + open_steps[i]
                    h_qty[i, buy] = q
                    h_mark[i, buy] = price
                    h_basis[i, buy] = price * q * MULTIPLIER
                    premium_by_layer[i, buy] += price * q * MULTIPLIER
                    _charge(hedge_pnl, h_spread, h_comm, buy, t,
                            fr.vix_option.spread_and_commission(price, x_t[buy], fr.vix_ref, q))
        np.maximum(peak_capital, c_margin + h_basis.sum(axis=0), out=peak_capital)

    return BookResult(
        condor_pnl=condor_pnl,
        hedge_pnl=hedge_pnl,
        hedge_premium=premium_by_layer.sum(axis=0),
        hedge_premium_by_layer=premium_by_layer,
        hedge_payoff=payoff,
        hedge_spread_cost=h_spread,
        hedge_commission=h_comm,
        condor_spread_cost=condor_spread,
        condor_commission=condor_comm,
        condor_credit=condor_credit,
        n_condors=n_condors,
        n_profit_takes=n_takes,
        n_stops=n_stops,
        hedge_active_share=active_days / t_len,
        peak_capital_used=peak_capital,
        condor_contracts=np.divide(contracts_sum, n_condors, out=np.zeros(n), where=n_condors > 0),
    )
