"""Tests for models/regimes/: the Markov-modulated Heston model and its calibration.

References are computed independently of the code under test: the stationary law by numpy's
eigen-decomposition, the regime-switching integrated variance by enumerating regime paths with
scipy quadrature of the CIR mean, the Q-expectation behind the VIX by an exact-CIR Monte Carlo
written here (numpy's noncentral chi-square sampler), statsmodels' own transition matrix and
durations, and synthetic chains with known matrices. Monte Carlo comparisons are in standard errors.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from alvh.models.base import State
from alvh.models.heston import VIX_TAU, FellerConditionWarning, HestonModel, HestonParams, cir_quantile_step
from alvh.models.regimes import (
    RegimeSwitchingModel,
    calibrate_regimes,
    fit_regime_chain,
    regime_integral_coefficients,
    stationary_distribution,
)

pytestmark = pytest.mark.filterwarnings("ignore::alvh.models.heston.FellerConditionWarning")

H = 1.0 / 252.0

# An asymmetric chain with short durations (many transitions per test), rows sum to 1.
P3 = np.array([[0.95, 0.04, 0.01],
               [0.10, 0.85, 0.05],
               [0.02, 0.18, 0.80]])

# Calibration-like regime parameters (the order of magnitude calibrate_regimes finds on
# 1999-2018 SPX / 2014-2018 VIX): common kappa, rho, lam; theta per regime; sigma ~ sqrt(theta).
THETA = (0.0076, 0.034, 0.18)
SIGMA = (0.44, 0.94, 2.15)
MU = (0.23, -0.04, -0.31)
KAPPA, RHO, LAM = 11.0, -0.74, -7.5


def _params(theta=THETA, sigma=SIGMA, mu=MU, kappa=KAPPA, rho=RHO, lam=LAM, v0=0.02):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        return [HestonParams(v0=v0, kappa=kappa, theta=t, sigma=s, rho=rho, mu=m, lam=lam)
                for t, s, m in zip(theta, sigma, mu)]


def _model(transition=P3, **kw):
    return RegimeSwitchingModel(_params(**kw), transition)


def _stationary_eig(p):
    """Left Perron eigenvector of P (independent of stationary_distribution's least squares)."""
    w, vec = np.linalg.eig(p.T)
    x = np.real(vec[:, np.argmin(np.abs(w - 1.0))])
    return x / x.sum()


# ---------------------------------------------------------------------------- the regime chain
def test_simulated_chain_matches_transition_matrix_and_stationary_law():
    """Empirical transition frequencies n_ij / n_i within 4 binomial SE of P_ij, and occupation
    frequencies (from a stationary start) within 4 SE of the stationary law."""
    m = _model()
    rng = np.random.default_rng(11)
    n_paths, n_steps = 4000, 250
    state = m.stationary_state(100.0, n_paths, rng)
    paths = m.simulate(state, n_steps, H, rng)
    reg = paths.regime.astype(int)
    frm, to = reg[:, :-1].ravel(), reg[:, 1:].ravel()
    counts = np.zeros((3, 3))
    np.add.at(counts, (frm, to), 1.0)
    n_i = counts.sum(axis=1, keepdims=True)
    freq = counts / n_i
    se = np.sqrt(P3 * (1.0 - P3) / n_i)  # binomial SE (transitions from i are independent given i)
    assert np.all(np.abs(freq - P3) <= 4.0 * se + 1e-12), (freq, P3, se)
    # occupation: per-path fractions are independent across paths
    pi = _stationary_eig(P3)
    occ = np.stack([(reg == j).mean(axis=1) for j in range(3)], axis=1)
    occ_se = occ.std(axis=0, ddof=1) / math.sqrt(n_paths)
    assert np.all(np.abs(occ.mean(axis=0) - pi) <= 4.0 * occ_se), (occ.mean(axis=0), pi, occ_se)
    # the least-squares stationary law equals the eigenvector one
    np.testing.assert_allclose(stationary_distribution(P3), pi, atol=1e-12)
    np.testing.assert_allclose(m.stationary_probabilities, pi, atol=1e-12)


def test_initial_column_is_state0_exactly_and_given_regime_paths_are_used():
    m = _model()
    rng = np.random.default_rng(3)
    s0 = State(np.array([4000.0, 2718.28, 1.0]), np.array([0.0, 0.04, 0.3]), np.array([2, 0, 1], np.int8))
    p = m.simulate(s0, 5, H, rng)
    assert np.array_equal(p.spot[:, 0], s0.spot)
    assert np.array_equal(p.var[:, 0], s0.var)
    assert np.array_equal(p.regime[:, 0], s0.regime)
    assert p.regime.dtype == np.int8 and p.spot.shape == (3, 6)
    np.testing.assert_allclose(p.vix, m.vix(p.var, p.regime))
    # a scripted regime path replaces the chain
    script = np.array([0, 2, 2, 1, 0])
    q = m.simulate(s0, 5, H, np.random.default_rng(3), regimes=script)
    assert np.array_equal(q.regime[:, 1:], np.broadcast_to(script, (3, 5)))
    assert np.array_equal(q.regime[:, 0], s0.regime)
    # the default initial state pairs v0 with regime0
    m2 = RegimeSwitchingModel(_params(), P3, v0=0.05, regime0=2)
    st = m2.initial_state(100.0, 4)
    assert np.all(st.var == 0.05) and np.all(st.regime == 2)


def test_stationary_state_draws_regimes_and_gamma_variances():
    m = _model()
    n = 60000
    st = m.stationary_state(100.0, n, np.random.default_rng(5))
    pi = _stationary_eig(P3)
    freq = np.bincount(st.regime, minlength=3) / n
    assert np.all(np.abs(freq - pi) <= 4.0 * np.sqrt(pi * (1 - pi) / n))
    for j in range(3):
        v = st.var[st.regime == j]
        # stationary CIR mean is theta (Cox, Ingersoll & Ross 1985, eq. 20: Gamma law, mean theta)
        assert abs(v.mean() - THETA[j]) <= 4.0 * v.std(ddof=1) / math.sqrt(v.size)
    assert np.all(st.spot == 100.0)


# ---------------------------------------------------------------------------- nesting Heston
def test_identical_regimes_reproduce_heston_exactly():
    """With the same parameters in every regime the model is Heston: same draws, same paths (the variance
    bit for bit; the price to 1e-12, since Heston runs the compiled QE kernel, which agrees with the
    numpy QE step to ~1e-14 relative: tests/test_kernels.py)."""
    (p,) = _params(theta=(0.0177,), sigma=(0.68,), mu=(0.076,), lam=-9.8)
    heston = HestonModel(p)
    m = RegimeSwitchingModel([p, p, p], P3)
    s0 = State(np.full(500, 2500.0), np.full(500, 0.03), np.zeros(500, np.int8))
    a = m.simulate(s0, 300, H, np.random.default_rng(42))
    b = heston.simulate(s0, 300, H, np.random.default_rng(42))
    np.testing.assert_allclose(a.spot, b.spot, rtol=1e-12, atol=0.0)
    np.testing.assert_allclose(a.var, b.var, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(a.vix, b.vix, rtol=1e-12)  # Heston VIX (Zhang & Zhu 2006, eq. 6)
    v = np.linspace(0.0, 0.3, 7)
    for r in range(3):
        np.testing.assert_allclose(m.vix(v, np.full(7, r)), heston.vix(v), rtol=1e-12)
        tau = np.array([0.0, 0.3 * H, H, 7.5 * H, 0.5, 2.0])
        np.testing.assert_allclose(m.atm_total_variance(0.05, tau, r), heston.atm_total_variance(0.05, tau),
                                   rtol=1e-11, atol=1e-15)
    assert m.cir_q() == pytest.approx(heston.cir_q())
    assert _model().cir_q() is None


# ---------------------------------------------------------------------------- Q expectations
def _enumerated_integral(v, r0, tau, kappa, theta, p):
    """E[int_0^tau v_s ds | v, r0] by enumerating every regime path over the steps of the window.

    Regime of step k drawn at its start from row r_{k-1} of P (Hamilton 1989 chain); within the step
    the variance mean is theta_j + (m - theta_j) exp(-kappa_j s) (Cox, Ingersoll & Ross 1985,
    eq. 19), integrated by scipy quadrature.
    """
    n_full = int(math.floor(tau / H + 1e-9))
    lengths = [H] * n_full + ([tau - n_full * H] if tau - n_full * H > 1e-14 else [])
    total = 0.0
    for path in itertools.product(range(len(theta)), repeat=len(lengths)):
        prob, prev, m, acc = 1.0, r0, v, 0.0
        for j, ln in zip(path, lengths):
            prob *= p[prev, j]
            th, k = theta[j], kappa[j]
            acc += integrate.quad(lambda s: th + (m - th) * math.exp(-k * s), 0.0, ln, epsabs=1e-15)[0]
            m = th + (m - th) * math.exp(-k * ln)
            prev = j
        total += prob * acc
    return total


@pytest.mark.parametrize("tau_steps", [1.0, 3.0, 3.4])
def test_integral_recursion_matches_path_enumeration(tau_steps):
    p = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.05, 0.45, 0.5]])
    kappa = np.array([2.0, 9.0, 30.0])
    theta = np.array([0.01, 0.05, 0.3])
    tau = tau_steps * H
    a, b = regime_integral_coefficients(tau, kappa, theta, p)
    for r0 in range(3):
        for v in (0.0, 0.08):
            ref = _enumerated_integral(v, r0, tau, kappa, theta, p)
            assert a[r0] * v + b[r0] == pytest.approx(ref, rel=1e-10, abs=1e-16)


