"""The strategies' rules: the condor, hedge layer, hedge book and market specifications.

:class:`CondorSpec`, :class:`LayerSpec`, :class:`HedgeSpec` and :class:`MarketSpec` carry every rule of
the Adaptive Layered VIX Hedge that the source texts give (``../shared/ALVH.md``), with the texts' value
as default; :func:`default_alvh_layers` and :func:`baseline_hedges` build the ALVH and the competing
hedges from them. The one vocabulary of layer rules (:data:`INSTRUMENTS`, :data:`STRIKE_RULES`,
:data:`TRIGGERS`, :data:`SIZINGS`), :data:`SPX_MIN_STRIKE` and the conversion of calendar DTE to steps
(:func:`dte_to_steps`) are defined here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from alvh.costs import SPX_MULTIPLIER, VIX_OPTION_MULTIPLIER, Frictions
from alvh.pricing import SpxSmile

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
#: The texts' VIX threshold, VIX points (../shared/ALVH.md): the ALVH's later layers open above it and
#: the condor time-shifts to the next cycle above it; the default of both rules.
VIX_THRESHOLD = 16.0
SIZINGS = ("budget", "vega", "bands")
LEGS = ("long_put", "short_put", "short_call", "long_call")


def dte_to_steps(dte: float, steps_per_year: float = 252.0) -> int:
    """Calendar days to expiry -> whole trading steps (``round(dte * steps_per_year / 365)``)."""
    return int(round(dte * steps_per_year / 365.0))


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
    time_shift_vix: float = VIX_THRESHOLD
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
    trigger_vix: float = VIX_THRESHOLD
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
        LayerSpec(0.4, 45.0, 30.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=VIX_THRESHOLD, sizing="vega"),
        LayerSpec(0.2, 90.0, 60.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=VIX_THRESHOLD),
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
