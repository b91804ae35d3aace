"""The QE step (Andersen 2008) in compiled code: its constants (:func:`qe_constants`, NumPy), one
path's step (:func:`_qe_step`) and the vectorised stepping of a block of paths (:func:`_step_block`)
with the copies of a block's start and result."""

from __future__ import annotations

import math

import numba
import numpy as np

from alvh.models.kernels.normcdf import ndtr


def qe_constants(kappa: float, theta: float, sigma: float, rho: float, dt: float) -> tuple[float, ...]:
    """Step constants of the QE scheme, computed with NumPy exactly as :func:`alvh.models.heston.qe_step`.

    Parameters
    ----------
    kappa, theta, sigma, rho : float
        Variance dynamics.
    dt : float
        Step in years.

    Returns
    -------
    tuple of float
        ``(e, c1, c2, k0, k1, k2, k3, k4, big_a)``: ``e = exp(-kappa dt)``; the CIR moments
        ``m = theta + (v - theta) e`` and ``s^2 = c1 v + c2`` (Andersen 2008, eqs. 17-18);
        ``K0..K4`` of eq. (33) with ``gamma_1 = gamma_2 = 1/2``; ``A = K2 + K4/2``
        (Proposition 9).

    Notes
    -----
    ``e`` comes from :func:`numpy.exp`, not :func:`math.exp`: the two differ in the last bit
    for some arguments, and that bit, in every step's conditional mean, is enough to move
    ``v_{t+1}`` by ~1e-9 relative where the exponential branch puts it just above 0.
    """
    kappa, theta, sigma, rho, dt = (float(x) for x in (kappa, theta, sigma, rho, dt))
    e = np.exp(-kappa * dt)
    c1 = sigma**2 * e * (1.0 - e) / kappa
    c2 = theta * sigma**2 * (1.0 - e) ** 2 / (2.0 * kappa)
    k0 = -rho * kappa * theta * dt / sigma
    k1 = 0.5 * dt * (kappa * rho / sigma - 0.5) - rho / sigma
    k2 = 0.5 * dt * (kappa * rho / sigma - 0.5) + rho / sigma
    k3 = 0.5 * dt * (1.0 - rho**2)
    k4 = k3
    big_a = k2 + 0.5 * k4
    return tuple(float(x) for x in (e, c1, c2, k0, k1, k2, k3, k4, big_a))


@numba.njit(cache=True, error_model="numpy", inline="always")
def _qe_step(x, v, zv, zs, theta, drift_dt, psi_c, e, c1, c2, k0, k1, k2, k3, k4, big_a):
    """One QE step for one path, ``(log_s, v) -> (log_s_next, v_next)``: the arithmetic of
    :func:`alvh.models.heston.qe_step` in the same order, evaluating only the branch taken."""
    m = theta + (v - theta) * e
    s2 = v * c1 + c2
    psi = s2 / (m * m)
    if psi <= psi_c:
        # quadratic branch, Andersen (2008) eqs. (23), (27)
        inv = 2.0 / psi
        b2 = inv - 1.0 + math.sqrt(inv) * math.sqrt(inv - 1.0)
        a = m / (1.0 + b2)
        y = math.sqrt(b2) + zv
        v_next = a * (y * y)
        two_aa = 2.0 * big_a * a
        if two_aa < 1.0:
            k0s = -big_a * b2 * a / (1.0 - two_aa) + 0.5 * math.log(1.0 - two_aa) - (k1 + 0.5 * k3) * v
        else:
            k0s = k0
    else:
        # exponential branch, eqs. (25)-(26), uniform U = Phi(Z_v)
        p = (psi - 1.0) / (psi + 1.0)
        beta = (1.0 - p) / m
        one_minus_u = ndtr(-zv)
        u = 1.0 - one_minus_u
        if u <= p:
            v_next = 0.0
        else:
            v_next = math.log((1.0 - p) / max(one_minus_u, 1e-300)) / beta
        if big_a < beta:
            k0s = -math.log(p + beta * (1.0 - p) / (beta - big_a)) - (k1 + 0.5 * k3) * v
        else:
            k0s = k0
    # log-price, eq. (33), with the martingale correction K0* of Proposition 9
    x_next = x + drift_dt + k0s + k1 * v + k2 * v_next + math.sqrt(k3 * v + k4 * v_next) * zs
    return x_next, v_next


