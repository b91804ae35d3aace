"""Tests for sim/fastprice/: every compiled kernel against its numpy reference.

The reference is the numpy code of sim/pricing/ and sim/surface/ itself, run on the same
inputs with the kernels switched off (:func:`alvh.fastprice.numpy_reference`); the kernels must
agree with it to 1e-10 relative (1e-12 absolute where values are ~0), NaN where it gives NaN,
and raise where it raises. The special functions are checked against scipy.special. The last
tests run the strategy engine on a few hundred simulated paths with the kernels on and off.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import special

from alvh.models.heston import FellerConditionWarning, HestonModel, HestonParams, model_vix, simulate_qe
from alvh.models.jumps import BatesModel, SvcjModel
from alvh.models.regimes import RegimeSwitchingModel
from alvh import fastprice
from alvh import surface as surface_mod
from alvh.pricing import (
    MarkovVixTable,
    SpxSmile,
    VixOptionTable,
    black_scholes,
    spx_option,
    strike_for_delta,
)
from alvh.strategy import CondorSpec, HedgeSpec, LayerSpec, MarketSpec, run_books
from alvh.surface import FourierSurface, SsviSurface, _ln_otm_call, implied_stdev, surface_option

pytestmark = pytest.mark.filterwarnings("ignore::alvh.models.heston.FellerConditionWarning",
                                        "ignore::RuntimeWarning")

RTOL, ATOL = 1e-10, 1e-12
RATE, DIV = 0.02, 0.018
DT = 1.0 / 252.0

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FellerConditionWarning)
    # close to the baseline calibration (as tests/test_strategy.py)
    PARAMS = HestonParams(v0=0.0177, kappa=11.0, theta=0.0177, sigma=0.68, rho=-0.74, mu=0.076, lam=-9.8)
    PARAMS_HI = HestonParams(v0=0.05, kappa=6.0, theta=0.06, sigma=0.9, rho=-0.7, mu=-0.05, lam=-3.0)


class _PlainHeston(HestonModel):
    """A Heston model the kernels do not recognise: they then take the model's own ATM variance."""


def _both(fn, *args, **kw):
    """``fn`` with the kernels on, then with the numpy reference."""
    assert fastprice.ENABLED
    fast = fn(*args, **kw)
    with fastprice.numpy_reference():
        ref = fn(*args, **kw)
    assert fastprice.ENABLED
    return fast, ref


def _close(fast, ref, rtol=RTOL, atol=ATOL):
    fast, ref = np.asarray(fast), np.asarray(ref)
    assert fast.shape == ref.shape and fast.dtype == ref.dtype
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(ref))
    np.testing.assert_allclose(fast, ref, rtol=rtol, atol=atol, equal_nan=True)


@pytest.fixture(scope="module")
def surfaces():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        small = dict(n_var=16, n_tau=10, n_z=24)
        return {
            "heston": FourierSurface(HestonModel(PARAMS), tau_max=0.5),
            "bates": FourierSurface(BatesModel(PARAMS, lam_j=1.0, mu_j=-0.1, sigma_j=0.1), tau_max=0.3, **small),
            "svcj": FourierSurface(SvcjModel(PARAMS, lam_j=1.5, mu_s=-0.05, sigma_s=0.05, mu_v=0.08, rho_j=-0.8),
                                   tau_max=0.3, **small),
            "plain": FourierSurface(_PlainHeston(PARAMS), tau_max=0.3, **small),
        }


@pytest.fixture(scope="module")
def regime_model():
    return RegimeSwitchingModel([PARAMS, PARAMS_HI], np.array([[0.97, 0.03], [0.10, 0.90]]))


@pytest.fixture(scope="module")
def vix_tables(regime_model):
    return {
        "cir": VixOptionTable(PARAMS, DT, 21, RATE, vix_max=200.0, strike_max=60),
        "markov": MarkovVixTable(regime_model, DT, 21, RATE, vix_max=200.0, strike_max=60, n_nodes=60),
    }


# ------------------------------------------------------------------------------------------------
# special functions
# ------------------------------------------------------------------------------------------------

