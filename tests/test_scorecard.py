"""Tests for sim/scorecard.py and ``alvh validate --market``.

References: statsmodels' ``acf``, scipy's ``kurtosis``, numpy's ``corrcoef`` and ``quantile`` for
the P statistics; Heston's exact VIX futures (``vix_futures_exact``, the CIR-law integral, tested in
tests/test_heston.py against Monte Carlo) for the Q rows of a one-factor model; pandas bucket means of
the bundled real data for the ``real`` column.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.tsa.stattools import acf

from alvh.models.heston import HestonModel, HestonParams, vix_futures_exact
from alvh.models.twofactor import q_days
from alvh.realdata import VIX_BUCKETS
from alvh.scorecard import COLUMNS, P_STATISTICS, p_rows, p_statistics, q_rows, scorecard

H = 1.0 / 252.0


def _heston() -> HestonModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return HestonModel(HestonParams(v0=0.03, kappa=4.0, theta=0.03, sigma=0.5, rho=-0.7, mu=0.08, lam=-1.5))


def test_p_statistics_match_the_libraries_on_a_random_history():
    rng = np.random.default_rng(3)
    n = 3000
    vix = 20.0 * np.exp(np.cumsum(rng.normal(0, 0.05, n)) * 0.3) + rng.gamma(2.0, 2.0, n)
    spx = 1000.0 * np.exp(np.cumsum(rng.standard_t(4, n) * 0.01))
    got = p_statistics(spx, vix)
    r, dv = np.diff(np.log(spx)), np.diff(vix)
    assert set(got) == set(P_STATISTICS)
    assert got["vix_max_rise"][0] == pytest.approx(dv.max())
    assert got["share_vix_above_30"][0] == pytest.approx(100.0 * np.mean(vix > 30))
    for lag in (1, 21, 63):
        assert got[f"vix_acf_{lag}"][0] == pytest.approx(acf(vix, nlags=lag, fft=False)[lag], rel=1e-10)
    assert got["spx_kurtosis"][0] == pytest.approx(stats.kurtosis(r, fisher=True, bias=True), rel=1e-10)
    assert got["spx_q001"][0] == pytest.approx(100.0 * np.quantile(r, 0.001))
    assert got["spx_vol"][0] == pytest.approx(100.0 * r.std() * np.sqrt(252.0))
    assert got["spx_vix_corr"][0] == pytest.approx(np.corrcoef(r, dv)[0, 1], rel=1e-10)
    assert got["vix_change_q999"][0] == pytest.approx(np.quantile(dv, 0.999))


def test_p_rows_pass_exactly_when_the_real_value_is_inside_the_band():
    m = _heston()
    real = pd.DataFrame({"spx": 100.0 * np.exp(np.cumsum(np.full(300, 0.0003))), "vix": np.full(300, 17.0)})
    real.iloc[150, 1] = 60.0                      # one spike no diffusion reproduces
    rows = p_rows("h", m, real, 8, np.random.default_rng(1))
    assert [r["statistic"] for r in rows] == list(P_STATISTICS)
    for r in rows:
        assert r["pass"] == (r["band_low"] <= r["real"] <= r["band_high"])
        assert r["band_low"] <= r["simulated"] <= r["band_high"] or not np.isfinite(r["simulated"])
    rise = next(r for r in rows if r["statistic"] == "vix_max_rise")
    assert rise["real"] == pytest.approx(43.0) and not rise["pass"]


@pytest.mark.slow
def test_q_rows_of_heston_are_its_exact_futures_and_the_real_bucket_means():
    """For Heston the model state of a day is the VIX alone, and the futures are the exact CIR-law
    integral at the contract's trading days to settlement."""
    m = _heston()
    days = q_days(every=40)
    rows = pd.DataFrame(q_rows("h", m, days))
    assert list(rows.columns) == list(COLUMNS)
    var = m.var_from_vix(days["vix"].to_numpy())
    exact = np.array([vix_futures_exact(float(v), float(k) * H, m.params) for v, k in zip(var, days["k3"])])
    bucket = pd.cut(days["vix"], [lo for _, lo, _ in VIX_BUCKETS] + [np.inf], right=False,
                    labels=[b for b, _, _ in VIX_BUCKETS])
    ref = pd.Series(exact, index=days.index).groupby(bucket, observed=True).mean()
    real = days["M3"].groupby(bucket, observed=True).mean()
    got = rows[rows["statistic"] == "futures_M3"].set_index("bucket")
    for b in ref.index:
        assert got.loc[b, "simulated"] == pytest.approx(ref[b], abs=0.03)      # the chain's grid error
        assert got.loc[b, "real"] == pytest.approx(real[b], rel=1e-12)
        assert got.loc[b, "band_high"] - got.loc[b, "real"] == pytest.approx(1.0)
        assert got.loc[b, "pass"] == (abs(got.loc[b, "simulated"] - real[b]) <= 1.0)