def _q_monte_carlo_vix2(m, v0, r0, n_paths, sub, rng):
    """(1/tau) int_0^tau v ds under Q by exact CIR sampling on sub-steps (Cox, Ingersoll & Ross 1985,
    eq. 18: scaled noncentral chi-square; Andersen 2008, eq. 8), the regime drawn at the start of
    each day from the chain, trapezoid rule on the sub-grid. Returns per-path values."""
    n_full = int(math.floor(VIX_TAU / H))
    lengths = [H] * n_full + [VIX_TAU - n_full * H]
    cum = np.cumsum(m.transition, axis=1)
    reg = np.full(n_paths, r0)
    v = np.full(n_paths, float(v0))
    acc = np.zeros(n_paths)
    for ln in lengths:
        reg = (rng.random(n_paths)[:, None] > cum[reg]).sum(axis=1)
        k, th, sg = m.kappa_q[reg], m.theta_q[reg], m.sigma[reg]
        d = ln / sub
        for _ in range(sub):
            c = sg**2 * -np.expm1(-k * d) / (4.0 * k)
            df = 4.0 * k * th / sg**2
            nc = v * np.exp(-k * d) / c
            v_new = c * rng.noncentral_chisquare(df, np.maximum(nc, 1e-300))
            acc += 0.5 * (v + v_new) * d
            v = v_new
    return acc / VIX_TAU


