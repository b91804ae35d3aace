"""Tests for sim/metrics/: VaR/CVaR with errors, paired differences, shares, quantiles, ratios.

References: closed forms for the standard normal (VaR_p = Phi^{-1}(p),
CVaR_p = phi(Phi^{-1}(p)) / (1 - p); e.g. McNeil, Frey & Embrechts, Quantitative Risk
Management, ch. 2, expected shortfall of a Gaussian loss), the Wilson score interval written out here (Wilson 1927), and the
sampling distribution of the estimators over independent replicates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from alvh.metrics import Z95, Estimate, cvar_difference, mean, quantile, ratio, share, var_cvar


def _normal_var_cvar(level):
    """VaR and CVaR of a standard normal loss (McNeil, Frey & Embrechts, QRM, ch. 2)."""
    z = stats.norm.ppf(level)
    return z, stats.norm.pdf(z) / (1.0 - level)


# ----------------------------------------------------------------------------------------------
# var_cvar
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_var_cvar_standard_normal_large_sample(level):
    rng = np.random.default_rng(12345)
    loss = rng.standard_normal(1_000_000)
    var_true, cvar_true = _normal_var_cvar(level)
    var, cvar = var_cvar(loss, level)
    # VaR: distribution-free order-statistic CI must contain the true quantile
    assert math.isnan(var.se)
    assert var.ci_low <= var_true <= var.ci_high
    assert var.ci_low <= var.value <= var.ci_high
    # CVaR: within 4 reported SE of the closed form
    assert abs(cvar.value - cvar_true) < 4.0 * cvar.se
    # normal CI built from the SE
    assert cvar.ci_low == pytest.approx(cvar.value - Z95 * cvar.se, rel=1e-14)
    assert cvar.ci_high == pytest.approx(cvar.value + Z95 * cvar.se, rel=1e-14)
    # the reported SE matches the asymptotic variance of the expected-shortfall estimator for a
    # standard normal, Var = [Var(L | L > q) + p (CVaR - q)^2] / ((1 - p) n) with
    # p = level (Manistre & Hancock 2005, eq. 9; conditional variance of the truncated normal:
    # 1 + q lambda - lambda^2, lambda = CVaR).
    lam = cvar_true
    cond_var = 1.0 + var_true * lam - lam**2
    se_true = math.sqrt((cond_var + level * (lam - var_true) ** 2) / ((1.0 - level) * loss.size))
    assert cvar.se == pytest.approx(se_true, rel=0.05)


def test_var_cvar_translation_and_scale_equivariance():
    rng = np.random.default_rng(5)
    loss = rng.standard_t(4, size=20_000)
    v1, c1 = var_cvar(loss, 0.97)
    v2, c2 = var_cvar(3.0 * loss + 10.0, 0.97)
    assert v2.value == pytest.approx(3.0 * v1.value + 10.0, rel=1e-12)
    assert c2.value == pytest.approx(3.0 * c1.value + 10.0, rel=1e-12)
    assert c2.se == pytest.approx(3.0 * c1.se, rel=1e-9)
    assert c1.value >= v1.value


def test_var_cvar_discrete_loss_with_ties():
    # Strategy losses have atoms (e.g. many paths at max profit). Bernoulli loss: 1 with
    # probability 0.02, else 0. At level 0.95 VaR = 0 and CVaR = E[L | worst 5%] = 0.02 / 0.05
    # = 0.4 (expected shortfall for distributions with atoms: Acerbi & Tasche 2002, "On the
    # coherence of expected shortfall", J. Banking & Finance 26(7)).
    rng = np.random.default_rng(17)
    loss = (rng.random(200_000) < 0.02).astype(float)
    var, cvar = var_cvar(loss, 0.95)
    assert var.value == 0.0
    assert abs(cvar.value - 0.4) < 4.0 * cvar.se
    # influence SE for this case: sd(L) / (1 - level) / sqrt(n)
    assert cvar.se == pytest.approx(math.sqrt(0.02 * 0.98) / 0.05 / math.sqrt(loss.size), rel=0.05)


def test_cvar_se_and_ci_coverage_over_replicates():
    # 200 independent samples of n = 5000 standard normal losses at level 0.95.
    level, n, reps = 0.95, 5000, 200
    var_true, cvar_true = _normal_var_cvar(level)
    rng = np.random.default_rng(2024)
    values, ses, cvar_cover, var_cover = [], [], 0, 0
    for _ in range(reps):
        var, cvar = var_cvar(rng.standard_normal(n), level)
        values.append(cvar.value)
        ses.append(cvar.se)
        cvar_cover += cvar.ci_low <= cvar_true <= cvar.ci_high
        var_cover += var.ci_low <= var_true <= var.ci_high
    sd_emp = np.std(values, ddof=1)
    se_mean = np.mean(ses)
    # The empirical sd from 200 near-normal replicates has relative standard error
    # 1/sqrt(2 (200 - 1)) = 0.050 (chi distribution with 199 df); the mean reported SE varies far
    # less (each SE is itself accurate to ~1-2% at n = 5000). A 20% band is therefore ~4 SE of
    # the sd estimate: a correct SE passes with probability > 0.9999, an SE off by 30% fails.
    assert abs(sd_emp / se_mean - 1.0) < 0.20
    # Coverage of the 95% intervals: covered ~ Binomial(200, 0.95), sd = sqrt(200*.95*.05) = 3.1.
    # Require the two-sided binomial test not to reject at 1e-3 (about +-3.3 sd).
    assert stats.binomtest(cvar_cover, reps, 0.95).pvalue > 1e-3
    # The order-statistic VaR interval is exact and conservative (coverage >= 95%).
    assert stats.binomtest(var_cover, reps, 0.95, alternative="less").pvalue > 1e-3


# ----------------------------------------------------------------------------------------------
# cvar_difference
# ----------------------------------------------------------------------------------------------


def test_cvar_difference_identical_inputs():
    loss = np.random.default_rng(1).standard_normal(10_000)
    diff, infl = cvar_difference(loss, loss.copy(), 0.99)
    assert diff.value == 0.0
    assert diff.se == 0.0
    assert diff.ci_low == 0.0 and diff.ci_high == 0.0
    assert infl.shape == loss.shape
    assert np.all(infl == 0.0)


def test_cvar_difference_paired_se_smaller_when_correlated():
    rng = np.random.default_rng(77)
    n, level = 50_000, 0.95
    a = rng.standard_normal(n)
    b = 0.95 * a + math.sqrt(1 - 0.95**2) * rng.standard_normal(n)  # corr 0.95, same N(0,1) law
    diff, infl = cvar_difference(a, b, level)
    _, ca = var_cvar(a, level)
    _, cb = var_cvar(b, level)
    unpaired = math.sqrt(ca.se**2 + cb.se**2)
    assert diff.se < 0.5 * unpaired
    # value agrees with the two separate estimates; influence values are mean zero
    assert diff.value == pytest.approx(ca.value - cb.value, abs=1e-12)
    assert abs(infl.mean()) < 1e-10
    assert diff.se == pytest.approx(infl.std(ddof=1) / math.sqrt(n), rel=1e-12)
    # both losses are N(0,1): the true difference is 0, within 4 paired SE
    assert abs(diff.value) < 4.0 * diff.se


def test_cvar_difference_paired_se_coverage():
    # Paired SE against the spread over independent replicates (same tolerance argument as
    # above: 200 replicates -> 5% relative SE of the sd estimate; band of 20% ~ 4 SE).
    rng = np.random.default_rng(31)
    level, n, reps = 0.95, 4000, 200
    diffs, ses = [], []
    for _ in range(reps):
        a = rng.standard_normal(n)
        b = 0.8 * a + 0.6 * rng.standard_normal(n)
        d, _ = cvar_difference(a, b, level)
        diffs.append(d.value)
        ses.append(d.se)
    assert abs(np.std(diffs, ddof=1) / np.mean(ses) - 1.0) < 0.20


def test_cvar_difference_shape_mismatch_raises():
    with pytest.raises(ValueError, match="equal length"):
        cvar_difference(np.arange(10.0), np.arange(11.0), 0.9)


# ----------------------------------------------------------------------------------------------
# share, mean, quantile, ratio
# ----------------------------------------------------------------------------------------------


def _wilson(k, n, z=Z95):
    """Wilson (1927) score interval, written out."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(0, 50), (1, 50), (17, 50), (50, 50), (312, 10_000), (5, 7)])
