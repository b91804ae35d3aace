"""Calibration of the Markov-modulated Heston model: the chain on SPX returns, the Heston parts on SPX+VIX.

The Newey-West standard error, the window's mean model ``VIX^2`` given a regime path, and
:func:`calibrate_regimes`, which assembles the model and its fit report.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from alvh.models.base import FitReport
from alvh.models.heston import VIX_TAU, FellerConditionWarning, HestonParams
from alvh.models.regimes.coefficients import _build_tables, _coefficients_from_tables
from alvh.models.regimes.estimation import fit_regime_chain
from alvh.models.regimes.model import RegimeSwitchingModel
from alvh.models.regimes.transition import STEP_DT


def _newey_west_se_of_mean(x: np.ndarray, lags: int | None = None) -> float:
    """Standard error of the mean of a serially dependent series (Newey & West 1987, Bartlett kernel)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    if lags is None:
        lags = int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))
    d = x - x.mean()
    lrv = d @ d / n
    for k in range(1, lags + 1):
        lrv += 2.0 * (1.0 - k / (lags + 1.0)) * (d[k:] @ d[:-k]) / n
    return math.sqrt(max(lrv, 0.0) / n)


def _path_mean_vix2(lam, kappa, theta, transition, reg, h) -> float:
    """Mean over a fixed regime path of ``E_P[VIX_t^2 | regime path]`` (affine in v, so exact).

    ``E[v_{t+1} | path] = theta_j + (E[v_t | path] - theta_j) exp(-kappa_j h)`` with ``j = reg[t+1]``,
    started at ``theta[reg[0]]``; ``VIX_t^2 = a[reg_t] E[v_t] + b[reg_t]`` with the Q coefficients.
    """
    kq = kappa + lam
    thq = kappa * theta / kq
    n_full = int(math.floor(VIX_TAU / h + 1e-9))
    tab = _build_tables(n_full, kq, thq, transition, h)
    a, b = _coefficients_from_tables(tab, np.asarray(n_full), np.asarray(VIX_TAU - n_full * h), kq, thq, None)
    a, b = a / VIX_TAU, b / VIX_TAU
    e = np.exp(-kappa * h)
    m = np.empty(reg.size)
    m[0] = theta[reg[0]]
    for t in range(reg.size - 1):
        j = reg[t + 1]
        m[t + 1] = theta[j] + (m[t] - theta[j]) * e[j]
    return float(np.mean(a[reg] * m + b[reg]))


