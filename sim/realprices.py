"""Every strategy of a scenario replayed at real VIX hedge prices, 2006-2024.

The model-priced replay (:func:`alvh.runner.replay`) marks the VIX layers with the model's Q side on
the state it reads off the real VIX. Here the same rules run on the same real days with the VIX
instruments priced from the market instead:

- **VIX futures** of ``n`` trading days to settlement: linear interpolation in trading days on that
  day's real curve, the spot VIX at 0 days and the real settlements M1..M7 at their real trading days
  to settlement (:func:`alvh.models.twofactor.q_days`); flat beyond M7. The engine opens layers at
  constant DTEs (5, 37, 60 days...), not at listed expiries, so each position is a constant-maturity
  future priced off the listed ones, as Cboe's and S&P's constant-maturity VIX futures indices do.
- **VIX calls**: Black-76 (Black 1976) on that future, discounted at the 3-month T-bill
  (:func:`alvh.marketreplay.real_rate`), with the volatility of a stated smile rule applied to the
  day's real VVIX (:data:`alvh.marketreplay.SMILE_RULES`; the same rule prices every maturity: the
  VVIX is a 30-day figure and the bundled data has no VIX option quotes).
- **At expiry** a position pays off on the day's VIX close (the model replay's convention; the
  special opening quotation is not in the data).
- **Away from the real VIX** (the central differences of vega sizing and deltas), a price moves as
  the model's does: ``F(x) = F_real + F_model(x) - F_model(VIX_t)``.

SPX options (the condor, SPX put layers) stay priced by the model's surface on the state it reads off
the real VIX and VIX6M, as in the model replay. The window starts when the VVIX does (2006-03-06) and
ends with the bundled futures (2024-12-31).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alvh.marketreplay import SMILE_RULES, SmileRule, black76_call, periods, real_rate, real_vvix

__all__ = ["RealVixPrices", "real_price_window", "real_price_replay", "replay_periods", "FIRST_DAY", "LAST_DAY"]

#: First day with a VVIX (and so a VIX-option price) in the bundled data.
FIRST_DAY = "2006-03-06"
#: Last day of the bundled VIX futures.
LAST_DAY = "2024-12-31"


def real_curves(dates) -> pd.DataFrame:
    """The real VIX futures curve, VVIX and T-bill rate on ``dates``.

    Returns
    -------
    pandas.DataFrame
        Index ``dates``; columns ``vix``, ``M1`` .. ``M7`` (points), ``k1`` .. ``k7`` (trading days to
        each contract's settlement), ``vvix`` (points), ``rate`` (per year, decimal).

    Raises
    ------
    ValueError
        A day outside 2006-03-06 .. 2024-12-31 or without a front-month settlement.
    """
    from alvh.models.twofactor import q_days

    dates = pd.DatetimeIndex(dates)
    if dates[0] < pd.Timestamp(FIRST_DAY) or dates[-1] > pd.Timestamp(LAST_DAY):
        raise ValueError(f"real VIX prices cover {FIRST_DAY} .. {LAST_DAY}; asked {dates[0].date()} .. "
                         f"{dates[-1].date()}")
    days = q_days(dates[0].strftime("%Y-%m-%d"), dates[-1].strftime("%Y-%m-%d"), every=1, need=("vix", "M1"))
    missing = dates.difference(days.index)
    if len(missing):
        raise ValueError(f"no VIX futures curve on {missing[0].date()} ({len(missing)} replay days lack one)")
    out = days.reindex(dates)[["vix"] + [f"M{i}" for i in range(1, 8)] + [f"k{i}" for i in range(1, 8)]].copy()
    out["vvix"] = real_vvix(dates)
    out["rate"] = real_rate(dates)
    return out


class RealVixPrices:
    """VIX futures and calls at real prices, day by day, in the interface of a VIX table.

    Parameters
    ----------
    curves : pandas.DataFrame
        :func:`real_curves` of the replayed days, in order: day ``t`` of the replay is row ``t``.
    model_table : VixOptionTable or MarkovVixTable
        The run's own pricer: its strike grid, its ``max_steps`` and, away from the real VIX, its
        price moves (module docstring).
    dt : float
        Years per step (one trading day).
    rule : SmileRule, default the first of :data:`alvh.marketreplay.SMILE_RULES`
        The VIX-option volatility from the day's VVIX.

    Notes
    -----
    :meth:`on_day` gives the view of day ``t`` (``futures``, ``call``, ``strike_index``, ``strikes``,
    ``max_steps``) that :func:`alvh.strategy.run_books` asks for each day. Only the numpy engine
    reads a dated pricer (the compiled engine takes tabulated ones only).
    """

    def __init__(self, curves: pd.DataFrame, model_table, dt: float, rule: SmileRule = SMILE_RULES[0]) -> None:
        k = curves[[f"k{i}" for i in range(1, 8)]].to_numpy(float)
        f = curves[[f"M{i}" for i in range(1, 8)]].to_numpy(float)
        self.vix = curves["vix"].to_numpy(float)
        self.nodes_k = np.column_stack([np.zeros(len(curves)), k])
        self.nodes_f = np.column_stack([self.vix, f])
        self.vvix = curves["vvix"].to_numpy(float)
        self.rate = curves["rate"].to_numpy(float)
        if not (np.isfinite(self.vix).all() and np.isfinite(self.vvix).all() and np.isfinite(f[:, 0]).all()):
            raise ValueError("real VIX prices need the VIX, the VVIX and M1 on every day")
        self.model, self.dt, self.rule = model_table, float(dt), rule
        self.strikes, self.max_steps = model_table.strikes, model_table.max_steps

    def __len__(self) -> int:
        """Days held (rows of ``curves``)."""
        return self.vix.size

    def strike_index(self, strike) -> np.ndarray:
        """Index into :attr:`strikes` of the listed strike nearest ``strike`` (the model table's grid)."""
        return self.model.strike_index(strike)

    def on_day(self, t: int) -> "_RealDay":
        """The pricer of replay day ``t`` (``futures(vix, steps, regime)``, ``call(vix, steps,
        strike_index, regime)``, ``strike_index``, ``strikes``, ``max_steps``), points."""
        return _RealDay(self, int(t))

    def real_futures(self, t: int, steps) -> np.ndarray:
        """The real curve of day ``t`` at ``steps`` trading days (points): linear in trading days
        between the spot VIX (0 days) and M1..M7 (listed contracts missing that day are skipped); flat
        beyond the last."""
        ok = np.isfinite(self.nodes_f[t])
        return np.interp(np.asarray(steps, float), self.nodes_k[t, ok], self.nodes_f[t, ok])


class _RealDay:
    """Day ``t`` of :class:`RealVixPrices`."""

    def __init__(self, src: RealVixPrices, t: int) -> None:
        self.src, self.t = src, t
        self.strikes, self.max_steps, self.strike_index = src.strikes, src.max_steps, src.strike_index

    def futures(self, vix, steps, regime=None) -> np.ndarray:
        """Constant-maturity VIX future of ``steps`` trading days at spot VIX ``vix`` (points); the
        spot VIX itself at ``steps <= 0``. Shapes broadcast to ``vix``'s."""
        x = np.asarray(vix, float)
        s = np.broadcast_to(np.asarray(steps), x.shape)
        live = np.maximum(s, 0)
        m = np.minimum(live, self.max_steps)          # past the model's table: its last maturity's move
        shift = self.src.model.futures(x, m, regime) - self.src.model.futures(
            np.full_like(x, self.src.vix[self.t]), m, regime)
        return np.where(s <= 0, x, self.src.real_futures(self.t, live) + shift)

    def call(self, vix, steps, strike_index, regime=None) -> np.ndarray:
        """VIX call (points, discounted) by Black-76 on :meth:`futures` at the smile rule's vol of the
        day's VVIX; the intrinsic value on the spot VIX at ``steps <= 0``."""
        x = np.asarray(vix, float)
        s = np.broadcast_to(np.asarray(steps), x.shape)
        k = self.strikes[np.broadcast_to(np.asarray(strike_index), x.shape)]
        f = self.futures(x, s, regime)
        tau = np.maximum(s, 1) * self.src.dt
        vol = self.src.rule.vol(self.src.vvix[self.t], k, f)
        with np.errstate(divide="ignore", invalid="ignore"):
            price = black76_call(f, k, tau, vol, self.src.rate[self.t])
        return np.where(s <= 0, np.maximum(x - k, 0.0), price)


def real_price_window(dates) -> np.ndarray:
    """Mask of the ``dates`` inside 2006-03-06 .. 2024-12-31 (the days with real VIX prices)."""
    d = pd.DatetimeIndex(dates)
    return np.asarray((d >= pd.Timestamp(FIRST_DAY)) & (d <= pd.Timestamp(LAST_DAY)))


def real_price_replay(prepared, rule: SmileRule = SMILE_RULES[0]):
    """Every strategy of a prepared scenario on the real days of 2006-03-06 .. 2024-12-31 inside its
    data window, the VIX layers at real prices (module docstring).

    Parameters
    ----------
    prepared : alvh.runner.Prepared
    rule : SmileRule
        VIX-option volatility from the VVIX.

    Returns
    -------
    alvh.runner.ReplayResult

    Raises
    ------
    ValueError
        The scenario's data window holds fewer than 2 of those days, or the model is itself a replay.
    """
    from alvh.runner import replay

    sel = real_price_window(prepared.data.dates)
    if sel.sum() < 2:
        raise ValueError(f"the scenario's data window has no real VIX prices ({FIRST_DAY} .. {LAST_DAY})")
    curves = real_curves(np.asarray(prepared.data.dates)[sel])
    return replay(prepared, table=RealVixPrices(curves, prepared.table, prepared.dt, rule), days=sel)


def replay_periods(result, names, capital: float, label: str) -> pd.DataFrame:
    """A replay's P&L by calendar year and episode (:func:`alvh.marketreplay.periods`).

    Parameters
    ----------
    result : alvh.runner.ReplayResult
    names : sequence of str
        Strategy names, strategy 0 first (the condor alone).
    capital : float
        Dollars; P&L is reported in % of it.
    label : str
        The ``pricing`` column (e.g. ``"real, flat at VVIX"`` or ``"model"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``strategy, pricing, period_kind, period, pnl_pct, hedge_pnl_pct, days``: the whole
        book's and the hedge book's summed daily P&L, % of ``capital``; plus one row per strategy with
        ``period_kind`` ``"whole"`` and ``period`` ``"per year"``: the window's P&L per year.
    """
    idx = pd.DatetimeIndex(result.dates)
    rows = []
    pnl, hedge = 100.0 * result.daily_pnl / capital, 100.0 * result.hedge_pnl / capital
    years = (len(idx) - 1) / 252.0
    for j, name in enumerate(names):
        rows.append({"strategy": name, "pricing": label, "period_kind": "whole", "period": "per year",
                     "pnl_pct": float(pnl[j].sum() / years), "hedge_pnl_pct": float(hedge[j].sum() / years),
                     "days": len(idx)})
        for kind, period, a, b in periods(idx):
            sel = (idx >= a) & (idx <= b)
            if sel.any():
                rows.append({"strategy": name, "pricing": label, "period_kind": kind, "period": period,
                             "pnl_pct": float(pnl[j, sel].sum()), "hedge_pnl_pct": float(hedge[j, sel].sum()),
                             "days": int(sel.sum())})
    return pd.DataFrame(rows)
