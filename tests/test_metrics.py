"""Tests for sim/metrics.py: VaR/CVaR with errors, paired differences, shares, quantiles, ratios.

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

from sim.metrics import Z95, Estimate, cvar_difference, mean, quantile, ratio, share, var_cvar


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
