"""`alvh agree`: two runs of one scenario compared metric by metric within their standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from alvh.agree import agreement, format_agreement
from alvh.results import analyse, build_dataset, write_dataset
from alvh.runner import run


def _ds(prepared, n, seed):
    res = run(prepared, n, seed=seed, jobs=1, progress=False)
    m, c = analyse(res)
    ds = build_dataset(res, m, c)
    ds.attrs.setdefault("chunk_size", res.chunk_size)
    return ds


@pytest.fixture(scope="module")
def runs(tiny_prepared):
    # chunks of 128: the 256-path run is the first two chunks of the 512-path run
    return _ds(tiny_prepared, 256, 21), _ds(tiny_prepared, 512, 21), _ds(tiny_prepared, 512, 22)


@pytest.mark.slow
def test_nested_runs_agree_and_a_shifted_metric_is_found(runs):
    small, large, _ = runs
    res = agreement(small, large)
    assert res.nested and res.n_paths_a == 256 and res.n_paths_b == 512
    assert len(res.comparisons) > 50 and res.agree, format_agreement(res, "small", "large")
    # nested: the SD of a difference of means is sqrt(se_small^2 - se_large^2)
    c = next(c for c in res.comparisons if c.strategy == "unhedged" and c.metric == "pnl_mean")
    assert c.z == pytest.approx((c.value_a - c.value_b) / np.sqrt(c.se_a ** 2 - c.se_b ** 2))
    # move one estimate by 8 of its nested standard deviations: the verdict must turn, naming it
    shifted = large.copy(deep=True)
    i = list(shifted["strategy"].values).index("unhedged")
    j = list(shifted["metric"].values).index("pnl_mean")
    shifted["metric_value"].values[i, j] = c.value_a - 8.0 * np.sqrt(c.se_a ** 2 - c.se_b ** 2)
    bad = agreement(small, shifted)
    assert not bad.agree
    assert (bad.comparisons[0].strategy, bad.comparisons[0].metric) == ("unhedged", "pnl_mean")
    assert bad.comparisons[0].z == pytest.approx(8.0)


def test_independent_runs_use_the_sum_of_variances(runs):
    _, large, other = runs
    res = agreement(large, other)
    assert not res.nested
    c = next(c for c in res.comparisons if c.metric == "pnl_mean")
    assert c.z == pytest.approx((c.value_a - c.value_b) / np.hypot(c.se_a, c.se_b))
    assert res.threshold == pytest.approx(
        __import__("scipy").stats.norm.isf(0.05 / (2 * len(res.comparisons))))


def test_command_line_exit_status(runs, tmp_path, capsys):
    from alvh.cli import main

    small, large, _ = runs
    write_dataset(small, tmp_path / "a.nc")
    write_dataset(large, tmp_path / "b.nc")
    assert main(["agree", str(tmp_path / "a.nc"), str(tmp_path / "b.nc")]) == 0
    assert "nested" in capsys.readouterr().out        # the attributes survive reading the files
    shifted = large.copy(deep=True)
    shifted["metric_value"].values[0, 0] += 1e6
    write_dataset(shifted, tmp_path / "c.nc")
    assert main(["agree", str(tmp_path / "a.nc"), str(tmp_path / "c.nc")]) == 5
    assert main(["agree", str(tmp_path / "a.nc"), str(tmp_path / "missing.nc")]) == 2
    with pytest.raises(ValueError):
        agreement(small, large, alpha=1.5)


def test_a_metric_constant_across_paths_is_equal_to_rounding_but_a_changed_constant_is_not(runs):
    # A premium paid on every path is a mean of equal values: its SE is rounding noise (~1e-19)
    # and two runs' means differ in the last bits (sums over 256 and 512 values). Seen on the
    # 100k vs 10M baseline runs (spx_put_spread hedge_premium_mean: |z| = 320 from 1 ulp).
    small, large, _ = runs
    a, b = small.copy(deep=True), large.copy(deep=True)
    i = list(a["strategy"].values).index("unhedged")
    j = list(a["metric"].values).index("pnl_mean")
    a["metric_value"].values[i, j], a["metric_se"].values[i, j] = 1.518, 7e-19
    b["metric_value"].values[i, j], b["metric_se"].values[i, j] = np.nextafter(1.518, 2.0), 1e-20
    base = agreement(small, large)
    res = agreement(a, b)
    assert res.agree, format_agreement(res, "a", "b")
    assert res.identical == base.identical + 1
    assert len(res.comparisons) == len(base.comparisons) - 1
    # the same constant changed by 1e-6 relative is a disagreement, found first
    b["metric_value"].values[i, j] = 1.518 * (1 + 1e-6)
    bad = agreement(a, b)
    assert not bad.agree
    assert (bad.comparisons[0].strategy, bad.comparisons[0].metric) == ("unhedged", "pnl_mean")


def test_a_reader_that_goes_away_ends_the_command_without_a_traceback(runs, tmp_path):
    # `alvh agree A B | head -1`: the pipe closes before the table is printed
    import subprocess
    import sys

    small, large, _ = runs
    write_dataset(small, tmp_path / "a.nc")
    write_dataset(large, tmp_path / "b.nc")
    proc = subprocess.Popen([sys.executable, "-m", "alvh.cli", "agree", str(tmp_path / "a.nc"), str(tmp_path / "b.nc")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                 # long before the child has read the files and printed
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
