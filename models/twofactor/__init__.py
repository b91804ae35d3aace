"""Two-factor variance model: a fast Heston variance reverting to a slow, stochastic central tendency.

The model
---------
Under P (time in years, variance annualised)::

    dS / S = (mu - lam_v E[e^Z - 1]) dt + sqrt(v) dW^S + (e^Z - 1) dN,
    dv     = kappa (m_t - v) dt + sigma (m_t / theta_m)^beta sqrt(v) dW^v + J dN,   d<W^S, W^v> = rho dt,
    dm     = kappa_m (theta_m - m) dt + sigma_m sqrt(m) dZ  (independent of W^S, W^v, N),

the "double mean-reverting" model of Gatheral (2008, "Consistent modeling of SPX and VIX options",
Bachelier Congress) and the stochastic central tendency model that Mencía & Sentana (2013,
"Valuation of VIX derivatives", J. Financial Economics 108, sec. 2) find fits VIX futures and options
best among the one- and two-factor models they test. A one-factor Heston model must use one speed
for both the fast daily mean reversion of the VIX and the slow term structure of its futures; here
``kappa`` (days to weeks) and ``kappa_m`` (a year or more) split the two. Two additions, each a
measured need of the scorecard: the vol of variance rises with the level by the elasticity ``beta``
(without it the model VVIX falls as the VIX rises, while the real one rises), and the variance jumps
by ``J = jump_min_v + Exp(mu_v)`` at the times of a Poisson process ``N`` of rate ``lam_v`` (without
them the largest one-day VIX rise in 35 simulated years is about 7 points, against the real 24.9),
and the SPX falls with it by ``Z = mu_s + rho_j J + sigma_s eps`` (the co-jumps of Duffie, Pan &
Singleton 2000's SVCJ: a VIX spike comes with an SPX drop, as on 2018-02-05).

The slow factor on a chain
--------------------------
The central tendency ``m`` is carried on ``n_levels`` levels (the engine's regime label), a
continuous-time birth-death chain whose generator matches the CIR drift and variance of ``m`` at
every interior level (Kushner & Dupuis 2001, "Numerical Methods for Stochastic Control Problems in
Continuous Time", sec. 5.1, locally consistent chains): with ``d+``, ``d-`` the distances to the
next level up and down, the up and down rates ``u, l`` solve::

    u d+ - l d- = kappa_m (theta_m - m),     u d+^2 + l d-^2 = sigma_m^2 m,

(at the end levels, the drift alone towards the inside). The per-day transition matrix is
``expm(G / 252)``. The levels are the mid-quantiles ``(i + 1/2) / n`` of the stationary gamma law
of ``m`` (Cox, Ingersoll & Ross 1985, eq. 20: shape ``2 kappa_m theta_m / sigma_m^2``, scale
``sigma_m^2 / (2 kappa_m)``). Given its level the model is the Markov-modulated Heston model of
:mod:`alvh.models.regimes` with one ``kappa, rho, mu, lam``, ``theta_r = m_r`` and
``sigma_r = sigma (m_r / theta_m)^beta``; so its paths (Andersen's QE step, the jumps added at the
end of a step), its VIX, its VIX futures and options (:class:`alvh.pricing.MarkovVixTable`: a Markov
chain on level x variance under Q, with this model's :meth:`TwoFactorModel.q_step`) and both engines
are those of the regime model.

Measures
--------
The market price of fast-variance risk ``lam`` gives ``kappa_Q = kappa + lam`` and
``theta_Q,r = kappa m_r / kappa_Q`` (Heston 1993, eq. 6, per level); the chain of ``m`` and the jumps
have the same law under Q as under P (no premium for level or jump risk: the bundled data hold no
option prices that could identify one). Under Q the central tendency is then ``kappa m / kappa_Q``: a
CIR with ``theta_m kappa / kappa_Q`` and ``sigma_m sqrt(kappa / kappa_Q)``. The model VIX is
``VIX^2 / 100^2 = E_Q[(1/tau) int v ds] + 2 lam_v E[e^Z - 1 - Z]`` (the SPX jumps' share, Carr & Wu
2009, eq. 4), the regime model's exact expectation with the Q mean of ``v`` reverting to
``theta_Q,r + lam_v E[J] / kappa_Q`` (the jumps' drift).

Estimation (:func:`calibrate_two_factor`)
-----------------------------------------
0. **Jumps** on the scenario's window (:func:`variance_jumps`): peaks over threshold of the daily
   rise of ``(VIX/100)^2`` from a VIX below 30, converted to variance units by the VIX coefficient
   ``a`` of each candidate ``kappa_Q``; the SPX's move on those days by least squares on the rise
   (:func:`spx_co_jumps`). The model VIX then holds the SPX jumps' ``2 lam_v E[e^Z - 1 - Z]`` (Carr &
   Wu 2009, eq. 4), and the P target below their ``lam_v E[Z^2]`` of realised variance.
1. **Q** from the real VIX futures, VVIX and VIX6M (bundled Cboe data, 2008-01-02 .. 2024-12-31,
   every 5th trading day): on each day the level ``r`` is the one whose model VIX6M, given the day's
   VIX, is nearest the real VIX6M, and ``v`` follows from the VIX; the model's futures M1..M7 at
   their real trading days to settlement (:mod:`alvh.expiries`; counted to the settlement day's
   close, half a session after the opening quotation that settles the contract) and its VVIX are
   compared with the real ones. Least squares (scipy ``least_squares``, trust region reflective) on
   the residuals ``F_model - F_real`` (vol points, 7 per day) and
   ``(VVIX_model - VVIX_real) / VVIX_SCALE`` (6 points), over the six
   ``log kappa_Q, log sigma, log kappa_m, log theta_mQ, log sigma_mQ, beta``. Standard errors from
   the Jacobian, ``s^2 (J'J)^-1``; the days are autocorrelated, so they understate the uncertainty.
   The model VVIX is Cboe's formula on a continuum of 30-day VIX options,
   ``VVIX^2 T = 2 (ln F - E_Q[ln VIX_T])`` with ``T = 30/365`` (the log contract of Demeterfi,
   Derman, Kamal & Zou 1999, eq. 26, which Cboe's sum discretises; :func:`model_vvix`).
2. **P** on the scenario's SPX/VIX window: ``rho`` is the sample correlation of the daily SPX log
   return with the daily change of ``VIX^2`` on the days without a jump (within a level and without
   a jump, ``dVIX^2 = a dv``, so the two correlate with ``rho``; a window with fewer than 5 jump days
   gets no SPX co-jump); ``kappa`` makes the P-stationary mean of ``v``
   (``sum_r pi_r m_r + lam_v E[J] / kappa``) equal the window's realised variance (mean squared daily
   log return x 252), so the model's variance risk premium is the real one on average
   (``p_target="realized"``, the default; with ``"vix2"`` it matches the window's mean ``VIX^2``
   instead, which leaves the P variance close to the Q variance); ``lam = kappa_Q - kappa``; ``mu``
   from the mean log return plus half the realised variance. With one P parameter the two targets
   cannot both hold: given the Q fit, ``E_P[VIX^2] = a E_P[v] + b`` on average, and the real pair
   needs a larger ``b`` than the fitted Q gives.

Submodules
----------
:mod:`alvh.models.twofactor.chain` (the central tendency's chain, the horizons' constants),
:mod:`alvh.models.twofactor.model` (:class:`TwoFactorModel`), :mod:`alvh.models.twofactor.qprices`
(VIX futures, expected log VIX and VVIX under Q), :mod:`alvh.models.twofactor.realdays` (the real
days of the Q fit, their levels), :mod:`alvh.models.twofactor.jumpstats` (the jumps read off the
window) and :mod:`alvh.models.twofactor.calibration` (:func:`calibrate_two_factor`).
"""

from alvh.models.twofactor.calibration import VVIX_SCALE, _q_model, calibrate_two_factor
from alvh.models.twofactor.chain import N_LEVELS, VIX3M_TAU, VIX6M_TAU, central_tendency_chain
from alvh.models.twofactor.jumpstats import JUMP_FROM_BELOW_VIX, JUMP_THRESHOLD_VIX2, spx_co_jumps, variance_jumps
from alvh.models.twofactor.model import TwoFactorModel
from alvh.models.twofactor.qprices import QExpectations, VVIX_STEPS, model_vvix, q_chain, q_expectations, vix2_laplace
from alvh.models.twofactor.realdays import filter_levels, q_days

__all__ = ["N_LEVELS", "TwoFactorModel", "central_tendency_chain", "q_chain", "q_expectations", "vix2_laplace", "model_vvix",
           "calibrate_two_factor", "filter_levels", "q_days", "variance_jumps", "spx_co_jumps", "VIX3M_TAU",
           "VIX6M_TAU", "VVIX_STEPS", "QExpectations", "VVIX_SCALE", "JUMP_THRESHOLD_VIX2", "JUMP_FROM_BELOW_VIX"]
