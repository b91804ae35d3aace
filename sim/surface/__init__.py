"""SPX implied-volatility surfaces as functions of the simulated state, and Black–Scholes Greeks.

A surface answers one question, vectorised over paths: the Black implied volatility of an SPX European
option of forward log-moneyness ``k = ln(K / F)`` and maturity ``tau`` (years) given the model's
variance state ``var`` (annualised) and, for regime models, the regime; units: time in years,
variance annualised, rates and dividend yields continuously compounded, prices in index points.
Submodules: :mod:`alvh.surface.base` (the interface :class:`SpxSurface`, :func:`strip_total_variance`),
:mod:`alvh.surface.ssvi` (:class:`SsviSurface`, an SSVI smile anchored at the model's Q-expected total
variance, for any model), :mod:`alvh.surface.cos` (characteristic functions and the COS pricer
:func:`cos_call_prices` of Fang & Oosterlee 2008), :mod:`alvh.surface.implied` (:func:`implied_stdev`),
:mod:`alvh.surface.fourier` (:class:`FourierSurface`, the model's own smile for Heston, Bates and SVCJ),
:mod:`alvh.surface.repair` (filling and calendar repair of its table), :mod:`alvh.surface.factory`
(:func:`make_surface`), :mod:`alvh.surface.greeks` (:func:`bs_greeks`, :func:`surface_option`) and
:mod:`alvh.surface.benchmark` (:func:`benchmark_surface`).
"""

from __future__ import annotations

from alvh.pricing import _fast  # noqa: F401  (re-exported: alvh.surface._fast)
from alvh.surface.base import SpxSurface, _bisection_constants, strip_total_variance  # noqa: F401
from alvh.surface.benchmark import benchmark_surface
from alvh.surface.cos import FOURIER_MODELS, characteristic_function, cos_call_prices
from alvh.surface.factory import make_surface
from alvh.surface.fourier import FourierSurface, _q_variance_coefficients  # noqa: F401
from alvh.surface.greeks import Greeks, bs_greeks, surface_option
from alvh.surface.implied import _ln_otm_call, implied_stdev  # noqa: F401
from alvh.surface.ssvi import SsviSurface

__all__ = [
    "strip_total_variance",
    "FOURIER_MODELS",
    "characteristic_function",
    "cos_call_prices",
    "implied_stdev",
    "SpxSurface",
    "SsviSurface",
    "FourierSurface",
    "make_surface",
    "Greeks",
    "bs_greeks",
    "surface_option",
    "benchmark_surface",
]
