"""Stochastic volatility with jumps: Bates (SVJ) and SVCJ path models, reference prices, calibration.

Two extensions of :mod:`alvh.models.heston` (same ``HestonParams`` for the diffusive part, same QE
scheme for it):

**Bates (1996)** -- lognormal jumps in the log price, independent of the variance::

    dS_t / S_{t-} = (mu - lam_j kbar) dt + sqrt(v_t) dW^S_t + (e^J - 1) dN_t,
    dv_t          = kappa (theta - v_t) dt + sigma sqrt(v_t) dW^v_t,      d<W^S, W^v> = rho dt,
    J ~ N(mu_j, sigma_j^2),   N Poisson with intensity lam_j,   kbar = E[e^J] - 1.

**SVCJ** (Duffie, Pan & Singleton 2000, who call it SVJJ; Eraker, Johannes & Polson 2003) --
simultaneous jumps in price and variance with one intensity ``lam_j``::

    dS_t / S_{t-} = (mu - lam_j kbar) dt + sqrt(v_t) dW^S_t + (e^J - 1) dN_t,
    dv_t          = kappa (theta - v_t) dt + sigma sqrt(v_t) dW^v_t + Z_v dN_t,
    Z_v ~ Exp(mean mu_v),   J | Z_v ~ N(mu_s + rho_j Z_v, sigma_s^2),
    kbar = E[e^J] - 1 = exp(mu_s + sigma_s^2 / 2) / (1 - rho_j mu_v) - 1     (needs rho_j mu_v < 1).

Measures. Paths are simulated under P with ``E_P[S_{t+dt} / S_t] = exp(mu dt)`` (the jump
compensator ``lam_j kbar`` is in the drift). Prices use Q: the diffusive variance follows Heston's
market price of variance risk (``kappa_q = kappa + lam``, ``theta_q = kappa theta / kappa_q``,
:class:`alvh.models.heston.HestonParams`), and the jump law under Q has its own parameters
(``lam_j_q, mu_j_q, sigma_j_q`` for Bates; ``lam_j_q, mu_s_q, sigma_s_q, mu_v_q, rho_j_q`` for SVCJ),
which default to the P values (no jump risk premium) unless given. Under Q the drift is ``r - q``.

Model VIX (both models affine). From the CBOE definition,
``VIX^2 = -(2 / tau) E_Q[ln(S_tau / F)]`` with ``tau = 30/365`` (CBOE VIX white paper;
Demeterfi, Derman, Kamal & Zou 1999), and Ito's formula for a jump-diffusion::

    VIX^2 / 100^2 = (1/tau) E_Q[int_0^tau v_s ds] + 2 lam_j_q (E_Q[e^J] - 1 - E_Q[J]).

The second term is the jump correction of the log contract (Carr & Wu 2009, RFS 22(3);
Duan & Yeh 2010, JEDC 34(11), for Bates-type price jumps; Lin 2007, J. Futures Markets 27(12),
and Zhu & Lian 2012, J. Futures Markets 32(2), for SVCJ).

Units: time in years, variance annualised, rates continuously compounded, log-jump sizes in log
points (``mu_j = -0.05`` is a -4.9% move), ``mu_v`` in annualised variance. Array order
``(path, time)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict

import numpy as np
from scipy import differentiate, optimize, special

from alvh.models.base import AffineVix, FitReport, Paths, PathModel, State
from alvh.models.calibration import returns_and_vix2
from alvh.models.heston import (
    gil_pelaez_call,
    VIX_TAU,
    _cir_moments,
    _moment_matched,
    FellerConditionWarning,
    HestonParams,
    cir_quantile_step,
    expected_average_variance,
    qe_step,
    vix_coefficients,
)

__all__ = [
    "KAPPA_Q_MIN",
    "BatesModel",
    "SvcjModel",
    "bates_characteristic_function",
    "bates_call_price",
    "svcj_characteristic_function",
    "svcj_call_price",
    "calibrate_bates",
    "calibrate_svcj",
]

_HESTON_KEYS = ("v0", "kappa", "theta", "sigma", "rho", "mu", "lam")


# ================================================================================================
# small helpers
# ================================================================================================


def _finite(name: str, value) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _intensity_path(intensity, n_steps: int) -> np.ndarray:
    """Validated jump-intensity multipliers of shape (n_steps,) (ones when ``None``)."""
    if intensity is None:
        return np.ones(n_steps)
    mult = np.asarray(intensity, dtype=float)
    if mult.shape != (n_steps,):
        raise ValueError(f"intensity must have shape ({n_steps},), got {mult.shape}")
    if not np.all(np.isfinite(mult)) or np.any(mult < 0):
        raise ValueError("intensity multipliers must be finite and >= 0")
    return mult


def _check_state(state0: State, n_steps: int, dt: float) -> None:
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be > 0, got {dt}")
    if np.any(np.asarray(state0.var) < 0):
        raise ValueError("state0.var must be >= 0")


def _simulate_jump_diffusion(model, state0: State, n_steps: int, dt: float, rng: np.random.Generator,
                             intensity, jumps) -> Paths:
    """QE diffusion (:func:`alvh.models.heston.qe_step`) plus compound-Poisson jumps, for Bates and SVCJ.

    Each step draws the two QE normals, then the Poisson counts at intensity
    ``lam_j * intensity[t]``; ``jumps(c, rng)`` returns the summed log-price jumps and the summed
    variance jumps (or ``None``) of the paths with ``c >= 1`` jumps. The drift is compensated by
    ``lam_j * intensity[t] * kbar`` so that ``E_P[S_{t+dt} / S_t] = exp(mu dt)``.
    """
    _check_state(state0, n_steps, dt)
    mult = _intensity_path(intensity, n_steps)
    p = model.params
    n = state0.n_paths
    spot = np.empty((n, n_steps + 1))
    var = np.empty((n, n_steps + 1))
    spot[:, 0] = state0.spot
    var[:, 0] = state0.var
    log_s = np.log(np.asarray(state0.spot, dtype=float))
    v = np.asarray(state0.var, dtype=float).copy()
    kbar = model.kbar
    for t in range(n_steps):
        lam_t = model.lam_j * mult[t]
        z = rng.standard_normal((2, n))
        log_s, v = qe_step(log_s, v, z[0], z[1], p.kappa, p.theta, p.sigma, p.rho, p.mu - lam_t * kbar, dt)
        if lam_t > 0.0:
            cnt = rng.poisson(lam_t * dt, n)
            k = np.flatnonzero(cnt)
            if k.size:
                d_log_s, d_v = jumps(cnt[k], rng)
                if d_v is not None:
                    v[k] += d_v
                log_s[k] += d_log_s
        spot[:, t + 1] = np.exp(log_s)
        var[:, t + 1] = v
    return Paths(spot, var, model.vix(var), np.zeros(spot.shape, np.int8))


# ================================================================================================
# characteristic functions and reference prices
# ================================================================================================


def _heston_parts(w, t, kappa, theta, sigma, rho):
    """Heston log-CF pieces at ``w = i u`` (complex): ``(C, D, d, g, K)`` with ``ln phi = w x + C + D v``.

    Albrecher et al. (2007) "little trap" form, with ``beta - d`` written as
    ``sigma^2 (w^2 - w) / (beta + d)`` (same value, no cancellation near ``u = 0``):
    ``beta = kappa - rho sigma w``, ``d = sqrt(beta^2 - sigma^2 (w^2 - w))``,
    ``g = (beta - d) / (beta + d)``, ``K = (beta - d) / sigma^2``,
    ``D(t) = K (1 - e^{-dt}) / (1 - g e^{-dt})``,
    ``C(t) = kappa theta [K t - (2 / sigma^2) ln((1 - g e^{-dt}) / (1 - g))]``.
    """
    beta = kappa - rho * sigma * w
    d = np.sqrt(beta * beta - sigma * sigma * (w * w - w))
    bpd = beta + d
    k_ = (w * w - w) / bpd                # (beta - d) / sigma^2
    g = sigma * sigma * k_ / bpd          # (beta - d) / (beta + d)
    edt = np.exp(-d * t)
    c = kappa * theta * (k_ * t - 2.0 / sigma**2 * np.log((1.0 - g * edt) / (1.0 - g)))
    dd = k_ * (1.0 - edt) / (1.0 - g * edt)
    return c, dd, d, g, k_


def _lognormal_kbar(mu_j: float, sigma_j: float) -> float:
    """``E[e^J] - 1`` for ``J ~ N(mu_j, sigma_j^2)``."""
    return math.expm1(mu_j + 0.5 * sigma_j**2)


def bates_characteristic_function(u, t, s0, r, q, v0, kappa, theta, sigma, rho, lam_j, mu_j, sigma_j):
    """Characteristic function ``E_Q[exp(i u ln S_t)]`` of the Bates (1996) model.

    Parameters
    ----------
    u : complex or ndarray of complex
        Argument (``u - 1j`` for the share-measure probability).
    t : float
        Maturity in years.
    s0, r, q : float
        Spot, rate, dividend yield (continuously compounded).
    v0, kappa, theta, sigma, rho : float
        Heston parameters under Q.
    lam_j, mu_j, sigma_j : float
        Jump intensity (per year), mean and sd of the log-jump under Q.

    Returns
    -------
    complex ndarray, shape of ``u``

    Notes
    -----
    Bates (1996), RFS 9(1), appendix: the Heston CF (little-trap form, :func:`_heston_parts`)
    times the compound-Poisson factor
    ``exp(lam_j t (exp(i u mu_j - u^2 sigma_j^2 / 2) - 1) - i u lam_j kbar t)``,
    ``kbar = exp(mu_j + sigma_j^2/2) - 1`` (the compensator keeping ``S e^{-(r-q)t}`` a martingale).
    """
    w = 1j * np.asarray(u, dtype=complex)
    c, dd, *_ = _heston_parts(w, t, kappa, theta, sigma, rho)
    kbar = _lognormal_kbar(mu_j, sigma_j)
    jump = lam_j * t * (np.exp(w * mu_j + 0.5 * w * w * sigma_j**2) - 1.0 - w * kbar)
    return np.exp(w * (math.log(s0) + (r - q) * t) + c + dd * v0 + jump)


def _svcj_jump_integral(w, t, d, g, k_, dd_t, mu_s, sigma_s, mu_v, rho_j):
    """``int_0^t (E[exp(w J + D(s) Z_v)] - 1) ds`` for the SVCJ jump law, in closed form.

    With ``c = w rho_j``, ``y = e^{-ds}`` and ``D(s) = K (1 - y) / (1 - g y)``,
    ``E[exp(w J + D Z)] = exp(w mu_s + w^2 sigma_s^2 / 2) / (1 - (c + D) mu_v)`` and
    ``1 / (1 - (c + D) mu_v) = (1 - g y) / (A0 + A1 y)``, ``A0 = 1 - (c + K) mu_v``,
    ``A1 = K mu_v - g (1 - c mu_v)``, so

        I = int_0^t ds / (1 - (c + D(s)) mu_v) = t / A0 + K mu_v (1 - g) L / (A0 A1 d),
        L = ln[(A0 + A1 e^{-dt}) / (A0 + A1)]
          = ln[(1 - g e^{-dt}) / (1 - g)] + ln[(1 - (c + D(t)) mu_v) / (1 - c mu_v)],

    the logarithm split into the Heston factor and a factor of positive real part (no branch
    crossing). ``L / A1`` is taken to first order when ``|A1|`` is tiny. This is the integral in
    Duffie, Pan & Singleton (2000, Econometrica 68(6), SVJJ example) done by partial fractions.
    """
    c = w * rho_j
    a0 = 1.0 - (c + k_) * mu_v
    a1 = k_ * mu_v - g * (1.0 - c * mu_v)
    edt = np.exp(-d * t)
    small = np.abs(a1) < 1e-12 * np.maximum(np.abs(a0), 1.0)
    a1s = np.where(small, 1.0, a1)
    log_ratio = np.log((1.0 - g * edt) / (1.0 - g)) + np.log((1.0 - (c + dd_t) * mu_v) / (1.0 - c * mu_v))
    l_over_a1 = np.where(small, (edt - 1.0) / (a0 + a1), log_ratio / a1s)
    integral = t / a0 + k_ * mu_v * (1.0 - g) * l_over_a1 / (a0 * d)
    return np.exp(w * mu_s + 0.5 * w * w * sigma_s**2) * integral - t


def _svcj_kbar(mu_s, sigma_s, mu_v, rho_j):
    """``E[e^J] - 1`` for the SVCJ price jump: ``exp(mu_s + sigma_s^2/2) / (1 - rho_j mu_v) - 1``."""
    return math.exp(mu_s + 0.5 * sigma_s**2) / (1.0 - rho_j * mu_v) - 1.0


def svcj_characteristic_function(u, t, s0, r, q, v0, kappa, theta, sigma, rho,
                                 lam_j, mu_s, sigma_s, mu_v, rho_j):
    """Characteristic function ``E_Q[exp(i u ln S_t)]`` of the SVCJ model.

    Parameters
    ----------
    u : complex or ndarray of complex
        Argument.
    t : float
        Maturity in years.
    s0, r, q : float
        Spot, rate, dividend yield.
    v0, kappa, theta, sigma, rho : float
        Diffusive Heston parameters under Q.
    lam_j, mu_s, sigma_s, mu_v, rho_j : float
        Common jump intensity (per year); price log-jump ``J | Z_v ~ N(mu_s + rho_j Z_v, sigma_s^2)``;
        variance jump ``Z_v ~ Exp(mean mu_v)``. Requires ``rho_j mu_v < 1``.

    Returns
    -------
    complex ndarray, shape of ``u``

    Notes
    -----
    Affine transform of Duffie, Pan & Singleton (2000), sec. 2: the variance
    coefficient solves Heston's Riccati equation (jumps of constant intensity leave it
    unchanged), and the constant term gains
    ``lam_j int_0^t (E[exp(i u J + D(s) Z_v)] - 1) ds - i u lam_j kbar t``, integrated in closed
    form by :func:`_svcj_jump_integral` (Broadie, Chernov & Johannes 2007, J. Finance 62(3),
    appendix, give the same expression).
    """
    w = 1j * np.asarray(u, dtype=complex)
    c, dd, d, g, k_ = _heston_parts(w, t, kappa, theta, sigma, rho)
    kbar = _svcj_kbar(mu_s, sigma_s, mu_v, rho_j)
    jump = lam_j * (_svcj_jump_integral(w, t, d, g, k_, dd, mu_s, sigma_s, mu_v, rho_j) - w * kbar * t)
    return np.exp(w * (math.log(s0) + (r - q) * t) + c + dd * v0 + jump)


def bates_call_price(s0: float, strike: float, tau: float, r: float, q: float, v0: float, kappa: float,
                     theta: float, sigma: float, rho: float, lam_j: float, mu_j: float, sigma_j: float) -> float:
    """European call under Bates (1996) by Fourier inversion (reference, scalar).

    Parameters
    ----------
    s0, strike : float
        Spot and strike (same money units).
    tau : float
        Maturity in years.
    r, q : float
        Rate and dividend yield, continuously compounded.
    v0, kappa, theta, sigma, rho : float
        Heston parameters under Q.
    lam_j, mu_j, sigma_j : float
        Q jump intensity (per year), mean and sd of the log-jump.

    Returns
    -------
    float
        Call price in the units of ``s0``.

    Notes
    -----
    Bates (1996), RFS 9(1), appendix: Gil-Pelaez probabilities ``P1, P2`` from
    :func:`bates_characteristic_function`, the same integration as
    :func:`alvh.models.heston.heston_call_price`. With ``lam_j = 0`` it is the Heston price; with
    ``sigma -> 0`` and ``v0 = theta`` it tends to Merton's (1976) jump-diffusion price.
    """
    args = (tau, s0, r, q, v0, kappa, theta, sigma, rho, lam_j, mu_j, sigma_j)
    return gil_pelaez_call(lambda u: bates_characteristic_function(u, *args), s0, strike, tau, r, q)


def svcj_call_price(s0: float, strike: float, tau: float, r: float, q: float, v0: float, kappa: float,
                    theta: float, sigma: float, rho: float, lam_j: float, mu_s: float, sigma_s: float,
                    mu_v: float, rho_j: float) -> float:
    """European call under SVCJ by Fourier inversion of its closed-form CF (reference, scalar).

    Parameters
    ----------
    s0, strike, tau, r, q : float
        As :func:`bates_call_price`.
    v0, kappa, theta, sigma, rho : float
        Diffusive Heston parameters under Q.
    lam_j, mu_s, sigma_s, mu_v, rho_j : float
        Q jump parameters (see :func:`svcj_characteristic_function`).

    Returns
    -------
    float

    Notes
    -----
    Duffie, Pan & Singleton (2000) transform (:func:`svcj_characteristic_function`, closed form,
    no ODE solver), inverted as in Heston (1993). ``mu_v = 0`` gives Bates with
    ``(mu_j, sigma_j) = (mu_s, sigma_s)``; ``lam_j = 0`` gives Heston.
    """
    args = (tau, s0, r, q, v0, kappa, theta, sigma, rho, lam_j, mu_s, sigma_s, mu_v, rho_j)
    return gil_pelaez_call(lambda u: svcj_characteristic_function(u, *args), s0, strike, tau, r, q)


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


# ================================================================================================
# calibration: joint QML on daily returns and the VIX-implied variance
# ================================================================================================

# Transformed coordinates (both models): x[0] = mu, x[1:4] = log(kappa, theta, sigma),
# x[4] = atanh(rho), x[5] = log(kappa_q), x[6] = log(lam_j); then the jump law:
#   Bates: x[7] = mu_j, x[8] = +-sigma_j (sigma_j = |x[8]|)
#   SVCJ:  x[7] = mu_s, x[8] = +-sigma_s, x[9] = log(mu_v), x[10] = rho_j
# The jump sds enter the likelihood squared, so |x| is smooth there and keeps sigma -> 0 an
# interior point (a log transform makes it a flat direction that traps Nelder-Mead).

#: Lower bound on kappa_q (per year) in the calibrations. The VIX-implied-state likelihood can
#: prefer a Q variance without mean reversion (a -> 1 in VIX^2 = a v + b), where only
#: kappa_q theta_q = kappa theta is identified; the fit then stops at this floor.
KAPPA_Q_MIN = 0.01

_LOG2PI = math.log(2.0 * math.pi)
_IX_KQ = 5


def _lognorm(x, s2):
    """Log density of N(0, s2) at x."""
    return -0.5 * (_LOG2PI + np.log(s2) + x * x / s2)


def _common(x):
    """Heston block of the transformed vector -> natural parameters (broadcastable arrays)."""
    mu = x[0]
    kappa = np.exp(x[1])
    theta = np.exp(x[2])
    sigma = np.exp(x[3])
    rho = np.tanh(x[4])
    kappa_q = np.exp(x[5])
    theta_q = kappa * theta / kappa_q
    return mu, kappa, theta, sigma, rho, kappa_q, theta_q


def _bates_unpack(x):
    mu, kappa, theta, sigma, rho, kappa_q, theta_q = _common(x)
    return mu, kappa, theta, sigma, rho, kappa_q, theta_q, np.exp(x[6]), x[7], np.abs(x[8])


def _svcj_unpack(x):
    mu, kappa, theta, sigma, rho, kappa_q, theta_q = _common(x)
    return (mu, kappa, theta, sigma, rho, kappa_q, theta_q, np.exp(x[6]), x[7], np.abs(x[8]),
            np.exp(x[9]), x[10])


def _vix_a(kappa_q):
    z = kappa_q * VIX_TAU
    return -np.expm1(-z) / z


def _bates_negloglik(x, r, vix2, dt):
    """Negative log-likelihood of the Bates joint QML.

    Parameters
    ----------
    x : ndarray of shape (9,) or (9, *batch)
        Transformed parameters (see the comment above :data:`KAPPA_Q_MIN`).
    r : ndarray of shape (n,)
        Daily log-returns.
    vix2 : ndarray of shape (n + 1,)
        ``(VIX / 100)^2``.
    dt : float
        Years per observation.

    Returns
    -------
    ndarray of shape () or batch
        ``+inf`` where inadmissible (a VIX-implied variance <= 0, ``lam_j dt >= 1``,
        ``kappa_q < KAPPA_Q_MIN``).
    """
    x = np.asarray(x, dtype=float)
    mu, kappa, theta, sigma, rho, kappa_q, theta_q, lam_j, mu_j, sigma_j = (
        np.expand_dims(p, -1) for p in _bates_unpack(x))
    a = _vix_a(kappa_q)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        kbar = np.expm1(mu_j + 0.5 * sigma_j**2)
        b = theta_q * (1.0 - a) + 2.0 * lam_j * (kbar - mu_j)
        v = (vix2 - b) / a
        v0, v1 = v[..., :-1], v[..., 1:]
        pj = lam_j * dt
        e1 = r - (mu - lam_j * kbar - 0.5 * v0) * dt
        e2 = v1 - (v0 + kappa * (theta - v0) * dt)
        s2 = sigma**2 * v0 * dt
        s1 = (1.0 - rho**2) * v0 * dt
        x1 = e1 - rho / sigma * e2
        l_nojump = np.log1p(-pj) + _lognorm(x1, s1)
        l_jump = np.log(pj) + _lognorm(x1 - mu_j, s1 + sigma_j**2)
        ll = _lognorm(e2, s2) + np.logaddexp(l_nojump, l_jump) - np.log(a)
        total = ll.sum(axis=-1)
    bad = ((v.min(axis=-1) <= 0.0) | ~np.isfinite(total) | (pj[..., 0] >= 1.0)
           | (kappa_q[..., 0] < KAPPA_Q_MIN))
    return np.where(bad, np.inf, -total)


def _svcj_negloglik(x, r, vix2, dt):
    """Negative log-likelihood of the SVCJ joint QML; ``x`` of shape (11,) or (11, *batch).

    As :func:`_bates_negloglik`, also ``+inf`` where ``rho_j mu_v >= 1``.
    """
    x = np.asarray(x, dtype=float)
    (mu, kappa, theta, sigma, rho, kappa_q, theta_q, lam_j, mu_s, sigma_s, mu_v, rho_j) = (
        np.expand_dims(p, -1) for p in _svcj_unpack(x))
    a = _vix_a(kappa_q)
    one_m = 1.0 - rho_j * mu_v
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        kbar = np.exp(mu_s + 0.5 * sigma_s**2) / one_m - 1.0
        b = (theta_q + lam_j * mu_v / kappa_q) * (1.0 - a) + 2.0 * lam_j * (kbar - mu_s - rho_j * mu_v)
        v = (vix2 - b) / a
        v0, v1 = v[..., :-1], v[..., 1:]
        pj = lam_j * dt
        e1 = r - (mu - lam_j * kbar - 0.5 * v0) * dt
        e2 = v1 - (v0 + kappa * (theta - v0) * dt)
        s2 = sigma**2 * v0 * dt
        s1 = (1.0 - rho**2) * v0 * dt
        beta = rho / sigma
        # no jump: (e1, e2) bivariate normal, factored as e2 and e1 | e2
        l_nojump = np.log1p(-pj) + _lognorm(e2, s2) + _lognorm(e1 - beta * e2, s1)
        # one jump: integrate Z ~ Exp(mu_v) out of
        # N(e2 - Z; s2) N(e1 - mu_s - rho_j Z - beta (e2 - Z); s1 + sigma_s^2)
        s1j = s1 + sigma_s**2
        x1 = e1 - mu_s - beta * e2
        c = rho_j - beta
        prec = 1.0 / s2 + c * c / s1j
        bz = e2 / s2 + c * x1 / s1j - 1.0 / mu_v
        l_jump = (np.log(pj) - np.log(mu_v) - 0.5 * _LOG2PI - 0.5 * np.log(s1j * s2) - 0.5 * np.log(prec)
                  - 0.5 * e2 * e2 / s2 - 0.5 * x1 * x1 / s1j + 0.5 * bz * bz / prec
                  + special.log_ndtr(bz / np.sqrt(prec)))
        ll = np.logaddexp(l_nojump, l_jump) - np.log(a)
        total = ll.sum(axis=-1)
    bad = ((v.min(axis=-1) <= 0.0) | ~np.isfinite(total) | (pj[..., 0] >= 1.0) | (one_m[..., 0] <= 0.0)
           | (kappa_q[..., 0] < KAPPA_Q_MIN))
    return np.where(bad, np.inf, -total)


def _nelder_mead(f, x0, max_runs: int = 4):
    """Adaptive Nelder-Mead restarted from its best point until a run gains < 1e-3 (deterministic)."""
    best_x = np.asarray(x0, dtype=float)
    best_f = float(f(best_x))
    with warnings.catch_warnings():
        # inadmissible points score +inf; Nelder-Mead's convergence test then subtracts inf
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(max_runs):
            res = optimize.minimize(f, best_x, method="Nelder-Mead",
                                    options={"maxfev": 2500 * best_x.size, "xatol": 1e-7, "fatol": 1e-7,
                                             "adaptive": True})
            gain = best_f - float(res.fun)
            if res.fun < best_f:
                best_x, best_f = np.asarray(res.x), float(res.fun)
            if not gain >= 1e-3:
                break
    return best_x, best_f


def _embed(y, x_fixed, free):
    """Full transformed vector(s) from the free coordinates ``y`` of shape (k_free,) or (k_free, *batch)."""
    y = np.asarray(y, dtype=float)
    out = np.empty((free.size,) + y.shape[1:])
    out[free] = y
    out[~free] = np.reshape(x_fixed[~free], (-1,) + (1,) * (y.ndim - 1))
    return out


def _fit(f, starts):
    """Best Nelder-Mead optimum over admissible ``starts``; profile out ``kappa_q`` at its floor.

    Returns
    -------
    x : ndarray
        Transformed optimum.
    fx : float
        Negative log-likelihood there.
    free : ndarray of bool
        Coordinates estimated in the interior (``False`` for ``kappa_q`` at :data:`KAPPA_Q_MIN`).
    """
    best_x, best_f = None, np.inf
    for x0 in starts:
        x0 = np.array(x0, dtype=float)
        for _ in range(12):  # halve the jump intensity until the start is admissible
            if np.isfinite(f(x0)):
                break
            x0[6] -= math.log(2.0)
        if not np.isfinite(f(x0)):
            continue
        x, fx = _nelder_mead(f, x0)
        if fx < best_f:
            best_x, best_f = x, fx
    if best_x is None:
        raise ValueError("calibration found no parameters with a positive VIX-implied variance path")
    free = np.ones(best_x.size, dtype=bool)
    if best_x[_IX_KQ] < math.log(KAPPA_Q_MIN) + 0.02:
        free[_IX_KQ] = False
        x_fixed = best_x.copy()
        x_fixed[_IX_KQ] = math.log(KAPPA_Q_MIN)
        g = lambda y: f(_embed(y, x_fixed, free))  # noqa: E731
        if np.isfinite(g(best_x[free])):
            y, fy = _nelder_mead(g, best_x[free])
            best_x, best_f = _embed(y, x_fixed, free), fy
    return best_x, best_f, free


def _hessian_stderr(f, x, free, scales, natural):
    """Delta-method standard errors of ``natural(x)`` from the numerical Hessian of ``f``.

    The Hessian is taken over the free coordinates only, each scaled by ``scales`` (so a step
    of 0.01 is small for every coordinate), with ``scipy.differentiate.hessian`` (initial step
    0.01, then 0.002 and 0.0005 if a step leaves the admissible region). Returns
    ``(stderr array, note)``; all ``nan`` and a note when the Hessian is not finite, not
    positive definite or has a condition number above 1e10. Fixed coordinates contribute no
    variance (their SEs are conditional on them).
    """
    n_nat = natural(x).size
    nan = np.full(n_nat, np.nan)
    s = np.asarray(scales, dtype=float)[free]
    x_free = x[free]

    def h(y):
        y = np.asarray(y, dtype=float)
        return f(_embed(x_free.reshape((-1,) + (1,) * (y.ndim - 1)) + s.reshape((-1,) + (1,) * (y.ndim - 1)) * y,
                        x, free))

    hy = None
    for step in (0.01, 0.002, 0.0005):  # smaller steps when a step leaves the admissible region
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)  # inf at inadmissible trial points
                res = differentiate.hessian(h, np.zeros(x_free.size), initial_step=step, order=4, maxiter=3)
        except Exception:  # noqa: BLE001 -- scipy raises several types on non-finite evaluations
            continue
        if np.all(np.isfinite(res.ddf)):
            hy = np.asarray(res.ddf, dtype=float)
            break
    if hy is None:
        return nan, "Hessian not finite (the optimum is at the edge of the admissible region)"
    hy = 0.5 * (hy + hy.T)
    eig = np.linalg.eigvalsh(hy)
    if eig.min() <= 0 or eig.max() / eig.min() > 1e10:
        return nan, f"Hessian not positive definite or ill-conditioned (eigenvalues {eig.min():.3g} .. {eig.max():.3g})"
    cov_free = np.linalg.inv(hy) * np.outer(s, s)
    eps = 1e-6
    jac = np.empty((n_nat, x_free.size))
    for j, i in enumerate(np.flatnonzero(free)):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        jac[:, j] = (natural(xp) - natural(xm)) / (2 * eps)
    return np.sqrt(np.clip(np.diag(jac @ cov_free @ jac.T), 0.0, None)), None


def _heston_start(r, vix2, dt):
    """Start of the diffusive block, as :func:`alvh.models.calibration.calibrate_heston` picks it."""
    rv = float(r.var() / dt)
    kq0 = 1.0
    a0, _ = vix_coefficients(kq0, 1.0)
    theta_q0 = min(0.5 * vix2.min() / (1.0 - a0), 0.5)
    kappa0 = kq0 * theta_q0 / rv
    return [r.mean() / dt + 0.5 * rv, math.log(kappa0), math.log(rv), math.log(0.7), math.atanh(-0.7),
            math.log(kq0)]


_METHOD = ("joint QML on daily SPX log-returns and the VIX-implied variance (Ait-Sahalia & Kimmel 2007, "
           "JFE 83, sec. 4), Euler transition with a Bernoulli(lam_j dt) one-jump mixture "
           "(Ball & Torous 1983, JFQA 18(1)); Nelder-Mead, SEs from the numerical Hessian")

_COMMON_NOTES = [
    "Q jump parameters set equal to P (no jump risk premium); the variance risk premium is "
    "Heston's lam (kappa_q = kappa + lam, theta_q = kappa theta / kappa_q)",
    "at most one jump a day (Bernoulli(lam_j dt) mixture); Euler transition of the diffusion; "
    "standard errors are quasi-ML (inverse Hessian), not sandwich-robust",
]


def _se_map(names, se, free) -> dict:
    """Standard errors by name; ``kappa_q``'s is ``nan`` when it sits at its floor (the rest are conditional on it)."""
    out = dict(zip(names, (float(v) for v in se)))
    if not free[_IX_KQ]:
        out["kappa_q"] = float("nan")
    return out


