"""SPX implied-volatility surfaces as functions of the simulated state, and Black–Scholes Greeks.

A surface answers one question, vectorised over paths: the Black implied volatility of an SPX
European option of forward log-moneyness ``k = ln(K / F)`` and maturity ``tau`` (years) when the
model's variance state is ``var`` (annualised; see :mod:`alvh.models.base`) and, for regime models, the
regime is ``regime``. Two kinds exist:

- :class:`SsviSurface` -- an SSVI smile (Gatheral & Jacquier 2014) anchored at the model's
  Q-expected total variance :meth:`~alvh.models.base.PathModel.atm_total_variance`. Any model can use
  it; it is the only one for models without a semi-analytic option price (GJR-GARCH, regime
  switching).
- :class:`FourierSurface` -- the model's own smile for the affine models Heston, Bates and SVCJ:
  call prices by the COS method of Fang & Oosterlee (2008) on a grid of (variance state,
  maturity, standardised moneyness), inverted once to implied volatilities, then interpolated.

:func:`make_surface` picks one, :func:`surface_option` prices options and their Greeks on it,
:func:`bs_greeks` are the Black–Scholes–Merton closed forms, :func:`cos_call_prices` the COS pricer
and :func:`implied_stdev` the vectorised implied-volatility inversion used to build the table.

Units: time in years, variance annualised, rates and dividend yields continuously compounded,
prices in index points (per unit of underlying; multiply by 100 for an SPX contract).
"""

from __future__ import annotations

import math
import time
import warnings
import weakref
from abc import ABC, abstractmethod
from typing import Callable, NamedTuple

import numpy as np
from scipy import interpolate, special

from alvh.models.base import PathModel
from alvh.models.heston import HestonModel, HestonParams
from alvh.models.jumps import BatesModel, SvcjModel, bates_characteristic_function, svcj_characteristic_function
from alvh.pricing import _fast, black_scholes

__all__ = [
    "strip_total_variance",
    "FOURIER_MODELS",
    "characteristic_function",
    "cos_call_prices",
    "implied_stdev",
    "SpxSurface",
    "SsviSurface",
    "FourierSurface",
    "make_surface",
    "Greeks",
    "bs_greeks",
    "surface_option",
    "benchmark_surface",
]

#: Model classes with a semi-analytic (Fourier) option price, for which :class:`FourierSurface` exists.
FOURIER_MODELS = (HestonModel, BatesModel, SvcjModel)

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


def _as_model(model):
    """Plain :class:`~alvh.models.heston.HestonParams` are wrapped in a :class:`HestonModel`."""
    return HestonModel(model) if isinstance(model, HestonParams) else model


def _fourier_model(model):
    """The model whose Q dynamics give the Fourier surface, or ``None``.

    A :class:`~alvh.models.replay.HistoricalReplay` is priced by its ``pricing`` model (its variance state
    is that model's), so it is unwrapped.
    """
    model = _as_model(model)
    inner = getattr(model, "pricing", None)
    if model.name == "replay" and isinstance(inner, PathModel):
        model = inner
    return model if isinstance(model, FOURIER_MODELS) else None


# ================================================================================================
# characteristic functions and the COS method
# ================================================================================================


def characteristic_function(model) -> Callable:
    """Q characteristic function of the forward log-return ``X = ln(S_tau / F)`` of a Fourier model.

    Parameters
    ----------
    model : HestonModel, BatesModel, SvcjModel or HestonParams
        Its Q parameters are used: ``kappa_q, theta_q, sigma, rho`` and the ``_q`` jump law.

    Returns
    -------
    callable
        ``phi(u, tau, v) -> complex ndarray``, ``E_Q[exp(i u X) | v_0 = v]`` with ``u`` complex and
        ``v`` (annualised variance state) broadcast against each other; ``tau`` a float (years).
        ``phi(-1j, tau, v) = 1`` (``S e^{-(r - q) t}`` is a Q-martingale).

    Raises
    ------
    ValueError
        If the model has no Fourier price (not Heston, Bates or SVCJ).

    Notes
    -----
    The CF of ``ln S_tau`` with ``S_0 = 1`` and ``r = q = 0`` is that of ``X``. Heston (1993) is
    :func:`alvh.models.jumps.bates_characteristic_function` with no jumps (Albrecher et al. 2007
    "little trap" form); Bates (1996) and SVCJ (Duffie, Pan & Singleton 2000) are
    :func:`alvh.models.jumps.bates_characteristic_function` and
    :func:`alvh.models.jumps.svcj_characteristic_function` with the Q parameters. These are affine:
    ``ln phi = C(u, tau) + D(u, tau) v``.
    """
    m = _fourier_model(model)
    if m is None:
        raise ValueError(f"no Fourier characteristic function for the {_as_model(model).name} model")
    p = m.params
    hq = (p.kappa_q, p.theta_q, p.sigma, p.rho)
    if isinstance(m, SvcjModel):
        jq = (m.lam_j_q, m.mu_s_q, m.sigma_s_q, m.mu_v_q, m.rho_j_q)
        return lambda u, tau, v: svcj_characteristic_function(u, float(tau), 1.0, 0.0, 0.0, v, *hq, *jq)
    jq = (m.lam_j_q, m.mu_j_q, m.sigma_j_q) if isinstance(m, BatesModel) else (0.0, 0.0, 0.0)
    return lambda u, tau, v: bates_characteristic_function(u, float(tau), 1.0, 0.0, 0.0, v, *hq, *jq)


