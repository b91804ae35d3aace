"""Every bundled scenario runs end to end (calibration, paths, pricing, books, metrics, dataset) at tiny size."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

from sim.config import load_scenario

SCENARIOS = sorted((Path(__file__).parents[1] / "scenarios").glob("*.toml"))


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs_end_to_end_at_tiny_size(path):
    from sim.results import build_dataset, compute_metrics
    from sim.runner import prepare, run

    sc = load_scenario(path)
    # 0.1 years keeps every bundled shock day (21) inside the horizon
    sc = dataclasses.replace(sc, simulation={**sc.simulation, "horizon_years": 0.1, "chunk_size": 16,
                                             "sample_paths_per_chunk": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prep = prepare(sc, seed=3)
        n = 1 if sc.model["type"] == "replay" else 24
        res = run(prep, n, seed=3, jobs=1, progress=False)
    assert res.per_path["pnl_hedged"].shape == (n,)
    assert np.all(np.isfinite(res.per_path["pnl_hedged"])) and np.all(np.isfinite(res.per_path["hedge_premium"]))
    assert res.sample_spx.shape[1] == prep.n_steps + 1
    assert np.all(res.sample_regime < prep.model.n_regimes)
    for shock in prep.shocks:  # a scripted day moves SPX by exactly its return on every sampled path
        np.testing.assert_allclose(res.sample_spx[:, shock.day] / res.sample_spx[:, shock.day - 1],
                                   1.0 + shock.spx_return, rtol=1e-12)
    metrics = compute_metrics(res.per_path, sc.market.capital, prep.n_steps * prep.dt)
    ds = build_dataset(res, metrics)
    assert ds.attrs["model_type"] == prep.model.name
    assert np.isfinite(ds["calibration_value"].values).all()
