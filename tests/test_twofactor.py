"""Tests for models/twofactor/: the central tendency chain, the two-factor model's Q prices, its
parameter rules, and its calibration.

References are independent of the code under test: the CIR drift and variance of the central
tendency (Cox, Ingersoll & Ross 1985) against the chain's generator; Monte Carlo under the model's own
Q dynamics (QE paths, a different method from the chain quadrature) for the futures and the VVIX, in
standard errors; Cboe's discrete VVIX formula (:mod:`alvh.cboe`, tested against the white paper's
strip in tests/test_cboe.py) applied to Monte Carlo VIX option prices; the bundled real futures for the
fitted curve.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import linalg

from alvh.cboe import strip_terms, vix_index
from alvh.models.heston import VIX_TAU
from alvh.models.twofactor import (
    N_LEVELS,
    TwoFactorModel,
    VVIX_STEPS,
    central_tendency_chain,
    model_vvix,
    q_expectations,
)

pytestmark = pytest.mark.filterwarnings("ignore::alvh.models.heston.FellerConditionWarning")

H = 1.0 / 252.0
# The order of magnitude calibrate_two_factor finds on 2008-2024 futures / VVIX (docs/pages/models.md).
PARAMS = dict(kappa=8.5, sigma=0.45, rho=-0.70, mu=0.10, lam=-4.0, kappa_m=0.9, theta_m=0.026, sigma_m=0.18,
              beta=0.54, lam_v=0.97, jump_min_v=0.036, mu_v=0.023, mu_s=-0.027, rho_j=-0.13, sigma_s=0.01)


def _model(**kw) -> TwoFactorModel:
    return TwoFactorModel(**{**PARAMS, **kw})


def test_chain_generator_matches_the_cir_drift_and_variance_at_interior_levels():
    """The generator's first two local moments are CIR's: kappa_m (theta_m - m) and sigma_m^2 m."""
    km, th, sm, n = 0.8, 0.04, 0.25, 7
    levels, p = central_tendency_chain(km, th, sm, n, h=H)
    gen = linalg.logm(p).real / H
    for i in range(1, n - 1):
        d = levels - levels[i]
        drift, var = gen[i] @ d, gen[i] @ d**2
        assert drift == pytest.approx(km * (th - levels[i]), rel=1e-6, abs=1e-9)
        if gen[i, i - 1] > 1e-12 and gen[i, i + 1] > 1e-12:   # no rate floored at zero
            assert var == pytest.approx(sm**2 * levels[i], rel=1e-6)
    assert np.allclose(p.sum(axis=1), 1.0) and (p >= 0).all()
    # the levels are the stationary gamma law's mid-quantiles: their mean is near theta_m
    assert np.mean(levels) == pytest.approx(th, rel=0.05)


def test_chain_refuses_bad_parameters():
    for bad in (dict(kappa_m=0.0), dict(theta_m=-1.0), dict(sigma_m=float("nan"))):
        args = {**dict(kappa_m=0.8, theta_m=0.04, sigma_m=0.25), **bad}
        with pytest.raises(ValueError, match="must be finite and > 0"):
            central_tendency_chain(**args)
    with pytest.raises(ValueError, match="n_levels"):
        central_tendency_chain(0.8, 0.04, 0.25, n_levels=1)


def test_model_is_the_regime_model_with_theta_on_the_levels_and_round_trips():
    m = _model()
    assert m.n_regimes == N_LEVELS
    assert np.allclose(m.theta, m.levels)
    # Heston 1993 eq. 6 per level, one kappa_Q
    assert np.allclose(m.kappa_q, PARAMS["kappa"] + PARAMS["lam"])
    assert np.allclose(m.theta_q, PARAMS["kappa"] * m.levels / (PARAMS["kappa"] + PARAMS["lam"]))
    # vol of variance rises with the level by the elasticity beta
    assert np.allclose(m.sigma, PARAMS["sigma"] * (m.levels / PARAMS["theta_m"]) ** PARAMS["beta"])
    back = TwoFactorModel.from_dict(m.to_dict())
    assert back.to_dict() == m.to_dict()
    assert np.array_equal(back.transition, m.transition)
    with pytest.raises(ValueError, match="need 'theta_m'"):
        TwoFactorModel.from_dict({k: v for k, v in m.to_dict().items() if k != "theta_m"})
    with pytest.raises(ValueError, match="beta"):
        _model(beta=7.0)
    with pytest.raises(ValueError, match="rho"):
        _model(rho=1.5)


def _q_mc(model, level, var, steps, n_paths, seed):
    """VIX at ``steps`` days along QE paths of the model's Q dynamics from one state (level, var)."""
    from alvh.models.base import State

    qm = model.q_model()
    rng = np.random.default_rng(seed)
    st = State(np.full(n_paths, 100.0), np.full(n_paths, float(var)), np.full(n_paths, level, np.int8))
    paths = qm.simulate(st, steps, H, rng)
    return paths.vix[:, -1]