def _cumulants(cf, tau: float, v: np.ndarray, radius: float = 0.5, n_points: int = 32):
    """First, second and fourth cumulants of ``X`` given each ``v``, from the CF by a Cauchy integral.

    ``c_n = n! / (2 pi i) oint K(s) s^{-n-1} ds`` with the cumulant generating function
    ``K(s) = ln phi(-i s)``, evaluated by the trapezoidal rule on the circle ``|s| = radius``
    (exponentially accurate for a function analytic in a larger disc; Trefethen & Weideman 2014,
    SIAM Review 56(3), sec. 16). If the circle meets a moment explosion (non-finite ``K``), the
    radius is halved, up to 6 times. Returns three arrays of shape ``v.shape``.
    """
    th = 2.0 * np.pi * np.arange(n_points) / n_points
    for _ in range(7):
        s = radius * np.exp(1j * th)
        with np.errstate(all="ignore"):
            k_s = np.log(cf(-1j * s, tau, v[..., None]))
        if np.all(np.isfinite(k_s)):
            break
        radius *= 0.5
    out = []
    for n in (1, 2, 4):
        out.append(math.factorial(n) * radius**-n * np.mean(k_s * np.exp(-1j * n * th), axis=-1).real)
    return out


def cos_call_prices(model, k, tau: float, var, n_terms: int | None = None, L: float = 12.0,
                    otm: bool = False, cf: Callable | None = None) -> np.ndarray:
    """European option prices by the COS method, vectorised over variance states and strikes.

    Forward-normalised units: the undiscounted price of an option on a forward ``F = 1`` with
    strike ``e^k``, so the result depends on neither rate nor dividend (multiply by
    ``F e^{-r tau}`` for index points).

    Parameters
    ----------
    model : HestonModel, BatesModel, SvcjModel or HestonParams
        Supplies the Q characteristic function (:func:`characteristic_function`); ignored when
        ``cf`` is given.
    k : array_like of shape (n_k,) or (n_v, n_k)
        Forward log-moneyness ``ln(K / F)``; a 1-D array is shared by every variance state.
    tau : float
        Maturity in years, > 0.
    var : array_like of shape (n_v,)
        Variance states (annualised, >= 0).
    n_terms : int, optional
        Number of cosine terms. By default chosen per variance state: the smallest of
        32, 64, ..., 8192 at which ``|phi(u_N)| < 1e-14`` (the series' coefficients have decayed),
        else 16384; states sharing a number of terms are priced together. Near-zero variance
        states need the most terms (their density of ``X`` is sharply peaked).
    L : float, default 12
        Truncation range in standard deviations (see Notes). F&O use 10; with SVCJ's exponential
        price-jump tail 10 leaves truncation errors ~1e-10 of the forward at one day, 12 ~4e-12.
    otm : bool, default False
        Return out-of-the-money prices (puts where ``k < 0``, calls where ``k >= 0``), accurate in
        relative terms in the wings, instead of calls.
    cf : callable, optional
        ``cf(u, tau, v)``, the CF of ``X = ln(S_tau / F)`` (as :func:`characteristic_function`).

    Returns
    -------
    ndarray of shape (n_v, n_k)
        Call prices (or OTM prices with ``otm=True``), per unit of forward, undiscounted. Deep in
        the wings the absolute error is ~1e-15..1e-13 (round-off of the sum), so relative errors
        grow once prices fall below ~1e-11.

    Raises
    ------
    ValueError
        If ``tau <= 0``, a variance is negative, or the model has no CF.

    Notes
    -----
    Fang, F. & Oosterlee, C. W. (2008), "A novel pricing method for European options based on
    Fourier-cosine series expansions", SIAM J. Sci. Comput. 31(2), 826-848. The density of ``X``
    on ``[a, b]`` is replaced by its cosine series with coefficients
    ``A_n = 2/(b-a) Re[phi(u_n) e^{-i u_n a}]``, ``u_n = n pi / (b - a)`` (eqs. 8-9), and the price
    is ``sum'_n A_n G_n`` with ``G_n = int g(x) cos(u_n (x - a)) dx`` of the payoff
    ``g(x) = (e^x - e^k)^+`` (call) or ``(e^k - e^x)^+`` (put), in closed form through
    ``chi_n`` and ``psi_n`` of eqs. (22)-(23) on ``[max(k, a), b]`` or ``[a, min(k, b)]``.
    Truncation range (sec. 5, eq. 49): ``[a, b] = c1 -+ L sqrt(c2 + sqrt(c4))`` with the cumulants
    ``c1, c2, c4`` of ``X`` for each state, computed from the CF by a Cauchy integral
    (:func:`_cumulants`), so each variance state has its own range and its own ``u_n``; the CF
    is evaluated on the ``(v, n)`` grid (affine CF, cheap) and the strike dependence enters
    through ``G_n`` only. Calls are priced directly (not by parity) so that deep OTM calls keep
    their relative accuracy.
    """
    v = np.atleast_1d(np.asarray(var, dtype=float))
    cf = characteristic_function(model) if cf is None else cf
    return _CosSeries(cf, tau, v, n_terms, L).prices(k, otm)


#: Candidate numbers of COS terms (the adaptive choice takes the smallest that suffices).
_N_TERMS_CANDIDATES = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
_N_TERMS_MAX = 16384
#: ``|phi(u_N)|`` below which the cosine series is truncated.
_CF_TAIL_TOL = 1e-14