def _finish_notes(notes, free, se_note, kappa, theta):
    if not free[_IX_KQ]:
        notes.append(
            f"kappa_q is at its lower bound {KAPPA_Q_MIN} (the likelihood rises as kappa_q -> 0, i.e. "
            f"VIX^2 ~ v + const); only kappa_q theta_q = kappa theta = {kappa * theta:.4g} is identified, "
            "so theta_q is not meaningful on its own; standard errors are conditional on kappa_q. "
            "This also happened on a synthetic SVCJ path with kappa_q = 2, so it can be an artefact of "
            "the Euler quasi-likelihood rather than a feature of the data; it implies steep Q drift "
            "of the variance (VIX futures contango)")
    if se_note:
        notes.append("standard errors unavailable: " + se_note)
    return notes


def calibrate_bates(spx: np.ndarray, vix: np.ndarray, dt: float = 1.0 / 252.0, start: str = "",
                    end: str = "") -> tuple[BatesModel, FitReport]:
    """Fit the Bates model's P and Q parameters to aligned daily SPX and VIX closes.

    Parameters
    ----------
    spx : ndarray of shape (n,)
        SPX closes (index points), one per trading day, n >= 60.
    vix : ndarray of shape (n,)
        VIX closes (points) on the same days.
    dt : float, default 1/252
        Years per observation.
    start, end : str
        Sample dates, recorded in the report only.

    Returns
    -------
    model : BatesModel
        Fitted model; ``v0`` is the variance implied by the last VIX; Q jump parameters equal P.
    report : FitReport
        ``params`` = ``model.to_dict()`` plus ``kappa_q, theta_q``; quasi-ML standard errors
        (``nan`` for ``v0``, the ``_q`` jump copies, and all when the Hessian is unusable).

    Raises
    ------
    ValueError
        Arrays not 1-D of equal length >= 60, non-positive or non-finite values, or no admissible
        parameters found.

    Notes
    -----
    With the model VIX of :meth:`BatesModel.vix`, each VIX close gives the state
    ``v_t = (VIX_t^2 - b - b_jump) / a`` (the option-implied-state approach of Ait-Sahalia &
    Kimmel 2007, JFE 83, sec. 4, as in :func:`alvh.models.calibration.calibrate_heston`). Given ``v_t``
    the daily pair ``(r_{t+1}, v_{t+1})`` has the Euler law of the Heston diffusion (bivariate
    normal, covariance ``v_t dt [[1, rho sigma], [rho sigma, sigma^2]]``, return mean
    ``(mu - lam_j kbar - v_t/2) dt``), mixed with probability ``lam_j dt`` with the same law whose
    return is shifted by an ``N(mu_j, sigma_j^2)`` jump (Ball & Torous 1983's Bernoulli jump
    approximation); ``- log a`` is the Jacobian from ``VIX^2`` to ``v``. Nelder-Mead from three
    starts in an unconstrained transform; standard errors by the delta method on the inverse
    numerical Hessian (``scipy.differentiate.hessian``).
    """
    r, vix2 = returns_and_vix2(spx, vix)
    f = lambda x: _bates_negloglik(x, r, vix2, dt)  # noqa: E731
    base = _heston_start(r, vix2, dt)
    starts = [base + [math.log(lam0), mu0, sj0]
              for lam0, mu0, sj0 in ((3.0, -0.02, 0.02), (15.0, -0.005, 0.015), (0.8, -0.04, 0.04))]
    x, fx, free = _fit(f, starts)

    def natural(xx):
        mu, kappa, theta, sigma, rho, kappa_q, theta_q, lam_j, mu_j, sigma_j = (float(p) for p in _bates_unpack(xx))
        return np.array([mu, kappa, theta, sigma, rho, kappa_q - kappa, lam_j, mu_j, sigma_j, kappa_q, theta_q])

    names = ("mu", "kappa", "theta", "sigma", "rho", "lam", "lam_j", "mu_j", "sigma_j", "kappa_q", "theta_q")
    se, se_note = _hessian_stderr(f, x, free, (0.1, 1, 1, 1, 1, 1, 1, 0.01, 0.01), natural)
    mu, kappa, theta, sigma, rho, lam, lam_j, mu_j, sigma_j, kappa_q, theta_q = natural(x)
    a, b = vix_coefficients(kappa_q, theta_q)
    bj = 2.0 * lam_j * (_lognormal_kbar(mu_j, sigma_j) - mu_j)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        hp = HestonParams(v0=float((vix2[-1] - b - bj) / a), kappa=kappa, theta=theta, sigma=sigma, rho=rho,
                          mu=mu, lam=lam)
    model = BatesModel(hp, lam_j, mu_j, sigma_j)
    params = model.to_dict()
    params.update(kappa_q=kappa_q, theta_q=theta_q)
    se_map = _se_map(names, se, free)
    notes = list(_COMMON_NOTES) + [
        "v0 is the variance implied by the last VIX close; the VIX-implied variance uses the "
        "model VIX including its jump term 2 lam_j (E[e^J] - 1 - E[J])",
        f"Feller ratio 2 kappa theta / sigma^2 = {hp.feller_ratio:.3f}",
    ]
    report = FitReport(model="bates", params=params, stderr={k: se_map.get(k, float("nan")) for k in params},
                       loglik=-float(fx), n_obs=int(r.size), n_params=9, method=_METHOD,
                       sample=f"{start} .. {end}" if (start or end) else "",
                       notes=_finish_notes(notes, free, se_note, kappa, theta))
    return model, report


