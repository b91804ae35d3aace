"""Tests for models/garch/: skew-t helpers, the vectorised GJR recursion, the fit, VIX, q_step.

References are computed independently of the code under test: ``arch``'s own implementation
(bashtage/arch 8.x: ``SkewStudent``, ``GARCH(p=1, o=1, q=1).simulate``, ``ConstantMean.simulate``,
``arch_model(...).fit``), scipy quadrature over ``arch``'s density, or Monte Carlo averages compared
in standard errors. Each reference formula's source is named where it is used.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from arch.univariate import GARCH, ConstantMean, SkewStudent
from scipy import integrate, stats

from alvh.models.base import State
from alvh.models.garch import (
    GjrGarchModel,
    calibrate_gjr_garch,
    fit_gjr_garch,
    gjr_filter,
    simulate_gjr,
    skewt_cdf,
    skewt_lower_moment,
    skewt_pdf,
    skewt_ppf,
    skewt_rvs,
)

DT = 1.0 / 252.0
# A parameter set near daily-SPX fits (cf. the 1999-2018 arch fit: omega 0.015, gamma 0.19,
# beta 0.90, eta 8.1, lambda -0.13) but with a stronger skew, so that E[z^2 1{z<0}] = 0.59 is far
# from the symmetric 1/2 and the exact persistence (0.9588) differs from arch's
# alpha + beta + gamma/2 (0.945).
P_SKEW = dict(mu=0.03, omega=0.02, alpha=0.02, gamma=0.15, beta=0.85, eta=8.0, lambda_=-0.3, vrp=1.2)
# Milder set used for the parameter-recovery test.
P_TRUE = dict(mu=0.04, omega=0.02, alpha=0.02, gamma=0.15, beta=0.85, eta=7.0, lambda_=-0.1)
SHAPES = [(5.7, -0.13), (8.1, 0.3), (2.5, -0.9), (30.0, 0.0)]


def _arch_pdf(z, eta, lam):
    """Density from arch's skew-t log-likelihood with unit variance (Hansen 1994)."""
    z = np.atleast_1d(np.asarray(z, dtype=float))
    return np.exp(SkewStudent().loglikelihood([eta, lam], z, np.ones_like(z), individual=True))


@pytest.fixture(scope="module")
def real_data():
    """2014-01-03 .. 2018-12-31 SPX and VIX closes shipped with arch (as sim/data.py loads them)."""
    import arch.data.sp500
    import arch.data.vix

    spx = arch.data.sp500.load()["Adj Close"]
    vix = arch.data.vix.load()["vix"]
    joined = pd.concat({"spx": spx, "vix": vix}, axis=1, join="inner").loc["2014-01-03":"2018-12-31"]
    return spx, joined


@pytest.fixture(scope="module")
def real_fit(real_data):
    _, j = real_data
    return calibrate_gjr_garch(j["spx"].to_numpy(), j["vix"].to_numpy(), start="2014-01-03", end="2018-12-31")


