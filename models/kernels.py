"""Compiled (numba, nopython) path kernels; the numpy code they mirror stays the reference.

Heston QE (Andersen 2008) with martingale correction, compiled:

* :func:`heston_qe_kernel` steps paths on given normals into caller-owned arrays, with the
  arithmetic of :func:`alvh.models.heston.qe_step`; on the same normals it agrees with
  ``simulate_qe(..., engine="numpy")`` to rounding (~1e-15 relative; see its Notes).
* :func:`simulate_heston_qe` draws the normals inside compiled code from a
  :class:`numpy.random.Generator`, in the order of ``rng.standard_normal((n_paths, n_steps,
  2))`` (path, step, [variance, price]), bit for bit the same numbers: NumPy's 256-step ziggurat
  on the same bit-generator state. So its paths are those of
  ``simulate_qe(..., rng=rng, n_paths=n_paths, engine="numpy")`` from the same seed, and ``rng``
  is left in the same state. (numba's own ``Generator.standard_normal`` runs that ziggurat,
  numba/np/random/distributions.py, calling the bit generator through its C function pointers;
  for PCG64, ``default_rng``'s bit generator, it is run here on PCG64 inlined, ~20% faster.)

How it is fast (one core): paths are stepped in blocks of :data:`BLOCK`. A block's normals go
into a small time-major buffer; each step is then one loop over the block's paths that LLVM
vectorises (AVX2): the quadratic branch without any call, ``log(1 - 2 A a)`` from its Taylor
series. The few paths where that does not apply (exponential branch; ``|2 A a| > 0.01``) are
redone in short scalar loops over just them. Prices are kept as log-prices and exponentiated
by NumPy, as the reference does, chunk by chunk (:data:`CHUNK` paths) while still in cache.

The exponential branch needs the standard normal cdf: :func:`ndtr` ports the Cephes
``ndtr``/``erf``/``erfc`` that :func:`scipy.special.ndtr` evaluates (scipy's ``xsf`` library,
``xsf/cephes/ndtr.h``), equal to it bit for bit, so that both engines see the same uniform.
No ``fastmath``: it would let LLVM fuse multiply-adds and reassociate, breaking that equality
and the variance's bit-for-bit agreement with the reference.

Units: time in years, variance annualised, prices in index points; arrays are ``(path, time)``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

try:  # NumPy's ziggurat tables as numba ships them (a private module: guarded)
    from numba.np.random._constants import fi_double as _ZIG_FI
    from numba.np.random._constants import ki_double as _ZIG_KI
    from numba.np.random._constants import wi_double as _ZIG_WI
    from numba.np.random._constants import ziggurat_nor_inv_r as _ZIG_INV_R
    from numba.np.random._constants import ziggurat_nor_r as _ZIG_R
    _HAVE_ZIGGURAT = True
except ImportError:  # then every Generator goes through numba's own standard_normal
    _ZIG_FI = _ZIG_WI = np.zeros(256)
    _ZIG_KI = np.zeros(256, np.uint64)
    _ZIG_INV_R = _ZIG_R = 0.0
    _HAVE_ZIGGURAT = False

__all__ = ["BLOCK", "CHUNK", "ndtr", "qe_constants", "heston_qe_kernel", "simulate_heston_qe"]

#: Paths stepped together (normals buffer ``n_steps * BLOCK * 2`` floats per block).
BLOCK = 64
#: Paths per compiled call; each chunk's prices are exponentiated (NumPy) while still in cache.
CHUNK = 512

_MAXLOG = 7.09782712893383996843E2
_SQRT1_2 = 0.70710678118654752440


# Cephes ndtr.c's six polynomials (Moshier 1992), coefficients as in scipy's
# xsf/cephes/ndtr.h, written out (constants in the code, no loop) in Cephes' order of operations.


@numba.njit(cache=True, inline="always")
def _ndtr_p(x):
    """Cephes ``polevl(x, P, 8)``: Horner from the leading coefficient."""
    ans = 2.46196981473530512524E-10
    ans = ans * x + 5.64189564831068821977E-1
    ans = ans * x + 7.46321056442269912687E0
    ans = ans * x + 4.86371970985681366614E1
    ans = ans * x + 1.96520832956077098242E2
    ans = ans * x + 5.26445194995477358631E2
    ans = ans * x + 9.34528527171957607540E2
    ans = ans * x + 1.02755188689515710272E3
    ans = ans * x + 5.57535335369399327526E2
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_q(x):
    """Cephes ``p1evl(x, Q, 8)``: Horner with a leading 1."""
    ans = x + 1.32281951154744992508E1
    ans = ans * x + 8.67072140885989742329E1
    ans = ans * x + 3.54937778887819891062E2
    ans = ans * x + 9.75708501743205489753E2
    ans = ans * x + 1.82390916687909736289E3
    ans = ans * x + 2.24633760818710981792E3
    ans = ans * x + 1.65666309194161350182E3
    ans = ans * x + 5.57535340817727675546E2
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_r(x):
    """Cephes ``polevl(x, R, 5)``: Horner from the leading coefficient."""
    ans = 5.64189583547755073984E-1
    ans = ans * x + 1.27536670759978104416E0
    ans = ans * x + 5.01905042251180477414E0
    ans = ans * x + 6.16021097993053585195E0
    ans = ans * x + 7.40974269950448939160E0
    ans = ans * x + 2.97886665372100240670E0
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_s(x):
    """Cephes ``p1evl(x, S, 6)``: Horner with a leading 1."""
    ans = x + 2.26052863220117276590E0
    ans = ans * x + 9.39603524938001434673E0
    ans = ans * x + 1.20489539808096656605E1
    ans = ans * x + 1.70814450747565897222E1
    ans = ans * x + 9.60896809063285878198E0
    ans = ans * x + 3.36907645100081516050E0
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_t(x):
    """Cephes ``polevl(x, T, 4)``: Horner from the leading coefficient."""
    ans = 9.60497373987051638749E0
    ans = ans * x + 9.00260197203842689217E1
    ans = ans * x + 2.23200534594684319226E3
    ans = ans * x + 7.00332514112805075473E3
    ans = ans * x + 5.55923013010394962768E4
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_u(x):
    """Cephes ``p1evl(x, U, 5)``: Horner with a leading 1."""
    ans = x + 3.35617141647503099647E1
    ans = ans * x + 5.21357949780152679795E2
    ans = ans * x + 4.59432382970980127987E3
    ans = ans * x + 2.26290000613890934246E4
    ans = ans * x + 4.92673942608635921086E4
    return ans


@numba.njit(cache=True)
def ndtr(a: float) -> float:
    """Standard normal cdf ``Phi(a)``, bit for bit :func:`scipy.special.ndtr`.

    Parameters
    ----------
    a : float
        Argument (not NaN).

    Returns
    -------
    float
        ``Phi(a)`` in [0, 1].

    Notes
    -----
    Cephes ``ndtr`` (Moshier 1992) as translated in scipy's ``xsf/cephes/ndtr.h``:
    ``0.5 + 0.5 erf(a/sqrt 2)`` for ``|a/sqrt 2| < 1``, else ``0.5 erfc(|a|/sqrt 2)`` (reflected
    for ``a > 0``), with Cephes' rational approximations of ``erf`` and ``erfc``.
    """
    x = a * _SQRT1_2
    z = abs(x)
    if z < 1.0:
        # erf(x) for |x| < 1: x P4(x^2) / Q5(x^2), odd
        ax = abs(x)
        zz = ax * ax
        e = ax * _ndtr_t(zz) / _ndtr_u(zz)
        if x < 0.0:
            e = -e
        return 0.5 + 0.5 * e
    # erfc(z) for z >= 1
    w = -z * z
    if w < -_MAXLOG:
        y = 0.0
    else:
        w = math.exp(w)
        if z < 8.0:
            p = _ndtr_p(z)
            q = _ndtr_q(z)
        else:
            p = _ndtr_r(z)
            q = _ndtr_s(z)
        y = 0.5 * ((w * p) / q)
    if x > 0:
        y = 1.0 - y
    return y


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


# --- normal draws -----------------------------------------------------------------------------
# NumPy's Generator.standard_normal is a 256-step ziggurat (numpy/random/src/distributions/
# distributions.c, random_standard_normal) on the bit generator's next_uint64 / next_double.
# numba's Generator support runs the same ziggurat (numba/np/random/distributions.py) and calls
# the bit generator through its C function pointers, so its draws are NumPy's, in order. For
# PCG64 (default_rng's bit generator) the same ziggurat is run here on PCG64 inlined: the state
# is read from ``rng.bit_generator.state``, advanced in registers and written back; the same
# numbers again, ~20% faster than a call through a function pointer per draw.

_PCG64_MULT = (2549297995355413924 << 64) + 4865540595714422341  # PCG_DEFAULT_MULTIPLIER_128


@intrinsic
def _lcg128_step(typingctx, hi, lo, inc_hi, inc_lo):
    """``state = state * PCG_DEFAULT_MULTIPLIER_128 + inc`` (mod 2^128), halves as uint64."""
    u64 = types.uint64
    sig = types.UniTuple(u64, 2)(u64, u64, u64, u64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        shift = ir.Constant(i128, 64)

        def join(h, lo_):
            return builder.or_(builder.shl(builder.zext(h, i128), shift), builder.zext(lo_, i128))

        st = builder.add(builder.mul(join(args[0], args[1]), ir.Constant(i128, _PCG64_MULT)), join(args[2], args[3]))
        new_hi = builder.trunc(builder.lshr(st, shift), ir.IntType(64))
        new_lo = builder.trunc(st, ir.IntType(64))
        return context.make_tuple(builder, signature.return_type, (new_hi, new_lo))

    return sig, codegen


@numba.njit(cache=True, inline="always")
def _pcg64_next(hi, lo, inc_hi, inc_lo):
    """PCG64 (XSL-RR 128/64) next_uint64, as numpy/random/src/pcg64/pcg64.h: step, then output."""
    hi, lo = _lcg128_step(hi, lo, inc_hi, inc_lo)
    rot = hi >> np.uint64(58)
    x = hi ^ lo
    return (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63))), hi, lo


@numba.njit(cache=True, inline="always")
def _pcg64_double(hi, lo, inc_hi, inc_lo):
    """next_double: the top 53 bits of next_uint64 over 2^53."""
    r, hi, lo = _pcg64_next(hi, lo, inc_hi, inc_lo)
    return (r >> np.uint64(11)) * (1.0 / 9007199254740992.0), hi, lo


@numba.njit(cache=True, error_model="numpy", inline="always")
def _pcg64_standard_normal(hi, lo, inc_hi, inc_lo):
    """NumPy's ziggurat ``random_standard_normal`` on inlined PCG64; returns ``(z, hi, lo)``."""
    while True:
        r, hi, lo = _pcg64_next(hi, lo, inc_hi, inc_lo)
        idx = r & np.uint64(0xFF)
        r >>= np.uint64(8)
        sign = r & np.uint64(1)
        rabs = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
        x = rabs * _ZIG_WI[idx]
        if sign & np.uint64(1):
            x = -x
        if rabs < _ZIG_KI[idx]:
            return x, hi, lo
        if idx == 0:
            while True:
                u1, hi, lo = _pcg64_double(hi, lo, inc_hi, inc_lo)
                u2, hi, lo = _pcg64_double(hi, lo, inc_hi, inc_lo)
                xx = -_ZIG_INV_R * np.log1p(-u1)
                yy = -np.log1p(-u2)
                if yy + yy > xx * xx:
                    if (rabs >> np.uint64(8)) & np.uint64(1):
                        return -(_ZIG_R + xx), hi, lo
                    return _ZIG_R + xx, hi, lo
        else:
            u, hi, lo = _pcg64_double(hi, lo, inc_hi, inc_lo)
            if (_ZIG_FI[idx - 1] - _ZIG_FI[idx]) * u + _ZIG_FI[idx] < np.exp(-0.5 * x * x):
                return x, hi, lo