def test_affine_vix_matches_q_monte_carlo_for_each_starting_regime():
    """VIX^2 = E_Q[(1/tau) int v ds | v, r] (the definition) against an independent Monte Carlo."""
    m = _model()
    rng = np.random.default_rng(2024)
    v0 = 0.03
    for r0 in range(3):
        x = _q_monte_carlo_vix2(m, v0, r0, 12000, 4, rng)
        model_v2 = (float(m.vix(v0, r0)) / 100.0) ** 2
        se = x.std(ddof=1) / math.sqrt(x.size)
        assert abs(x.mean() - model_v2) < 4.0 * se, (r0, x.mean(), model_v2, se)
    # the regimes matter: the crisis VIX exceeds the calm VIX at the same variance
    assert m.vix(v0, 2) > m.vix(v0, 1) > m.vix(v0, 0)


def test_vix_inverse_atm_variance_and_q_step():
    m = _model()
    v = np.array([0.0, 0.01, 0.04, 0.2])
    reg = np.array([0, 1, 2, 1])
    x = m.vix(v, reg)
    np.testing.assert_allclose(m.var_from_vix(x, reg), v, atol=1e-14)
    assert np.all(m.var_from_vix(np.array([1.0, 1.0, 1.0]), np.array([0, 1, 2])) == 0.0)  # floored
    # atm_total_variance over the VIX horizon is VIX^2 tau; broadcasting of tau against var
    np.testing.assert_allclose(m.atm_total_variance(v, VIX_TAU, reg), (x / 100.0) ** 2 * VIX_TAU, rtol=1e-12)
    tau = np.array([[0.0], [H], [0.25]])
    out = m.atm_total_variance(v, tau, reg)
    assert out.shape == (3, 4) and np.all(out[0] == 0.0)
    # continuous in tau across a step boundary
    e = 1e-9
    lo, hi = m.atm_total_variance(0.04, 5 * H - e, 1), m.atm_total_variance(0.04, 5 * H + e, 1)
    assert abs(hi - lo) < 1e-9
    # q_step is the exact CIR step with the regime's Q parameters
    nodes = np.array([0.01, 0.05])
    got, w = m.q_step(nodes, H, regime=2, m=64)
    ref, wr = cir_quantile_step(nodes, H, m.kappa_q[2], m.theta_q[2], m.sigma[2], 64)
    np.testing.assert_array_equal(got, ref)
    assert w.sum() == pytest.approx(1.0)
    # Q parameters: Heston (1993), eq. 6
    np.testing.assert_allclose(m.kappa_q, KAPPA + LAM)
    np.testing.assert_allclose(m.theta_q, KAPPA * np.array(THETA) / (KAPPA + LAM))