@pytest.mark.parametrize("level,vix0", [(1, 13.0), (3, 20.0), (5, 40.0)])
def test_futures_and_vvix_match_monte_carlo_under_q(level, vix0):
    """The chain quadrature's futures at 21 and 84 days and its VVIX agree with Monte Carlo of the Q
    dynamics within 4 standard errors plus the chain's stated grid error (0.05 VIX points)."""
    m = _model()
    var = float(m.var_from_vix(np.array([vix0]), np.array([level]))[0])
    q = q_expectations(m, 84)
    n = 40_000
    for steps in (VVIX_STEPS, 84):
        x = _q_mc(m, level, var, steps, n, seed=steps + level)
        se = x.std(ddof=1) / math.sqrt(n)
        f = float(q.at(q.mean_vix, level, var, steps))
        assert abs(f - x.mean()) < 4 * se + 0.05, (steps, f, x.mean(), se)
    x = _q_mc(m, level, var, VVIX_STEPS, n, seed=99 + level)
    t = VVIX_STEPS * H
    # the same functional on the Monte Carlo sample; its SE by the delta method over paths
    lf, el = math.log(x.mean()), np.log(x).mean()
    vv_mc = 100.0 * math.sqrt(2.0 * (lf - el) / t)
    g = (x / x.mean() - np.log(x))          # influence of each path on 2 (ln F - E ln X)
    se_vv = 100.0 / (2.0 * math.sqrt(2.0 * (lf - el) / t)) * 2.0 / t * g.std(ddof=1) / math.sqrt(n)
    vv = float(model_vvix(q, level, var))
    assert abs(vv - vv_mc) < 4 * se_vv + 1.0, (vv, vv_mc, se_vv)


def test_the_log_contract_form_of_model_vvix_is_cboes_strip_formula():
    """The identity :func:`model_vvix` rests on: Cboe's discrete VVIX on Monte Carlo VIX option prices
    at 0.5-point strikes equals the continuum form ``2 (ln F - E ln VIX_T) / T`` on the same sample
    (the sum is its quadrature; DDKZ 1999 eq. 26). :func:`model_vvix` itself is checked against Monte
    Carlo in the test above."""
    m = _model()
    var = float(m.var_from_vix(np.array([16.0]), np.array([2]))[0])
    x = _q_mc(m, 2, var, VVIX_STEPS, 100_000, seed=7)
    t = VVIX_STEPS * H
    strikes = np.arange(max(0.5, math.floor(x.min()) - 0.5), math.ceil(x.max()) + 1.0, 0.5)
    calls = np.maximum(x[None, :] - strikes[:, None], 0.0).mean(axis=1)
    puts = np.maximum(strikes[:, None] - x[None, :], 0.0).mean(axis=1)
    cboe = vix_index(strip_terms(strikes, calls, puts, rate=0.0, tau=t))
    continuum = 100.0 * math.sqrt(2.0 * (math.log(x.mean()) - np.log(x).mean()) / t)
    assert cboe == pytest.approx(continuum, abs=0.5)
    assert 40.0 < continuum < 200.0          # a VVIX, not a variance or a fraction


