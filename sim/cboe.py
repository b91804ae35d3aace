"""Cboe's model-free index formulas on an option strip: VIX (and VVIX, the same formula on VIX
options) and SKEW, so that a model's indices are computed as Cboe computes the real ones.

Sources:

* Cboe, "VIX White Paper" / "Volatility Index Methodology: Cboe Volatility Index": the forward
  ``F = K* + e^{RT} (C(K*) - P(K*))`` at the strike of smallest ``|C - P|``; ``K0`` the first strike at
  or below ``F``; ``Q(K)`` the put below ``K0``, the call above, their mean at ``K0``;
  ``dK_i = (K_{i+1} - K_{i-1}) / 2`` (one-sided at the ends); the term variance
  ``sigma^2 = (2/T) sum dK_i / K_i^2 e^{RT} Q(K_i) - (1/T) (F/K0 - 1)^2``; and the 30-day index
  ``100 sqrt((T1 s1^2 w + T2 s2^2 (1 - w)) 365/30)`` with ``w = (T2 - T30) / (T2 - T1)``.
  Cboe's VVIX methodology applies the same formula to VIX options (forward: the VIX future).
* Cboe, "The Cboe SKEW Index" (white paper, 2010), after Bakshi, Kapadia and Madan (2003),
  "Stock return characteristics, skew laws, and the differential pricing of individual equity
  options", RFS 16(1): ``P1 = e^{RT} (-sum dK/K^2 Q) + e1``,
  ``P2 = e^{RT} sum 2/K^2 (1 - ln(K/F)) dK Q + e2``,
  ``P3 = e^{RT} sum 3/K^2 (2 ln(K/F) - ln(K/F)^2) dK Q + e3`` with
  ``e1 = -(1 + ln(F/K0) - F/K0)``, ``e2 = 2 ln(K0/F) (F/K0 - 1) + ln(K0/F)^2 / 2``,
  ``e3 = 3 ln(K0/F)^2 (ln(K0/F)/3 - 1 + F/K0)``; the skewness
  ``S = (P3 - 3 P1 P2 + 2 P1^3) / (P2 - P1^2)^{3/2}``, interpolated to 30 days as the VIX is, and
  ``SKEW = 100 - 10 S``.

The strip is taken as given (model prices, every strike): Cboe's rule that drops quotes after two
consecutive zero bids is for market quotes and has no counterpart here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Strip", "strip_terms", "term_variance", "term_skewness", "weights_30d", "vix_index", "skew_index",
           "skew_corrections", "T30"]

#: The indices' horizon, in years (30 calendar days).
T30 = 30.0 / 365.0


@dataclass(frozen=True)
class Strip:
    """One expiry's option strip, reduced as Cboe reduces it.

    Attributes
    ----------
    forward : float
        ``F``, from put-call parity at the strike of smallest ``|C - P|``.
    k0 : float
        The first strike at or below ``F``.
    strikes, dk, q : ndarray of shape (n,)
        Strikes (increasing), their intervals ``dK``, and the out-of-the-money prices ``Q(K)``.
    rate, tau : float
        Continuously compounded rate and time to expiry (years).
    """

    forward: float
    k0: float
    strikes: np.ndarray
    dk: np.ndarray
    q: np.ndarray
    rate: float
    tau: float


def strip_terms(strikes, calls, puts, rate: float, tau: float) -> Strip:
    """Forward, ``K0``, ``dK`` and ``Q(K)`` of a strip (module docstring).

    Parameters
    ----------
    strikes, calls, puts : array_like of shape (n,)
        Strikes in increasing order (n >= 3) and the call and put prices at each.
    rate : float
        Continuously compounded rate to expiry, per year.
    tau : float
        Time to expiry, years (> 0).

    Raises
    ------
    ValueError
        Fewer than 3 strikes, strikes not increasing, non-finite or negative prices, ``tau <= 0``,
        or a forward below the lowest strike.
    """
    k = np.asarray(strikes, dtype=float)
    c, p = np.asarray(calls, dtype=float), np.asarray(puts, dtype=float)
    if k.ndim != 1 or k.size < 3 or c.shape != k.shape or p.shape != k.shape:
        raise ValueError("strikes, calls and puts must be 1-D arrays of one length >= 3")
    if not np.all(np.diff(k) > 0):
        raise ValueError("strikes must increase")
    if not (np.isfinite(c).all() and np.isfinite(p).all() and (c >= 0).all() and (p >= 0).all()):
        raise ValueError("option prices must be finite and >= 0")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    i = int(np.argmin(np.abs(c - p)))
    forward = k[i] + np.exp(rate * tau) * (c[i] - p[i])
    below = np.flatnonzero(k <= forward)
    if below.size == 0:
        raise ValueError(f"the forward {forward:g} is below the lowest strike {k[0]:g}")
    j = int(below[-1])
    q = np.where(k < k[j], p, c)
    q[j] = 0.5 * (c[j] + p[j])
    dk = np.empty_like(k)
    dk[1:-1] = 0.5 * (k[2:] - k[:-2])
    dk[0], dk[-1] = k[1] - k[0], k[-1] - k[-2]
    return Strip(float(forward), float(k[j]), k, dk, q, float(rate), float(tau))


def term_variance(s: Strip) -> float:
    """Cboe's model-free variance ``sigma^2`` of one expiry (annualised)."""
    total = np.sum(s.dk / s.strikes**2 * s.q) * np.exp(s.rate * s.tau)
    return float(2.0 / s.tau * total - (s.forward / s.k0 - 1.0) ** 2 / s.tau)


