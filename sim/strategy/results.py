"""What the books return (:class:`HedgeResult`, :class:`BookResult`) and the two bookkeeping helpers
that fill them: a trade's costs booked on its paths, and daily amounts from cumulative snapshots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class HedgeResult:
    """One hedge book on one chunk of paths.

    Attributes
    ----------
    name : str
    pnl : ndarray of shape (n_paths, n_steps + 1)
        Daily P&L of the hedge book alone, USD (column 0 is the opening day).
    layer_pnl : ndarray of shape (n_layers, n_paths)
        P&L of each layer over the horizon, trading costs included, USD.
    premium, payoff : ndarray of shape (n_paths,)
        Paid at mid to open (negative for credits received; 0 for futures) and received at mid on
        sales, settlements and the final mark (negative when a short position was bought back;
        the realised gain for futures), USD.
    premium_by_layer : ndarray of shape (n_layers, n_paths)
    spread_cost, commission : ndarray of shape (n_paths,)
        Half-spreads and commissions paid, USD.
    active_share : ndarray of shape (n_paths,)
        Share of days ending with at least one layer held.
    peak_capital : ndarray of shape (n_paths,)
        Largest daily condor margin + hedge capital, USD.
    delta : ndarray of shape (n_paths, n_steps + 1)
        Condor + hedge delta per condor (SPX delta units, ``dV/dS`` of the position divided by the
        condor contracts times 100) on measured days with a condor open; NaN elsewhere.
    n_entries, n_cap_bound : ndarray of int, shape (n_layers, n_paths)
        Layer entries, and entries cut (or blocked entirely) by ``deepest_layer_cap`` or
        ``margin_share_cap``.
    layer_pnl_daily : ndarray of shape (n_layers, n_paths, n_steps + 1) or None
        Daily P&L per layer incl. costs, USD; only with ``trace=True``.
    """

    name: str
    pnl: np.ndarray
    layer_pnl: np.ndarray
    premium: np.ndarray
    premium_by_layer: np.ndarray
    payoff: np.ndarray
    spread_cost: np.ndarray
    commission: np.ndarray
    active_share: np.ndarray
    peak_capital: np.ndarray
    delta: np.ndarray
    n_entries: np.ndarray
    n_cap_bound: np.ndarray
    layer_pnl_daily: np.ndarray | None = None


@dataclass
class BookResult:
    """The condor book and every hedge book on one chunk of paths.

    Attributes
    ----------
    condor_pnl : ndarray of shape (n_paths, n_steps + 1)
        Daily P&L of the condor, USD; column 0 is the opening day (costs of the first trades).
    condor_leg_pnl : ndarray of shape (4, n_paths)
        Mark-to-mid P&L per leg (long put, short put, short call, long call), USD; trading costs
        are in ``condor_spread_cost`` and ``condor_commission``.
    condor_delta : ndarray of shape (n_paths, n_steps + 1)
        Condor delta per condor (``dV/dS`` of the short condor) on measured days with a condor
        open; NaN elsewhere.
    condor_spread_cost, condor_commission : ndarray of shape (n_paths,)
        Half-spreads and commissions paid on condor trades, USD.
    condor_credit : ndarray of shape (n_paths,)
        Sum of opening credits at mid, USD.
    n_condors, n_profit_takes, n_stops, n_dte_closes : ndarray of int, shape (n_paths,)
        Condors opened; closed at the profit target, at the stop, at ``close_dte``.
    condor_contracts : ndarray of shape (n_paths,)
        Mean number of condors per entry; 0 if none opened.
    condor_peak_capital : ndarray of shape (n_paths,)
        Largest daily condor margin, USD.
    hedges : list of HedgeResult
        In the order of the ``hedges`` argument.
    condor_leg_pnl_daily : ndarray of shape (4, n_paths, n_steps + 1) or None
        Daily mark-to-mid P&L per leg, USD; only with ``trace=True``.
    trades : list of tuple or None
        With ``trace=True``: ``(day, path, book, layer, action, contracts, price)`` per trade, book
        ``"condor"`` (layer 0) or the hedge's name (layers from 1); actions ``open``, ``take``,
        ``stop``, ``dte_close``, ``expire`` (condor), ``open``, ``roll``, ``exit_multiple``,
        ``rsi_exit``, ``settle`` (hedge layers).
    """

    condor_pnl: np.ndarray
    condor_leg_pnl: np.ndarray
    condor_delta: np.ndarray
    condor_spread_cost: np.ndarray
    condor_commission: np.ndarray
    condor_credit: np.ndarray
    n_condors: np.ndarray
    n_profit_takes: np.ndarray
    n_stops: np.ndarray
    n_dte_closes: np.ndarray
    condor_contracts: np.ndarray
    condor_peak_capital: np.ndarray
    hedges: list
    trades: list | None = None
    condor_leg_pnl_daily: np.ndarray | None = None


def _charge(pnl, spread_acc, comm_acc, idx, t, costs, layer_acc=None) -> None:
    """Book a trade's ``(spread, commission)`` dollars on paths ``idx`` on day ``t``."""
    spread, comm = costs
    pnl[idx, t] -= spread + comm
    spread_acc[idx] += spread
    comm_acc[idx] += comm
    if layer_acc is not None:
        layer_acc[idx] -= spread + comm


def _daily_from_cumulative(cum: np.ndarray) -> np.ndarray:
    """Day-by-day amounts from end-of-day cumulative snapshots along the last axis."""
    return np.diff(cum, axis=-1, prepend=0.0)