def test_share_wilson_interval(k, n):
    mask = np.zeros(n, dtype=bool)
    mask[:k] = True
    est = share(mask)
    assert est.value == pytest.approx(k / n, rel=1e-15)
    assert est.se == pytest.approx(math.sqrt(k / n * (1 - k / n) / n), rel=1e-12, abs=1e-15)
    lo, hi = _wilson(k, n)
    assert est.ci_low == pytest.approx(lo, abs=1e-12)
    assert est.ci_high == pytest.approx(hi, abs=1e-12)
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert est.ci_low == pytest.approx(ci.low, abs=1e-14)
    assert est.ci_high == pytest.approx(ci.high, abs=1e-14)


def test_share_empty_raises():
    with pytest.raises(ValueError):
        share(np.array([], dtype=bool))


def test_mean_estimate():
    rng = np.random.default_rng(8)
    x = rng.normal(3.0, 2.0, size=40_000)
    est = mean(x)
    assert est.value == pytest.approx(x.mean(), rel=1e-14)
    assert est.se == pytest.approx(x.std(ddof=1) / math.sqrt(x.size), rel=1e-12)
    # true mean 3, true SE 2 / sqrt(n) = 0.01
    assert est.se == pytest.approx(0.01, rel=0.02)
    assert abs(est.value - 3.0) < 4.0 * est.se
    assert est.ci_low == pytest.approx(est.value - Z95 * est.se, rel=1e-14)