def test_vix_coefficients_match_the_continuous_double_mean_reverting_mean():
    """With a slow chain (kappa_m small) the 30-day VIX^2 from a level is close to the continuous
    central tendency model's: E[v_s] = m' + (v - m') exp(-kappa_Q s) when m barely moves in 30 days,
    with m' = theta_Q + lam_v E[J] / kappa_Q (the jumps' drift), plus the SPX jumps' 2 lam_v E[e^Z - 1 - Z]."""
    m = _model(kappa_m=0.05, sigma_m=0.02)
    v = 0.03
    jump_drift = PARAMS["lam_v"] * (PARAMS["jump_min_v"] + PARAMS["mu_v"])
    for r in range(m.n_regimes):
        kq = m.kappa_q[r]
        th = m.theta_q[r] + jump_drift / kq
        exact = th + (v - th) * (1 - math.exp(-kq * VIX_TAU)) / (kq * VIX_TAU)
        exact += 2 * PARAMS["lam_v"] * m.spx_jump_moments()[2]          # the SPX jumps' share
        assert m.vix_a[r] * v + m.vix_b[r] == pytest.approx(exact, rel=2e-3)


def test_the_replay_prices_each_real_day_in_its_level():
    """HistoricalReplay carries the levels the model reads off the real data, and the variance that
    gives the real VIX in that level (models/replay.py, sim/runner/ replay)."""
    from alvh.models.replay import HistoricalReplay
    from alvh.realdata import load

    m = _model()
    both = pd.concat([load("spx").frame["CLOSE"], load("vix").frame["CLOSE"]], axis=1, join="inner").loc["2007-06-01":"2009-06-30"]
    rp = HistoricalReplay(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy(), both.index.values, m)
    paths = rp.simulate(rp.initial_state(0.0, 1), len(both) - 1, H)
    levels = m.real_levels(both.index.values, both.iloc[:, 1].to_numpy())
    assert np.array_equal(paths.regime[0], levels) and len(set(levels)) > 2
    assert np.allclose(m.vix(paths.var[0], paths.regime[0]), both.iloc[:, 1].to_numpy(), rtol=1e-10)


def test_variance_jumps_are_the_exceedances_of_the_daily_vix2_rise():
    """Peaks over threshold on a made-up series with three known jumps: rate per year below the cap,
    the threshold, and the mean excess."""
    from alvh.models.twofactor import variance_jumps

    vix = np.full(253, 15.0)
    vix[50], vix[120], vix[200] = 25.0, 30.0, 22.0           # rises of VIX^2: 0.04, 0.0675, 0.0259
    vix[201] = 45.0                                           # from 22, rise 0.154
    vix[202] = 60.0                                           # from 45 (above the cap of 30): not counted
    rate, jmin, excess = variance_jumps(vix, threshold=0.03, below=30.0)
    rises = np.array([0.25**2 - 0.15**2, 0.30**2 - 0.15**2, 0.45**2 - 0.22**2])
    calm_days = np.sum(vix[:-1] < 30.0)
    assert rate == pytest.approx(3 / (calm_days / 252.0))
    assert jmin == 0.03 and excess == pytest.approx(np.mean(rises - 0.03))


def test_jumps_reach_the_paths_at_their_rate():
    """Under P with almost no diffusion of the variance the only moves above the QE noise are the jumps: their
    count per path-year is Poisson(lam_v) (mean within 4 SE) and each is at least jump_min_v."""
    m = _model(sigma=1e-4, lam_v=3.0)
    st = m.initial_state(100.0, 4000, var0=0.03, regime0=2)
    paths = m.simulate(st, 252, H, np.random.default_rng(5))
    dv = np.diff(paths.var, axis=1)
    jumps = dv > 0.5 * PARAMS["jump_min_v"]
    per_path = jumps.sum(axis=1)
    assert abs(per_path.mean() - 3.0) < 4 * math.sqrt(3.0 / 4000)
    # each at least jump_min_v, less the day's mean reversion (kappa v dt, v up to about 0.3 here)
    assert dv[jumps].min() > PARAMS["jump_min_v"] - PARAMS["kappa"] * paths.var.max() / 252


