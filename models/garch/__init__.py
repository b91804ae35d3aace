"""GJR-GARCH(1,1) with Hansen's skewed-t innovations: fit (through ``arch``), paths, model VIX.

The model, on daily SPX log returns in **percent** (``r_t = 100 ln(S_t / S_{t-1})``)::

    r_t     = mu + eps_t,            eps_t = sqrt(h_t) z_t,     z_t iid skew-t(eta, lambda)
    h_{t+1} = omega + (alpha + gamma 1{eps_t < 0}) eps_t^2 + beta h_t

(Glosten, Jagannathan & Runkle 1993, J. Finance 48(5); the recursion is the one of
``arch.univariate.GARCH(p=1, o=1, q=1)``). ``z`` is Hansen's standardised skewed Student t (Hansen
1994, Int. Economic Review 35(3); ``arch.univariate.SkewStudent``): zero mean, unit variance, tail
parameter ``eta > 2`` and skew ``lambda in (-1, 1)`` (``lambda < 0``: longer left tail), called
``lambda_`` here. Units: ``mu`` in % per day, ``h`` and ``omega`` in %^2 per day.

State convention (:mod:`alvh.models.base`): ``var = h_{t+1} * 252 / 1e4``, the annualised conditional
variance of the *next* day's return, known at today's close.

Persistence. The one-step mean of the variance is ``E_t[h_{t+2}] = omega + phi h_{t+1}`` with the
exact persistence ``phi = alpha + beta + gamma kappa_minus``, ``kappa_minus = E[z^2 1{z < 0}]``. For
a symmetric ``z``, ``kappa_minus = 1/2`` and ``phi`` is the familiar ``alpha + beta + gamma / 2`` (the
rule ``arch`` uses for its constraints and forecasts). With the skew-t, ``kappa_minus`` is computed
in closed form (:func:`skewt_lower_moment`) and every forecast here uses the exact ``phi``. Iterating
the one-step mean gives the multi-step forecast, the GARCH(1,1) form of Baillie & Bollerslev (1992,
J. Econometrics 52) with ``phi`` for ``alpha + beta``::

    E_t[h_{t+k}] = hbar + phi^(k-1) (h_{t+1} - hbar),    hbar = omega / (1 - phi)

The stationary ``h`` has a finite variance only if ``E[(beta + (alpha + gamma 1{z<0}) z^2)^2] < 1``
(Ling & McAleer 2002, J. Econometrics 106); SPX fits break that condition. Their stationary law is
then very right-skewed, with a mean far above its median (the calibration notes give numbers).

P versus Q. Paths are simulated under P with the fitted recursion. Prices use a variance risk
premium ``vrp`` (dimensionless): every Q-expected variance is ``vrp`` times the P forecast, so

    VIX_t^2 / 100^2 = vrp * (252 / 1e4) * (1/21) sum_{k=1}^{21} E_t[h_{t+k}] = A var_t + B

with 21 trading days for the VIX's 30 calendar days (CBOE VIX white paper), and the Q-dynamics
of ``h`` themselves are the P recursion (:meth:`GjrGarchModel.q_step`): the premium scales only
the map from the state to prices. This keeps VIX futures and options consistent with the model
VIX and is the simplest premium that reproduces the VIX level (Christoffersen, Heston & Jacobs
2013, RFS 26(8) develop the richer pricing-kernel version for GARCH). ``vrp`` is calibrated so that
the mean model VIX^2 on the real VIX window equals the mean real VIX^2.

Sources: Glosten, Jagannathan & Runkle (1993); Hansen (1994); Sheppard, ``arch`` documentation
(``arch_model``, ``GARCH``, ``SkewStudent``); Bollerslev & Wooldridge (1992) for the robust standard
errors ``arch`` reports by default.

Submodules: :mod:`alvh.models.garch.skewt` (Hansen's skewed t), :mod:`alvh.models.garch.recursion`
(the GJR recursion on draws and on observed returns), :mod:`alvh.models.garch.model`
(:class:`GjrGarchModel`, the units' constants) and :mod:`alvh.models.garch.calibration` (the fit
through ``arch`` and the variance risk premium).
"""

from alvh.models.garch.calibration import calibrate_gjr_garch, fit_gjr_garch
from alvh.models.garch.model import TRADING_DAYS, VIX_DAYS, GjrGarchModel
from alvh.models.garch.recursion import gjr_filter, simulate_gjr
from alvh.models.garch.skewt import (
    skewt_cdf,
    skewt_constants,
    skewt_lower_moment,
    skewt_pdf,
    skewt_ppf,
    skewt_rvs,
)

__all__ = [
    "TRADING_DAYS",
    "VIX_DAYS",
    "skewt_constants",
    "skewt_pdf",
    "skewt_cdf",
    "skewt_ppf",
    "skewt_rvs",
    "skewt_lower_moment",
    "simulate_gjr",
    "gjr_filter",
    "fit_gjr_garch",
    "calibrate_gjr_garch",
    "GjrGarchModel",
]