# ------------------------------------------------------------------------------ skew-t helpers
@pytest.mark.parametrize("eta,lam", SHAPES)
def test_skewt_matches_arch(eta, lam):
    """ppf, cdf, pdf and lower partial moments equal arch.univariate.SkewStudent's."""
    d = SkewStudent()
    u = np.linspace(0.001, 0.999, 97)
    np.testing.assert_allclose(skewt_ppf(u, eta, lam), d.ppf(u, [eta, lam]), rtol=1e-12, atol=1e-12)
    z = np.linspace(-6.0, 6.0, 41)
    np.testing.assert_allclose(skewt_cdf(z, eta, lam), d.cdf(z, [eta, lam]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(skewt_pdf(z, eta, lam), _arch_pdf(z, eta, lam), rtol=1e-12)
    for n in (0, 1, 2):
        for c in (-2.0, -0.3, 0.0, 0.4, 3.0):
            assert float(skewt_lower_moment(n, c, eta, lam)) == pytest.approx(
                d.partial_moment(n, c, [eta, lam]), rel=1e-10, abs=1e-13)
    # standardisation (Hansen 1994: mean 0, variance 1) at c = +inf
    assert float(skewt_lower_moment(0, np.inf, eta, lam)) == pytest.approx(1.0, abs=1e-12)
    assert float(skewt_lower_moment(1, np.inf, eta, lam)) == pytest.approx(0.0, abs=1e-12)
    assert float(skewt_lower_moment(2, np.inf, eta, lam)) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("eta,lam", [(5.7, -0.13), (8.0, -0.3), (30.0, 0.0)])
def test_kappa_minus_by_quadrature(eta, lam):
    """E[z^2 1{z<0}] = int_{-inf}^0 z^2 f(z) dz with f from arch's log-likelihood (scipy quad)."""
    ref, _ = integrate.quad(lambda z: z * z * _arch_pdf(z, eta, lam)[0], -np.inf, 0.0, epsabs=1e-13, limit=200)
    assert float(skewt_lower_moment(2, 0.0, eta, lam)) == pytest.approx(ref, rel=1e-8)
    if lam == 0.0:
        assert ref == pytest.approx(0.5, rel=1e-8)  # symmetric t: half the unit variance


def test_skewt_rvs_law():
    """The fast two-piece sampler has the law of the quantile transform: KS test and moments."""
    eta, lam = 5.7, -0.13
    z = skewt_rvs(eta, lam, 40_000, np.random.default_rng(11))
    ks = stats.kstest(z, lambda x: skewt_cdf(x, eta, lam))
    assert ks.pvalue > 1e-3
    n = z.size
    assert abs(z.mean()) < 4.0 * z.std() / math.sqrt(n)
    # variance 1 within 4 SE; SE of the sample variance from the sample 4th moment
    assert abs(z.var() - 1.0) < 4.0 * math.sqrt((np.mean(z**4) - 1.0) / n)


# ------------------------------------------------------------------------------ recursion vs arch
def test_simulate_gjr_equals_arch_garch_simulate():
    """Same draws through arch's GARCH(p=1, o=1, q=1).simulate (burn=0, rng a callable)."""
    p = P_SKEW
    rng = np.random.default_rng(3)
    z = skewt_rvs(p["eta"], p["lambda_"], (5, 400), rng)
    h0 = np.array([0.3, 1.0, 2.5, 0.05, 7.0])
    r, h = simulate_gjr(p["mu"], p["omega"], p["alpha"], p["gamma"], p["beta"], h0, z)
    assert r.shape == (5, 400) and h.shape == (5, 401)
    vol = GARCH(p=1, o=1, q=1)
    for i in range(5):
        data, sigma2 = vol.simulate([p["omega"], p["alpha"], p["gamma"], p["beta"]], 400,
                                    lambda n, zi=z[i]: zi[:n], burn=0, initial_value=h0[i])
        np.testing.assert_allclose(h[i, :-1], sigma2, rtol=1e-12)
        np.testing.assert_allclose(r[i] - p["mu"], data, rtol=1e-12, atol=1e-14)
        # the last column is the one-step forecast after the last return (Glosten, Jagannathan & Runkle 1993)
        e = data[-1]
        nxt = p["omega"] + (p["alpha"] + p["gamma"] * (e < 0)) * e * e + p["beta"] * sigma2[-1]
        assert h[i, -1] == pytest.approx(nxt, rel=1e-12)


def test_simulate_gjr_equals_arch_constant_mean_with_skewt():
    """arch's ConstantMean + GARCH(1,1,1) + SkewStudent(seed) against skewt_ppf of the same uniforms."""
    p = P_SKEW
    for seed, h0 in ((1, 0.5), (2, 3.0), (3, 0.1)):
        cm = ConstantMean(volatility=GARCH(p=1, o=1, q=1),
                          distribution=SkewStudent(seed=np.random.default_rng(seed)))
        params = [p["mu"], p["omega"], p["alpha"], p["gamma"], p["beta"], p["eta"], p["lambda_"]]
        sim = cm.simulate(params, 300, burn=0, initial_value_vol=h0)
        # SkewStudent._simulator draws Generator.random(n) and maps it by its ppf
        z = skewt_ppf(np.random.default_rng(seed).random(300), p["eta"], p["lambda_"])
        r, h = simulate_gjr(p["mu"], p["omega"], p["alpha"], p["gamma"], p["beta"], h0, z[None, :])
        np.testing.assert_allclose(r[0], sim["data"].to_numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(np.sqrt(h[0, :-1]), sim["volatility"].to_numpy(), rtol=1e-12)


def test_model_paths_follow_the_recursion():
    """Paths: spot = s0 exp(cumsum r / 100), var = h 252 / 1e4, vix = model.vix(var), state0 kept."""
    m = GjrGarchModel(**P_SKEW)
    rng = np.random.default_rng(5)
    z = skewt_rvs(m.eta, m.lambda_, (4, 50), rng)
    s0 = State(np.array([100.0, 2500.0, 1.0, 3000.0]), np.array([0.01, 0.04, 0.2, 0.0225]), np.zeros(4, np.int8))
    paths = m.paths_from_draws(s0, z)
    r, h = simulate_gjr(m.mu, m.omega, m.alpha, m.gamma, m.beta, s0.var * 1e4 / 252, z)
    np.testing.assert_array_equal(paths.spot[:, 0], s0.spot)
    np.testing.assert_array_equal(paths.var[:, 0], s0.var)
    np.testing.assert_allclose(paths.spot[:, 1:], s0.spot[:, None] * np.exp(np.cumsum(r / 100.0, axis=1)), rtol=1e-12)
    np.testing.assert_allclose(paths.var, h * 252 / 1e4, rtol=1e-12)
    np.testing.assert_allclose(paths.vix, m.vix(paths.var), rtol=1e-14)
    assert not paths.regime.any() and paths.n_steps == 50
    sim = m.simulate(s0, 30, DT, np.random.default_rng(9))
    again = m.simulate(s0, 30, DT, np.random.default_rng(9), intensity=np.full(30, 5.0))
    np.testing.assert_array_equal(sim.spot, again.spot)  # reproducible; intensity ignored (no jumps)
    assert sim.spot.shape == sim.var.shape == sim.vix.shape == sim.regime.shape == (4, 31)


# ------------------------------------------------------------------------------ fitting
def test_real_fit_is_arch_fit(real_data, real_fit):
    """On 2014-2018 SPX the parameters, SEs, log-likelihood, AIC and BIC are arch's own."""
    _, j = real_data
    model, rep = real_fit
    r = 100.0 * np.diff(np.log(j["spx"].to_numpy()))
    ref = arch_model(r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="skewt").fit(disp="off")
    names = {"mu": "mu", "omega": "omega", "alpha": "alpha[1]", "gamma": "gamma[1]", "beta": "beta[1]",
             "eta": "eta", "lambda_": "lambda"}
    for k, v in names.items():
        assert rep.params[k] == pytest.approx(ref.params[v], rel=1e-10, abs=1e-12)
        assert getattr(model, k) == rep.params[k]
        assert rep.stderr[k] == pytest.approx(ref.std_err[v], rel=1e-8, abs=1e-12)
    assert rep.loglik == pytest.approx(ref.loglikelihood, rel=1e-12)
    assert rep.aic == pytest.approx(ref.aic, rel=1e-12) and rep.bic == pytest.approx(ref.bic, rel=1e-12)
    assert rep.n_obs == 1256 and rep.n_params == 7
    assert "Glosten" in rep.method and "Hansen" in rep.method
    # the filter reproduces arch's conditional variances (same recursion, from arch's backcast)
    h = gjr_filter(r, model.mu, model.omega, model.alpha, model.gamma, model.beta, ref.conditional_volatility[0] ** 2)
    np.testing.assert_allclose(h[:-1], ref.conditional_volatility**2, rtol=1e-12)


def test_vrp_matches_mean_vix_squared(real_data, real_fit):
    """vrp makes the mean model VIX^2 on the window equal the mean real VIX^2 (the calibration rule)."""
    _, j = real_data
    model, rep = real_fit
    r = 100.0 * np.diff(np.log(j["spx"].to_numpy()))
    ref = arch_model(r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="skewt").fit(disp="off")
    h = gjr_filter(r, model.mu, model.omega, model.alpha, model.gamma, model.beta, ref.conditional_volatility[0] ** 2)
    vix_model = model.vix(h * 252 / 1e4)
    assert np.mean(vix_model**2) == pytest.approx(np.mean(j["vix"].to_numpy() ** 2), rel=1e-10)
    assert rep.params["vrp"] == model.vrp and math.isnan(rep.stderr["vrp"])


def test_fit_on_long_series_locates_the_window(real_data):
    """fit_spx = 1999-2018: the fit is arch's on the long series; the window's variances come from it."""
    spx, j = real_data
    long = spx.loc[:"2018-12-31"]
    model, rep = calibrate_gjr_garch(j["spx"].to_numpy(), j["vix"].to_numpy(), start="2014-01-03",
                                     end="2018-12-31", fit_spx=long)
    r_long = 100.0 * np.diff(np.log(long.to_numpy()))
    ref = fit_gjr_garch(r_long)
    assert rep.loglik == pytest.approx(ref.loglikelihood, rel=1e-12) and rep.n_obs == r_long.size
    assert "1999-01-04" in rep.sample
    j0 = long.index.get_loc(j.index[0])
    # arch's variances of returns j0.. plus the one-step forecast after 2018-12-31 (Glosten, Jagannathan & Runkle 1993)
    e = r_long[-1] - ref.params["mu"]
    forecast = (ref.params["omega"] + (ref.params["alpha[1]"] + ref.params["gamma[1]"] * (e < 0)) * e * e
                + ref.params["beta[1]"] * ref.conditional_volatility[-1] ** 2)
    h_window = np.append(ref.conditional_volatility**2, forecast)[j0:j0 + len(j)]
    vix_model = model.vix(h_window * 252 / 1e4)
    assert np.mean(vix_model**2) == pytest.approx(np.mean(j["vix"].to_numpy() ** 2), rel=1e-10)
    # a window that is not a block of fit_spx falls back to filtering its own returns, and says so
    _, rep2 = calibrate_gjr_garch(j["spx"].to_numpy() * 1.0000001, j["vix"].to_numpy(), fit_spx=long.to_numpy())
    assert any("not a block" in n for n in rep2.notes)


def test_fit_recovers_known_parameters():
    """6000 simulated days from P_TRUE: every estimate within 3.5 robust SEs; vrp close to the truth."""
    true = GjrGarchModel(**P_TRUE, vrp=1.25)
    rng = np.random.default_rng(2024)
    s0 = State(np.array([1000.0]), np.array([true.default_var0]), np.zeros(1, np.int8))
    paths = true.simulate(s0, 6000, DT, rng)
    spx, vix = paths.spot[0], paths.vix[0]
    model, rep = calibrate_gjr_garch(spx, vix)
    for k, v in P_TRUE.items():
        assert abs(rep.params[k] - v) < 3.5 * rep.stderr[k], (k, rep.params[k], v, rep.stderr[k])
    # VIX generated exactly by the true model with vrp = 1.25; the estimate differs only through the
    # estimated GARCH parameters (hbar above all): over seeds 1..5 and 2024 it ranged 1.135..1.318
    assert model.vrp == pytest.approx(1.25, rel=0.15)


# ------------------------------------------------------------------------------ model VIX
def test_vix_is_the_average_forecast():
    """VIX^2 = vrp 252/1e4 * mean_{k=1..21} E[h_{t+k}], E[h_{t+k}] = hbar + phi^(k-1)(h1 - hbar)."""
    m = GjrGarchModel(**P_SKEW)
    var = np.array([0.0, 0.01, 0.04, 0.3])
    h1 = var * 1e4 / 252
    phi = m.alpha + m.beta + m.gamma * m.kappa_minus
    hbar = m.omega / (1 - phi)
    k = np.arange(1, 22)
    mean_h = (hbar + phi ** (k[None, :] - 1) * (h1[:, None] - hbar)).mean(axis=1)
    np.testing.assert_allclose(m.vix(var), 100 * np.sqrt(m.vrp * mean_h * 252 / 1e4), rtol=1e-13)
    np.testing.assert_allclose(m.var_from_vix(m.vix(var)), var, rtol=1e-10, atol=1e-15)
    _, b = m.vix_coefficients()
    assert float(m.var_from_vix(np.array([0.5 * 100 * math.sqrt(b)]))[0]) == 0.0  # floored below the model's minimum
    assert m.default_var0 == pytest.approx(hbar * 252 / 1e4, rel=1e-14)


def test_forecast_formula_against_monte_carlo():
    """E[h_{t+k} | h_{t+1}] over 21 days: closed form vs the mean of 200,000 simulated paths (in SEs).

    This checks phi = alpha + beta + gamma E[z^2 1{z<0}] with the skew-t's own E[z^2 1{z<0}]: the
    symmetric-rule forecast (gamma/2) is rejected by the same simulation.
    """
    m = GjrGarchModel(**P_SKEW)
    h1 = 4.0 * m.h_bar
    z = skewt_rvs(m.eta, m.lambda_, (200_000, 21), np.random.default_rng(17))
    _, h = simulate_gjr(m.mu, m.omega, m.alpha, m.gamma, m.beta, h1, z)
    sim = h[:, :21]                                   # h_{t+1} .. h_{t+21}
    k = np.arange(1, 22)
    # independent closed form: E[z^2 1{z<0}] by quad over arch's density, then the forecast
    # recursion E[h_{k+1}] = omega + phi E[h_k] iterated (Baillie & Bollerslev 1992 form)
    kappa, _ = integrate.quad(lambda x: x * x * _arch_pdf(x, m.eta, m.lambda_)[0], -np.inf, 0.0, epsabs=1e-13)
    phi = m.alpha + m.beta + m.gamma * kappa
    hbar = m.omega / (1.0 - phi)
    exact = hbar + phi ** (k - 1) * (h1 - hbar)
    np.testing.assert_allclose(m.forecast_h(h1, k), exact, rtol=1e-9)
    # 21-day average (the VIX's horizon): closed form within 4 SE of the simulated mean
    avg = sim.mean(axis=1)
    se_avg = avg.std(ddof=1) / math.sqrt(avg.size)
    assert abs(avg.mean() - exact.mean()) < 4.0 * se_avg
    # each step: h_{k+1} - omega - phi h_k has mean 0 (one-step GJR mean); 4.5 SE over 20 steps
    d = h[:, 1:21] - m.omega - phi * h[:, :20]
    se_d = d.std(axis=0, ddof=1) / math.sqrt(d.shape[0])
    assert np.all(np.abs(d.mean(axis=0)) < 4.5 * se_d)
    phi_sym = m.persistence_symmetric
    hbar_sym = m.omega / (1 - phi_sym)
    sym = (hbar_sym + phi_sym ** (k - 1) * (h1 - hbar_sym)).mean()
    assert abs(avg.mean() - sym) > 10.0 * se_avg


def test_atm_total_variance():
    """vrp * sum_{k=1}^{n} E[h_{t+k}] / 1e4 at integer n; equals VIX^2 tau at tau = 21/252; broadcasts."""
    m = GjrGarchModel(**P_SKEW)
    var = np.array([0.01, 0.05, 0.2])
    h1 = var * 1e4 / 252
    for n in (1, 5, 21, 63, 252):
        ref = m.vrp * m.forecast_h(h1[:, None], np.arange(1, n + 1)[None, :]).sum(axis=1) / 1e4
        np.testing.assert_allclose(m.atm_total_variance(var, n / 252), ref, rtol=1e-12)
    np.testing.assert_allclose(m.atm_total_variance(var, 21 / 252), (m.vix(var) / 100) ** 2 * 21 / 252, rtol=1e-12)
    tau = np.array([[0.0], [0.5 / 252], [1 / 252], [1.5 / 252], [2 / 252]])
    w = m.atm_total_variance(var[None, :], tau)
    assert w.shape == (5, 3) and np.all(w[0] == 0.0) and np.all(np.diff(w, axis=0) > 0)


# ------------------------------------------------------------------------------ q_step
@pytest.mark.parametrize("m_points", [16, 256])
def test_q_step_mean_is_exact(m_points):
    """Quadrature mean of next-day var = omega + phi h (exact one-step mean, Glosten, Jagannathan & Runkle 1993)."""
    m = GjrGarchModel(**P_SKEW)
    x = np.linspace(0.0, 1.5, 40)
    x_next, w = m.q_step(x, DT, m=m_points)
    assert x_next.shape == (40, m_points) and w.shape == (m_points,)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    h = x * 1e4 / 252
    exact = (m.omega + m.persistence * h) * 252 / 1e4
    np.testing.assert_allclose(x_next @ w, exact, rtol=1e-12)
    assert np.all(x_next >= m.omega * 252 / 1e4 * (1 - 1e-12))
    # the vrp does not enter the Q transition of the state (only the price maps)
    other = GjrGarchModel(**{**P_SKEW, "vrp": 2.0})
    np.testing.assert_array_equal(other.q_step(x, DT, m=m_points)[0], x_next)


def test_q_step_prices_match_quadrature():
    """E[VIX] and E[(VIX - K)^+] one day ahead: the 256-point rule vs adaptive quadrature.

    VIX payoffs of next-day variance are what :class:`alvh.pricing.MarkovVixTable` builds from
    ``q_step``. Reference: ``int_0^1 payoff(VIX(x_next(F^{-1}(u)))) du`` by scipy ``quad`` in
    probability space, split at ``F(0)`` where the GJR news impact has its kink (the method of
    models/heston/vix.py's ``_vix_expectation``). Observed error of the 256-point rule: 0.002 points.
    """
    m = GjrGarchModel(**P_SKEW)
    x_next, w = m.q_step(np.array([0.04]), DT, m=256)
    h = 0.04 * 1e4 / 252
    u0 = float(skewt_cdf(0.0, m.eta, m.lambda_))

    def vix_of_u(u):
        e = math.sqrt(h) * float(skewt_ppf(u, m.eta, m.lambda_))
        return float(m.vix((m.omega + (m.alpha + m.gamma * (e < 0)) * e * e + m.beta * h) * 252 / 1e4))

    quad_vix = m.vix(x_next[0])
    for strike in (None, 19.0, 22.0, 30.0):
        def f(v, k=strike):
            return v if k is None else np.maximum(v - k, 0.0)
        ref = sum(integrate.quad(lambda u: f(vix_of_u(u)), a, b, limit=400, epsabs=1e-11, epsrel=1e-10)[0]
                  for a, b in ((0.0, u0), (u0, 1.0)))
        assert f(quad_vix) @ w == pytest.approx(ref, abs=5e-3)


# ------------------------------------------------------------------------------ stationary law
def test_stationary_state_mean():
    """After a 500-day burn-in (>> 1/(1-phi) = 20 days) the mean of h is hbar within 4 SE.

    P_TRUE has E[(beta + (alpha + gamma 1{z<0}) z^2)^2] = 0.987 < 1, so the stationary h has a finite
    variance and the SE means something (Ling & McAleer 2002); P_SKEW's factor is 1.03.
    """
    m = GjrGarchModel(**P_TRUE)
    st = m.stationary_state(2500.0, 20_000, np.random.default_rng(8))
    assert st.var.shape == (20_000,) and np.all(st.var > 0) and np.all(st.spot == 2500.0)
    se = st.var.std(ddof=1) / math.sqrt(st.var.size)
    assert abs(st.var.mean() - m.default_var0) < 4.0 * se


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("change,rule", [
    (dict(omega=0.0), "omega must be > 0"),
    (dict(omega=-0.1), "omega must be > 0"),
    (dict(alpha=-0.01), "alpha must be >= 0"),
    (dict(alpha=0.0, gamma=-0.05), "alpha + gamma must be >= 0"),
    (dict(beta=-0.1), "beta must be >= 0"),
    (dict(alpha=0.05, gamma=0.2, beta=0.86), "alpha + beta + gamma/2 must be < 1"),
    (dict(alpha=0.0, gamma=0.3, beta=0.84), "alpha + beta + gamma*E[z^2 1{z<0}] must be < 1"),
    (dict(eta=2.0), "eta"),
    (dict(eta=1.5), "> 2"),
    (dict(lambda_=1.0), "lambda_"),
    (dict(lambda_=-1.2), "(-1, 1)"),
    (dict(vrp=0.0), "vrp must be > 0"),
    (dict(mu=float("nan")), "mu must be finite"),
])
def test_bad_parameters_refused(change, rule):
    with pytest.raises(ValueError) as exc:
        GjrGarchModel(**{**P_SKEW, **change})
    assert rule in str(exc.value)
    if "gamma/2" in rule or "E[z^2" in rule:
        assert "not covariance-stationary" in str(exc.value)


def test_dt_must_be_daily(real_data):
    m = GjrGarchModel(**P_SKEW)
    s0 = m.initial_state(100.0, 2)
    for bad in (1.0 / 365.0, 0.01):
        with pytest.raises(ValueError, match="dt must be 1/252"):
            m.simulate(s0, 5, bad, np.random.default_rng(0))
        with pytest.raises(ValueError, match="dt must be 1/252"):
            m.q_step(np.array([0.04]), bad)
    _, j = real_data
    with pytest.raises(ValueError, match="dt must be 1/252"):
        calibrate_gjr_garch(j["spx"].to_numpy(), j["vix"].to_numpy(), dt=1 / 365)


def test_dict_round_trip():
    m = GjrGarchModel(**P_SKEW)
    d = m.to_dict()
    assert d == P_SKEW
    assert GjrGarchModel.from_dict(d).to_dict() == d
    alias = {**{k: v for k, v in d.items() if k != "lambda_"}, "lambda": d["lambda_"], "extra": 1.0}
    assert GjrGarchModel.from_dict(alias).to_dict() == d
    with pytest.raises(ValueError, match="missing: omega"):
        GjrGarchModel.from_dict({k: v for k, v in d.items() if k != "omega"})
    assert "gjr_garch" in m.summary()