@pytest.mark.slow
def test_calibration_fits_the_real_futures_curve_by_bucket():
    """The fitted model's futures M1..M7 are within 1.0 vol point of the real bucket means for VIX up
    to 30 and its VVIX within 12 points for VIX up to 20 (the scorecard's tolerances; real data: the
    bundled Cboe futures and VVIX, 2008-2024)."""
    from alvh.scorecard import q_rows, real_p_window

    real = real_p_window()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from alvh.models.twofactor import calibrate_two_factor
        model, fit = calibrate_two_factor(real["spx"].to_numpy(), real["vix"].to_numpy(), real.index.values)
    assert fit.converged
    rows = q_rows("two_factor", model)
    fut = [r for r in rows if r["statistic"].startswith("futures") and r["bucket"] != ">30"]
    assert len(fut) == 28 and all(r["pass"] for r in fut), [r for r in fut if not r["pass"]]
    vv = [r for r in rows if r["statistic"] == "vvix" and r["bucket"] != ">30"]
    assert len(vv) == 4 and all(r["pass"] for r in vv), vv
    # P: the stationary mean of v is the window's realised variance (the default P target)
    realised = float(np.mean(np.diff(np.log(real["spx"].to_numpy())) ** 2)) * 252
    # (with the SPX jumps' share of realised variance, lam_v E[Z^2])
    assert model.long_run_var + model.lam_v * model.spx_jump_moments()[1] == pytest.approx(realised, rel=1e-6)


def test_real_levels_read_the_vix6m_where_it_exists_and_the_slow_mean_before():
    """The replay's level of a real day: the VIX6M filter from 2008 (checked against filter_levels on the
    bundled VIX6M), and before it the level whose year-long VIX^2 is nearest the slow mean of the VIX^2."""
    from alvh.models.twofactor import filter_levels
    from alvh.realdata import load

    from alvh.models.regimes import regime_integral_coefficients
    from alvh.models.twofactor import VIX6M_TAU

    m = _model()
    vix = load("vix").frame["CLOSE"].loc["2006-01-03":"2009-12-31"]
    got = m.real_levels(vix.index.values, vix.to_numpy())
    assert got.dtype == np.int8 and got.shape == vix.shape
    six = load("vix6m").frame["CLOSE"]
    later = vix.index >= six.index[0]
    # by hand on a few days: each level's variance from the VIX, its VIX6M from the expected integrated
    # variance over 186 days (the Q mean of v reverting to theta_Q + lam_v E[J] / kappa_Q), the nearest
    theta_mean = m.theta_q + PARAMS["lam_v"] * (PARAMS["jump_min_v"] + PARAMS["mu_v"]) / m.kappa_q
    a6, b6 = regime_integral_coefficients(VIX6M_TAU, m.kappa_q, theta_mean, m.transition)
    a30, b30 = regime_integral_coefficients(VIX_TAU, m.kappa_q, theta_mean, m.transition)
    z2, convex = m.spx_jump_moments()[1], m.spx_jump_moments()[2]
    for day in ("2008-01-02", "2008-10-24", "2009-06-15", "2009-12-31"):
        x, y = vix.loc[day], six.loc[day]
        # the VIX holds 2 lam E[e^Z - 1 - Z] of SPX jumps; the filter's VIX6M their lam E[Z^2]
        v = (((x / 100) ** 2 - 2 * PARAMS["lam_v"] * convex) * VIX_TAU - b30) / a30
        model6 = 100 * np.sqrt((a6 * v + b6) / VIX6M_TAU + PARAMS["lam_v"] * z2)
        assert got[vix.index.get_loc(day)] == int(np.argmin(np.abs(model6 - y))), day
    assert np.array_equal(got[later], filter_levels(m, vix[later].to_numpy(), six.reindex(vix.index[later]).to_numpy())[0])
    # before the VIX6M: the slow mean of VIX^2 puts calm 2006 in the lower half, and the level rises
    # through the 2007 turmoil
    early = got[~later]
    assert np.median(early[vix.index[~later] < "2007-01-01"]) <= 2
    assert early[-1] > np.median(early[vix.index[~later] < "2007-01-01"])


