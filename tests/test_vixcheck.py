"""Tests for sim/vixcheck/ and the models' q_model(): VIX pricing tables against Monte Carlo under Q,
and the model VIX futures term structure (contango on calm days).

Fast tests use small hand-made models. Slow tests use the calibrated models of the bundled
scenarios: read from ``$ALVH_PARAMS_DIR/<type>.json`` (default ``reports/params``, written by
``alvh calibrate``) when present, otherwise calibrated once per test session (about 26 s for the
five models), and one 63-step VIX table per model shared by all tests (so the term-structure test
uses futures months 1-3; sim/vixcheck's default is 1-6).

Tolerances. Heston and Bates tables are exact CIR-law expectations, so the table and the Monte Carlo
must agree within 4 standard errors (plus 1e-4 points, the floor for options worthless on every
path). The Markov-chain tables (SVCJ, GJR-GARCH, regime Heston) must agree within
``max(4 SE, tol)`` with ``tol`` the chain's documented accuracy under Heston (sim/pricing/,
MarkovVixTable: 0.015 VIX points for futures, 0.01 for calls, spot VIX 12-60, up to 62 steps).
Cases that miss are marked ``xfail(strict=True)`` with the measured error in the reason; the
tolerances were not widened to make them pass. All random numbers are seeded (SPEC 7), so the
outcomes are deterministic for given parameters.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from alvh.models.base import PathModel, State
from alvh.models.garch import GjrGarchModel
from alvh.models.heston import FellerConditionWarning, HestonModel, HestonParams, vix_futures_exact
from alvh.models.jumps import BatesModel, SvcjModel
from alvh.models.regimes import RegimeSwitchingModel
from alvh.pricing import make_vix_table
from alvh.vixcheck import futures_term_structure, q_first_moments, vix_table_vs_mc

ROOT = Path(__file__).resolve().parents[1]
PARAMS_DIR = Path(os.environ.get("ALVH_PARAMS_DIR", ROOT / "reports" / "params"))
DT = 1.0 / 252.0
RATE = 0.02
#: Scenario holding each model type.
SCENARIO = {"heston": "heston_2014_2018", "bates": "bates", "svcj": "svcj", "gjr_garch": "gjr_garch",
            "regime_heston": "regime_heston"}
#: The chain's documented accuracy under Heston (sim/pricing/, MarkovVixTable), VIX points.
CHAIN_TOL = {"futures": 0.015, "call": 0.01}
#: Absolute floor (VIX points) for options worthless on every simulated path (MC standard error 0).
FLOOR = 1e-4


# ------------------------------------------------------------------------------------------------
# hand-made models (fast tests)
# ------------------------------------------------------------------------------------------------
def _hp(**kw) -> HestonParams:
    base = dict(v0=0.03, kappa=3.0, theta=0.03, sigma=0.6, rho=-0.7, mu=0.05, lam=-1.5)
    base.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        return HestonParams(**base)


def _small_models() -> dict[str, PathModel]:
    return {
        "heston": HestonModel(_hp()),
        "bates": BatesModel(_hp(), lam_j=2.0, mu_j=-0.04, sigma_j=0.05, lam_j_q=3.0, mu_j_q=-0.06, sigma_j_q=0.06),
        "svcj": SvcjModel(_hp(theta=0.02), lam_j=2.0, mu_s=-0.03, sigma_s=0.04, mu_v=0.03, rho_j=-0.5,
                          lam_j_q=3.0, mu_v_q=0.04),
        "gjr_garch": GjrGarchModel(mu=0.03, omega=0.02, alpha=0.02, gamma=0.15, beta=0.88, eta=8.0, lambda_=-0.1,
                                   vrp=1.2),
        "regime_heston": RegimeSwitchingModel([_hp(theta=0.015, sigma=0.4, lam=-1.0), _hp(theta=0.06, lam=-2.0)],
                                              [[0.98, 0.02], [0.05, 0.95]]),
    }


@pytest.mark.parametrize("name", list(_small_models()))
def test_q_model_is_the_models_q_side(name):
    model = _small_models()[name]
    q = model.q_model(drift=0.01)
    x = np.array([0.0, 0.004, 0.04, 0.3, 2.0])
    for r in range(model.n_regimes):
        rr = np.full(x.shape, r)
        np.testing.assert_array_equal(q.vix(x, rr), model.vix(x, rr))
        xa, wa = model.q_step(x, DT, r)
        xb, wb = q.q_step(x, DT, r)
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(q.regime_transition(DT), model.regime_transition(DT))
    # its Q side is its P side: taking Q again changes nothing
    assert q.q_model(drift=0.01).to_dict() == q.to_dict()
    paths = q.simulate(q.initial_state(100.0, 8), 3, DT, np.random.default_rng(0))
    assert paths.var.shape == (8, 4) and np.all(paths.var >= 0)


def test_q_model_parameters():
    m = _small_models()
    h = m["heston"].q_model(0.01).params
    p = m["heston"].params
    assert (h.kappa, h.theta, h.sigma, h.rho, h.lam, h.mu) == (p.kappa_q, p.theta_q, p.sigma, p.rho, 0.0, 0.01)
    b = m["bates"].q_model()
    assert (b.lam_j, b.mu_j, b.sigma_j) == (3.0, -0.06, 0.06) and b.params.kappa == m["bates"].params.kappa_q
    s = m["svcj"].q_model()
    assert (s.lam_j, s.mu_v) == (3.0, 0.04) and s.lam_j_q == 3.0 and s.params.lam == 0.0
    g = m["gjr_garch"].q_model(0.0252)
    assert g.mu == pytest.approx(0.01) and g.vrp == 1.2 and g.gamma == 0.15
    r = m["regime_heston"].q_model()
    np.testing.assert_array_equal(r.kappa, m["regime_heston"].kappa_q)
    np.testing.assert_array_equal(r.transition, m["regime_heston"].transition)


def test_q_model_not_defined_raises():
    from alvh.models.replay import HistoricalReplay

    replay = HistoricalReplay(np.array([100.0, 101.0]), np.array([15.0, 16.0]),
                              np.array(["2018-01-02", "2018-01-03"], dtype="datetime64[D]"), HestonModel(_hp()))
    with pytest.raises(NotImplementedError, match="q_model"):
        replay.q_model()


def test_q_first_moments_heston_closed_form_and_identical_regimes():
    m = _small_models()["heston"]
    p = m.params
    steps = [0, 1, 21, 63]
    mom, prob = q_first_moments(m, 0.09, 0, steps)
    exact = p.theta_q + (0.09 - p.theta_q) * np.exp(-p.kappa_q * np.array(steps) * DT)
    np.testing.assert_allclose(mom[:, 0], exact, rtol=1e-12)
    np.testing.assert_array_equal(prob, 1.0)
    reg = RegimeSwitchingModel([p, p], [[0.9, 0.1], [0.3, 0.7]])
    mom2, prob2 = q_first_moments(reg, 0.09, 1, steps)
    np.testing.assert_allclose(mom2.sum(axis=1), exact, rtol=1e-9)
    np.testing.assert_allclose(prob2.sum(axis=1), 1.0, rtol=1e-12)


def test_table_vs_mc_small_heston():
    model = _small_models()["heston"]
    floor = float(model.vix(np.zeros(1))[0])
    ds = vix_table_vs_mc(model, levels=(floor - 1.0, 18.0, 30.0), expiries=(8, 3), n_paths=20_000, seed=5,
                         chunk_size=7_000)
    assert ds.attrs["table"] == "VixOptionTable" and ds.attrs["control_variate"].startswith("VIX_T^2")
    assert ds.expiry.values.tolist() == [3, 8]
    assert not bool(ds.reachable.sel(level=floor - 1.0)) and np.isnan(ds.futures_mc.sel(level=floor - 1.0)).all()
    ok = ds.sel(level=[18.0, 30.0])
    for kind in ("futures", "call"):
        d, se = ok[f"{kind}_diff"].values, ok[f"{kind}_se"].values
        assert np.all(np.abs(d) <= 4.0 * se + FLOOR), (kind, d, se)
        assert np.all(ok[f"{kind}_se"] <= ok[f"{kind}_se_plain"] + 1e-15)
    assert np.all(np.abs(ok.vix2_z) < 4.0)
    assert np.all(ok.strike == np.rint(ok.strike)) and ok.call_table.attrs["units"] == "VIX points"
    for v in ds.data_vars:
        assert "units" in ds[v].attrs, v


def test_table_vs_mc_input_errors():
    model = _small_models()["heston"]
    with pytest.raises(ValueError, match="expiries"):
        vix_table_vs_mc(model, expiries=(0, 5), n_paths=10)
    table = make_vix_table(model, DT, 3, RATE)
    with pytest.raises(ValueError, match="table covers"):
        vix_table_vs_mc(model, expiries=(5,), n_paths=10, table=table)
    with pytest.raises(ValueError, match="months"):
        futures_term_structure(model, months=(2, 3), table=table)


def test_term_structure_small_garch():
    model = _small_models()["gjr_garch"]
    ds = futures_term_structure(model, months=(1, 2, 3), n_paths=200, n_days=80, burn=50, seed=3)
    assert ds.attrs["calm_threshold"] > 0 and ds.month.values.tolist() == [1, 2, 3]
    assert ds.day_share.sel(subset="calm") == pytest.approx(0.5, abs=0.01)
    for v in ("contango_share", "upward_share"):
        assert 0.0 <= float(ds[v].sel(subset="all")) <= 1.0
    assert np.all(ds.slope_se > 0) and ds.slope.attrs["units"] == "VIX points per month"
    ds20 = futures_term_structure(model, months=(1, 2), n_paths=50, n_days=30, burn=0, calm=20.0)
    assert ds20.attrs["calm_threshold"] == 20.0


# ------------------------------------------------------------------------------------------------
# calibrated models (slow tests)
# ------------------------------------------------------------------------------------------------
_MODELS: dict[str, PathModel] = {}
_TABLES: dict[str, object] = {}
_CHECKS: dict[tuple[str, float], object] = {}


def calibrated(mtype: str) -> PathModel:
    """The scenario's calibrated model (parameter file if present, else calibrated once per session)."""
    if mtype not in _MODELS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = PARAMS_DIR / f"{mtype}.json"
            if f.exists():
                from alvh.modelspec import read_params

                model = read_params(f, mtype)[0]
            else:
                from alvh.config import load_scenario
                from alvh.data import load_market_data
                from alvh.modelspec import build_model

                sc = load_scenario(ROOT / "scenarios" / f"{SCENARIO[mtype]}.toml")
                model = build_model(sc, load_market_data(sc.data, sc.name, sc.path.parent), DT)[0]
        _MODELS[mtype] = model
    return _MODELS[mtype]


