"""The compiled QE drivers: :func:`heston_qe_kernel` (paths on given normals, written into the
caller's arrays) and :func:`simulate_heston_qe` (normals drawn inside compiled code), which step
:data:`BLOCK` paths at a time and exponentiate :data:`CHUNK` paths' prices at a time."""

from __future__ import annotations

import numba
import numpy as np

from alvh.models.kernels.draws import _draw_block, _pcg64_state, _set_pcg64_state
from alvh.models.kernels.qe import _block_start, _block_store, _step_block, qe_constants


#: Paths stepped together (normals buffer ``n_steps * BLOCK * 2`` floats per block).
BLOCK = 64
#: Paths per compiled call; each chunk's prices are exponentiated (NumPy) while still in cache.
CHUNK = 512


def _block_buffers(n_steps: int):
    # rows padded by 8 floats so that a column's elements do not all fall in a few cache sets
    width = BLOCK + 8
    return (np.empty((n_steps, width)), np.empty((n_steps, width)), np.empty((n_steps + 1, width)),
            np.empty((n_steps + 1, width)))


@numba.njit(cache=True, error_model="numpy")
def _qe_paths_given(i_start, i_end, log_s0, v0, theta, drift_dt, psi_c, consts, normals, log_spot_out, var_out,
                    zvb, zsb, vblk, xblk):
    """Paths ``i_start .. i_end-1`` on ``normals``, into rows of ``log_spot_out`` and ``var_out``."""
    n_steps = normals.shape[1]
    for i0 in range(i_start, i_end, BLOCK):
        nb = min(BLOCK, i_end - i0)
        for j in range(nb):
            for t in range(n_steps):
                zvb[t, j] = normals[i0 + j, t, 0]
                zsb[t, j] = normals[i0 + j, t, 1]
        _block_start(i0, nb, log_s0, v0, vblk, xblk)
        _step_block(nb, 1.0, zvb, zsb, vblk, xblk, theta, drift_dt, psi_c, consts)
        _block_store(i0, nb, vblk, xblk, log_spot_out, var_out)


@numba.njit(cache=True, error_model="numpy")
def _qe_paths_rng(i_start, i_end, log_s0, v0, theta, drift_dt, psi_c, consts, rng, pcg, n_base, antithetic,
                  log_spot_out, var_out, zvb, zsb, vblk, xblk):
    """Base paths ``i_start .. i_end-1`` (and with ``antithetic`` their partners ``+ n_base``),
    drawing their normals (:func:`_draw_block`)."""
    for i0 in range(i_start, i_end, BLOCK):
        nb = min(BLOCK, i_end - i0)
        _draw_block(rng, pcg, nb, zvb, zsb)
        _block_start(i0, nb, log_s0, v0, vblk, xblk)
        _step_block(nb, 1.0, zvb, zsb, vblk, xblk, theta, drift_dt, psi_c, consts)
        _block_store(i0, nb, vblk, xblk, log_spot_out, var_out)
        if antithetic:
            _block_start(i0 + n_base, nb, log_s0, v0, vblk, xblk)
            _step_block(nb, -1.0, zvb, zsb, vblk, xblk, theta, drift_dt, psi_c, consts)
            _block_store(i0 + n_base, nb, vblk, xblk, log_spot_out, var_out)


