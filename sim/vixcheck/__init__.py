"""Checks of the VIX pricers against Monte Carlo under Q, and of the model VIX futures term structure.

Two diagnostics, for any :class:`alvh.models.base.PathModel` that defines :meth:`~alvh.models.base.PathModel.q_model`:

1. :func:`vix_table_vs_mc` -- the pricing table of :func:`alvh.pricing.make_vix_table` (exact CIR law
   for Heston and Bates, a Kushner-Dupuis Markov chain for SVCJ, GJR-GARCH and regime-switching
   Heston) against plain Monte Carlo of the model's own Q dynamics (its ``q_model()`` simulated from
   a given VIX level and regime). Under Heston and Bates the table is exact, so the comparison
   checks the Monte Carlo; for the chain it measures the approximation error.
2. :func:`futures_term_structure` -- the model VIX futures curve (from the same table) along
   stationary P paths: its slope, the share of days in contango and the roll yield, on "calm" days
   and on all days, with standard errors over paths.

Units: VIX, futures, strikes and call prices in VIX index points; expiries and maturities in
trading days (steps of ``dt = 1/252`` year); variance annualised; rates continuously compounded;
roll yields and returns as fractions per month (21 trading days). Randomness follows numpy's
SPEC 7: one root ``SeedSequence(seed)``, one child per start state (or per path chunk).

Submodules: :mod:`alvh.vixcheck.defaults` (default grids), :mod:`alvh.vixcheck.moments` (Q first
moments, control-variate sums), :mod:`alvh.vixcheck.tablecheck` (:func:`vix_table_vs_mc`) and
:mod:`alvh.vixcheck.termstructure` (:func:`futures_term_structure`).
"""

from __future__ import annotations

from alvh.vixcheck.defaults import DAYS_PER_MONTH, EXPIRIES, MONEYNESS, VIX_LEVELS
from alvh.vixcheck.moments import q_first_moments
from alvh.vixcheck.tablecheck import vix_table_vs_mc
from alvh.vixcheck.termstructure import futures_term_structure

__all__ = [
    "VIX_LEVELS",
    "EXPIRIES",
    "MONEYNESS",
    "DAYS_PER_MONTH",
    "q_first_moments",
    "vix_table_vs_mc",
    "futures_term_structure",
]
