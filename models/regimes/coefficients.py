"""Expected integrated variance of the regime-switching CIR variance (the model VIX coefficients).

The cumulative mean-recursion tables over whole daily steps and the affine coefficients
``a(tau, r) v + b(tau, r)`` read from them for any horizon, including a fractional last step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alvh.models.regimes.transition import STEP_DT


def _g(kappa, u):
    """``int_0^u exp(-kappa s) ds = (1 - exp(-kappa u)) / kappa``, elementwise."""
    return -np.expm1(-kappa * u) / kappa


@dataclass
class _IntegralTables:
    """Cumulative tables of the regime-switching CIR mean recursion, for ``k = 0..K`` steps.

    ``iv[k, r]``, ``ic[k, r]``: ``E[int_0^{kh} v_s ds | v_0 = v, r_0 = r] = iv v + ic``.
    ``pv[k, j, r]``, ``pc[k, j, r]``, ``pp[k, j, r]``: after ``k`` full steps and the switch that
    starts step ``k + 1``: ``E[v_{kh} 1{regime of step k+1 = j}] = pv v + pc`` and
    ``Pr(regime of step k+1 = j)``.
    """

    iv: np.ndarray
    ic: np.ndarray
    pv: np.ndarray
    pc: np.ndarray
    pp: np.ndarray


def _build_tables(n_steps: int, kappa, theta, transition, h: float) -> _IntegralTables:
    kappa = np.asarray(kappa, dtype=float)
    theta = np.asarray(theta, dtype=float)
    pt = np.asarray(transition, dtype=float).T
    r = kappa.size
    e = np.exp(-kappa * h)[:, None]
    g = _g(kappa, h)[:, None]
    th = theta[:, None]
    iv = np.zeros((n_steps + 1, r))
    ic = np.zeros((n_steps + 1, r))
    pv = np.empty((n_steps + 1, r, r))
    pc = np.empty((n_steps + 1, r, r))
    pp = np.empty((n_steps + 1, r, r))
    mv, mc, p = np.eye(r), np.zeros((r, r)), np.eye(r)
    for k in range(n_steps + 1):
        pv[k] = pt @ mv
        pc[k] = pt @ mc
        pp[k] = pt @ p
        if k == n_steps:
            break
        # exact integral of the CIR mean over the step, regime j in force
        iv[k + 1] = iv[k] + (g * pv[k]).sum(axis=0)
        ic[k + 1] = ic[k] + (g * pc[k] + th * (h - g) * pp[k]).sum(axis=0)
        mv = e * pv[k]
        mc = e * pc[k] + th * (1.0 - e) * pp[k]
        p = pp[k]
    return _IntegralTables(iv, ic, pv, pc, pp)


def regime_integral_coefficients(tau, kappa, theta, transition, h: float = STEP_DT, regime=None):
    """Expected integrated variance of a regime-switching CIR variance, affine in the spot variance.

    ``E[int_t^{t+tau} v_s ds | v_t = v, r_t = r] = a(tau, r) v + b(tau, r)``, where the regime
    switches at the start of each step of length ``h`` (first switch at ``t``) and ``v`` follows
    the mean of regime ``j``'s CIR dynamics ``theta_j + (m - theta_j) exp(-kappa_j u)`` within a step.

    Parameters
    ----------
    tau : float or ndarray
        Horizon in years, >= 0.
    kappa, theta : ndarray of shape (R,)
        Per-regime mean reversion (per year) and long-run variance (annualised) of the measure
        the expectation is taken under.
    transition : ndarray of shape (R, R)
        Per-step matrix ``P[i, j] = Pr(r_{t+1} = j | r_t = i)``.
    h : float, default 1/252
        Step of the chain in years.
    regime : int or ndarray of int, optional
        Starting regime, broadcast against ``tau``. Without it the result has a trailing axis of
        length ``R`` (one column per starting regime).

    Returns
    -------
    a : ndarray
        Coefficient of ``v`` (years), shape ``broadcast(tau, regime)`` or ``tau.shape + (R,)``.
    b : ndarray
        Constant (years x annualised variance), same shape.

    Raises
    ------
    ValueError
        If ``tau`` is negative or not finite.

    Notes
    -----
    With ``M_k(j) = E[v_{kh} 1{r_k = j}]`` and ``p_k(j) = Pr(r_k = j)`` the recursion is

    .. math::

        p_{k+1} = P^T p_k, \\quad
        M_{k+1}(j) = \\theta_j (1 - e^{-\\kappa_j h}) p_{k+1}(j) + e^{-\\kappa_j h} (P^T M_k)(j),

    and the integral over step ``k + 1`` is
    ``sum_j theta_j (h - g_j) p_{k+1}(j) + g_j (P^T M_k)(j)`` with
    ``g_j = (1 - exp(-kappa_j h)) / kappa_j`` (exact integral of the CIR mean, Cox, Ingersoll &
    Ross 1985), over a fraction ``u < h`` of the step for a horizon that is not a whole number of
    steps. Mean recursion of Hamilton (1989) applied to the Heston (1993) variance.
    """
    tau = np.asarray(tau, dtype=float)
    if not np.all(np.isfinite(tau)) or np.any(tau < 0):
        raise ValueError(f"tau must be finite and >= 0, got min {np.min(tau)}")
    kappa = np.asarray(kappa, dtype=float)
    theta = np.asarray(theta, dtype=float)
    k = np.floor(tau / h + 1e-9).astype(np.int64)
    u = np.clip(tau - k * h, 0.0, h)
    tab = _build_tables(int(k.max()) if k.size else 0, kappa, theta, transition, h)
    return _coefficients_from_tables(tab, k, u, kappa, theta, regime)


def _coefficients_from_tables(tab: _IntegralTables, k, u, kappa, theta, regime):
    gu = _g(kappa, u[..., None])                                   # (..., R_j)
    if regime is None:
        a = tab.iv[k] + np.einsum("...j,...jr->...r", gu, tab.pv[k])
        b = tab.ic[k] + np.einsum("...j,...jr->...r", gu, tab.pc[k]) + np.einsum(
            "...j,...jr->...r", theta * (u[..., None] - gu), tab.pp[k])
        return a, b
    k, u, reg = np.broadcast_arrays(k, u, np.asarray(regime, dtype=np.int64))
    gu = _g(kappa, u[..., None])
    a = tab.iv[k, reg] + (gu * tab.pv[k, :, reg]).sum(axis=-1)
    b = tab.ic[k, reg] + (gu * tab.pc[k, :, reg]).sum(axis=-1) + (
        theta * (u[..., None] - gu) * tab.pp[k, :, reg]).sum(axis=-1)
    return a, b