def test_estimate_normal():
    e = Estimate.normal(1.0, 0.5)
    assert (e.value, e.se) == (1.0, 0.5)
    assert e.ci_low == pytest.approx(1.0 - 0.5 * stats.norm.ppf(0.975))
    assert e.ci_high == pytest.approx(1.0 + 0.5 * stats.norm.ppf(0.975))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_quantile_ci_contains_truth(p):
    rng = np.random.default_rng(4242)
    x = rng.normal(1.0, 3.0, size=20_000)
    est = quantile(x, p)
    truth = stats.norm.ppf(p, loc=1.0, scale=3.0)
    assert math.isnan(est.se)
    assert est.value == pytest.approx(np.quantile(x, p), rel=1e-14)
    assert est.ci_low <= truth <= est.ci_high
    assert est.ci_low <= est.value <= est.ci_high
    # width ~ 2 * 1.96 * sqrt(p (1 - p) / n) / density(truth) (asymptotic quantile SE)
    width = 2 * Z95 * math.sqrt(p * (1 - p) / x.size) / stats.norm.pdf(truth, loc=1.0, scale=3.0)
    assert (est.ci_high - est.ci_low) == pytest.approx(width, rel=0.15)


def test_ratio_known_answer():
    # Numerator: CVaR(a) - CVaR(a - 1) = 1 exactly (CVaR is translation equivariant), with zero
    # influence; denominator: mean of 2 + small noise. Ratio ~ 1 / 2.
    rng = np.random.default_rng(99)
    n = 20_000
    a = rng.standard_normal(n)
    num, num_infl = cvar_difference(a, a - 1.0, 0.95)
    assert num.value == pytest.approx(1.0, abs=1e-12)
    assert num.se == pytest.approx(0.0, abs=1e-12)
    den = 2.0 + 0.1 * rng.standard_normal(n)
    r = ratio(num, num_infl, den)
    # delta method with zero numerator influence: SE = (R / D) sd(den) / sqrt(n) ~ 0.25*0.1/141
    assert r.se == pytest.approx(0.25 * 0.1 / math.sqrt(n), rel=0.05)
    assert r.value == pytest.approx(1.0 / den.mean(), rel=1e-12)
    # the true ratio 1/2 lies within 4 SE
    assert abs(r.value - 0.5) < 4.0 * r.se


