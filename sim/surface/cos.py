"""Fourier pricing of the affine models: which models have it (:data:`FOURIER_MODELS`), their Q
characteristic function (:func:`characteristic_function`) and European option prices by the COS
method of Fang & Oosterlee (2008) (:func:`cos_call_prices`, :class:`_CosSeries`).

Forward-normalised units: prices per unit of forward, undiscounted; time in years, variance annualised.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from alvh.models.base import PathModel
from alvh.models.heston import HestonModel, HestonParams
from alvh.models.jumps import BatesModel, SvcjModel, bates_characteristic_function, svcj_characteristic_function

__all__ = ["FOURIER_MODELS", "characteristic_function", "cos_call_prices"]


#: Model classes with a semi-analytic (Fourier) option price, for which :class:`FourierSurface` exists.
FOURIER_MODELS = (HestonModel, BatesModel, SvcjModel)


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