TABLE_STEPS = 63


def table(mtype: str):
    """One VIX table per model, 63 steps (three futures months), shared by every slow test."""
    if mtype not in _TABLES:
        _TABLES[mtype] = make_vix_table(calibrated(mtype), DT, TABLE_STEPS, RATE)
    return _TABLES[mtype]


#: Paths per start state in the slow tests (the regime model has up to three start states per level).
#: SVCJ gets more paths: at 50k its chain errors sit at about 4 SE (pass or fail by the seed), at 200k at 6-9 SE.
N_PATHS = {"heston": 50_000, "bates": 50_000, "svcj": 200_000, "gjr_garch": 50_000, "regime_heston": 20_000}
EXPIRIES = (5, 21, 63)


def check(mtype: str, level: float):
    key = (mtype, level)
    if key not in _CHECKS:
        _CHECKS[key] = vix_table_vs_mc(calibrated(mtype), levels=(level,), expiries=EXPIRIES,
                                       n_paths=N_PATHS[mtype], seed=20260101, table=table(mtype))
    return _CHECKS[key]


def _misses(ds, mtype):
    """Cases outside the tolerance, as dicts (kind, coordinates, table - MC, its standard error)."""
    exact = mtype in ("heston", "bates")
    out = []
    for kind in ("futures", "call"):
        d, se = ds[f"{kind}_diff"], ds[f"{kind}_se"]
        tol = 4.0 * se + FLOOR if exact else np.maximum(4.0 * se, CHAIN_TOL[kind]) + FLOOR
        bad = (np.abs(d) > tol).values & np.isfinite(d.values)
        for idx in zip(*np.nonzero(bad)):
            coords = {dim: d[dim].values[i].item() for dim, i in zip(d.dims, idx)}
            out.append({"kind": kind, **coords, "diff": round(float(d.values[idx]), 4),
                        "se": round(float(se.values[idx]), 4)})
    return out


