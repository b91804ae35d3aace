"""Estimation of the regime chain: the statsmodels Markov-switching fit of daily SPX returns.

:class:`RegimeChainFit` (the fit, its smoothed probabilities and a classifier of other series)
and :func:`fit_regime_chain`. statsmodels is imported only when a fit runs.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from alvh.models.regimes.transition import _default_names


# ====================================================================== estimation
@dataclass
class RegimeChainFit:
    """The Markov-switching fit of daily SPX returns (regimes ordered by variance).

    Attributes
    ----------
    regime_names : tuple of str
    transition : ndarray of shape (R, R)
        ``P[i, j] = Pr(r_{t+1} = j | r_t = i)``: statsmodels' ``regime_transition[:, :, 0]``
        (indexed ``[to, from]``, left-stochastic) transposed, then reordered by variance.
    transition_se : ndarray of shape (R, R)
        Standard errors of ``transition`` (delta method on statsmodels' covariance for the
        implied last column).
    mean, mean_se : ndarray of shape (R,)
        Regime mean of the daily log return (percent per day).
    variance, variance_se : ndarray of shape (R,)
        Regime variance of the daily log return (percent^2 per day).
    expected_durations : ndarray of shape (R,)
        ``1 / (1 - P[r, r])`` in trading days.
    loglik, aic, bic : float
        statsmodels' ``llf``, ``aic``, ``bic``.
    n_obs, n_params : int
    smoothed_probabilities : pandas.DataFrame of shape (n_obs, R)
        Kim (1994) smoothed ``Pr(r_t = j | all data)``, indexed by the date of the return's end
        (or 0..n_obs-1 without dates), columns ``regime_names``.
    results : statsmodels MarkovSwitchingResults
        The raw fit (its regime order is statsmodels', not ours; ``order`` maps).
    order : ndarray of int, shape (R,)
        ``order[k]`` = statsmodels' index of our regime ``k``.
    """

    regime_names: tuple
    transition: np.ndarray
    transition_se: np.ndarray
    mean: np.ndarray
    mean_se: np.ndarray
    variance: np.ndarray
    variance_se: np.ndarray
    expected_durations: np.ndarray
    loglik: float
    aic: float
    bic: float
    n_obs: int
    n_params: int
    smoothed_probabilities: pd.DataFrame = field(repr=False)
    results: object = field(repr=False)
    order: np.ndarray = field(repr=False)

    @property
    def most_likely(self) -> pd.Series:
        """The regime with the largest smoothed probability each day (int8 labels)."""
        return pd.Series(self.smoothed_probabilities.to_numpy().argmax(axis=1).astype(np.int8),
                         index=self.smoothed_probabilities.index, name="regime")

    def classify(self, prices: pd.Series | np.ndarray) -> pd.DataFrame:
        """Kim-smoothed regime probabilities of another price series at the fitted parameters.

        Parameters
        ----------
        prices : pandas.Series or ndarray of shape (n,)
            Daily closes (e.g. SPX 2014-2018, or new data).

        Returns
        -------
        pandas.DataFrame of shape (n - 1, R)
            ``Pr(r_t = j | the series)`` for each return date, columns :attr:`regime_names`.
        """
        r, idx = _pct_log_returns(prices)
        from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

        mod = MarkovRegression(r, k_regimes=len(self.regime_names), trend="c", switching_variance=True)
        res = mod.smooth(self.results.params)
        probs = np.asarray(res.smoothed_marginal_probabilities)[:, self.order]
        return pd.DataFrame(probs, index=idx, columns=list(self.regime_names))

    def summary(self) -> str:
        """The chain's fit in lines of text: likelihood, criteria and each regime's mean, volatility and duration."""
        lines = [f"Markov-switching fit of daily SPX returns: {self.n_obs} returns, "
                 f"loglik {self.loglik:.2f}, AIC {self.aic:.2f}, BIC {self.bic:.2f}"]
        for k, name in enumerate(self.regime_names):
            vol = math.sqrt(self.variance[k] * 252.0)
            lines.append(f"  {name:<9} mean {self.mean[k]:+.4f}% ± {self.mean_se[k]:.4f} /day, variance "
                         f"{self.variance[k]:.4f} ± {self.variance_se[k]:.4f} %^2/day (vol {vol:.1f}%), "
                         f"duration {self.expected_durations[k]:.1f} days")
        lines.append("  transition P[from, to]:")
        for name, row in zip(self.regime_names, self.transition):
            lines.append(f"  {name:<9}" + "".join(f"{x:>11.6f}" for x in row))
        return "\n".join(lines)


def _pct_log_returns(prices) -> tuple[np.ndarray, pd.Index]:
    if isinstance(prices, pd.Series):
        s = prices.astype(float).dropna()
        x = s.to_numpy()
        idx = s.index[1:]
    else:
        x = np.asarray(prices, dtype=float)
        idx = pd.RangeIndex(1, x.size)
    if x.ndim != 1 or x.size < 30:
        raise ValueError(f"need a 1-D price series of at least 30 days, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or x.min() <= 0:
        raise ValueError("prices must be finite and > 0")
    return 100.0 * np.diff(np.log(x)), idx


def fit_regime_chain(prices: pd.Series | np.ndarray, k_regimes: int = 3, *,
                     regime_names: Sequence[str] | None = None, search_reps: int = 0,
                     seed: int = 0) -> RegimeChainFit:
    """Fit a Markov-switching mean/variance model to daily log returns with statsmodels.

    Parameters
    ----------
    prices : pandas.Series or ndarray of shape (n,)
        Daily closes; returns are ``100 diff(log(prices))`` (percent).
    k_regimes : {2, 3}
        Number of regimes.
    regime_names : sequence of str, optional
        Names in increasing order of variance; default calm/stressed(/crisis).
    search_reps : int, default 0
        statsmodels' random restarts (``fit(search_reps=...)``); 0 = its deterministic start.
    seed : int, default 0
        Seed for those restarts.

    Returns
    -------
    RegimeChainFit
        Regimes ordered by variance (calm < stressed < crisis).

    Raises
    ------
    ValueError
        ``k_regimes`` not 2 or 3, a bad price series, or a fit that did not produce finite
        estimates.

    Notes
    -----
    ``r_t = c_{S_t} + sigma_{S_t} e_t`` with a first-order Markov chain ``S_t``: Hamilton (1989)
    filter and likelihood, Kim (1994) smoother, maximised by statsmodels' EM then BFGS
    (``MarkovRegression(trend="c", switching_variance=True)``). statsmodels'
    ``regime_transition[i, j]`` is ``Pr(S_{t+1} = i | S_t = j)`` ([to, from], columns sum to 1);
    it is transposed here to the row-stochastic ``P[from, to]``.
    """
    if k_regimes not in (2, 3):
        raise ValueError(f"k_regimes must be 2 or 3, got {k_regimes}")
    names = _default_names(k_regimes) if regime_names is None else tuple(regime_names)
    if len(names) != k_regimes:
        raise ValueError(f"regime_names must have {k_regimes} names, got {len(names)}")
    r, idx = _pct_log_returns(prices)
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    mod = MarkovRegression(r, k_regimes=k_regimes, trend="c", switching_variance=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter; checked below
        kw: dict = {}
        if search_reps:
            kw["search_reps"] = search_reps
            if "rng" in inspect.signature(mod.fit).parameters:  # statsmodels >= 0.15
                kw["rng"] = np.random.default_rng(seed)
        res = mod.fit(**kw)
    params = np.asarray(res.params, dtype=float)
    if not np.all(np.isfinite(params)):
        raise ValueError("Markov-switching fit produced non-finite estimates")
    k = k_regimes
    names_sm = list(mod.param_names)
    const = np.array([params[names_sm.index(f"const[{i}]")] for i in range(k)])
    sig2 = np.array([params[names_sm.index(f"sigma2[{i}]")] for i in range(k)])
    order = np.argsort(sig2)
    cov = np.asarray(res.cov_params(), dtype=float)
    if cov.shape != (params.size, params.size) or not np.all(np.isfinite(np.diag(cov))):
        cov = np.full((params.size, params.size), np.nan)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))

    # statsmodels [to, from] -> P[from, to]
    rt = np.asarray(res.regime_transition)[:, :, 0]
    p_sm = rt.T
    # standard errors: free parameters are p[j->i] for to-regime i < k-1; the last is 1 - sum
    se_sm = np.full((k, k), np.nan)
    for j in range(k):  # from
        ids = [names_sm.index(f"p[{j}->{i}]") for i in range(k - 1)]
        for i in range(k - 1):
            se_sm[j, i] = se[ids[i]]
        sub = cov[np.ix_(ids, ids)]
        se_sm[j, k - 1] = math.sqrt(max(sub.sum(), 0.0)) if np.all(np.isfinite(sub)) else float("nan")
    transition = p_sm[np.ix_(order, order)]
    transition = transition / transition.sum(axis=1, keepdims=True)
    transition_se = se_sm[np.ix_(order, order)]
    mean = const[order]
    mean_se = np.array([se[names_sm.index(f"const[{i}]")] for i in order])
    var = sig2[order]
    var_se = np.array([se[names_sm.index(f"sigma2[{i}]")] for i in order])
    diag = np.diag(transition)
    durations = np.where(diag < 1.0, 1.0 / np.maximum(1.0 - diag, 1e-300), np.inf)
    probs = np.asarray(res.smoothed_marginal_probabilities)[:, order]
    smoothed = pd.DataFrame(probs, index=idx, columns=list(names))
    return RegimeChainFit(
        regime_names=names, transition=transition, transition_se=transition_se, mean=mean, mean_se=mean_se,
        variance=var, variance_se=var_se, expected_durations=durations, loglik=float(res.llf),
        aic=float(res.aic), bic=float(res.bic), n_obs=int(r.size), n_params=int(params.size),
        smoothed_probabilities=smoothed, results=res, order=order,
    )
