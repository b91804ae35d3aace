"""Tests for models/kernels/: the compiled Heston QE path generator against the numpy reference.

The reference is ``alvh.models.heston.simulate_qe(..., engine="numpy")`` (Andersen 2008 QE with
martingale correction, vectorised over paths). Monte Carlo checks compare with closed forms in
standard errors; each closed form has its source in a comment.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import special

from alvh.models.heston import HestonModel, HestonParams, simulate_qe
from alvh.models.kernels import heston_qe_kernel, ndtr, qe_constants, simulate_heston_qe
from alvh.models.base import State

# (v0, kappa, theta, sigma, rho, drift, dt, n_steps), with whether the paths must visit the
# exponential branch (psi > psi_c) as well as the quadratic one. Feller ratio 2 kappa theta / sigma^2
# in the comments.
PARAM_SETS = {
    # SPX-like daily steps (the benchmark set plus drift); Feller 0.44 (violated)
    "spx_daily": ((0.04, 2.0, 0.04, 0.6, -0.7, 0.03, 1 / 252, 120), True),
    # Andersen (2008), Table 1, Case I, quarterly steps; Feller 0.04 (badly violated)
    "andersen_case_I": ((0.04, 0.5, 0.04, 1.0, -0.9, 0.0, 0.25, 40), True),
    # small vol of vol, rho = 0: quadratic branch only; Feller 12 (holds)
    "small_sigma_rho0": ((0.04, 1.5, 0.04, 0.1, 0.0, 0.05, 1 / 52, 52), False),
    # large vol of vol, rho = +0.5, v0 above theta; Feller 0.08
    "big_sigma_rho_pos": ((0.09, 1.0, 0.09, 1.5, 0.5, 0.1, 0.1, 40), True),
    # a one-factor fit to the daily VIX (DESIGN.md: kappa ~ 25, sigma ~ 8); Feller 0.014
    "vix_fit_daily": ((0.0177, 25.0, 0.0177, 8.0, -0.7, 0.0, 1 / 252, 60), True),
}

S0 = 4000.0
RTOL = 1e-10


def _branch_counts(var: np.ndarray, kappa, theta, sigma, rho, dt, psi_c=1.5) -> tuple[int, int]:
    """Steps that took the quadratic (psi <= psi_c) and exponential branch, from the variance
    path at each step's start: psi = s^2 / m^2 with the CIR moments (Andersen 2008, eqs. 17-18)."""
    e = math.exp(-kappa * dt)
    v = var[:, :-1]
    m = theta + (v - theta) * e
    s2 = v * sigma**2 * e * (1 - e) / kappa + theta * sigma**2 * (1 - e) ** 2 / (2 * kappa)
    psi = s2 / m**2
    return int((psi <= psi_c).sum()), int((psi > psi_c).sum())


def _args(p):
    v0, kappa, theta, sigma, rho, drift, dt, n_steps = p
    return (S0, v0, kappa, theta, sigma, rho, drift, dt, n_steps)


@pytest.mark.parametrize("name", list(PARAM_SETS))
def test_kernel_matches_numpy_reference_on_same_normals(name):
    p, both = PARAM_SETS[name]
    n = 1000
    normals = np.random.default_rng(11).standard_normal((n, p[-1], 2))
    s_ref, v_ref = simulate_qe(*_args(p), normals=normals, engine="numpy")
    s_nb, v_nb = simulate_qe(*_args(p), normals=normals, engine="numba")
    np.testing.assert_allclose(s_nb, s_ref, rtol=RTOL, atol=0)
    np.testing.assert_allclose(v_nb, v_ref, rtol=RTOL, atol=0)
    assert np.array_equal(v_nb == 0, v_ref == 0)  # the same steps land on v = 0
    assert np.all(s_nb[:, 0] == S0) and np.all(v_nb[:, 0] == p[0])
    n_quad, n_exp = _branch_counts(v_ref, *p[1:5], p[6])
    assert n_quad > 0
    if both:
        assert n_exp > 100, f"{name}: expected the exponential branch, got {n_exp} steps"
    else:
        assert n_exp == 0