def test_ratio_nan_when_denominator_not_significant():
    rng = np.random.default_rng(3)
    n = 1000
    a = rng.standard_normal(n)
    num, num_infl = cvar_difference(a, a - 1.0, 0.95)
    for den in (rng.standard_normal(n),            # mean ~ 0
                -1.0 + rng.standard_normal(n),     # clearly negative
                0.01 + rng.standard_normal(n)):    # positive but far below 2 SE (~0.063)
        r = ratio(num, num_infl, den)
        assert all(math.isnan(x) for x in (r.value, r.se, r.ci_low, r.ci_high))


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------

BAD_SAMPLES = [np.array([]), np.array([1.0]), np.array([1.0, np.nan, 2.0]),
               np.array([1.0, np.inf]), np.array([-np.inf, 0.0, 1.0])]


@pytest.mark.parametrize("x", BAD_SAMPLES)
def test_bad_samples_raise(x):
    with pytest.raises(ValueError):
        var_cvar(x, 0.95)
    with pytest.raises(ValueError):
        mean(x)
    with pytest.raises(ValueError):
        quantile(x, 0.5)
    with pytest.raises(ValueError):
        cvar_difference(x, x, 0.95)
    with pytest.raises(ValueError):
        ratio(Estimate.normal(1.0, 0.1), np.zeros(x.size), x)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5, float("nan")])
def test_bad_level_raises(level):
    x = np.random.default_rng(0).standard_normal(100)
    with pytest.raises(ValueError, match="level"):
        var_cvar(x, level)
    with pytest.raises(ValueError, match="level"):
        cvar_difference(x, x, level)
    with pytest.raises(ValueError):
        quantile(x, level)


def test_cvar_difference_nan_raises():
    x = np.random.default_rng(0).standard_normal(100)
    y = x.copy()
    y[3] = np.nan
    with pytest.raises(ValueError):
        cvar_difference(x, y, 0.95)


# ----------------------------------------------------------------------------------------------
# Pooled path-day estimators (path-clustered)
# ----------------------------------------------------------------------------------------------
# References: the normal closed forms above (VaR = mu + sigma z, CVaR = mu + sigma phi(z) / (1 - p),
# McNeil, Frey & Embrechts, QRM, ch. 2); for clustered data, the variance of a mean of T equally
# correlated days with intra-path correlation 1 is that of one day (design effect 1 + (T - 1) rho,
# Kish 1965, Survey Sampling, sec. 5.4), so the SE grows by sqrt(T) against i.i.d. days.

from alvh.metrics import (  # noqa: E402
    pooled_cvar_difference,
    pooled_mean,
    pooled_var_cvar,
    pooled_var_cvar_levels,
    ratio_of_sums,
)


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_pooled_cvar_iid_normal_closed_form(level):
    # i.i.d. N(mu, sigma) path-days: no clustering, so the clustered SE must match the i.i.d.
    # influence SE of var_cvar on the flattened sample (both estimate the same variance).
    rng = np.random.default_rng(101)
    mu, sigma, n, t = 0.3, 2.0, 2000, 100
    loss = mu + sigma * rng.standard_normal((n, t))
    z = stats.norm.ppf(level)
    var_true, cvar_true = mu + sigma * z, mu + sigma * stats.norm.pdf(z) / (1.0 - level)
    var, cvar, psi = pooled_var_cvar(loss, level)
    assert abs(cvar.value - cvar_true) < 4.0 * cvar.se
    assert var.ci_low <= var_true <= var.ci_high
    assert var.ci_low <= var.value <= var.ci_high and math.isnan(var.se)
    assert var.value == pytest.approx(np.quantile(loss, level), rel=1e-14)
    _, cvar_iid = var_cvar(loss.ravel(), level)
    assert cvar.value == pytest.approx(cvar_iid.value, rel=1e-12)
    # 2000 clusters: the clustered variance estimate has a relative sd of a few % (Cameron & Miller
    # 2015, sec. VI); 10% is > 3 of those.
    assert cvar.se == pytest.approx(cvar_iid.se, rel=0.10)
    assert psi.shape == (n,)
    assert abs(psi.mean()) < 1e-9 * (1 + abs(cvar.value))
    assert cvar.se == pytest.approx(psi.std(ddof=1) / math.sqrt(n), rel=1e-12)
    assert cvar.ci_low == pytest.approx(cvar.value - Z95 * cvar.se, rel=1e-14)