def test_spx_jump_moments_and_the_vix_share_of_the_jumps_match_a_sample_of_jumps():
    """E[Z], E[Z^2], E[e^Z - 1 - Z] in closed form (exponential MGF) against 10^6 drawn jumps, in SEs;
    and the model VIX^2 exceeds the integrated variance by 2 lam_v E[e^Z - 1 - Z] (Cboe's VIX of a
    jump-diffusion; Carr & Wu 2009, eq. 4)."""
    m = _model()
    rng = np.random.default_rng(11)
    n = 1_000_000
    j = PARAMS["jump_min_v"] + rng.exponential(PARAMS["mu_v"], n)
    z = PARAMS["mu_s"] + PARAMS["rho_j"] * j + PARAMS["sigma_s"] * rng.standard_normal(n)
    mean, second, convex, mgf1 = m.spx_jump_moments()
    for got, sample in ((mean, z), (second, z**2), (convex, np.expm1(z) - z), (mgf1, np.expm1(z))):
        assert abs(got - sample.mean()) < 4 * sample.std() / math.sqrt(n)
    plain = _model(mu_s=0.0, rho_j=0.0, sigma_s=0.0)       # same variance jumps, no SPX jump
    v = np.array([0.01, 0.04, 0.2])
    for r in (0, 3, 5):
        diff = (m.vix(v, np.full(3, r)) / 100) ** 2 - (plain.vix(v, np.full(3, r)) / 100) ** 2
        assert np.allclose(diff, 2 * PARAMS["lam_v"] * convex, rtol=1e-12)


def test_spx_stays_a_martingale_at_its_drift_with_the_jumps():
    """E[S_T] = S_0 exp(mu T) under P with the co-jumps compensated, within 4 SE (one year, daily)."""
    m = _model(lam_v=4.0)
    n = 40_000
    st = m.initial_state(100.0, n, var0=0.03, regime0=2)
    paths = m.simulate(st, 252, H, np.random.default_rng(21))
    s_t = paths.spot[:, -1]
    expected = 100.0 * math.exp(PARAMS["mu"] * 252 * H)
    assert abs(s_t.mean() - expected) < 4 * s_t.std() / math.sqrt(n)
    jumped = np.diff(paths.var, axis=1) > 0.5 * PARAMS["jump_min_v"]
    r = np.diff(np.log(paths.spot), axis=1)
    # the SPX falls when the variance jumps (by mu_s + rho_j E[J] = -3.5% on average), not otherwise
    expected_jump = PARAMS["mu_s"] + PARAMS["rho_j"] * (PARAMS["jump_min_v"] + PARAMS["mu_v"])
    assert abs(r[jumped].mean() - expected_jump) < 0.005 and abs(r[~jumped].mean()) < 0.002


def test_spx_co_jumps_recover_a_known_relation():
    """Least squares on made-up jump days: r = -0.02 - 0.2 dVIX^2 exactly on the jump days."""
    from alvh.models.twofactor import spx_co_jumps

    rng = np.random.default_rng(2)
    n = 3000
    vix = np.full(n, 14.0)
    spx = np.empty(n)
    spx[0] = 1000.0
    r = rng.normal(0.0, 1e-6, n - 1)
    for i in range(100, n - 1, 150):                  # a jump day, then back to 14 the next day
        vix[i + 1] = 14.0 + 6.0 + (i % 7)
        rise = (vix[i + 1] / 100) ** 2 - (vix[i] / 100) ** 2
        r[i] = -0.02 - 0.2 * rise
    spx[1:] = 1000.0 * np.exp(np.cumsum(r))
    mu_s, rho2, sigma_s = spx_co_jumps(spx, vix, threshold=0.01)
    assert mu_s == pytest.approx(-0.02, abs=1e-4) and rho2 == pytest.approx(-0.2, abs=2e-3) and sigma_s == 0.0


