"""Control variates (alvh.varred): exact control means, the estimator, and its use in a run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alvh.models.heston import simulate_qe
from alvh.varred import cv_mean, heston_control_means


def test_heston_control_means_match_qe_paths():
    """E[S_T/S_0] = exp(mu T) (QE martingale correction, Andersen 2008 Prop. 9) and
    E[dt sum v_t] from the CIR conditional mean (Cox, Ingersoll & Ross 1985, eq. 19), within 4 SE of
    100,000 QE paths; a wrong drift, a missing exp(-kappa t) or an off-by-one sum would be caught."""
    kappa, theta, sigma, rho, mu, v0, n_steps, dt = 1.5, 0.04, 0.7, -0.7, 0.08, 0.09, 126, 1 / 252
    spot, var = simulate_qe(100.0, v0, kappa, theta, sigma, rho, mu, dt, n_steps,
                            rng=np.random.default_rng(11), n_paths=100_000)
    means = heston_control_means(kappa, theta, mu, v0, n_steps, dt)
    g = spot[:, -1] / 100.0
    iv = var[:, :-1].sum(axis=1) * dt
    for x, m in ((g, means["spx_growth"]), (iv, means["integrated_variance"])):
        se = x.std(ddof=1) / math.sqrt(x.size)
        assert abs(x.mean() - m) < 4 * se, (x.mean(), m, se)
    # exactly: dt times the sum over t = 0 .. T-1 of the CIR mean recursion E[v_{t+1}] = theta + (E[v_t] - theta) e^{-kappa dt}
    # (an off-by-one sum or a per-step exp(-kappa) would move this beyond 1e-12)
    m, total = v0, 0.0
    for _ in range(n_steps):
        total += m * dt
        m = theta + (m - theta) * math.exp(-kappa * dt)
    assert means["integrated_variance"] == pytest.approx(total, rel=1e-12)
    assert means["spx_growth"] == pytest.approx(math.exp(mu * n_steps * dt), rel=1e-15)
    # the variance starts above theta: the integrated variance is above theta * T, below v0 * T
    assert theta * n_steps * dt < means["integrated_variance"] < v0 * n_steps * dt


def test_cv_mean_reaches_the_theoretical_reduction():
    """y = 1 + 2 x + e with x ~ N(0, 1), e ~ N(0, 1): corr^2 = 0.8, so the SE shrinks by
    1 / sqrt(1 - 0.8) = 2.236 (Glasserman 2004, eq. 4.5), and the estimate is unbiased."""
    rng = np.random.default_rng(3)
    n = 40_000
    x = rng.standard_normal(n)
    y = 1.0 + 2.0 * x + rng.standard_normal(n)
    est, factor = cv_mean(y, x[None, :], np.array([0.0]))
    assert factor == pytest.approx(math.sqrt(5.0), rel=0.03)
    assert est.se == pytest.approx(1.0 / math.sqrt(n), rel=0.03)
    assert abs(est.value - 1.0) < 4 * est.se
    # a useless control changes nothing (factor ~ 1)
    est2, factor2 = cv_mean(y, rng.standard_normal((1, n)), np.array([0.0]))
    assert factor2 == pytest.approx(1.0, abs=0.01)
    assert abs(est2.value - y.mean()) < 0.01


def test_cv_mean_coverage_over_replications():
    """The 95% interval of the control-variate mean covers the true mean about 95% of the time
    (200 replications: between 88% and 99.5%, a binomial 3-sigma band)."""
    rng = np.random.default_rng(8)
    hits = 0
    for _ in range(200):
        x = rng.exponential(size=(2, 300))
        y = x[0] ** 2 + x[1] + rng.standard_normal(300)      # E[y] = 2 + 1
        est, _ = cv_mean(y, x, np.array([1.0, 1.0]))
        hits += est.ci_low <= 3.0 <= est.ci_high
    assert 176 <= hits <= 199


def test_cv_mean_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        cv_mean(np.zeros(10), np.zeros((1, 9)), [0.0])
    with pytest.raises(ValueError, match="at least"):
        cv_mean(np.zeros(3), np.zeros((1, 3)), [0.0])
    with pytest.raises(ValueError, match="finite"):
        cv_mean(np.array([1.0, np.nan, 2.0, 3.0]), np.zeros((1, 4)), [0.0])


def test_run_metrics_carry_control_variate_means(tiny_prepared):
    from alvh.results import analyse
    from alvh.runner import run

    res = run(tiny_prepared, 400, seed=2, jobs=1, progress=False)
    rows = {(m.strategy, m.key): m.est for m in analyse(res)[0]}
    for s in ("unhedged", "alvh"):
        plain, cv, factor = rows[(s, "pnl_mean")], rows[(s, "pnl_mean_cv")], rows[(s, "pnl_mean_cv_se_factor")]
        assert factor.value == pytest.approx(plain.se / cv.se)
        # least squares never increases the residual sum of squares; only the n - 3 vs n - 1 degrees of freedom can
        assert factor.value >= math.sqrt((400 - 3) / (400 - 1)) - 1e-12
        assert abs(cv.value - plain.value) < 4 * plain.se
    assert ("alvh", "cost_mean_cv_se_factor") in rows and ("unhedged", "cost_mean_cv") not in rows


def test_controls_read_one_at_a_time_give_the_same_estimate(tiny_prepared):
    """A run's controls are handed over unread (a stored field, a value computed when read) and
    ControlVariates reads them one at a time: the estimates are those of the same controls passed as
    one in-memory (k, n) array, bit for bit; a control of another length is refused."""
    from alvh.results import _controls
    from alvh.runner import run
    from alvh.varred import ControlVariates

    res = run(tiny_prepared, 400, seed=2, jobs=1, progress=False)
    controls = _controls(res)
    assert set(controls) == {"spx_growth", "integrated_variance"}
    assert not any(isinstance(v, np.ndarray) for v, _ in controls.values())    # nothing held in memory
    means = [m for _, m in controls.values()]
    in_memory = np.stack([res.per_path["spx_return"][:] / 100.0 + 1.0, res.per_path["integrated_variance"][:]])
    lazy = ControlVariates([v for v, _ in controls.values()], means)
    eager = ControlVariates(in_memory, means)
    y = res.per_strategy["pnl"][0][:]
    (e1, f1), (e2, f2) = lazy.mean(y), eager.mean(y)
    assert (e1.value, e1.se, f1) == (e2.value, e2.se, f2)
    assert np.array_equal(lazy.centred, eager.centred)
    with pytest.raises(ValueError, match="control 1 has shape"):
        ControlVariates([in_memory[0], in_memory[1][:-1]], means)
    # one control given as a list of its values (floats or 0-d arrays) is one control, as before
    for values in (list(in_memory[0]), [np.array(v) for v in in_memory[0]]):
        assert np.array_equal(ControlVariates(values, means[:1]).centred, ControlVariates(in_memory[0], means[:1]).centred)
