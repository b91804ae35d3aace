"""Heston stochastic-volatility model: parameters, QE path simulation, model VIX, reference prices.

The model (Heston 1993) under a measure M with drift ``drift``::

    dS_t / S_t = drift dt + sqrt(v_t) dW^S_t
    dv_t       = kappa (theta - v_t) dt + sigma sqrt(v_t) dW^v_t,   d<W^S, W^v> = rho dt

Paths are simulated under the real-world measure P (drift ``mu``); prices are computed under the
pricing measure Q, reached through Heston's market price of variance risk ``lam``::

    kappa_Q = kappa + lam,      theta_Q = kappa theta / (kappa + lam)

(Heston 1993, eq. 6; the risk premium is ``lam * v``, so ``kappa theta`` is the same under P and Q).
A negative ``lam`` makes Q-variance revert to a higher level, i.e. implied variance (VIX^2) above
expected realized variance.

Units: time in years, variance annualised (0.04 = 20% vol), rates continuously compounded.
Array order is ``(path, time)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import integrate, special, stats

from alvh.models.base import Paths, PathModel, State

__all__ = [
    "VIX_TAU",
    "FellerConditionWarning",
    "HestonParams",
    "simulate_qe",
    "qe_step",
    "expected_average_variance",
    "vix_coefficients",
    "model_vix",
    "variance_from_vix",
    "cir_transition",
    "vix_futures_exact",
    "vix_call_exact",
    "heston_call_price",
    "gil_pelaez_call",
    "HestonModel",
    "cir_quantile_step",
]

#: The VIX's 30-calendar-day horizon in years (CBOE VIX white paper).
VIX_TAU = 30.0 / 365.0


class FellerConditionWarning(UserWarning):
    """Raised as a warning when 2 kappa theta < sigma^2: the variance can touch zero.

    The QE scheme stays accurate in that case (Andersen 2008, sec. 3); the warning only flags it.
    """


@dataclass(frozen=True)
class HestonParams:
    """Heston parameters under P, plus the market price of variance risk that defines Q.

    Parameters
    ----------
    v0 : float
        Initial variance (annualised), > 0 allowed to be 0.
    kappa : float
        Mean-reversion speed of variance under P, per year, > 0.
    theta : float
        Long-run variance under P (annualised), > 0.
    sigma : float
        Volatility of variance ("vol of vol"), > 0.
    rho : float
        Correlation between price and variance shocks, in (-1, 1).
    mu : float, default 0.0
        Expected log-price drift plus half variance under P, i.e. ``E_P[dS/S] = mu dt``, per year.
    lam : float, default 0.0
        Market price of variance risk (Heston 1993, eq. 6); ``kappa + lam`` must be > 0.

    Raises
    ------
    ValueError
        If a parameter breaks its rule; the message states the rule and the value.

    Warns
    -----
    FellerConditionWarning
        If ``2 kappa theta < sigma**2``.
    """

    v0: float
    kappa: float
    theta: float
    sigma: float
    rho: float
    mu: float = 0.0
    lam: float = 0.0

    def __post_init__(self) -> None:
        for name in ("v0", "kappa", "theta", "sigma", "rho", "mu", "lam"):
            value = getattr(self, name)
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        if self.v0 < 0:
            raise ValueError(f"v0 must be >= 0, got {self.v0}")
        if self.kappa <= 0:
            raise ValueError(f"kappa must be > 0, got {self.kappa}")
        if self.theta <= 0:
            raise ValueError(f"theta must be > 0, got {self.theta}")
        if self.sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")
        if not -1.0 < self.rho < 1.0:
            raise ValueError(f"rho must be in (-1, 1), got {self.rho}")
        if self.kappa + self.lam <= 0:
            raise ValueError(
                f"kappa + lam (kappa under Q) must be > 0, got {self.kappa} + {self.lam}"
            )
        if 2.0 * self.kappa * self.theta < self.sigma**2:
            warnings.warn(
                f"Feller condition violated: 2*kappa*theta = {2 * self.kappa * self.theta:.4g} "
                f"< sigma^2 = {self.sigma ** 2:.4g}; variance can reach 0",
                FellerConditionWarning,
                stacklevel=3,
            )

    @property
    def kappa_q(self) -> float:
        """Mean-reversion speed under Q, ``kappa + lam``."""
        return self.kappa + self.lam

    @property
    def theta_q(self) -> float:
        """Long-run variance under Q, ``kappa theta / (kappa + lam)``."""
        return self.kappa * self.theta / (self.kappa + self.lam)

    @property
    def feller_ratio(self) -> float:
        """``2 kappa theta / sigma^2`` (the same under P and Q); below 1 the variance can hit 0."""
        return 2.0 * self.kappa * self.theta / self.sigma**2

    def q_params(self, drift: float = 0.0) -> "HestonParams":
        """The Q parameters as P parameters: ``kappa_q``, ``theta_q``, the same ``sigma`` and ``rho``,
        ``lam = 0`` and drift ``mu = drift`` (``r - q``); silent about Feller (Heston 1993, eq. 6)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)
            return HestonParams(v0=self.v0, kappa=self.kappa_q, theta=self.theta_q, sigma=self.sigma, rho=self.rho,
                                mu=float(drift), lam=0.0)

    def with_v0(self, v0: float) -> "HestonParams":
        """A copy with another initial variance."""
        d = asdict(self)
        d["v0"] = float(v0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)
            return HestonParams(**d)

    def to_dict(self) -> dict[str, float]:
        """Parameters (P and derived Q) as plain floats, for metadata."""
        d = {k: float(v) for k, v in asdict(self).items()}
        d.update(kappa_q=self.kappa_q, theta_q=self.theta_q, feller_ratio=self.feller_ratio)
        return d


