"""The two-factor model (:class:`TwoFactorModel`): a regime-switching Heston model whose levels are the
central tendency's chain, with variance jumps and SPX co-jumps."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from alvh.models.base import Paths
from alvh.models.heston import FellerConditionWarning, HestonParams
from alvh.models.regimes import RegimeSwitchingModel
from alvh.models.twofactor.chain import N_LEVELS, central_tendency_chain
from alvh.models.twofactor.realdays import filter_levels


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
