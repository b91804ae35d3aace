"""Stress overlays and historical replay: scripted moves land exactly, the rest is the model's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from alvh.models.base import Paths
from alvh.models.heston import FellerConditionWarning, HestonModel, HestonParams
from alvh.models.replay import HistoricalReplay
from alvh.models.stress import PRESETS, Shock, apply_shock, event_intensity, preset_shock, simulate_with_overlays

DT = 1.0 / 252.0
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FellerConditionWarning)
    # the baseline calibration (README), rounded
    MODEL = HestonModel(HestonParams(v0=0.03, kappa=11.0, theta=0.0177, sigma=0.68, rho=-0.74, mu=0.076, lam=-9.8))


def _real():
    from alvh.data import load_series

    s, v = load_series("arch:sp500", "spx", "test"), load_series("arch:vix", "vix", "test")
    return s.index.values, s.to_numpy(), v.index.values, v.to_numpy()


def test_shock_moves_spx_and_vix_by_exactly_the_scripted_amounts():
    rng = np.random.default_rng(1)
    state0 = MODEL.initial_state(2500.0, 500)
    shock = Shock(day=10, spx_return=-0.041, vix_multiplier=2.16)
    p = simulate_with_overlays(MODEL, state0, 30, DT, rng, (shock,))
    assert p.spot.shape == (500, 31)
    np.testing.assert_allclose(p.spot[:, 10] / p.spot[:, 9], 1.0 - 0.041, rtol=1e-14)
    np.testing.assert_allclose(p.vix[:, 10] / p.vix[:, 9], 2.16, rtol=1e-12)
    # before and after the shock the model moves: day 9 -> 10 is the only scripted step
    assert np.std(p.spot[:, 11] / p.spot[:, 10]) > 1e-4


def test_overlay_without_shocks_is_the_model_itself():
    state0 = MODEL.initial_state(2500.0, 64)
    a = simulate_with_overlays(MODEL, state0, 20, DT, np.random.default_rng(5))
    b = MODEL.simulate(state0, 20, DT, np.random.default_rng(5))
    assert np.array_equal(a.spot, b.spot) and np.array_equal(a.var, b.var)


def test_two_shocks_and_a_shock_on_day_one():
    state0 = MODEL.initial_state(2500.0, 50)
    shocks = (Shock(day=1, spx_return=-0.2, vix_multiplier=4.13), Shock(day=5, spx_return=0.05, vix_multiplier=0.8))
    p = simulate_with_overlays(MODEL, state0, 8, DT, np.random.default_rng(2), shocks)
    np.testing.assert_allclose(p.spot[:, 1], 2500.0 * 0.8, rtol=1e-14)
    np.testing.assert_allclose(p.vix[:, 1], MODEL.vix(state0.var) * 4.13, rtol=1e-12)
    np.testing.assert_allclose(p.spot[:, 5] / p.spot[:, 4], 1.05, rtol=1e-14)
    np.testing.assert_allclose(p.vix[:, 5] / p.vix[:, 4], 0.8, rtol=1e-12)


def test_var_jump_adds_to_the_variance():
    st = MODEL.initial_state(100.0, 3, var0=0.02)
    out = apply_shock(MODEL, st, Shock(day=1, spx_return=0.0, var_jump=0.05))
    np.testing.assert_allclose(out.var, 0.07, rtol=1e-12)


def test_forced_regime_moves_the_vix_exactly_in_the_new_regime():
    from alvh.models.regimes import RegimeSwitchingModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        calm = HestonParams(v0=0.01, kappa=5.0, theta=0.01, sigma=0.3, rho=-0.7, mu=0.05, lam=-2.0)
        crisis = HestonParams(v0=0.1, kappa=5.0, theta=0.15, sigma=1.2, rho=-0.7, mu=-0.2, lam=-2.0)
        model = RegimeSwitchingModel([calm, crisis], [[0.98, 0.02], [0.05, 0.95]])
    st = model.initial_state(100.0, 4, var0=0.02, regime0=0)
    vix_before = model.vix(st.var, st.regime)
    out = apply_shock(model, st, Shock(day=1, spx_return=-0.1, vix_multiplier=3.0, regime=1))
    assert np.all(out.regime == 1)
    np.testing.assert_allclose(model.vix(out.var, out.regime), 3.0 * vix_before, rtol=1e-12)
    # the crisis regime's VIX floor differs from the calm one's, so keeping the old regime would miss
    assert not np.allclose(model.vix(out.var, st.regime), 3.0 * vix_before, rtol=1e-6)


def test_preset_2018_02_05_is_measured_from_the_bundled_data():
    shock = preset_shock("2018-02-05", 3, *_real())
    # DESIGN.md, from the bundled series: SPX -4.1%, VIX +116% that day
    assert shock.spx_return == pytest.approx(-0.041, abs=5e-4)
    assert shock.vix_multiplier == pytest.approx(2.16, abs=5e-3)


def test_preset_2008_uses_cited_vix_and_bundled_spx():
    shock = preset_shock("2008-10-15", 3, *_real())
    # S&P 500 fell 9.03% on 2008-10-15 (S&P Dow Jones Indices); VIX 55.13 -> 69.25 (CBOE)
    assert shock.spx_return == pytest.approx(-0.0903, abs=1e-3)
    assert shock.vix_multiplier == pytest.approx(69.25 / 55.13)


def test_presets_listed_and_unknown_refused():
    assert {"2018-02-05", "2008-10-15", "1987-10-19"} <= set(PRESETS)
    with pytest.raises(ValueError, match="unknown stress preset"):
        preset_shock("2020-03-16", 1)
    with pytest.raises(ValueError, match="needs the VIX series"):
        preset_shock("2018-02-05", 1, *_real()[:2])


@pytest.mark.parametrize("kwargs, rule", [
    (dict(day=0, spx_return=-0.1), "day"),
    (dict(day=1, spx_return=-1.0), "spx_return"),
    (dict(day=1, spx_return=0.0, vix_multiplier=0.0), "vix_multiplier"),
    (dict(day=1, spx_return=0.0, var_jump=-0.1), "var_jump"),
])
def test_bad_shocks_refused(kwargs, rule):
    with pytest.raises(ValueError, match=rule):
        Shock(**kwargs)


def test_overlay_refuses_repeated_or_late_days():
    st = MODEL.initial_state(100.0, 2)
    with pytest.raises(ValueError, match="distinct"):
        simulate_with_overlays(MODEL, st, 5, DT, np.random.default_rng(0), (Shock(2, 0.0), Shock(2, 0.1)))
    with pytest.raises(ValueError, match="within 1..5"):
        simulate_with_overlays(MODEL, st, 5, DT, np.random.default_rng(0), (Shock(6, 0.0),))


def test_event_calendar():
    x = event_intensity(100, every_days=30, multiplier=4.0, first_day=10)
    assert list(np.flatnonzero(x != 1.0)) == [9, 39, 69, 99]
    assert np.all(x[x != 1.0] == 4.0)


def test_replay_is_the_real_path_priced_by_its_model():
    sd, sv, vd, vv = _real()
    days = np.intersect1d(sd, vd)[:60]
    spx, vix = sv[np.searchsorted(sd, days)], vv[np.searchsorted(vd, days)]
    rep = HistoricalReplay(spx, vix, days, MODEL)
    p = rep.simulate(rep.initial_state(0.0, 1), 59, DT)
    assert isinstance(p, Paths) and p.spot.shape == (1, 60)
    assert np.array_equal(p.spot[0], spx) and np.array_equal(p.vix[0], vix)
    # the variance state reproduces the real VIX through the pricing model's own VIX formula
    np.testing.assert_allclose(MODEL.vix(p.var[0]), vix, rtol=1e-12)
    with pytest.raises(ValueError, match="holds 59 steps"):
        rep.simulate(rep.initial_state(0.0, 1), 60, DT)