def simulate_qe(
    s0: float | np.ndarray,
    v0: float | np.ndarray,
    kappa: float,
    theta: float,
    sigma: float,
    rho: float,
    drift: float,
    dt: float,
    n_steps: int,
    *,
    normals: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    n_paths: int | None = None,
    psi_c: float = 1.5,
    antithetic: bool = False,
    engine: str = "numba",
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate Heston paths with Andersen's QE scheme and martingale correction.

    Parameters
    ----------
    s0 : float or ndarray of shape (n_paths,)
        Initial price (index points).
    v0 : float or ndarray of shape (n_paths,)
        Initial variance (annualised).
    kappa, theta, sigma, rho : float
        Variance dynamics under the simulation measure.
    drift : float
        ``E[S_{t+dt} / S_t] = exp(drift * dt)`` exactly, thanks to the martingale correction
        (``mu`` under P, ``r - q`` under Q), per year.
    dt : float
        Step in years (1/252 for daily steps).
    n_steps : int
        Number of steps.
    normals : ndarray of shape (n_paths, n_steps, 2), optional
        Independent standard normal draws: ``[..., 0]`` drives the variance, ``[..., 1]`` the
        price. Pass them to use common random numbers; otherwise they are drawn from ``rng``.
    rng : numpy.random.Generator, optional
        Source of draws when ``normals`` is not given (then ``n_paths`` is required).
    n_paths : int, optional
        Number of paths when drawing from ``rng``.
    psi_c : float, default 1.5
        Switching threshold between the quadratic and exponential branches.
    antithetic : bool, default False
        Antithetic pairs: paths ``n/2 .. n-1`` use the negated normals of paths ``0 .. n/2-1``
        (path ``j`` pairs with ``j + n/2``). Drawing from ``rng``, ``n_paths`` must be even and
        ``rng.standard_normal((n_paths // 2, n_steps, 2))`` is drawn; with ``normals`` of shape
        ``(m, n_steps, 2)``, the paths are driven by ``[normals, -normals]`` (``2 m`` paths).
    engine : {"numba", "numpy"}, default "numba"
        ``"numba"``: the compiled kernels of :mod:`alvh.models.kernels` (draws from a ``Generator``
        made inside compiled code: the same numbers in the same order; another ``rng``, such as
        a ``RandomState``, is drawn from in NumPy);
        ``"numpy"``: the vectorised reference below. Both give the same paths up to rounding:
        relative differences of order 1e-14 (libm's and NumPy's ``log`` differ in the last bit
        now and then; the compiled loop sums a Taylor series for ``log(1 - 2 A a)``).

    Returns
    -------
    spot : ndarray of shape (n_paths, n_steps + 1)
        Price paths, ``spot[:, 0] == s0``.
    variance : ndarray of shape (n_paths, n_steps + 1)
        Variance paths, ``variance[:, 0] == v0``; never negative.

    Raises
    ------
    ValueError
        If neither ``normals`` nor ``rng`` and ``n_paths`` are given, shapes disagree,
        ``engine`` is not ``"numba"`` or ``"numpy"``, or ``antithetic`` is asked with an odd
        ``n_paths``.

    Notes
    -----
    Andersen, L. (2008), "Simple and efficient simulation of the Heston stochastic volatility
    model", J. Computational Finance 11(3). Variance step: eqs. (23), (25)-(27) with the moments
    of eq. (17)-(18); log-price step: eq. (33) with gamma_1 = gamma_2 = 1/2; martingale
    correction: Proposition 9 (K0*), applied where ``A < 1/(2a)`` (quadratic) or ``A < beta``
    (exponential). The exponential branch's uniform is ``Phi(Z_v)`` so that one normal array
    drives both branches.
    """
    if engine not in ("numba", "numpy"):
        raise ValueError(f"engine must be 'numba' or 'numpy', got {engine!r}")
    if normals is None:
        if rng is None or n_paths is None:
            raise ValueError("pass either normals, or rng and n_paths")
        if antithetic and n_paths % 2:
            raise ValueError(f"antithetic sampling needs an even n_paths, got {n_paths}")
        if engine == "numba" and isinstance(rng, np.random.Generator):
            from alvh.models.kernels import simulate_heston_qe

            return simulate_heston_qe(s0, v0, kappa, theta, sigma, rho, drift, dt, n_steps, n_paths=n_paths,
                                      rng=rng, antithetic=antithetic, psi_c=psi_c)
        if antithetic:
            half = rng.standard_normal((n_paths // 2, n_steps, 2))
            normals = np.concatenate([half, -half])
        else:
            normals = rng.standard_normal((n_paths, n_steps, 2))
    elif antithetic:
        normals = np.asarray(normals, dtype=float)
        normals = np.concatenate([normals, -normals])
    normals = np.asarray(normals, dtype=float)
    if normals.ndim != 3 or normals.shape[1] != n_steps or normals.shape[2] != 2:
        raise ValueError(
            f"normals must have shape (n_paths, {n_steps}, 2), got {normals.shape}"
        )
    n = normals.shape[0]
    if engine == "numba":
        from alvh.models.kernels import heston_qe_kernel

        spot = np.empty((n, n_steps + 1))
        var = np.empty((n, n_steps + 1))
        heston_qe_kernel(s0, v0, kappa, theta, sigma, rho, drift, dt, normals, psi_c, spot, var)
        return spot, var
    log_s = np.empty((n, n_steps + 1))
    var = np.empty((n, n_steps + 1))
    log_s[:, 0] = np.log(s0)
    var[:, 0] = v0
    for t in range(n_steps):
        log_s[:, t + 1], var[:, t + 1] = qe_step(
            log_s[:, t], var[:, t], normals[:, t, 0], normals[:, t, 1],
            kappa, theta, sigma, rho, drift, dt, psi_c,
        )
    spot = np.exp(log_s)
    spot[:, 0] = s0  # exactly, not exp(log(s0))
    return spot, var


def qe_step(log_s, v, zv, zs, kappa, theta, sigma, rho, drift, dt: float, psi_c: float = 1.5):
    """One QE step of Andersen (2008) with martingale correction, vectorised over paths.

    Parameters
    ----------
    log_s, v : ndarray of shape (n_paths,)
        Log-price and variance at the start of the step.
    zv, zs : ndarray of shape (n_paths,)
        Independent standard normals driving the variance and the price.
    kappa, theta, sigma, rho, drift : float or ndarray of shape (n_paths,)
        Model parameters; arrays give each path its own (as in a regime-switching model).
    dt : float
        Step in years.
    psi_c : float, default 1.5
        Switching threshold between the quadratic and exponential branches.

    Returns
    -------
    log_s_next, v_next : ndarray of shape (n_paths,)

    Notes
    -----
    Equations as listed in :func:`simulate_qe`.
    """
    e = np.exp(-kappa * dt)
    c1 = sigma**2 * e * (1.0 - e) / kappa
    c2 = theta * sigma**2 * (1.0 - e) ** 2 / (2.0 * kappa)
    k0 = -rho * kappa * theta * dt / sigma
    k1 = 0.5 * dt * (kappa * rho / sigma - 0.5) - rho / sigma
    k2 = 0.5 * dt * (kappa * rho / sigma - 0.5) + rho / sigma
    k3 = 0.5 * dt * (1.0 - rho**2)
    k4 = k3
    big_a = k2 + 0.5 * k4
    m = theta + (v - theta) * e
    s2 = v * c1 + c2
    psi = s2 / (m * m)
    quad = psi <= psi_c
    # quadratic branch (psi <= psi_c); the np.where guards keep the unused branch finite
    psi_q = np.where(quad, psi, 1.0)
    inv = 2.0 / psi_q
    b2 = inv - 1.0 + np.sqrt(inv) * np.sqrt(inv - 1.0)
    a = m / (1.0 + b2)
    v_quad = a * (np.sqrt(b2) + zv) ** 2
    # exponential branch (psi > psi_c)
    psi_e = np.where(quad, 2.0, psi)
    p = (psi_e - 1.0) / (psi_e + 1.0)
    beta = (1.0 - p) / m
    one_minus_u = special.ndtr(-zv)
    u = 1.0 - one_minus_u
    v_exp = np.where(u <= p, 0.0, np.log((1.0 - p) / np.maximum(one_minus_u, 1e-300)) / beta)
    v_next = np.where(quad, v_quad, v_exp)
    # martingale correction, Andersen (2008) Prop. 9
    with np.errstate(invalid="ignore", divide="ignore"):
        k0_quad = -big_a * b2 * a / (1.0 - 2.0 * big_a * a) + 0.5 * np.log(1.0 - 2.0 * big_a * a)
        k0_exp = -np.log(p + beta * (1.0 - p) / (beta - big_a))
    ok = np.where(quad, 2.0 * big_a * a < 1.0, big_a < beta)
    k0_star = np.where(ok, np.where(quad, k0_quad, k0_exp) - (k1 + 0.5 * k3) * v, k0)
    log_s_next = log_s + drift * dt + k0_star + k1 * v + k2 * v_next + np.sqrt(k3 * v + k4 * v_next) * zs
    return log_s_next, v_next


def expected_average_variance(
    v: np.ndarray | float, tau: np.ndarray | float, kappa: float, theta: float
) -> np.ndarray:
    """Expected average variance over ``[t, t + tau]``: ``E[(1/tau) int_t^{t+tau} v_s ds | v_t]``.

    Parameters
    ----------
    v : float or ndarray
        Current variance (annualised).
    tau : float or ndarray
        Horizon in years, broadcastable against ``v``; ``tau = 0`` gives ``v``.
    kappa, theta : float
        Mean reversion and long-run variance of the measure the expectation is taken under.

    Returns
    -------
    ndarray
        ``theta + (v - theta) (1 - exp(-kappa tau)) / (kappa tau)`` (annualised variance).

    Notes
    -----
    Time average of the CIR mean ``theta + (v - theta) exp(-kappa s)`` (Cox, Ingersoll & Ross
    1985); with ``tau = 30/365`` under Q this is the squared Heston VIX (Zhang & Zhu 2006, eq. 6).
    """
    v = np.asarray(v, dtype=float)
    x = kappa * np.asarray(tau, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(x > 1e-8, -np.expm1(-x) / np.where(x > 1e-8, x, 1.0), 1.0 - 0.5 * x)
    return theta + (v - theta) * w


def vix_coefficients(kappa_q: float, theta_q: float, tau: float = VIX_TAU) -> tuple[float, float]:
    """Coefficients ``(a, b)`` of the Heston VIX: ``VIX^2 / 100^2 = a v + b`` under Q.

    Returns
    -------
    a : float
        ``(1 - exp(-kappa_q tau)) / (kappa_q tau)``, dimensionless.
    b : float
        ``theta_q (1 - a)``, annualised variance.

    Notes
    -----
    Zhang, J. E. & Zhu, Y. (2006), "VIX futures", J. Futures Markets 26(6), eq. (6).
    """
    x = kappa_q * tau
    a = -math.expm1(-x) / x
    return a, theta_q * (1.0 - a)


def model_vix(v: np.ndarray | float, kappa_q: float, theta_q: float) -> np.ndarray:
    """Model VIX in index points (e.g. 15.0) from the variance under Q.

    Parameters
    ----------
    v : float or ndarray, any shape
        Spot variance (annualised).
    kappa_q, theta_q : float
        Q-dynamics of the variance.

    Returns
    -------
    ndarray, same shape as ``v``
        ``100 sqrt(a v + b)`` with ``(a, b)`` from :func:`vix_coefficients`.
    """
    a, b = vix_coefficients(kappa_q, theta_q)
    return 100.0 * np.sqrt(a * np.asarray(v, dtype=float) + b)


def variance_from_vix(vix: np.ndarray | float, kappa_q: float, theta_q: float) -> np.ndarray:
    """Invert :func:`model_vix`: the spot variance implied by a VIX level (points).

    Returns
    -------
    ndarray
        ``((vix/100)^2 - b) / a``; negative where the VIX is below the model's floor ``100 sqrt(b)``.
    """
    a, b = vix_coefficients(kappa_q, theta_q)
    return ((np.asarray(vix, dtype=float) / 100.0) ** 2 - b) / a


def cir_transition(
    v: np.ndarray | float, tau: np.ndarray | float, kappa: float, theta: float, sigma: float
) -> tuple[np.ndarray, float | np.ndarray, np.ndarray]:
    """Parameters of the CIR transition law ``v_{t+tau} | v_t = scale * chi'^2(df, nc)``.

    Returns
    -------
    scale : ndarray
        ``sigma^2 (1 - exp(-kappa tau)) / (4 kappa)``.
    df : float
        ``4 kappa theta / sigma^2`` degrees of freedom.
    nc : ndarray
        Noncentrality ``v exp(-kappa tau) / scale``.

    Notes
    -----
    Cox, Ingersoll & Ross (1985), eq. (18); as used by Andersen (2008), eq. (8).
    """
    tau = np.asarray(tau, dtype=float)
    scale = sigma**2 * -np.expm1(-kappa * tau) / (4.0 * kappa)
    df = 4.0 * kappa * theta / sigma**2
    nc = np.asarray(v, dtype=float) * np.exp(-kappa * tau) / scale
    return scale, df, nc


def _vix_expectation(v, tau, params: HestonParams, payoff) -> float:
    """``E_Q[payoff(VIX_{t+tau}) | v_t = v]`` by adaptive quadrature over the CIR density."""
    kq, tq = params.kappa_q, params.theta_q
    a, b = vix_coefficients(kq, tq)
    if tau <= 0:
        return float(payoff(100.0 * math.sqrt(a * v + b)))
    scale, df, nc = cir_transition(v, tau, kq, tq, params.sigma)
    if nc > 1e9:
        # tau so short that v_T is v_t up to ~1e-9 relative: scipy's ncx2.ppf overflows there
        mean = tq + (v - tq) * math.exp(-kq * tau)
        return float(payoff(100.0 * math.sqrt(a * mean + b)))
    law = stats.ncx2(df, float(nc), scale=float(scale))

    def integrand(u):
        # integrate in probability space: no density singularity at 0 when df < 2
        x = law.ppf(u)
        return payoff(100.0 * math.sqrt(a * x + b))

    val, _ = integrate.quad(integrand, 0.0, 1.0, limit=400, epsabs=1e-10, epsrel=1e-9)
    return float(val)


def vix_futures_exact(v: float, tau: float, params: HestonParams) -> float:
    """Heston VIX futures price ``E_Q[VIX_{t+tau} | v_t = v]`` in index points.

    Parameters
    ----------
    v : float
        Spot variance at t (annualised).
    tau : float
        Time to the futures' expiry in years.
    params : HestonParams
        Model; the Q-dynamics (``kappa_q``, ``theta_q``, ``sigma``) are used.

    Returns
    -------
    float
        Futures price (VIX points). Exact up to quadrature error (~1e-9 relative).

    Notes
    -----
    Zhang & Zhu (2006), eq. (9): the integral of ``100 sqrt(a x + b)`` against the noncentral
    chi-square law of ``v_{t+tau}`` (:func:`cir_transition`). Computed in probability space,
    ``int_0^1 g(F^{-1}(u)) du``, with scipy's quadrature and ``ncx2.ppf``. A reference
    implementation: slow (milliseconds), scalar.
    """
    return _vix_expectation(v, tau, params, lambda x: x)


def vix_call_exact(v: float, tau: float, strike: float, params: HestonParams, rate: float = 0.0) -> float:
    """Heston VIX call price ``exp(-r tau) E_Q[(VIX_{t+tau} - K)^+ | v_t = v]`` (VIX points).

    Parameters
    ----------
    v : float
        Spot variance (annualised).
    tau : float
        Time to expiry in years.
    strike : float
        Strike in VIX points.
    params : HestonParams
        Model (Q-dynamics used).
    rate : float, default 0
        Continuously compounded discount rate.

    Notes
    -----
    Same integral as :func:`vix_futures_exact` with the call payoff (Zhang & Zhu 2006, sec. 4;
    Lian & Zhu 2013 give the Fourier form of the same expectation).
    """
    return math.exp(-rate * tau) * _vix_expectation(v, tau, params, lambda x: max(x - strike, 0.0))


def _heston_cf(u, t, s0, r, q, v0, kappa, theta, sigma, rho):
    """Characteristic function of ln S_t, Albrecher et al. (2007) "little trap" form."""
    iu = 1j * u
    beta = kappa - rho * sigma * iu
    d = np.sqrt(beta**2 + sigma**2 * (iu + u**2))
    g = (beta - d) / (beta + d)
    edt = np.exp(-d * t)
    c = kappa * theta / sigma**2 * ((beta - d) * t - 2.0 * np.log((1.0 - g * edt) / (1.0 - g)))
    dd = (beta - d) / sigma**2 * (1.0 - edt) / (1.0 - g * edt)
    return np.exp(iu * (math.log(s0) + (r - q) * t) + c + dd * v0)


def gil_pelaez_call(cf, s0: float, strike: float, t: float, r: float, q: float) -> float:
    """European call ``C = S e^{-qt} P1 - K e^{-rt} P2`` from the characteristic function of ``ln S_t``.

    Parameters
    ----------
    cf : callable
        ``u -> E[exp(i u ln S_t)]`` under the pricing measure, for complex ``u``.
    s0, strike : float
        Spot and strike (same money units).
    t : float
        Maturity in years.
    r, q : float
        Rate and dividend yield, continuously compounded.

    Returns
    -------
    float
        Call price in the units of ``s0``.

    Notes
    -----
    Gil-Pelaez inversion of the two probabilities (Heston 1993, eqs. 10 and 18); ``P1`` uses the
    share measure ``cf(u - i) / cf(-i)``. Integrals by ``scipy.integrate.quad``.
    """
    lk = math.log(strike)
    phi_mi = cf(-1j)  # = S0 e^{(r-q)t} for a martingale-compensated model

    def f1(u):
        return (np.exp(-1j * u * lk) * cf(u - 1j) / (1j * u * phi_mi)).real

    def f2(u):
        return (np.exp(-1j * u * lk) * cf(u) / (1j * u)).real

    i1, _ = integrate.quad(f1, 1e-12, np.inf, limit=500, epsabs=1e-12)
    i2, _ = integrate.quad(f2, 1e-12, np.inf, limit=500, epsabs=1e-12)
    p1 = 0.5 + i1 / math.pi
    p2 = 0.5 + i2 / math.pi
    return float(s0 * math.exp(-q * t) * p1 - strike * math.exp(-r * t) * p2)


def heston_call_price(
    s0: float,
    strike: float,
    t: float,
    r: float,
    q: float,
    v0: float,
    kappa: float,
    theta: float,
    sigma: float,
    rho: float,
) -> float:
    """European call price under Heston by Fourier inversion (reference, scalar).

    Parameters
    ----------
    s0, strike : float
        Spot and strike (same money units).
    t : float
        Maturity in years.
    r, q : float
        Rate and dividend yield, continuously compounded.
    v0, kappa, theta, sigma, rho : float
        Heston parameters under the pricing measure.

    Returns
    -------
    float
        Call price in the units of ``s0``.

    Notes
    -----
    ``C = S e^{-qT} P_1 - K e^{-rT} P_2`` with the probabilities by Gil-Pelaez inversion
    (Heston 1993, eqs. 10 and 18), the characteristic function written in the "little Heston
    trap" form of Albrecher, Mayer, Schoutens & Tistaert (2007), eq. (2), which is continuous in
    the complex logarithm. Integrals by ``scipy.integrate.quad``.
    """
    args = (t, s0, r, q, v0, kappa, theta, sigma, rho)
    return gil_pelaez_call(lambda u: _heston_cf(u, *args), s0, strike, t, r, q)


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


def _cir_moments(x, dt, kappa, theta, sigma):
    """CIR conditional mean and variance of ``v_{t+dt}`` given ``v_t = x`` (Andersen 2008, eqs. 17-18)."""
    e = math.exp(-kappa * dt)
    x = np.asarray(x, dtype=float)
    return (theta + (x - theta) * e,
            x * sigma**2 * e * (1.0 - e) / kappa + theta * sigma**2 * (1.0 - e) ** 2 / (2.0 * kappa))


def _moment_matched(q: np.ndarray, mean, var=None) -> np.ndarray:
    """Adjust each row of equal-weight quadrature points ``q`` to a given mean (and variance).

    Mid-quantiles of a right-skewed law understate its mean (the top bucket's tail is cut off):
    by up to ~0.2% for daily CIR steps, several % when ``4 kappa theta / sigma^2 < 1`` and
    ``v ~ 0``; they also understate the variance. The points are first scaled so their mean is
    ``mean`` (keeps them >= 0), then, if ``var`` is given, stretched about the mean by
    ``sqrt(var / var_q)``, the stretch capped so that no point goes below 0 (so the variance is
    exact wherever that is possible; points are only stretched, never shrunk).

    Parameters
    ----------
    q : ndarray of shape (n_nodes, m)
    mean, var : ndarray of shape (n_nodes,)

    Returns
    -------
    ndarray of shape (n_nodes, m)
    """
    mean = np.asarray(mean, dtype=float)
    qm = q.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = q * np.where(qm > 0, mean / qm, 1.0)[:, None]
        if var is None:
            return q
        dev = q - mean[:, None]
        vq = (dev * dev).mean(axis=1)
        stretch = np.where(vq > 0, np.sqrt(np.asarray(var, dtype=float) / vq), 1.0)
        lowest = dev.min(axis=1)
        cap = np.where(lowest < 0, mean / -lowest, np.inf)
        stretch = np.clip(np.minimum(stretch, cap), 1.0, None)
    return np.maximum(mean[:, None] + dev * stretch[:, None], 0.0)  # the cap leaves at most -1 ulp


def cir_quantile_step(x, dt: float, kappa: float, theta: float, sigma: float, m: int = 256):
    """CIR transition ``v_{t+dt} | v_t = x`` at ``m`` mid-quantiles, for :meth:`PathModel.q_step`.

    Returns
    -------
    x_next : ndarray of shape (n_nodes, m)
        ``F^{-1}((j + 1/2) / m)`` of the scaled noncentral chi-square law (:func:`cir_transition`),
        then scaled to the exact conditional mean (:func:`_moment_matched`; mid-quantiles alone
        understate it by up to 0.2%). The variance is left a little low on purpose: the linear
        mass splitting of :class:`alvh.pricing.MarkovVixTable` adds variance back.
    weights : ndarray of shape (m,)
        ``1 / m`` each.
    """
    x = np.asarray(x, dtype=float)
    u = (np.arange(m) + 0.5) / m
    scale, df, nc = cir_transition(x, dt, kappa, theta, sigma)
    big = nc > 1e9
    with np.errstate(all="ignore"):
        q = special.chndtrix(u[None, :], df, np.where(big, 0.0, nc)[:, None]) * scale
    mean, _ = _cir_moments(x, dt, kappa, theta, sigma)
    q = np.where(big[:, None], mean[:, None], q)
    return _moment_matched(q, mean), np.full(m, 1.0 / m)