def test_pooled_cvar_one_day_per_path_is_var_cvar():
    loss = np.random.default_rng(5).standard_t(5, size=3000)
    _, cvar, psi = pooled_var_cvar(loss, 0.97)
    _, ref = var_cvar(loss, 0.97)
    assert cvar.value == pytest.approx(ref.value, rel=1e-13)
    assert cvar.se == pytest.approx(ref.se, rel=1e-12)


def test_pooled_cvar_clustering_matters():
    # Perfectly correlated days (every day of a path equal) carry the information of one day per
    # path: the SE equals var_cvar's on the per-path values and is ~sqrt(T) times the SE of i.i.d.
    # days with the same marginal law (design effect, Kish 1965).
    rng = np.random.default_rng(7)
    n, t, level = 3000, 50, 0.95
    x = rng.standard_normal(n)
    corr = np.repeat(x[:, None], t, axis=1)
    iid = rng.standard_normal((n, t))
    _, c_corr, _ = pooled_var_cvar(corr, level)
    _, c_iid, _ = pooled_var_cvar(iid, level)
    _, ref = var_cvar(x, level)
    assert c_corr.value == pytest.approx(ref.value, rel=2e-3)
    assert c_corr.se == pytest.approx(ref.se, rel=0.02)
    assert c_corr.se / c_iid.se == pytest.approx(math.sqrt(t), rel=0.20)
    # the naive i.i.d. SE on the pooled sample ignores the clustering and is sqrt(T) too small
    _, naive = var_cvar(corr.ravel(), level)
    assert naive.se < c_corr.se / 5.0


def test_pooled_cvar_and_var_coverage_with_correlated_days():
    # Random-effects days: L_it = sqrt(rho) a_i + sqrt(1 - rho) e_it, marginal N(0, 1), so the
    # closed forms hold for the pooled law. 200 replicates: the clustered 95% CI must cover the
    # true CVaR ~95% of the time (Binomial(200, 0.95), sd 3.1; two-sided test at 1e-3), the
    # Woodruff VaR interval likewise; the naive i.i.d. interval must visibly under-cover.
    level, n, t, reps, rho = 0.95, 200, 40, 200, 0.5
    var_true, cvar_true = _normal_var_cvar(level)
    rng = np.random.default_rng(2025)
    cover, var_cover, naive_cover = 0, 0, 0
    for _ in range(reps):
        loss = math.sqrt(rho) * rng.standard_normal((n, 1)) + math.sqrt(1 - rho) * rng.standard_normal((n, t))
        var, cvar, _ = pooled_var_cvar(loss, level)
        cover += cvar.ci_low <= cvar_true <= cvar.ci_high
        var_cover += var.ci_low <= var_true <= var.ci_high
        _, inf = var_cvar(loss.ravel(), level)
        naive_cover += inf.ci_low <= cvar_true <= inf.ci_high
    assert stats.binomtest(cover, reps, 0.95).pvalue > 1e-3
    assert stats.binomtest(var_cover, reps, 0.95).pvalue > 1e-3
    assert naive_cover < 0.80 * reps


def test_pooled_var_cvar_levels_matches_single_calls():
    loss = np.random.default_rng(3).standard_normal((300, 20))
    mask = np.random.default_rng(4).random((300, 20)) < 0.7
    both = pooled_var_cvar_levels(loss, [0.95, 0.99], mask)
    for level, (v, c, p) in zip((0.95, 0.99), both):
        v1, c1, p1 = pooled_var_cvar(loss, level, mask)
        assert (v, c) == (v1, c1)
        np.testing.assert_array_equal(p, p1)


def test_pooled_mask_selects_path_days():
    # The value is that of the selected path-days alone; NaN outside the mask is ignored.
    rng = np.random.default_rng(9)
    loss = rng.standard_normal((500, 30))
    mask = rng.random((500, 30)) < 0.3
    loss_nan = np.where(mask, loss, np.nan)
    var, cvar, psi = pooled_var_cvar(loss_nan, 0.99, mask)
    _, ref = var_cvar(loss[mask], 0.99)
    assert cvar.value == pytest.approx(ref.value, rel=1e-13)
    assert var.value == pytest.approx(np.quantile(loss[mask], 0.99), rel=1e-14)
    assert psi.shape == (500,)
    # rows with no selected day contribute a zero influence
    mask[:10] = False
    _, _, psi2 = pooled_var_cvar(loss, 0.99, mask)
    assert np.all(psi2[:10] == 0.0)
    with pytest.raises(ValueError, match="non-finite"):
        pooled_var_cvar(loss_nan, 0.99)  # no mask: the NaN are selected


