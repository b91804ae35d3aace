"""Heston as a :class:`alvh.models.base.PathModel` (:class:`HestonModel`): QE paths under P, CIR-law
prices under Q."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from alvh.models.base import Paths, PathModel, State
from alvh.models.heston.cir import cir_quantile_step
from alvh.models.heston.params import HestonParams
from alvh.models.heston.paths import simulate_qe
from alvh.models.heston.vix import expected_average_variance, model_vix, variance_from_vix


class HestonModel(PathModel):
    """Heston as a :class:`alvh.models.base.PathModel`: QE paths under P, CIR-law prices under Q.

    Parameters
    ----------
    params : HestonParams
        P parameters and the market price of variance risk; ``params.v0`` is the default
        initial variance.
    """

    name = "heston"

    def __init__(self, params: HestonParams) -> None:
        self.params = params

    @property
    def default_var0(self) -> float:
        """Initial variance ``v0`` of the parameters (annualised)."""
        return self.params.v0

    @property
    def long_run_var(self) -> float:
        """Long-run variance ``theta`` under P (annualised)."""
        return self.params.theta

    def simulate(self, state0: State, n_steps: int, dt: float, rng: np.random.Generator,
                 intensity: np.ndarray | None = None) -> Paths:
        """QE paths under P (:func:`simulate_qe`); ``intensity`` is ignored (no jumps)."""
        p = self.params
        spot, var = simulate_qe(state0.spot, state0.var, p.kappa, p.theta, p.sigma, p.rho, p.mu, dt, n_steps,
                                rng=rng, n_paths=state0.n_paths)
        regime = np.zeros(spot.shape, np.int8)
        return Paths(spot, var, self.vix(var), regime)

    def stationary_state(self, s0: float, n_paths: int, rng: np.random.Generator) -> State:
        """Variance from the stationary Gamma law (Cox, Ingersoll & Ross 1985, eq. 20)."""
        p = self.params
        v = rng.gamma(2.0 * p.kappa * p.theta / p.sigma**2, p.sigma**2 / (2.0 * p.kappa), size=n_paths)
        return State(np.full(n_paths, float(s0)), v, np.zeros(n_paths, np.int8))

    def vix(self, var, regime=None) -> np.ndarray:
        """Model VIX (points) of variance ``var``: :func:`model_vix` with ``kappa_Q``, ``theta_Q``."""
        return model_vix(var, self.params.kappa_q, self.params.theta_q)

    def var_from_vix(self, vix, regime=None) -> np.ndarray:
        """Variance (annualised, >= 0) whose model VIX is ``vix``: the inverse of :meth:`vix`."""
        return np.maximum(variance_from_vix(vix, self.params.kappa_q, self.params.theta_q), 0.0)

    def atm_total_variance(self, var, tau, regime=None) -> np.ndarray:
        """Q-expected integrated variance over ``tau`` years from ``var`` (the SPX smile's ATM total variance)."""
        return np.asarray(tau, dtype=float) * expected_average_variance(var, tau, self.params.kappa_q, self.params.theta_q)

    def q_step(self, x, dt: float, regime: int = 0, m: int = 256):
        """Exact CIR transition under Q at ``m`` mid-quantiles ``(j + 1/2) / m`` (equal weights)."""
        p = self.params
        return cir_quantile_step(x, dt, p.kappa_q, p.theta_q, p.sigma, m)

    def cir_q(self):
        """``(kappa_Q, theta_Q, sigma, 0.0)``: the pure-CIR Q description of the variance."""
        return (self.params.kappa_q, self.params.theta_q, self.params.sigma, 0.0)

    def q_model(self, drift: float = 0.0) -> "HestonModel":
        """Heston with the Q parameters as its P parameters (see :meth:`alvh.models.base.PathModel.q_model`).

        Under Q (Heston 1993, eq. 6; module docstring) the variance is CIR with ``kappa_q``,
        ``theta_q`` and the same ``sigma`` and ``rho``; the returned model has ``kappa = kappa_q``,
        ``theta = theta_q``, ``lam = 0`` and SPX drift ``mu = drift`` (``r - q``; QE's martingale
        correction makes ``E[S_T] = S_0 e^{drift T}`` exactly). Its :meth:`vix` and
        :meth:`q_step` equal this model's.
        """
        return HestonModel(self.params.q_params(drift))

    def to_dict(self) -> dict:
        """The parameters as a dict of floats (for a parameter file)."""
        return {k: float(v) for k, v in asdict(self.params).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "HestonModel":
        """The model of a parameter dict (:meth:`to_dict`); missing keys take the defaults of :class:`HestonParams`."""
        keys = ("v0", "kappa", "theta", "sigma", "rho", "mu", "lam")
        return cls(HestonParams(**{k: float(d[k]) for k in keys if k in d}))
