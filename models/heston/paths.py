"""Heston paths by Andersen's (2008) QE scheme with martingale correction: :func:`simulate_qe` (the
compiled kernels of :mod:`alvh.models.kernels`, or the vectorised NumPy reference) and its one step,
:func:`qe_step`."""

from __future__ import annotations

import numpy as np
from scipy import special


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
