"""Risk and cost metrics across paths, each with a standard error or confidence interval.

Conventions: a *loss* is minus the P&L, so VaR and CVaR are positive numbers when the strategy
loses. ``level`` is the confidence level (0.95, 0.99): VaR_level is the level-quantile of the loss and
CVaR_level (expected shortfall) the mean loss beyond it.

Error estimates
---------------
* Means: sample standard deviation / sqrt(n).
* VaR: distribution-free confidence interval from order statistics (``scipy.stats.quantile_test``;
  Conover 1999, *Practical Nonparametric Statistics*, sec. 3.2).
* CVaR: ``CVaR = VaR + E[(L - VaR)^+] / (1 - level)`` (Rockafellar & Uryasev 2000, Theorem 1);
  its standard error from the influence function ``IF_i = VaR + (L_i - VaR)^+ / (1 - level) - CVaR``
  (asymptotic variance ``Var(IF)/n``; Manistre & Hancock 2005, "Variance of the CTE estimator",
  North American Actuarial Journal 9(2), eq. 9). Paired differences (hedged minus unhedged on
  the same paths) use the difference of the per-path influence values, so common random numbers
  shrink their error.
* Shares: Wilson score interval (``scipy.stats.binomtest(...).proportion_ci``).
* Ratios (hedge efficiency): delta method on the per-path influence values.

Pooled path-day estimators
--------------------------
Daily statistics pool every selected day of every path (``loss`` of shape ``(n_paths, n_days)``,
optionally restricted by a boolean ``mask`` of the same shape, e.g. the days of one regime). Days of
one path are dependent (volatility clustering, positions held across days), paths are independent,
so every standard error here is *clustered by path*: the estimator is written as a mean of
per-path-day influence values, these are summed within each path, and the variance is that of the
per-path sums (cluster-robust "sandwich" variance; Liang & Zeger 1986, "Longitudinal data analysis
using generalized linear models", Biometrika 73(1); Cameron & Miller 2015, "A practitioner's guide
to cluster-robust inference", J. Human Resources 50(2), sec. II.C; their ``G / (G - 1)``
small-sample factor comes from ``ddof=1``). Paths where the mask selects nothing
remain clusters with a zero sum (domain estimation; Lohr 2010, *Sampling: Design and Analysis*,
2nd ed., ch. 4).

* Pooled CVaR: the Rockafellar & Uryasev (2000) estimator on the pooled sample, influence values as
  above (Manistre & Hancock 2005), summed by path.
* Pooled VaR: the empirical quantile with a Woodruff (1952) interval, ``[Q(p - z s_p), Q(p + z s_p)]``
  where ``s_p`` is the path-clustered SE of the empirical CDF at the VaR (Woodruff 1952, "Confidence
  intervals for medians and other position measures", JASA 47; Francisco & Fuller 1991, "Quantile
  estimation with a complex survey design", Annals of Statistics 19(1)).
* Ratio of sums ``sum y / sum x`` over path-days (a cluster-sample ratio estimator): delta method,
  per-path influence ``(y_i - R x_i) / mean(x)`` with ``y_i``, ``x_i`` the path totals (Cochran 1977,
  *Sampling Techniques*, 3rd ed., ch. 6 and ch. 9A). A pooled mean is the ratio with ``x = 1``.

Every pooled estimator also returns its per-path influence values ``psi`` (shape ``(n_paths,)``,
mean zero), scaled so that ``SE = std(psi, ddof=1) / sqrt(n_paths)`` exactly as for per-path
samples: they can be differenced between strategies on the same paths (paired estimates) or fed to
:func:`ratio`. A single path (a historical replay) gives the estimate with NaN SE and CI.

Submodules: :mod:`alvh.metrics.estimate` (:class:`Estimate`, :data:`Z95`), :mod:`alvh.metrics.perpath`
(estimators on one value per path) and :mod:`alvh.metrics.pooled` (the pooled path-day estimators).
"""

from __future__ import annotations

from alvh.metrics.estimate import Z95, Estimate
from alvh.metrics.perpath import cvar_difference, mean, quantile, ratio, share, var_cvar
from alvh.metrics.pooled import (
    pooled_cvar_difference,
    pooled_mean,
    pooled_var_cvar,
    pooled_var_cvar_levels,
    ratio_of_sums,
)

__all__ = ["Estimate", "mean", "var_cvar", "cvar_difference", "share", "quantile", "ratio", "Z95",
           "pooled_var_cvar", "pooled_var_cvar_levels", "pooled_cvar_difference", "ratio_of_sums", "pooled_mean"]
