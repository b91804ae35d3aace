"""Hansen's (1994) skewed Student t, standardised (mean 0, variance 1): constants, density, cdf,
quantiles, draws and lower partial moments, vectorised."""

from __future__ import annotations

import math

import numpy as np
from scipy import special


# ---------------------------------------------------------------------------------------------
# Hansen (1994) skewed Student t, standardised (mean 0, variance 1), vectorised
# ---------------------------------------------------------------------------------------------
def _check_skewt(eta: float, lam: float) -> None:
    if not (math.isfinite(eta) and eta > 2.0):
        raise ValueError(f"eta (skew-t degrees of freedom) must be finite and > 2 (finite variance), got {eta}")
    if not (math.isfinite(lam) and -1.0 < lam < 1.0):
        raise ValueError(f"lambda_ (skew-t skewness) must be in (-1, 1), got {lam}")


def skewt_constants(eta: float, lam: float) -> tuple[float, float, float]:
    """Constants ``(a, b, c)`` of Hansen's skewed t.

    Parameters
    ----------
    eta : float
        Degrees of freedom, > 2.
    lam : float
        Skewness, in (-1, 1).

    Returns
    -------
    a, b, c : float
        ``c = Gamma((eta+1)/2) / (sqrt(pi (eta-2)) Gamma(eta/2))``, ``a = 4 lam c (eta-2)/(eta-1)``,
        ``b = sqrt(1 + 3 lam^2 - a^2)``.

    Raises
    ------
    ValueError
        If ``eta <= 2`` or ``|lam| >= 1``.

    Notes
    -----
    Hansen (1994); the same constants as ``arch.univariate.SkewStudent``.
    """
    _check_skewt(eta, lam)
    c = math.exp(special.gammaln(0.5 * (eta + 1.0)) - special.gammaln(0.5 * eta)) / math.sqrt(math.pi * (eta - 2.0))
    a = 4.0 * lam * c * (eta - 2.0) / (eta - 1.0)
    b = math.sqrt(1.0 + 3.0 * lam * lam - a * a)
    return a, b, c


def skewt_pdf(z, eta: float, lam: float) -> np.ndarray:
    """Density of the standardised skewed t (Hansen 1994).

    Parameters
    ----------
    z : array_like, any shape
    eta, lam : float
        Shape and skew.

    Returns
    -------
    ndarray, same shape as ``z``
        ``b c (1 + ((b z + a) / (1 + sgn(z + a/b) lam))^2 / (eta - 2))^(-(eta+1)/2)``.
    """
    a, b, c = skewt_constants(eta, lam)
    z = np.asarray(z, dtype=float)
    s = np.where(z < -a / b, 1.0 - lam, 1.0 + lam)
    return b * c * (1.0 + ((b * z + a) / s) ** 2 / (eta - 2.0)) ** (-0.5 * (eta + 1.0))


def skewt_cdf(z, eta: float, lam: float) -> np.ndarray:
    """Distribution function of the standardised skewed t.

    Parameters
    ----------
    z : array_like, any shape
    eta, lam : float

    Returns
    -------
    ndarray, same shape as ``z``

    Notes
    -----
    Two scaled halves of a Student t(eta): below the mode ``-a/b`` the mass is ``(1 - lam)/2``,
    above it ``(1 + lam)/2`` (Hansen 1994; as ``arch.univariate.SkewStudent.cdf``).
    """
    a, b, _ = skewt_constants(eta, lam)
    z = np.asarray(z, dtype=float)
    r = math.sqrt(eta / (eta - 2.0))
    left = z < -a / b
    t = (b * z + a) / np.where(left, 1.0 - lam, 1.0 + lam) * r
    tc = special.stdtr(eta, t)
    return np.where(left, (1.0 - lam) * tc, 0.5 * (1.0 - lam) + (1.0 + lam) * (tc - 0.5))


def skewt_ppf(u, eta: float, lam: float) -> np.ndarray:
    """Quantile function of the standardised skewed t (vectorised, any shape).

    Parameters
    ----------
    u : array_like, values in (0, 1)
        Probabilities (e.g. uniforms, for common random numbers).
    eta, lam : float

    Returns
    -------
    ndarray, same shape as ``u``
        ``z`` with ``F(z) = u``.

    Notes
    -----
    Inverse of :func:`skewt_cdf`, the formula of ``arch.univariate.SkewStudent.ppf`` written for
    arrays of any shape with ``scipy.special.stdtrit`` (the Student t quantile).
    """
    a, b, _ = skewt_constants(eta, lam)
    u = np.asarray(u, dtype=float)
    left = u < 0.5 * (1.0 - lam)
    p = np.where(left, u / (1.0 - lam), 0.5 + (u - 0.5 * (1.0 - lam)) / (1.0 + lam))
    t = special.stdtrit(eta, p)
    return (t * np.where(left, 1.0 - lam, 1.0 + lam) * math.sqrt(1.0 - 2.0 / eta) - a) / b