LEVELS = (12.0, 16.0, 25.0, 40.0, 60.0)
_XFAIL = {
    # Measured with the settings of this file (N_PATHS, EXPIRIES, seed 20260101): "low"/"high" is table vs MC.
    # Near-threshold cases (within ~1 SE of the rule) are listed in the reasons; 200k-path runs agree.
    ("heston", 60.0): "5-day future: table - MC = +0.0060 +- 0.0011 points (5.4 SE); the exact quadrature "
                      "vix_futures_exact gives table - exact = +0.0069: the CIR table's own discretisation error "
                      "(inside its documented 0.02 up to VIX 80), not a Monte Carlo error",
    ("svcj", 12.0): "chain future low by 0.0235 +- 0.0041 points at 63 days, ATM/+20% calls high by 0.014-0.017 "
                    "at 21-63 days (4-7 SE, above the 0.015/0.01 tolerances)",
    ("svcj", 16.0): "chain futures low by 0.0185 +- 0.0023 (21 d) and 0.0385 +- 0.0043 (63 d) points, calls high "
                    "by 0.012-0.030 (up to 9 SE)",
    ("svcj", 25.0): "chain futures low by 0.0163 +- 0.0021 (21 d) and 0.0303 +- 0.0045 (63 d) points, calls high "
                    "by 0.015-0.028 (up to 9 SE)",
    ("svcj", 40.0): "chain future low by 0.0300 +- 0.0039 points at 63 days, calls high by 0.011-0.032 (up to 7.6 SE)",
    ("svcj", 60.0): "chain future low by 0.0219 +- 0.0030 points at 63 days, ATM calls high by 0.015-0.037 "
                    "(up to 7.6 SE)",
    ("regime_heston", 40.0): "calm regime, 5-day ATM call (K = 39): table - MC = +0.0295 +- 0.0061 points (4.8 SE, "
                             "tolerance 0.01); 200k paths: +0.0159 +- 0.0020 (8 SE)",
}


