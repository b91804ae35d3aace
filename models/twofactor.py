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
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, optimize, stats

from alvh.models.base import FitReport, Paths
from alvh.models.heston import VIX_TAU, FellerConditionWarning, HestonParams
from alvh.models.regimes import STEP_DT, RegimeSwitchingModel

__all__ = ["N_LEVELS", "TwoFactorModel", "central_tendency_chain", "q_chain", "q_expectations", "vix2_laplace", "model_vvix",
           "calibrate_two_factor", "filter_levels", "q_days", "variance_jumps", "spx_co_jumps", "VIX3M_TAU",
           "VIX6M_TAU", "VVIX_STEPS"]

#: Levels of the central tendency chain (regime labels of the engine).
N_LEVELS = 6
#: Horizons of Cboe's VIX3M and VIX6M (93 and 186 calendar days), years.
VIX3M_TAU = 93.0 / 365.0
VIX6M_TAU = 186.0 / 365.0


def central_tendency_chain(kappa_m: float, theta_m: float, sigma_m: float, n_levels: int = N_LEVELS,
                           h: float = STEP_DT) -> tuple[np.ndarray, np.ndarray]:
    """Levels and per-step transition matrix of the chain that carries the CIR central tendency.

    Parameters
    ----------
    kappa_m : float
        Mean reversion of ``m``, per year, > 0.
    theta_m : float
        Long-run mean of ``m`` (annualised variance), > 0.
    sigma_m : float
        Volatility of ``m``, > 0.
    n_levels : int, default :data:`N_LEVELS`
        Number of levels, >= 2.
    h : float, default 1/252
        Step of the returned matrix, years.

    Returns
    -------
    levels : ndarray of shape (n_levels,)
        Increasing levels of ``m`` (annualised variance).
    transition : ndarray of shape (n_levels, n_levels)
        ``expm(G h)``, row-stochastic.

    Raises
    ------
    ValueError
        Non-positive or non-finite parameters, ``n_levels < 2``.

    Notes
    -----
    Module docstring, "The slow factor on a chain". Where the variance condition cannot hold with
    non-negative rates (drift too strong for the level spacing) the offending rate is floored at 0,
    which keeps the drift's sign and loses some variance there.
    """
    for name, x in (("kappa_m", kappa_m), ("theta_m", theta_m), ("sigma_m", sigma_m)):
        if not (math.isfinite(x) and x > 0):
            raise ValueError(f"{name} must be finite and > 0, got {x}")
    if int(n_levels) < 2:
        raise ValueError(f"n_levels must be >= 2, got {n_levels}")
    n = int(n_levels)
    shape, scale = 2.0 * kappa_m * theta_m / sigma_m**2, sigma_m**2 / (2.0 * kappa_m)
    levels = stats.gamma.ppf((np.arange(n) + 0.5) / n, shape, scale=scale)
    gen = np.zeros((n, n))
    for i in range(n):
        drift, var = kappa_m * (theta_m - levels[i]), sigma_m**2 * levels[i]
        if i == 0:
            gen[0, 1] = max(drift, 0.0) / (levels[1] - levels[0])
        elif i == n - 1:
            gen[i, i - 1] = max(-drift, 0.0) / (levels[i] - levels[i - 1])
        else:
            up, dn = levels[i + 1] - levels[i], levels[i] - levels[i - 1]
            gen[i, i + 1] = max((var + drift * dn) / (up * (up + dn)), 0.0)
            gen[i, i - 1] = max((var - drift * up) / (dn * (up + dn)), 0.0)
        gen[i, i] = -gen[i].sum()
    p = linalg.expm(gen * h)
    p = np.clip(p, 0.0, None)
    return levels, p / p.sum(axis=1, keepdims=True)