def heston_qe_kernel(s0, v0, kappa, theta, sigma, rho, drift, dt, normals, psi_c, spot_out, var_out) -> None:
    """QE paths on given normals, written into ``spot_out`` and ``var_out`` (compiled loop).

    Parameters
    ----------
    s0, v0 : ndarray of float64, shape (n_paths,)
        Initial price (index points) and variance (annualised) per path.
    kappa, theta, sigma, rho : float
        Variance dynamics under the simulation measure (``kappa > 0``, ``theta > 0``,
        ``sigma > 0``, ``-1 < rho < 1``; not checked here).
    drift : float
        ``E[S_{t+dt} / S_t] = exp(drift dt)``, per year.
    dt : float
        Step in years.
    normals : ndarray of float64, shape (n_paths, n_steps, 2)
        Standard normals: ``[..., 0]`` drives the variance, ``[..., 1]`` the price.
    psi_c : float
        Switch between the quadratic (``psi <= psi_c``) and exponential branches.
    spot_out, var_out : ndarray of float64, shape (n_paths, n_steps + 1), C-contiguous
        Filled in place: ``spot_out[:, 0] = s0``, ``var_out[:, 0] = v0``.

    Raises
    ------
    ValueError
        If ``normals`` is not of shape ``(n_paths, n_steps, 2)``, ``spot_out`` or ``var_out``
        is not a C-contiguous float64 array of shape ``(n_paths, n_steps + 1)``, or ``s0``,
        ``v0`` do not broadcast to ``(n_paths,)``.

    Notes
    -----
    The arithmetic of :func:`alvh.models.heston.qe_step` (Andersen 2008, eqs. (17)-(18), (23),
    (25)-(27), (33), Proposition 9) per path and step, on the same normals, in numba nopython
    code: the variance by the same operations in the same order (it agrees bit for bit except
    after an exponential-branch step, where NumPy's and libm's ``log`` may differ in the last
    bit); the log-price with ``log(1 - 2 A a)`` from an 8-term Taylor series where
    ``|2 A a| <= 0.01`` (within 0.1 ulp). Step constants, ``log(s0)`` and the final ``exp``
    come from NumPy as in the reference.
    """
    normals = np.ascontiguousarray(normals, dtype=float)
    if normals.ndim != 3 or normals.shape[2] != 2:
        raise ValueError(f"normals must have shape (n_paths, n_steps, 2), got {normals.shape}")
    n, n_steps = normals.shape[0], normals.shape[1]
    for name, out in (("spot_out", spot_out), ("var_out", var_out)):
        if (not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != (n, n_steps + 1)
                or not out.flags.c_contiguous):
            raise ValueError(f"{name} must be a C-contiguous float64 array of shape ({n}, {n_steps + 1})")
    s0_arr, v0_arr = _per_path(s0, v0, n)
    consts = qe_constants(kappa, theta, sigma, rho, dt)
    log_s0, bufs = np.log(s0_arr), _block_buffers(n_steps)
    for c0 in range(0, n, CHUNK):
        c1 = min(c0 + CHUNK, n)
        _qe_paths_given(c0, c1, log_s0, v0_arr, float(theta), float(drift) * float(dt), float(psi_c), consts,
                        normals, spot_out, var_out, *bufs)
        np.exp(spot_out[c0:c1], out=spot_out[c0:c1])  # while the chunk is in cache
    spot_out[:, 0] = s0_arr


