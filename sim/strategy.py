"""Strategies priced along paths: a short SPX iron condor and hedge books on the same paths.

One condor book and any number of hedge books are run on one chunk of paths, day by day,
vectorised over paths. The condor's decisions never depend on a hedge, so "unhedged" is the condor
book alone and each hedged strategy is condor + one hedge book: every hedge effect is an exact
paired difference on common random numbers. A hedge may read the condor's state (its decay, its
break-even, its vega, its delta), never the other way round.

Every rule of the Adaptive Layered VIX Hedge that the source texts give (``../shared/ALVH.md``) is a
documented field of :class:`CondorSpec`, :class:`HedgeSpec` or :class:`LayerSpec`, with the texts'
value as its default. The baselines (static VIX call ladder, a VXTH-style rule, an SPX put spread)
are hedge books built from the same pieces (:func:`baseline_hedges`).

Accounting (per path, in dollars): each book's cash plus its positions marked at mid. A day's P&L is
the change of that sum: mark-to-mid moves, minus trading costs (half-spread plus commission,
:mod:`alvh.costs`) when a position is opened or closed before expiry. Options held to expiry settle
at intrinsic value with no spread and no commission (cash settlement: SPX against the simulated
close, VIX against the model VIX of that day, standing in for the special opening quotation); a
VIX future held to expiry settles at the model VIX. On the horizon's last day open positions are
marked at mid and no cost is charged.

Capital: the condor is sized on its defined-risk margin, ``(wing_width - credit) * 100`` per
condor (:func:`alvh.costs.condor_margin`). A hedge's capital is the premium paid for long options,
the maximum loss of a short credit spread, and ``future_margin_fraction`` of a future's notional.
"Risk capital", the base of the hedge caps, is ``margin_fraction * capital``: what the condor book
may post.

Time: one step is ``dt`` years of trading (1/252). Tenors given in calendar days (DTE) are turned
into steps as ``round(DTE * 252 / 365)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import special

from alvh.costs import SPX_MULTIPLIER, VIX_FUTURE_MULTIPLIER, VIX_OPTION_MULTIPLIER, Frictions, condor_margin
from alvh.pricing import MarkovVixTable, SpxSmile, VixOptionTable, spx_option, strike_for_delta
from alvh.surface import SpxSurface, implied_stdev, surface_option

__all__ = [
    "CondorSpec", "LayerSpec", "HedgeSpec", "MarketSpec", "BookResult", "HedgeResult", "run_books",
    "dte_to_steps", "wilder_rsi", "default_alvh_layers", "baseline_hedges", "INSTRUMENTS", "STRIKE_RULES",
    "TRIGGERS", "SIZINGS", "BACKWARDATION_DTE", "SPX_MIN_STRIKE",
]

MULTIPLIER = SPX_MULTIPLIER  # SPX and VIX options: $100 per index point
assert VIX_OPTION_MULTIPLIER == SPX_MULTIPLIER

INSTRUMENTS = ("call", "call_spread", "future", "short_call_spread", "spx_put_spread")
STRIKE_RULES = ("otm", "delta", "breakeven")
TRIGGERS = ("always", "vix_above", "vix_sustained", "condor_decay", "backwardation")
#: The lowest SPX strike a put spread's short leg takes, index points (one strike tick): a spread wider
#: than its long strike is a put with a worthless short leg, not a negative strike.
SPX_MIN_STRIKE = 5.0
#: Calendar days to expiry of the two constant-maturity VIX futures the ``backwardation`` trigger compares
#: (the first two monthly contracts M1 and M2 are on average about 30 and 60 days from expiry).
BACKWARDATION_DTE = (30.0, 60.0)
SIZINGS = ("budget", "vega", "bands")
LEGS = ("long_put", "short_put", "short_call", "long_call")


def dte_to_steps(dte: float, steps_per_year: float = 252.0) -> int:
    """Calendar days to expiry -> whole trading steps (``round(dte * steps_per_year / 365)``)."""
    return int(round(dte * steps_per_year / 365.0))


def wilder_rsi(x: np.ndarray, period: int = 21) -> np.ndarray:
    """Relative strength index of each row of ``x`` (Wilder 1978).

    Parameters
    ----------
    x : ndarray of shape (n_paths, n_days)
        A level series per path (here the VIX, points).
    period : int, default 21
        Look-back in days (the texts' "21-day RSI").

    Returns
    -------
    ndarray of shape (n_paths, n_days)
        RSI in [0, 100]; NaN for the first ``period`` days, which do not yet have ``period``
        changes.

    Notes
    -----
    J. W. Wilder, *New Concepts in Technical Trading Systems* (1978), ch. 6: average gain ``G`` and
    average loss ``L`` start as the simple means of the first ``period`` daily changes, then
    ``G_t = (G_{t-1} (period - 1) + gain_t) / period`` (the same for ``L``);
    ``RSI = 100 - 100 / (1 + G / L)``, 100 when ``L = 0``.

    Raises
    ------
    ValueError
        If ``period < 1`` or ``x`` is not 2-D.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError("x must be 2-D (n_paths, n_days)")
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    out = np.full(x.shape, np.nan)
    d = np.diff(x, axis=1)
    if d.shape[1] < period:
        return out
    gain, loss = np.maximum(d, 0.0), np.maximum(-d, 0.0)
    g, l_ = gain[:, :period].mean(axis=1), loss[:, :period].mean(axis=1)
    for t in range(period, x.shape[1]):
        if t > period:
            g = (g * (period - 1) + gain[:, t - 1]) / period
            l_ = (l_ * (period - 1) + loss[:, t - 1]) / period
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, t] = np.where(l_ > 0.0, 100.0 - 100.0 / (1.0 + g / np.where(l_ > 0, l_, 1.0)), 100.0)
    return out


@dataclass(frozen=True)
class CondorSpec:
    """Short SPX iron condor rules (``../shared/ALVH.md``, "The income leg").

    Attributes
    ----------
    dte : float
        Calendar days to expiry at entry: 45 (the texts' 45-60 DTE variant) or 1 (the 1DTE variant).
    short_delta : float
        Absolute delta of both short strikes at entry (0.15).
    wing_width : float
        Distance from each short strike to its long wing, index points (50). Ignored when
        ``wing_delta > 0``.
    wing_delta : float
        If > 0, the long wings are struck at this absolute delta instead (must be below
        ``short_delta``); 0 = wings in points.
    profit_take : float
        Close when the condor's mid value has fallen to ``(1 - profit_take)`` of the opening
        credit (0.5 = take 50% of max profit).
    stop_multiple : float
        Close when the cost to buy the condor back reaches ``stop_multiple`` times the opening
        credit (2.0, the texts' "2x credit stop").
    close_dte : float
        Close (and re-open at the next entry slot) when this many calendar days or fewer remain;
        0 = hold to expiry.
    entry_interval_days : int
        A new condor may be opened only on trading days that are multiples of this (5 = weekly,
        1 = daily), and only when none is open.
    margin_fraction : float
        Share of capital posted as defined-risk margin; at each entry, contracts =
        floor(margin_fraction * capital / ((wing_width - credit) * 100)) (:func:`alvh.costs.condor_margin`).
    time_shift : bool
        The texts' "time-shifting": at an entry with VIX above ``time_shift_vix``, sell the next
        monthly cycle (``dte + time_shift_days``) instead of the front one (True).
    time_shift_vix : float
        VIX level above which entries are time-shifted (16).
    time_shift_days : float
        Calendar days added to the tenor when time-shifting (30: one monthly cycle).
    """

    dte: float = 45.0
    short_delta: float = 0.15
    wing_width: float = 50.0
    wing_delta: float = 0.0
    profit_take: float = 0.5
    stop_multiple: float = 2.0
    close_dte: float = 0.0
    entry_interval_days: int = 5
    margin_fraction: float = 0.5
    time_shift: bool = True
    time_shift_vix: float = 16.0
    time_shift_days: float = 30.0

    def max_steps(self, steps_per_year: float = 252.0) -> int:
        """Longest tenor an entry can have, in steps (time-shifted entries included)."""
        extra = self.time_shift_days if self.time_shift else 0.0
        return max(dte_to_steps(self.dte + extra, steps_per_year), 1)


