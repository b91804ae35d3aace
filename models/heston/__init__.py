"""Heston stochastic-volatility model: parameters, QE path simulation, model VIX, reference prices.

The model (Heston 1993) under a measure M with drift ``drift``::

    dS_t / S_t = drift dt + sqrt(v_t) dW^S_t
    dv_t       = kappa (theta - v_t) dt + sigma sqrt(v_t) dW^v_t,   d<W^S, W^v> = rho dt

Paths are simulated under the real-world measure P (drift ``mu``); prices are computed under the
pricing measure Q, reached through Heston's market price of variance risk ``lam``::

    kappa_Q = kappa + lam,      theta_Q = kappa theta / (kappa + lam)

(Heston 1993, eq. 6; the risk premium is ``lam * v``, so ``kappa theta`` is the same under P and Q).
A negative ``lam`` makes Q-variance revert to a higher level, i.e. implied variance (VIX^2) above
expected realized variance.

Units: time in years, variance annualised (0.04 = 20% vol), rates continuously compounded.
Array order is ``(path, time)``.

Submodules: :mod:`alvh.models.heston.params` (:class:`HestonParams`, the Feller warning),
:mod:`alvh.models.heston.paths` (QE simulation), :mod:`alvh.models.heston.vix` (expected variance,
model VIX and its exact futures and options), :mod:`alvh.models.heston.cir` (the CIR transition law
and its quantile step), :mod:`alvh.models.heston.fourier` (European calls by Fourier inversion) and
:mod:`alvh.models.heston.model` (:class:`HestonModel`).
"""

from alvh.models.heston.cir import _cir_moments, _moment_matched, cir_quantile_step, cir_transition
from alvh.models.heston.fourier import gil_pelaez_call, heston_call_price
from alvh.models.heston.model import HestonModel
from alvh.models.heston.params import FellerConditionWarning, HestonParams
from alvh.models.heston.paths import qe_step, simulate_qe
from alvh.models.heston.vix import (
    VIX_TAU,
    expected_average_variance,
    model_vix,
    variance_from_vix,
    vix_call_exact,
    vix_coefficients,
    vix_futures_exact,
)

__all__ = [
    "VIX_TAU",
    "FellerConditionWarning",
    "HestonParams",
    "simulate_qe",
    "qe_step",
    "expected_average_variance",
    "vix_coefficients",
    "model_vix",
    "variance_from_vix",
    "cir_transition",
    "vix_futures_exact",
    "vix_call_exact",
    "heston_call_price",
    "gil_pelaez_call",
    "HestonModel",
    "cir_quantile_step",
]