def test_regime_transition_per_step_and_dt_rules():
    m = _model()
    np.testing.assert_array_equal(m.regime_transition(H), P3)
    np.testing.assert_allclose(m.regime_transition(5 * H), np.linalg.matrix_power(P3, 5))
    with pytest.raises(ValueError, match="trading day"):
        m.regime_transition(1.0 / 365.0)
    s0 = m.initial_state(100.0, 3)
    with pytest.raises(ValueError, match="1/252"):
        m.simulate(s0, 5, 1.0 / 365.0, np.random.default_rng(0))
    bad = State(np.ones(2), np.ones(2) * 0.02, np.array([0, 3], np.int8))
    with pytest.raises(ValueError, match="regime"):
        m.simulate(bad, 5, H, np.random.default_rng(0))


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "matrix, match",
    [
        ([[0.9, 0.1, 0.0], [0.5, 0.6, 0.0], [0.0, 0.1, 0.9]], r"row-stochastic.*row 1"),   # row sum 1.1
        ([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [-0.1, 0.2, 0.9]], r"row-stochastic.*row 2"),  # negative
        ([[1.0 + 1e-9, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], r"row-stochastic.*row 0"),
        ([[0.9, 0.1], [0.2, 0.8]], r"shape \(3, 3\)"),
        ([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]], r"shape \(3, 3\)"),
    ],
)
def test_bad_transition_matrices_are_refused(matrix, match):
    with pytest.raises(ValueError, match=match):
        RegimeSwitchingModel(_params(), matrix)


def test_rows_summing_to_one_within_tolerance_are_accepted():
    p = P3.copy()
    p[0, 0] += 5e-11
    RegimeSwitchingModel(_params(), p)


def test_bad_regime_parameters_are_refused_and_feller_only_warns():
    d = _model().to_dict()
    with pytest.raises(ValueError, match="rho"):
        RegimeSwitchingModel.from_dict({**d, "rho": [-0.5, 1.0, -0.5]})
    with pytest.raises(ValueError, match="rho"):
        RegimeSwitchingModel.from_dict({**d, "rho": -1.2})
    with pytest.raises(ValueError, match="theta"):
        RegimeSwitchingModel.from_dict({**d, "theta": [0.01, -0.02, 0.1]})
    with pytest.raises(ValueError, match="one value per regime"):
        RegimeSwitchingModel.from_dict({**d, "sigma": [0.5, 0.5]})
    with pytest.raises(ValueError, match="regime_names"):
        RegimeSwitchingModel(_params(), P3, ("a", "b"))
    # Feller violated in the crisis regime: 2 * 11 * 0.18 = 3.96 < 2.15^2 * 1.5^2 -> warning only
    with pytest.warns(FellerConditionWarning):
        m = RegimeSwitchingModel.from_dict({**d, "sigma": [0.44, 0.94, 2.15 * 1.5]})
    assert m.n_regimes == 3


def test_to_dict_round_trip_is_json_ready():
    m = _model()
    d = json.loads(json.dumps(m.to_dict()))
    m2 = RegimeSwitchingModel.from_dict(d)
    assert m2.to_dict() == m.to_dict()
    assert m2.regime_names == ("calm", "stressed", "crisis")
    np.testing.assert_array_equal(m2.vix_b, m.vix_b)
    assert "transition" in m.summary()