def test_pooled_cvar_difference_exact_cases():
    rng = np.random.default_rng(11)
    a = rng.standard_normal((400, 25)) + 0.5 * rng.standard_normal((400, 1))
    # translation: CVaR(a) - CVaR(a - 1) = 1 with zero error (translation equivariance)
    d, psi = pooled_cvar_difference(a, a - 1.0, 0.99)
    assert d.value == pytest.approx(1.0, abs=1e-12)
    assert d.se == pytest.approx(0.0, abs=1e-12)
    assert psi.shape == (400,)
    # scaling: CVaR(a) - CVaR(a / 2) = CVaR(a) / 2 with half the SE (positive homogeneity)
    _, ca, _ = pooled_var_cvar(a, 0.99)
    d, _ = pooled_cvar_difference(a, 0.5 * a, 0.99)
    assert d.value == pytest.approx(0.5 * ca.value, rel=1e-12)
    assert d.se == pytest.approx(0.5 * ca.se, rel=1e-10)
    # identical on the masked days (garbage elsewhere): zero difference
    mask = rng.random(a.shape) < 0.5
    b = np.where(mask, a, 99.0)
    d, _ = pooled_cvar_difference(a, b, 0.95, mask)
    assert d.value == 0.0 and d.se == 0.0


def test_pooled_cvar_difference_paired_smaller_than_unpaired():
    rng = np.random.default_rng(12)
    common = rng.standard_normal((1000, 30)) + rng.standard_normal((1000, 1))
    a = common + 0.2 * rng.standard_normal(common.shape)
    b = common + 0.2 * rng.standard_normal(common.shape)
    d, _ = pooled_cvar_difference(a, b, 0.95)
    _, ca, _ = pooled_var_cvar(a, 0.95)
    _, cb, _ = pooled_var_cvar(b, 0.95)
    assert d.se < 0.5 * math.hypot(ca.se, cb.se)
    assert d.value == pytest.approx(ca.value - cb.value, abs=1e-12)
    assert abs(d.value) < 4.0 * d.se  # same law: true difference 0


def test_pooled_mean_equals_mean_of_path_means():
    # With every day selected (equal cluster sizes), the cluster-robust SE of the pooled mean is
    # exactly the SE of the per-path means (Cameron & Miller 2015, sec. II.B).
    rng = np.random.default_rng(13)
    x = rng.standard_normal((700, 12)) + rng.standard_normal((700, 1))
    est, psi = pooled_mean(x)
    ref = mean(x.mean(axis=1))
    assert est.value == pytest.approx(ref.value, rel=1e-12)
    assert est.se == pytest.approx(ref.se, rel=1e-12)
    np.testing.assert_allclose(psi, x.mean(axis=1) - x.mean(), atol=1e-12)


def test_ratio_of_sums_known_ratio_and_coverage():
    # y = R x + noise on path-days with a path effect; true R = 0.3 by construction. Over 200
    # replicates the 95% CI covers R ~95% (binomial test as above) and the mean reported SE matches
    # the spread of the estimates (relative sd of the sd estimate ~5%, 20% band ~ 4 SE).
    rng = np.random.default_rng(14)
    reps, n, t, r_true = 200, 150, 20, 0.3
    vals, ses, cover = [], [], 0
    for _ in range(reps):
        x = rng.exponential(1.0, (n, t)) * rng.exponential(1.0, (n, 1))
        y = r_true * x + 0.5 * rng.standard_normal((n, t)) + 0.5 * rng.standard_normal((n, 1))
        mask = rng.random((n, t)) < 0.6
        est, psi = ratio_of_sums(y, x, mask)
        vals.append(est.value)
        ses.append(est.se)
        cover += est.ci_low <= r_true <= est.ci_high
        assert abs(psi.mean()) < 1e-10
    assert stats.binomtest(cover, reps, 0.95).pvalue > 1e-3
    assert abs(np.std(vals, ddof=1) / np.mean(ses) - 1.0) < 0.20


