"""Cboe's VIX/VVIX and SKEW formulas on option strips (alvh.cboe), against a hand-computed strip,
closed forms (Black-Scholes: VIX = 100 sigma, SKEW = 100) and a second method (the Heston model's own
VIX, 100 sqrt(E_Q[integrated variance] / tau)), and the SKEW white paper's worked corrections."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from alvh.cboe import (T30, skew_corrections, skew_index, strip_terms, term_skewness, term_variance, vix_index,
                       weights_30d)


def bs_strip(f, sigma, tau, rate, strikes):
    """Black (1976) calls and puts on the forward f (the SPX forward, or a VIX future), discounted."""
    k = np.asarray(strikes, float)
    sd = sigma * math.sqrt(tau)
    d1 = (np.log(f / k) + 0.5 * sd**2) / sd
    d2 = d1 - sd
    df = math.exp(-rate * tau)
    return k, df * (f * norm.cdf(d1) - k * norm.cdf(d2)), df * (k * norm.cdf(-d2) - f * norm.cdf(-d1))


def test_a_hand_computed_strip():
    """Five strikes, every step done by hand below: F from parity at K=100, K0=100, dK=5 (one-sided at
    the ends), Q = put, put, mean, call, call, then sigma^2 = 2/T sum dK/K^2 e^{RT} Q - (F/K0-1)^2/T."""
    k = [90.0, 95.0, 100.0, 105.0, 110.0]
    calls = [10.5, 6.2, 3.1, 1.2, 0.4]
    puts = [0.3, 1.0, 2.8, 5.9, 10.1]
    r, t = 0.01, 0.1
    s = strip_terms(k, calls, puts, r, t)
    f = 100.0 + math.exp(r * t) * (3.1 - 2.8)            # smallest |C - P| is at 100
    assert s.forward == pytest.approx(f, rel=1e-15) and s.k0 == 100.0
    q = [0.3, 1.0, 0.5 * (3.1 + 2.8), 1.2, 0.4]
    total = sum(5.0 / kk**2 * qq for kk, qq in zip(k, q)) * math.exp(r * t)
    expected = 2.0 / t * total - (f / 100.0 - 1.0) ** 2 / t
    assert term_variance(s) == pytest.approx(expected, rel=1e-14)
    assert vix_index(s) == pytest.approx(100.0 * math.sqrt(expected), rel=1e-14)


@pytest.mark.parametrize("sigma", [0.12, 0.25, 0.9])     # SPX-like and VVIX-like volatilities
def test_black_scholes_strip_gives_its_volatility_and_no_skew(sigma):
    """On a lognormal law the VIX formula returns 100 sigma and SKEW returns 100 (zero skewness of the
    log return), up to the strip's discretisation: halving dK cuts the error about four-fold (the
    midpoint rule is second order), and at dK = 0.25% of F it is below 0.01 points."""
    f, tau, r = 100.0, T30, 0.03
    errors = []
    for step in (1.0, 0.5, 0.25):
        lo, hi = f * math.exp(-9 * sigma * math.sqrt(tau)), f * math.exp(9 * sigma * math.sqrt(tau))
        strikes = np.arange(math.floor(lo / step) * step, hi + step, step)
        s = strip_terms(*bs_strip(f, sigma, tau, r, strikes), r, tau)
        errors.append((abs(vix_index(s) - 100 * sigma), abs(skew_index(s) - 100.0)))
    assert errors[-1][0] < 0.01 and errors[-1][1] < 0.05
    if errors[0][0] > 1e-6:
        assert errors[1][0] < 0.35 * errors[0][0]


def test_a_heston_strip_gives_the_models_own_vix():
    """Heston SPX options (Fourier prices) through Cboe's formula give the model VIX
    100 sqrt(a v + b) (Heston's Q expectation of the 30-day average variance) within 0.03 points: the
    strip's discretisation error at dK = 0.5 is 0.015 points on a 20% Black-Scholes strip (measured:
    20.206 against 20.194 here); the
    Heston smile (rho < 0) gives negative skewness, so SKEW > 100."""
    from alvh.models.heston import heston_call_price, model_vix

    v0, kappa, theta, sigma, rho, r = 0.04, 2.0, 0.05, 0.5, -0.7, 0.02
    s0, tau = 100.0, T30
    strikes = np.arange(40.0, 160.5, 0.5)
    calls = np.array([heston_call_price(s0, k, tau, r, 0.0, v0, kappa, theta, sigma, rho) for k in strikes])
    puts = calls - s0 + strikes * math.exp(-r * tau)          # put-call parity
    # the Fourier inversion leaves noise of order 1e-10 around zero far from the money
    s = strip_terms(strikes, np.maximum(calls, 0.0), np.maximum(puts, 0.0), r, tau)
    assert s.forward == pytest.approx(s0 * math.exp(r * tau), abs=1e-6)
    assert vix_index(s) == pytest.approx(float(model_vix(v0, kappa, theta)), abs=0.03)
    assert skew_index(s) > 105.0 and term_skewness(s) < -0.5


def test_skew_white_paper_corrections():
    """Cboe's SKEW white paper worked example: F = 1106.85, K0 = 1105 give e1 = 1.40e-06 and
    e2 = -4.2e-06 as printed (e3 is O(ln(K0/F)^3): 9.4e-09 by the paper's formula, which we use; the
    paper prints 1.176e-11, the value without its 1/3, a difference far below any SKEW digit)."""
    e1, e2, e3 = skew_corrections(1106.85, 1105.0)
    assert e1 == pytest.approx(1.40e-06, rel=0.01) and e2 == pytest.approx(-4.2e-06, rel=0.02)
    assert abs(e3) < 1e-8


def test_thirty_day_interpolation_and_bad_strips():
    """Two expiries straddling 30 days: weights (T2 - T30)/(T2 - T1) and the rest; on a flat 20% vol the
    interpolated VIX is 20 again. Bad strips are refused."""
    w, u = weights_30d(23 / 365, 37 / 365)
    assert w == pytest.approx(0.5) and w + u == pytest.approx(1.0)
    r = 0.01
    near = strip_terms(*bs_strip(100.0, 0.2, 23 / 365, r, np.arange(50.0, 170.0, 0.25)), r, 23 / 365)
    nxt = strip_terms(*bs_strip(100.0, 0.2, 37 / 365, r, np.arange(50.0, 170.0, 0.25)), r, 37 / 365)
    assert vix_index(near, nxt) == pytest.approx(20.0, abs=0.01)
    assert skew_index(near, nxt) == pytest.approx(100.0, abs=0.05)
    with pytest.raises(ValueError, match="increase"):
        strip_terms([1, 3, 2], [1, 1, 1], [1, 1, 1], r, 0.1)
    with pytest.raises(ValueError, match=">= 0"):
        strip_terms([1, 2, 3], [1, -1, 1], [1, 1, 1], r, 0.1)
    with pytest.raises(ValueError, match="T1 < T2"):
        weights_30d(0.1, 0.05)
