"""Kernels of the SPX surfaces: :meth:`alvh.surface.FourierSurface.total_variance` and the SSVI smile of
:class:`alvh.pricing.SpxSmile`, each fused with Black–Scholes for :func:`alvh.pricing.spx_option`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types

from alvh.fastprice.jit import _B2, _F1, _F2, _OUT, _b1, _f8, _i8, _jit
from alvh.fastprice.scalar import _at, _bs_pre, _nmax, _nmin, _npow

__all__ = [
    "FOURIER_PARAMS",
    "fourier_total_variance",
    "atm_total_variance",
    "spx_option_fourier",
    "spx_option_ssvi",
]


# ------------------------------------------------------------------------------------------------
# FourierSurface.total_variance
# ------------------------------------------------------------------------------------------------
# fp: v_shift, x0, sv_step, lt0, lt_step, xi0, xi_step, z_scale, kappa, theta, c_jump, n_v, n_t, n_i

#: Length of the Fourier surface's parameter vector ``fp`` (:meth:`alvh.surface.FourierSurface._fast_tables`).
FOURIER_PARAMS = 14



@_jit()
def _atm_tv(v, tau, fp):
    """``tau (theta + (v - theta) (1 - e^{-kappa tau}) / (kappa tau) + c)``: the Q-expected total variance
    of Heston (``c = 0``), Bates and SVCJ (``c`` the jumps' quadratic variation rate), as
    :func:`alvh.models.heston.expected_average_variance` evaluates it."""
    kappa, theta, c = fp[8], fp[9], fp[10]
    x = kappa * tau
    if x > 1e-8:
        w = -math.expm1(-x) / x
    else:
        w = 1.0 - 0.5 * x
    return tau * ((theta + (v - theta) * w) + c)


@_jit()
def _fourier_state(tau, var, wref, use_wref, var_nodes, atm, fp):
    """The part of :func:`_fourier_w` that does not depend on ``k`` (finite ``tau > 0`` and ``var``).

    Returns the flat row ``r0 = iv n_t + it`` of the lower (variance, maturity) node, the weights
    ``gv`` (variance, in ``x``) and ``gt``, ``ht = 1 - gt`` (maturity), the ATM total variance and
    ``z_scale sqrt(w_atm)``.
    """
    v_shift, x0, sv_step, lt0, lt_step, z_scale = fp[0], fp[1], fp[2], fp[3], fp[4], fp[7]
    n_v, n_t = int(fp[11]), int(fp[12])
    v = max(var, 0.0)
    xv = (math.sqrt(math.sqrt(v + v_shift)) - x0) / sv_step
    iv = int(min(xv, n_v - 2.0))
    gv = min(xv - iv, 1.0)
    v_lo = var_nodes[iv]
    hv = min((v - v_lo) / (var_nodes[iv + 1] - v_lo), 1.0)
    xt = min(max((math.log(tau) - lt0) / lt_step, 0.0), n_t - 1.0)
    it = min(int(xt), n_t - 2)
    gt = xt - it
    ht = 1.0 - gt
    r0 = iv * n_t + it
    r1 = r0 + n_t
    lo = ht * atm[r0] + gt * atm[r0 + 1]
    hi = ht * atm[r1] + gt * atm[r1 + 1]
    w_ref = wref if use_wref else _atm_tv(v, tau, fp)
    w_atm = w_ref * (lo + hv * (hi - lo))
    return r0, gv, gt, ht, w_atm, z_scale * math.sqrt(w_atm)


@_jit()
def _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp):
    """``w`` at log-moneyness ``k`` given :func:`_fourier_state`: the blended cubic in ``xi``.

    ``coef`` is the surface's ``_coef_t`` transposed, shape (n_v n_t n_i, 4), so that the four
    coefficients of one interval share a cache line.
    """
    xi0, xi_step = fp[5], fp[6]
    n_t, n_i = int(fp[12]), int(fp[13])
    xz = (math.asinh(k / den) - xi0) / xi_step
    missing = xz != xz
    if missing:
        xz = 0.0
    iz = int(min(max(xz, 0.0), n_i - 1.0))
    t = xz - iz
    b00 = r0 * n_i + iz
    b01 = b00 + n_i
    b10 = b00 + n_t * n_i
    b11 = b10 + n_i
    hv_ = 1.0 - gv
    w00, w01, w10, w11 = hv_ * ht, hv_ * gt, gv * ht, gv * gt
    c0 = w00 * coef[b00, 0] + w01 * coef[b01, 0] + w10 * coef[b10, 0] + w11 * coef[b11, 0]
    c1 = w00 * coef[b00, 1] + w01 * coef[b01, 1] + w10 * coef[b10, 1] + w11 * coef[b11, 1]
    c2 = w00 * coef[b00, 2] + w01 * coef[b01, 2] + w10 * coef[b10, 2] + w11 * coef[b11, 2]
    c3 = w00 * coef[b00, 3] + w01 * coef[b01, 3] + w10 * coef[b10, 3] + w11 * coef[b11, 3]
    tc = min(max(t, 0.0), 1.0)
    mm = c0 + tc * (c1 + tc * (c2 + tc * c3))
    if t < 0.0 or t > 1.0:       # beyond z_range: linear in xi, non-decreasing outward
        d = c1 + tc * (2.0 * c2 + 3.0 * tc * c3)
        d = _nmin(d, 0.0) if t < 0.0 else _nmax(d, 0.0)
        mm = mm + d * (t - tc)
    w = mm * w_atm
    if missing:      # single exit (see _locate)
        w = np.nan
    return w


@_jit()
def _fourier_w(k, tau, var, wref, use_wref, var_nodes, atm, coef, fp):
    """One element of :meth:`alvh.surface.FourierSurface.total_variance` (``wref`` used where ``use_wref``)."""
    if not (math.isfinite(k) and math.isfinite(tau) and math.isfinite(var) and tau > 0.0):
        return np.nan
    r0, gv, gt, ht, w_atm, den = _fourier_state(tau, var, wref, use_wref, var_nodes, atm, fp)
    return _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp)


@_jit(_OUT(_F2, _F2, _F2, _F2, _b1, _F1, _F1, _F2, _F1, _i8, _i8))
def fourier_total_variance(k, tau, var, wref, use_wref, var_nodes, atm, coef, fp, rows, cols):
    """:meth:`alvh.surface.FourierSurface.total_variance` on broadcast 2-D inputs; shape (rows, cols)."""
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = _fourier_w(_at(k, i, j), _at(tau, i, j), _at(var, i, j), _at(wref, i, j), use_wref,
                                   var_nodes, atm, coef, fp)
    return out


@_jit(_OUT(_F2, _F2, _F1, _i8, _i8))
def atm_total_variance(var, tau, fp, rows, cols):
    """The model term of the Fourier kernels (:func:`_atm_tv`) on broadcast inputs (``var`` floored at 0)."""
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = _atm_tv(_nmax(_at(var, i, j), 0.0), _at(tau, i, j), fp)
    return out


@_jit(types.UniTuple(_OUT, 2)(_F2, _F2, _F2, _F2, _B2, _F2, _b1, _f8, _f8, _F1, _F1, _F2, _F1, _i8, _i8))
def spx_option_fourier(spot, strike, tau, var, is_call, wref, use_wref, rate, div, var_nodes, atm, coef, fp,
                       rows, cols):
    """:func:`alvh.pricing.spx_option` on a :class:`~alvh.surface.FourierSurface`: price and delta, (rows, cols).

    Column by column; the state part of the surface lookup (:func:`_fourier_state`) and the
    maturity factors are reused while ``(tau, var)`` and ``(spot, tau)`` repeat (the legs of one
    path), which gives the same numbers as recomputing them.
    """
    price = np.empty((rows, cols))
    delta = np.empty((rows, cols))
    t_prev, v_prev, w_prev, s_prev = np.nan, np.nan, np.nan, np.nan
    ok = False
    r0, gv, gt, ht, w_atm, den = 0, 0.0, 0.0, 0.0, 0.0, 0.0
    sqt, fwd, disc, dq = np.nan, np.nan, np.nan, np.nan
    for j in range(cols):
        for i in range(rows):
            sp, kk, tt, vv, wr = _at(spot, i, j), _at(strike, i, j), _at(tau, i, j), _at(var, i, j), _at(wref, i, j)
            if tt != t_prev or vv != v_prev or wr != w_prev:
                t_prev, v_prev, w_prev = tt, vv, wr
                ok = math.isfinite(tt) and math.isfinite(vv) and tt > 0.0
                if ok:
                    r0, gv, gt, ht, w_atm, den = _fourier_state(tt, vv, wr, use_wref, var_nodes, atm, fp)
                s_prev = np.nan
            if sp != s_prev:
                s_prev = sp
                sqt = math.sqrt(tt)
                fwd = sp * math.exp((rate - div) * tt)
                disc = math.exp(-rate * tt)
                dq = math.exp(-div * tt)
            k = math.log(kk / fwd)
            w = _fourier_smile(k, r0, gv, gt, ht, w_atm, den, coef, fp) if ok and math.isfinite(k) else np.nan
            price[i, j], delta[i, j] = _bs_pre(kk, math.sqrt(w / tt), _at(is_call, i, j), sqt, fwd, disc, dq)
    return price, delta


# ------------------------------------------------------------------------------------------------
# SSVI smile (alvh.pricing.SpxSmile) at a given ATM total variance
# ------------------------------------------------------------------------------------------------


@_jit()
def _ssvi_w(k, th, rho, eta, gamma):
    """:meth:`alvh.pricing.SpxSmile.total_variance` for one element."""
    phi = eta / (_npow(th, gamma) * _npow(1.0 + th, 1.0 - gamma))
    pk = phi * k
    return 0.5 * th * (1.0 + rho * pk + math.sqrt((pk + rho) * (pk + rho) + 1.0 - rho * rho))


@_jit(types.UniTuple(_OUT, 2)(_F2, _F2, _F2, _F2, _B2, _f8, _f8, _f8, _f8, _f8, _i8, _i8))
def spx_option_ssvi(spot, strike, tau, th, is_call, rate, div, rho, eta, gamma, rows, cols):
    """:func:`alvh.pricing.spx_option` on an :class:`~alvh.surface.SsviSurface` given its ATM total
    variance ``th`` (the strip-matched ``theta_t`` of each element); price and delta. Maturity
    factors reused as in :func:`black_scholes`."""
    price = np.empty((rows, cols))
    delta = np.empty((rows, cols))
    s_prev, t_prev = np.nan, np.nan
    sqt, fwd, disc, dq = np.nan, np.nan, np.nan, np.nan
    for j in range(cols):
        for i in range(rows):
            sp, kk, tt = _at(spot, i, j), _at(strike, i, j), _at(tau, i, j)
            if sp != s_prev or tt != t_prev:
                s_prev, t_prev = sp, tt
                sqt = math.sqrt(tt)
                fwd = sp * math.exp((rate - div) * tt)
                disc = math.exp(-rate * tt)
                dq = math.exp(-div * tt)
            w = _ssvi_w(math.log(kk / fwd), _at(th, i, j), rho, eta, gamma)
            price[i, j], delta[i, j] = _bs_pre(kk, math.sqrt(w / tt), _at(is_call, i, j), sqt, fwd, disc, dq)
    return price, delta