#: ``|2 A a|`` up to which the vector loop takes ``log(1 - 2 A a)`` from its Taylor series.
_LOG1P_SMALL = 0.01
# log1p(w) = sum_{k=1..8} (-1)^(k+1) w^k / k; for |w| <= 0.01 the remainder is below
# |w|^9 / 9 / (1 - |w|) < 1.2e-17 |w| (alternating series): about 0.1 ulp of the result.
_L1, _L2, _L3, _L4 = 1.0, -1.0 / 2.0, 1.0 / 3.0, -1.0 / 4.0
_L5, _L6, _L7, _L8 = 1.0 / 5.0, -1.0 / 6.0, 1.0 / 7.0, -1.0 / 8.0


@numba.njit(cache=True, inline="always")
def _log1p_small(w):
    """``log(1 + w)`` for ``|w| <= _LOG1P_SMALL``: the 8-term Taylor series, Horner (no call)."""
    return w * (_L1 + w * (_L2 + w * (_L3 + w * (_L4 + w * (_L5 + w * (_L6 + w * (_L7 + w * _L8)))))))


@numba.njit(cache=True, error_model="numpy")
def _step_block(nb, sign, zvb, zsb, vblk, xblk, theta, drift_dt, psi_c, consts):
    """Step the block's ``nb`` paths through all steps, on the normals ``sign * zvb``, ``sign * zsb``.

    ``zvb``, ``zsb`` have shape ``(n_steps, >= nb)`` and ``vblk``, ``xblk`` (variance,
    log-price) ``(n_steps + 1, >= nb)``, path ``j`` in column ``j``; row 0 holds the start and
    is read, rows 1.. are written.

    Each step is first one loop over all paths that LLVM vectorises: the quadratic branch, with
    ``log(1 - 2 A a)`` from its Taylor series (no calls). Then the paths where that was not
    valid are redone: those in the exponential branch in a few short loops over just them
    (``ndtr``, the divisions, the two ``log`` calls, the update), so that the CPU overlaps paths
    instead of waiting on one path's chain of divisions and calls; those in the quadratic
    branch with ``|2 A a| > 0.01`` by :func:`_qe_step`. The variance is the reference's
    arithmetic throughout; the log-price differs from it by rounding only (the Taylor series).
    """
    e, c1, c2, k0, k1, k2, k3, k4, big_a = consts
    kk = k1 + 0.5 * k3
    n_steps = zvb.shape[0]
    v_cur = np.empty(nb)
    x_cur = np.empty(nb)
    is_exp = np.empty(nb, np.bool_)
    is_bad_quad = np.empty(nb, np.bool_)
    e_idx = np.empty(nb, np.int64)
    q_idx = np.empty(nb, np.int64)
    omu = np.empty(nb)
    p_e = np.empty(nb)
    beta_e = np.empty(nb)
    ratio = np.empty(nb)
    k_arg = np.empty(nb)
    log_ratio = np.empty(nb)
    log_k = np.empty(nb)
    for j in range(nb):
        v_cur[j] = vblk[0, j]
        x_cur[j] = xblk[0, j]
    for t in range(n_steps):
        zv_row = zvb[t]
        zs_row = zsb[t]
        n_fix = 0
        # the state is updated in place (v_cur, x_cur): with rows t and t+1 of one array as
        # source and target, LLVM's hoisted overlap check fails and the scalar loop runs
        for j in range(nb):
            v = v_cur[j]
            zv = sign * zv_row[j]
            m = theta + (v - theta) * e
            s2 = v * c1 + c2
            psi = s2 / (m * m)
            quad = psi <= psi_c
            inv = 2.0 / (psi if quad else 1.0)
            b2 = inv - 1.0 + math.sqrt(inv) * math.sqrt(inv - 1.0)
            a = m / (1.0 + b2)
            y = math.sqrt(b2) + zv
            vn = a * (y * y)
            two_aa = 2.0 * big_a * a
            k0s = -big_a * b2 * a / (1.0 - two_aa) + 0.5 * _log1p_small(-two_aa) - kk * v
            v_cur[j] = vn
            x_cur[j] = x_cur[j] + drift_dt + k0s + k1 * v + k2 * vn + math.sqrt(k3 * v + k4 * vn) * (sign * zs_row[j])
            bq = quad and not abs(two_aa) <= _LOG1P_SMALL
            is_exp[j] = not quad
            is_bad_quad[j] = bq
            n_fix += (not quad) + bq
        if n_fix:
            # indices of the paths to redo, compacted without branches (a branch per path on
            # a flag set ~10% of the time at random would mispredict often)
            n_e = 0
            n_q = 0
            for j in range(nb):
                e_idx[n_e] = j
                n_e += is_exp[j]
                q_idx[n_q] = j
                n_q += is_bad_quad[j]
            v_row = vblk[t]
            x_row = xblk[t]
            for q in range(n_q):
                j = q_idx[q]
                x_cur[j], v_cur[j] = _qe_step(x_row[j], v_row[j], sign * zv_row[j], sign * zs_row[j], theta,
                                              drift_dt, psi_c, e, c1, c2, k0, k1, k2, k3, k4, big_a)
            # exponential branch, Andersen (2008) eqs. (25)-(26) and Prop. 9, as in _qe_step
            for q in range(n_e):
                omu[q] = ndtr(-(sign * zv_row[e_idx[q]]))
            for q in range(n_e):
                v = v_row[e_idx[q]]
                m = theta + (v - theta) * e
                s2 = v * c1 + c2
                psi = s2 / (m * m)
                p = (psi - 1.0) / (psi + 1.0)
                beta = (1.0 - p) / m
                p_e[q] = p
                beta_e[q] = beta
                ratio[q] = (1.0 - p) / max(omu[q], 1e-300)
                k_arg[q] = p + beta * (1.0 - p) / (beta - big_a)
            for q in range(n_e):
                log_ratio[q] = math.log(ratio[q])
                w = k_arg[q] - 1.0  # exact (Sterbenz) near 1, where the series is used
                if abs(w) <= _LOG1P_SMALL:
                    log_k[q] = _log1p_small(w)
                elif big_a < beta_e[q]:
                    log_k[q] = math.log(k_arg[q])
                else:
                    log_k[q] = 0.0
            for q in range(n_e):
                j = e_idx[q]
                v = v_row[j]
                u = 1.0 - omu[q]
                vn = 0.0 if u <= p_e[q] else log_ratio[q] / beta_e[q]
                k0s = -log_k[q] - kk * v if big_a < beta_e[q] else k0
                zs = sign * zs_row[j]
                x_cur[j] = x_row[j] + drift_dt + k0s + k1 * v + k2 * vn + math.sqrt(k3 * v + k4 * vn) * zs
                v_cur[j] = vn
        v_new = vblk[t + 1]
        x_new = xblk[t + 1]
        for j in range(nb):
            v_new[j] = v_cur[j]
            x_new[j] = x_cur[j]


@numba.njit(cache=True, error_model="numpy")
def _block_start(i0, nb, log_s0, v0, vblk, xblk):
    for j in range(nb):
        xblk[0, j] = log_s0[i0 + j]
        vblk[0, j] = v0[i0 + j]


@numba.njit(cache=True, error_model="numpy")
def _block_store(i0, nb, vblk, xblk, log_spot_out, var_out):
    """Copy the block's columns into rows ``i0 .. i0+nb-1`` of the outputs (log-price, variance)."""
    n_cols = var_out.shape[1]
    for j in range(nb):
        i = i0 + j
        for t in range(n_cols):
            var_out[i, t] = vblk[t, j]
            log_spot_out[i, t] = xblk[t, j]