def skewt_rvs(eta: float, lam: float, size, rng: np.random.Generator) -> np.ndarray:
    """Draws of the standardised skewed t, fast (no quantile function).

    Parameters
    ----------
    eta, lam : float
    size : int or tuple of int
        Output shape, e.g. ``(n_paths, n_steps)``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape ``size``

    Notes
    -----
    Hansen's law is a two-piece Student t: with probability ``(1 - lam)/2`` the draw is
    ``(-(1 - lam) r |T| - a) / b``, otherwise ``((1 + lam) r |T| - a) / b``, with
    ``T ~ t(eta)`` and ``r = sqrt(1 - 2/eta)`` (read off :func:`skewt_ppf`). Drawing ``|T|`` with
    ``Generator.standard_t`` and the side with a uniform is about 4x faster than the quantile
    transform of a uniform; both give the same law (tested).
    """
    a, b, _ = skewt_constants(eta, lam)
    t = np.abs(rng.standard_t(eta, size=size))
    left = rng.random(size=size) < 0.5 * (1.0 - lam)
    r = math.sqrt(1.0 - 2.0 / eta)
    return (np.where(left, -(1.0 - lam) * r, (1.0 + lam) * r) * t - a) / b


def _t_lower_moment(n: int, u: np.ndarray, nu: float) -> np.ndarray:
    """``int_{-inf}^u x^n f_nu(x) dx`` for the ordinary Student t, ``n`` in 0, 1, 2.

    Winkler, Roodman & Britney (1972), Management Science 19(3) (as arch's
    ``StudentsT._ord_t_partial_moment``); ``u`` may be ``+-inf``.
    """
    if n == 0:
        return special.stdtr(nu, u)
    ct = math.exp(special.gammaln(0.5 * (nu + 1.0)) - special.gammaln(0.5 * nu)) / math.sqrt(nu * math.pi)
    if n == 1:
        return -ct * nu / (nu - 1.0) * (1.0 + u * u / nu) ** (-0.5 * (nu - 1.0))
    # n == 2: (nu F(u) - u (nu + u^2) f(u)) / (nu - 2); the second term vanishes at +-inf
    finite = np.isfinite(u)
    uf = np.where(finite, u, 0.0)
    tail = np.where(finite, uf * (nu + uf * uf) * ct * (1.0 + uf * uf / nu) ** (-0.5 * (nu + 1.0)), 0.0)
    return (nu * special.stdtr(nu, u) - tail) / (nu - 2.0)


def skewt_lower_moment(n: int, c, eta: float, lam: float) -> np.ndarray:
    """Lower partial moment ``E[z^n 1{z < c}]`` of the standardised skewed t, ``n`` in 0, 1, 2.

    Parameters
    ----------
    n : int
        Order, 0, 1 or 2.
    c : array_like, any shape
        Upper limits; ``+-inf`` allowed (``n = 2, c = inf`` gives 1).
    eta, lam : float

    Returns
    -------
    ndarray, same shape as ``c``

    Raises
    ------
    ValueError
        If ``n`` is not 0, 1 or 2, or the shape parameters are invalid.

    Notes
    -----
    Writing ``z = (k_s t - a) / b`` with ``t`` a Student t(eta) whose negative half has weight
    ``1 - lam`` and positive half ``1 + lam`` and ``k_s = (1 -+ lam) sqrt(1 - 2/eta)`` (Hansen 1994),
    the binomial expansion reduces the moment to Student t lower partial moments of order
    0..n (Winkler, Roodman & Britney 1972). The same construction as
    ``arch.univariate.SkewStudent.partial_moment``, vectorised in ``c``. ``kappa_minus =
    skewt_lower_moment(2, 0, eta, lam)`` is the ``E[z^2 1{z<0}]`` of the GJR persistence.
    """
    if n not in (0, 1, 2):
        raise ValueError(f"n must be 0, 1 or 2, got {n}")
    a, b, _ = skewt_constants(eta, lam)
    c = np.asarray(c, dtype=float)
    r = math.sqrt(1.0 - 2.0 / eta)
    kl, kr = (1.0 - lam) * r, (1.0 + lam) * r
    with np.errstate(invalid="ignore", over="ignore"):
        ul = np.minimum((b * c + a) / kl, 0.0)
        ur = np.maximum((b * c + a) / kr, 0.0)
    zero = np.zeros(1)
    out = np.zeros(c.shape)
    for i in range(n + 1):
        coef = math.comb(n, i) * (-a / b) ** (n - i)
        m_l = _t_lower_moment(i, ul, eta)
        m_r = _t_lower_moment(i, ur, eta) - _t_lower_moment(i, zero, eta)[0]
        out = out + coef * ((1.0 - lam) * (kl / b) ** i * m_l + (1.0 + lam) * (kr / b) ** i * m_r)
    return out