def test_parameter_sets_cover_both_branches():
    """Across the sets, both QE branches are taken many times (so the comparison above covers both)."""
    total_quad = total_exp = 0
    for p, _ in PARAM_SETS.values():
        normals = np.random.default_rng(11).standard_normal((1000, p[-1], 2))
        _, v = simulate_qe(*_args(p), normals=normals, engine="numpy")
        q, x = _branch_counts(v, *p[1:5], p[6])
        total_quad += q
        total_exp += x
    assert total_quad > 10_000 and total_exp > 10_000


def test_heston_qe_kernel_direct_call_and_per_path_start():
    """The kernel with per-path s0 and v0 (v0 = 0 included), written into caller-owned arrays."""
    p = PARAM_SETS["spx_daily"][0]
    v0, kappa, theta, sigma, rho, drift, dt, n_steps = p
    n = 300
    rng = np.random.default_rng(5)
    s0 = rng.uniform(1000.0, 5000.0, n)
    v0s = rng.uniform(0.0, 0.2, n)
    v0s[:10] = 0.0
    normals = rng.standard_normal((n, n_steps, 2))
    spot = np.empty((n, n_steps + 1))
    var = np.empty((n, n_steps + 1))
    heston_qe_kernel(s0, v0s, kappa, theta, sigma, rho, drift, dt, normals, 1.5, spot, var)
    s_ref, v_ref = simulate_qe(s0, v0s, kappa, theta, sigma, rho, drift, dt, n_steps, normals=normals,
                               engine="numpy")
    np.testing.assert_allclose(spot, s_ref, rtol=RTOL, atol=0)
    np.testing.assert_allclose(var, v_ref, rtol=RTOL, atol=0)
    assert np.array_equal(spot[:, 0], s0) and np.array_equal(var[:, 0], v0s)
    with pytest.raises(ValueError, match="spot_out"):
        heston_qe_kernel(s0, v0s, kappa, theta, sigma, rho, drift, dt, normals, 1.5, spot[:, :-1], var)


def test_numba_generator_stream_equals_numpy():
    """numba's Generator.standard_normal is NumPy's ziggurat on the same bit-generator state:
    the same numbers in the same order, and the Generator is advanced as by NumPy."""

    @numba.njit
    def draw(rng, out):
        for i in range(out.size):
            out[i] = rng.standard_normal()

    got = np.empty(200_000)
    r1 = np.random.default_rng(2024)
    draw(r1, got)
    r2 = np.random.default_rng(2024)
    assert np.array_equal(got, r2.standard_normal(200_000))
    assert r1.standard_normal() == r2.standard_normal()


def test_inlined_pcg64_ziggurat_equals_numpy():
    """The kernels' own PCG64 + ziggurat (used for default_rng) gives NumPy's numbers, tail
    (|z| > 3.654, the ziggurat's base strip) and wedge rejections included."""
    from alvh.models.kernels import _pcg64_standard_normal, _pcg64_state

    @numba.njit
    def draw(st, out):
        hi, lo = st[0], st[1]
        for i in range(out.size):
            out[i], hi, lo = _pcg64_standard_normal(hi, lo, st[2], st[3])
        st[0] = hi
        st[1] = lo

    ref = np.random.default_rng(31).standard_normal(1_000_000)
    st = _pcg64_state(np.random.default_rng(31))
    got = np.empty(ref.size)
    draw(st, got)
    assert np.array_equal(got, ref)
    assert (np.abs(ref) > 3.6541528853610088).sum() > 100  # the tail branch was taken


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox,
                                           np.random.PCG64DXSM])