def calibrate_regimes(
    spx,
    vix,
    dates=None,
    k_regimes: int = 3,
    dt: float = STEP_DT,
    regime_spx=None,
    *,
    regime_dates=None,
    regime_names: Sequence[str] | None = None,
    heston=None,
    search_reps: int = 0,
) -> tuple[RegimeSwitchingModel, FitReport]:
    """Calibrate the Markov-modulated Heston model: the chain on SPX returns, Heston parts on SPX+VIX.

    Parameters
    ----------
    spx, vix : ndarray or pandas.Series of shape (n,)
        Aligned daily SPX closes (points) and VIX closes (points), e.g. 2014-2018.
    dates : array_like of datetime64, shape (n,), optional
        Dates of ``spx``/``vix``; default the index of ``spx`` when it is a dated Series. Needed to
        align ``regime_spx``.
    k_regimes : {2, 3}, default 3
    dt : float, default 1/252
        Must be 1/252: the chain is daily.
    regime_spx : pandas.Series, or tuple (dates, closes), or ndarray with ``regime_dates``, optional
        A longer dated SPX series for the regime chain, e.g. 1999-2018
        (``arch.data.sp500.load()['Adj Close']``), which contains 2000-2002 and 2008; the
        2014-2018 window alone has almost no crisis days. It must contain every window date
        (and the day before the first). Default: ``spx`` itself.
    regime_dates : array_like of datetime64, optional
        Dates of ``regime_spx`` when it is a plain array.
    regime_names : sequence of str, optional
    heston : alvh.models.calibration.HestonCalibration, optional
        A finished :func:`alvh.models.calibration.calibrate_heston` fit of the same window (saves its
        ~2 s); computed when not given.
    search_reps : int, default 0
        Random restarts of the statsmodels fit.

    Returns
    -------
    model : RegimeSwitchingModel
        With ``model.chain_fit`` (:class:`RegimeChainFit`: smoothed probabilities and most likely
        regime per day of the chain's sample), ``regime0`` = most likely regime on the last day
        of the window and ``v0`` its VIX-implied variance.
    report : FitReport
        ``loglik``, ``n_obs``, ``n_params`` (hence AIC/BIC) are statsmodels' Markov-switching fit;
        ``params``/``stderr`` hold every model parameter; ``notes`` the choices, the expected
        durations and the window fit.

    Raises
    ------
    ValueError
        Bad shapes or values, ``dt != 1/252``, ``k_regimes`` not 2 or 3, ``regime_spx`` without
        dates to align, a window date missing from ``regime_spx``, or no variance risk premium
        that matches the window's mean VIX^2.

    Notes
    -----
    Why statsmodels for the chain (and not hmmlearn): see the module docstring.

    Per-regime Heston parameters (P), with ``s_r`` and ``c_r`` the Markov-switching variance and
    mean of the daily log return in regime ``r`` (percent units converted to years):

    - ``theta_r = 252 s_r`` and ``mu_r = 252 c_r + theta_r / 2`` (the QE step's martingale
      correction makes ``E[dS/S] = mu dt``). With a common ``kappa`` the stationary mean of ``v``
      is then exactly ``sum_r pi_r theta_r``, the Markov-switching model's unconditional return
      variance (sum the recursion of :func:`regime_integral_coefficients` over ``j``), although
      ``v`` lags each switch by a half-life ``ln 2 / kappa``.
    - ``kappa`` and ``rho`` common, from :func:`alvh.models.calibration.calibrate_heston` on the
      SPX+VIX window (joint QMLE, Aït-Sahalia & Kimmel 2007): the speed at which the VIX-implied
      variance reverts and the leverage correlation are the two things one regime's VIX path
      identifies well.
    - ``sigma_r = sigma_H sqrt(theta_r / theta_H)`` from that fit's ``(sigma_H, theta_H)``: the
      same Feller ratio ``2 kappa theta_r / sigma_r^2`` in every regime, i.e. the same relative
      variance noise, so a crisis regime's variance (and VIX) moves as much in relative terms as
      the window's did. A regime-aware QMLE of ``kappa, sigma, rho, lam`` given the smoothed regime
      path was tried and rejected: with ``theta_r`` from 1999-2018 it drives ``kappa`` and
      ``kappa_Q`` to 0 (the window's VIX-implied variance cannot revert to the long-sample levels).

    The variance risk premium (Q): one ``lam`` for all regimes (``kappa_Q = kappa + lam``,
    ``theta_Q,r = kappa theta_r / kappa_Q``; Heston 1993, eq. 6), chosen so that the mean over the
    window of the model's ``E[VIX_t^2 | smoothed regime path]`` equals the mean observed
    ``VIX_t^2`` (VIX^2 is affine in ``v``, so that expectation is an exact recursion; one moment,
    one parameter, solved by Brent's method). Its standard error is the Newey-West (1987)
    standard error of the mean ``VIX^2`` divided by the moment's slope in ``lam``, conditional on
    the other parameters. The regime chain has the same law under Q.
    """
    from scipy import optimize

    from alvh.models.calibration import calibrate_heston

    if abs(float(dt) - STEP_DT) > 1e-12:
        raise ValueError(f"dt must be 1/252: the regime chain is estimated and simulated daily, got {dt}")
    if k_regimes not in (2, 3):
        raise ValueError(f"k_regimes must be 2 or 3, got {k_regimes}")
    if dates is None and isinstance(spx, pd.Series) and isinstance(spx.index, pd.DatetimeIndex):
        dates = spx.index
    spx_a = np.asarray(spx, dtype=float)
    vix_a = np.asarray(vix, dtype=float)
    if spx_a.ndim != 1 or spx_a.shape != vix_a.shape:
        raise ValueError(f"spx and vix must be 1-D of equal length, got {spx_a.shape}, {vix_a.shape}")
    if spx_a.size < 60:
        raise ValueError(f"need at least 60 aligned daily observations, got {spx_a.size}")
    if not (np.all(np.isfinite(spx_a)) and np.all(np.isfinite(vix_a)) and spx_a.min() > 0 and vix_a.min() > 0):
        raise ValueError("SPX and VIX closes must be finite and > 0")
    if dates is not None:
        dates = pd.DatetimeIndex(dates)
        if dates.size != spx_a.size:
            raise ValueError(f"dates must have one entry per observation ({spx_a.size}), got {dates.size}")

    # 1. the regime chain
    if regime_spx is None:
        chain = fit_regime_chain(pd.Series(spx_a, index=dates) if dates is not None else spx_a, k_regimes,
                                 regime_names=regime_names, search_reps=search_reps)
        ml = chain.most_likely.to_numpy()
        reg = np.concatenate([ml[:1], ml])          # the first day has no return: its successor's regime
        chain_sample = "the calibration window itself"
    else:
        if dates is None:
            raise ValueError("dates (or a dated spx Series) are needed to align regime_spx with the SPX/VIX window")
        if isinstance(regime_spx, tuple) and len(regime_spx) == 2 and regime_dates is None:
            regime_dates, regime_spx = regime_spx
        if not isinstance(regime_spx, pd.Series):
            if regime_dates is None:
                raise ValueError("regime_spx needs dates to align it with the window: pass a dated pandas Series, "
                                 "a (dates, closes) tuple, or regime_dates=")
            values = np.asarray(regime_spx, dtype=float)
            rd = pd.DatetimeIndex(regime_dates)
            if rd.size != values.size:
                raise ValueError(f"regime_dates must have one entry per regime_spx close ({values.size}), got {rd.size}")
            regime_spx = pd.Series(values, index=rd)
        elif not isinstance(regime_spx.index, pd.DatetimeIndex):
            raise ValueError("regime_spx must be indexed by dates (or pass regime_dates=)")
        missing = dates.difference(regime_spx.astype(float).dropna().index[1:])
        if missing.size:
            raise ValueError(f"regime_spx must cover every date of the SPX/VIX window (with the day before); "
                             f"{missing.size} missing, first {missing[0].date()}")
        chain = fit_regime_chain(regime_spx, k_regimes, regime_names=regime_names, search_reps=search_reps)
        reg = chain.most_likely.reindex(dates).to_numpy()
        idx = chain.smoothed_probabilities.index
        chain_sample = f"SPX {idx[0].date()} .. {idx[-1].date()}"
    reg = reg.astype(np.int64)
    names = chain.regime_names

    # 2. Heston parts on the window
    if heston is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)
            heston = calibrate_heston(spx_a, vix_a, dt=dt)
    hp = heston.params
    theta = chain.variance * 252.0 / 1e4
    mu = chain.mean * 252.0 / 100.0 + 0.5 * theta
    kappa = np.full(k_regimes, hp.kappa)
    sigma = hp.sigma * np.sqrt(theta / hp.theta)
    rho = np.full(k_regimes, hp.rho)

    # 3. the variance risk premium by the mean-VIX^2 moment on the window's regime path
    target = float(np.mean((vix_a / 100.0) ** 2))
    kap = float(hp.kappa)

    def moment(lam):
        return _path_mean_vix2(np.full(k_regimes, lam), kappa, theta, chain.transition, reg, STEP_DT) - target

    lo, hi = -kap * (1.0 - 1e-6), 50.0 * kap
    f_lo, f_hi = moment(lo), moment(hi)
    if not f_lo > 0 > f_hi:
        raise ValueError(
            f"no variance risk premium lam in ({lo:.4g}, {hi:.4g}) matches the window's mean VIX^2 {target:.5f} "
            f"(model range {f_hi + target:.5f} .. {f_lo + target:.5f}); the regime variances are too low for "
            f"the window's VIX: estimate the chain on a longer sample (regime_spx) or with k_regimes=3"
        )
    lam = float(optimize.brentq(moment, lo, hi, xtol=1e-12, rtol=1e-12))
    step = 1e-4 * max(abs(lam), 1.0)
    slope = (moment(lam + step) - moment(lam - step)) / (2.0 * step)
    lam_se = _newey_west_se_of_mean((vix_a / 100.0) ** 2) / abs(slope)

    # 4. the model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        params = [HestonParams(v0=float(theta[r]), kappa=kap, theta=float(theta[r]), sigma=float(sigma[r]),
                               rho=float(rho[r]), mu=float(mu[r]), lam=lam) for r in range(k_regimes)]
        tmp = RegimeSwitchingModel(params, chain.transition, names)
    regime0 = int(reg[-1])
    v_last = float(tmp.var_from_vix(vix_a[-1], regime0))
    model = RegimeSwitchingModel(params, chain.transition, names, v0=v_last, regime0=regime0)
    model.chain_fit = chain

    # 5. the report
    p_out: dict = {}
    se_out: dict = {}
    for r, nm in enumerate(names):
        p_out[f"theta[{nm}]"] = float(theta[r])
        se_out[f"theta[{nm}]"] = float(chain.variance_se[r] * 252.0 / 1e4)
        p_out[f"mu[{nm}]"] = float(mu[r])
        se_out[f"mu[{nm}]"] = float(chain.mean_se[r] * 252.0 / 100.0)
        p_out[f"sigma[{nm}]"] = float(sigma[r])
        se_out[f"sigma[{nm}]"] = float(heston.stderr.get("sigma", float("nan")) * math.sqrt(theta[r] / hp.theta))
        p_out[f"theta_q[{nm}]"] = float(model.theta_q[r])
        p_out[f"vix_a[{nm}]"] = float(model.vix_a[r])
        p_out[f"vix_b[{nm}]"] = float(model.vix_b[r])
        p_out[f"pi[{nm}]"] = float(model.stationary_probabilities[r])
        p_out[f"duration[{nm}]"] = float(chain.expected_durations[r])
    p_out.update(kappa=kap, rho=float(hp.rho), lam=lam, kappa_q=float(kap + lam), v0=v_last,
                 regime0=names[regime0])
    se_out.update(kappa=float(heston.stderr.get("kappa", float("nan"))),
                  rho=float(heston.stderr.get("rho", float("nan"))), lam=float(lam_se))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            p_out[f"P[{a}->{b}]"] = float(chain.transition[i, j])
            se_out[f"P[{a}->{b}]"] = float(chain.transition_se[i, j])
    window = (f"{dates[0].date()} .. {dates[-1].date()}" if dates is not None else f"{spx_a.size} days")
    counts = np.bincount(reg, minlength=k_regimes)
    notes = [
        f"regime chain: statsmodels MarkovRegression (switching mean and variance, {k_regimes} regimes) on "
        f"{chain.n_obs} daily SPX log returns of {chain_sample}; loglik/AIC/BIC/n_params are this fit's",
        "expected durations (trading days): " + ", ".join(
            f"{nm} {d:.1f}" for nm, d in zip(names, chain.expected_durations)),
        "regime variance (annualised vol): " + ", ".join(
            f"{nm} {math.sqrt(t):.1%}" for nm, t in zip(names, theta)),
        "stationary regime probabilities: " + ", ".join(
            f"{nm} {p:.3f}" for nm, p in zip(names, model.stationary_probabilities)),
        "theta_r = 252 x regime return variance, mu_r = 252 x regime mean log return + theta_r/2 (P)",
        f"kappa, rho from calibrate_heston on the window ({window}): kappa {kap:.4g}, rho {hp.rho:.4g}; "
        f"sigma_r = sigma_H sqrt(theta_r/theta_H) with sigma_H {hp.sigma:.4g}, theta_H {hp.theta:.4g} "
        f"(same Feller ratio {hp.feller_ratio:.3f} in every regime)",
        f"lam (common) matches the window's mean VIX^2 {target:.5f} (VIX rms {100 * math.sqrt(target):.2f}) given "
        f"the smoothed regime path; Newey-West SE conditional on the other parameters",
        "window days by most likely regime: " + ", ".join(f"{nm} {c}" for nm, c in zip(names, counts)),
        "Q = P for the regime chain (no premium for regime-switch risk)",
        f"v0 = VIX-implied variance on the last window day in regime {names[regime0]} "
        f"(VIX {vix_a[-1]:.2f}; floored at 0 when the VIX is below the regime's floor "
        f"{100 * math.sqrt(model.vix_b[regime0]):.2f})",
        f"Heston window fit (single regime) loglik {heston.loglik:.2f} on {heston.n_obs} transitions",
    ]
    report = FitReport(
        model=RegimeSwitchingModel.name, params=p_out, stderr=se_out, loglik=chain.loglik, n_obs=chain.n_obs,
        n_params=chain.n_params,
        method="Hamilton (1989) filter / Kim (1994) smoother ML (statsmodels MarkovRegression) for the chain; "
               "Heston parts: joint SPX+VIX QMLE (calibrate_heston) and a mean-VIX^2 moment for lam",
        sample=f"chain: {chain_sample}; Heston/VIX: {window}",
        notes=notes,
    )
    return model, report