def _level_cases():
    out = []
    for mtype in SCENARIO:
        for lev in LEVELS:
            reason = _XFAIL.get((mtype, lev))
            marks = [pytest.mark.slow] + ([pytest.mark.xfail(strict=True, reason=reason)] if reason else [])
            out.append(pytest.param(mtype, lev, marks=marks, id=f"{mtype}-{lev:g}"))
    return out


@pytest.mark.parametrize("mtype, level", _level_cases())
def test_table_vs_monte_carlo_under_q(mtype, level):
    ds = check(mtype, level)
    assert ds.reachable.any()
    assert ds.attrs["table"] == ("VixOptionTable" if mtype in ("heston", "bates") else "MarkovVixTable")
    # the control variate's exact mean agrees with the simulation (NaN where no control variate is used)
    z = ds.vix2_z.values
    assert np.all(np.abs(z[np.isfinite(z)]) < 4.5)
    misses = _misses(ds, mtype)
    assert not misses, misses


@pytest.mark.slow
@pytest.mark.parametrize("level, expiry", [(12.0, 63), (60.0, 5), (60.0, 63)])
def test_heston_monte_carlo_matches_exact_quadrature(level, expiry):
    # an independent check of q_model() and the Monte Carlo, where the table is off by its own discretisation
    model = calibrated("heston")
    ds = check("heston", level)
    v0 = float(ds.var0.sel(level=level).values[0])
    exact = vix_futures_exact(v0, expiry * DT, model.params)
    mc = ds.futures_mc.sel(level=level, expiry=expiry).values[0]
    se = ds.futures_se.sel(level=level, expiry=expiry).values[0]
    assert abs(mc - exact) <= 4.0 * se, (mc, exact, se)


_CONTANGO: dict[str, object] = {}


@pytest.mark.slow
@pytest.mark.parametrize("mtype", list(SCENARIO))
def test_contango_on_calm_days(mtype):
    if mtype not in _CONTANGO:
        _CONTANGO[mtype] = futures_term_structure(calibrated(mtype), months=(1, 2, 3), n_paths=500, n_days=252,
                                                  burn=252, seed=20260102, table=table(mtype))
    ds = _CONTANGO[mtype].sel(subset="calm")
    assert float(ds.slope) > 3.0 * float(ds.slope_se), (float(ds.slope), float(ds.slope_se))
    assert float(ds.contango_share) > 0.5 and float(ds.roll_yield) > 0.0
    assert math.isfinite(float(ds.futures_return_1m))