@dataclass(frozen=True)
class LayerSpec:
    """One hedge layer (``../shared/ALVH.md``, "The hedge: three VIX layers").

    Attributes
    ----------
    allocation : float
        Share of the hedge's notional (its budget, or its vega target) in this layer. The
        allocations of the long layers sum to 1 (ALVH default 0.4 / 0.4 / 0.2); a short credit
        spread's allocation is its share of the budget taken as maximum loss.
    dte_open, dte_roll : float
        Calendar DTE at which the layer is bought, and at or below which it is sold and, if its
        trigger still holds, replaced the same day (buckets 4-7, 30-45, 60+: 7/4, 45/30, 90/60).
        ``dte_roll = 0`` holds to expiry.
    instrument : {"call", "call_spread", "future", "short_call_spread", "spx_put_spread"}
        Long VIX call; long VIX call spread (strike and strike + ``spread_width``); long VIX future;
        short VIX call credit spread (the texts' "Big Top Temporal Theta Cash Press"); long SPX put
        spread (strike and strike - ``spread_width``, the short strike at least :data:`SPX_MIN_STRIKE`),
        priced on the SPX surface.
    strike_rule : {"otm", "delta", "breakeven"}
        ``otm``: VIX strike = the future of the option's expiry times ``1 + strike_otm`` (SPX put:
        spot times ``1 - strike_otm``). ``delta``: the strike whose Black-76 delta on the future is
        nearest ``strike_delta`` (SPX put: smile delta ``-strike_delta``). ``breakeven``: the VIX
        level the model maps the condor's lower break-even to, ``VIX * (BE / S) ** beta`` with
        ``beta`` the model's spot-vol elasticity (falls back to ``otm`` with no condor open).
    strike_otm, strike_delta : float
    spread_width : float
        Distance between the two strikes of a spread: VIX points, or SPX points for the put spread.
    trigger : {"always", "vix_above", "vix_sustained", "condor_decay", "backwardation"}
        When the layer may be opened: every day; while VIX >= ``trigger_vix``; once VIX has been
        >= ``trigger_vix`` for ``trigger_days`` days in a row; while a condor is open whose profit
        has reached ``decay_share`` of its maximum (the texts' "decayed 40%" / "50-60% of max
        profit"); while the VIX futures curve is inverted: the 30-day future above the 60-day one
        (:data:`BACKWARDATION_DTE`, constant-maturity stand-ins for M1 > M2; numpy engine only).
    trigger_vix : float
    trigger_days : int
    decay_share : float
        For ``condor_decay``: the condor's profit as a share of its opening credit,
        ``1 - mark / credit``, read at the day's mark before the condor's own trades (so a condor
        that expires or is taken that day still counts; a 1DTE condor shows its decay at expiry).
    sizing : {"budget", "vega", "bands"}
        ``budget``: each roll spends ``budget_pct_per_year * allocation`` of capital per year of the
        layer's holding period (premium, or maximum loss for a credit spread). ``vega``: the layer's
        sensitivity to the VIX, in dollars per VIX point, is ``vega_ratio * allocation`` times the
        open condor's dollar vega per vol point (no condor open: no entry). ``bands``: like budget,
        with the annual rate read from the hedge's ``budget_bands`` at the layer's VIX future.
    """

    allocation: float = 1.0
    dte_open: float = 45.0
    dte_roll: float = 30.0
    instrument: str = "call"
    strike_rule: str = "otm"
    strike_otm: float = 0.2
    strike_delta: float = 0.3
    spread_width: float = 5.0
    trigger: str = "vix_above"
    trigger_vix: float = 16.0
    trigger_days: int = 1
    decay_share: float = 0.4
    sizing: str = "budget"

    @property
    def is_short(self) -> bool:
        """Whether the layer sells (a short call spread)."""
        return self.instrument == "short_call_spread"

    @property
    def on_spx(self) -> bool:
        """Whether the layer is on the SPX (a put spread) rather than the VIX."""
        return self.instrument == "spx_put_spread"


def default_alvh_layers() -> tuple[LayerSpec, ...]:
    """The ALVH of the texts (``../shared/ALVH.md``): three long VIX-call layers split 40/40/20 over
    the 4-7, 30-45 and 60+ DTE buckets, plus layer 3's "cash press" credit spreads.

    * layer 1 (4-7 DTE): calls struck at the condor's break-even mapped to VIX, bought once the
      condor has decayed 40% (seed 000);
    * layers 2 and 3 (30-45 and 60+ DTE): calls 20% above the future, bought while VIX >= 16
      (seed 004); layer 2 sized by the condor's vega (seed 004: "sized by the position's vega
      exposure"), layers 1 and 3 by the premium budget;
    * cash press: 14-DTE VIX call credit spreads 10% above the future, 5 points wide, sold once VIX
      has stayed >= 26 (the middle of 25-28) for 5 days, taking 20% of the budget as maximum loss
      (seed 004).
    """
    return (
        LayerSpec(0.4, 7.0, 4.0, "call", "breakeven", trigger="condor_decay", decay_share=0.4),
        LayerSpec(0.4, 45.0, 30.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=16.0, sizing="vega"),
        LayerSpec(0.2, 90.0, 60.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=16.0),
        LayerSpec(0.2, 14.0, 3.0, "short_call_spread", "otm", 0.1, spread_width=5.0, trigger="vix_sustained",
                  trigger_vix=26.0, trigger_days=5),
    )