def test_ratio_of_sums_exact_and_nan():
    x = np.random.default_rng(15).exponential(1.0, (50, 8))
    est, psi = ratio_of_sums(2.5 * x, x)
    assert est.value == pytest.approx(2.5, rel=1e-14)
    assert est.se == pytest.approx(0.0, abs=1e-12)
    # denominator not significantly away from 0 -> NaN, zero influence
    d = np.random.default_rng(16).standard_normal((50, 8))
    est, psi = ratio_of_sums(x, d - d.mean())
    assert all(math.isnan(v) for v in (est.value, est.se, est.ci_low, est.ci_high))
    assert np.all(psi == 0.0)


@pytest.mark.parametrize("call", [
    lambda: pooled_var_cvar(np.zeros((0, 10)), 0.95),                         # no path
    lambda: pooled_var_cvar(np.zeros((3, 4, 5)), 0.95),                       # 3-D
    lambda: pooled_var_cvar(np.ones((10, 5)), 0.95, np.ones((10, 4), bool)),  # mask shape
    lambda: pooled_var_cvar(np.ones((10, 5)), 0.95, np.ones((10, 5))),        # mask not bool
    lambda: pooled_var_cvar(np.ones((10, 5)), 0.95, np.zeros((10, 5), bool)),  # nothing selected
    lambda: pooled_var_cvar(np.full((10, 5), np.inf), 0.95),                  # non-finite
    lambda: pooled_var_cvar(np.ones((10, 5)), 1.0),                           # level
    lambda: pooled_var_cvar_levels(np.ones((10, 5)), [0.9, 0.0]),             # level
    lambda: pooled_cvar_difference(np.ones((10, 5)), np.ones((10, 6)), 0.95),  # shapes
    lambda: ratio_of_sums(np.ones((10, 5)), np.ones((10, 6))),                # shapes
    lambda: ratio_of_sums(np.full((10, 5), np.nan), np.ones((10, 5))),        # non-finite num
    lambda: ratio_of_sums(np.ones((10, 5)), np.full((10, 5), np.nan)),        # non-finite den
    lambda: pooled_mean(np.ones((10, 5)), np.zeros((10, 5), bool)),           # nothing selected
])
def test_pooled_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_sparse_and_dense_masks_agree():
    # A sparse mask (tail days, < 5% selected) takes a gather path; it must give the per-path sums
    # of the dense one: compare with the same mask built by hand as per-path means.
    rng = np.random.default_rng(17)
    x = rng.standard_normal((400, 50))
    sparse = rng.random(x.shape) < 0.02
    est, psi = pooled_mean(x, sparse)
    y, c = np.where(sparse, x, 0.0).sum(axis=1), sparse.sum(axis=1)
    r = y.sum() / c.sum()
    np.testing.assert_allclose(psi, (y - r * c) / c.mean(), rtol=1e-10, atol=1e-12)
    assert est.value == pytest.approx(r, rel=1e-12)
    _, c_sparse, p_sparse = pooled_var_cvar(x, 0.9, sparse)
    _, ref = var_cvar(x[sparse], 0.9)
    assert c_sparse.value == pytest.approx(ref.value, rel=1e-12)


def test_pooled_single_path_has_no_error():
    # One path (a historical replay): the estimate of its days, with NaN SE and CI.
    x = np.random.default_rng(18).standard_normal((1, 300))
    var, cvar, psi = pooled_var_cvar(x, 0.99)
    ref_var, ref = var_cvar(x[0], 0.99)
    assert cvar.value == pytest.approx(ref.value, rel=1e-13) and var.value == ref_var.value
    assert all(math.isnan(v) for v in (cvar.se, cvar.ci_low, cvar.ci_high, var.ci_low, var.ci_high))
    est, _ = pooled_mean(x)
    assert est.value == pytest.approx(x.mean(), rel=1e-13) and math.isnan(est.se)