def test_scorecard_refuses_bad_arguments_and_has_the_columns():
    with pytest.raises(ValueError, match="n_paths"):
        scorecard({"h": _heston()}, n_paths=1)
    with pytest.raises(ValueError, match="common SPX/VIX days"):
        scorecard({"h": _heston()}, n_paths=2, start="2024-12-30", end="2024-12-31")


def _cli(*args, cwd):
    from conftest import alvh_cli

    return alvh_cli(*args, cwd=cwd)


@pytest.mark.slow
def test_validate_market_writes_the_csv_and_refuses_bad_input(tmp_path):
    from alvh.models.base import FitReport
    from alvh.modelspec import write_params

    folder = tmp_path / "params"
    folder.mkdir()
    write_params(folder / "heston.json", "heston", _heston(),
                 FitReport("heston", {}, {}, None, 1, 5, "test parameters"))
    out = tmp_path / "s.csv"
    proc = _cli("validate", "--market", "heston", "--params-dir", folder, "--paths", 3, "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out)
    assert tuple(table.columns) == COLUMNS
    assert set(table["side"]) == {"P", "Q"} and (table["model"] == "heston").all()
    assert "heston: passes" in proc.stdout
    bad = _cli("validate", "--market", "heston", "--params-dir", folder, "--out", tmp_path / "s.txt", cwd=tmp_path)
    assert bad.returncode == 2 and ".csv" in bad.stderr and not (tmp_path / "s.txt").exists()
    mine = out.read_bytes()
    bad = _cli("validate", "--market", "heston", "--params-dir", folder, "--out", out, cwd=tmp_path)
    assert bad.returncode == 2 and "exists" in bad.stderr and out.read_bytes() == mine
    bad = _cli("validate", "--market", "nomodel", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown model 'nomodel'" in bad.stderr


def test_model_scorecard_is_cached_by_the_models_parameters(tmp_path, monkeypatch):
    """The second call with the same parameters reads the cache (the scorecard is not computed again);
    other parameters are a new key."""
    from alvh import scorecard as sc_mod

    calls = []
    real = sc_mod.scorecard

    def counted(models, **kw):
        calls.append(list(models))
        return real(models, **kw)

    monkeypatch.setattr(sc_mod, "scorecard", counted)
    m = _heston()
    first = sc_mod.model_scorecard("heston", m, n_paths=3, cache_dir=tmp_path)
    again = sc_mod.model_scorecard("heston", m, n_paths=3, cache_dir=tmp_path)
    assert len(calls) == 1 and tuple(again.columns) == COLUMNS
    pd.testing.assert_frame_equal(first.reset_index(drop=True), again, check_dtype=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = HestonModel(HestonParams(v0=0.03, kappa=4.0, theta=0.03, sigma=0.6, rho=-0.7, mu=0.08, lam=-1.5))
    sc_mod.model_scorecard("heston", other, n_paths=3, cache_dir=tmp_path)
    assert len(calls) == 2
    assert "fails" in sc_mod.failed_rows(first) or "passes all" in sc_mod.failed_rows(first)


class _FlatSurface:
    """A Black-Scholes world: the same implied variance at every strike."""

    def __init__(self, vol):
        self.vol = vol

    def total_variance(self, k, tau, var, regime=None):
        return np.full(np.broadcast(np.asarray(k), np.asarray(var)).shape, self.vol**2 * float(tau))


def test_model_skew_is_100_without_skew_and_above_100_with_heston_leverage():
    """Cboe's SKEW is 100 - 10 S with S the risk-neutral skewness of the 30-day log return: 0 for a
    flat smile, within the strip's discretisation (SKEW white paper); Heston with rho < 0 has a
    negatively skewed log return, so a SKEW above 100."""
    from alvh.scorecard import model_skew

    flat = model_skew(_heston(), np.zeros(3, int), np.full(3, 0.04), surface=_FlatSurface(0.2))
    assert np.allclose(flat, 100.0, atol=0.05)
    lev = model_skew(_heston(), np.zeros(2, int), np.array([0.02, 0.06]))
    assert (lev > 105.0).all() and (lev < 200.0).all()
