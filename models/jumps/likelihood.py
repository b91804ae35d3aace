"""The joint quasi-likelihoods of the Bates and SVCJ calibrations, on transformed coordinates.

Negative log-likelihoods of daily SPX log-returns and the VIX-implied variance (Euler transition
with a Bernoulli one-jump mixture), vectorised over batches of parameter vectors, and the
transforms from the unconstrained coordinates to the natural parameters.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from alvh.models.heston import VIX_TAU


# ================================================================================================
# calibration: joint QML on daily returns and the VIX-implied variance
# ================================================================================================

# Transformed coordinates (both models): x[0] = mu, x[1:4] = log(kappa, theta, sigma),
# x[4] = atanh(rho), x[5] = log(kappa_q), x[6] = log(lam_j); then the jump law:
#   Bates: x[7] = mu_j, x[8] = +-sigma_j (sigma_j = |x[8]|)
#   SVCJ:  x[7] = mu_s, x[8] = +-sigma_s, x[9] = log(mu_v), x[10] = rho_j
# The jump sds enter the likelihood squared, so |x| is smooth there and keeps sigma -> 0 an
# interior point (a log transform makes it a flat direction that traps Nelder-Mead).

#: Lower bound on kappa_q (per year) in the calibrations. The VIX-implied-state likelihood can
#: prefer a Q variance without mean reversion (a -> 1 in VIX^2 = a v + b), where only
#: kappa_q theta_q = kappa theta is identified; the fit then stops at this floor.
KAPPA_Q_MIN = 0.01

_LOG2PI = math.log(2.0 * math.pi)
_IX_KQ = 5


def _lognorm(x, s2):
    """Log density of N(0, s2) at x."""
    return -0.5 * (_LOG2PI + np.log(s2) + x * x / s2)


def _common(x):
    """Heston block of the transformed vector -> natural parameters (broadcastable arrays)."""
    mu = x[0]
    kappa = np.exp(x[1])
    theta = np.exp(x[2])
    sigma = np.exp(x[3])
    rho = np.tanh(x[4])
    kappa_q = np.exp(x[5])
    theta_q = kappa * theta / kappa_q
    return mu, kappa, theta, sigma, rho, kappa_q, theta_q


def _bates_unpack(x):
    mu, kappa, theta, sigma, rho, kappa_q, theta_q = _common(x)
    return mu, kappa, theta, sigma, rho, kappa_q, theta_q, np.exp(x[6]), x[7], np.abs(x[8])


def _svcj_unpack(x):
    mu, kappa, theta, sigma, rho, kappa_q, theta_q = _common(x)
    return (mu, kappa, theta, sigma, rho, kappa_q, theta_q, np.exp(x[6]), x[7], np.abs(x[8]),
            np.exp(x[9]), x[10])


def _vix_a(kappa_q):
    z = kappa_q * VIX_TAU
    return -np.expm1(-z) / z


def _bates_negloglik(x, r, vix2, dt):
    """Negative log-likelihood of the Bates joint QML.

    Parameters
    ----------
    x : ndarray of shape (9,) or (9, *batch)
        Transformed parameters (see the comment above :data:`KAPPA_Q_MIN`).
    r : ndarray of shape (n,)
        Daily log-returns.
    vix2 : ndarray of shape (n + 1,)
        ``(VIX / 100)^2``.
    dt : float
        Years per observation.

    Returns
    -------
    ndarray of shape () or batch
        ``+inf`` where inadmissible (a VIX-implied variance <= 0, ``lam_j dt >= 1``,
        ``kappa_q < KAPPA_Q_MIN``).
    """
    x = np.asarray(x, dtype=float)
    mu, kappa, theta, sigma, rho, kappa_q, theta_q, lam_j, mu_j, sigma_j = (
        np.expand_dims(p, -1) for p in _bates_unpack(x))
    a = _vix_a(kappa_q)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        kbar = np.expm1(mu_j + 0.5 * sigma_j**2)
        b = theta_q * (1.0 - a) + 2.0 * lam_j * (kbar - mu_j)
        v = (vix2 - b) / a
        v0, v1 = v[..., :-1], v[..., 1:]
        pj = lam_j * dt
        e1 = r - (mu - lam_j * kbar - 0.5 * v0) * dt
        e2 = v1 - (v0 + kappa * (theta - v0) * dt)
        s2 = sigma**2 * v0 * dt
        s1 = (1.0 - rho**2) * v0 * dt
        x1 = e1 - rho / sigma * e2
        l_nojump = np.log1p(-pj) + _lognorm(x1, s1)
        l_jump = np.log(pj) + _lognorm(x1 - mu_j, s1 + sigma_j**2)
        ll = _lognorm(e2, s2) + np.logaddexp(l_nojump, l_jump) - np.log(a)
        total = ll.sum(axis=-1)
    bad = ((v.min(axis=-1) <= 0.0) | ~np.isfinite(total) | (pj[..., 0] >= 1.0)
           | (kappa_q[..., 0] < KAPPA_Q_MIN))
    return np.where(bad, np.inf, -total)


def _svcj_negloglik(x, r, vix2, dt):
    """Negative log-likelihood of the SVCJ joint QML; ``x`` of shape (11,) or (11, *batch).

    As :func:`_bates_negloglik`, also ``+inf`` where ``rho_j mu_v >= 1``.
    """
    x = np.asarray(x, dtype=float)
    (mu, kappa, theta, sigma, rho, kappa_q, theta_q, lam_j, mu_s, sigma_s, mu_v, rho_j) = (
        np.expand_dims(p, -1) for p in _svcj_unpack(x))
    a = _vix_a(kappa_q)
    one_m = 1.0 - rho_j * mu_v
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        kbar = np.exp(mu_s + 0.5 * sigma_s**2) / one_m - 1.0
        b = (theta_q + lam_j * mu_v / kappa_q) * (1.0 - a) + 2.0 * lam_j * (kbar - mu_s - rho_j * mu_v)
        v = (vix2 - b) / a
        v0, v1 = v[..., :-1], v[..., 1:]
        pj = lam_j * dt
        e1 = r - (mu - lam_j * kbar - 0.5 * v0) * dt
        e2 = v1 - (v0 + kappa * (theta - v0) * dt)
        s2 = sigma**2 * v0 * dt
        s1 = (1.0 - rho**2) * v0 * dt
        beta = rho / sigma
        # no jump: (e1, e2) bivariate normal, factored as e2 and e1 | e2
        l_nojump = np.log1p(-pj) + _lognorm(e2, s2) + _lognorm(e1 - beta * e2, s1)
        # one jump: integrate Z ~ Exp(mu_v) out of
        # N(e2 - Z; s2) N(e1 - mu_s - rho_j Z - beta (e2 - Z); s1 + sigma_s^2)
        s1j = s1 + sigma_s**2
        x1 = e1 - mu_s - beta * e2
        c = rho_j - beta
        prec = 1.0 / s2 + c * c / s1j
        bz = e2 / s2 + c * x1 / s1j - 1.0 / mu_v
        l_jump = (np.log(pj) - np.log(mu_v) - 0.5 * _LOG2PI - 0.5 * np.log(s1j * s2) - 0.5 * np.log(prec)
                  - 0.5 * e2 * e2 / s2 - 0.5 * x1 * x1 / s1j + 0.5 * bz * bz / prec
                  + special.log_ndtr(bz / np.sqrt(prec)))
        ll = np.logaddexp(l_nojump, l_jump) - np.log(a)
        total = ll.sum(axis=-1)
    bad = ((v.min(axis=-1) <= 0.0) | ~np.isfinite(total) | (pj[..., 0] >= 1.0) | (one_m[..., 0] <= 0.0)
           | (kappa_q[..., 0] < KAPPA_Q_MIN))
    return np.where(bad, np.inf, -total)