# ---------------------------------------------------------------------------- estimation
def _synthetic_prices(p, means, sds, n, seed):
    """Prices whose percent log returns follow a known Markov-switching model (Hamilton 1989)."""
    rng = np.random.default_rng(seed)
    cum = np.cumsum(p, axis=1)
    s = np.empty(n, int)
    s[0] = 0
    u = rng.random(n)
    for t in range(1, n):
        s[t] = int((u[t] > cum[s[t - 1]]).sum())
    r = np.asarray(means)[s] + np.asarray(sds)[s] * rng.standard_normal(n)
    idx = pd.bdate_range("2000-01-03", periods=n + 1)
    return pd.Series(100.0 * np.exp(np.r_[0.0, np.cumsum(r / 100.0)]), index=idx), s


def test_statsmodels_to_from_convention_is_transposed_on_a_synthetic_chain():
    """A known asymmetric 2-regime chain (calm -> stressed 1%, stressed -> calm 4%) is recovered
    within 4 SE; a wrong transpose would put 4% where 1% belongs (about 20 SE away)."""
    p = np.array([[0.99, 0.01], [0.04, 0.96]])
    prices, _ = _synthetic_prices(p, [0.05, -0.10], [0.7, 2.0], 6000, seed=7)
    fit = fit_regime_chain(prices, 2)
    assert fit.regime_names == ("calm", "stressed")
    assert np.all(np.abs(fit.transition - p) <= 4.0 * fit.transition_se), (fit.transition, fit.transition_se)
    assert np.all(np.abs(np.sqrt(fit.variance) - [0.7, 2.0]) < 0.1)
    np.testing.assert_allclose(fit.transition.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(fit.expected_durations, 1.0 / (1.0 - np.diag(fit.transition)))
    assert fit.smoothed_probabilities.index[0] == prices.index[1]


@pytest.mark.slow
def test_three_regime_synthetic_chain_is_recovered():
    p = np.array([[0.985, 0.014, 0.001], [0.02, 0.97, 0.01], [0.002, 0.048, 0.95]])
    prices, s = _synthetic_prices(p, [0.06, 0.0, -0.2], [0.55, 1.2, 3.0], 9000, seed=3)
    fit = fit_regime_chain(prices, 3)
    # statsmodels' Hessian SEs collapse for a probability estimated near 0 (calm -> crisis here), so
    # the tolerance also admits 4 binomial SEs of the infeasible estimator that sees the true chain
    n_i = np.bincount(s[:-1], minlength=3)[:, None]
    tol = 4.0 * np.maximum(fit.transition_se, np.sqrt(p * (1.0 - p) / n_i))
    assert np.all(np.abs(fit.transition - p) <= tol), (fit.transition, tol)
    # the smoothed most likely regime agrees with the true one on most days
    assert np.mean(fit.most_likely.to_numpy() == s) > 0.85


def test_calibration_refuses_bad_arguments():
    x = pd.Series(np.linspace(100, 120, 100), index=pd.bdate_range("2015-01-01", periods=100))
    with pytest.raises(ValueError, match="1/252"):
        calibrate_regimes(x, x / 6, dt=1.0 / 365.0)
    with pytest.raises(ValueError, match="k_regimes"):
        calibrate_regimes(x, x / 6, k_regimes=4)
    with pytest.raises(ValueError, match="dates"):
        calibrate_regimes(x.to_numpy(), x.to_numpy() / 6, regime_spx=x)
    with pytest.raises(ValueError, match="equal length"):
        calibrate_regimes(x, x.iloc[:-1] / 6)
    with pytest.raises(ValueError, match="regime_spx needs dates"):
        calibrate_regimes(x, x / 6, regime_spx=x.to_numpy())
    with pytest.raises(ValueError, match="cover every date"):      # the window's first day has no return
        calibrate_regimes(x, x / 6, regime_spx=(x.index.values, x.to_numpy()))


@pytest.fixture(scope="module")
def real_fit():
    from arch.data import sp500, vix

    spx_long = sp500.load()["Adj Close"]
    joined = pd.concat({"spx": spx_long, "vix": vix.load()["vix"]}, axis=1, join="inner").dropna()
    window = joined.loc["2014-01-01":"2018-12-31"]
    # plain arrays with datetime64 dates and a (dates, closes) long sample, as sim/modelspec.py
    # has them; a dated pandas Series is accepted too
    model, report = calibrate_regimes(
        window["spx"].to_numpy(), window["vix"].to_numpy(), dates=window.index.values,
        regime_spx=(spx_long.index.values.astype("datetime64[D]"), spx_long.to_numpy()))
    return model, report, window


@pytest.mark.slow
def test_real_data_calibration_gives_ordered_regimes_and_statsmodels_matrix(real_fit):
    model, report, window = real_fit
    chain = model.chain_fit
    assert model.regime_names == ("calm", "stressed", "crisis")
    assert model.last_regime == model.regime0 == int(chain.most_likely.loc[window.index[-1]])
    assert np.all(np.diff(model.theta) > 0)                        # ordered by variance
    assert np.all((model.transition >= 0) & (model.transition <= 1))
    np.testing.assert_allclose(model.transition.sum(axis=1), 1.0, atol=1e-10)
    # statsmodels' regime_transition[to, from]: our P[i, j] is its [order[j], order[i]]
    rt = np.asarray(chain.results.regime_transition)[:, :, 0]
    o = chain.order
    for i, j in itertools.product(range(3), range(3)):
        assert model.transition[i, j] == pytest.approx(rt[o[j], o[i]], abs=1e-12)
    np.testing.assert_allclose(chain.expected_durations, np.asarray(chain.results.expected_durations)[o])
    # the report's likelihood and information criteria are statsmodels'
    assert report.loglik == pytest.approx(chain.results.llf)
    assert report.aic == pytest.approx(chain.results.aic)
    assert report.bic == pytest.approx(chain.results.bic)
    assert report.n_obs == 5030 and report.n_params == 12
    assert any("duration" in n for n in report.notes)
    # smoothed probabilities: rows sum to 1; the crisis of October 2008 and the calm of 2017
    # (SPX realized vol ~7% that year, from the same data) are classified as such
    probs = chain.smoothed_probabilities
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    ml = chain.most_likely
    assert (ml.loc["2008-10"] == 2).mean() > 0.9
    assert (ml.loc["2017"] == 0).mean() > 0.9
    # the premium prices VIX^2 above expected variance: lam < 0, theta_q > theta in every regime
    assert np.all(model.lam < 0) and np.all(model.theta_q > model.theta)
    # the default state reproduces the last observed VIX (when above the regime's floor)
    if model.v0 > 0:
        assert float(model.vix(model.v0, model.regime0)) == pytest.approx(window["vix"].iloc[-1], rel=1e-10)


def test_real_data_premium_matches_mean_vix_squared_on_the_regime_path(real_fit):
    """lam is set so the model's mean VIX^2 along the window's smoothed regime path equals the
    observed mean; replaying that path by simulation must agree within 4 SE."""
    model, _, window = real_fit
    reg = model.chain_fit.most_likely.reindex(window.index).to_numpy()
    n = 200
    st = model.initial_state(100.0, n, var0=model.theta[reg[0]], regime0=int(reg[0]))
    p = model.simulate(st, len(window) - 1, H, np.random.default_rng(99), regimes=reg[1:])
    per_path = ((p.vix / 100.0) ** 2).mean(axis=1)
    target = float(((window["vix"].to_numpy() / 100.0) ** 2).mean())
    se = per_path.std(ddof=1) / math.sqrt(n)
    assert abs(per_path.mean() - target) < 4.0 * se, (per_path.mean(), target, se)
    # and the SPX realized variance of that replay is the window's: within 4 SE plus 5%, since
    # theta_r are the 1999-2018 regime variances, not the window's (measured: 0.0176 vs 0.0176)
    rv = (np.diff(np.log(p.spot), axis=1) ** 2).mean(axis=1) * 252
    real_rv = float((np.diff(np.log(window["spx"].to_numpy())) ** 2).mean() * 252)
    assert abs(rv.mean() - real_rv) < 4.0 * rv.std(ddof=1) / math.sqrt(n) + 0.05 * real_rv