def test_a_calm_window_calibrates_without_spx_co_jumps_and_the_units_hold():
    """2012-2016 has fewer than 5 jump days: the fit keeps its variance jumps but no SPX co-jump (it used
    to raise). And the co-jump slope converts from VIX^2 units to variance units by the model's own VIX
    coefficient: an SPX move of rho2 per unit of VIX^2 rise is rho_j = rho2 a per unit of variance."""
    from alvh.models.twofactor import _q_model, calibrate_two_factor, variance_jumps
    from alvh.scorecard import real_p_window

    real = real_p_window("2012-01-03", "2016-12-30")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, fit = calibrate_two_factor(real["spx"].to_numpy(), real["vix"].to_numpy(), real.index.values,
                                          max_nfev=1)
    assert model.mu_s == model.rho_j == model.sigma_s == 0.0
    assert model.lam_v == pytest.approx(variance_jumps(real["vix"].to_numpy())[0])
    m = _q_model(np.log([4.5, 0.5, 0.9, 0.05, 0.25]).tolist() + [0.6], (1.0, 0.03, 0.02), (-0.02, -0.2, 0.0))
    a = float(m.vix_a[0])                       # the regime model's own 30-day coefficient
    j_v = 0.05                                  # a jump in variance is a rise of a j_v in VIX^2
    assert m.rho_j * j_v == pytest.approx(-0.2 * a * j_v, rel=2e-3)


def test_the_pricers_chain_matches_the_exact_affine_laplace_transform_of_vix2():
    """E_Q[exp(-u VIX_T^2)] by the Markov chain the VIX futures, options and VVIX are priced on
    (alvh.models.twofactor.q_chain: CIR quadrature split onto a grid, the level chain, the jump
    branch) against the exact exponential-affine transform (vix2_laplace: the CIR transform of Cox,
    Ingersoll & Ross 1985, eq. 19, composed day by day with the level chain and the jumps). The
    chain's error must be under a tenth of the jumps' effect and of the level's effect on the same
    transform, so a lost jump term, a wrong level or a missing factor would fail."""
    from alvh.models.twofactor import TwoFactorModel, q_chain, vix2_laplace

    args = (8.0, 0.6, -0.7, 0.05, -4.0, 0.5, 0.04, 0.15, 0.0)
    model = TwoFactorModel(*args, lam_v=3.0, jump_min_v=0.01, mu_v=0.03)
    plain = TwoFactorModel(*args)
    grid, chain = q_chain(model, 200, 96)
    n, nr = grid.size, model.n_regimes
    a, b = np.asarray(model.vix_a), np.asarray(model.vix_b)
    checked = 0
    for u in (5.0, 10.0, 30.0):
        g = np.concatenate([np.exp(-u * (a[r] * grid + b[r])) for r in range(nr)])
        k = 0
        for steps in (1, 21, 126):
            while k < steps:
                g = chain @ g
                k += 1
            for lev in (0, 3, 5):
                i = int(np.searchsorted(100.0 * np.sqrt(a[lev] * grid + b[lev]), 18.0))   # VIX near 18
                exact = vix2_laplace(model, u, steps, lev, grid[i])
                err = abs(g[lev * n + i] - exact)
                if steps == 1:                   # one day: only the quadrature and the split
                    assert err < 1e-4, (u, lev)
                    continue
                jumps = abs(exact - vix2_laplace(plain, u, steps, lev, grid[i]))
                levels = abs(exact - vix2_laplace(model, u, steps, 5 - lev if lev != 3 else 0, grid[i]))
                assert err < 0.1 * min(jumps, levels), (u, steps, lev, err, jumps, levels)
                checked += 1
    assert checked == 18
    # the transform at 0 days is exp(-u VIX^2) itself; it is 1 at u = 0
    v = grid[100]
    assert vix2_laplace(model, 7.0, 0, 2, v) == pytest.approx(np.exp(-7.0 * (a[2] * v + b[2])), rel=1e-14)
    assert vix2_laplace(model, 0.0, 50, 2, v) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ValueError, match="beta"):
        vix2_laplace(TwoFactorModel(*args[:-1], 0.5), 1.0, 5, 0, v)