def skew_corrections(forward: float, k0: float) -> tuple[float, float, float]:
    """The SKEW white paper's corrections ``e1, e2, e3`` for ``K0 != F`` (module docstring)."""
    x = np.log(k0 / forward)
    e1 = -(1.0 + np.log(forward / k0) - forward / k0)
    e2 = 2.0 * x * (forward / k0 - 1.0) + 0.5 * x**2
    e3 = 3.0 * x**2 * (x / 3.0 - 1.0 + forward / k0)
    return float(e1), float(e2), float(e3)


def term_skewness(s: Strip) -> float:
    """Risk-neutral skewness ``S`` of the log return to one expiry, from the strip (module docstring)."""
    growth = np.exp(s.rate * s.tau)
    lk = np.log(s.strikes / s.forward)
    w = s.dk * s.q / s.strikes**2
    e1, e2, e3 = skew_corrections(s.forward, s.k0)
    p1 = growth * -np.sum(w) + e1
    p2 = growth * np.sum(2.0 * (1.0 - lk) * w) + e2
    p3 = growth * np.sum(3.0 * (2.0 * lk - lk**2) * w) + e3
    return float((p3 - 3.0 * p1 * p2 + 2.0 * p1**3) / (p2 - p1**2) ** 1.5)


def weights_30d(t1: float, t2: float) -> tuple[float, float]:
    """The 30-day interpolation weights ``(w, 1 - w)`` of two expiries, ``w = (T2 - T30) / (T2 - T1)``.

    Raises
    ------
    ValueError
        Unless ``0 < T1 < T2``.
    """
    if not t2 > t1 > 0:
        raise ValueError(f"need 0 < T1 < T2, got {t1}, {t2}")
    w = (t2 - T30) / (t2 - t1)
    return float(w), float(1.0 - w)


def vix_index(near: Strip, next_: Strip | None = None) -> float:
    """The VIX (or VVIX, on VIX options) of one or two expiries, in index points.

    With one strip, ``100 sqrt(sigma^2)`` of that expiry (its own horizon); with two,
    ``100 sqrt((T1 s1^2 w + T2 s2^2 (1 - w)) 365/30)`` (module docstring).
    """
    v1 = term_variance(near)
    if next_ is None:
        return float(100.0 * np.sqrt(max(v1, 0.0)))
    w, u = weights_30d(near.tau, next_.tau)
    v2 = term_variance(next_)
    total = (near.tau * v1 * w + next_.tau * v2 * u) / T30
    return float(100.0 * np.sqrt(max(total, 0.0)))


def skew_index(near: Strip, next_: Strip | None = None) -> float:
    """The SKEW index ``100 - 10 S`` of one expiry, or of two interpolated to 30 days."""
    s1 = term_skewness(near)
    if next_ is None:
        return float(100.0 - 10.0 * s1)
    w, u = weights_30d(near.tau, next_.tau)
    return float(100.0 - 10.0 * (w * s1 + u * term_skewness(next_)))
