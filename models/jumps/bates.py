"""The Bates (1996) SVJ path model: Heston plus lognormal jumps in the log price."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from alvh.models.base import Paths, PathModel, State
from alvh.models.heston import (
    _cir_moments,
    _moment_matched,
    HestonParams,
    cir_quantile_step,
    expected_average_variance,
    vix_coefficients,
)
from alvh.models.jumps.paths import _HESTON_KEYS, _finite, _simulate_jump_diffusion
from alvh.models.jumps.pricing import _lognormal_kbar


# ================================================================================================
# Bates path model
# ================================================================================================


class BatesModel(PathModel):
    """Bates (1996) SVJ model as a :class:`alvh.models.base.PathModel`.

    Parameters
    ----------
    params : HestonParams
        Diffusive part under P and Heston's market price of variance risk ``lam`` (Q variance
        ``kappa_q = kappa + lam``, ``theta_q = kappa theta / kappa_q``). ``params.mu`` is the total
        expected return ``E_P[dS/S] / dt`` (jumps compensated).
    lam_j : float
        P jump intensity, jumps per year, >= 0.
    mu_j : float
        P mean log-jump (log points), finite.
    sigma_j : float
        P sd of the log-jump, >= 0.
    lam_j_q, mu_j_q, sigma_j_q : float, optional
        Q jump parameters, same rules; each defaults to its P value (no jump risk premium).
        A jump risk premium is e.g. ``lam_j_q > lam_j`` or ``mu_j_q < mu_j``.

    Raises
    ------
    ValueError
        If a rule is broken; the message names the rule and the value.

    Notes
    -----
    P dynamics (Bates 1996, sec. 2)::

        d ln S = (mu - lam_j kbar - v/2) dt + sqrt(v) dW^S + J dN,   kbar = exp(mu_j + sigma_j^2/2) - 1
        dv     = kappa (theta - v) dt + sigma sqrt(v) dW^v

    Simulation: Andersen's (2008) QE step with martingale correction for the diffusion
    (:func:`alvh.models.heston.qe_step`, drift ``mu - lam_j m_t kbar``), then ``N ~ Poisson(lam_j m_t dt)``
    jumps added to ``ln S`` as ``N mu_j + sqrt(N) sigma_j Z`` (exact for the compound Poisson sum),
    where ``m_t`` is the step's intensity multiplier. Hence ``E_P[S_{t+dt}/S_t] = exp(mu dt)``
    exactly.
    """

    name = "bates"
    has_jumps = True

    def __init__(self, params: HestonParams, lam_j: float, mu_j: float, sigma_j: float,
                 lam_j_q: float | None = None, mu_j_q: float | None = None,
                 sigma_j_q: float | None = None) -> None:
        if not isinstance(params, HestonParams):
            raise ValueError(f"params must be a HestonParams, got {type(params).__name__}")
        self.params = params
        self.lam_j = _finite("lam_j", lam_j)
        self.mu_j = _finite("mu_j", mu_j)
        self.sigma_j = _finite("sigma_j", sigma_j)
        self.lam_j_q = self.lam_j if lam_j_q is None else _finite("lam_j_q", lam_j_q)
        self.mu_j_q = self.mu_j if mu_j_q is None else _finite("mu_j_q", mu_j_q)
        self.sigma_j_q = self.sigma_j if sigma_j_q is None else _finite("sigma_j_q", sigma_j_q)
        for name in ("lam_j", "sigma_j", "lam_j_q", "sigma_j_q"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    # ------------------------------------------------------------------ jump moments
    @property
    def kbar(self) -> float:
        """P compensator ``E_P[e^J] - 1``."""
        return _lognormal_kbar(self.mu_j, self.sigma_j)

    @property
    def b_jump(self) -> float:
        """Jump term of the squared VIX: ``2 lam_j_q (E_Q[e^J] - 1 - E_Q[J])`` (annualised variance)."""
        return 2.0 * self.lam_j_q * (_lognormal_kbar(self.mu_j_q, self.sigma_j_q) - self.mu_j_q)

    @property
    def default_var0(self) -> float:
        """Initial variance ``v0`` of the parameters (annualised)."""
        return self.params.v0

    @property
    def long_run_var(self) -> float:
        """Long-run variance ``theta`` under P (annualised)."""
        return self.params.theta

    # ------------------------------------------------------------------ paths (P)
    def simulate(self, state0: State, n_steps: int, dt: float, rng: np.random.Generator,
                 intensity: np.ndarray | None = None) -> Paths:
        """Simulate P-paths (QE diffusion + compound-Poisson lognormal jumps).

        Parameters
        ----------
        state0 : State
            Initial state; ``spot``, ``var`` of shape (n_paths,).
        n_steps : int
            Number of steps, >= 1.
        dt : float
            Step in years.
        rng : numpy.random.Generator
            Source of every draw.
        intensity : ndarray of shape (n_steps,), optional
            Multiplier of ``lam_j`` on each step (event days), >= 0; default ones.

        Returns
        -------
        Paths
            Arrays of shape (n_paths, n_steps + 1); column 0 equals ``state0`` exactly; regime 0.

        Raises
        ------
        ValueError
            Bad ``n_steps``, ``dt``, negative variance, or ``intensity`` of the wrong shape / sign.
        """
        def jumps(c, rng):  # c jumps on each path that jumps: summed lognormal log-jumps
            return c * self.mu_j + np.sqrt(c) * self.sigma_j * rng.standard_normal(c.size), None

        return _simulate_jump_diffusion(self, state0, n_steps, dt, rng, intensity, jumps)

    def stationary_state(self, s0: float, n_paths: int, rng: np.random.Generator) -> State:
        """Variance from the stationary Gamma law of the CIR variance (Cox, Ingersoll & Ross 1985, eq. 20)."""
        p = self.params
        v = rng.gamma(2.0 * p.kappa * p.theta / p.sigma**2, p.sigma**2 / (2.0 * p.kappa), size=n_paths)
        return State(np.full(n_paths, float(s0)), v, np.zeros(n_paths, np.int8))

    # ------------------------------------------------------------------ prices (Q)
    def vix(self, var, regime=None) -> np.ndarray:
        """Model VIX (points): ``100 sqrt(a v + b + b_jump)``.

        ``(a, b)`` are Heston's Q coefficients (:func:`alvh.models.heston.vix_coefficients`, Zhang & Zhu
        2006, eq. 6) and ``b_jump = 2 lam_j_q (exp(mu_j_q + sigma_j_q^2/2) - 1 - mu_j_q)`` the
        log-contract jump term (Duan & Yeh 2010; Carr & Wu 2009); see the module docstring.
        """
        a, b = vix_coefficients(self.params.kappa_q, self.params.theta_q)
        return 100.0 * np.sqrt(a * np.asarray(var, dtype=float) + b + self.b_jump)

    def var_from_vix(self, vix, regime=None) -> np.ndarray:
        """Inverse of :meth:`vix`, ``((vix/100)^2 - b - b_jump) / a`` floored at 0."""
        a, b = vix_coefficients(self.params.kappa_q, self.params.theta_q)
        return np.maximum(((np.asarray(vix, dtype=float) / 100.0) ** 2 - b - self.b_jump) / a, 0.0)

    def atm_total_variance(self, var, tau, regime=None) -> np.ndarray:
        """``E_Q[int_t^{t+tau} v_s ds + sum of squared jumps]``.

        Equals ``tau * avg_Q(v, tau) + tau lam_j_q (mu_j_q^2 + sigma_j_q^2)``: the Heston
        Q-expected integrated variance (:func:`alvh.models.heston.expected_average_variance`) plus the
        expected quadratic variation of the compound-Poisson part, ``lam E[J^2] tau``.
        """
        tau = np.asarray(tau, dtype=float)
        p = self.params
        jump_qv = self.lam_j_q * (self.mu_j_q**2 + self.sigma_j_q**2)
        return tau * (expected_average_variance(var, tau, p.kappa_q, p.theta_q) + jump_qv)

    def q_step(self, x, dt: float, regime: int = 0, m: int = 256):
        """Exact CIR transition of ``v`` under Q at ``m`` mid-quantiles, moment-matched.

        Price jumps do not move the variance, so the Q transition is Heston's
        (:func:`alvh.models.heston.cir_quantile_step`). The points of each node are then adjusted so
        their mean is the exact conditional mean ``theta_q + (x - theta_q) e^{-kappa_q dt}`` and
        their variance the exact CIR variance where that keeps them >= 0 (mid-quantiles alone
        understate both slightly, see :func:`_moment_matched`).

        Returns
        -------
        x_next : ndarray of shape (n_nodes, m)
        weights : ndarray of shape (m,), each ``1/m``
        """
        p = self.params
        x = np.asarray(x, dtype=float)
        q, w = cir_quantile_step(x, dt, p.kappa_q, p.theta_q, p.sigma, m)
        return _moment_matched(q, *_cir_moments(x, dt, p.kappa_q, p.theta_q, p.sigma)), w

    def cir_q(self):
        """``(kappa_q, theta_q, sigma, b_jump)``: the Q variance is pure CIR (jumps only in price)."""
        return (self.params.kappa_q, self.params.theta_q, self.params.sigma, self.b_jump)

    def q_model(self, drift: float = 0.0) -> "BatesModel":
        """Bates with its Q parameters as P parameters (see :meth:`alvh.models.base.PathModel.q_model`).

        Q is defined in the class docstring and the module docstring: the diffusive variance
        follows Heston's market price of variance risk (``kappa_q``, ``theta_q``, same ``sigma``,
        ``rho``) and the price jumps have the Q law ``(lam_j_q, mu_j_q, sigma_j_q)``. The returned
        model has those as its P values (``lam = 0``, jump ``_q`` = P) and SPX drift ``mu = drift``
        (``r - q``; the jump compensator is in the simulated drift). Price jumps do not move the
        variance, so its variance law is Heston's Q law, as :meth:`q_step` and :meth:`cir_q` say;
        its :meth:`vix` (including ``b_jump``) equals this model's.
        """
        hp = self.params.q_params(drift)
        return BatesModel(hp, self.lam_j_q, self.mu_j_q, self.sigma_j_q)

    # ------------------------------------------------------------------ parameters
    def to_dict(self) -> dict:
        """Flat dict of floats: Heston keys, then ``lam_j, mu_j, sigma_j, lam_j_q, mu_j_q, sigma_j_q``."""
        d = {k: float(v) for k, v in asdict(self.params).items()}
        d.update(lam_j=self.lam_j, mu_j=self.mu_j, sigma_j=self.sigma_j,
                 lam_j_q=self.lam_j_q, mu_j_q=self.mu_j_q, sigma_j_q=self.sigma_j_q)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "BatesModel":
        """Inverse of :meth:`to_dict`; missing Q jump keys default to P. Raises ``ValueError`` on bad values."""
        try:
            hp = HestonParams(**{k: float(d[k]) for k in _HESTON_KEYS if k in d})
            jumps = {k: float(d[k]) for k in ("lam_j", "mu_j", "sigma_j")}
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bates parameters incomplete or malformed: {exc}") from None
        q = {k: float(d[k]) for k in ("lam_j_q", "mu_j_q", "sigma_j_q") if d.get(k) is not None}
        return cls(hp, **jumps, **q)