def test_ndtr_matches_scipy():
    x = np.concatenate((np.linspace(-37.0, 38.0, 20001), np.random.default_rng(0).normal(0.0, 3.0, 20000)))
    got = np.array([fastprice.ndtr(v) for v in x])
    want = special.ndtr(x)
    rel = np.abs(got - want) / want
    assert rel.max() < 2e-13                       # erfc of the C library vs Cephes' in the far left tail
    assert got[x < -37.5].max() < 1e-300 if (x < -37.5).any() else True
    assert rel[np.abs(x) < 5.0].max() < 5e-15
    assert rel[x >= 0.0].max() < 5e-16
    assert math.isnan(fastprice.ndtr(math.nan))
    assert fastprice.ndtr(math.inf) == 1.0 and fastprice.ndtr(-math.inf) == 0.0


def test_erfcx_matches_scipy():
    rng = np.random.default_rng(1)
    x = np.concatenate((np.linspace(-26.6, 60.0, 40001), -np.geomspace(1e-10, 26.6, 2000),
                        np.geomspace(1e-12, 1e9, 4000), rng.normal(0.0, 5.0, 10000),
                        [0.0, 25.0, np.nextafter(25.0, 0.0)]))
    got = np.array([fastprice.erfcx(v) for v in x])
    np.testing.assert_allclose(got, special.erfcx(x), rtol=2e-15, atol=0.0)
    assert fastprice.erfcx(-27.0) == math.inf and fastprice.erfcx(math.inf) == 0.0
    assert math.isnan(fastprice.erfcx(math.nan))


# ------------------------------------------------------------------------------------------------
# Black-Scholes, implied volatility
# ------------------------------------------------------------------------------------------------

def _bs_inputs(n=4000, seed=2):
    rng = np.random.default_rng(seed)
    spot = rng.uniform(1000.0, 4000.0, n)
    strike = spot * np.exp(rng.uniform(-1.5, 1.0, n))                      # deep ITM and OTM both ways
    tau = np.exp(rng.uniform(math.log(1e-5), math.log(5.0), n))           # minutes to years
    vol = np.exp(rng.uniform(math.log(0.01), math.log(3.0), n))
    return spot, strike, tau, vol, rng.random(n) < 0.5


def test_black_scholes_matches_reference_on_random_and_edge_inputs():
    spot, strike, tau, vol, is_call = _bs_inputs()
    for args in ((spot, strike, tau, RATE, DIV, vol, is_call), (spot, strike, tau, 0.0, 0.0, vol, True),
                 (spot, strike, tau, 0.05, 0.0, vol, False)):
        (p, d), (pr, dr) = _both(black_scholes, *args)
        _close(p, pr)
        _close(d, dr)
    # edges: at-the-money forward, zero and negative maturity, zero vol, NaN, zero strike
    edge = black_scholes, np.array([2500.0] * 7), np.array([2500.0 * math.exp(0.002 * 0.1), 2500.0, 2500.0, 2400.0,
                                                              np.nan, 0.0, 2600.0]), \
        np.array([0.1, 0.0, -0.1, 0.1, 0.1, 0.1, 1e-12]), RATE, DIV, np.array([0.2, 0.2, 0.2, 0.0, 0.2, 0.2, 0.2]), \
        np.array([True, False, True, False, True, False, True])
    (p, d), (pr, dr) = _both(*edge)
    _close(p, pr)
    _close(d, dr)


def test_black_scholes_shapes_broadcasting_and_scalars_follow_the_reference():
    spot, strike, tau, vol, _ = _bs_inputs(50, seed=3)
    is_call = np.array([False, False, True, True])[:, None]
    k4 = np.stack((strike * 0.9, strike, strike * 1.05, strike * 1.1))
    (p, d), (pr, dr) = _both(black_scholes, np.broadcast_to(spot, (4, 50)), k4, tau, RATE, DIV, vol, is_call)
    _close(p, pr)
    _close(d, dr)
    (p, d), (pr, dr) = _both(black_scholes, 42.0, 40.0, 0.5, 0.10, 0.0, 0.20, True)
    assert type(p) is type(pr) and type(d) is type(dr)
    assert p == pytest.approx(pr, rel=RTOL) and d == pytest.approx(dr, rel=RTOL)
    (p, _), (pr, _) = _both(black_scholes, 42.0, [40.0, 44.0], 0.5, 0.10, 0.0, 0.20, [True, False])
    _close(p, pr)
    with pytest.raises(ValueError):                                         # shapes that do not broadcast
        black_scholes(np.ones(3), np.ones(4), 0.5, RATE, DIV, 0.2, True)


