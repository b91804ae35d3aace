"""Trading frictions and capital: bid–ask spreads that widen with the VIX, commissions, margin.

Every trade before expiry crosses half the bid–ask spread; every contract traded pays a commission.
Cash settlement at expiry pays neither (SPX options settle against the simulated close, PM
settlement; VIX options against the model VIX of the expiry day, standing in for the special
opening quotation).

Spread model (per instrument, in the instrument's price points)::

    half_spread = min((min_half_spread + rel_half_spread * |mid|) * (VIX / vix_ref) ** vix_elasticity,
                      max_half_spread)

A floor of a tick's worth plus a share of the option's value, scaled by how stressed the market is.
Quoted spreads of index options are roughly proportional to the option's value with a floor at the
tick, and widen when volatility rises, up to a cap (without it a 1%-of-mid rule scaled by VIX/15
would charge 20% of a deep in-the-money leg's value per side in a VIX-300 state) (Cboe lists SPX and VIX options in 0.05 ticks below 3.00 and
0.10 above; the half-spread floor here is half a tick). The default coefficients are placeholders
chosen to give quoted widths of the order seen on screens in calm markets; no quote data is bundled,
so they are not fitted. Every coefficient is a scenario key.

Margin (strategy-based, Cboe Margin Manual, spreads: a short iron condor is margined as its put and
call credit spreads, of which only the greater requirement is charged): the width of the wider wing
less the credit received, times the multiplier, per condor. Long options
are paid in full (their requirement is the premium). Costs "in % of capital per year" refer to the
scenario's capital base.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import math

import numpy as np

__all__ = [
    "InstrumentCosts",
    "Frictions",
    "SPX_MULTIPLIER",
    "VIX_OPTION_MULTIPLIER",
    "VIX_FUTURE_MULTIPLIER",
    "condor_margin",
]

#: Contract multipliers, dollars per index point (Cboe contract specifications: SPX options, VIX
#: options $100; VIX futures (VX) $1,000).
SPX_MULTIPLIER = 100.0
VIX_OPTION_MULTIPLIER = 100.0
VIX_FUTURE_MULTIPLIER = 1000.0


@dataclass(frozen=True)
class InstrumentCosts:
    """Spread and commission of one instrument.

    Parameters
    ----------
    multiplier : float
        Dollars per price point per contract.
    min_half_spread : float
        Half-spread floor in price points at ``VIX = vix_ref`` (>= 0).
    rel_half_spread : float
        Half-spread as a fraction of the mid price at ``VIX = vix_ref`` (>= 0).
    vix_elasticity : float
        Power of ``VIX / vix_ref`` that scales the half-spread (>= 0; 1 = proportional to the VIX).
    commission : float
        Dollars per contract per side (>= 0), charged on every trade before expiry.
    max_half_spread : float, default inf
        Cap on the half-spread in price points (> 0).

    Raises
    ------
    ValueError
        If a value is negative or not finite, or the multiplier is not positive.
    """

    multiplier: float
    min_half_spread: float
    rel_half_spread: float
    vix_elasticity: float = 1.0
    commission: float = 1.0
    max_half_spread: float = math.inf

    def __post_init__(self) -> None:
        for name in ("multiplier", "min_half_spread", "rel_half_spread", "vix_elasticity", "commission"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")
        if not self.max_half_spread > 0 or np.isnan(self.max_half_spread):
            raise ValueError(f"max_half_spread must be > 0, got {self.max_half_spread}")
        if self.multiplier <= 0:
            raise ValueError(f"multiplier must be > 0, got {self.multiplier}")

    def half_spread(self, mid, vix, vix_ref: float) -> np.ndarray:
        """Half bid–ask spread in price points.

        Parameters
        ----------
        mid : array_like
            Mid prices (points), broadcastable against ``vix``.
        vix : array_like
            VIX level on the trade day (points, > 0).
        vix_ref : float
            VIX level at which the coefficients apply (points, > 0).

        Returns
        -------
        ndarray
            ``min((min_half_spread + rel_half_spread |mid|) (vix / vix_ref)^vix_elasticity,
            max_half_spread)``.
        """
        scale = (np.maximum(np.asarray(vix, dtype=float), 1e-6) / vix_ref) ** self.vix_elasticity
        raw = (self.min_half_spread + self.rel_half_spread * np.abs(np.asarray(mid, dtype=float))) * scale
        return np.minimum(raw, self.max_half_spread)

    def spread_and_commission(self, mid, vix, vix_ref: float, contracts) -> tuple[np.ndarray, np.ndarray]:
        """Dollars of half-spread and of commission to trade a position of one or more legs.

        Parameters
        ----------
        mid : array_like of shape (n,) or (n_legs, n)
            Mid price of each leg (points); a 2-D array is a multi-leg position (e.g. a condor's
            four legs), every leg traded in the same number of contracts.
        vix : array_like of shape (n,)
            VIX level on the trade day (points).
        vix_ref : float
        contracts : array_like of shape (n,)
            Contracts per leg (either side; fractional allowed).

        Returns
        -------
        spread, commission : ndarray of shape (n,)
            ``contracts * sum_legs half_spread * multiplier`` and
            ``contracts * n_legs * commission``, USD.
        """
        legs = np.atleast_2d(np.asarray(mid, dtype=float))
        q = np.abs(np.asarray(contracts, dtype=float))
        spread = (self.half_spread(legs, vix, vix_ref) * self.multiplier).sum(axis=0) * q
        return spread, legs.shape[0] * self.commission * q

    def trade_cost(self, mid, vix, vix_ref: float, contracts) -> np.ndarray:
        """Total dollars, half-spread plus commission, of :meth:`spread_and_commission`."""
        spread, commission = self.spread_and_commission(mid, vix, vix_ref, contracts)
        return spread + commission


def _spx() -> InstrumentCosts:
    return InstrumentCosts(SPX_MULTIPLIER, min_half_spread=0.05, rel_half_spread=0.01, vix_elasticity=1.0,
                           commission=1.0, max_half_spread=5.0)


def _vix_option() -> InstrumentCosts:
    return InstrumentCosts(VIX_OPTION_MULTIPLIER, min_half_spread=0.025, rel_half_spread=0.03, vix_elasticity=1.0,
                           commission=1.0, max_half_spread=0.5)


def _vix_future() -> InstrumentCosts:
    return InstrumentCosts(VIX_FUTURE_MULTIPLIER, min_half_spread=0.025, rel_half_spread=0.0, vix_elasticity=1.0,
                           commission=2.0, max_half_spread=0.25)


@dataclass(frozen=True)
class Frictions:
    """Costs of every traded instrument.

    Parameters
    ----------
    spx_option, vix_option, vix_future : InstrumentCosts
        Defaults: SPX options half-spread 0.05 + 1% of mid, VIX options 0.025 + 3% of mid, VIX
        futures 0.025 (half a 0.05 tick); all scale with ``VIX / vix_ref``, capped at 5, 0.5 and 0.25
        points; commissions $1.00 per option contract and $2.00 per future, per side. Placeholders,
        not fitted to quotes.
    vix_ref : float, default 15
        VIX level at which the spread coefficients apply (points).

    Raises
    ------
    ValueError
        If ``vix_ref <= 0``.
    """

    spx_option: InstrumentCosts = field(default_factory=_spx)
    vix_option: InstrumentCosts = field(default_factory=_vix_option)
    vix_future: InstrumentCosts = field(default_factory=_vix_future)
    vix_ref: float = 15.0

    def __post_init__(self) -> None:
        if not self.vix_ref > 0:
            raise ValueError(f"vix_ref must be > 0, got {self.vix_ref}")

    @classmethod
    def flat(cls, spx_half_spread: float, vix_half_spread: float) -> "Frictions":
        """Constant half-spreads (points), no commissions and no widening: the simplest model."""
        return cls(
            spx_option=InstrumentCosts(SPX_MULTIPLIER, spx_half_spread, 0.0, 0.0, 0.0),
            vix_option=InstrumentCosts(VIX_OPTION_MULTIPLIER, vix_half_spread, 0.0, 0.0, 0.0),
            vix_future=InstrumentCosts(VIX_FUTURE_MULTIPLIER, vix_half_spread, 0.0, 0.0, 0.0),
        )

    def describe(self) -> list[str]:
        """One line per instrument, for reports."""
        out = []
        for name, c in (("SPX options", self.spx_option), ("VIX options", self.vix_option),
                        ("VIX futures", self.vix_future)):
            out.append(
                f"{name}: half-spread ({c.min_half_spread:g} pts + {100 * c.rel_half_spread:g}% of mid) "
                f"x (VIX/{self.vix_ref:g})^{c.vix_elasticity:g}, at most {c.max_half_spread:g} pts; commission ${c.commission:.2f} per contract "
                f"per side; multiplier ${c.multiplier:,.0f} per point"
            )
        return out


def condor_margin(wing_width, credit) -> np.ndarray:
    """Defined-risk margin of one short iron condor, in points (times the multiplier for dollars).

    Parameters
    ----------
    wing_width : array_like
        Width of the wider wing (points, > 0).
    credit : array_like
        Opening credit received (points, >= 0).

    Returns
    -------
    ndarray
        ``max(wing_width - credit, 0)``: the most the condor can lose at expiry (Cboe Margin Manual:
        an iron condor is two credit spreads of which only one can finish in the money).
    """
    return np.maximum(np.asarray(wing_width, dtype=float) - np.asarray(credit, dtype=float), 0.0)