class _CosSeries:
    """COS density coefficients of ``X`` for one maturity and many variance states (see :func:`cos_call_prices`).

    Built once per maturity; :meth:`prices` then prices any strikes. States that need the same
    number of terms are kept together as a group.
    """

    def __init__(self, cf, tau: float, v: np.ndarray, n_terms: int | None, L: float) -> None:
        tau = float(tau)
        if not tau > 0.0:
            raise ValueError(f"tau must be > 0, got {tau}")
        if v.ndim != 1:
            raise ValueError(f"var must be 1-D, got shape {v.shape}")
        if np.any(v < 0) or not np.all(np.isfinite(v)):
            raise ValueError("var must be finite and >= 0")
        self.n_v = v.size
        c1, c2, c4 = _cumulants(cf, tau, v)
        half = L * np.sqrt(np.abs(c2) + np.sqrt(np.abs(c4)))
        a, b = c1 - half, c1 + half
        width = b - a
        if n_terms is None:
            n_v_terms = np.full(v.size, _N_TERMS_MAX)
            for cand in _N_TERMS_CANDIDATES[::-1]:
                with np.errstate(all="ignore"):
                    tail = np.abs(cf(cand * np.pi / width, tau, v))
                n_v_terms = np.where(tail < _CF_TAIL_TOL, cand, n_v_terms)
        else:
            n_v_terms = np.full(v.size, int(n_terms))
        self.n_terms = n_v_terms
        self.groups = []
        for n_g in np.unique(n_v_terms):
            g = np.flatnonzero(n_v_terms == n_g)
            n = np.arange(int(n_g))
            wg, ag, bg = width[g], a[g], b[g]
            u = n[None, :] * (np.pi / wg)[:, None]                                  # (n_g, N)
            with np.errstate(all="ignore"):
                phi = cf(u, tau, v[g][:, None])
            phi = np.where(np.isfinite(phi), phi, 0.0)
            coef = (2.0 / wg)[:, None] * (phi * np.exp(-1j * u * ag[:, None])).real  # A_n (eq. 9)
            coef[:, 0] *= 0.5                                                       # primed sum
            inv = 1.0 / (1.0 + u * u)
            u1 = np.where(n == 0, 1.0, u)
            alpha = np.where(n == 0, 0.0, coef / u1)
            beta = np.where(n == 0, 0.0, coef * inv) - 1j * np.where(n == 0, 0.0, coef * u * inv)
            alt = np.where(n % 2 == 0, 1.0, -1.0)
            put_const = np.exp(ag) * (coef * inv).sum(axis=1)
            call_const = np.exp(bg) * (coef * alt * inv).sum(axis=1)
            self.groups.append((g, ag, bg, coef[:, 0], alpha, beta, put_const, call_const))

    def prices(self, k, otm: bool) -> np.ndarray:
        """Calls (or OTM options) of log-strikes ``k`` (n_k,) or (n_v, n_k); shape (n_v, n_k).

        With ``theta = pi (c - a) / (b - a)``, ``c`` the strike clipped to ``[a, b]``, and ``n >= 1``,
        F&O's ``chi_n``, ``psi_n`` (eqs. 22-23) give the payoff coefficients

            put_n  = e^k sin(n theta) / u_n - e^c (cos(n theta) + u_n sin(n theta)) / (1 + u_n^2) + e^a / (1 + u_n^2)
            call_n = put_n + ((-1)^n e^b - e^a) / (1 + u_n^2),

        and for ``n = 0``: ``put_0 = e^k (c - a) - e^c + e^a``, ``call_0 = e^b - e^c - e^k (b - c)``;
        the strike-dependent sums are two complex sums over ``e^{i n theta}``.
        """
        k = np.asarray(k, dtype=float)
        k = np.broadcast_to(k if k.ndim == 2 else k[None, :], (self.n_v, k.shape[-1]))
        out = np.empty(k.shape)
        for g, a, b, c0, alpha, beta, put_const, call_const in self.groups:
            kg = k[g]
            c = np.clip(kg, a[:, None], b[:, None])
            theta = (np.pi / (b - a))[:, None] * (c - a[:, None])
            t1, t2 = _trig_sums(theta, alpha, beta)
            ek, ec = np.exp(kg), np.exp(c)
            common = ek * t1.imag - ec * t2.real + c0[:, None] * (ek * (c - a[:, None]) - ec)
            if otm:
                put_side = kg < 0.0
                const = np.where(put_side, put_const[:, None], call_const[:, None])
                out[g] = common + const - np.where(put_side, 0.0, c0[:, None] * ek * (b - a)[:, None])
            else:
                out[g] = common + call_const[:, None] - c0[:, None] * ek * (b - a)[:, None]
        return out