@dataclass(frozen=True)
class HedgeSpec:
    """A hedge book: layers plus the rules that apply across them.

    Attributes
    ----------
    name : str
        Identifier (``alvh``, ``vix_ladder``, ...).
    label : str
        Words for reports ("condor + ALVH").
    kind : {"alvh", "baseline", "sweep"}
    layers : tuple of LayerSpec
        Default: :func:`default_alvh_layers`.
    budget_pct_per_year : float
        Premium budget, % of capital per year (1.5, the middle of the texts' claimed 1-2%).
    vega_ratio : float
        For ``vega`` sizing: hedge dollar sensitivity per VIX point over the condor's dollar vega
        per vol point (1.0 = offset it; the texts give no number).
    budget_bands : tuple of (low, high, pct_per_year)
        For ``bands`` sizing: annual budget while the layer's VIX future is in ``[low, high)``
        (VXTH: 12% a year = 1% a month for 15-30, 6% for 30-50; Cboe VXTH methodology).
    exit_multiple : float
        Each layer's exit at a multiple of its opening price (2.0, seed 004): a long layer is sold
        when its value reaches ``exit_multiple`` times what was paid; a credit spread is bought
        back when its cost reaches ``exit_multiple`` times the credit. 0 = off.
    rsi_period, rsi_exit : int, float
        Every layer is closed, and none opened, while the ``rsi_period``-day RSI of the VIX is below
        ``rsi_exit`` (21 and 30, seed 004; :func:`wilder_rsi`). ``rsi_exit = 0`` = off.
    deepest_layer_cap : float
        Capital in the deepest (longest-dated) long layer <= this share of risk capital
        (0.20, the middle of the texts' 15-25%).
    margin_share_cap : float
        All layers' capital <= this share of risk capital (0.25, the middle of the texts' "VIX
        component uses 20-30% of margin").
    stagger_days : int
        Trading days that must pass after one layer's entry before another layer may enter
        (the texts' "layers enter one at a time"). 0: layers with their own triggers may enter
        the same day; 1: at most one entry a day, in layer order.
    future_margin_fraction : float
        Capital held against a long VIX future, as a share of its notional (placeholder 0.5).
    min_price : float
        An option position whose mid (or a credit spread whose credit) is below this many points is
        not traded (0.05, one tick of VIX and SPX options under $3): a quote that rounds to zero
        cannot be bought at mid, and sizing a budget on it would buy thousands of contracts whose
        cost is all spread and commission.
    """

    name: str = "alvh"
    label: str = "condor + ALVH"
    kind: str = "alvh"
    layers: tuple[LayerSpec, ...] = field(default_factory=default_alvh_layers)
    budget_pct_per_year: float = 1.5
    vega_ratio: float = 1.0
    budget_bands: tuple[tuple[float, float, float], ...] = ()
    exit_multiple: float = 2.0
    rsi_period: int = 21
    rsi_exit: float = 30.0
    deepest_layer_cap: float = 0.20
    margin_share_cap: float = 0.25
    stagger_days: int = 0
    future_margin_fraction: float = 0.5
    min_price: float = 0.05

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError(f"hedge '{self.name}': needs at least one layer")
        for i, ly in enumerate(self.layers, 1):
            for attr, allowed in (("instrument", INSTRUMENTS), ("strike_rule", STRIKE_RULES),
                                  ("trigger", TRIGGERS), ("sizing", SIZINGS)):
                if getattr(ly, attr) not in allowed:
                    raise ValueError(f"hedge '{self.name}' layer {i}: {attr} {getattr(ly, attr)!r} is not one of {allowed}")
            if not ly.dte_roll < ly.dte_open:
                raise ValueError(f"hedge '{self.name}' layer {i}: rolls at {ly.dte_roll} DTE, which must be below "
                                 f"its opening DTE {ly.dte_open}")
            if ly.instrument in ("call_spread", "short_call_spread") and ly.spread_width != round(ly.spread_width):
                raise ValueError(f"hedge '{self.name}' layer {i}: VIX strikes are whole points; spread_width "
                                 f"{ly.spread_width} must be an integer")
            if ly.instrument == "future" and ly.sizing != "vega":
                raise ValueError(f"hedge '{self.name}' layer {i}: a VIX future has no premium; size it by 'vega'")
            if ly.is_short and ly.sizing == "vega":
                raise ValueError(f"hedge '{self.name}' layer {i}: a short credit spread is sized by 'budget' or 'bands'")
            if ly.on_spx and ly.sizing == "vega":
                raise ValueError(f"hedge '{self.name}' layer {i}: size an SPX put spread by 'budget' or 'bands'")
            if ly.on_spx and ly.strike_rule == "breakeven":
                raise ValueError(f"hedge '{self.name}' layer {i}: 'breakeven' maps to a VIX strike; not for SPX puts")
            if ly.sizing == "bands" and not self.budget_bands:
                raise ValueError(f"hedge '{self.name}' layer {i}: 'bands' sizing needs budget_bands")
        long_alloc = sum(ly.allocation for ly in self.layers if not ly.is_short)
        if any(not ly.is_short for ly in self.layers) and abs(long_alloc - 1.0) > 1e-9:
            raise ValueError(f"hedge '{self.name}': allocations of the long layers must sum to 1, sum to {long_alloc:.6g}")

    @property
    def banded(self) -> bool:
        """Every layer is sized by ``budget_bands``: ``budget_pct_per_year`` plays no part."""
        return all(ly.sizing == "bands" for ly in self.layers)

    @property
    def deepest_layer(self) -> int:
        """Index of the longest-dated long layer (the one ``deepest_layer_cap`` applies to)."""
        longs = [i for i, ly in enumerate(self.layers) if not ly.is_short]
        return max(longs, key=lambda i: self.layers[i].dte_open) if longs else -1

    def with_budget(self, budget_pct_per_year: float) -> "HedgeSpec":
        """A copy at another budget, named as a sweep point (``alvh_budget_0.5``)."""
        return replace(self, name=f"{self.name}_budget_{budget_pct_per_year:g}", kind="sweep",
                       label=f"{self.label}, budget {budget_pct_per_year:g}%/yr",
                       budget_pct_per_year=float(budget_pct_per_year))

    def rules(self) -> list[str]:
        """One sentence per rule, for the report."""
        bands = ", ".join(f"{r:g}% a year while the VIX future is in [{lo:g}, {hi:g})" for lo, hi, r in self.budget_bands)
        out = [f"{self.label}: " + (f"banded budget: {bands}, none otherwise" if self.banded else
                                    f"budget {self.budget_pct_per_year:g}% of capital a year"
                                    + (f" (bands: {bands})" if self.budget_bands else ""))
               + f"; caps: deepest layer {100 * self.deepest_layer_cap:g}% and all layers "
               f"{100 * self.margin_share_cap:g}% of risk capital"
               + (f"; exit at {self.exit_multiple:g}x the opening price" if self.exit_multiple > 0 else "")
               + (f"; all layers closed while the {self.rsi_period}-day VIX RSI < {self.rsi_exit:g}" if self.rsi_exit > 0 else "")
               + (f"; at most one entry every {self.stagger_days} day(s)" if self.stagger_days else "") + "."]
        for i, ly in enumerate(self.layers, 1):
            trig = {"always": "every day", "vix_above": f"while VIX >= {ly.trigger_vix:g}",
                    "vix_sustained": f"once VIX >= {ly.trigger_vix:g} for {ly.trigger_days} days",
                    "condor_decay": f"once the condor has made {100 * ly.decay_share:g}% of its max profit",
                    "backwardation": "while the 30-day VIX future is above the 60-day one"}[ly.trigger]
            strike = {"otm": f"{100 * ly.strike_otm:g}% OTM", "delta": f"{ly.strike_delta:g} delta",
                      "breakeven": "at the condor's break-even mapped to VIX"}[ly.strike_rule]
            size = {"budget": f"{100 * ly.allocation:g}% of the budget",
                    "vega": f"{100 * ly.allocation:g}% of {self.vega_ratio:g}x the condor's vega",
                    "bands": f"{100 * ly.allocation:g}% of the banded budget"}[ly.sizing]
            out.append(f"Layer {i}: {ly.instrument.replace('_', ' ')} {strike}, opened at {ly.dte_open:g} DTE, "
                       f"rolled at {ly.dte_roll:g} DTE, {trig}, sized at {size}.")
        return out