def simulate_heston_qe(
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
    n_paths: int,
    rng: np.random.Generator,
    antithetic: bool = False,
    psi_c: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Heston QE paths with the normals drawn inside compiled code from ``rng``.

    Parameters
    ----------
    s0 : float or ndarray of shape (n_paths,)
        Initial price (index points).
    v0 : float or ndarray of shape (n_paths,)
        Initial variance (annualised), >= 0.
    kappa, theta, sigma, rho : float
        Variance dynamics under the simulation measure.
    drift : float
        ``E[S_{t+dt} / S_t] = exp(drift dt)`` exactly (martingale correction), per year.
    dt : float
        Step in years.
    n_steps : int
        Number of steps, >= 0.
    n_paths : int
        Number of paths, >= 0; even when ``antithetic``.
    rng : numpy.random.Generator
        Source of the normals; advanced exactly as by
        ``rng.standard_normal((n_paths, n_steps, 2))`` (``n_paths // 2`` when ``antithetic``).
    antithetic : bool, default False
        If True, paths ``n_paths/2 .. n_paths-1`` use the negated normals of paths
        ``0 .. n_paths/2-1`` (path ``j`` pairs with ``j + n_paths/2``).
    psi_c : float, default 1.5
        Switching threshold between the quadratic and exponential branches.

    Returns
    -------
    spot : ndarray of shape (n_paths, n_steps + 1)
        Price paths, ``spot[:, 0] == s0``.
    variance : ndarray of shape (n_paths, n_steps + 1)
        Variance paths, ``variance[:, 0] == v0``; never negative.

    Raises
    ------
    ValueError
        If ``n_paths`` or ``n_steps`` is negative, ``n_paths`` is odd with ``antithetic``,
        ``s0``/``v0`` do not broadcast to ``(n_paths,)``, or ``rng`` is not a
        :class:`numpy.random.Generator`.

    Notes
    -----
    Andersen, L. (2008), "Simple and efficient simulation of the Heston stochastic volatility
    model", J. Computational Finance 11(3): variance step eqs. (23), (25)-(27) with the moments
    of eqs. (17)-(18); log-price step eq. (33) with gamma_1 = gamma_2 = 1/2; martingale
    correction Proposition 9. Same draws, same order and same arithmetic as
    :func:`alvh.models.heston.simulate_qe` with ``engine="numpy"``, which is the reference, and bit
    for bit the paths of :func:`heston_qe_kernel` on ``rng.standard_normal((n_paths, n_steps,
    2))``. The draws are NumPy's ziggurat, run in compiled code on the ``rng``'s bit generator
    (on PCG64 inlined, its state read from and written back to ``rng.bit_generator.state``),
    one block of paths at a time: no ``(n_paths, n_steps, 2)`` array of normals is made.
    """
    n_paths, n_steps = int(n_paths), int(n_steps)
    if n_paths < 0 or n_steps < 0:
        raise ValueError(f"n_paths and n_steps must be >= 0, got {n_paths} and {n_steps}")
    if antithetic and n_paths % 2:
        raise ValueError(f"antithetic sampling needs an even n_paths, got {n_paths}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    s0_arr, v0_arr = _per_path(s0, v0, n_paths)
    spot = np.empty((n_paths, n_steps + 1))
    var = np.empty((n_paths, n_steps + 1))
    n_base = n_paths // 2 if antithetic else n_paths
    consts = qe_constants(kappa, theta, sigma, rho, dt)
    log_s0, bufs = np.log(s0_arr), _block_buffers(n_steps)
    pcg = _pcg64_state(rng)
    pcg_arg = np.empty(0, np.uint64) if pcg is None else pcg
    try:
        for c0 in range(0, n_base, CHUNK):
            c1 = min(c0 + CHUNK, n_base)
            _qe_paths_rng(c0, c1, log_s0, v0_arr, float(theta), float(drift) * float(dt), float(psi_c), consts,
                          rng, pcg_arg, n_base, bool(antithetic), spot, var, *bufs)
            np.exp(spot[c0:c1], out=spot[c0:c1])  # while the chunk is in cache
            if antithetic:
                np.exp(spot[n_base + c0:n_base + c1], out=spot[n_base + c0:n_base + c1])
    finally:
        if pcg is not None:  # the draws made so far, even if interrupted
            _set_pcg64_state(rng, pcg)
    spot[:, 0] = s0_arr
    return spot, var


def _per_path(s0, v0, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``s0`` and ``v0`` as contiguous float64 arrays of shape ``(n,)`` (ValueError if they do not broadcast)."""
    try:
        s0_arr = np.ascontiguousarray(np.broadcast_to(np.asarray(s0, dtype=float), (n,)))
        v0_arr = np.ascontiguousarray(np.broadcast_to(np.asarray(v0, dtype=float), (n,)))
    except ValueError as exc:
        raise ValueError(f"s0 and v0 must be scalars or of shape ({n},): {exc}") from None
    return s0_arr, v0_arr