def _trig_sums(theta, alpha, beta):
    """``sum_n alpha_n e^{i n theta}`` and ``sum_n beta_n e^{i n theta}``; ``theta`` (n_v, n_k), ``alpha``, ``beta`` (n_v, N).

    ``e^{i n theta}`` is built as ``e^{i q M theta} e^{i r theta}`` (``n = q M + r``, ``M = 64``): one
    complex product per term instead of one complex exponential (5-10 times faster; the
    round-off is that of the exponential's argument reduction, ~1e-16 |n theta|).
    """
    n_terms = alpha.shape[1]
    m_blk = min(64, n_terms)
    q_blk = -(-n_terms // m_blk)
    inner = np.exp(1j * theta[..., None] * np.arange(m_blk))                          # (n_v, n_k, M)
    outer = np.exp(1j * theta[..., None] * (m_blk * np.arange(q_blk)))                # (n_v, n_k, Q)
    rot = (outer[..., :, None] * inner[..., None, :]).reshape(theta.shape + (q_blk * m_blk,))[..., :n_terms]
    return np.einsum("vn,vkn->vk", alpha, rot), np.einsum("vn,vkn->vk", beta, rot)


# ================================================================================================
# implied volatility
# ================================================================================================


_NO_GUESS = np.zeros(())
_UNUSED_2D, _UNUSED_1D = np.zeros((1, 4)), np.zeros(1)


def _ln_otm_call(x, s):
    """``ln c(x, s)`` and ``d ln c / ds`` of the normalised Black call, ``x >= 0`` (OTM), ``s > 0``.

    ``c = N(d1) - e^x N(d2) = (1/2) e^{-d1^2/2} [erfcx(-d1/sqrt2) - erfcx(-d2/sqrt2)]`` with
    ``d1 = -x/s + s/2``, ``d2 = d1 - s`` (using ``e^x e^{-d2^2/2} = e^{-d1^2/2}``), so ``ln c`` is
    finite even where ``c`` underflows; ``dc/ds = phi(d1)`` (vega).
    """
    fp = _fast()
    if fp is not None:
        prep = fp.prepare(np.asarray(x, dtype=float), np.asarray(s, dtype=float))
        if prep is not None:
            (a_x, a_s), rows, cols, shape = prep
            ln_c, dln = fp.ln_otm_call(a_x, a_s, rows, cols)
            return fp.finish(ln_c, shape), fp.finish(dln, shape)
    d1 = -x / s + 0.5 * s
    diff = special.erfcx(-d1 / _SQRT2) - special.erfcx(-(d1 - s) / _SQRT2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_c = -0.5 * d1 * d1 + np.log(0.5 * diff)
        dln = 2.0 / (_SQRT2PI * diff)
    return ln_c, dln


def implied_stdev(price, k, guess=None, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Total implied standard deviation ``s = sigma sqrt(tau)`` from normalised OTM Black prices.

    Parameters
    ----------
    price : array_like
        Undiscounted OTM option price per unit of forward (``F = 1``, strike ``e^k``): a put
        where ``k < 0``, a call where ``k >= 0``.
    k : array_like
        Forward log-moneyness, broadcastable against ``price``.
    guess : array_like, optional
        Starting values of ``s`` (default ``max(sqrt(2 |k|), 0.1)``).
    tol : float, default 1e-10
        Convergence tolerance on ``ln(price)`` (the relative error of ``s`` is at most about
        ``tol``: ``d ln c / d ln s >= 1`` for OTM options); a Newton step below ``1e-3 tol``
        relative also ends the iteration.
    max_iter : int, default 100

    Returns
    -------
    ndarray
        ``s`` (so ``sigma = s / sqrt(tau)``); ``nan`` where the price is outside the no-arbitrage
        range ``0 < price < min(1, e^k)`` or the iteration did not converge.

    Notes
    -----
    Safeguarded Newton iteration on ``ln c(|k|, s) = ln(price) - min(k, 0)``, where ``c`` is the
    normalised OTM call and put-call symmetry ``p(k, s) = e^k c(-k, s)`` maps puts to calls. Working
    with the logarithm of the price is the transformation recommended for the low-price wings
    by Jäckel (2015), "Let's be rational", Wilmott 2015(75), sec. 3; ``ln c`` is evaluated with
    the scaled complementary error function (``scipy.special.erfcx``) so that it stays accurate
    where ``c`` underflows. A bracket ``[lo, hi]`` is kept from the signs of the residual
    (``ln c`` increases in ``s``); a Newton step leaving it is replaced by bisection (geometric
    when ``lo > 0``). Vectorised over all inputs; compiled (:func:`alvh.fastprice.implied_stdev`, one
    element at a time, the same steps) unless the numpy reference is selected.
    """
    fp = _fast()
    if fp is not None:
        g = _NO_GUESS if guess is None else np.asarray(guess, dtype=float)
        prep = fp.prepare(np.asarray(price, dtype=float), np.asarray(k, dtype=float), g)
        if prep is not None:
            (a_p, a_k, a_g), rows, cols, shape = prep
            out = fp.implied_stdev(a_p, a_k, a_g, guess is not None, float(tol), int(max_iter), rows, cols)
            return out.reshape(shape)       # an array, also 0-d (as np.where gives)
    price, k = np.broadcast_arrays(np.asarray(price, dtype=float), np.asarray(k, dtype=float))
    x = np.abs(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        target = np.log(price) - np.minimum(k, 0.0)
    ok = np.isfinite(target) & (target < 0.0) & (price > 0.0)
    target = np.where(ok, target, -1.0)
    s = np.maximum(np.sqrt(2.0 * x), 0.1) if guess is None else np.asarray(guess, dtype=float) + 0.0 * x
    s = np.where(np.isfinite(s) & (s > 0), s, 0.1)
    lo = np.zeros(x.shape)
    hi = np.full(x.shape, np.inf)
    done = ~ok
    for _ in range(max_iter):
        f, df = _ln_otm_call(x, s)
        f = f - target
        hit = np.abs(f) < tol                       # converged at s: keep s
        lo = np.where(f < 0, s, lo)
        hi = np.where(f > 0, s, hi)
        s_new = s - f / df
        outside = ~np.isfinite(s_new) | (s_new <= lo) | (s_new >= hi)
        small = ~outside & (np.abs(s_new - s) <= 1e-3 * tol * s)   # converged Newton step: take it
        bis = np.where(np.isfinite(hi), np.where(lo > 0, np.sqrt(lo * hi), 0.5 * hi), 2.0 * s)
        s_new = np.where(outside, bis, s_new)
        s = np.where(done | hit, s, s_new)
        done = done | hit | small
        if np.all(done):
            break
    return np.where(ok & done, s, np.nan)


# ================================================================================================
# surfaces
# ================================================================================================


class SpxSurface(ABC):
    """Black implied volatility of SPX options as a function of the simulated state.

    Attributes
    ----------
    model : PathModel
        The model whose state (``var``, ``regime``) the surface reads.
    """

    model: PathModel

    @abstractmethod
    def total_variance(self, k, tau, var, regime=None) -> np.ndarray:
        """Total implied variance ``w = sigma_BS^2 tau``.

        Parameters
        ----------
        k : array_like, broadcastable to (n,)
            Forward log-moneyness ``ln(K / F)``.
        tau : float or array_like, broadcastable to (n,)
            Maturity in years, > 0.
        var : array_like, broadcastable to (n,)
            Variance state (annualised).
        regime : array_like of int, broadcastable to (n,), optional
            Regime labels (regime-switching models; ignored otherwise).

        Returns
        -------
        ndarray of shape (n,)
            ``w`` (years x annualised variance).
        """

    def implied_vol(self, k, tau, var, regime=None) -> np.ndarray:
        """Black implied volatility ``sqrt(w / tau)`` (annualised, 0.2 = 20%); arguments as :meth:`total_variance`."""
        return np.sqrt(self.total_variance(k, tau, var, regime) / np.asarray(tau, dtype=float))

    # ---- compiled paths (alvh.fastprice); None means "no kernel applies: run the numpy reference"
    def _fast_spx_option(self, fp, spot, strike, tau, var, is_call, rate: float, div: float, regime):
        """:func:`alvh.pricing.spx_option` by a fused kernel: ``(price, delta)``, or ``None``."""
        return None

    def _fast_strike_for_delta(self, fp, spot, tau: float, var, target: float, is_call: bool, rate: float,
                               div: float, regime):
        """The root search of :func:`alvh.pricing.strike_for_delta` by a kernel: unrounded ``(strike, delta)``,
        or ``None``."""
        return None

    def _uses_own_formulas(self, cls) -> bool:
        """Whether this object prices with ``cls``'s own :meth:`total_variance` and :meth:`implied_vol`
        (a subclass overriding either gets no kernel)."""
        return (type(self).total_variance is cls.total_variance
                and type(self).implied_vol is SpxSurface.implied_vol)


def _bisection_constants(tau: float, rate: float, div: float) -> tuple[float, ...]:
    """Maturity-only factors of :func:`alvh.pricing.strike_for_delta` as its numpy code computes them:
    ``math.exp((r - q) tau)`` and numpy's ``exp((r - q) tau)``, ``sqrt(tau)``, ``exp(-r tau)``, ``exp(-q tau)``."""
    t = np.asarray(tau, dtype=float)
    return (math.exp((rate - div) * tau), float(np.exp((rate - div) * t)), float(np.sqrt(t)),
            float(np.exp(-rate * t)), float(np.exp(-div * t)))


def strip_total_variance(w_fn, sd, z_range: tuple[float, float] = (-200.0, 60.0), n: int = 12001) -> np.ndarray:
    """Variance-swap (log-contract) total variance of smile slices: the value of the OTM option strip.

    Parameters
    ----------
    w_fn : callable
        ``k -> w``: total implied variance at forward log-moneyness ``k``, for ``k`` of shape
        (m, n) (one row per slice), returning the same shape.
    sd : ndarray of shape (m,)
        A scale per slice (e.g. the square root of its ATM total variance, > 0); the integral runs
        over ``k = sd * z`` for ``z`` in ``z_range``.
    z_range : tuple of float, default (-200, 60)
        Integration range in units of ``sd`` (wide: the SSVI put wing is fat).
    n : int, default 12001
        Trapezoid nodes.

    Returns
    -------
    ndarray of shape (m,)
        ``2 int OTM(k) e^{-k} dk`` with undiscounted forward-normalised Black prices: the
        Q-expectation of ``-2 ln(S_T / F)``, i.e. ``VIX^2 * tau`` when ``tau`` is 30 days (Carr &
        Madan 1998; Demeterfi, Derman, Kamal & Zou 1999, "More than you ever wanted to know about
        volatility swaps", eq. 26; Cboe VIX white paper).
    """
    sd = np.asarray(sd, dtype=float)
    z = np.linspace(z_range[0], z_range[1], n)
    k = np.maximum(sd[:, None] * z[None, :], -700.0)  # e^k stays a normal float
    s = np.sqrt(np.maximum(np.asarray(w_fn(k), dtype=float), 1e-300))
    d1 = -k / s + 0.5 * s
    d2 = d1 - s
    ek = np.exp(k)
    otm = np.where(k < 0.0, ek * special.ndtr(-d2) - special.ndtr(-d1), special.ndtr(d1) - ek * special.ndtr(d2))
    return 2.0 * np.trapezoid(np.maximum(otm, 0.0) / ek, k, axis=1)


class SsviSurface(SpxSurface):
    """SSVI smile whose option strip reproduces the model's Q-expected total variance (any model).

    ``w(k, tau) = smile.total_variance(k, theta_t)``: the SSVI slice of Gatheral & Jacquier (2014),
    "Arbitrage-free SVI volatility surfaces", Quantitative Finance 14(1), eq. (4.1), with ATM total
    variance ``theta_t`` chosen so that the slice's variance-swap value (the OTM strip,
    :func:`strip_total_variance`) equals ``model.atm_total_variance(var, tau, regime)``, the
    model's Q expectation of the integrated variance (jumps included). At 30 days that makes the
    strip's VIX equal the model VIX, the definition of the index. (Anchoring the ATM level itself
    at the expected variance would put the strip 20-24% above the model VIX with the default skew.)

    The map ``theta -> strip(theta)`` depends on the slice shape only; it is tabulated once on
    240 geometric nodes of ``theta`` (1e-7 to 20) and inverted by log-log interpolation. Outside
    the nodes the ratio strip/theta of the end node is used (the slice shape in standardised
    moneyness tends to a limit as ``theta -> 0``).

    Parameters
    ----------
    model : PathModel or HestonParams
    smile : alvh.pricing.SpxSmile
        Any object with ``total_variance(k, atm_total_variance)``.

    Notes
    -----
    Free of butterfly arbitrage when ``eta (1 + |rho|) <= 2`` (G&J, Corollary 4.1, enforced by
    ``SpxSmile``) and of calendar arbitrage when ``theta_t`` is non-decreasing in ``tau`` and
    ``theta phi(theta)`` is non-decreasing (true for the power-law ``phi``, G&J Theorem 4.1);
    ``theta_t`` is an increasing function of the integrated variance, which grows with ``tau``.
    """

    def __init__(self, model, smile) -> None:
        self.model = _as_model(model)
        self.smile = smile
        theta = np.geomspace(1e-7, 20.0, 240)
        strip = strip_total_variance(lambda k: smile.total_variance(k, theta[:, None]), np.sqrt(theta))
        if np.any(np.diff(strip) <= 0):
            raise ValueError("the SSVI strip variance is not increasing in theta; check the smile parameters")
        self._log_theta, self._log_strip = np.log(theta), np.log(strip)

    def atm_total_variance(self, target) -> np.ndarray:
        """ATM total variance ``theta`` whose slice strip equals ``target`` (years x variance, >= 0)."""
        t = np.maximum(np.asarray(target, dtype=float), 1e-300)
        lt, ls = self._log_theta, self._log_strip
        x = np.log(t)
        out = np.interp(x, ls, lt)
        out = np.where(x < ls[0], x - (ls[0] - lt[0]), out)
        out = np.where(x > ls[-1], x - (ls[-1] - lt[-1]), out)
        return np.exp(out)

    def total_variance(self, k, tau, var, regime=None) -> np.ndarray:
        """Total implied variance of the SSVI slice at the strip-matched ATM level.

        Parameters and returns as :meth:`SpxSurface.total_variance`.
        """
        target = self.model.atm_total_variance(var, tau, regime)
        return self.smile.total_variance(k, self.atm_total_variance(target))

    def _fast_smile(self):
        """``(rho, eta, gamma)`` of an :class:`~alvh.pricing.SpxSmile` priced by this class's formulas, or ``None``."""
        from alvh.pricing import SpxSmile  # imported here: alvh.pricing may import this module

        if type(self.smile) is not SpxSmile or not self._uses_own_formulas(SsviSurface):
            return None
        return float(self.smile.rho), float(self.smile.eta), float(self.smile.gamma)

    def _fast_spx_option(self, fp, spot, strike, tau, var, is_call, rate, div, regime):
        smile = self._fast_smile()
        if smile is None:
            return None
        tau = np.asarray(tau, dtype=float)
        th = np.asarray(self.atm_total_variance(self.model.atm_total_variance(var, tau, regime)), dtype=float)
        prep = fp.prepare(np.asarray(spot, dtype=float), np.asarray(strike, dtype=float), tau, th,
                          np.asarray(is_call, dtype=bool))
        if prep is None:
            return None
        (a_s, a_k, a_t, a_th, a_c), rows, cols, shape = prep
        price, delta = fp.spx_option_ssvi(a_s, a_k, a_t, a_th, a_c, rate, div, *smile, rows, cols)
        return fp.finish(price, shape), fp.finish(delta, shape)

    def _fast_strike_for_delta(self, fp, spot, tau, var, target, is_call, rate, div, regime):
        smile = self._fast_smile()
        if smile is None:
            return None
        th = np.asarray(self.atm_total_variance(self.model.atm_total_variance(var, tau, regime)), dtype=float)
        if th.shape != spot.shape:
            return None
        prep = fp.prepare(spot, th)
        if prep is None:
            return None
        (a_s, a_th), rows, cols, shape = prep
        strike, d = fp.strike_for_delta_ssvi(a_s, a_th, tau, target, is_call, *_bisection_constants(tau, rate, div),
                                             *smile, _UNUSED_2D, _UNUSED_1D, rows, cols)
        return fp.finish(strike, shape), fp.finish(d, shape)


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


def _calendar_repair(m: np.ndarray, reliable: np.ndarray, xi: np.ndarray, z: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Raise filled nodes so that total variance does not fall with maturity at fixed ``k``.

    Parameters
    ----------
    m : ndarray of shape (n_var, n_tau, n_z)
        Normalised total variance after :func:`_fill_wings`.
    reliable : ndarray of bool, shape of ``m``
    xi, z : ndarray of shape (n_z,)
        Moneyness nodes (``xi = asinh(z / z_scale)``, ``z``).
    sd : ndarray of shape (n_var, n_tau)
        ATM implied total standard deviation of each line.

    Returns
    -------
    ndarray, shape of ``m``
        Each *filled* node ``(v, tau_j, z)`` (at ``k = z sd_j``) is first capped, going down in
        maturity, by the total variance of the next maturity's line at the same ``k``, then raised,
        going up, to that of the previous maturity's line (lines interpolated linearly in ``xi``,
        flat beyond their ends). Reliable nodes are
        never changed: prices of a martingale model are non-decreasing in maturity at fixed
        forward moneyness, so the computed nodes already satisfy it; only the extrapolated wings
        can break it.
    """
    out = m.copy()
    z_scale = z[-1] / math.sinh(xi[-1])
    n_t = m.shape[1]

    def other(i, j, jo, mask):   # w of line (i, jo) at the k of nodes (i, j, mask), in units of line j
        xo = np.arcsinh(z[mask] * (sd[i, j] / sd[i, jo]) / z_scale)
        return np.interp(xo, xi, out[i, jo]) * (sd[i, jo] / sd[i, j]) ** 2

    for i in range(m.shape[0]):
        for j in range(n_t - 2, -1, -1):          # cap by the next maturity
            bad = ~reliable[i, j]
            if bad.any():
                out[i, j, bad] = np.minimum(out[i, j, bad], other(i, j, j + 1, bad))
        for j in range(1, n_t):                   # raise to the previous maturity
            bad = ~reliable[i, j]
            if bad.any():
                out[i, j, bad] = np.maximum(out[i, j, bad], other(i, j, j - 1, bad))
    return out


def _fill_wings(m: np.ndarray, reliable: np.ndarray, z: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Fill the unreliable nodes of ``m`` along its last axis (see :class:`FourierSurface`).

    Parameters
    ----------
    m : ndarray of shape (..., n_z)
        Normalised total variance, ``nan`` where unreliable.
    reliable : ndarray of bool, shape of ``m``
    z : ndarray of shape (n_z,)
        Moneyness nodes (ATM standard deviations), increasing.
    sd : ndarray of shape ``m.shape[:-1]``
        ``sqrt(w_ref)`` of each line.

    Returns
    -------
    ndarray, shape of ``m``
        On each side of the money, nodes beyond the outermost reliable one get ``m`` extrapolated
        linearly in ``|z|`` from the two outermost reliable nodes, the outward slope clipped to
        ``[0, 2 / sd]`` (Lee's bound ``dw/d|k| <= 2`` in ``m``-units: ``w = m sd^2``,
        ``k = z sd``); flat with a single reliable node on that side. Unreliable nodes between
        reliable ones are interpolated linearly in ``z``.

    Raises
    ------
    FloatingPointError
        If a whole line is unreliable (cannot happen for ``price_floor`` well below ATM prices).
    """
    out = m.copy()
    n_z = z.size
    i0 = int(np.argmin(np.abs(z)))
    flat = out.reshape(-1, n_z)
    rel = reliable.reshape(-1, n_z)
    sds = np.broadcast_to(sd, m.shape[:-1]).reshape(-1)
    for r in np.flatnonzero(~rel.all(axis=1)):
        row, ok = flat[r], rel[r]
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            raise FloatingPointError("a whole moneyness line of the surface table is unreliable")
        for side in (-1, 1):
            inner = idx[idx <= i0] if side < 0 else idx[idx >= i0]
            if inner.size == 0:
                inner = idx
            last = inner.min() if side < 0 else inner.max()
            near = inner[inner > last] if side < 0 else inner[inner < last]
            slope = 0.0
            if near.size:
                prev = near.min() if side < 0 else near.max()
                slope = (row[last] - row[prev]) / (abs(z[last]) - abs(z[prev]))
            slope = min(max(slope, 0.0), 2.0 / sds[r])
            targets = np.arange(0, last) if side < 0 else np.arange(last + 1, n_z)
            row[targets] = row[last] + slope * (np.abs(z[targets]) - abs(z[last]))
        holes = np.isnan(row)
        if np.any(holes):
            row[holes] = np.interp(z[holes], z[~holes], row[~holes])
    return out


def make_surface(model, kind: str = "auto", smile=None, tau_max: float = 0.5, **options) -> SpxSurface:
    """The SPX surface for ``model``.

    Parameters
    ----------
    model : PathModel or HestonParams
    kind : {"auto", "model", "ssvi"}, default "auto"
        ``"auto"``: :class:`FourierSurface` for Heston, Bates and SVCJ (and a historical replay
        priced by one of them), :class:`SsviSurface` otherwise; ``"model"``: the Fourier surface
        or an error; ``"ssvi"``: the SSVI surface whatever the model.
    smile : alvh.pricing.SpxSmile, optional
        Shape of the SSVI surface (default ``SpxSmile()``); unused by the Fourier surface.
    tau_max : float, default 0.5
        Longest maturity of the Fourier surface's grid (years); longer maturities use its last
        maturity's smile shape.
    **options
        Passed to :class:`FourierSurface` (grid sizes, ...).

    Returns
    -------
    SpxSurface

    Raises
    ------
    ValueError
        Unknown ``kind``, or ``kind="model"`` for a model without a semi-analytic price.
    """
    model = _as_model(model)
    if kind not in ("auto", "model", "ssvi"):
        raise ValueError(f"surface kind must be 'auto', 'model' or 'ssvi', got {kind!r}")
    fourier = _fourier_model(model) is not None
    if kind == "model" and not fourier:
        raise ValueError(
            f"kind='model' needs a model with a semi-analytic option price "
            f"({', '.join(c.name for c in FOURIER_MODELS)}); the {model.name} model has none, use 'ssvi' or 'auto'"
        )
    if kind == "model" or (kind == "auto" and fourier):
        return FourierSurface(model, tau_max=tau_max, **options)
    if smile is None:
        from alvh.pricing import SpxSmile  # imported here: alvh.pricing may import this module

        smile = SpxSmile()
    return SsviSurface(model, smile)


# ================================================================================================
# Black-Scholes Greeks and surface pricing
# ================================================================================================


class Greeks(NamedTuple):
    """Price and Greeks of European options, one value per option (arrays of a common shape).

    Attributes
    ----------
    price : ndarray
        Premium in index points.
    delta : ndarray
        ``dV/dS`` per index point.
    gamma : ndarray
        ``d2V/dS2`` per index point squared.
    vega : ndarray
        ``dV/dsigma`` per 1.00 of volatility (index points per 100 vol points); divide by 100 for
        the change per vol point.
    theta : ndarray
        ``dV/dt = -dV/dtau`` per year of calendar time (index points per year); divide by 365 for
        one calendar day.
    """

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


def bs_greeks(spot, strike, tau, rate: float, div: float, vol, is_call) -> Greeks:
    """Black–Scholes–Merton price, delta, gamma, vega and theta, vectorised.

    Parameters
    ----------
    spot, strike : array_like
        Underlying and strike (index points), broadcastable.
    tau : array_like
        Time to expiry in years, > 0.
    rate, div : float or array_like
        Continuously compounded risk-free rate and dividend yield.
    vol : array_like
        Volatility (annualised, 0.2 = 20%), > 0.
    is_call : bool or array_like of bool

    Returns
    -------
    Greeks
        Arrays of the broadcast shape; units as in :class:`Greeks`.

    Notes
    -----
    Hull, "Options, Futures, and Other Derivatives" (10th ed.), ch. 19 (sec. 19.4-19.8 and the
    table of Greeks for an asset paying a yield ``q``), written on the forward
    ``F = S e^{(r - q) tau}``: ``d1 = (ln(F/K) + sigma^2 tau / 2) / (sigma sqrt(tau))``,
    ``d2 = d1 - sigma sqrt(tau)``; with ``w = +1`` (call) or ``-1`` (put)::

        price = w e^{-r tau} (F N(w d1) - K N(w d2))
        delta = w e^{-q tau} N(w d1)
        gamma = e^{-q tau} n(d1) / (S sigma sqrt(tau))
        vega  = S e^{-q tau} n(d1) sqrt(tau)
        theta = -S e^{-q tau} n(d1) sigma / (2 sqrt(tau)) - w r K e^{-r tau} N(w d2) + w q S e^{-q tau} N(w d1)
    """
    spot = np.asarray(spot, dtype=float)
    strike = np.asarray(strike, dtype=float)
    tau = np.asarray(tau, dtype=float)
    vol = np.asarray(vol, dtype=float)
    sq = np.sqrt(tau)
    sd = vol * sq
    dq = np.exp(-div * tau)
    dr = np.exp(-rate * tau)
    fwd = spot * np.exp((rate - div) * tau)
    d1 = (np.log(fwd / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    w = np.where(is_call, 1.0, -1.0)
    nd1 = special.ndtr(w * d1)
    nd2 = special.ndtr(w * d2)
    pdf = np.exp(-0.5 * d1 * d1) / _SQRT2PI
    price = w * dr * (fwd * nd1 - strike * nd2)
    delta = w * dq * nd1
    sdq_pdf = spot * dq * pdf
    gamma = dq * pdf / (spot * sd)
    vega = sdq_pdf * sq
    theta = -sdq_pdf * vol / (2.0 * sq) - w * rate * strike * dr * nd2 + w * div * spot * dq * nd1
    return Greeks(price, delta, gamma, vega, theta)


def surface_option(spot, strike, tau, var, is_call, surface: SpxSurface, rate: float, div: float,
                   regime=None) -> Greeks:
    """Price and Greeks of SPX European options at the surface's implied volatility.

    Parameters
    ----------
    spot : array_like, broadcastable to (n,)
        SPX level on each path (points).
    strike : array_like, broadcastable to (n,)
        Strikes (points).
    tau : float or array_like, broadcastable to (n,)
        Time to expiry in years, > 0.
    var : array_like, broadcastable to (n,)
        Variance state (annualised).
    is_call : bool or array_like of bool
    surface : SpxSurface
    rate, div : float
        Continuously compounded rate and dividend yield.
    regime : array_like of int, optional
        Regime labels (regime models).

    Returns
    -------
    Greeks
        :func:`bs_greeks` at ``vol = surface.implied_vol(ln(K/F), tau, var, regime)``: sticky-strike
        Greeks (the implied vol of each strike held fixed when spot, vol or time move; the
        surface's own dependence on spot and state is not differentiated).

    Raises
    ------
    ValueError
        If some ``tau <= 0``.
    """
    tau = np.asarray(tau, dtype=float)
    if np.any(tau <= 0.0):
        raise ValueError("tau must be > 0 (price expiring options at intrinsic value)")
    spot = np.asarray(spot, dtype=float)
    fwd = spot * np.exp((rate - div) * tau)
    vol = surface.implied_vol(np.log(np.asarray(strike, dtype=float) / fwd), tau, var, regime)
    return bs_greeks(spot, strike, tau, rate, div, vol, is_call)


def benchmark_surface(surface: SpxSurface | None = None, n: int = 100_000, repeats: int = 7,
                      seed: int = 0) -> dict:
    """Option evaluations per second: surface lookup + Black–Scholes vs Black–Scholes alone.

    Parameters
    ----------
    surface : SpxSurface, optional
        Default: a :class:`FourierSurface` of a Heston model (``kappa_q = 2, theta_q = 0.04,
        sigma = 0.6, rho = -0.7``, ``tau_max = 0.5``), whose build time is reported.
    n : int, default 100000
        Options per evaluation (random spot 2000..3000, strike within -20%..+10% of spot, maturity
        1..120 trading days, variance of VIX 10..80, half calls).
    repeats : int, default 7
        Timed repetitions; the best is kept.
    seed : int, default 0

    Returns
    -------
    dict
        ``surface_bs_per_s`` (implied vol from the surface, then price and delta),
        ``surface_greeks_per_s`` (:func:`surface_option`, all five Greeks),
        ``bs_only_per_s`` (price and delta at a given vol: the floor), ``n``, ``surface`` (class
        name) and ``build_seconds`` (when built here, else ``None``).
    """
    build = None
    if surface is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hp = HestonParams(v0=0.04, kappa=2.0, theta=0.04, sigma=0.6, rho=-0.7)
        surface = FourierSurface(HestonModel(hp), tau_max=0.5)
        build = surface.build_seconds
    rng = np.random.default_rng(seed)
    spot = rng.uniform(2000.0, 3000.0, n)
    strike = spot * np.exp(rng.uniform(-0.2, 0.1, n))
    tau = rng.integers(1, 121, n) / 252.0
    var = np.asarray(surface.model.var_from_vix(rng.uniform(10.0, 80.0, n)), dtype=float)
    is_call = rng.random(n) < 0.5
    rate, div = 0.02, 0.018
    vol = np.full(n, 0.2)

    def best(fn):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return n / min(times)

    def with_surface():
        fwd = spot * np.exp((rate - div) * tau)
        iv = surface.implied_vol(np.log(strike / fwd), tau, var)
        return black_scholes(spot, strike, tau, rate, div, iv, is_call)

    return {
        "n": n,
        "surface": type(surface).__name__,
        "build_seconds": build,
        "surface_bs_per_s": best(with_surface),
        "surface_greeks_per_s": best(lambda: surface_option(spot, strike, tau, var, is_call, surface, rate, div)),
        "bs_only_per_s": best(lambda: black_scholes(spot, strike, tau, rate, div, vol, is_call)),
    }
