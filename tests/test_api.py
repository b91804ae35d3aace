"""The Python API (``import alvh``): one import name, the worked example of docs/pages/api.md, the in-memory
run against the CLI's result, and the calibration cache."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parent.parent
TINY = ROOT / "tests" / "data" / "tiny.toml"


def test_the_distribution_installs_one_import_name():
    """The wheel's top-level name is alvh: nothing named sim or models lands in site-packages."""
    from importlib.metadata import distribution

    top = distribution("alvh").read_text("top_level.txt")
    assert top is not None and top.split() == ["alvh"]
    import alvh
    import alvh.models

    assert alvh.models.__name__ == "alvh.models" and (Path(alvh.__file__).parent / "api.py").is_file()
    assert alvh.__version__ and callable(alvh.run) and callable(alvh.load_scenario)
    for folder_name in ("sim", "models"):       # not importable under the folders' names (conftest)
        with pytest.raises(ModuleNotFoundError):
            __import__(folder_name)


@pytest.mark.slow
def test_the_worked_example_of_the_docs_runs(monkeypatch, tmp_path, capsys):
    """Every ```python block of docs/pages/api.md, run as written from the repository's root."""
    monkeypatch.chdir(ROOT)       # the session's calibration cache (conftest) keeps the fit for later tests
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "pages" / "api.md").read_text(encoding="utf-8"), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, "docs/pages/api.md", "exec"), {"__name__": "__docs__"})
    out = capsys.readouterr().out
    assert "ALVH stress test 'baseline': 2,000 paths" in out and "ALVH: median net cost" in out


@pytest.mark.slow
def test_in_memory_run_equals_the_cli_result(tmp_path, monkeypatch):
    """alvh.run(out=None) computes what `alvh run` writes: every variable bit for bit; Result.metrics
    and .claims are the rows of metrics.csv and claims.csv; pnl_pct is pnl / capital x 100."""
    import pandas as pd
    import xarray as xr

    import alvh
    from alvh.cli import main
    from alvh.pipeline import compare_results

    monkeypatch.setenv("ALVH_CACHE_DIR", str(tmp_path / "cache"))
    r = alvh.run(TINY, n_paths=40, seed=3, jobs=1)
    assert r.out is None and not (tmp_path / "o").exists()
    assert main(["run", str(TINY), "--paths", "40", "--seed", "3", "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    with xr.open_dataset(tmp_path / "o" / "results.nc", engine="h5netcdf") as written:
        assert compare_results(r.dataset, written.load()) == []
    csv = pd.read_csv(tmp_path / "o" / "metrics.csv")
    assert list(r.metrics.columns) == list(csv.columns) and len(r.metrics) == len(csv)
    np.testing.assert_allclose(r.metrics["value"].to_numpy(float), csv["value"].to_numpy(float), rtol=1e-12,
                               equal_nan=True)
    assert len(r.claims) == len(pd.read_csv(tmp_path / "o" / "claims.csv"))
    capital = float(r.dataset.attrs["capital_usd"])
    np.testing.assert_array_equal(r.pnl_pct.values, r.dataset["pnl"].values / capital * 100.0)
    assert r.pnl_pct.attrs["units"] == "% of capital"
    assert "ALVH stress test 'tiny'" in r.summary()
    assert r.report(tmp_path / "r.html").stat().st_size > 10_000
    assert r.to_netcdf(tmp_path / "r.nc").is_file()


def test_api_refuses_bad_input_before_any_work(tmp_path):
    import alvh
    from alvh.outdir import OutputFolderError

    bad = tmp_path / "s.toml"
    bad.write_text('name = "x"\n[market]\nrate = nan\n')
    with pytest.raises(alvh.ConfigError, match="key 'market.rate'"):
        alvh.run(bad)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(OutputFolderError, match="notes.txt"):
        alvh.run(TINY, n_paths=10, out=tmp_path / "mine")
    with pytest.raises(ValueError, match="n_paths"):
        alvh.run(TINY, n_paths=1)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


@pytest.mark.slow
def test_calibration_cache_gives_the_fresh_calibration(tmp_path, tiny_scenario):
    """A cached calibration is the fresh one (model and fit report, every float), keyed by the data:
    another window is another entry; an unreadable entry is recalibrated, not trusted."""
    from alvh.data import load_market_data
    from alvh.modelspec import calibrate, calibrate_cached

    data = load_market_data(tiny_scenario.data, "tiny", TINY.parent)
    fresh_model, fresh_fit = calibrate("heston", data)
    m1, f1 = calibrate_cached("heston", data, cache_dir=tmp_path)
    files = list(tmp_path.glob("heston-*.json"))
    assert len(files) == 1
    m2, f2 = calibrate_cached("heston", data, cache_dir=tmp_path)       # read back
    for m, f in ((m1, f1), (m2, f2)):
        assert m.to_dict() == fresh_model.to_dict()
        assert json.dumps(f.to_dict(), default=str) == json.dumps(fresh_fit.to_dict(), default=str)
    shorter = load_market_data({**tiny_scenario.data, "end": "2017-12-29"}, "tiny", TINY.parent)
    calibrate_cached("heston", shorter, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("heston-*.json"))) == 2
    files[0].write_text("{ not json")
    m3, _ = calibrate_cached("heston", data, cache_dir=tmp_path)
    assert m3.to_dict() == fresh_model.to_dict() and json.loads(files[0].read_text())["type"] == "heston"