def baseline_hedges(budget_pct_per_year: float = 1.5) -> tuple[HedgeSpec, ...]:
    """The competing hedges of issue 5, run on the same paths as the ALVH.

    * ``vix_ladder``: a static VIX call ladder: the ALVH's three long buckets (40/40/20, 20% OTM)
      held at all times, no triggers, no exits but the rolls, same budget;
    * ``vxth``: a VXTH-style rule (Cboe VXTH methodology): 30-delta one-month VIX calls, 1% of
      capital a month while the one-month VIX future is in 15-30, 0.5% in 30-50, none otherwise;
    * ``spx_put_spread``: a 45-DTE SPX put spread, long the 25-delta put, short 100 points lower,
      rolled at 21 DTE, held at all times, same budget as the ALVH.
    """
    ladder = tuple(LayerSpec(a, o, r, "call", "otm", 0.2, trigger="always")
                   for a, o, r in ((0.4, 7.0, 4.0), (0.4, 45.0, 30.0), (0.2, 90.0, 60.0)))
    no_exits = dict(exit_multiple=0.0, rsi_exit=0.0, deepest_layer_cap=100.0, margin_share_cap=100.0)
    return (
        HedgeSpec("vix_ladder", "condor + static VIX call ladder", "baseline", ladder, budget_pct_per_year, **no_exits),
        HedgeSpec("vxth", "condor + VXTH-style VIX calls", "baseline",
                  (LayerSpec(1.0, 30.0, 0.0, "call", "delta", strike_delta=0.3, trigger="always", sizing="bands"),),
                  budget_bands=((15.0, 30.0, 12.0), (30.0, 50.0, 6.0)), **no_exits),
        HedgeSpec("spx_put_spread", "condor + SPX put spread", "baseline",
                  (LayerSpec(1.0, 45.0, 21.0, "spx_put_spread", "delta", strike_delta=0.25, spread_width=100.0,
                             trigger="always"),),
                  budget_pct_per_year, **no_exits),
    )


@dataclass(frozen=True)
class MarketSpec:
    """Pricing inputs shared by every instrument.

    Attributes
    ----------
    rate, div : float
        Risk-free rate and SPX dividend yield, continuously compounded, per year.
    frictions : Frictions
        Half-spreads (widening with the VIX) and commissions per instrument (:mod:`alvh.costs`).
    capital : float
        Capital base in dollars; costs in % of capital refer to it.
    smile : SpxSmile
        SSVI smile shape, used where the SPX surface is SSVI.
    surface : {"auto", "model", "ssvi"}
        Which SPX implied-volatility surface prices SPX options (:func:`alvh.surface.make_surface`).
    spot_vol_beta : float
        Elasticity of the VIX to SPX, ``d ln VIX / d ln S`` (negative), used to map an SPX level to
        a VIX level (``breakeven`` strikes) and a VIX position's sensitivity to an SPX delta. The
        runner sets it from the model's own paths (:func:`alvh.runner.prepare`).
    """

    rate: float = 0.02
    div: float = 0.018
    frictions: Frictions = field(default_factory=Frictions)
    capital: float = 1_000_000.0
    smile: SpxSmile = field(default_factory=SpxSmile)
    surface: str = "auto"
    spot_vol_beta: float = -5.0


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


_SGN = np.array([-1.0, 1.0, 1.0, -1.0])[:, None]    # +1 = short leg (we owe its value)
_IS_CALL = np.array([False, False, True, True])[:, None]


def _condor_value(spot, v, strikes, tau, surface, market, regime=None):
    """Mid value (points) of one short iron condor (short put, call minus long wings), its delta,
    and the four leg prices, shape (4, n), ordered long put, short put, short call, long call."""
    n = spot.size
    price, delta = spx_option(
        np.broadcast_to(spot, (4, n)), strikes, tau, np.broadcast_to(v, (4, n)), _IS_CALL,
        surface, market.rate, market.div,
        None if regime is None else np.broadcast_to(regime, (4, n)),
    )
    return (_SGN * price).sum(axis=0), -(_SGN * delta).sum(axis=0), price


def _condor_legs_intrinsic(spot, strikes):
    """Leg values at expiry, shape (4, n)."""
    return np.where(_IS_CALL, np.maximum(spot - strikes, 0.0), np.maximum(strikes - spot, 0.0))


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


def _run_length(x: np.ndarray, level: float) -> np.ndarray:
    """Consecutive days, up to and including each day, with ``x >= level``; shape of ``x``."""
    out = np.zeros(x.shape, dtype=np.int64)
    above = x >= level
    run = np.zeros(x.shape[0], dtype=np.int64)
    for t in range(x.shape[1]):
        run = np.where(above[:, t], run + 1, 0)
        out[:, t] = run
    return out


