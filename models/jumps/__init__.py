"""Stochastic volatility with jumps: Bates (SVJ) and SVCJ path models, reference prices, calibration.

Two extensions of :mod:`alvh.models.heston` (same ``HestonParams`` for the diffusive part, same QE
scheme for it):

**Bates (1996)** -- lognormal jumps in the log price, independent of the variance::

    dS_t / S_{t-} = (mu - lam_j kbar) dt + sqrt(v_t) dW^S_t + (e^J - 1) dN_t,
    dv_t          = kappa (theta - v_t) dt + sigma sqrt(v_t) dW^v_t,      d<W^S, W^v> = rho dt,
    J ~ N(mu_j, sigma_j^2),   N Poisson with intensity lam_j,   kbar = E[e^J] - 1.

**SVCJ** (Duffie, Pan & Singleton 2000, who call it SVJJ; Eraker, Johannes & Polson 2003) --
simultaneous jumps in price and variance with one intensity ``lam_j``::

    dS_t / S_{t-} = (mu - lam_j kbar) dt + sqrt(v_t) dW^S_t + (e^J - 1) dN_t,
    dv_t          = kappa (theta - v_t) dt + sigma sqrt(v_t) dW^v_t + Z_v dN_t,
    Z_v ~ Exp(mean mu_v),   J | Z_v ~ N(mu_s + rho_j Z_v, sigma_s^2),
    kbar = E[e^J] - 1 = exp(mu_s + sigma_s^2 / 2) / (1 - rho_j mu_v) - 1     (needs rho_j mu_v < 1).

Measures. Paths are simulated under P with ``E_P[S_{t+dt} / S_t] = exp(mu dt)`` (the jump
compensator ``lam_j kbar`` is in the drift). Prices use Q: the diffusive variance follows Heston's
market price of variance risk (``kappa_q = kappa + lam``, ``theta_q = kappa theta / kappa_q``,
:class:`alvh.models.heston.HestonParams`), and the jump law under Q has its own parameters
(``lam_j_q, mu_j_q, sigma_j_q`` for Bates; ``lam_j_q, mu_s_q, sigma_s_q, mu_v_q, rho_j_q`` for SVCJ),
which default to the P values (no jump risk premium) unless given. Under Q the drift is ``r - q``.

Model VIX (both models affine). From the CBOE definition,
``VIX^2 = -(2 / tau) E_Q[ln(S_tau / F)]`` with ``tau = 30/365`` (CBOE VIX white paper;
Demeterfi, Derman, Kamal & Zou 1999), and Ito's formula for a jump-diffusion::

    VIX^2 / 100^2 = (1/tau) E_Q[int_0^tau v_s ds] + 2 lam_j_q (E_Q[e^J] - 1 - E_Q[J]).

The second term is the jump correction of the log contract (Carr & Wu 2009, RFS 22(3);
Duan & Yeh 2010, JEDC 34(11), for Bates-type price jumps; Lin 2007, J. Futures Markets 27(12),
and Zhu & Lian 2012, J. Futures Markets 32(2), for SVCJ).

Units: time in years, variance annualised, rates continuously compounded, log-jump sizes in log
points (``mu_j = -0.05`` is a -4.9% move), ``mu_v`` in annualised variance. Array order
``(path, time)``.

Submodules: :mod:`alvh.models.jumps.paths` (parameter checks and the QE + compound-Poisson path loop
both models share), :mod:`alvh.models.jumps.pricing` (characteristic functions and reference call
prices), :mod:`alvh.models.jumps.bates` (:class:`BatesModel`), :mod:`alvh.models.jumps.svcj`
(:class:`SvcjModel`), :mod:`alvh.models.jumps.likelihood` (the joint quasi-likelihoods of the
calibrations) and :mod:`alvh.models.jumps.calibration` (:func:`calibrate_bates`, :func:`calibrate_svcj`).
"""

from alvh.models.jumps.bates import BatesModel
from alvh.models.jumps.calibration import calibrate_bates, calibrate_svcj
from alvh.models.jumps.likelihood import KAPPA_Q_MIN
from alvh.models.jumps.pricing import (
    bates_call_price,
    bates_characteristic_function,
    svcj_call_price,
    svcj_characteristic_function,
)
from alvh.models.jumps.svcj import SvcjModel

__all__ = [
    "KAPPA_Q_MIN",
    "BatesModel",
    "SvcjModel",
    "bates_characteristic_function",
    "bates_call_price",
    "svcj_characteristic_function",
    "svcj_call_price",
    "calibrate_bates",
    "calibrate_svcj",
]
