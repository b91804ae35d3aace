"""Markov-modulated Heston model: a daily regime chain switching the Heston parameters.

The model
---------
A hidden regime ``r_t`` in ``0..R-1`` (``R`` = 2 or 3: calm, stressed, crisis) follows a Markov
chain with a per-step (daily, ``h = 1/252`` year) transition matrix
``P[i, j] = Pr(r_{t+1} = j | r_t = i)`` (Hamilton 1989). During the step from day ``t`` to day
``t + 1`` the regime in force is ``r_{t+1}``: **the regime switches at the start of a step**, then
SPX and its variance move for one day under that regime's Heston dynamics (Heston 1993)::

    dS / S = mu_r dt + sqrt(v) dW^S,    dv = kappa_r (theta_r - v) dt + sigma_r sqrt(v) dW^v,
    d<W^S, W^v> = rho_r dt,

simulated with Andersen's (2008) QE step and martingale correction
(:func:`alvh.models.heston.qe_step`, called with per-path parameter arrays gathered by regime). The
variance is continuous across a switch: only its drift and diffusion change. This is the same
labelling as Hamilton's filter, where the return ending on day ``t`` is drawn under ``S_t``.

Measures
--------
Each regime carries Heston's market price of variance risk ``lam_r``:
``kappa_Q,r = kappa_r + lam_r``, ``theta_Q,r = kappa_r theta_r / kappa_Q,r`` (Heston 1993, eq. 6).
The regime chain itself is assumed to have **the same law under Q as under P** (no premium for
regime-switch risk): the 30-day VIX integrates the switching risk through the same ``P`` matrix.
A premium on switching would need option data across regimes to identify, which the bundled data
(VIX close only) cannot give.

Model VIX
---------
``VIX_t^2 / 100^2 = E_Q[(1/tau) int_t^{t+tau} v_s ds | v_t = v, r_t = r]`` with
``tau = 30/365`` (CBOE white paper), which is affine in ``v``:
``VIX = 100 sqrt(A[r] v + B[r])``. The expectation follows the linear recursion for
``M_k(j) = E_Q[v_{t+kh} 1{r_{t+k} = j}]`` and ``p_k(j) = Pr(r_{t+k} = j)``
(the mean recursion of a Markov-modulated affine process, cf. Elliott, Siu & Chan 2007; it is
Hamilton's 1989 prediction step applied to the first moment)::

    p_{k+1} = P^T p_k                                         (switch at the start of the step)
    M_{k+1}(j) = theta_Q,j (1 - e_j) p_{k+1}(j) + e_j (P^T M_k)(j),   e_j = exp(-kappa_Q,j h)

and within each step the CIR mean ``theta_j + (m - theta_j) exp(-kappa_j u)`` (Cox, Ingersoll &
Ross 1985) is integrated **exactly** over ``u`` in ``[0, h]``; the last, fractional step of the
window (``tau / h = 20.71`` trading days) is integrated over its fraction. So ``A, B`` are the
exact Q-expectation for this discrete-switching model, and with identical regimes they equal the
Heston coefficients of :func:`alvh.models.heston.vix_coefficients` to rounding.
:meth:`RegimeSwitchingModel.atm_total_variance` is the same integral for any horizon.

Time step
---------
The regime chain is estimated on daily data and is defined per step of ``h = 1/252`` year.
:meth:`RegimeSwitchingModel.simulate` refuses any other ``dt`` (``ValueError``): a fractional
power of a stochastic matrix need not be stochastic (the embedding problem), so the model does not
pretend to know intraday switching. :meth:`RegimeSwitchingModel.regime_transition` accepts whole
multiples of ``h`` (``P^n``).

Estimation (:func:`calibrate_regimes`)
--------------------------------------
1. The chain: statsmodels' ``MarkovRegression`` (Hamilton 1989 filter, Kim 1994 smoother, ML by
   EM then BFGS) on daily SPX log returns in percent with switching mean and switching variance,
   preferably on the long 1999-2018 SPX sample, which contains 2000-2002 and 2008. statsmodels and
   not hmmlearn: statsmodels is already a project dependency, gives the exact Hamilton likelihood
   with its standard errors (``bse``), AIC/BIC, expected durations and Kim-smoothed probabilities,
   and works with dated pandas series; hmmlearn is an EM-only HMM library without standard errors
   or information criteria, and one more dependency.
2. The per-regime Heston parameters (see :func:`calibrate_regimes`, Notes): ``theta_r`` and
   ``mu_r`` from the regime's return variance and mean; common ``kappa`` and ``rho`` and a vol of
   variance ``sigma_r`` proportional to ``sqrt(theta_r)`` (the same Feller ratio in every regime)
   from the one-regime joint SPX+VIX QMLE of :func:`alvh.models.calibration.calibrate_heston` on the
   2014-2018 window (the option-implied-state approach of Aït-Sahalia & Kimmel 2007); one common
   variance risk premium ``lam`` that matches the window's mean ``VIX^2`` given its smoothed
   regime path.

Units: time in years, variance annualised, VIX in points, array order ``(path, time)``.

Submodules: :mod:`alvh.models.regimes.transition` (the daily step, default names, transition checks,
stationary law), :mod:`alvh.models.regimes.coefficients` (the expected integrated variance and VIX
coefficients), :mod:`alvh.models.regimes.model` (:class:`RegimeSwitchingModel`),
:mod:`alvh.models.regimes.estimation` (:class:`RegimeChainFit`, :func:`fit_regime_chain`) and
:mod:`alvh.models.regimes.calibration` (:func:`calibrate_regimes`).
"""

from alvh.models.regimes.calibration import calibrate_regimes
from alvh.models.regimes.coefficients import regime_integral_coefficients
from alvh.models.regimes.estimation import RegimeChainFit, fit_regime_chain
from alvh.models.regimes.model import RegimeSwitchingModel
from alvh.models.regimes.transition import DEFAULT_REGIME_NAMES, STEP_DT, stationary_distribution

__all__ = [
    "STEP_DT",
    "DEFAULT_REGIME_NAMES",
    "RegimeSwitchingModel",
    "RegimeChainFit",
    "fit_regime_chain",
    "stationary_distribution",
    "regime_integral_coefficients",
    "calibrate_regimes",
]