def _pcg64_state(rng: np.random.Generator) -> np.ndarray | None:
    """``[state_hi, state_lo, inc_hi, inc_lo]`` of a PCG64 ``rng`` as uint64, else None."""
    bg = rng.bit_generator
    if type(bg) is not np.random.PCG64 or not _HAVE_ZIGGURAT:
        return None
    st = bg.state["state"]
    mask = (1 << 64) - 1
    return np.array([st["state"] >> 64, st["state"] & mask, st["inc"] >> 64, st["inc"] & mask], dtype=np.uint64)


def _set_pcg64_state(rng: np.random.Generator, st: np.ndarray) -> None:
    state = rng.bit_generator.state
    state["state"]["state"] = (int(st[0]) << 64) | int(st[1])
    rng.bit_generator.state = state


@numba.njit(cache=True, error_model="numpy")
def _draw_block(rng, pcg, nb, zvb, zsb):
    """The block's normals in NumPy's order of ``rng.standard_normal((n, n_steps, 2))`` (path,
    step, [variance, price]), into ``zvb[t, j]``, ``zsb[t, j]``; from ``pcg`` (PCG64 state,
    updated) when it has 4 entries, else from ``rng``."""
    n_steps = zvb.shape[0]
    if pcg.size == 4:
        hi, lo, inc_hi, inc_lo = pcg[0], pcg[1], pcg[2], pcg[3]
        for j in range(nb):
            for t in range(n_steps):
                z, hi, lo = _pcg64_standard_normal(hi, lo, inc_hi, inc_lo)
                zvb[t, j] = z
                z, hi, lo = _pcg64_standard_normal(hi, lo, inc_hi, inc_lo)
                zsb[t, j] = z
        pcg[0] = hi
        pcg[1] = lo
    else:
        for j in range(nb):
            for t in range(n_steps):
                zvb[t, j] = rng.standard_normal()
                zsb[t, j] = rng.standard_normal()


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
