"""The results Dataset of a run with more paths than it keeps per path (``simulation.result_paths``).

The worst-paths table and the layer/leg attribution must describe all paths, not the kept head: the
dataset built with a small ``result_paths`` must give the same tables as the dataset that keeps every
path, where the attribution is recomputed from the per-path variables (the report's fallback, an
independent second computation).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from alvh.report import _attribution, _worst_paths_frame
from alvh.results import WORST_PATHS, analyse, build_dataset, kept_paths
from alvh.runner import run

N_PATHS = 300
HEAD = 40


@pytest.fixture(scope="module")
def datasets(tiny_prepared):
    res = run(tiny_prepared, N_PATHS, seed=11, jobs=1, progress=False)
    metrics, claims = analyse(res)
    sc = tiny_prepared.scenario

    def build(head):
        scenario = dataclasses.replace(sc, simulation={**sc.simulation, "result_paths": head})
        return build_dataset(dataclasses.replace(res, prepared=dataclasses.replace(res.prepared, scenario=scenario)),
                             metrics, claims)

    return res, build(HEAD), build(N_PATHS)


def test_kept_paths_are_the_head_and_the_worst_of_all_paths(datasets):
    res, part, full = datasets
    unhedged = np.asarray(res.per_strategy["pnl"][0])
    worst = np.argsort(unhedged, kind="stable")[:WORST_PATHS]
    assert worst.max() >= HEAD           # some worst paths lie beyond the head: the test can fail
    sel = kept_paths(res, HEAD)
    assert np.array_equal(sel, np.union1d(np.arange(HEAD), worst))
    assert np.array_equal(part["path"].values, sel)
    assert part.attrs["result_paths"] == HEAD and part.attrs["worst_paths_kept"] == sel.size - HEAD
    np.testing.assert_array_equal(part["pnl"].values, full["pnl"].values[:, sel])
    np.testing.assert_array_equal(part["layer_pnl"].values, full["layer_pnl"].values[:, :, sel])
    assert np.array_equal(full["path"].values, np.arange(N_PATHS)) and full.attrs["worst_paths_kept"] == 0


def test_worst_paths_table_covers_all_paths(datasets):
    _, part, full = datasets
    a, b = _worst_paths_frame(part), _worst_paths_frame(full)
    assert len(a) == WORST_PATHS
    assert (a["path"].values >= HEAD).any()
    assert a.reset_index(drop=True).equals(b.reset_index(drop=True))


def test_attribution_is_over_all_paths(datasets):
    """Stored means and SEs (all paths) against the per-path recomputation on the dataset keeping all."""
    _, part, full = datasets
    per_path = full.drop_vars([v for v in full.data_vars if str(v).endswith(("_mean", "_se"))
                               and str(v).split("_")[0] in ("layer", "hedge", "condor")])
    assert "layer_pnl_mean" not in per_path
    for got_rows, want_rows in zip(_attribution(part)[:2], _attribution(per_path)[:2]):
        assert len(got_rows) == len(want_rows) > 0
        for g, w in zip(got_rows, want_rows):
            ests = zip(g["est"], w["est"]) if isinstance(g["est"], list) else [(g["est"], w["est"])]
            if "total" in g:
                ests = [*ests, (g["total"], w["total"])]
            for eg, ew in ests:
                assert (eg is None) == (ew is None)
                if eg is not None:
                    assert eg.value == pytest.approx(ew.value, rel=1e-12, abs=1e-12)
                    assert eg.se == pytest.approx(ew.se, rel=1e-12, abs=1e-12)
    # and the head alone would differ: the stored figures are not the kept paths' means
    head_only = part.drop_vars(["layer_pnl_mean", "hedge_book_pnl_mean", "condor_leg_pnl_mean"])
    assert _attribution(head_only)[1][0]["est"].value != pytest.approx(_attribution(part)[1][0]["est"].value)


def test_distributions_use_the_head_and_a_format_change_is_named(datasets):
    """The report's distributions read the leading paths only (the worst 20 are appended after them),
    and comparing results of two layouts says so first."""
    from alvh.pipeline import compare_results
    from alvh.report import _head

    _, part, full = datasets
    head = _head(part)
    assert head.sizes["path"] == HEAD and np.array_equal(head["path"].values, np.arange(HEAD))
    assert _head(full).sizes["path"] == N_PATHS
    # a layer a book does not have is NaN, not 0
    n_layers = [len(h.layers) for h in datasets[0].strategies[1:]]
    for i, k in enumerate(n_layers, 1):
        assert np.isnan(part["layer_pnl_mean"].values[i, k:]).all()
        assert np.isfinite(part["layer_pnl_mean"].values[i, :k]).all()
    older = full.copy()
    del older.attrs["results_format"]
    diffs = compare_results(older, full)
    assert diffs and diffs[0].startswith("results format 1 vs 2")
    assert compare_results(full, full.copy()) == []


@pytest.mark.slow
def test_analysis_memory_grows_by_at_most_seven_values_per_path(tiny_prepared):
    """The analysis of a 10M-path run reads the per-path summaries from disk and holds few float64
    arrays of n values at once. Its peak is in the hedge-efficiency ratio: the two centred controls,
    the unhedged annual loss, the kept 99% paired-CVaR influence, the hedge cost and the ratio's two
    temporaries, seven arrays (56 bytes per path). Measured as the growth of the traced peak
    (tracemalloc) between 4,000 and 12,000 paths, after one untimed analysis, with a daily sample
    small enough not to count. Measured (2026-11-22): 46 bytes per path; 97 before the
    controls were read when used and the influence arrays computed in place and dropped after use.
    At 10M paths (a 100k-path store tiled 100 times) that change took the analysis's peak RSS from
    2.06 to 1.58 GiB."""
    import tracemalloc

    sc = tiny_prepared.scenario
    p = dataclasses.replace(tiny_prepared, scenario=dataclasses.replace(
        sc, simulation={**sc.simulation, "daily_paths": 100, "max_sample_paths": 5}))
    sizes = (4_000, 12_000)
    results = [run(p, n, seed=3, jobs=1, progress=False) for n in sizes]
    analyse(results[0])                         # one-time imports and caches, outside the measurement
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    peaks = []
    try:
        for res in results:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            analyse(res)
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        if not was_tracing:
            tracemalloc.stop()
    per_path = (peaks[1] - peaks[0]) / (sizes[1] - sizes[0])
    assert 0 < per_path <= 56, per_path