def test_ln_otm_call_matches_reference():
    rng = np.random.default_rng(4)
    x = np.concatenate((np.abs(rng.normal(0.0, 0.5, 3000)), rng.uniform(0.0, 3.0, 1000), [0.0, 0.0, 0.5, 2.0]))
    s = np.concatenate((np.exp(rng.uniform(math.log(0.01), math.log(6.0), 4000)), [1e-3, 3.0, 0.05, 0.2]))
    (f, df), (fr, dfr) = _both(_ln_otm_call, x, s)
    _close(f, fr, atol=1e-12)
    _close(df, dfr)
    # far out of the money at tiny s: ln c rests on the difference of two nearly equal erfcx values
    # (relative cancellation ~ |d1| / s), which both codes round alike only to that factor
    x = rng.uniform(0.0, 30.0, 4000)
    s = np.exp(rng.uniform(math.log(1e-6), math.log(6.0), 4000))
    (f, df), (fr, dfr) = _both(_ln_otm_call, x, s)
    cancel = np.abs(-x / s + 0.5 * s) / s + 1.0
    np.testing.assert_array_equal(np.isfinite(f), np.isfinite(fr))
    ok = np.isfinite(fr)
    assert np.all(np.abs(df - dfr)[ok] <= 1e-14 * cancel[ok] * np.abs(dfr[ok]))
    assert np.all(np.abs(f - fr)[ok] <= 1e-14 * cancel[ok] + 1e-12 * np.abs(fr[ok]))


