"""The model's own implied-volatility surface (:class:`FourierSurface`, Heston, Bates, SVCJ),
tabulated from COS prices, with its compiled paths and the closed-form Q variance the kernels
evaluate (:func:`_q_variance_coefficients`).
"""

from __future__ import annotations

import math
import time
import weakref

import numpy as np
from scipy import interpolate

from alvh.models.heston import HestonModel
from alvh.models.jumps import BatesModel, SvcjModel
from alvh.pricing import _fast
from alvh.surface.base import SpxSurface, _bisection_constants
from alvh.surface.cos import FOURIER_MODELS, _as_model, _CosSeries, _fourier_model, characteristic_function
from alvh.surface.implied import _NO_GUESS, implied_stdev
from alvh.surface.repair import _calendar_repair, _fill_wings

__all__ = ["FourierSurface"]


class FourierSurface(SpxSurface):
    """The model's own implied-volatility surface (Heston, Bates, SVCJ), tabulated from COS prices.

    Built once: on a grid of (variance state ``v``, maturity ``tau``) the ATM implied total
    variance ``w_atm(v, tau)`` is computed (COS price at ``k = 0``, inverted); then, on a grid of
    standardised moneyness ``z = k / sqrt(w_atm)``, OTM prices by :func:`cos_call_prices` are
    inverted by :func:`implied_stdev` and stored as the *normalised total variance*
    ``m = w / w_atm`` (``m = 1`` at the money). Normalising by the ATM variance keeps the smile's
    core one unit wide in ``z`` in every state, also where jumps dominate the total variance but
    not the ATM price (short maturities, low variance).

    Grid:

    - variance: ``n_var`` nodes uniform in ``x = (v + var_shift)^(1/4)`` from 0 to the variance
      whose model VIX is ``vix_max`` (default 150);
    - maturity: ``n_tau`` nodes uniform in ``ln(tau)`` from ``tau_min`` (default 1/252, one trading
      day) to ``tau_max``;
    - moneyness: ``n_z`` nodes uniform in ``xi = asinh(z / z_scale)`` over ``z_range``; dense near
      the money, sparse in the wings. The default ``(-24, 12)`` covers the 5-delta put and call
      from 1 day to ``tau_max`` for VIX-equivalent variance 9..80 under the test and fitted models
      (tests/test_surface.py); the deep jump wings of very short maturities lie beyond it.

    Interpolation (vectorised numpy, no Python loop over paths):

    - ATM level: ``w_atm = r(v, tau) * model.atm_total_variance(v, tau)`` with the tabulated ratio
      ``r`` (close to 1; the closed-form Q-expected total variance carries most of the dependence
      on ``v`` and ``tau``), ``r`` linear in ``v`` and in ``ln(tau)``;
    - shape ``m``: natural cubic spline in ``xi`` (so ``w`` is C2 in ``k`` at a fixed state and the
      butterfly density has no spikes at nodes), linear in ``x = (v + var_shift)^(1/4)`` and in
      ``ln(tau)``. The variance nodes are uniform in ``x``: dense near ``v = 0``, where the smile in
      ``z``-units changes fastest (at short maturities the ATM vol of a near-zero state is set by
      mean reversion and jumps, far below the wings).

    Outside the grid:

    - ``var`` above the top node: ``r`` and ``m`` of the top node (the ATM level still follows the
      state through ``model.atm_total_variance``); ``var`` below 0 is read as 0;
    - ``tau`` below ``tau_min`` or above ``tau_max``: ``r`` and ``m`` of the nearest maturity node,
      times the state's own ``model.atm_total_variance(v, tau)``;
    - ``z`` outside ``z_range``: ``m`` continued linearly in ``xi`` with the spline's end slope
      (the natural spline has zero curvature there, so ``w`` stays C2 in ``k``), the slope
      clipped so that ``m`` does not decrease outward (flat implied volatility at worst). As
      ``xi ~ ln|z|``, ``w`` then grows like ``ln|k|``, below Lee's (2004) linear bound
      ``w <= 2 |k|``.

    Unreliable nodes: where the OTM price is below ``price_floor`` (1e-11 of the forward; COS
    round-off is ~1e-15..1e-13, so the inverted vol would be noise -- deep wings at short
    maturities and near-zero variance) or the inversion fails, ``m`` is filled along the ``z``
    line (:func:`_fill_wings`): linear extrapolation in ``|z|`` from the two outermost reliable
    nodes (total variance linear in ``k``, the large-``|k|`` behaviour of these models; Lee 2004,
    "The moment formula for implied volatility at extreme strikes", Math. Finance 14(3)), with an
    outward slope that is non-negative and at most Lee's bound ``dw/d|k| <= 2``; filled nodes are
    then moved, where needed, so that total variance does not fall with maturity at fixed ``k``
    (:func:`_calendar_repair`). :attr:`reliable` records which nodes were computed and which
    filled. Inversion of the node prices: :func:`implied_stdev` (vectorised safeguarded Newton on
    the log price); Jäckel's "Let's be rational" (PyPI ``lets-be-rational``) was tried but is pure
    Python, ~24 us per scalar call, i.e. ~1.3 s for the ~55,000 nodes of the default grid, against
    ~0.07 s here.

    Parameters
    ----------
    model : HestonModel, BatesModel, SvcjModel or HestonParams
        (or a :class:`~alvh.models.replay.HistoricalReplay` priced by one of them). Q parameters are
        used.
    tau_max : float, default 0.5
        Longest maturity on the grid (years).
    tau_min : float, default 1/252
    vix_max : float, default 150
    n_var, n_tau, n_z : int, default 48, 24, 48
    z_range : (float, float), default (-24, 12)
    z_scale : float, default 2
    var_shift : float, default 1e-4
        Shift of the variance coordinate ``x = (v + var_shift)^(1/4)`` (annualised variance).
    n_terms : int, optional
        COS terms (default: adaptive per variance state, :func:`cos_call_prices`).
    L : float, default 12
        COS truncation range.
    price_floor : float, default 1e-11

    Attributes
    ----------
    var_nodes, tau_nodes, z_nodes : ndarray
        Grid (annualised variance, years, ATM standard deviations).
    atm_ratio : ndarray of shape (n_var, n_tau)
        ATM implied total variance over the model's Q-expected total variance,
        ``w_atm / model.atm_total_variance(v, tau)``, at the nodes.
    table : ndarray of shape (n_var, n_tau, n_z)
        Normalised total variance ``m`` at the nodes (after filling).
    reliable : ndarray of bool, shape of ``table``
        Nodes whose price was inverted (``False``: filled).
    build_seconds : float
        Wall time of the build.

    Raises
    ------
    ValueError
        If the model has no Fourier price, or a grid argument is out of range.
    """

    def __init__(self, model, tau_max: float = 0.5, *, tau_min: float = 1.0 / 252.0, vix_max: float = 150.0,
                 n_var: int = 48, n_tau: int = 24, n_z: int = 48, z_range: tuple[float, float] = (-24.0, 12.0),
                 z_scale: float = 2.0, var_shift: float = 1e-4, n_terms: int | None = None, L: float = 12.0,
                 price_floor: float = 1e-11) -> None:
        t0 = time.perf_counter()
        fm = _fourier_model(model)
        if fm is None:
            raise ValueError(
                f"no model-consistent (Fourier) surface for the {_as_model(model).name} model: only "
                f"{', '.join(c.name for c in FOURIER_MODELS)} have a semi-analytic option price; use the SSVI surface"
            )
        if not 0.0 < tau_min < tau_max:
            raise ValueError(f"need 0 < tau_min < tau_max, got {tau_min}, {tau_max}")
        if min(n_var, n_tau, n_z) < 4:
            raise ValueError(f"n_var, n_tau and n_z must be >= 4, got {n_var}, {n_tau}, {n_z}")
        if not z_range[0] < 0.0 < z_range[1]:
            raise ValueError(f"z_range must contain 0 strictly inside, got {z_range}")
        self.model = _as_model(model)
        self.pricing_model = fm
        self.tau_min, self.tau_max = float(tau_min), float(tau_max)
        self.z_scale = float(z_scale)
        v_top = float(np.asarray(fm.var_from_vix(np.array([float(vix_max)]))).ravel()[0])
        if not v_top > 0:
            raise ValueError(f"VIX {vix_max} maps to no positive variance under the {fm.name} model")
        self._v_shift = float(var_shift)
        self._x0 = self._v_shift**0.25
        self._sv_step = ((v_top + self._v_shift) ** 0.25 - self._x0) / (n_var - 1)
        self.var_nodes = (self._x0 + np.arange(n_var) * self._sv_step) ** 4 - self._v_shift
        self.var_nodes[0] = 0.0
        self._lt0 = math.log(tau_min)
        self._lt_step = (math.log(tau_max) - self._lt0) / (n_tau - 1)
        self.tau_nodes = np.exp(self._lt0 + np.arange(n_tau) * self._lt_step)
        xi_lo, xi_hi = math.asinh(z_range[0] / z_scale), math.asinh(z_range[1] / z_scale)
        self._xi0 = xi_lo
        self._xi_step = (xi_hi - xi_lo) / (n_z - 1)
        self._xi_nodes = xi_lo + np.arange(n_z) * self._xi_step
        self.z_nodes = z_scale * np.sinh(self._xi_nodes)

        cf = characteristic_function(fm)
        m = np.empty((n_var, n_tau, n_z))
        reliable = np.empty(m.shape, dtype=bool)
        s_atm = np.empty((n_var, n_tau))
        for j, tau in enumerate(self.tau_nodes):
            series = _CosSeries(cf, tau, self.var_nodes, n_terms, L)
            atm = series.prices(np.zeros(1), otm=True)[:, 0]
            guess = np.sqrt(np.asarray(fm.atm_total_variance(self.var_nodes, tau), dtype=float))
            sd = implied_stdev(atm, np.zeros(n_var), guess=guess)
            if not np.all(np.isfinite(sd) & (sd > 0)):
                raise FloatingPointError(f"ATM implied volatility not found at tau = {tau:.6g}")
            s_atm[:, j] = sd
            kk = self.z_nodes[None, :] * sd[:, None]
            otm = series.prices(kk, otm=True)
            s = implied_stdev(otm, kk, guess=np.broadcast_to(sd[:, None], kk.shape))
            good = (otm > price_floor) & np.isfinite(s)
            m[:, j, :] = np.where(good, (s / sd[:, None]) ** 2, np.nan)
            reliable[:, j, :] = good
        self.reliable = reliable
        self.table = _calendar_repair(_fill_wings(m, reliable, self.z_nodes, s_atm), reliable, self._xi_nodes,
                                      self.z_nodes, s_atm)
        self._w_ref_nodes = np.asarray(fm.atm_total_variance(self.var_nodes[:, None], self.tau_nodes[None, :]), dtype=float)
        self.atm_ratio = s_atm**2 / self._w_ref_nodes
        self._build_coefficients()
        self.build_seconds = time.perf_counter() - t0

    def _build_coefficients(self) -> None:
        """Per-interval cubic coefficients in the local variable ``t in [0, 1]`` of each ``xi`` interval."""
        n_v, n_t, n_z = self.table.shape
        spl = interpolate.CubicSpline(self._xi_nodes, self.table, axis=2, bc_type="natural")
        h = self._xi_step
        c = spl.c  # (4, n_z - 1, n_v, n_t): c[0] (x - x_i)^3 + c[1] (x - x_i)^2 + c[2] (x - x_i) + c[3]
        coef = np.stack((c[3], c[2] * h, c[1] * h**2, c[0] * h**3), axis=-1)       # (n_z-1, n_v, n_t, 4)
        # (4, n_v * n_t * (n_z - 1)): coefficient j of every (v, t, interval), rows contiguous for take()
        self._coef_t = np.ascontiguousarray(np.moveaxis(coef, 0, 2).reshape(-1, 4).T)
        self._atm_flat = np.ascontiguousarray(self.atm_ratio).reshape(-1)
        self._shape = (n_v, n_t, n_z - 1)

    def total_variance(self, k, tau, var, regime=None) -> np.ndarray:
        """Total implied variance from the table (grid, interpolation and edges: class docstring).

        Parameters
        ----------
        k, tau, var, regime
            As :meth:`SpxSurface.total_variance` (``regime`` is ignored: one regime).

        Returns
        -------
        ndarray
            ``w`` (years x annualised variance), broadcast shape of the inputs; NaN where an input
            is not finite or a maturity is not positive.

        Notes
        -----
        Compiled (:func:`alvh.fastprice.fourier_total_variance`, the same arithmetic element by
        element) unless the numpy reference is selected; the numpy code below is the reference.
        """
        fp = _fast()
        if fp is not None:
            out = self._fast_total_variance(fp, k, tau, var)
            if out is not None:
                return out
        k, tau, var = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(tau, dtype=float),
                                          np.asarray(var, dtype=float))
        bad = ~(np.isfinite(k) & np.isfinite(tau) & np.isfinite(var) & (tau > 0.0))
        if np.any(bad):   # nan out, and keep the index arithmetic below in range
            k, tau, var = np.where(bad, 0.0, k), np.where(bad, 1.0, tau), np.where(bad, 0.0, var)
        n_v, n_t, n_i = self._shape
        v = np.maximum(var, 0.0)
        # variance: node index from x = (v + shift)^(1/4); shape weights linear in x, ATM-ratio weights
        # linear in v; both clamped at the top node
        xv = (np.sqrt(np.sqrt(v + self._v_shift)) - self._x0) / self._sv_step
        iv = np.minimum(xv.astype(np.intp), n_v - 2)
        gv = np.minimum(xv - iv, 1.0)
        v_lo = self.var_nodes.take(iv)
        hv = np.minimum((v - v_lo) / (self.var_nodes.take(iv + 1) - v_lo), 1.0)
        # maturity: linear in ln(tau), clamped
        xt = np.clip((np.log(tau) - self._lt0) / self._lt_step, 0.0, n_t - 1.0)
        it = np.minimum(xt.astype(np.intp), n_t - 2)
        gt = xt - it
        ht = 1.0 - gt
        # ATM total variance: model's Q-expected total variance times the tabulated ratio
        a = self._atm_flat
        r0 = iv * n_t + it
        r1 = r0 + n_t
        lo = ht * a.take(r0) + gt * a.take(r0 + 1)
        hi = ht * a.take(r1) + gt * a.take(r1 + 1)
        w_atm = np.asarray(self.pricing_model.atm_total_variance(v, tau), dtype=float) * (lo + hv * (hi - lo))
        # moneyness: cubic in xi = asinh(z / z_scale), flat outside the grid
        xz = (np.arcsinh(k / (self.z_scale * np.sqrt(w_atm))) - self._xi0) / self._xi_step
        iz = np.clip(xz, 0.0, n_i - 1.0).astype(np.intp)
        t = xz - iz
        b00 = r0 * n_i + iz
        b01 = b00 + n_i
        b10 = b00 + n_t * n_i
        b11 = b10 + n_i
        hv_ = 1.0 - gv
        w00, w01, w10, w11 = hv_ * ht, hv_ * gt, gv * ht, gv * gt
        cs = [w00 * row.take(b00) + w01 * row.take(b01) + w10 * row.take(b10) + w11 * row.take(b11)
              for row in self._coef_t]              # blended cubic coefficients of the interval
        tc = np.clip(t, 0.0, 1.0)
        mm = cs[0] + tc * (cs[1] + tc * (cs[2] + tc * cs[3]))
        out = (t < 0.0) | (t > 1.0)
        if np.any(out):                            # beyond z_range: linear in xi, non-decreasing outward
            d = cs[1] + tc * (2.0 * cs[2] + 3.0 * tc * cs[3])
            d = np.where(t < 0.0, np.minimum(d, 0.0), np.maximum(d, 0.0))
            mm = mm + np.where(out, d * (t - tc), 0.0)
        w = mm * w_atm
        return np.where(bad, np.nan, w) if np.any(bad) else w

    # ---- compiled paths (alvh.fastprice)
    def _fast_tables(self, fp):
        """``(var_nodes, atm_flat, coef, params, inline)`` for the Fourier kernels, built once per surface.

        ``coef`` is ``_coef_t`` transposed (one row of four cubic coefficients per interval).
        ``params`` packs the grid constants and, when ``inline``, the Q-expected total variance
        ``tau (theta + (v - theta) (1 - e^{-kappa tau}) / (kappa tau) + c)`` of the Heston, Bates
        and SVCJ models, which the kernels then evaluate themselves; ``inline`` is set only when
        that formula reproduces ``pricing_model.atm_total_variance`` to 1e-13 on the grid (else
        the kernels are handed the model's own values, computed by numpy).
        """
        spec = _FAST_TABLES.get(self)
        if spec is not None:
            return spec
        n_v, n_t, n_i = self._shape
        coeffs = _q_variance_coefficients(self.pricing_model)
        kappa, theta, c = coeffs if coeffs is not None else (1.0, 0.0, 0.0)
        params = np.array([self._v_shift, self._x0, self._sv_step, self._lt0, self._lt_step, self._xi0, self._xi_step,
                           self.z_scale, kappa, theta, c, n_v, n_t, n_i], dtype=float)
        assert params.size == fp.FOURIER_PARAMS
        inline = False
        if coeffs is not None:
            v = np.concatenate((self.var_nodes, 0.5 * (self.var_nodes[:-1] + self.var_nodes[1:])))[:, None]
            t = np.concatenate((self.tau_nodes, [1e-12, 1e-9, 1.0 / 365.0, 2.0]))[None, :]
            ref = np.asarray(self.pricing_model.atm_total_variance(v, t), dtype=float)
            prep = fp.prepare(v, t)
            (a_v, a_t), rows, cols, _ = prep
            mine = fp.atm_total_variance(a_v, a_t, params, rows, cols)
            inline = bool(np.all(np.abs(mine - ref) <= 1e-13 * np.abs(ref)))
        spec = (self.var_nodes, self._atm_flat, np.ascontiguousarray(self._coef_t.T), params, inline)
        _FAST_TABLES[self] = spec
        return spec

    def _fast_wref(self, spec, var, tau):
        """The model's Q-expected total variance at ``(max(var, 0), tau)`` when the kernels cannot inline it."""
        if spec[4]:
            return _NO_GUESS
        with np.errstate(all="ignore"):
            return np.asarray(self.pricing_model.atm_total_variance(np.maximum(var, 0.0), tau), dtype=float)

    def _fast_total_variance(self, fp, k, tau, var):
        k, tau, var = np.asarray(k, dtype=float), np.asarray(tau, dtype=float), np.asarray(var, dtype=float)
        spec = self._fast_tables(fp)
        prep = fp.prepare(k, tau, var, self._fast_wref(spec, var, tau))
        if prep is None:
            return None
        (a_k, a_t, a_v, a_w), rows, cols, shape = prep
        return fp.finish(fp.fourier_total_variance(a_k, a_t, a_v, a_w, not spec[4], *spec[:4], rows, cols), shape)

    def _fast_spx_option(self, fp, spot, strike, tau, var, is_call, rate, div, regime):
        if not self._uses_own_formulas(FourierSurface):
            return None
        tau, var = np.asarray(tau, dtype=float), np.asarray(var, dtype=float)
        spec = self._fast_tables(fp)
        prep = fp.prepare(np.asarray(spot, dtype=float), np.asarray(strike, dtype=float), tau, var,
                          np.asarray(is_call, dtype=bool), self._fast_wref(spec, var, tau))
        if prep is None:
            return None
        (a_s, a_k, a_t, a_v, a_c, a_w), rows, cols, shape = prep
        price, delta = fp.spx_option_fourier(a_s, a_k, a_t, a_v, a_c, a_w, not spec[4], rate, div, *spec[:4],
                                             rows, cols)
        return fp.finish(price, shape), fp.finish(delta, shape)

    def _fast_strike_for_delta(self, fp, spot, tau, var, target, is_call, rate, div, regime):
        if not self._uses_own_formulas(FourierSurface):
            return None
        var = np.asarray(var, dtype=float)
        if var.shape != spot.shape:
            return None
        spec = self._fast_tables(fp)
        prep = fp.prepare(spot, var, self._fast_wref(spec, var, tau))
        if prep is None:
            return None
        (a_s, a_v, a_w), rows, cols, shape = prep
        strike, d = fp.strike_for_delta_fourier(a_s, a_v, a_w, not spec[4], tau, target, is_call,
                                                *_bisection_constants(tau, rate, div), *spec[:4], rows, cols)
        return fp.finish(strike, shape), fp.finish(d, shape)

    def node_values(self) -> tuple[np.ndarray, np.ndarray]:
        """Total implied variance ``w`` and log-moneyness ``k`` of every node, each of shape (n_var, n_tau, n_z)."""
        w_atm = self.atm_ratio * self._w_ref_nodes
        return self.table * w_atm[..., None], self.z_nodes * np.sqrt(w_atm)[..., None]


#: Kernel tables of each FourierSurface (kept outside the instance so that pickles are unchanged).
_FAST_TABLES: "weakref.WeakKeyDictionary[FourierSurface, tuple]" = weakref.WeakKeyDictionary()


def _q_variance_coefficients(model):
    """``(kappa, theta, c)`` with ``atm_total_variance(v, tau) = tau (avg(v, tau; kappa, theta) + c)``
    for exactly the Heston, Bates and SVCJ classes (their Q parameters), else ``None``."""
    if type(model) is HestonModel:
        p = model.params
        return float(p.kappa_q), float(p.theta_q), 0.0
    if type(model) is BatesModel:
        p = model.params
        return float(p.kappa_q), float(p.theta_q), float(model.lam_j_q * (model.mu_j_q**2 + model.sigma_j_q**2))
    if type(model) is SvcjModel:
        p = model.params
        ej2 = (model.sigma_s_q**2 + (model.rho_j_q * model.mu_v_q) ** 2
               + (model.mu_s_q + model.rho_j_q * model.mu_v_q) ** 2)
        return float(p.kappa_q), float(model.theta_q_total), float(model.lam_j_q * ej2)
    return None