class TwoFactorModel(RegimeSwitchingModel):
    """Heston variance reverting to a CIR central tendency carried on a chain (``name = "two_factor"``).

    Parameters
    ----------
    kappa, sigma, rho, mu, lam : float
        Fast variance under P: mean reversion (per year), vol of variance at ``m = theta_m``,
        price-variance correlation, SPX drift (per year), market price of variance risk
        (``kappa + lam > 0``).
    kappa_m, theta_m, sigma_m : float
        Central tendency under P: mean reversion (per year), long-run mean (annualised
        variance), volatility.
    beta : float, default 0
        Elasticity of the vol of variance to the level: ``sigma_r = sigma (m_r / theta_m)^beta``,
        in [-2, 3].
    n_levels : int, default :data:`N_LEVELS`
        Levels of the chain.
    lam_v, jump_min_v, mu_v : float, default 0
        Variance jumps: rate per year, and size ``jump_min_v + Exp(mu_v)`` (annualised variance);
        each in [0, 100]. The same under P and Q.
    mu_s, rho_j, sigma_s : float, default 0
        The SPX log jump at a variance jump ``J``: ``mu_s + rho_j J + sigma_s eps`` (``sigma_s >= 0``,
        ``rho_j mu_v < 1``). The same under P and Q.
    v0 : float, optional
        Default initial variance (annualised); default the level ``regime0``.
    regime0 : int, default middle level
        Level that goes with ``v0``.

    Raises
    ------
    ValueError
        Any parameter rule (:func:`central_tendency_chain`, :class:`~alvh.models.heston.HestonParams`).

    Notes
    -----
    Module docstring. Everything the engine needs (paths, VIX, Q steps, the level chain) is
    inherited from :class:`~alvh.models.regimes.RegimeSwitchingModel` with ``theta_r = m_r``.
    """

    name = "two_factor"

    def __init__(self, kappa: float, sigma: float, rho: float, mu: float, lam: float, kappa_m: float,
                 theta_m: float, sigma_m: float, beta: float = 0.0, n_levels: int = N_LEVELS, *,
                 lam_v: float = 0.0, jump_min_v: float = 0.0, mu_v: float = 0.0,
                 mu_s: float = 0.0, rho_j: float = 0.0, sigma_s: float = 0.0,
                 v0: float | None = None, regime0: int | None = None) -> None:
        if not (math.isfinite(beta) and -2.0 <= beta <= 3.0):
            raise ValueError(f"beta must be in [-2, 3], got {beta}")
        for name, x in (("lam_v", lam_v), ("jump_min_v", jump_min_v), ("mu_v", mu_v)):
            if not (math.isfinite(x) and 0.0 <= x <= 100.0):
                raise ValueError(f"{name} must be in [0, 100], got {x}")
        if lam_v > 0 and jump_min_v + mu_v <= 0:
            raise ValueError(f"with lam_v = {lam_v} > 0 the jumps need a size: jump_min_v + mu_v > 0")
        self.lam_v, self.jump_min_v, self.mu_v = float(lam_v), float(jump_min_v), float(mu_v)
        for name, x in (("mu_s", mu_s), ("rho_j", rho_j), ("sigma_s", sigma_s)):
            if not (math.isfinite(x) and abs(x) <= 100.0):
                raise ValueError(f"{name} must be finite and within +-100, got {x}")
        if sigma_s < 0:
            raise ValueError(f"sigma_s must be >= 0, got {sigma_s}")
        if rho_j * mu_v >= 1.0:
            raise ValueError(f"rho_j * mu_v must be < 1 (E[exp(Z)] finite), got {rho_j * mu_v}")
        self.mu_s, self.rho_j, self.sigma_s = float(mu_s), float(rho_j), float(sigma_s)
        levels, transition = central_tendency_chain(kappa_m, theta_m, sigma_m, n_levels)
        r0 = int(n_levels) // 2 if regime0 is None else int(regime0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)
            params = [HestonParams(v0=float(m), kappa=kappa, theta=float(m), sigma=sigma * (m / theta_m) ** beta,
                                   rho=rho, mu=mu, lam=lam) for m in levels]
        names = [f"m{i + 1}" for i in range(int(n_levels))]
        super().__init__(params, transition, names, v0=v0, regime0=r0,
                         jump_drift_q=self.lam_v * (self.jump_min_v + self.mu_v))
        self.structural = {"kappa": float(kappa), "sigma": float(sigma), "rho": float(rho), "mu": float(mu),
                           "lam": float(lam), "kappa_m": float(kappa_m), "theta_m": float(theta_m),
                           "sigma_m": float(sigma_m), "beta": float(beta), "n_levels": int(n_levels),
                           "lam_v": self.lam_v, "jump_min_v": self.jump_min_v, "mu_v": self.mu_v,
                           "mu_s": self.mu_s, "rho_j": self.rho_j, "sigma_s": self.sigma_s}
        self.levels = levels
        # the SPX jumps' share of the VIX: Cboe's VIX^2 is (2/T) E[int dS/S - d ln S], which adds
        # 2 lam_v E[e^Z - 1 - Z] to the integrated variance (Carr & Wu 2009, eq. 4)
        self.vix_b = self.vix_b + 2.0 * self.lam_v * self.spx_jump_moments()[2]

    def spx_jump_moments(self) -> tuple[float, float, float, float]:
        """``E[Z], E[Z^2], E[e^Z - 1 - Z], E[e^Z] - 1`` of one SPX log jump
        ``Z = mu_s + rho_j J + sigma_s eps`` with ``J = jump_min_v + Exp(mu_v)``, ``eps ~ N(0, 1)``
        (``E[e^{rho_j J}] = e^{rho_j jump_min_v} / (1 - rho_j mu_v)``, the exponential law's moment
        generating function)."""
        mean = self.mu_s + self.rho_j * (self.jump_min_v + self.mu_v)
        second = (self.rho_j * self.mu_v) ** 2 + self.sigma_s**2 + mean**2
        mgf = math.exp(self.mu_s + 0.5 * self.sigma_s**2 + self.rho_j * self.jump_min_v) / (1.0 - self.rho_j * self.mu_v)
        return mean, second, mgf - 1.0 - mean, mgf - 1.0

    def atm_total_variance(self, var, tau, regime=None) -> np.ndarray:
        """Q-expected total variance of the SPX log return over ``tau``: the integrated variance
        (:meth:`RegimeSwitchingModel.atm_total_variance`) plus the SPX jumps' ``lam_v tau E[Z^2]``."""
        base = RegimeSwitchingModel.atm_total_variance(self, var, tau, regime)
        return base + self.lam_v * np.asarray(tau, float) * self.spx_jump_moments()[1]

    @property
    def jump_mean(self) -> float:
        """Mean variance jump, ``jump_min_v + mu_v`` (annualised variance)."""
        return self.jump_min_v + self.mu_v

    @property
    def long_run_var(self) -> float:
        """Stationary P mean of ``v``: the levels' mean plus the jumps' ``lam_v E[J] / kappa``."""
        return float(np.dot(self.stationary_probabilities, self.theta)) + self.lam_v * self.jump_mean / self.kappa[0]

    def simulate(self, state0, n_steps: int, dt: float, rng: np.random.Generator, intensity=None, *,
                 regimes=None) -> Paths:
        """P paths of :meth:`RegimeSwitchingModel.simulate` plus the variance jumps.

        Draws, in this order: the number of jumps per path and step (Poisson, mean ``lam_v dt``),
        their total excess size (Gamma with that shape and scale ``mu_v``) and one normal for the SPX
        jumps' own noise, each of shape ``(n_paths, n_steps)`` (only with ``lam_v > 0``); then the
        regime model's draws. ``k`` jumps in a step add ``J = k jump_min_v + Gamma(k, mu_v)`` to the
        variance and ``k mu_s + rho_j J + sigma_s sqrt(k) eps`` to the SPX log price at the step's
        end, less the compensator ``lam_v (E[e^Z] - 1) dt``.
        """
        n = state0.n_paths
        jumps = log_jumps = None
        if self.lam_v > 0 and int(n_steps) >= 1:
            counts = rng.poisson(self.lam_v * float(dt), (n, int(n_steps)))
            jumps = counts * self.jump_min_v + rng.gamma(counts, self.mu_v) if self.mu_v > 0 else counts * self.jump_min_v
            eps = rng.standard_normal((n, int(n_steps)))
            # k jumps in a step: sum of k (mu_s + rho_j J_i + sigma_s eps_i), less the compensator
            # lam_v (E[e^Z] - 1) dt, so that E[dS/S] stays mu dt
            log_jumps = (counts * self.mu_s + self.rho_j * jumps + self.sigma_s * np.sqrt(counts) * eps
                         - self.lam_v * self.spx_jump_moments()[3] * float(dt))
        return RegimeSwitchingModel.simulate(self, state0, n_steps, dt, rng, intensity, regimes=regimes,
                                             var_jumps=jumps, log_spot_jumps=log_jumps)

    def q_step(self, x, dt: float, regime: int = 0, m: int = 256):
        """One-step Q law: the level's CIR step (:meth:`RegimeSwitchingModel.q_step`), and with
        probability ``1 - exp(-lam_v dt)`` a jump added to the step's conditional mean, at 16
        mid-quantiles of ``jump_min_v + Exp(mu_v)`` (at most one jump per step; the step's CIR
        dispersion is left out of the jump branch, whose probability is about ``lam_v / 252``).

        Returns
        -------
        x_next : ndarray of shape (n_nodes, m) or (n_nodes, m + 16)
        weights : ndarray of shape (m,) or (m + 16,)
        """
        x_next, w = RegimeSwitchingModel.q_step(self, x, dt, regime, m)
        if self.lam_v <= 0:
            return x_next, w
        p = -math.expm1(-self.lam_v * float(dt))
        u = (np.arange(16) + 0.5) / 16
        sizes = self.jump_min_v - self.mu_v * np.log1p(-u)
        jumped = x_next.mean(axis=1)[:, None] + sizes[None, :]
        return (np.concatenate((x_next, jumped), axis=1),
                np.concatenate((np.asarray(w) * (1.0 - p), np.full(16, p / 16))))

    def q_model(self, drift: float = 0.0) -> "TwoFactorModel":
        """The model whose P dynamics are this model's Q dynamics (``lam = 0``).

        Under Q the fast variance reverts at ``kappa_Q`` to ``kappa m / kappa_Q``: the same chain with
        every level scaled by ``c = kappa / kappa_Q`` (a CIR with ``c theta_m`` and ``sqrt(c) sigma_m``
        has the levels ``c m_r`` and the same transition matrix), the same ``sigma``, ``beta``,
        ``rho`` and jumps (no jump risk premium), SPX drift ``drift``.
        """
        s = self.structural
        c = s["kappa"] / (s["kappa"] + s["lam"])
        return TwoFactorModel(s["kappa"] + s["lam"], s["sigma"], s["rho"], float(drift), 0.0, s["kappa_m"],
                              s["theta_m"] * c, s["sigma_m"] * math.sqrt(c), s["beta"], s["n_levels"],
                              lam_v=self.lam_v, jump_min_v=self.jump_min_v, mu_v=self.mu_v, mu_s=self.mu_s,
                              rho_j=self.rho_j, sigma_s=self.sigma_s, v0=self.v0, regime0=self.regime0)

    def real_levels(self, dates, vix) -> np.ndarray:
        """Central-tendency level of each real day (for the historical replay).

        Where the bundled VIX6M has the day, :func:`filter_levels` (the level whose model VIX6M, given
        the VIX, is nearest the real one). Before the VIX6M starts (2008-01-02) and on days it misses:
        the level whose P-mean ``VIX^2`` (``a m_r + b_r``, the VIX^2 level of a year spent in level
        ``r``) is nearest an exponentially weighted mean of the real ``(VIX/100)^2`` with the chain's
        half-life ``ln 2 / kappa_m`` (the slow factor is the slowly moving mean of the VIX).

        Parameters
        ----------
        dates : array_like of datetime64, shape (n,)
        vix : ndarray of shape (n,)

        Returns
        -------
        ndarray of int8, shape (n,)
        """
        from alvh.realdata import load

        vix = np.asarray(vix, float)
        idx = pd.DatetimeIndex(np.asarray(dates))
        halflife = 252.0 * math.log(2.0) / self.structural["kappa_m"]
        ewma = pd.Series((vix / 100.0) ** 2).ewm(halflife=halflife).mean().to_numpy()
        level_mean = self.vix_a * (self.theta + self.lam_v * self.jump_mean / self.kappa) + self.vix_b
        levels = np.argmin(np.abs(ewma[:, None] - level_mean[None, :]), axis=1)
        six = load("vix6m").frame["CLOSE"].reindex(idx).to_numpy()
        have = np.isfinite(six)
        if have.any():
            levels[have] = filter_levels(self, vix[have], six[have])[0]
        return levels.astype(np.int8)

    def to_dict(self) -> dict:
        """Structural parameters plus ``v0`` and ``regime0`` (JSON-ready)."""
        return {**self.structural, "v0": float(self.v0), "regime0": int(self.regime0)}

    @classmethod
    def from_dict(cls, d: dict) -> "TwoFactorModel":
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            A missing key or a parameter rule.
        """
        need = ("kappa", "sigma", "rho", "kappa_m", "theta_m", "sigma_m")
        missing = [k for k in need if k not in d]
        if missing:
            raise ValueError(f"two_factor parameters need {', '.join(repr(k) for k in missing)}")
        return cls(float(d["kappa"]), float(d["sigma"]), float(d["rho"]), float(d.get("mu", 0.0)),
                   float(d.get("lam", 0.0)), float(d["kappa_m"]), float(d["theta_m"]), float(d["sigma_m"]),
                   float(d.get("beta", 0.0)), int(d.get("n_levels", N_LEVELS)), lam_v=float(d.get("lam_v", 0.0)),
                   jump_min_v=float(d.get("jump_min_v", 0.0)), mu_v=float(d.get("mu_v", 0.0)),
                   mu_s=float(d.get("mu_s", 0.0)), rho_j=float(d.get("rho_j", 0.0)),
                   sigma_s=float(d.get("sigma_s", 0.0)), v0=d.get("v0"),
                   regime0=d.get("regime0"))

    def summary(self) -> str:
        """Structural parameters, then the level table of the regime form."""
        s = self.structural
        head = [f"two_factor model (fast Heston variance, CIR central tendency on {s['n_levels']} levels)"]
        head += [f"  {k:<10} {v:.6g}" for k, v in s.items() if k != "n_levels"]
        head.append(f"  kappa_q    {self.kappa_q[0]:.6g}   (kappa + lam)")
        return "\n".join(head + RegimeSwitchingModel.summary(self).splitlines()[1:])


# ---------------------------------------------------------------------------------------- Q prices
@dataclass
class QExpectations:
    """``E_Q[VIX_{t+k}]`` and ``E_Q[ln VIX_{t+k}]`` on a (level, variance) grid, ``k`` daily steps.

    Attributes
    ----------
    grid : ndarray of shape (n_nodes,)
        Variance nodes (annualised).
    mean_vix, mean_log_vix : ndarray of shape (n_levels, n_nodes, max_steps + 1)
        VIX futures (points) and the expected log VIX (ln points).
    """

    grid: np.ndarray
    mean_vix: np.ndarray
    mean_log_vix: np.ndarray

    def at(self, table: np.ndarray, level, var, steps) -> np.ndarray:
        """Linear interpolation in the variance of ``table[level, :, steps]`` (arrays broadcast)."""
        x = np.clip(np.asarray(var, float), self.grid[0], self.grid[-1])
        i = np.clip(np.searchsorted(self.grid, x, side="right") - 1, 0, self.grid.size - 2)
        w = (x - self.grid[i]) / (self.grid[i + 1] - self.grid[i])
        return (1.0 - w) * table[level, i, steps] + w * table[level, i + 1, steps]


def q_chain(model: RegimeSwitchingModel, n_nodes: int = 200, m: int = 96,
            vix_top: float = 150.0) -> tuple[np.ndarray, np.ndarray]:
    """The one-day Q Markov chain on level x variance that :func:`q_expectations` iterates.

    Returns
    -------
    grid : ndarray of shape (n_nodes,)
        Variance nodes (annualised): 0, then geometric in volatility from 0.01 up to VIX ``vix_top``
        in the most volatile level.
    chain : ndarray of shape (n_levels * n_nodes, n_levels * n_nodes)
        Row-stochastic; state ``r * n_nodes + i`` is level ``r``, variance ``grid[i]``. One day: the
        level switches by :meth:`regime_transition`, then the variance takes the new level's
        :meth:`q_step` (its quadrature nodes split onto the grid, mean-preserving).
    """
    from alvh.pricing import _split_mass

    n_reg = model.n_regimes
    top = max(float(model.var_from_vix(np.array([vix_top]), np.array([r]))[0]) for r in range(n_reg))
    # geometric in volatility (constant relative spacing, so the splitting's added variance is a
    # small, level-free fraction of the one-day variance), plus the node 0
    grid = np.concatenate(([0.0], np.geomspace(0.01, math.sqrt(top), n_nodes - 1))) ** 2
    blocks = [_split_mass(*model.q_step(grid, STEP_DT, r, m), grid) for r in range(n_reg)]
    pi = model.regime_transition(STEP_DT)
    return grid, np.block([[pi[r, s] * blocks[s] for s in range(n_reg)] for r in range(n_reg)])


def vix2_laplace(model: "TwoFactorModel", u: float, steps: int, level: int, var: float) -> float:
    """Exact Laplace transform of the squared VIX under Q: ``E_Q[exp(-u VIX_T^2 / 100^2)]`` after
    ``steps`` days from variance ``var`` in level ``level``.

    The model is exponential-affine in the variance within a day: over one day in level ``j`` the
    variance is CIR with ``kappa_Q``, ``theta_Q,j``, ``sigma``, whose transform is
    ``E[e^{B v_dt} | v] = (1 - 2 B c)^{-2 kappa theta / sigma^2} exp(B e^{-kappa dt} v / (1 - 2 B c))``
    with ``c = sigma^2 (1 - e^{-kappa dt}) / (4 kappa)`` (Cox, Ingersoll & Ross 1985, eq. 19: the
    noncentral chi-square law), then with probability ``1 - e^{-lam_v dt}`` a jump
    ``jump_min_v + Exp(mu_v)``, ``E[e^{B J}] = e^{B jump_min_v} / (1 - mu_v B)``. With ``sigma`` the
    same in every level, the exponent ``B`` does not depend on the level, so the transform stays
    ``c_k(level) exp(B_k v)`` step after step and the levels enter through ``c_k = P (c_{k-1}
    e^{A(B)}) J(B)``, a recursion over days (the regime-switching affine transform, e.g. Elliott & Siu
    2009, for a chain switching at the start of each day, as :meth:`regime_transition` does).
    ``VIX^2 / 100^2 = vix_a v + vix_b[level]`` closes it.

    Parameters
    ----------
    model : TwoFactorModel
        With ``beta = 0`` (one ``sigma`` for every level).
    u : float
        >= 0.
    steps : int
        Days (>= 0).
    level : int
    var : float
        Annualised variance, >= 0.

    Returns
    -------
    float
        In (0, 1].

    Raises
    ------
    ValueError
        ``beta != 0`` (the exponent would differ by level: no closed recursion), or a bad argument.
    """
    kq, tq, sg = (np.asarray(x, float) for x in (model.kappa_q, model.theta_q, model.sigma))
    if not (np.allclose(kq, kq[0]) and np.allclose(sg, sg[0]) and np.allclose(model.vix_a, model.vix_a[0])):
        raise ValueError("vix2_laplace is exact only when every level has the same kappa_Q and sigma (beta = 0)")
    if not (u >= 0 and var >= 0 and steps >= 0 and 0 <= level < model.n_regimes):
        raise ValueError(f"need u >= 0, var >= 0, steps >= 0, level in 0..{model.n_regimes - 1}")
    k, s, dt = float(kq[0]), float(sg[0]), STEP_DT
    e = math.exp(-k * dt)
    c1 = s * s * (1.0 - e) / (4.0 * k)
    p = -math.expm1(-model.lam_v * dt)
    pi = model.regime_transition(dt)
    b = -u * float(model.vix_a[0])
    coef = np.exp(-u * np.asarray(model.vix_b, float))
    for _ in range(int(steps)):
        d = 1.0 - 2.0 * b * c1
        jump = 1.0 - p + (p * math.exp(b * model.jump_min_v) / (1.0 - model.mu_v * b) if p > 0 else 0.0)
        coef = pi @ (coef * d ** (-2.0 * k * tq / (s * s))) * jump
        b = b * e / d
    return float(coef[level] * math.exp(b * var))


def q_expectations(model: RegimeSwitchingModel, max_steps: int, n_nodes: int = 200, m: int = 96,
                   vix_top: float = 150.0) -> QExpectations:
    """VIX futures and expected log VIX by the Markov chain of :class:`alvh.pricing.MarkovVixTable`.

    The same construction (the model's :meth:`q_step` mapped onto a grid uniform in volatility by
    mean-preserving splitting, levels switching by :meth:`regime_transition`), with two payoff
    columns instead of the full strike strip, so that it is cheap enough for a calibration loop.

    Parameters
    ----------
    model : RegimeSwitchingModel
    max_steps : int
        Longest horizon, daily steps (>= 1).
    n_nodes : int, default 200
        Variance nodes per level: 0, then geometric in volatility from 0.01 up to VIX ``vix_top`` in
        the most volatile level. (A grid uniform in volatility, as :class:`MarkovVixTable` uses,
        overstates the VVIX at low VIX by 5-15 points at 120-200 nodes: the splitting adds variance
        of the order of the squared spacing each day, comparable to a calm day's variance.)
    m : int, default 96
        Quadrature points per one-step transition.

    Returns
    -------
    QExpectations
    """
    n_reg = model.n_regimes
    grid, chain = q_chain(model, n_nodes, m, vix_top)
    vix_nodes = np.concatenate([model.vix(grid, np.full(n_nodes, r)) for r in range(n_reg)])
    g = np.stack((vix_nodes, np.log(np.maximum(vix_nodes, 1e-8))), axis=1)
    out = np.empty((n_reg * n_nodes, max_steps + 1, 2))
    out[:, 0] = g
    for k in range(1, max_steps + 1):
        g = chain @ g
        out[:, k] = g
    out = out.reshape(n_reg, n_nodes, max_steps + 1, 2)
    return QExpectations(grid, out[..., 0], out[..., 1])


#: VVIX horizon (30 calendar days, as the VIX) in daily steps of the model (30/365 years x 252).
VVIX_STEPS = int(round(VIX_TAU / STEP_DT))


def model_vvix(q: QExpectations, level, var) -> np.ndarray:
    """Model VVIX (points) of states ``(level, var)``: Cboe's formula on a continuum of VIX options.

    ``VVIX^2 T = 2 (ln F - E_Q[ln VIX_T])`` with ``F = E_Q[VIX_T]``, ``T = 30/365`` (evaluated at
    the nearest whole day, 21 steps): the expectation Cboe's strip sum approximates (Demeterfi,
    Derman, Kamal & Zou 1999, eq. 26; Cboe VVIX white paper). Shapes broadcast.
    """
    f = q.at(q.mean_vix, level, var, VVIX_STEPS)
    el = q.at(q.mean_log_vix, level, var, VVIX_STEPS)
    return 100.0 * np.sqrt(np.maximum(2.0 * (np.log(f) - el), 0.0) / (VVIX_STEPS * STEP_DT))


# ---------------------------------------------------------------------------------------- calibration
def q_days(start="2008-01-02", end="2024-12-31", every: int = 5, need=("vix", "vix6m", "M1")) -> pd.DataFrame:
    """Days with VIX, VIX6M, VVIX, futures M1..M7 and each contract's trading days to settlement
    (``k1`` .. ``k7``), every ``every``-th of the days where the ``need`` columns exist."""
    from alvh.expiries import trading_days, vix_expiries
    from alvh.realdata import load

    fut = load("vix_futures").frame
    both = pd.concat([load("vix").frame["CLOSE"].rename("vix"), load("vix6m").frame["CLOSE"].rename("vix6m"),
                      load("vix3m").frame["CLOSE"].rename("vix3m"), load("vvix").frame["VVIX"].rename("vvix"),
                      load("skew").frame["SKEW"].rename("skew"), fut[[f"M{i}" for i in range(1, 8)]]],
                     axis=1, sort=True).loc[start:end]
    both = both.dropna(subset=list(need))
    dates = both.index
    expiries = vix_expiries(dates[0], dates[-1] + pd.DateOffset(months=9))
    sessions = trading_days(dates[0], expiries[-1])
    pos = sessions.get_indexer(dates)
    both = both[pos >= 0]
    pos = pos[pos >= 0]
    nxt = np.searchsorted(expiries.values, both.index.values, side="right")
    for i in range(7):
        both[f"k{i + 1}"] = sessions.get_indexer(expiries[nxt + i]) - pos
    return both.iloc[::every] if every > 1 else both


def filter_levels(model: RegimeSwitchingModel, vix, vix6m) -> tuple[np.ndarray, np.ndarray]:
    """Level and variance of real days: the level whose model VIX6M (given the VIX) is nearest the
    real VIX6M, and the variance that gives the day's VIX in that level.

    Returns
    -------
    level : ndarray of int of shape (n,)
    var : ndarray of shape (n,)
    """
    vix, vix6m = np.asarray(vix, float), np.asarray(vix6m, float)
    n_reg = model.n_regimes
    v = np.stack([model.var_from_vix(vix, np.full(vix.shape, r)) for r in range(n_reg)], axis=1)
    levels = np.broadcast_to(np.arange(n_reg), v.shape)
    vix6m_model = 100.0 * np.sqrt(model.atm_total_variance(v, VIX6M_TAU, levels) / VIX6M_TAU)
    level = np.argmin(np.abs(vix6m_model - vix6m[:, None]), axis=1)
    return level, v[np.arange(vix.size), level]


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


#: Daily rise of ``(VIX/100)^2`` above which a day counts as a variance jump (:func:`variance_jumps`):
#: 0.03, e.g. VIX 15 -> 22 or 25 -> 30.
JUMP_THRESHOLD_VIX2 = 0.03
#: Only rises from a VIX below this level count (points): above it the level-dependent diffusion of the
#: crisis levels makes such rises without a jump.
JUMP_FROM_BELOW_VIX = 30.0


def variance_jumps(vix, threshold: float = JUMP_THRESHOLD_VIX2, below: float = JUMP_FROM_BELOW_VIX,
                   dt: float = STEP_DT) -> tuple[float, float, float]:
    """Peaks over threshold of the daily rise of ``(VIX/100)^2``: the jumps' rate and size in ``VIX^2`` units.

    Days whose rise exceeds ``threshold`` from a previous close below ``below`` are jump days; the
    excesses are fitted by an exponential law (the generalised Pareto law of Pickands 1975 and
    Balkema & de Haan 1974 with shape 0, whose maximum-likelihood scale is the mean excess). So a jump
    adds ``threshold + Exp(mean excess)`` to ``VIX^2``, at the rate of the exceedances per year spent
    below ``below``. The real excesses are heavier-tailed than exponential (their mean grows with
    the threshold: 0.015 above 0.01, 0.034 above 0.03, 0.049 above 0.05 on 1990-2024 without the
    level condition), so the largest jumps are understated.

    Parameters
    ----------
    vix : ndarray of shape (n,)
        Daily VIX closes (points).
    threshold : float
        In ``(VIX/100)^2`` units.
    below : float
        VIX level (points) the rise must start below.

    Returns
    -------
    rate : float
        Jumps per year.
    jump_min : float
        ``threshold``.
    mean_excess : float
        Mean of the excesses (``(VIX/100)^2`` units); 0 when no day exceeds.
    """
    vix = np.asarray(vix, float)
    rise = np.diff((vix / 100.0) ** 2)
    calm = vix[:-1] < below
    exc = rise[calm & (rise > threshold)] - threshold
    years = max(int(calm.sum()), 1) * dt
    return exc.size / years, float(threshold), float(exc.mean()) if exc.size else 0.0


def spx_co_jumps(spx, vix, threshold: float = JUMP_THRESHOLD_VIX2, below: float = JUMP_FROM_BELOW_VIX,
                 dt: float = STEP_DT) -> tuple[float, float, float]:
    """The SPX's move on the jump days of :func:`variance_jumps`: ``r = mu_s + rho2 dVIX^2 + e`` by least
    squares, over the days whose ``(VIX/100)^2`` rose by more than ``threshold`` from a VIX below
    ``below``.

    The residual variance holds the day's diffusive return too, whose variance is about the previous
    day's ``(VIX/100)^2 dt``; ``sigma_s`` is what is left, floored at 0.

    Parameters
    ----------
    spx, vix : ndarray of shape (n,)
        Daily closes on the same days (points).

    Returns
    -------
    mu_s : float
        Intercept (log return).
    rho2 : float
        Slope on the ``(VIX/100)^2`` rise (log return per unit); ``rho_j = rho2 a`` per unit of
        variance, with ``a`` the VIX coefficient.
    sigma_s : float
        The jumps' own noise (log return), from the residual variance less the diffusion's.

    Raises
    ------
    ValueError
        Fewer than 5 jump days, or ``spx``/``vix`` of different lengths.
    """
    spx, vix = np.asarray(spx, float), np.asarray(vix, float)
    if spx.shape != vix.shape:
        raise ValueError(f"spx and vix must have one length, got {spx.shape} and {vix.shape}")
    rise = np.diff((vix / 100.0) ** 2)
    days = (vix[:-1] < below) & (rise > threshold)
    if days.sum() < 5:
        raise ValueError(f"only {int(days.sum())} jump days (rise of (VIX/100)^2 > {threshold}); need >= 5")
    r = np.diff(np.log(spx))[days]
    x = rise[days]
    design = np.column_stack((np.ones_like(x), x))
    coef, *_ = np.linalg.lstsq(design, r, rcond=None)
    resid = r - design @ coef
    diffusive = float(np.mean((vix[:-1][days] / 100.0) ** 2)) * dt
    sigma_s = math.sqrt(max(float(resid.var(ddof=2)) - diffusive, 0.0))
    return float(coef[0]), float(coef[1]), sigma_s


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