def test_any_bit_generator_gives_the_reference_draws(bit_generator):
    """PCG64 runs the inlined generator, the others numba's Generator support: same paths as the
    reference from the same seed, and the Generator left in the same state (its 32-bit buffer
    included)."""
    p = PARAM_SETS["spx_daily"][0]
    n = 130  # not a multiple of the block
    rng = np.random.Generator(bit_generator(17))
    ref_rng = np.random.Generator(bit_generator(17))
    # a buffered 32-bit half (PCG64's has_uint32) must survive the kernel's state write-back
    assert rng.integers(0, 2**31, dtype=np.uint32) == ref_rng.integers(0, 2**31, dtype=np.uint32)
    spot, var = simulate_heston_qe(*_args(p), n_paths=n, rng=rng)
    s_ref, v_ref = simulate_qe(*_args(p), rng=ref_rng, n_paths=n, engine="numpy")
    np.testing.assert_allclose(spot, s_ref, rtol=RTOL, atol=0)
    np.testing.assert_allclose(var, v_ref, rtol=RTOL, atol=0)
    assert rng.integers(0, 2**31, dtype=np.uint32) == ref_rng.integers(0, 2**31, dtype=np.uint32)
    assert rng.standard_normal() == ref_rng.standard_normal()
    assert _same_state(rng.bit_generator.state, ref_rng.bit_generator.state)


