"""Every bundled scenario runs end to end (calibration, paths, pricing, books, metrics, claim check,
dataset) at tiny size."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

from alvh.config import load_scenario

SCENARIOS = sorted((Path(__file__).parents[1] / "scenarios").glob("*.toml"))


def test_the_texts_variants_and_the_baselines_are_bundled():
    names = {p.stem for p in SCENARIOS}
    assert {"baseline", "alvh_45dte", "alvh_1dte"} <= names
    for stem in ("baseline", "alvh_45dte", "alvh_1dte"):
        sc = load_scenario(Path(__file__).parents[1] / "scenarios" / f"{stem}.toml")
        hedges = {h.name: h for h in sc.hedges}
        assert {"alvh", "vix_ladder", "vxth", "spx_put_spread"} <= set(hedges), stem
        assert any(h.kind == "sweep" for h in sc.hedges), stem
    one = load_scenario(Path(__file__).parents[1] / "scenarios" / "alvh_1dte.toml")
    assert one.condor.dte == 1 and one.condor.entry_interval_days == 1


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs_end_to_end_at_tiny_size(path):
    from alvh.results import analyse, build_dataset
    from alvh.runner import prepare, replay, run

    sc = load_scenario(path)
    # 0.1 years keeps every bundled shock day (21) inside the horizon
    sc = dataclasses.replace(sc, simulation={**sc.simulation, "horizon_years": 0.1, "chunk_size": 16,
                                             "sample_paths_per_chunk": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prep = prepare(sc, seed=3)
        n = 1 if sc.model["type"] == "replay" else 24
        res = run(prep, n, seed=3, jobs=1, progress=False)
        rp = replay(prep) if sc.analysis["replay"] and sc.model["type"] != "replay" else None
    n_strat = 1 + len(sc.hedges)
    assert res.per_strategy["pnl"].shape == (n_strat, n)
    assert np.all(np.isfinite(res.per_strategy["pnl"])) and np.all(np.isfinite(res.per_strategy["hedge_premium"]))
    assert res.sample_spx.shape[1] == prep.n_steps + 1
    assert np.all(res.sample_regime < prep.model.n_regimes)
    for shock in prep.shocks:  # a scripted day moves SPX by exactly its return on every sampled path
        np.testing.assert_allclose(res.sample_spx[:, shock.day] / res.sample_spx[:, shock.day - 1],
                                   1.0 + shock.spx_return, rtol=1e-12)
    metrics, claims = analyse(res)
    # the claim-check table: every claim for every hedged strategy, each with a verdict
    hedged = [h.name for h in sc.hedges]
    for name in hedged:
        got = {c.claim for c in claims if c.strategy == name and c.regime == "all"}
        assert got == {1, 2, 3, 4}, (name, got)
    assert {c.verdict for c in claims} <= {"supported", "refuted", "not decidable"}
    ds = build_dataset(res, metrics, claims, replay=rp)
    assert ds.attrs["model_type"] == prep.model.name
    assert list(ds["strategy"].values) == ["unhedged", *hedged]
    assert ds.sizes["claim_row"] == len(claims)
    assert np.isfinite(ds["calibration_value"].values).all()
    if rp is not None:
        # one row per calendar year of the real window (2014-2018 for most scenarios, 1990-2024 for baseline)
        years = np.unique(np.asarray(prep.data.dates).astype("datetime64[Y]"))
        assert "replay_pnl_pct" in ds and ds.sizes["replay_year"] == years.size


def test_example_batch_expands_to_valid_points():
    """The shipped batch file validates and expands to its 3 x 2 x 2 grid, each point a valid scenario."""
    from alvh.batch import load_batch

    spec = load_batch(Path(__file__).parents[1] / "scenarios" / "batches" / "budget_threshold_model.toml")
    assert spec.dims == ["budget_pct_per_year", "trigger_vix", "model_type"]
    assert len(spec.points) == 12 and not [p.error for p in spec.points if p.error]
    last = spec.points[-1].scenario
    main = next(h for h in last.hedges if h.name == "alvh")
    assert (main.budget_pct_per_year, main.layers[1].trigger_vix, last.model["type"]) == (3.0, 20.0, "bates")
    # every other key is the base scenario's
    first = spec.points[0].scenario
    assert first.simulation["chunk_size"] == 2000 and first.condor.dte == last.condor.dte
