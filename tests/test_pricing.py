"""Tests for sim/pricing/: Black-Scholes, the SSVI smile, delta strikes, the VIX option table.

References are independent of the code under test: textbook values (Hull), model-free
identities, Gatheral & Jacquier's no-butterfly condition evaluated by finite differences, and the
quadrature prices of alvh.models.heston (vix_futures_exact / vix_call_exact).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from alvh.models.heston import (
    FellerConditionWarning,
    HestonModel,
    HestonParams,
    expected_average_variance,
    variance_from_vix,
    vix_call_exact,
    vix_futures_exact,
)
from alvh.pricing import SpxSmile, VixOptionTable, black_scholes, spx_option, strike_for_delta
from alvh.surface import SsviSurface

# ----------------------------------------------------------------------------------------------
# black_scholes
# ----------------------------------------------------------------------------------------------


def test_black_scholes_hull_example():
    # Hull, "Options, Futures, and Other Derivatives", Example 15.6: S0 = 42, K = 40, r = 0.10,
    # sigma = 0.20, T = 0.5 -> c = 4.76, p = 0.81 (quoted to two decimals).
    price, _ = black_scholes(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, np.array([True, False]))
    assert price[0] == pytest.approx(4.76, abs=0.005)
    assert price[1] == pytest.approx(0.81, abs=0.005)


SPOTS = np.array([80.0, 95.0, 100.0, 104.0, 130.0])
STRIKES = np.array([100.0, 90.0, 100.0, 120.0, 100.0])
TAUS = np.array([0.05, 0.25, 1.0, 0.5, 2.0])
VOLS = np.array([0.15, 0.30, 0.20, 0.45, 0.10])


@pytest.mark.parametrize("rate, div", [(0.0, 0.0), (0.05, 0.02), (-0.01, 0.03)])
def test_black_scholes_put_call_parity(rate, div):
    c, _ = black_scholes(SPOTS, STRIKES, TAUS, rate, div, VOLS, True)
    p, _ = black_scholes(SPOTS, STRIKES, TAUS, rate, div, VOLS, False)
    parity = SPOTS * np.exp(-div * TAUS) - STRIKES * np.exp(-rate * TAUS)
    np.testing.assert_allclose(c - p, parity, rtol=0, atol=1e-10)


@pytest.mark.parametrize("is_call", [True, False])
def test_black_scholes_delta_vs_finite_difference(is_call):
    rate, div = 0.04, 0.015
    _, delta = black_scholes(SPOTS, STRIKES, TAUS, rate, div, VOLS, is_call)
    h = 1e-4 * SPOTS
    up, _ = black_scholes(SPOTS + h, STRIKES, TAUS, rate, div, VOLS, is_call)
    dn, _ = black_scholes(SPOTS - h, STRIKES, TAUS, rate, div, VOLS, is_call)
    np.testing.assert_allclose(delta, (up - dn) / (2 * h), rtol=0, atol=1e-6)
    if is_call:
        assert np.all((delta > 0) & (delta < 1))
    else:
        assert np.all((delta < 0) & (delta > -1))


def test_black_scholes_mixed_call_put_array():
    is_call = np.array([True, False, True, False, True])
    price, delta = black_scholes(SPOTS, STRIKES, TAUS, 0.03, 0.01, VOLS, is_call)
    pc, dc = black_scholes(SPOTS, STRIKES, TAUS, 0.03, 0.01, VOLS, True)
    pp, dp = black_scholes(SPOTS, STRIKES, TAUS, 0.03, 0.01, VOLS, False)
    np.testing.assert_array_equal(price, np.where(is_call, pc, pp))
    np.testing.assert_array_equal(delta, np.where(is_call, dc, dp))


# ----------------------------------------------------------------------------------------------
# SpxSmile
# ----------------------------------------------------------------------------------------------

ATM_W = [1e-4, 0.002, 0.01, 0.04, 0.2, 1.0]  # ATM total variances: ~1 day at 15% up to years


@pytest.mark.parametrize("w_atm", ATM_W)
def test_smile_atm_total_variance(w_atm):
    # SSVI (Gatheral & Jacquier 2014, eq. 4.1): w(0) = theta_t
    assert float(SpxSmile().total_variance(0.0, w_atm)) == pytest.approx(w_atm, rel=1e-14)


@pytest.mark.parametrize("w_atm", [0.01, 0.04, 0.2, 1.0])
@pytest.mark.parametrize("params", [dict(), dict(rho=-0.9, eta=1.0), dict(rho=-0.5, eta=1.2)])
def test_smile_put_skew(params, w_atm):
    # rho < 0: vol(k = -0.1) > ATM vol > vol(k = +0.1). (Holds once +-0.1 is within a few ATM
    # standard deviations; for short expiries, w ~ 1e-4 (1 day) or 2e-3 (a week), k = +-0.1 is
    # 2-10 sd away and the wings' curvature can dominate, so those are covered by the asymmetry
    # test below instead.)
    w = SpxSmile(**params).total_variance(np.array([-0.1, 0.0, 0.1]), w_atm)
    assert w[0] > w[1] > w[2]


@pytest.mark.parametrize("rho", [-0.9, -0.7, -0.2, -0.01])
@pytest.mark.parametrize("w_atm", ATM_W)
def test_smile_negative_rho_puts_richer_than_calls(rho, w_atm):
    # eq. 4.1: w(k) - w(-k) = theta/2 [2 rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2)
    # - sqrt((phi k - rho)^2 + 1 - rho^2)] < 0 for rho < 0, k > 0.
    smile = SpxSmile(rho=rho, eta=1.0)
    k = np.array([0.01, 0.05, 0.1, 0.3, 1.0])
    assert np.all(smile.total_variance(-k, w_atm) > smile.total_variance(k, w_atm))


def _durrleman_g(smile, k, w_atm, h=1e-4):
    """g(k) = (1 - k w'/(2w))^2 - w'^2/4 (1/w + 1/4) + w''/2 (Gatheral & Jacquier 2014, eq. 2.1),
    with w' and w'' from central finite differences of the smile's total variance."""
    w = smile.total_variance(k, w_atm)
    wp = (smile.total_variance(k + h, w_atm) - smile.total_variance(k - h, w_atm)) / (2 * h)
    wpp = (smile.total_variance(k + h, w_atm) - 2 * w + smile.total_variance(k - h, w_atm)) / h**2
    return (1 - k * wp / (2 * w)) ** 2 - wp**2 / 4 * (1 / w + 0.25) + wpp / 2


@pytest.mark.parametrize(
    "params",
    [
        dict(),  # defaults: rho = -0.7, eta = 1.1, gamma = 0.5
        dict(rho=-0.9, eta=2.0 / 1.9, gamma=0.5),  # on the boundary eta (1 + |rho|) = 2
        dict(rho=-0.5, eta=1.2, gamma=0.25),
        dict(rho=0.3, eta=1.5, gamma=0.1),
    ],
)
@pytest.mark.parametrize("w_atm", ATM_W)
def test_smile_no_butterfly_arbitrage(params, w_atm):
    smile = SpxSmile(**params)
    sd = math.sqrt(w_atm)
    k = np.linspace(-10 * sd, 10 * sd, 801)
    k = np.concatenate((k, np.linspace(-3.0, 3.0, 601)))
    g = _durrleman_g(smile, k, w_atm, h=1e-4 * max(sd, 0.01))
    # finite-difference noise in w'' is ~ eps * w / h^2; allow that much below zero
    assert np.all(g > -1e-6)
    assert np.all(smile.total_variance(k, w_atm) > 0)


def test_durrleman_check_detects_arbitrage():
    # The check above has teeth: an SSVI slice with eta (1 + |rho|) = 5.7 > 2, built without
    # the constructor's validation, has g(k) < 0 (butterfly arbitrage) on the same grid.
    bad = object.__new__(SpxSmile)
    for name, value in (("rho", -0.9), ("eta", 3.0), ("gamma", 0.5)):
        object.__setattr__(bad, name, value)
    k = np.linspace(-1.0, 1.0, 801)
    assert np.min(_durrleman_g(bad, k, 0.01, h=1e-3)) < -0.1


@pytest.mark.parametrize(
    "params, pattern",
    [
        (dict(rho=-0.7, eta=1.3), "eta"),  # 1.3 * 1.7 = 2.21 > 2
        (dict(rho=0.0, eta=2.01), "eta"),
        (dict(gamma=0.0), "gamma"),
        (dict(gamma=0.51), "gamma"),
        (dict(gamma=-0.1), "gamma"),
        (dict(rho=1.0, eta=0.5), "rho"),
        (dict(rho=-1.0, eta=0.5), "rho"),
        (dict(eta=0.0), "eta"),
        (dict(eta=-1.0), "eta"),
    ],
)
def test_smile_invalid_params(params, pattern):
    with pytest.raises(ValueError, match=pattern):
        SpxSmile(**params)


def test_smile_gamma_half_allowed():
    assert SpxSmile(gamma=0.5).gamma == 0.5


# ----------------------------------------------------------------------------------------------
# spx_option / strike_for_delta
# ----------------------------------------------------------------------------------------------

SPX_MODEL = HestonParams(v0=0.03, kappa=3.0, theta=0.04, sigma=0.45, rho=-0.7, mu=0.07, lam=-1.0)
SMILE = SpxSmile()
SURFACE = SsviSurface(HestonModel(SPX_MODEL), SMILE)


def test_spx_option_strip_reproduces_the_model_vix():
    # The VIX is the 30-day variance-swap rate: 2/tau * int OTM(K)/K^2 dK (Demeterfi et al. 1999,
    # eq. 26; Cboe VIX white paper). Integrate the OTM prices spx_option quotes on a strike grid
    # (an independent quadrature of the priced options, not of the surface) and compare with the
    # model VIX, which is closed form under Heston (Zhang & Zhu 2006).
    rate, div, tau = 0.0, 0.0, 30 / 365
    for vix in (12.0, 25.0, 45.0):
        v = np.array([float(variance_from_vix(vix, SPX_MODEL.kappa_q, SPX_MODEL.theta_q))])
        sd = vix / 100 * math.sqrt(tau)
        strikes = 100.0 * np.exp(np.linspace(-60 * sd, 15 * sd, 60001))
        is_call = strikes > 100.0
        price, _ = spx_option(np.full(strikes.size, 100.0), strikes, tau, np.full(strikes.size, v[0]), is_call,
                              SURFACE, rate, div)
        strip = 2.0 / tau * np.trapezoid(price / strikes**2, strikes)
        assert 100 * math.sqrt(strip) == pytest.approx(vix, abs=0.02), vix


@pytest.mark.parametrize("is_call, target", [(True, 0.05), (True, 0.16), (True, 0.5), (True, 0.8),
                                             (False, -0.05), (False, -0.16), (False, -0.5), (False, -0.9)])
@pytest.mark.parametrize("tau", [1 / 365, 7 / 365, 45 / 365])
def test_strike_for_delta_hits_target(is_call, target, tau):
    spot = np.array([3000.0, 4500.0, 5200.0, 6000.0])
    v = np.array([0.005, 0.02, 0.06, 0.25])
    rate, div = 0.045, 0.013
    k = strike_for_delta(spot, tau, v, target, is_call, SURFACE, rate, div, tick=1e-9)
    _, delta = spx_option(spot, k, tau, v, is_call, SURFACE, rate, div)
    np.testing.assert_allclose(delta, target, rtol=0, atol=1e-6)


def test_strike_for_delta_far_otm_put():
    spot, v, tau, rate, div = np.array([4500.0]), np.array([0.02]), 30 / 365, 0.045, 0.013
    k = strike_for_delta(spot, tau, v, -0.001, False, SURFACE, rate, div, tick=1e-9)
    _, delta = spx_option(spot, k, tau, v, False, SURFACE, rate, div)
    np.testing.assert_allclose(delta, -0.001, rtol=0, atol=1e-6)


def test_strike_for_delta_unreachable_target_raises():
    # a call's delta is at most exp(-q tau) = exp(-0.013 * 3) = 0.9618 (Black-Scholes-Merton)
    with pytest.raises(ValueError, match="cannot be reached"):
        strike_for_delta(np.array([4500.0]), 3.0, np.array([0.02]), 0.999, True, SURFACE, 0.045, 0.013)


def test_strike_for_delta_rounds_to_tick():
    spot = np.array([4500.0, 5123.0])
    v = np.array([0.02, 0.04])
    k = strike_for_delta(spot, 30 / 365, v, -0.16, False, SURFACE, 0.04, 0.01)
    np.testing.assert_array_equal(k % 5.0, 0.0)
    fine = strike_for_delta(spot, 30 / 365, v, -0.16, False, SURFACE, 0.04, 0.01, tick=1e-9)
    assert np.all(np.abs(k - fine) <= 2.5 + 1e-9)
    assert np.all(k < spot)  # a 16-delta put is out of the money


@pytest.mark.parametrize("is_call, target", [(True, -0.2), (True, 0.0), (True, 1.0), (True, 1.2),
                                             (False, 0.2), (False, 0.0), (False, -1.0), (False, -1.3)])
def test_strike_for_delta_wrong_sign_raises(is_call, target):
    with pytest.raises(ValueError, match="delta"):
        strike_for_delta(np.array([4500.0]), 30 / 365, np.array([0.02]), target, is_call,
                         SURFACE, 0.04, 0.01)


# ----------------------------------------------------------------------------------------------
# VixOptionTable
# ----------------------------------------------------------------------------------------------

VIX_DT = 1.0 / 252.0
VIX_MAX_STEPS = 62
VIX_RATE = 0.02


@pytest.fixture(scope="module")
def vix_model():
    # Feller ratio 2*11*0.0177/0.68^2 = 0.84 < 1: the warning is noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        return HestonParams(v0=0.02, kappa=11.0, theta=0.0177, sigma=0.68, rho=-0.74, mu=0.076, lam=-9.8)


@pytest.fixture(scope="module")
def vix_table(vix_model):
    return VixOptionTable(vix_model, VIX_DT, VIX_MAX_STEPS, VIX_RATE)


def _check_table_vs_exact(table, model, spot_vix, tol):
    v = float(variance_from_vix(spot_vix, model.kappa_q, model.theta_q))
    for steps in (1, 5, 21, 62):
        tau = steps * VIX_DT
        fut = vix_futures_exact(v, tau, model)
        got = float(table.futures(np.array([spot_vix]), steps)[0])
        assert abs(got - fut) < tol, (spot_vix, steps, got, fut)
        for mult in (1.0, 1.2):
            strike = float(round(mult * fut))
            ref = vix_call_exact(v, tau, strike, model, VIX_RATE)
            idx = table.strike_index(np.array([strike]))
            assert table.strikes[idx[0]] == strike
            got = float(table.call(np.array([spot_vix]), steps, idx)[0])
            assert abs(got - ref) < tol, (spot_vix, steps, strike, got, ref)


@pytest.mark.parametrize("spot_vix", [10.0, 15.7, 22.0, 35.0])
def test_vix_table_vs_exact_below_40(vix_table, vix_model, spot_vix):
    # Documented accuracy of the table (VixOptionTable docstring / module tests): 0.003 points
    # below a spot VIX of 40. Reference: CIR-law quadrature (Zhang & Zhu 2006, eq. 9).
    _check_table_vs_exact(vix_table, vix_model, spot_vix, 0.003)


@pytest.mark.parametrize("spot_vix", [50.0, 80.0])
def test_vix_table_vs_exact_up_to_80(vix_table, vix_model, spot_vix):
    # Documented accuracy up to a spot VIX of 80: 0.02 points.
    _check_table_vs_exact(vix_table, vix_model, spot_vix, 0.02)


def test_vix_table_vectorised_lookup_matches_scalar(vix_table):
    vix = np.array([9.1, 15.7, 22.0, 35.0, 47.3])
    steps = np.array([0, 1, 5, 21, 62])
    k = vix_table.strike_index(np.array([10.0, 16.0, 25.0, 30.0, 50.0]))
    f = vix_table.futures(vix, steps)
    c = vix_table.call(vix, steps, k)
    for i in range(vix.size):
        assert f[i] == float(vix_table.futures(vix[i : i + 1], int(steps[i]))[0])
        assert c[i] == float(vix_table.call(vix[i : i + 1], int(steps[i]), k[i : i + 1])[0])


def test_vix_table_at_expiry(vix_table):
    vix = np.array([vix_table.floor, 9.3, 15.7, 22.05, 35.0, 61.3, 79.9])
    np.testing.assert_allclose(vix_table.futures(vix, 0), vix, rtol=1e-14)
    for strike in (5.0, 15.0, 16.0, 22.0, 60.0):
        idx = vix_table.strike_index(np.full(vix.shape, strike))
        np.testing.assert_array_equal(vix_table.call(vix, 0, idx), np.maximum(vix - strike, 0.0))


@pytest.mark.parametrize("steps", [-1, VIX_MAX_STEPS + 1, np.array([0, 5, 63]), np.array([-2, 1])])
def test_vix_table_out_of_range_steps(vix_table, steps):
    vix = np.full(np.shape(steps) or (1,), 20.0)
    with pytest.raises(ValueError):
        vix_table.futures(vix, steps)
    with pytest.raises(ValueError):
        vix_table.call(vix, steps, np.zeros(vix.shape, dtype=np.intp))


def test_vix_table_max_steps_validation(vix_model):
    with pytest.raises(ValueError, match="max_steps"):
        VixOptionTable(vix_model, VIX_DT, 0, VIX_RATE)


@pytest.mark.parametrize("spot_vix", [10.0, 15.7, 22.0, 35.0, 60.0])
@pytest.mark.parametrize("steps", [1, 5, 21, 62])
def test_vix_table_calls_monotone_convex_in_strike(vix_table, spot_vix, steps):
    # Model-free: C(K) non-increasing, slope >= -e^{-r tau}, convex (second difference >= 0 on the
    # unit-spaced strike grid), between e^{-r tau} (F - K)^+ and e^{-r tau} F.
    idx = np.arange(vix_table.strikes.size)
    c = vix_table.call(np.full(idx.shape, spot_vix), steps, idx)
    f = float(vix_table.futures(np.array([spot_vix]), steps)[0])
    disc = math.exp(-VIX_RATE * steps * VIX_DT)
    slope = np.diff(c)
    assert np.all(slope <= 1e-12)
    assert np.all(slope >= -disc - 1e-12)
    assert np.all(np.diff(c, 2) >= -1e-12)
    assert np.all(c >= disc * np.maximum(f - vix_table.strikes, 0.0) - 1e-9)
    assert np.all(c <= disc * f + 1e-9)


@pytest.mark.parametrize("spot_vix", [10.0, 15.7, 22.0, 35.0])
def test_vix_table_atm_calls_increase_with_expiry(vix_table, spot_vix):
    # Not a no-arbitrage theorem for VIX options (each expiry has its own underlying VIX_T), so
    # this is checked only where the model makes it hold clearly: spot VIX below the long-run Q
    # level 100 sqrt(theta_Q) ~ 40, where the variance drifts up and its CIR law spreads out with
    # the horizon (at 35 the futures dip slightly, by Jensen, but the spread dominates). The exact
    # quadrature prices at steps 1, 5, 21, 62 have the same ordering (e.g. spot 35, K = 35:
    # 0.79, 1.71, ..., rising).
    k = vix_table.strike_index(np.array([spot_vix]))
    c = np.array([vix_table.call(np.array([spot_vix]), s, k)[0] for s in range(VIX_MAX_STEPS + 1)])
    assert np.all(np.diff(c) > 0.0)


def test_vix_table_futures_below_floor_clamped(vix_table):
    # below the model floor the lookup is clamped to the floor node
    f_floor = vix_table.futures(np.array([vix_table.floor]), 10)
    f_below = vix_table.futures(np.array([vix_table.floor - 3.0]), 10)
    np.testing.assert_array_equal(f_floor, f_below)


# ---------------------------------------------------------------------------
# MarkovVixTable: the generic VIX pricer, against the exact CIR-law table and Monte Carlo
from alvh.models.base import PathModel  # noqa: E402
from alvh.models.heston import HestonModel, cir_quantile_step, cir_transition, model_vix, variance_from_vix  # noqa: E402
from alvh.pricing import MarkovVixTable, make_vix_table  # noqa: E402


def _baseline_model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        # the baseline calibration (README), rounded
        return HestonModel(HestonParams(v0=0.03, kappa=11.0, theta=0.0177, sigma=0.68, rho=-0.74, mu=0.076, lam=-9.8))


@pytest.fixture(scope="module")
def heston_tables():
    m = _baseline_model()
    return make_vix_table(m, 1 / 252, 62, 0.02), MarkovVixTable(m, 1 / 252, 62, 0.02)


def test_make_vix_table_uses_the_exact_table_for_cir_models(heston_tables):
    assert isinstance(heston_tables[0], VixOptionTable)


@pytest.mark.parametrize("steps", [1, 5, 21, 62])
def test_markov_table_matches_the_exact_cir_table(heston_tables, steps):
    exact, chain = heston_tables
    vix = np.array([12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0])
    # the chain's stated accuracy (MarkovVixTable docstring): futures within 0.015 points (0.02 at
    # VIX 60, one step: interpolation), calls within 0.01 up to 62 steps; a wrong discount, a
    # dropped mean correction (0.03 low at 62 steps) or a transposed chain would break these
    np.testing.assert_allclose(chain.futures(vix, steps), exact.futures(vix, steps), atol=0.02)
    k = exact.strike_index(exact.futures(vix, steps) * 1.2)
    np.testing.assert_allclose(chain.call(vix, steps, k), exact.call(vix, steps, k), atol=0.01)
    # stress levels (the coarse grid runs to VIX 500): futures within 0.3%, calls within 1% (the
    # docstring's bounds; measured 0.2% and 0.7% at 62 steps)
    high = np.array([140.0, 200.0, 300.0])
    np.testing.assert_allclose(chain.futures(high, steps), exact.futures(high, steps), rtol=3e-3)
    k120 = exact.strike_index(np.full(3, 120.0))
    np.testing.assert_allclose(chain.call(high, steps, k120), exact.call(high, steps, k120), rtol=1e-2)
    # at expiry the call is its intrinsic value exactly
    np.testing.assert_array_equal(chain.call(vix, 0, k), np.maximum(vix - chain.strikes[k], 0.0))


class _TwoRegimeCir(PathModel):
    """Toy Markov-modulated CIR variance: regime r has its own Q (kappa, theta), VIX^2 = a_r v + b_r."""

    name = "toy"
    regime_names = ("calm", "crisis")
    Q = ((3.0, 0.03), (1.0, 0.12))
    SIGMA = 0.6
    PI = np.array([[0.97, 0.03], [0.10, 0.90]])

    default_var0 = 0.03

    def simulate(self, *a, **k):  # pragma: no cover - not needed
        raise NotImplementedError

    def stationary_state(self, *a, **k):  # pragma: no cover
        raise NotImplementedError

    def _r(self, regime, shape):
        return np.zeros(shape, np.intp) if regime is None else np.broadcast_to(np.asarray(regime, np.intp), shape)

    def vix(self, var, regime=None):
        var = np.asarray(var, float)
        r = self._r(regime, var.shape)
        out = np.empty(var.shape)
        for i, (k, t) in enumerate(self.Q):
            out[r == i] = model_vix(var[r == i], k, t)
        return out

    def var_from_vix(self, vix, regime=None):
        vix = np.asarray(vix, float)
        r = self._r(regime, vix.shape)
        out = np.empty(vix.shape)
        for i, (k, t) in enumerate(self.Q):
            out[r == i] = variance_from_vix(vix[r == i], k, t)
        return np.maximum(out, 0.0)

    def atm_total_variance(self, var, tau, regime=None):  # pragma: no cover
        raise NotImplementedError

    def q_step(self, x, dt, regime=0):
        k, t = self.Q[regime]
        return cir_quantile_step(x, dt, k, t, self.SIGMA)

    def regime_transition(self, dt):
        return self.PI

    def to_dict(self):  # pragma: no cover
        return {}

    @classmethod
    def from_dict(cls, d):  # pragma: no cover
        return cls()


def test_markov_table_with_regimes_against_monte_carlo():
    """Regime switches at the start of each step, then CIR moves under the new regime (exact law)."""
    model, dt, steps = _TwoRegimeCir(), 1 / 252, 21
    table = MarkovVixTable(model, dt, steps, 0.0)
    rng = np.random.default_rng(11)
    n = 200_000
    for r0, v0 in ((0, 0.02), (1, 0.09)):
        v = np.full(n, v0)
        r = np.full(n, r0)
        for _ in range(steps):
            r = np.where(rng.random(n) < model.PI[r, 1], 1, 0)
            for i, (k, t) in enumerate(model.Q):
                sel = r == i
                scale, df, nc = cir_transition(v[sel], dt, k, t, model.SIGMA)
                v[sel] = scale * rng.noncentral_chisquare(df, nc)
        vix_t = model.vix(v, r)
        spot_vix = model.vix(np.array([v0]), np.array([r0]))
        fut = table.futures(spot_vix, steps, np.array([r0]))[0]
        se = vix_t.std() / np.sqrt(n)
        # Monte Carlo SE plus the chain's grid error (0.02 points, see above)
        assert abs(fut - vix_t.mean()) < 4 * se + 0.02, (r0, fut, vix_t.mean(), se)
        call = table.call(spot_vix, steps, table.strike_index([25.0]), np.array([r0]))[0]
        payoff = np.maximum(vix_t - 25.0, 0.0)
        assert abs(call - payoff.mean()) < 4 * payoff.std() / np.sqrt(n) + 0.01, (r0, call, payoff.mean())


def test_markov_table_refuses_bad_sizes():
    with pytest.raises(ValueError, match="max_steps"):
        MarkovVixTable(_baseline_model(), 1 / 252, 0, 0.0)
    with pytest.raises(ValueError, match="n_nodes"):
        MarkovVixTable(_baseline_model(), 1 / 252, 5, 0.0, n_nodes=3)
