"""Calibration of :class:`TwoFactorModel` (:func:`calibrate_two_factor`): Q by least squares on the real
VIX futures and VVIX, then P on the SPX/VIX window."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import optimize

from alvh.models.base import FitReport
from alvh.models.regimes import STEP_DT
from alvh.models.twofactor.jumpstats import (
    JUMP_FROM_BELOW_VIX,
    JUMP_THRESHOLD_VIX2,
    spx_co_jumps,
    variance_jumps,
)
from alvh.models.twofactor.model import TwoFactorModel
from alvh.models.twofactor.qprices import VVIX_STEPS, model_vvix, q_expectations
from alvh.models.twofactor.realdays import filter_levels, q_days


#: The VVIX residual's divisor in the Q fit (points): one VVIX day weighs as much as a futures
#: maturity missed by 1 point when the VVIX misses by 6, half the scorecard's 12-point tolerance (the
#: futures, 7 a day, fit well within their tolerance; the VVIX is the harder row).
VVIX_SCALE = 6.0


def _q_residuals(model, days: pd.DataFrame, vvix_scale: float = None, n_nodes: int = 160, m: int = 48):
    kmax = int(days[[f"k{i}" for i in range(1, 8)]].to_numpy().max())
    q = q_expectations(model, max(kmax, VVIX_STEPS), n_nodes=n_nodes, m=m)
    level, var = filter_levels(model, days["vix"].to_numpy(), days["vix6m"].to_numpy())
    res = []
    for i in range(1, 8):
        real = days[f"M{i}"].to_numpy()
        f = q.at(q.mean_vix, level, var, days[f"k{i}"].to_numpy())
        res.append(np.where(np.isfinite(real), f - real, 0.0))
    vv = days["vvix"].to_numpy()
    scale = VVIX_SCALE if vvix_scale is None else vvix_scale
    res.append(np.where(np.isfinite(vv), (model_vvix(q, level, var) - vv) / scale, 0.0))
    return np.concatenate(res)


def _q_model(x, jumps2=(0.0, 0.0, 0.0), co=(0.0, 0.0, 0.0)) -> TwoFactorModel:
    """The Q form (``lam = 0``) from ``log kappa_Q, log sigma, log kappa_m, log theta_mQ, log sigma_mQ, beta``,
    with the variance jumps ``(rate, min, mean excess)`` given in ``VIX^2`` units (divided by the VIX
    coefficient ``a`` of the candidate ``kappa_Q`` to give variance units) and the SPX co-jumps
    ``(mu_s, rho2, sigma_s)`` of :func:`spx_co_jumps` (``rho_j = rho2 a``)."""
    from alvh.models.heston import vix_coefficients

    kq, sig, km, thm, sm = np.exp(x[:5])
    a = vix_coefficients(float(kq), 1.0)[0]
    return TwoFactorModel(kq, sig, -0.7, 0.0, 0.0, km, thm, sm, float(x[5]), lam_v=jumps2[0],
                          jump_min_v=jumps2[1] / a, mu_v=jumps2[2] / a, mu_s=co[0], rho_j=co[1] * a, sigma_s=co[2])


def calibrate_two_factor(spx, vix, dates, dt: float = STEP_DT, start: str = "", end: str = "",
                         x0=(math.log(4.5), math.log(0.5), math.log(0.9), math.log(0.05), math.log(0.25), 0.7),
                         max_nfev: int = 60, p_target: str = "realized", jumps: bool = True
                         ) -> tuple[TwoFactorModel, FitReport]:
    """Fit Q to the real VIX futures / VVIX / VIX6M, then P to the SPX/VIX window (module docstring).

    Parameters
    ----------
    spx, vix : ndarray of shape (n,)
        Daily SPX and VIX closes (points) of the P window.
    dates : array_like of datetime64, shape (n,)
    dt : float
        Must be 1/252.
    start, end : str
        Window labels for the report.
    x0 : sequence of 6 floats
        Start of the Q search: logs of ``kappa_Q, sigma, kappa_m, theta_mQ, sigma_mQ``, then ``beta``.
    max_nfev : int, default 60
        Most objective evaluations of the least-squares search.
    p_target : {"realized", "vix2"}, default "realized"
        What ``kappa`` matches on the P window (module docstring, Estimation 2).
    jumps : bool, default True
        Estimate variance jumps on the P window (:func:`variance_jumps`) and keep them in both
        measures; ``False`` fits the model without jumps.

    Returns
    -------
    model : TwoFactorModel
    report : FitReport

    Raises
    ------
    ValueError
        ``dt != 1/252``, too short a window, or a P fit without a positive ``kappa``.
    """
    if p_target not in ("realized", "vix2"):
        raise ValueError(f"p_target must be 'realized' or 'vix2', got {p_target!r}")
    if abs(dt - STEP_DT) > 1e-12:
        raise ValueError(f"the two_factor model is daily: dt must be 1/252, got {dt}")
    spx, vix = np.asarray(spx, float), np.asarray(vix, float)
    if spx.size < 250 or spx.shape != vix.shape:
        raise ValueError(f"need aligned SPX and VIX of at least 250 days, got {spx.size} and {vix.size}")
    days = q_days()
    jumps2 = variance_jumps(vix, dt=dt) if jumps else (0.0, 0.0, 0.0)
    # a window with too few jump days (a calm one) keeps the variance jumps without an SPX move
    n_jump_days = int(np.sum((vix[:-1] < JUMP_FROM_BELOW_VIX) & (np.diff((vix / 100.0) ** 2) > JUMP_THRESHOLD_VIX2)))
    co = spx_co_jumps(spx, vix, dt=dt) if jumps and n_jump_days >= 5 else (0.0, 0.0, 0.0)

    def fun(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _q_residuals(_q_model(x, jumps2, co), days)

    lo = np.r_[np.log([0.2, 0.05, 0.02, 0.002, 0.01]), -1.0]
    hi = np.r_[np.log([60.0, 5.0, 20.0, 1.0, 3.0]), 2.5]
    sol = optimize.least_squares(fun, np.clip(np.asarray(x0, float), lo + 1e-9, hi - 1e-9), method="trf",
                                 diff_step=2e-2, max_nfev=max_nfev, bounds=(lo, hi))
    kq, sig, km, thm_q, sm_q = np.exp(sol.x[:5])
    beta = float(sol.x[5])
    dof = max(sol.fun.size - sol.x.size, 1)
    s2 = float(sol.fun @ sol.fun) / dof
    try:
        cov = s2 * np.linalg.inv(sol.jac.T @ sol.jac)
        se_log = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        se_log = np.full(6, np.nan)
    qm = _q_model(sol.x, jumps2, co)
    # ---- P on the window
    r_spx = np.diff(np.log(spx))
    d_vix2 = np.diff((vix / 100.0) ** 2)
    # on the days without a jump: the jump days' SPX move is the co-jump's (spx_co_jumps)
    calm = ~((vix[:-1] < JUMP_FROM_BELOW_VIX) & (d_vix2 > JUMP_THRESHOLD_VIX2)) if jumps else np.ones(d_vix2.size, bool)
    rho = float(np.corrcoef(r_spx[calm], d_vix2[calm])[0, 1])
    pi = qm.stationary_probabilities
    realised = float(np.mean(r_spx**2)) / dt
    if p_target == "realized":     # E_P[v] = sum pi_r m_r = sum pi_r theta_Q,r kappa_Q / kappa
        # E_P[v] = (kappa_Q sum pi_r theta_Q,r + lam_v E[J]) / kappa
        # realised variance = E_P[v] + lam_v E[Z^2] (the SPX jumps' share)
        target = realised - qm.lam_v * qm.spx_jump_moments()[1]
        if not target > 0:
            raise ValueError(f"two_factor P fit: the SPX jumps ({qm.lam_v:.3g} a year, E[Z^2] "
                             f"{qm.spx_jump_moments()[1]:.3g}) exceed the window's realised variance {realised:.4g}")
        kappa = (kq * float(np.sum(pi * qm.theta_q)) + qm.lam_v * qm.jump_mean) / target
    else:                          # E_P[VIX^2] = sum pi_r (a_r m_r + b_r)
        ev2 = float(np.mean((vix / 100.0) ** 2))
        den = ev2 - float(np.sum(pi * qm.vix_b))
        if not den > 0:
            raise ValueError(f"two_factor P fit: the window's mean VIX^2 {ev2:.4g} is below the model's floor")
        kappa = float(qm.vix_a[0]) * (kq * float(np.sum(pi * qm.theta_q)) + qm.lam_v * qm.jump_mean) / den
    c = kq / kappa                                     # m_r (P) = c theta_Q,r
    mean_var = realised
    mu = float(np.mean(r_spx)) / dt + 0.5 * mean_var
    dates = pd.DatetimeIndex(np.asarray(dates))
    model = TwoFactorModel(kappa, sig, rho, mu, kq - kappa, km, thm_q * c, sm_q * math.sqrt(c), beta,
                           lam_v=qm.lam_v, jump_min_v=qm.jump_min_v, mu_v=qm.mu_v, mu_s=qm.mu_s, rho_j=qm.rho_j,
                           sigma_s=qm.sigma_s)
    last6 = _last_vix6m(dates[-1])
    if last6 is not None:
        lvl, v = filter_levels(model, np.array([vix[-1]]), np.array([last6]))
        model = TwoFactorModel(**{**model.structural}, v0=float(v[0]), regime0=int(lvl[0]))
    rmse_f = float(np.sqrt(np.mean(sol.fun[:-days.shape[0]] ** 2)))
    rmse_vv = float(np.sqrt(np.mean(sol.fun[-days.shape[0]:] ** 2))) * VVIX_SCALE
    names = ["kappa_q", "sigma", "kappa_m", "theta_m_q", "sigma_m_q", "beta"]
    params = {**model.structural, "kappa_q": kq, "theta_m_q": thm_q, "sigma_m_q": sm_q}
    stderr = {n: float((np.exp(x) if n != "beta" else 1.0) * s) for n, x, s in zip(names, sol.x, se_log)}
    report = FitReport(
        model="two_factor", params=params, stderr=stderr, loglik=None, n_obs=int(days.shape[0]), n_params=6,
        method=("Q: least squares of VIX futures M1-M7 and VVIX on real days (Cboe data 2008-2024, every 5th "
                "day, levels filtered by VIX6M); P: moments of the SPX/VIX window"),
        sample=f"{start} .. {end}",
        notes=[f"Q fit: RMSE {rmse_f:.2f} vol points over futures M1-M7, {rmse_vv:.2f} points on VVIX; "
               f"{sol.nfev} evaluations, status {sol.status} ({sol.message})",
               f"P: rho {rho:.3f} = corr(SPX log return, dVIX^2); kappa {kappa:.3g} matches the window's "
               + ("realised variance" if p_target == "realized" else "mean VIX^2") + f"; lam {kq - kappa:.3g}",
               "standard errors from the Jacobian treat days as independent; they understate the uncertainty"],
        converged=bool(sol.success), objective=float(sol.cost),
    )
    return model, report


def _last_vix6m(day) -> float | None:
    from alvh.realdata import load

    s = load("vix6m").frame["CLOSE"]
    return float(s.loc[day]) if day in s.index else None
