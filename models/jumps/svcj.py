"""The SVCJ path model: simultaneous jumps in the log price and the variance with one intensity."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from alvh.models.base import AffineVix, Paths, PathModel, State
from alvh.models.heston import (
    _cir_moments,
    _moment_matched,
    HestonParams,
    cir_quantile_step,
    expected_average_variance,
    vix_coefficients,
)
from alvh.models.jumps.paths import _HESTON_KEYS, _finite, _simulate_jump_diffusion
from alvh.models.jumps.pricing import _svcj_kbar


# ================================================================================================
# SVCJ path model
# ================================================================================================


class SvcjModel(AffineVix, PathModel):
    """SVCJ model (simultaneous correlated jumps in price and variance) as a :class:`PathModel`.

    Parameters
    ----------
    params : HestonParams
        Diffusive part under P and the market price of variance risk ``lam``.
    lam_j : float
        P jump intensity (per year), >= 0.
    mu_s : float
        P mean of the price log-jump given a zero variance jump, finite.
    sigma_s : float
        P sd of the price log-jump given the variance jump, >= 0.
    mu_v : float
        P mean of the exponential variance jump (annualised variance), >= 0.
    rho_j : float
        Loading of the price log-jump on the variance jump, finite; ``rho_j mu_v < 1``.
    lam_j_q, mu_s_q, sigma_s_q, mu_v_q, rho_j_q : float, optional
        Q jump parameters, same rules; each defaults to its P value.

    Raises
    ------
    ValueError
        If a rule is broken (``lam_j >= 0``, ``sigma_s >= 0``, ``mu_v >= 0``,
        ``rho_j * mu_v < 1``, and likewise under Q); the message names it.

    Notes
    -----
    Eraker, Johannes & Polson (2003), J. Finance 58(3), sec. I (SVCJ); Duffie, Pan & Singleton
    (2000). ``rho_j mu_v < 1`` is needed for ``E[e^J] = exp(mu_s + sigma_s^2/2) / (1 - rho_j mu_v)``
    to be finite.

    Simulation: QE diffusion step (:func:`alvh.models.heston.qe_step`, drift ``mu - lam_j m_t kbar``),
    then ``N ~ Poisson(lam_j m_t dt)`` jumps; their variance jumps (sum of ``N`` exponentials,
    a Gamma(N, mu_v) draw) are added to ``v`` at the end of the step and their price jumps
    (``N mu_s + rho_j Z_sum + sqrt(N) sigma_s Z``) to ``ln S``. ``E_P[S_{t+dt}/S_t] = exp(mu dt)``
    exactly; placing the variance jump at the step's end rather than at a uniform time inside it
    biases ``E[int v]`` by ``O(lam_j mu_v dt)`` per year.
    """

    name = "svcj"
    has_jumps = True

    _JUMP_KEYS = ("lam_j", "mu_s", "sigma_s", "mu_v", "rho_j")

    def __init__(self, params: HestonParams, lam_j: float, mu_s: float, sigma_s: float, mu_v: float,
                 rho_j: float, lam_j_q: float | None = None, mu_s_q: float | None = None,
                 sigma_s_q: float | None = None, mu_v_q: float | None = None,
                 rho_j_q: float | None = None) -> None:
        if not isinstance(params, HestonParams):
            raise ValueError(f"params must be a HestonParams, got {type(params).__name__}")
        self.params = params
        given = dict(lam_j=lam_j, mu_s=mu_s, sigma_s=sigma_s, mu_v=mu_v, rho_j=rho_j)
        given_q = dict(lam_j=lam_j_q, mu_s=mu_s_q, sigma_s=sigma_s_q, mu_v=mu_v_q, rho_j=rho_j_q)
        for k in self._JUMP_KEYS:
            setattr(self, k, _finite(k, given[k]))
        for k in self._JUMP_KEYS:
            setattr(self, k + "_q", getattr(self, k) if given_q[k] is None else _finite(k + "_q", given_q[k]))
        for sfx in ("", "_q"):
            for k in ("lam_j", "sigma_s", "mu_v"):
                if getattr(self, k + sfx) < 0:
                    raise ValueError(f"{k + sfx} must be >= 0, got {getattr(self, k + sfx)}")
            prod = getattr(self, "rho_j" + sfx) * getattr(self, "mu_v" + sfx)
            if prod >= 1.0:
                raise ValueError(
                    f"rho_j{sfx} * mu_v{sfx} must be < 1 (else E[exp(J)] is infinite), got {prod}"
                )

    # ------------------------------------------------------------------ jump moments
    @property
    def kbar(self) -> float:
        """P compensator ``E_P[e^J] - 1 = exp(mu_s + sigma_s^2/2) / (1 - rho_j mu_v) - 1``."""
        return _svcj_kbar(self.mu_s, self.sigma_s, self.mu_v, self.rho_j)

    @property
    def theta_q_total(self) -> float:
        """Long-run Q mean of ``v`` including variance jumps: ``theta_q + lam_j_q mu_v_q / kappa_q``."""
        return self.params.theta_q + self.lam_j_q * self.mu_v_q / self.params.kappa_q

    @property
    def theta_total(self) -> float:
        """Long-run P mean of ``v``: ``theta + lam_j mu_v / kappa``."""
        return self.params.theta + self.lam_j * self.mu_v / self.params.kappa

    @property
    def b_jump(self) -> float:
        """Price-jump term of the squared VIX, ``2 lam_j_q (E_Q[e^J] - 1 - E_Q[J])``."""
        kq = _svcj_kbar(self.mu_s_q, self.sigma_s_q, self.mu_v_q, self.rho_j_q)
        return 2.0 * self.lam_j_q * (kq - (self.mu_s_q + self.rho_j_q * self.mu_v_q))

    def vix_coefficients(self) -> tuple[float, float]:
        """``(a, b')`` with ``VIX^2 / 100^2 = a v + b'``.

        Returns
        -------
        a : float
            ``(1 - exp(-kappa_q tau)) / (kappa_q tau)``, ``tau = 30/365``.
        b : float
            ``theta_q_total (1 - a) + b_jump`` (annualised variance).

        Notes
        -----
        Under Q, ``dE[v_s]/ds = kappa_q (theta_q - E[v_s]) + lam_j_q mu_v_q``, i.e. the mean
        reverts to ``theta_q_total = theta_q + lam_j_q mu_v_q / kappa_q``, so
        ``(1/tau) E_Q[int_0^tau v] = a v + theta_q_total (1 - a)``; add the price-jump term of the
        log contract (module docstring). Lin (2007), J. Futures Markets 27(12); Zhu & Lian (2012),
        J. Futures Markets 32(2).
        """
        a, _ = vix_coefficients(self.params.kappa_q, self.theta_q_total)
        return a, self.theta_q_total * (1.0 - a) + self.b_jump

    @property
    def default_var0(self) -> float:
        """Initial variance ``v0`` of the parameters (annualised)."""
        return self.params.v0

    @property
    def long_run_var(self) -> float:
        """Stationary mean of v under P, jumps included: ``theta + lam_j mu_v / kappa``."""
        return self.theta_total

    # ------------------------------------------------------------------ paths (P)
    def simulate(self, state0: State, n_steps: int, dt: float, rng: np.random.Generator,
                 intensity: np.ndarray | None = None) -> Paths:
        """Simulate P-paths (QE diffusion + simultaneous price/variance jumps).

        Parameters, returns and errors as :meth:`BatesModel.simulate`.
        """
        def jumps(c, rng):  # c co-jumps: exponential variance jumps, correlated normal log-jumps
            zv = rng.gamma(c, self.mu_v) if self.mu_v > 0 else np.zeros(c.size)
            return c * self.mu_s + self.rho_j * zv + np.sqrt(c) * self.sigma_s * rng.standard_normal(c.size), zv

        return _simulate_jump_diffusion(self, state0, n_steps, dt, rng, intensity, jumps)

    def stationary_state(self, s0: float, n_paths: int, rng: np.random.Generator) -> State:
        """Variance from a Gamma law with the stationary P mean and variance of ``v``.

        Mean ``m = theta + lam_j mu_v / kappa``; variance ``(sigma^2 m + 2 lam_j mu_v^2) / (2 kappa)``
        (set ``d E[v]`` and ``d E[v^2]`` to zero with Ito's formula for jump-diffusions). With
        ``lam_j = 0`` this is the exact CIR Gamma law (Cox, Ingersoll & Ross 1985, eq. 20); with
        jumps the first two moments are exact, the shape approximate.
        """
        p = self.params
        m = self.theta_total
        s2 = (p.sigma**2 * m + 2.0 * self.lam_j * self.mu_v**2) / (2.0 * p.kappa)
        v = rng.gamma(m * m / s2, s2 / m, size=n_paths)
        return State(np.full(n_paths, float(s0)), v, np.zeros(n_paths, np.int8))

    # ------------------------------------------------------------------ prices (Q)
    def atm_total_variance(self, var, tau, regime=None) -> np.ndarray:
        """``E_Q[int_t^{t+tau} v_s ds + sum of squared price jumps]``.

        ``tau * avg`` with the jump-augmented mean reversion (``theta_q_total``, see
        :meth:`vix_coefficients`) plus ``tau lam_j_q E_Q[J^2]``,
        ``E[J^2] = sigma_s^2 + rho_j^2 mu_v^2 + (mu_s + rho_j mu_v)^2`` (Q values).
        """
        tau = np.asarray(tau, dtype=float)
        p = self.params
        ej2 = self.sigma_s_q**2 + (self.rho_j_q * self.mu_v_q) ** 2 + (self.mu_s_q + self.rho_j_q * self.mu_v_q) ** 2
        return tau * (expected_average_variance(var, tau, p.kappa_q, self.theta_q_total) + self.lam_j_q * ej2)

    def q_moments(self, x, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Exact Q conditional mean and variance of ``v_{t+dt}`` given ``v_t = x``.

        Parameters
        ----------
        x : ndarray of shape (n_nodes,)
            Variance nodes.
        dt : float
            Horizon in years.

        Returns
        -------
        mean, var : ndarray of shape (n_nodes,)

        Notes
        -----
        For ``dv = kappa (theta - v) dt + sigma sqrt(v) dW + Z dN`` (Q values), Ito's formula gives
        ``dE[v]/dt = kappa (theta* - E[v])`` with ``theta* = theta + lam mu_v / kappa`` and
        ``dVar/dt = -2 kappa Var + sigma^2 E[v_t] + lam E[Z^2]``, ``E[Z^2] = 2 mu_v^2``, so with
        ``e = exp(-kappa dt)``::

            mean = theta* + (x - theta*) e
            var  = (sigma^2 theta* + 2 lam mu_v^2) (1 - e^2) / (2 kappa) + sigma^2 (x - theta*) (e - e^2) / kappa

        (with ``lam = 0`` the CIR moments of Andersen 2008, eqs. 17-18).
        """
        p = self.params
        kq, lam, mv = p.kappa_q, self.lam_j_q, self.mu_v_q
        th = self.theta_q_total
        x = np.asarray(x, dtype=float)
        e = math.exp(-kq * dt)
        mean = th + (x - th) * e
        var = ((p.sigma**2 * th + 2.0 * lam * mv**2) * (1.0 - e * e) / (2.0 * kq)
               + p.sigma**2 * (x - th) * (e - e * e) / kq)
        return mean, var

    def q_step(self, x, dt: float, regime: int = 0, m: int = 256):
        """One-step Q transition of ``v`` as a quadrature: CIR diffusion mixed with one jump.

        Parameters
        ----------
        x : ndarray of shape (n_nodes,)
            Variance nodes (>= 0).
        dt : float
            Step in years.
        regime : int
            Ignored (one regime).
        m : int, default 256
            Points of the no-jump branch; the jump branch has ``mc = max(8, round(sqrt(m)))``
            CIR points times 8 jump sizes.

        Returns
        -------
        x_next : ndarray of shape (n_nodes, m + 8 mc)
            No-jump points first, then the jump branch (CIR point major, jump size minor).
        weights : ndarray of shape (m + 8 mc,)
            ``(1 - p) / m`` on the no-jump points, ``p w_k / mc`` on the jump points (``w_k`` the
            Gauss-Laguerre weights); they sum to 1.

        Notes
        -----
        No jump (probability ``1 - p``): the exact CIR law of the diffusion under Q at ``m``
        mid-quantiles (:func:`alvh.models.heston.cir_quantile_step`). One jump (probability ``p``): a
        coarser CIR quadrature (``mc`` mid-quantiles) plus an exponential jump of mean ``c``
        represented by the 8-point Gauss-Laguerre rule (exact for the moments of an exponential up
        to order 15). The CIR points are moment-matched (:func:`_moment_matched`), and ``(p, c)``
        solve ``p c = M1``, ``2 p c^2 = M2``, where ``M1 = lam mu_v (1 - e^{-kappa dt}) / kappa`` is
        the exact mean added by jumps and ``M2 = Var_exact - Var_CIR + M1^2`` the second moment
        they must add (:meth:`q_moments`; it includes the extra diffusion variance after a variance
        jump, and does not depend on ``x``). So the quadrature reproduces the exact Q conditional
        mean of ``v_{t+dt}``, and its variance wherever the CIR points can be stretched to theirs
        without going below 0; for small ``lam dt``, ``p -> lam dt ~ 1 - e^{-lam dt}`` and ``c -> mu_v`` (one
        jump of the model's size), a one-jump (Bernoulli) approximation of the compound Poisson
        sum. All points are >= 0.
        """
        p = self.params
        kq, tq = p.kappa_q, p.theta_q
        x = np.asarray(x, dtype=float)
        mc = max(8, int(round(math.sqrt(m))))
        e = math.exp(-kq * dt)
        cir_mean, cir_var = _cir_moments(x, dt, kq, tq, p.sigma)
        q0, _ = cir_quantile_step(x, dt, kq, tq, p.sigma, m)
        q0 = _moment_matched(q0, cir_mean, cir_var)
        q1, _ = cir_quantile_step(x, dt, kq, tq, p.sigma, mc)
        q1 = _moment_matched(q1, cir_mean, cir_var)
        xi, wl = np.polynomial.laguerre.laggauss(8)
        m1 = self.lam_j_q * self.mu_v_q * -math.expm1(-kq * dt) / kq
        if m1 > 0.0:
            # Var_exact - Var_CIR does not depend on x (the x terms cancel), so one (p, c) serves all nodes
            _, var = self.q_moments(np.zeros(1), dt)
            m2 = float(var[0] - tq * p.sigma**2 * (1.0 - e) ** 2 / (2.0 * kq)) + m1 * m1
            pj = min(1.0, 2.0 * m1 * m1 / m2)
            c = m1 / pj
            z = np.broadcast_to(c * xi, (x.size, xi.size))
        else:
            pj = 0.0
            z = np.zeros((x.size, xi.size))
        jump_pts = (q1[:, :, None] + z[:, None, :]).reshape(x.size, mc * xi.size)
        x_next = np.concatenate((q0, jump_pts), axis=1)
        w = np.concatenate((np.full(m, (1.0 - pj) / m), np.tile(pj * wl / mc, mc)))
        return x_next, w

    def cir_q(self):
        """``None``: with variance jumps the Q variance is not a pure CIR process."""
        return None

    def q_model(self, drift: float = 0.0) -> "SvcjModel":
        """SVCJ with its Q parameters as P parameters (see :meth:`alvh.models.base.PathModel.q_model`).

        Q is defined in the module docstring and :meth:`vix_coefficients` / :meth:`q_moments`:
        diffusive variance with ``kappa_q = kappa + lam``, ``theta_q = kappa theta / kappa_q``, the
        same ``sigma`` and ``rho``, plus co-jumps with the Q law ``(lam_j_q, mu_s_q, sigma_s_q,
        mu_v_q, rho_j_q)``. The returned model has those as its P values (``lam = 0``) and SPX
        drift ``mu = drift`` (``r - q``). Its :meth:`vix` equals this model's, and its P variance
        law is the one :meth:`q_step` approximates (:meth:`q_moments` gives its exact first two
        conditional moments). Note that the simulation adds a step's variance jumps at its end
        (class docstring) while :meth:`q_moments` integrates them over the step: the one-step
        means differ by ``lam_j_q mu_v_q (dt - (1 - e^{-kappa_q dt}) / kappa_q)``, i.e. about
        ``lam_j_q mu_v_q kappa_q dt^2 / 2``.
        """
        hp = self.params.q_params(drift)
        return SvcjModel(hp, *(getattr(self, k + "_q") for k in self._JUMP_KEYS))

    # ------------------------------------------------------------------ parameters
    def to_dict(self) -> dict:
        """Flat dict of floats: Heston keys, the P jump keys, then their ``_q`` counterparts."""
        d = {k: float(v) for k, v in asdict(self.params).items()}
        for k in self._JUMP_KEYS:
            d[k] = float(getattr(self, k))
        for k in self._JUMP_KEYS:
            d[k + "_q"] = float(getattr(self, k + "_q"))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SvcjModel":
        """Inverse of :meth:`to_dict`; missing ``_q`` keys default to P. Raises ``ValueError`` on bad values."""
        try:
            hp = HestonParams(**{k: float(d[k]) for k in _HESTON_KEYS if k in d})
            jumps = {k: float(d[k]) for k in cls._JUMP_KEYS}
        except (KeyError, TypeError) as exc:
            raise ValueError(f"svcj parameters incomplete or malformed: {exc}") from None
        q = {k + "_q": float(d[k + "_q"]) for k in cls._JUMP_KEYS if d.get(k + "_q") is not None}
        return cls(hp, **jumps, **q)