def _same_state(a, b) -> bool:
    """Bit-generator state dicts equal (MT19937's and Philox's hold arrays)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    return bool(np.array_equal(a, b))


@pytest.mark.parametrize("seed", [0, 7])
def test_rng_version_equals_reference_on_same_seed(seed):
    p = PARAM_SETS["andersen_case_I"][0]
    n = 500
    rng = np.random.default_rng(seed)
    spot, var = simulate_heston_qe(*_args(p), n_paths=n, rng=rng)
    ref_rng = np.random.default_rng(seed)
    s_ref, v_ref = simulate_qe(*_args(p), rng=ref_rng, n_paths=n, engine="numpy")
    assert spot.shape == var.shape == (n, p[-1] + 1)
    np.testing.assert_allclose(spot, s_ref, rtol=RTOL, atol=0)
    np.testing.assert_allclose(var, v_ref, rtol=RTOL, atol=0)
    assert rng.standard_normal() == ref_rng.standard_normal()  # both consumed the same draws
    # the compiled paths from drawn and from given normals are the same code: bit for bit
    normals = np.random.default_rng(seed).standard_normal((n, p[-1], 2))
    s_given, v_given = simulate_qe(*_args(p), normals=normals, engine="numba")
    assert np.array_equal(spot, s_given) and np.array_equal(var, v_given)
    # simulate_qe's default engine is this kernel
    s_def, v_def = simulate_qe(*_args(p), rng=np.random.default_rng(seed), n_paths=n)
    assert np.array_equal(spot, s_def) and np.array_equal(var, v_def)


def test_heston_model_simulate_uses_the_kernel():
    params = HestonParams(v0=0.04, kappa=3.0, theta=0.05, sigma=0.4, rho=-0.7, mu=0.06)
    model = HestonModel(params)
    state = State(np.full(64, 3000.0), np.linspace(0.01, 0.1, 64), np.zeros(64, np.int8))
    paths = model.simulate(state, 30, 1 / 252, np.random.default_rng(3))
    s_ref, v_ref = simulate_qe(state.spot, state.var, 3.0, 0.05, 0.4, -0.7, 0.06, 1 / 252, 30,
                               rng=np.random.default_rng(3), n_paths=64, engine="numpy")
    np.testing.assert_allclose(paths.spot, s_ref, rtol=RTOL, atol=0)
    np.testing.assert_allclose(paths.var, v_ref, rtol=RTOL, atol=0)


def test_antithetic_uses_negated_normals():
    """Path j + n/2 is driven by -Z_j: equal to the reference on explicit normals [Z, -Z]."""
    p = PARAM_SETS["big_sigma_rho_pos"][0]
    n = 400
    spot, var = simulate_heston_qe(*_args(p), n_paths=n, rng=np.random.default_rng(9), antithetic=True)
    z = np.random.default_rng(9).standard_normal((n // 2, p[-1], 2))
    s_ref, v_ref = simulate_qe(*_args(p), normals=np.concatenate([z, -z]), engine="numpy")
    np.testing.assert_allclose(spot, s_ref, rtol=RTOL, atol=0)
    np.testing.assert_allclose(var, v_ref, rtol=RTOL, atol=0)
    # the reference's own antithetic option, from the rng and from given normals
    s_a, v_a = simulate_qe(*_args(p), rng=np.random.default_rng(9), n_paths=n, antithetic=True, engine="numpy")
    assert np.array_equal(s_a, s_ref) and np.array_equal(v_a, v_ref)
    s_g, v_g = simulate_qe(*_args(p), normals=z, antithetic=True, engine="numba")
    np.testing.assert_allclose(s_g, s_ref, rtol=RTOL, atol=0)
    np.testing.assert_allclose(v_g, v_ref, rtol=RTOL, atol=0)
    # and through simulate_qe's default engine
    s_d, v_d = simulate_qe(*_args(p), rng=np.random.default_rng(9), n_paths=n, antithetic=True)
    assert np.array_equal(s_d, spot) and np.array_equal(v_d, var)


def test_antithetic_reduces_the_standard_error_of_the_forward():
    """E[S_T] = s0 exp(drift T) exactly under QE with martingale correction (Andersen 2008,
    Prop. 9); the antithetic estimator's standard error (from the n/2 pair means) is below the
    plain one's at the same number of paths."""
    v0, kappa, theta, sigma, rho, drift = 0.04, 2.0, 0.04, 0.6, -0.7, 0.05
    dt, n_steps, n = 1 / 252, 63, 20_000
    args = (S0, v0, kappa, theta, sigma, rho, drift, dt, n_steps)
    fwd = S0 * math.exp(drift * dt * n_steps)
    s_plain, _ = simulate_heston_qe(*args, n_paths=n, rng=np.random.default_rng(21))
    s_anti, _ = simulate_heston_qe(*args, n_paths=n, rng=np.random.default_rng(22), antithetic=True)
    x = s_plain[:, -1]
    se_plain = x.std(ddof=1) / math.sqrt(n)
    pairs = 0.5 * (s_anti[: n // 2, -1] + s_anti[n // 2:, -1])
    se_anti = pairs.std(ddof=1) / math.sqrt(n // 2)
    assert abs(x.mean() - fwd) < 4 * se_plain
    assert abs(pairs.mean() - fwd) < 4 * se_anti
    # measured with these seeds: se_anti / se_plain = 1.60 / 2.73 = 0.59 (S_T is far from
    # linear in the normals: the variance enters through (b + Z_v)^2 and exp)
    assert se_anti < 0.8 * se_plain, (se_anti, se_plain)


def test_monte_carlo_means_match_closed_forms():
    """E[S_T] = s0 exp(drift T) (martingale correction, Andersen 2008 Prop. 9) and
    E[v_T] = theta + (v0 - theta) exp(-kappa T) (CIR mean: Cox, Ingersoll & Ross 1985; Heston
    1993, eq. 1), within 4 standard errors. QE matches each step's conditional mean of v
    exactly (Andersen 2008, eqs. 17, 23, 25), so neither has a time-discretisation bias."""
    v0, kappa, theta, sigma, rho, drift = 0.09, 2.0, 0.04, 0.6, -0.7, 0.05
    dt, n_steps, n = 1 / 252, 252, 20_000
    spot, var = simulate_heston_qe(S0, v0, kappa, theta, sigma, rho, drift, dt, n_steps, n_paths=n,
                                   rng=np.random.default_rng(1993))
    t = dt * n_steps
    for x, exact in ((spot[:, -1], S0 * math.exp(drift * t)),
                     (var[:, -1], theta + (v0 - theta) * math.exp(-kappa * t))):
        se = x.std(ddof=1) / math.sqrt(n)
        assert abs(x.mean() - exact) < 4 * se, (x.mean(), exact, se)
    assert var.min() >= 0.0


def test_ndtr_is_scipys_bit_for_bit():
    x = np.concatenate([np.linspace(-40.0, 40.0, 200_001), np.random.default_rng(0).standard_normal(200_000) * 3])
    got = np.array([ndtr(v) for v in x[:2000]])  # a few through the dispatcher ...
    assert np.array_equal(got, special.ndtr(x[:2000]))

    @numba.njit
    def many(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = ndtr(a[i])
        return out

    assert np.array_equal(many(x), special.ndtr(x))  # ... and all in compiled code


def test_qe_constants_match_the_reference_formulas():
    kappa, theta, sigma, rho, dt = 1.7, 0.05, 0.8, -0.6, 1 / 252
    e, c1, c2, k0, k1, k2, k3, k4, big_a = qe_constants(kappa, theta, sigma, rho, dt)
    assert e == np.exp(-kappa * dt)
    assert c1 == pytest.approx(sigma**2 * e * (1 - e) / kappa, rel=1e-15)
    assert c2 == pytest.approx(theta * sigma**2 * (1 - e) ** 2 / (2 * kappa), rel=1e-15)
    assert k3 == k4 == pytest.approx(0.5 * dt * (1 - rho**2), rel=1e-15)
    assert big_a == pytest.approx(k2 + 0.5 * k4, rel=1e-15)
    assert k0 == pytest.approx(-rho * kappa * theta * dt / sigma, rel=1e-15)
    assert k1 == pytest.approx(0.5 * dt * (kappa * rho / sigma - 0.5) - rho / sigma, rel=1e-15)


def test_zero_steps_and_zero_paths():
    spot, var = simulate_heston_qe(S0, 0.04, 2.0, 0.04, 0.6, -0.7, 0.0, 1 / 252, 0, n_paths=3,
                                   rng=np.random.default_rng(0))
    assert spot.shape == var.shape == (3, 1) and np.all(spot == S0) and np.all(var == 0.04)
    spot, var = simulate_heston_qe(S0, 0.04, 2.0, 0.04, 0.6, -0.7, 0.0, 1 / 252, 5, n_paths=0,
                                   rng=np.random.default_rng(0))
    assert spot.shape == var.shape == (0, 6)


def test_bad_inputs_raise_value_error():
    args = (S0, 0.04, 2.0, 0.04, 0.6, -0.7, 0.0, 1 / 252, 5)
    with pytest.raises(ValueError, match="even"):
        simulate_heston_qe(*args, n_paths=7, rng=np.random.default_rng(0), antithetic=True)
    for engine in ("numba", "numpy"):
        with pytest.raises(ValueError, match="even"):
            simulate_qe(*args, rng=np.random.default_rng(0), n_paths=7, antithetic=True, engine=engine)
    with pytest.raises(ValueError, match="engine"):
        simulate_qe(*args, rng=np.random.default_rng(0), n_paths=4, engine="cuda")
    with pytest.raises(ValueError, match="engine"):
        simulate_qe(*args, normals=np.zeros((4, 5, 2)), engine="")
    with pytest.raises(ValueError, match="Generator"):
        simulate_heston_qe(*args, n_paths=4, rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match=">= 0"):
        simulate_heston_qe(*args, n_paths=-1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        simulate_heston_qe(S0, np.full(3, 0.04), *args[2:], n_paths=4, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        simulate_qe(*args, normals=np.zeros((4, 6, 2)), engine="numba")


def test_legacy_random_state_still_works_with_the_numba_engine():
    """A RandomState (not a Generator) is drawn from in NumPy, then the compiled kernel runs."""
    args = (S0, 0.04, 2.0, 0.04, 0.6, -0.7, 0.0, 1 / 252, 10)
    s1, v1 = simulate_qe(*args, rng=np.random.RandomState(4), n_paths=20)
    s2, v2 = simulate_qe(*args, rng=np.random.RandomState(4), n_paths=20, engine="numpy")
    np.testing.assert_allclose(s1, s2, rtol=RTOL, atol=0)
    np.testing.assert_allclose(v1, v2, rtol=RTOL, atol=0)