def calibrate_svcj(spx: np.ndarray, vix: np.ndarray, dt: float = 1.0 / 252.0, start: str = "",
                   end: str = "") -> tuple[SvcjModel, FitReport]:
    """Fit the SVCJ model's P and Q parameters to aligned daily SPX and VIX closes.

    Parameters, returns and errors as :func:`calibrate_bates` (with :class:`SvcjModel`).

    Notes
    -----
    As :func:`calibrate_bates`, with the SVCJ model VIX (:meth:`SvcjModel.vix_coefficients`) and
    a jump branch in which the exponential variance jump ``Z_v`` enters the implied-variance
    increment and, through ``rho_j``, the return. Given ``v_t`` the one-jump density of the
    Euler residuals ``(e_r, e_v)`` is

        int_0^inf mu_v^-1 e^{-z/mu_v} N(e_v - z; s_v) N(e_r - mu_s - rho_j z - beta (e_v - z); s_r|v + sigma_s^2) dz

    with ``beta = rho / sigma``, ``s_v = sigma^2 v_t dt``, ``s_r|v = (1 - rho^2) v_t dt``: a
    Gaussian in ``z`` times an exponential, integrated over ``z >= 0`` in closed form with the
    normal cdf (a two-dimensional exponentially modified Gaussian). ``rho_j mu_v < 1`` is
    enforced.
    """
    r, vix2 = returns_and_vix2(spx, vix)
    f = lambda x: _svcj_negloglik(x, r, vix2, dt)  # noqa: E731
    base = _heston_start(r, vix2, dt)
    starts = [base + [math.log(lam0), ms0, ss0, math.log(mv0), rj0]
              for lam0, ms0, ss0, mv0, rj0 in ((3.0, -0.01, 0.015, 0.02, -0.5), (10.0, -0.002, 0.01, 0.01, -1.0),
                                              (1.0, -0.02, 0.02, 0.05, 0.0))]
    x, fx, free = _fit(f, starts)

    def natural(xx):
        (mu, kappa, theta, sigma, rho, kappa_q, theta_q, lam_j, mu_s, sigma_s, mu_v, rho_j) = (
            float(p) for p in _svcj_unpack(xx))
        return np.array([mu, kappa, theta, sigma, rho, kappa_q - kappa, lam_j, mu_s, sigma_s, mu_v, rho_j,
                         kappa_q, theta_q])

    names = ("mu", "kappa", "theta", "sigma", "rho", "lam", "lam_j", "mu_s", "sigma_s", "mu_v", "rho_j",
             "kappa_q", "theta_q")
    se, se_note = _hessian_stderr(f, x, free, (0.1, 1, 1, 1, 1, 1, 1, 0.01, 0.01, 1, 0.1), natural)
    mu, kappa, theta, sigma, rho, lam, lam_j, mu_s, sigma_s, mu_v, rho_j, kappa_q, theta_q = natural(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        hp = HestonParams(v0=0.0, kappa=kappa, theta=theta, sigma=sigma, rho=rho, mu=mu, lam=lam)
        a, b = SvcjModel(hp, lam_j, mu_s, sigma_s, mu_v, rho_j).vix_coefficients()
        hp = hp.with_v0(float((vix2[-1] - b) / a))
    model = SvcjModel(hp, lam_j, mu_s, sigma_s, mu_v, rho_j)
    params = model.to_dict()
    params.update(kappa_q=kappa_q, theta_q=theta_q)
    se_map = _se_map(names, se, free)
    notes = list(_COMMON_NOTES) + [
        "v0 is the variance implied by the last VIX close; the VIX-implied variance uses the SVCJ "
        "model VIX (jump-augmented Q mean reversion level and price-jump term)",
        f"long-run P variance theta + lam_j mu_v / kappa = {model.theta_total:.4g}; Feller ratio of "
        f"the diffusion 2 kappa theta / sigma^2 = {hp.feller_ratio:.3f}",
    ]
    report = FitReport(model="svcj", params=params, stderr={k: se_map.get(k, float("nan")) for k in params},
                       loglik=-float(fx), n_obs=int(r.size), n_params=11, method=_METHOD,
                       sample=f"{start} .. {end}" if (start or end) else "",
                       notes=_finish_notes(notes, free, se_note, kappa, theta))
    return model, report