def _otm_prices(n, seed):
    rng = np.random.default_rng(seed)
    k = np.concatenate((rng.normal(0.0, 0.3, n), rng.uniform(-6.0, 3.0, n // 4)))
    s = np.exp(rng.uniform(math.log(2e-3), math.log(4.0), k.size))
    d1 = -k / s + 0.5 * s
    d2 = d1 - s
    price = np.where(k < 0.0, np.exp(k) * special.ndtr(-d2) - special.ndtr(-d1),
                     special.ndtr(d1) - np.exp(k) * special.ndtr(d2))
    return price, k, s


def test_implied_stdev_matches_reference_with_and_without_guess():
    price, k, s = _otm_prices(4000, seed=5)
    got, ref = _both(implied_stdev, price, k)
    _close(got, ref)
    assert np.isfinite(ref).mean() > 0.75            # mostly converged cases (the rest: prices that underflow)
    got, ref = _both(implied_stdev, price, k, guess=s * 1.3)
    _close(got, ref)
    got, ref = _both(implied_stdev, price, k, guess=0.2)
    _close(got, ref)
    got, ref = _both(implied_stdev, price, k, tol=1e-6, max_iter=3)        # unconverged elements are NaN in both
    _close(got, ref)
    assert np.isnan(ref).any()


def test_implied_stdev_outside_the_no_arbitrage_range_and_shapes():
    price = np.array([0.0, -1e-3, 1.0, 1.001 * math.exp(-0.1), 0.01, np.nan, 0.01, 1e-300, 0.3])
    k = np.array([0.1, 0.1, 0.1, -0.1, 0.0, 0.0, np.nan, 2.0, np.inf])
    got, ref = _both(implied_stdev, price, k)
    _close(got, ref)
    got, ref = _both(implied_stdev, price[:, None] * np.ones(3), k[:, None], guess=np.array([0.1, np.nan, -1.0]))
    _close(got, ref)
    got, ref = _both(implied_stdev, 0.01, 0.05)
    assert type(got) is type(ref) and got == pytest.approx(ref, rel=RTOL)


# ------------------------------------------------------------------------------------------------
# Fourier surface
# ------------------------------------------------------------------------------------------------

def _surface_inputs(n=6000, seed=6):
    rng = np.random.default_rng(seed)
    k = rng.uniform(-3.0, 2.0, n)                                          # beyond z_range at short tau
    tau = np.exp(rng.uniform(math.log(1e-4), math.log(2.0), n))            # below and above the grid
    var = np.concatenate((rng.uniform(-0.01, 0.3, n - 400), rng.uniform(2.0, 20.0, 400)))   # <0 and above the top
    k[:50], tau[50:100], var[100:150] = np.nan, np.inf, np.nan
    tau[150:200], tau[200:250], var[250:300] = 0.0, -0.1, np.inf
    var[300:310], k[310:320] = 0.0, 0.0
    return k, tau, var


@pytest.mark.parametrize("name", ["heston", "bates", "svcj", "plain"])
def test_fourier_total_variance_matches_reference(surfaces, name):
    surf = surfaces[name]
    assert surf._fast_tables(fastprice)[4] is (name != "plain")     # ATM variance inlined for the exact classes
    k, tau, var = _surface_inputs()
    got, ref = _both(surf.total_variance, k, tau, var)
    _close(got, ref)
    assert np.isfinite(ref).sum() > 5000
    # grid nodes and broadcasting: a (n_var, 1) column against a (1, n_k) row at one maturity
    got, ref = _both(surf.total_variance, surf.z_nodes[None, :] * 0.1, surf.tau_nodes[3], surf.var_nodes[:, None])
    _close(got, ref)
    got, ref = _both(surf.total_variance, 0.0, 0.1, 0.04)
    assert type(got) is type(ref) and got == pytest.approx(ref, rel=RTOL)


@pytest.mark.parametrize("name", ["heston", "bates", "plain"])
def test_spx_option_on_a_fourier_surface_matches_reference(surfaces, name):
    surf = surfaces[name]
    rng = np.random.default_rng(7)
    n = 3000
    spot = rng.uniform(1500.0, 3500.0, n)
    var = rng.uniform(0.0, 0.4, n)
    rem = rng.integers(1, 80, n) * DT
    strikes = spot * np.exp(np.stack((rng.uniform(-0.6, -0.1, n), rng.uniform(-0.2, 0.0, n), rng.uniform(0.0, 0.1, n),
                                      rng.uniform(0.05, 0.4, n))))
    strikes = np.round(strikes / 5.0) * 5.0
    is_call = np.array([False, False, True, True])[:, None]
    # the condor's call pattern: (4, n) legs, per-path maturity, broadcast spot and variance
    (p, d), (pr, dr) = _both(spx_option, np.broadcast_to(spot, (4, n)), strikes, rem, np.broadcast_to(var, (4, n)),
                             is_call, surf, RATE, DIV)
    _close(p, pr)
    _close(d, dr)
    # one scalar maturity, 1-D, with NaN and non-positive maturities
    tau = rem.copy()
    tau[:5], var2 = 0.0, var.copy()
    var2[5:10] = np.nan
    (p, d), (pr, dr) = _both(spx_option, spot, strikes[1], tau, var2, False, surf, RATE, DIV)
    _close(p, pr)
    _close(d, dr)
    (p, d), (pr, dr) = _both(spx_option, spot, strikes[2], 45.0 / 365.0, var, True, surf, RATE, DIV)
    _close(p, pr)
    _close(d, dr)


def test_surface_option_greeks_follow_the_compiled_total_variance(surfaces):
    surf = surfaces["heston"]
    rng = np.random.default_rng(8)
    spot, var = rng.uniform(2000.0, 3000.0, 500), rng.uniform(0.005, 0.2, 500)
    strike, tau = spot * rng.uniform(0.8, 1.1, 500), rng.integers(1, 100, 500) * DT
    got, ref = _both(surface_option, spot, strike, tau, var, rng.random(500) < 0.5, surf, RATE, DIV)
    for a, b in zip(got, ref):
        _close(a, b)


@pytest.mark.parametrize("name", ["heston", "svcj", "plain"])
@pytest.mark.parametrize("target,is_call", [(-0.15, False), (0.15, True), (-0.05, False), (0.30, True), (-0.5, False)])
def test_strike_for_delta_on_a_fourier_surface_matches_reference(surfaces, name, target, is_call):
    surf = surfaces[name]
    rng = np.random.default_rng(9)
    n = 300
    spot = rng.uniform(2000.0, 3000.0, n)
    var = np.concatenate((rng.uniform(0.002, 0.15, n - 10), [0.0, 1e-8, 0.5, 1.0, 2.0, np.nan, 0.04, 0.04, 0.04, 0.04]))
    for tau in ((45.0 / 365.0, 3.0 / 365.0) if name != "plain" else (30.0 / 365.0,)):
        got, ref = _both(strike_for_delta, spot, tau, var, target, is_call, surf, RATE, DIV)
        np.testing.assert_array_equal(got, ref)                             # rounded to 5 points: identical
        got, ref = _both(strike_for_delta, spot, tau, var, target, is_call, surf, RATE, DIV, tick=1e-12)
        _close(got, ref, rtol=1e-13)          # unrounded: the regula falsi ends on the bisection's crossing
    got, ref = _both(strike_for_delta, spot.reshape(2, -1), tau, var.reshape(2, -1), target, is_call, surf, RATE, DIV)
    np.testing.assert_array_equal(got, ref)                                # 2-D input


def test_strike_for_delta_raises_where_the_reference_raises(surfaces):
    surf = surfaces["heston"]
    spot, var = np.full(3, 2500.0), np.array([0.01, 0.04, 0.09])
    for engine in (False, True):
        with fastprice.numpy_reference(engine), pytest.raises(ValueError, match="cannot be reached on 3 path"):
            strike_for_delta(spot, 45.0 / 365.0, var, 0.999, True, surf, RATE, DIV)
    got, ref = _both(strike_for_delta, spot, 45.0 / 365.0, var, -0.2, False, surf, RATE, DIV)
    np.testing.assert_array_equal(got, ref)


# ------------------------------------------------------------------------------------------------
# SSVI surface (any model; regimes)
# ------------------------------------------------------------------------------------------------

def test_spx_option_and_delta_strikes_on_an_ssvi_surface_match_reference(regime_model):
    rng = np.random.default_rng(10)
    n = 2000
    spot, var = rng.uniform(2000.0, 3000.0, n), rng.uniform(0.001, 0.3, n)
    reg = rng.integers(0, 2, n).astype(np.int8)
    for smile in (SpxSmile(), SpxSmile(rho=-0.5, eta=0.8, gamma=0.3)):
        surf = SsviSurface(regime_model, smile)
        strikes = spot * np.exp(np.stack((rng.uniform(-0.5, -0.1, n), rng.uniform(-0.2, 0.0, n),
                                          rng.uniform(0.0, 0.1, n), rng.uniform(0.05, 0.3, n))))
        rem = rng.integers(1, 60, n) * DT
        (p, d), (pr, dr) = _both(spx_option, np.broadcast_to(spot, (4, n)), strikes, rem, np.broadcast_to(var, (4, n)),
                                 np.array([False, False, True, True])[:, None], surf, RATE, DIV,
                                 np.broadcast_to(reg, (4, n)))
        _close(p, pr)
        _close(d, dr)
        for target, is_call in ((-0.15, False), (0.15, True)):
            got, ref = _both(strike_for_delta, spot[:300], 45.0 / 365.0, var[:300], target, is_call, surf, RATE, DIV,
                             regime=reg[:300])
            np.testing.assert_array_equal(got, ref)
            got, ref = _both(strike_for_delta, spot[:300], 45.0 / 365.0, var[:300], target, is_call, surf, RATE, DIV,
                             tick=1e-12, regime=reg[:300])
            _close(got, ref, rtol=1e-13)


def test_a_smile_that_is_not_spxsmile_runs_the_numpy_code(regime_model):
    class Smile:                                # duck-typed smile: no kernel
        def total_variance(self, k, atm_total_variance):
            return SpxSmile().total_variance(k, atm_total_variance) * 1.1

    surf = SsviSurface(HestonModel(PARAMS), Smile())
    assert surf._fast_smile() is None
    (p, _), (pr, _) = _both(spx_option, np.array([2500.0]), np.array([2400.0]), 0.1, np.array([0.03]), False, surf,
                            RATE, DIV)
    _close(p, pr)                     # the smile's own total_variance, then (compiled) Black-Scholes
    with fastprice.numpy_reference():
        p0, _ = spx_option(np.array([2500.0]), np.array([2400.0]), 0.1, np.array([0.03]), False,
                           SsviSurface(HestonModel(PARAMS), SpxSmile()), RATE, DIV)
    assert abs(p[0] - p0[0]) > 1e-3         # the duck-typed smile was used, not SpxSmile


# ------------------------------------------------------------------------------------------------
# VIX tables
# ------------------------------------------------------------------------------------------------

def _vix_inputs(table, n=3000, seed=11):
    rng = np.random.default_rng(seed)
    nodes = table.vix_nodes if isinstance(table, VixOptionTable) else np.asarray(table.model.vix(table.grid[::7]))
    vix = np.concatenate((rng.uniform(5.0, 90.0, n), nodes, [np.nan, 0.0, -5.0, 1e4, 250.0]))
    steps = rng.integers(0, table.max_steps + 1, vix.size)
    return rng, vix, steps


@pytest.mark.parametrize("kind", ["cir", "markov"])
def test_vix_futures_and_calls_match_reference(vix_tables, kind):
    table = vix_tables[kind]
    rng, vix, steps = _vix_inputs(table)
    reg = rng.integers(0, 2, vix.size).astype(np.int8) if kind == "markov" else None
    strike = np.concatenate((rng.uniform(-3.0, 70.0, vix.size - 3), [np.nan, 0.49, 60.6]))
    ki, ki_ref = _both(table.strike_index, strike)
    np.testing.assert_array_equal(ki, ki_ref)
    ki = ki[:-3]
    sl = slice(0, ki.size)
    got, ref = _both(table.futures, vix, steps, reg)
    _close(got, ref)
    got, ref = _both(table.call, vix[sl], steps[sl], ki, None if reg is None else reg[sl])
    _close(got, ref)
    # scalar steps (as at an entry), the top strike, steps 0 (intrinsic) and max_steps
    for s in (0, 1, table.max_steps):
        got, ref = _both(table.call, vix, s, table.strikes.size - 1, reg)
        _close(got, ref)
        got, ref = _both(table.futures, vix, s, reg)
        _close(got, ref)
    got, ref = _both(table.call, 20.0, 5, 19, None if reg is None else 1)
    assert got == pytest.approx(ref, rel=RTOL)


@pytest.mark.parametrize("kind", ["cir", "markov"])
def test_vix_lookups_out_of_range_behave_as_the_reference(vix_tables, kind):
    table = vix_tables[kind]
    vix = np.array([15.0, 20.0, 30.0])
    for engine in (False, True):
        with fastprice.numpy_reference(engine):
            with pytest.raises(ValueError, match="time to expiry"):
                table.call(vix, np.array([1, table.max_steps + 1, 2]), np.array([10, 10, 10]))
            with pytest.raises(ValueError, match="time to expiry"):
                table.futures(vix, -1)
            with pytest.raises(IndexError):
                table.call(vix, 3, np.array([10, table.strikes.size, 10]))
    # a negative strike index counts from the end in numpy; so it does here (the reference runs)
    got, ref = _both(table.call, vix, 3, np.array([-1, 5, -2]))
    _close(got, ref)
    got, ref = _both(table.call, vix, np.array([1.0, 2.0, 3.0]), np.array([5, 6, 7]))     # float steps
    _close(got, ref)


def test_locate_guide_gives_the_searchsorted_index():
    rng = np.random.default_rng(12)
    for nodes in (np.sort(rng.uniform(0.0, 10.0, 50)), np.concatenate(([9.87], np.arange(10.0, 40.0, 0.25), [500.0])),
                  np.linspace(0.0, 1.2, 300) ** 2, np.array([1.0, 2.0])):
        guide = fastprice.locate_guide(nodes)
        x = np.concatenate((rng.uniform(nodes[0] - 1.0, nodes[-1] + 1.0, 5000), nodes, [np.nan]))
        got = np.array([fastprice._locate(nodes, guide, v) for v in x])
        xc = np.clip(x, nodes[0], nodes[-1])
        i = np.clip(np.searchsorted(nodes, xc, side="right") - 1, 0, nodes.size - 2)
        np.testing.assert_array_equal(got[:, 0], i)
        np.testing.assert_array_equal(got[:, 1], (xc - nodes[i]) / (nodes[i + 1] - nodes[i]))


# ------------------------------------------------------------------------------------------------
# the switch
# ------------------------------------------------------------------------------------------------

def test_environment_variable_keeps_everything_on_numpy():
    code = ("import sys, numpy as np\n"
            "from alvh.pricing import black_scholes\n"
            "black_scholes(np.ones(3), 1.0, 0.5, 0.0, 0.0, 0.2, True)\n"
            "assert 'alvh.fastprice' not in sys.modules\n"
            "import alvh.fastprice as fp\n"
            "assert not fp.ENABLED and not fp.active()\n"
            # the one reading (alvh.switches) also keeps the books on the numpy engine
            "from unittest import mock\n"
            "from alvh import fastbook, switches\n"
            "from alvh.strategy import run_books\n"
            "assert switches.NUMPY_REFERENCE\n"
            "with mock.patch.object(fastbook, 'supported', side_effect=AssertionError('compiled engine asked')):\n"
            "    try:\n"
            "        run_books(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)), None, None, None, (), None, 0.1)\n"
            "    except AssertionError:\n"
            "        raise\n"
            "    except Exception:\n"
            "        pass\n")
    env = dict(os.environ, ALVH_NUMPY_REFERENCE="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=root)


def test_numpy_reference_context_restores_the_switch():
    assert fastprice.ENABLED
    with fastprice.numpy_reference():
        assert not fastprice.active()
        with fastprice.numpy_reference(False):
            assert fastprice.active()
        assert not fastprice.active()
    assert fastprice.active()


def test_prepare_broadcasting_rules():
    a, c = np.zeros(5), np.zeros(())
    assert fastprice.prepare(a, c)[1:] == (1, 5, (5,))
    assert fastprice.prepare(np.zeros((4, 1)), a)[1:] == (4, 5, (4, 5))
    assert fastprice.prepare(c)[1:] == (1, 1, ())
    assert fastprice.prepare(np.zeros(3), a) is None
    assert fastprice.prepare(np.zeros((2, 2, 2))) is None
    assert fastprice.prepare(np.zeros(0), c) is None


def test_subclass_overriding_total_variance_gets_no_kernel(surfaces):
    base = surfaces["heston"]

    class Shifted(FourierSurface):
        def total_variance(self, k, tau, var, regime=None):
            return super().total_variance(k, tau, var, regime) * 1.21

    shifted = Shifted.__new__(Shifted)
    shifted.__dict__.update(base.__dict__)
    spot, var = np.full(4, 2500.0), np.full(4, 0.03)
    p, _ = spx_option(spot, np.array([2300.0, 2400.0, 2500.0, 2600.0]), 0.1, var, False, shifted, RATE, DIV)
    with fastprice.numpy_reference():
        pr, _ = spx_option(spot, np.array([2300.0, 2400.0, 2500.0, 2600.0]), 0.1, var, False, shifted, RATE, DIV)
        p0, _ = spx_option(spot, np.array([2300.0, 2400.0, 2500.0, 2600.0]), 0.1, var, False, base, RATE, DIV)
    _close(p, pr)
    assert np.all(p > p0)                                                 # the override was used


# ------------------------------------------------------------------------------------------------
# the strategy engine, kernels on and off
# ------------------------------------------------------------------------------------------------

def _compare_books(fast, ref):
    for f in dataclasses.fields(fast):
        a, b = getattr(fast, f.name), getattr(ref, f.name)
        if f.name == "hedges":
            for ha, hb in zip(a, b):
                _compare_books(ha, hb)
        elif f.name == "trades":
            assert len(a) == len(b)
            for ra, rb in zip(a, b):
                assert ra[:5] == rb[:5]
                assert ra[5:] == pytest.approx(rb[5:], rel=RTOL, abs=ATOL)
        elif isinstance(a, np.ndarray):
            if a.dtype.kind in "iub":
                np.testing.assert_array_equal(a, b, err_msg=f.name)
            else:
                scale = float(np.nanmax(np.abs(b))) if np.isfinite(b).any() else 0.0
                np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f.name)
                np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * scale + ATOL, equal_nan=True, err_msg=f.name)
        else:
            assert a == b, f.name


def _test_hedges():
    """Layers up to 30 DTE (a short VIX table) that use every pricing path of the engine."""
    return [
        HedgeSpec(name="alvh", layers=(
            LayerSpec(0.4, 7.0, 4.0, "call", "breakeven", trigger="condor_decay", decay_share=0.3),
            LayerSpec(0.4, 30.0, 14.0, "call", "otm", 0.2, trigger="vix_above", trigger_vix=14.0, sizing="vega"),
            LayerSpec(0.2, 28.0, 10.0, "call_spread", "delta", strike_delta=0.3, trigger="vix_above", trigger_vix=15.0),
            LayerSpec(0.2, 14.0, 3.0, "short_call_spread", "otm", 0.1, spread_width=5.0, trigger="vix_sustained",
                      trigger_vix=18.0, trigger_days=3))),
        HedgeSpec(name="mixed", rsi_exit=0.0, layers=(
            LayerSpec(0.5, 30.0, 10.0, "future", "otm", trigger="vix_above", trigger_vix=15.0, sizing="vega"),
            LayerSpec(0.5, 30.0, 10.0, "call", "delta", strike_delta=0.3, trigger="always", sizing="bands")),
            budget_bands=((0.0, 20.0, 3.0), (20.0, 50.0, 1.5))),
        HedgeSpec(name="spx", rsi_exit=0.0, layers=(
            LayerSpec(1.0, 30.0, 10.0, "spx_put_spread", "delta", strike_delta=0.2, spread_width=50.0,
                      trigger="always"),)),
    ]


def test_run_books_gives_the_same_books_with_the_kernels_on_and_off(surfaces, vix_tables):
    rng = np.random.default_rng(13)
    n_paths, n_steps = 240, 63
    spot, var = simulate_qe(2500.0, 0.03, PARAMS.kappa, PARAMS.theta, PARAMS.sigma, PARAMS.rho, PARAMS.mu, DT,
                            n_steps, rng=rng, n_paths=n_paths)
    vix = model_vix(var, PARAMS.kappa_q, PARAMS.theta_q)
    measure = np.zeros(n_steps + 1, dtype=bool)
    measure[::5] = True
    condor = CondorSpec(wing_delta=0.05)
    fast, ref = _both(run_books, spot, var, vix, surfaces["heston"], MarketSpec(), condor, _test_hedges(),
                      vix_tables["cir"], DT, measure_days=measure, trace=True)
    assert fast.n_condors.sum() > n_paths and len(fast.trades) > 1000
    assert all(h.n_entries.sum() > 0 for h in fast.hedges)
    _compare_books(fast, ref)


def test_run_books_with_regimes_ssvi_and_markov_table_on_and_off(regime_model, vix_tables):
    rng = np.random.default_rng(14)
    n_paths, n_steps = 120, 42
    paths = regime_model.simulate(regime_model.initial_state(2500.0, n_paths, 0.03, 0), n_steps, DT, rng)
    surf = SsviSurface(regime_model, SpxSmile())
    fast, ref = _both(run_books, paths.spot, paths.var, paths.vix, surf, MarketSpec(), CondorSpec(), _test_hedges(),
                      vix_tables["markov"], DT, regime=paths.regime, trace=True)
    assert fast.n_condors.sum() > n_paths
    _compare_books(fast, ref)


def test_kernels_are_on_by_default_in_this_process():
    assert fastprice.ENABLED and surface_mod._fast() is fastprice
