"""Pricing along paths: SPX options with a state-dependent skewed smile, VIX futures and calls.

Everything here is vectorised over paths: inputs are arrays of shape ``(n_paths,)`` (or anything
broadcastable), one value per path on the current day. Prices are in index points per unit of
underlying (multiply by the contract multiplier, 100 for SPX and VIX options, for dollars).
Submodules: :mod:`alvh.pricing.common` (the switch to the compiled kernels, :func:`as_model`),
:mod:`alvh.pricing.spx` (Black–Scholes, :class:`SpxSmile`, :func:`spx_option`,
:func:`strike_for_delta`) and :mod:`alvh.pricing.vix` (:class:`VixOptionTable`,
:class:`MarkovVixTable`, :func:`make_vix_table`).
"""

from __future__ import annotations

from alvh.pricing.common import _fast, as_model  # noqa: F401  (_fast: used by alvh.surface)
from alvh.pricing.spx import SpxSmile, black_scholes, spx_option, strike_for_delta
from alvh.pricing.vix import MarkovVixTable, VixOptionTable, _split_mass, make_vix_table  # noqa: F401

__all__ = [
    "black_scholes",
    "SpxSmile",
    "spx_option",
    "strike_for_delta",
    "VixOptionTable",
    "MarkovVixTable",
    "make_vix_table",
    "as_model",
]