def _black76_call_delta(price, fwd, strike, tau, rate):
    """Black-76 call delta ``N(d1)`` on the future from a discounted call price (Black 1976,
    "The pricing of commodity contracts", J. Financial Economics 3, eq. for the call on a
    future); NaN where no implied volatility exists."""
    c = price * np.exp(rate * tau) / fwd
    k = np.log(strike / fwd)
    otm = np.where(k >= 0.0, c, c - 1.0 + np.exp(k))   # puts below the forward, by put-call parity
    s = implied_stdev(otm, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return special.ndtr(-k / s + 0.5 * s)


class _Hedge:
    """State and daily step of one hedge book (see :class:`HedgeSpec`)."""

    def __init__(self, spec: HedgeSpec, n: int, t_len: int, dt: float, table, ctx, trace: bool = False) -> None:
        self.spec, self.n, self.dt, self.table, self.ctx = spec, n, dt, table, ctx
        # a dated pricer (real prices of the market replay, alvh.realprices) gives each day its own view
        self._dated = table if hasattr(table, "on_day") else None
        L = len(spec.layers)
        spy = 1.0 / dt
        self.open_steps = [max(dte_to_steps(ly.dte_open, spy), 1) for ly in spec.layers]
        self.roll_steps = [dte_to_steps(ly.dte_roll, spy) for ly in spec.layers]
        for ly, o in zip(spec.layers, self.open_steps):
            if ly.trigger == "backwardation":
                o = max(o, dte_to_steps(BACKWARDATION_DTE[1], spy))
            if (not ly.on_spx or ly.trigger == "backwardation") and table is not None and o > table.max_steps:
                raise ValueError(f"VIX table covers {table.max_steps} steps, hedge '{spec.name}' needs {o}")
        for i, (o, r) in enumerate(zip(self.open_steps, self.roll_steps), 1):
            if not r < o:
                raise ValueError(f"hedge '{spec.name}' layer {i}: opening and roll DTE round to {o} and {r} trading "
                                 "steps; the roll must come at least one step after the entry")
        self.mult = [VIX_FUTURE_MULTIPLIER if ly.instrument == "future" else MULTIPLIER for ly in spec.layers]
        z = lambda: np.zeros((L, n))  # noqa: E731
        self.open = np.zeros((L, n), dtype=bool)
        self.k1, self.k2, self.qty, self.mark, self.entry, self.capital = z(), z(), z(), z(), z(), z()
        self.expiry = np.zeros((L, n), dtype=np.int64)
        self.layer_pnl, self.premium_by_layer = z(), z()
        self.n_entries = np.zeros((L, n), dtype=np.int64)
        self.n_cap = np.zeros((L, n), dtype=np.int64)
        self.pnl = np.zeros((n, t_len))
        self.delta = np.full((n, t_len), np.nan)
        self.payoff, self.spread, self.comm = np.zeros(n), np.zeros(n), np.zeros(n)
        self.active_days, self.peak = np.zeros(n), np.zeros(n)
        self.last_entry = np.full(n, -(10**9), dtype=np.int64)
        self.layer_daily = np.zeros((L, n, t_len)) if trace else None

    # ---- pricing of one layer's position per unit (points) and its legs
    def value(self, i, idx, rem, s, v, x, reg):
        ly = self.spec.layers[i]
        rem = np.maximum(rem, 0)
        if ly.on_spx:
            k = np.stack((self.k1[i, idx], self.k2[i, idx]))
            legs = np.maximum(k - s, 0.0)
            live = rem > 0
            if live.any():
                p, _ = spx_option(np.broadcast_to(s[live], (2, live.sum())), k[:, live], rem[live] * self.dt,
                                  np.broadcast_to(v[live], (2, live.sum())), False, self.ctx.surface,
                                  self.ctx.market.rate, self.ctx.market.div,
                                  None if reg is None else np.broadcast_to(reg[live], (2, live.sum())))
                legs[:, live] = p
            return legs[0] - legs[1], legs
        return self._vix_value(ly, x, rem, self.k1[i, idx], self.k2[i, idx], reg)

    def _vix_value(self, ly, x, rem, k1, k2, reg):
        tb = self.table
        if ly.instrument == "future":
            f = tb.futures(x, rem, reg)
            return f, f[None, :]
        c1 = tb.call(x, rem, tb.strike_index(k1), reg)
        if ly.instrument == "call":
            return c1, c1[None, :]
        c2 = tb.call(x, rem, tb.strike_index(k2), reg)
        val = c1 - c2
        return (-val if ly.is_short else val), np.stack((c1, c2))

    def costs_for(self, ly):
        fr = self.ctx.market.frictions
        return fr.spx_option if ly.on_spx else (fr.vix_future if ly.instrument == "future" else fr.vix_option)

    def dvalue_dvix(self, i, idx, rem, x, reg, h=0.5):
        """Sensitivity of one unit of a VIX layer to the spot VIX (points per VIX point), by a
        central difference on the pricing table."""
        ly = self.spec.layers[i]
        lo = np.maximum(x - h, 0.5)
        up, _ = self._vix_value(ly, x + h, np.maximum(rem, 0), self.k1[i, idx], self.k2[i, idx], reg)
        dn, _ = self._vix_value(ly, lo, np.maximum(rem, 0), self.k1[i, idx], self.k2[i, idx], reg)
        return (up - dn) / (x + h - lo)

    # ---- strikes at entry
    def strikes(self, i, idx, s, v, x, reg, cond):
        ly = self.spec.layers[i]
        steps = self.open_steps[i]
        m = self.ctx.market
        if ly.on_spx:
            tau = steps * self.dt
            if ly.strike_rule == "delta":
                k1 = strike_for_delta(s, tau, v, -ly.strike_delta, False, self.ctx.surface, m.rate, m.div, regime=reg)
            else:
                k1 = np.round(s * (1.0 - ly.strike_otm) / 5.0) * 5.0
            return k1, np.maximum(k1 - ly.spread_width, SPX_MIN_STRIKE), None
        tb = self.table
        fut = tb.futures(x, steps, reg)
        if ly.strike_rule == "delta":
            # bisection over the listed strikes: the call delta falls as the strike rises
            lo = np.zeros(idx.size, dtype=np.intp)
            hi = np.full(idx.size, tb.strikes.size - 1, dtype=np.intp)
            while np.any(hi - lo > 1):
                mid = (lo + hi) // 2
                k = tb.strikes[mid]
                d = _black76_call_delta(tb.call(x, steps, mid, reg), fut, k, steps * self.dt, m.rate)
                d = np.where(np.isfinite(d), d, np.where(k < fut, 1.0, 0.0))
                above = d > ly.strike_delta
                lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
            def _d(j):
                d = _black76_call_delta(tb.call(x, steps, j, reg), fut, tb.strikes[j], steps * self.dt, m.rate)
                return np.where(np.isfinite(d), d, np.where(tb.strikes[j] < fut, 1.0, 0.0))
            d_lo, d_hi = _d(lo), _d(hi)
            k1 = tb.strikes[np.where(np.abs(d_lo - ly.strike_delta) <= np.abs(d_hi - ly.strike_delta), lo, hi)]
        else:
            k1 = np.rint(fut * (1.0 + ly.strike_otm))
            if ly.strike_rule == "breakeven":
                c_open, be = cond["open"][idx], cond["breakeven"][idx]
                mapped = x * (np.maximum(be, 1e-9) / s) ** m.spot_vol_beta
                k1 = np.where(c_open, np.rint(mapped), k1)
        k1 = np.clip(k1, tb.strikes[0], tb.strikes[-1])
        return k1, np.minimum(k1 + ly.spread_width, tb.strikes[-1]), fut

    # ---- one day
    def step(self, t, last, s_t, v_t, x_t, r_t, cond, rsi_block, runlen, measure, trades):
        spec, cap = self.spec, self.ctx.market.capital
        if self._dated is not None:
            self.table = self._dated.on_day(t)
        sub = (lambda ix: None) if r_t is None else (lambda ix: r_t[ix])
        exited = np.zeros((len(spec.layers), self.n), dtype=bool)
        rolled = np.zeros((len(spec.layers), self.n), dtype=bool)
        for i, ly in enumerate(spec.layers):
            held = self.open[i]
            if not held.any():
                continue
            idx = np.flatnonzero(held)
            rem = self.expiry[i, idx] - t
            val, legs = self.value(i, idx, rem, s_t[idx], v_t[idx], x_t[idx], sub(idx))
            q, mult = self.qty[i, idx], self.mult[i]
            move = (val - self.mark[i, idx]) * q * mult
            self.pnl[idx, t] += move
            self.layer_pnl[i, idx] += move
            self.mark[i, idx] = val
            settle = rem <= 0
            roll = ~settle & (rem <= self.roll_steps[i])
            mult_exit = np.zeros(idx.size, dtype=bool)
            if spec.exit_multiple > 0 and ly.instrument != "future":
                if ly.is_short:
                    mult_exit = -val >= spec.exit_multiple * -self.entry[i, idx]
                else:
                    mult_exit = val >= spec.exit_multiple * self.entry[i, idx]
            mult_exit &= ~settle & ~roll
            rsi_exit = ~settle & ~roll & ~mult_exit & rsi_block[idx]
            sell = roll | mult_exit | rsi_exit
            if last:
                sell = ~settle
            out = settle | sell
            got = val[out] * q[out] * mult
            if ly.instrument == "future":
                got = (val[out] - self.entry[i, idx[out]]) * q[out] * mult
            self.payoff[idx[out]] += got
            if not last and sell.any():
                sl = idx[sell]
                _charge(self.pnl, self.spread, self.comm, sl, t,
                        self.costs_for(ly).spread_and_commission(legs[:, sell], x_t[sl], self.ctx.market.frictions.vix_ref,
                                                                 q[sell]), self.layer_pnl[i])
            if trades is not None:
                live = not last
                for act, mask in (("settle", settle), ("roll", roll & live), ("exit_multiple", mult_exit & live),
                                  ("rsi_exit", rsi_exit & live)):
                    for p, qq, pr in zip(idx[mask], q[mask], val[mask]):
                        trades.append((t, int(p), spec.name, i + 1, act, float(qq), float(pr)))
            exited[i, idx[(mult_exit | rsi_exit) & ~settle]] = True
            rolled[i, idx[roll | settle]] = True
            gone = idx[out]
            self.open[i, gone] = False
            self.mark[i, gone] = 0.0
            self.capital[i, gone] = 0.0
        if not last:
            self._enter(t, s_t, v_t, x_t, r_t, sub, cond, rsi_block, runlen, exited, rolled, trades, cap)
        held_any = self.open.any(axis=0)
        self.active_days += held_any
        np.maximum(self.peak, cond["margin"] + self.capital.sum(axis=0), out=self.peak)
        if measure:
            self._measure(t, s_t, v_t, x_t, sub, cond)
        if self.layer_daily is not None:      # cumulative snapshot; differenced in result()
            self.layer_daily[:, :, t] = self.layer_pnl

    def _triggered(self, ly, t, x_t, r_t, runlen, cond) -> np.ndarray:
        """Paths on which layer ``ly``'s trigger (:data:`TRIGGERS`) holds on day ``t``."""
        if ly.trigger == "always":
            return np.ones(self.n, dtype=bool)
        if ly.trigger == "vix_above":
            return x_t >= ly.trigger_vix
        if ly.trigger == "vix_sustained":
            return runlen[ly.trigger_vix][:, t] >= ly.trigger_days
        if ly.trigger == "condor_decay":
            return cond["profit_share"] >= ly.decay_share
        if ly.trigger == "backwardation":
            m1, m2 = (dte_to_steps(d, 1.0 / self.dt) for d in BACKWARDATION_DTE)
            return self.table.futures(x_t, m1, r_t) > self.table.futures(x_t, m2, r_t)
        raise ValueError(f"unknown trigger {ly.trigger!r}; known: {', '.join(TRIGGERS)}")

    def _enter(self, t, s_t, v_t, x_t, r_t, sub, cond, rsi_block, runlen, exited, rolled, trades, cap):
        spec = self.spec
        rc = cap * self.ctx.condor.margin_fraction
        for i, ly in enumerate(spec.layers):
            ok = self._triggered(ly, t, x_t, r_t, runlen, cond) & ~self.open[i] & ~rsi_block & ~exited[i]
            if spec.stagger_days > 0:
                ok &= ((t - self.last_entry) >= spec.stagger_days) | rolled[i]   # a roll's replacement is no new entry
            idx = np.flatnonzero(ok)
            if not idx.size:
                continue
            s, v, x, reg = s_t[idx], v_t[idx], x_t[idx], sub(idx)
            k1, k2, fut = self.strikes(i, idx, s, v, x, reg, cond)
            self.k1[i, idx], self.k2[i, idx] = k1, k2
            steps = np.full(idx.size, self.open_steps[i])
            price, legs = self.value(i, idx, steps, s, v, x, reg)
            mult = self.mult[i]
            hold_years = max(self.open_steps[i] - self.roll_steps[i], 1) * self.dt
            if ly.instrument == "future":
                unit_cap = spec.future_margin_fraction * price * mult
            elif ly.is_short:
                unit_cap = (k2 - k1 + price) * mult          # width - credit; price = -credit
            else:
                unit_cap = price * mult
            if ly.sizing == "vega":
                dv = self.dvalue_dvix(i, idx, steps, x, reg) * mult
                target = spec.vega_ratio * ly.allocation * cond["vega_usd"](idx)
                q = np.where(dv > 1e-12, target / np.where(dv > 1e-12, dv, 1.0), 0.0)
            else:
                if ly.sizing == "bands":
                    f = fut if fut is not None else self.table.futures(x, self.open_steps[i], reg)
                    pct = np.zeros(idx.size)
                    for lo, hi, rate in spec.budget_bands:
                        pct = np.where((f >= lo) & (f < hi), rate, pct)
                else:
                    pct = spec.budget_pct_per_year
                spend = cap * pct / 100.0 * ly.allocation * hold_years
                q = np.where(unit_cap > 1e-9, spend / np.where(unit_cap > 1e-9, unit_cap, 1.0), 0.0)
            q_want = q
            limit = np.full(idx.size, np.inf)
            if i == spec.deepest_layer:
                limit = np.minimum(limit, spec.deepest_layer_cap * rc)
            others = self.capital[:, idx].sum(axis=0)
            limit = np.minimum(limit, np.maximum(spec.margin_share_cap * rc - others, 0.0))
            q = np.minimum(q, np.where(unit_cap > 1e-9, limit / np.where(unit_cap > 1e-9, unit_cap, 1.0), 0.0))
            bound = q < q_want * (1.0 - 1e-12)
            tradable = (-price >= spec.min_price) if ly.is_short else (
                price > 0.0 if ly.instrument == "future" else price >= spec.min_price)
            wanted = tradable & (q_want > 1e-9) & (unit_cap > 1e-9)
            self.n_cap[i, idx[wanted & bound & (q <= 1e-9)]] += 1      # entries the caps block entirely
            good = wanted & (q > 1e-9)
            idx, q, price, legs, unit_cap, bound = idx[good], q[good], price[good], legs[:, good], unit_cap[good], bound[good]
            if not idx.size:
                continue
            self.open[i, idx] = True
            self.expiry[i, idx] = t + self.open_steps[i]
            self.qty[i, idx] = q
            self.mark[i, idx] = price
            self.entry[i, idx] = price
            self.capital[i, idx] = unit_cap * q
            self.n_entries[i, idx] += 1
            self.n_cap[i, idx] += bound
            fresh = ~rolled[i, idx]
            self.last_entry[idx[fresh]] = t
            if ly.instrument != "future":
                self.premium_by_layer[i, idx] += price * q * mult
            _charge(self.pnl, self.spread, self.comm, idx, t,
                    self.costs_for(ly).spread_and_commission(legs, x_t[idx], self.ctx.market.frictions.vix_ref, q),
                    self.layer_pnl[i])
            if trades is not None:
                for p, qq, pr in zip(idx, q, price):
                    trades.append((t, int(p), spec.name, i + 1, "open", float(qq), float(pr)))

    def _measure(self, t, s_t, v_t, x_t, sub, cond):
        """Condor + hedge delta per condor on paths with a condor open (SPX delta units)."""
        c_open = cond["open"]
        d_usd = np.zeros(self.n)      # dollars per SPX point
        for i, ly in enumerate(self.spec.layers):
            idx = np.flatnonzero(self.open[i] & c_open)
            if not idx.size:
                continue
            rem = np.maximum(self.expiry[i, idx] - t, 0)
            q = self.qty[i, idx] * self.mult[i]
            if ly.on_spx:
                live = rem > 0
                if live.any():
                    j = idx[live]
                    k = np.stack((self.k1[i, j], self.k2[i, j]))
                    m = self.ctx.market
                    _, d = spx_option(np.broadcast_to(s_t[j], (2, j.size)), k, rem[live] * self.dt,
                                      np.broadcast_to(v_t[j], (2, j.size)), False, self.ctx.surface, m.rate, m.div,
                                      None if sub(j) is None else np.broadcast_to(sub(j), (2, j.size)))
                    d_usd[j] += (d[0] - d[1]) * q[live]
            else:
                dvdx = self.dvalue_dvix(i, idx, rem, x_t[idx], sub(idx))
                dxds = self.ctx.market.spot_vol_beta * x_t[idx] / s_t[idx]
                d_usd[idx] += dvdx * dxds * q
        o = np.flatnonzero(c_open)
        self.delta[o, t] = cond["delta"][o] + d_usd[o] / (cond["contracts"][o] * MULTIPLIER)

    def result(self, t_len: int) -> HedgeResult:
        return HedgeResult(
            name=self.spec.name, pnl=self.pnl, layer_pnl=self.layer_pnl, premium=self.premium_by_layer.sum(axis=0),
            premium_by_layer=self.premium_by_layer, payoff=self.payoff, spread_cost=self.spread,
            commission=self.comm, active_share=self.active_days / t_len, peak_capital=self.peak, delta=self.delta,
            n_entries=self.n_entries, n_cap_bound=self.n_cap,
            layer_pnl_daily=None if self.layer_daily is None else _daily_from_cumulative(self.layer_daily),
        )


@dataclass(frozen=True)
class _Context:
    market: MarketSpec
    condor: CondorSpec
    surface: SpxSurface


def run_books(
    spot: np.ndarray,
    variance: np.ndarray,
    vix: np.ndarray,
    surface: SpxSurface,
    market: MarketSpec,
    condor: CondorSpec,
    hedges,
    table: VixOptionTable | MarkovVixTable | None,
    dt: float,
    regime: np.ndarray | None = None,
    measure_days: np.ndarray | None = None,
    trace: bool = False,
) -> BookResult:
    """Run the condor book and every hedge book along a chunk of paths.

    Parameters
    ----------
    spot, variance, vix : ndarray of shape (n_paths, n_steps + 1)
        SPX level (points), variance state (annualised) and model VIX (points) per path and day.
    surface : alvh.surface.SpxSurface
        Prices the SPX options (:func:`alvh.surface.make_surface`; its model's Q side).
    market : MarketSpec
    condor : CondorSpec
    hedges : sequence of HedgeSpec
        Hedge books run on the same paths (may be empty).
    table : VixOptionTable or MarkovVixTable or alvh.realprices.RealVixPrices or None
        VIX futures and call prices (:func:`alvh.pricing.make_vix_table`); required when a hedge
        has a VIX layer. Its ``max_steps`` must cover every VIX layer's ``dte_open``. A pricer with an
        ``on_day(t)`` method (real prices of the market replay) is asked for day ``t``'s view each day.
    dt : float
        Years per step.
    regime : ndarray of int8, shape (n_paths, n_steps + 1), optional
        Regime labels (regime-switching models); ``None`` means a single regime.
    measure_days : ndarray of bool, shape (n_steps + 1,), optional
        Days on which positions' deltas are computed (``condor_delta``, ``HedgeResult.delta``);
        default none.
    trace : bool, default False
        Keep a trade log (``BookResult.trades``); for tests and small runs.

    Returns
    -------
    BookResult

    Raises
    ------
    ValueError
        If shapes disagree, the VIX table is missing or too short, or the SPX surface's table
        (``surface.tau_max``) does not reach the condor's or a put spread's maturity.

    Notes
    -----
    Runs the compiled engine (:mod:`alvh.fastbook`, the same results to round-off) where
    :func:`alvh.fastbook.supported` says it applies, unless ``trace`` or ``ALVH_NUMPY_REFERENCE=1``;
    the numpy code below is the reference.
    """
    from alvh.switches import NUMPY_REFERENCE

    if not trace and not NUMPY_REFERENCE:
        from alvh import fastbook

        hedges = tuple(hedges)
        if fastbook.supported(spot, variance, vix, surface, market, condor, hedges, table, dt, regime,
                              measure_days)[0]:
            return fastbook.run_books_compiled(spot, variance, vix, surface, market, condor, hedges, table, dt,
                                               regime=regime, measure_days=measure_days)
    if spot.shape != variance.shape or spot.shape != vix.shape or spot.ndim != 2:
        raise ValueError("spot, variance and vix must be 2-D arrays of equal shape (n_paths, n_steps + 1)")
    n, t_len = spot.shape
    n_steps = t_len - 1
    spy = 1.0 / dt
    cap = market.capital
    hedges = tuple(hedges)
    if measure_days is None:
        measure_days = np.zeros(t_len, dtype=bool)
    if np.shape(measure_days) != (t_len,):
        raise ValueError(f"measure_days must have shape ({t_len},)")
    zeros = lambda: np.zeros(n)  # noqa: E731

    # ---- condor state
    c_open = np.zeros(n, dtype=bool)
    c_strikes = np.zeros((4, n))
    c_legs = np.zeros((4, n))     # leg marks (points)
    c_expiry = np.zeros(n, dtype=np.int64)
    c_credit, c_mark, c_qty, c_margin = zeros(), zeros(), zeros(), zeros()
    c_delta = np.full(n, np.nan)
    c_steps = max(dte_to_steps(condor.dte, spy), 1)
    c_steps_shift = condor.max_steps(spy)
    close_steps = dte_to_steps(condor.close_dte, spy) if condor.close_dte > 0 else 0
    tau_max = getattr(surface, "tau_max", None)
    spx_steps = [max(dte_to_steps(ly.dte_open, spy), 1) for h in hedges for ly in h.layers if ly.on_spx]
    need = max([c_steps_shift] + spx_steps) * dt
    if tau_max is not None and need > tau_max * (1.0 + 1e-9):
        raise ValueError(f"the SPX surface is tabulated to {tau_max:.4f} years; the strategies need {need:.4f}")
    if any(not ly.on_spx or ly.sizing == "bands" for h in hedges for ly in h.layers) and table is None:
        raise ValueError("VIX layers and 'bands' sizing need a VixOptionTable or MarkovVixTable")
    condor_pnl = np.zeros((n, t_len))
    condor_delta = np.full((n, t_len), np.nan)
    leg_pnl = np.zeros((4, n))
    condor_spread, condor_comm, condor_credit, contracts_sum, c_peak = zeros(), zeros(), zeros(), zeros(), zeros()
    n_condors, n_takes, n_stops, n_dte = (np.zeros(n, dtype=np.int64) for _ in range(4))
    fr = market.frictions
    trades = [] if trace else None

    ctx = _Context(market, condor, surface)
    books = [_Hedge(h, n, t_len, dt, table, ctx, trace) for h in hedges]
    leg_daily = np.zeros((4, n, t_len)) if trace else None
    rsi = {p: wilder_rsi(vix, p) for p in {h.rsi_period for h in hedges if h.rsi_exit > 0}}
    runlen = {ly.trigger_vix: _run_length(vix, ly.trigger_vix)
              for h in hedges for ly in h.layers if ly.trigger == "vix_sustained"}

    def log(t, idx, action, q, price):
        if trades is not None:
            for p, qq, pr in zip(idx, np.broadcast_to(q, idx.shape), np.broadcast_to(price, idx.shape)):
                trades.append((t, int(p), "condor", 0, action, float(qq), float(pr)))

    for t in range(t_len):
        s_t, v_t, x_t = spot[:, t], variance[:, t], vix[:, t]
        r_t = None if regime is None else regime[:, t]
        sub = (lambda ix: None) if r_t is None else (lambda ix: r_t[ix])
        last = t == n_steps
        decay_today = np.full(n, -np.inf)      # profit share of the condor marked today (before its trades)

        # ---------------- condor: mark, settle, exits
        if c_open.any():
            idx = np.flatnonzero(c_open)
            rem = c_expiry[idx] - t
            expiring = rem <= 0
            legs = np.zeros((4, idx.size))
            delta = np.full(idx.size, np.nan)
            if expiring.any():
                e = idx[expiring]
                legs[:, expiring] = _condor_legs_intrinsic(s_t[e], c_strikes[:, e])
            live = ~expiring
            if live.any():
                l_ = idx[live]
                _, delta[live], legs[:, live] = _condor_value(s_t[l_], v_t[l_], c_strikes[:, l_], rem[live] * dt,
                                                              surface, market, sub(l_))
            value = (_SGN * legs).sum(axis=0)
            q = c_qty[idx]
            leg_pnl[:, idx] -= _SGN * (legs - c_legs[:, idx]) * q * MULTIPLIER
            condor_pnl[idx, t] -= (value - c_mark[idx]) * q * MULTIPLIER
            c_mark[idx] = value
            c_legs[:, idx] = legs
            c_delta[idx] = delta
            decay_today[idx] = np.where(c_credit[idx] > 0, 1.0 - value / np.where(c_credit[idx] > 0, c_credit[idx], 1.0), 0.0)
            live_trade = live & (not last)     # on the horizon's last day positions are only marked
            take = live_trade & (value <= (1.0 - condor.profit_take) * c_credit[idx])
            stop = live_trade & ~take & (value >= condor.stop_multiple * c_credit[idx])
            at_dte = live_trade & ~take & ~stop & (rem <= close_steps)
            close = take | stop | at_dte
            if close.any():
                cl = idx[close]
                _charge(condor_pnl, condor_spread, condor_comm, cl, t,
                        fr.spx_option.spread_and_commission(legs[:, close], x_t[cl], fr.vix_ref, q[close]))
            n_takes[idx[take]] += 1
            n_stops[idx[stop]] += 1
            n_dte[idx[at_dte]] += 1
            for action, mask in (("take", take), ("stop", stop), ("dte_close", at_dte), ("expire", expiring)):
                log(t, idx[mask], action, q[mask], value[mask])
            shut = idx[close | expiring]
            c_open[shut] = False
            c_mark[shut] = 0.0
            c_margin[shut] = 0.0
            c_legs[:, shut] = 0.0
            c_delta[shut] = np.nan

        # ---------------- condor: entries on the schedule
        if not last and t % condor.entry_interval_days == 0:
            new = np.flatnonzero(~c_open)
            shifted = np.zeros(new.size, dtype=bool)
            if condor.time_shift and c_steps_shift > c_steps:
                shifted = x_t[new] > condor.time_shift_vix
            for grp, steps in ((new[~shifted], c_steps), (new[shifted], c_steps_shift)):
                if not grp.size:
                    continue
                tau = steps * dt
                s_n, v_n, r_n = s_t[grp], v_t[grp], sub(grp)
                kp = strike_for_delta(s_n, tau, v_n, -condor.short_delta, False, surface, market.rate, market.div,
                                      regime=r_n)
                kc = strike_for_delta(s_n, tau, v_n, condor.short_delta, True, surface, market.rate, market.div,
                                      regime=r_n)
                if condor.wing_delta > 0:
                    kpl = strike_for_delta(s_n, tau, v_n, -condor.wing_delta, False, surface, market.rate,
                                           market.div, regime=r_n)
                    kcl = strike_for_delta(s_n, tau, v_n, condor.wing_delta, True, surface, market.rate,
                                           market.div, regime=r_n)
                    kpl, kcl = np.minimum(kpl, kp - 5.0), np.maximum(kcl, kc + 5.0)
                else:
                    kpl, kcl = kp - condor.wing_width, kc + condor.wing_width
                strikes = np.stack((kpl, kp, kc, kcl))
                value, delta, legs = _condor_value(s_n, v_n, strikes, tau, surface, market, r_n)
                width = np.maximum(kp - kpl, kcl - kc)
                margin = condor_margin(width, value) * MULTIPLIER   # dollars per condor
                # a credit at or above the wing width would mean an arbitrage in the surface: no trade
                ok = (value > 0.0) & (margin > 0.0)
                q = np.where(ok, np.floor(condor.margin_fraction * cap / np.where(ok, margin, 1.0)), 0.0)
                ok &= q >= 1.0
                g, strikes, value, legs, q, margin, delta = (grp[ok], strikes[:, ok], value[ok], legs[:, ok], q[ok],
                                                              margin[ok], delta[ok])
                c_open[g] = True
                c_strikes[:, g] = strikes
                c_expiry[g] = t + steps
                c_credit[g] = value
                c_mark[g] = value
                c_legs[:, g] = legs
                c_delta[g] = delta
                c_qty[g] = q
                c_margin[g] = margin * q
                contracts_sum[g] += q
                condor_credit[g] += value * q * MULTIPLIER
                _charge(condor_pnl, condor_spread, condor_comm, g, t,
                        fr.spx_option.spread_and_commission(legs, x_t[g], fr.vix_ref, q))
                n_condors[g] += 1
                log(t, g, "open", q, value)
        np.maximum(c_peak, c_margin, out=c_peak)
        if leg_daily is not None:             # cumulative snapshot; differenced below
            leg_daily[:, :, t] = leg_pnl
        if measure_days[t]:
            condor_delta[c_open, t] = c_delta[c_open]

        # ---------------- hedge books
        if books:
            def vega_usd(ix, t=t, s_t=s_t, v_t=v_t, sub=sub):
                """Open condors' dollar vega per vol point on paths ``ix`` (0 where none is open)."""
                out = np.zeros(ix.size)
                o = c_open[ix]
                j = ix[o]
                if j.size:
                    g = surface_option(np.broadcast_to(s_t[j], (4, j.size)), c_strikes[:, j],
                                       np.maximum(c_expiry[j] - t, 1) * dt, np.broadcast_to(v_t[j], (4, j.size)),
                                       _IS_CALL, surface, market.rate, market.div,
                                       None if sub(j) is None else np.broadcast_to(sub(j), (4, j.size)))
                    # vega per 1.00 of vol / 100 = per vol point, times 100 dollars per point
                    # a short condor is short vega: -position vega > 0; long-vega states need no VIX hedge
                    out[o] = np.maximum((_SGN * g.vega).sum(axis=0), 0.0) * c_qty[j]
                return out

            cond = {"open": c_open, "profit_share": decay_today, "breakeven": c_strikes[1] - c_credit,
                    "margin": c_margin, "vega_usd": vega_usd, "delta": c_delta, "contracts": c_qty}
            for b in books:
                h = b.spec
                block = np.zeros(n, dtype=bool)
                if h.rsi_exit > 0:
                    r = rsi[h.rsi_period][:, t]
                    block = np.isfinite(r) & (r < h.rsi_exit)
                b.step(t, last, s_t, v_t, x_t, r_t, cond, block, runlen, bool(measure_days[t]), trades)

    return BookResult(
        condor_pnl=condor_pnl, condor_leg_pnl=leg_pnl, condor_delta=condor_delta,
        condor_spread_cost=condor_spread, condor_commission=condor_comm, condor_credit=condor_credit,
        n_condors=n_condors, n_profit_takes=n_takes, n_stops=n_stops, n_dte_closes=n_dte,
        condor_contracts=np.divide(contracts_sum, n_condors, out=np.zeros(n), where=n_condors > 0),
        condor_peak_capital=c_peak, hedges=[b.result(t_len) for b in books], trades=trades,
        condor_leg_pnl_daily=None if leg_daily is None else _daily_from_cumulative(leg_daily),
    )
