"""The GJR-GARCH(1,1) recursion: on given standardised draws for all paths at once
(:func:`simulate_gjr`), and on observed returns (:func:`gjr_filter`)."""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------------------------------------
# The GJR recursion, vectorised over paths
# ---------------------------------------------------------------------------------------------
def simulate_gjr(mu: float, omega: float, alpha: float, gamma: float, beta: float, h0,
                 z) -> tuple[np.ndarray, np.ndarray]:
    """Run the GJR-GARCH(1,1) recursion on given standardised draws, all paths at once.

    Parameters
    ----------
    mu : float
        Daily mean return, %.
    omega, alpha, gamma, beta : float
        GJR parameters (``omega`` in %^2 per day).
    h0 : float or ndarray of shape (n_paths,)
        Conditional variance of the first return, %^2 per day.
    z : ndarray of shape (n_paths, n_steps)
        Standardised innovations (mean 0, variance 1), e.g. :func:`skewt_rvs` or
        :func:`skewt_ppf` of uniforms; pass the same array to compare models or strategies with
        common random numbers.

    Returns
    -------
    returns : ndarray of shape (n_paths, n_steps)
        Daily log returns in %, ``returns[:, t] = mu + sqrt(h[:, t]) z[:, t]``.
    h : ndarray of shape (n_paths, n_steps + 1)
        Conditional variances, %^2 per day: ``h[:, t]`` is the variance of ``returns[:, t]`` and
        ``h[:, n_steps]`` the forecast for the day after the last; ``h[:, 0] == h0``.

    Raises
    ------
    ValueError
        If ``z`` is not 2-D or ``h0`` does not broadcast to ``(n_paths,)``.

    Notes
    -----
    ``h_{t+1} = omega + alpha eps_t^2 + gamma eps_t^2 1{eps_t < 0} + beta h_t``,
    ``eps_t = sqrt(h_t) z_t`` (Glosten, Jagannathan & Runkle 1993), evaluated in the same
    order of operations as ``arch.univariate.GARCH(p=1, o=1, q=1).simulate`` so that the two agree
    to rounding for the same draws.
    """
    z = np.asarray(z, dtype=float)
    if z.ndim != 2:
        raise ValueError(f"z must have shape (n_paths, n_steps), got {z.shape}")
    eps_t, h_t = _gjr_time_major(omega, alpha, gamma, beta, h0, np.ascontiguousarray(z.T))
    return np.ascontiguousarray(eps_t.T) + mu, np.ascontiguousarray(h_t.T)


def _gjr_time_major(omega, alpha, gamma, beta, h0, zt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The recursion on time-major draws ``zt`` (n_steps, n_paths): ``(eps, h)`` time-major.

    Row ``t`` of each array is contiguous, which makes the per-day loop cache-friendly.
    """
    n_steps, n = zt.shape
    h = np.empty((n_steps + 1, n))
    eps = np.empty((n_steps, n))
    h[0] = np.broadcast_to(np.asarray(h0, dtype=float), (n,))
    for t in range(n_steps):
        # same order of operations as arch.univariate.GARCH.simulate (power = 2)
        e = zt[t] * np.sqrt(h[t])
        eps[t] = e
        e2 = e * e
        h[t + 1] = omega + alpha * e2 + gamma * e2 * (e < 0) + beta * h[t]
    return eps, h


def gjr_filter(returns_pct, mu: float, omega: float, alpha: float, gamma: float, beta: float,
               h1: float) -> np.ndarray:
    """Conditional variances of observed returns, ``h_1..h_{n+1}`` (%^2 per day).

    Parameters
    ----------
    returns_pct : ndarray of shape (n,)
        Observed daily log returns, %.
    mu, omega, alpha, gamma, beta : float
        GJR parameters.
    h1 : float
        Variance of the first return (e.g. ``arch``'s backcast).

    Returns
    -------
    ndarray of shape (n + 1,)
        ``out[t]`` is the variance of ``returns_pct[t]``; ``out[n]`` the one-step forecast after
        the last return.
    """
    r = np.asarray(returns_pct, dtype=float)
    h = np.empty(r.size + 1)
    h[0] = h1
    for t in range(r.size):
        e = r[t] - mu
        e2 = e * e
        h[t + 1] = omega + alpha * e2 + gamma * e2 * (e < 0) + beta * h[t]
    return h
