"""Compiled (numba) kernels for the pricing hot paths of the strategy engine.

Each kernel is a fused, elementwise loop doing what a numpy function of :mod:`alvh.surface` or
:mod:`alvh.pricing` does with many temporary arrays: the same formulas, in the same order of
operations, one element at a time; the numpy code stays the reference implementation, the public
functions dispatch here when :data:`ENABLED` is true (the default) and fall back to numpy for
anything a kernel does not cover, and tests/test_fastprice.py compares every kernel with its
reference to 1e-10 relative. The kernels are switched off by the environment variable
``ALVH_NUMPY_REFERENCE=1`` (read once, by :mod:`alvh.switches`; the callers then never import numba),
by ``alvh.fastprice.ENABLED = False`` at run time, or by the context manager :func:`numpy_reference`
(the switch lives in this package module itself, where the callers read it). Submodules:
:mod:`alvh.fastprice.arrays` (:func:`prepare`, :func:`finish`), :mod:`alvh.fastprice.jit` (signatures,
:func:`borrow`), :mod:`alvh.fastprice.scalar` (scalar helpers, :func:`ndtr`, :func:`erfcx`),
:mod:`alvh.fastprice.surfaces` (Fourier and SSVI surface kernels), :mod:`alvh.fastprice.strikes` (the
delta-strike search), :mod:`alvh.fastprice.blackscholes` (Black–Scholes, implied volatility) and
:mod:`alvh.fastprice.vix` (VIX table lookups).
"""

from __future__ import annotations

import contextlib

from alvh import jitcache

jitcache.check()      # before any kernel is compiled or loaded from numba's cache (alvh.jitcache)

from alvh.fastprice.arrays import finish, prepare
from alvh.fastprice.blackscholes import (_implied_stdev, _ln_otm_call, black_scholes, implied_stdev,  # noqa: F401
                                         ln_otm_call)
from alvh.fastprice.jit import borrow
from alvh.fastprice.scalar import _at, _bs_delta, _bs_pre, _nmax, _nmin, _npow, erfcx, ndtr  # noqa: F401
from alvh.fastprice.strikes import (BISECTION_EXACT_STEPS, _delta_at, _delta_strike,  # noqa: F401
                                    strike_for_delta_fourier, strike_for_delta_ssvi)
from alvh.fastprice.surfaces import (FOURIER_PARAMS, _atm_tv, _fourier_smile, _fourier_state,  # noqa: F401
                                     _fourier_w, _ssvi_w, atm_total_variance, fourier_total_variance,
                                     spx_option_fourier, spx_option_ssvi)
from alvh.fastprice.vix import GUIDE_BUCKETS, _locate, locate_guide, strike_index, vix_call, vix_futures  # noqa: F401
from alvh.switches import NUMPY_REFERENCE

__all__ = [
    "ENABLED",
    "numpy_reference",
    "active",
    "prepare",
    "finish",
    "ndtr",
    "erfcx",
    "fourier_total_variance",
    "atm_total_variance",
    "spx_option_fourier",
    "spx_option_ssvi",
    "strike_for_delta_fourier",
    "strike_for_delta_ssvi",
    "black_scholes",
    "ln_otm_call",
    "implied_stdev",
    "vix_call",
    "vix_futures",
    "strike_index",
    "locate_guide",
    "borrow",
    "FOURIER_PARAMS",
    "BISECTION_EXACT_STEPS",
    "GUIDE_BUCKETS",
]


#: Use the compiled kernels (``False``: the numpy reference everywhere).
ENABLED = not NUMPY_REFERENCE


def active() -> bool:
    """Whether the compiled kernels are in use now."""
    return ENABLED


@contextlib.contextmanager
def numpy_reference(on: bool = True):
    """Run the enclosed code on the numpy reference (``on=True``) or on the kernels (``on=False``)."""
    global ENABLED
    old = ENABLED
    ENABLED = not on
    try:
        yield
    finally:
        ENABLED = old
