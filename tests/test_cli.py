"""The `alvh` command end to end: a tiny real-data run, and bad input refused cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

TESTS = Path(__file__).parent
TINY = TESTS / "data" / "tiny.toml"


def alvh(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "alvh.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def _one_clean_line(proc):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("alvh: error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "tiny"
    proc = alvh("run", TINY, "--paths", 300, "--jobs", 2, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_run_writes_results_and_report(tiny_run):
    out, proc = tiny_run
    assert sorted(p.name for p in out.iterdir()) == [".alvh-output.json", "budget_sweep.csv", "claims.csv", "metrics.csv",
                                                      "report.html", "results.nc", "worst_paths.csv"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no partial folders left
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        assert ds.sizes["path"] == 300 and ds.attrs["seed"] == 7 and ds.attrs["jobs"] == 2
        assert "name = \"tiny\"" in ds.attrs["scenario_text"]
        assert list(ds["strategy"].values[:2]) == ["unhedged", "alvh"] and ds.attrs["main_hedge"] == "alvh"
        for name in ("pnl", "hedge_cost_annual_pct", "layer_pnl", "sample_vix", "calibration_value", "claim_verdict"):
            assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name
        assert ds["pnl"].attrs["units"] == "USD"
        m = ds["metric_value"]
        assert {"cvar99_annual", "cvar99_annual_reduction", "cost_median", "cost_share_1_2", "hedge_efficiency",
                "convexity", "cvar99_daily"} <= set(ds["metric"].values)
        # the metric table agrees with the per-path data it summarises
        cost = ds["hedge_cost_annual_pct"].sel(strategy="alvh").values
        assert float(m.sel(strategy="alvh", metric="cost_mean")) == pytest.approx(cost.mean())
        assert float(m.sel(strategy="alvh", metric="cost_median")) == pytest.approx(np.median(cost))
        assert float(m.sel(strategy="alvh", metric="cost_share_1_2")) == pytest.approx(np.mean((cost >= 1) & (cost <= 2)))
        # the claim check: the four claims for the main hedge, each with a verdict
        rows = [(int(c), str(v)) for c, s_, r, v in zip(ds["claim_id"].values, ds["claim_strategy"].values,
                                                          ds["claim_regime"].values, ds["claim_verdict"].values)
                if s_ == "alvh" and r == "all"]
        assert sorted(c for c, _ in rows) == [1, 2, 3, 4]
        assert {v for _, v in rows} <= {"supported", "refuted", "not decidable"}
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Claim check" in html and "<table" in html
    assert "Median annual net hedge cost" in proc.stdout and "claim 1" in proc.stdout


@pytest.mark.slow
def test_rerun_with_same_seed_is_identical(tiny_run, tmp_path):
    out, _ = tiny_run
    proc = alvh("run", TINY, "--paths", 300, "--jobs", 1, "--out", tmp_path / "again", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as a, \
            xr.open_dataset(tmp_path / "again" / "results.nc", engine="h5netcdf") as b:
        assert np.array_equal(a["pnl"].values, b["pnl"].values)
        assert np.array_equal(a["metric_value"].values, b["metric_value"].values, equal_nan=True)
        assert np.array_equal(a["claim_verdict"].values, b["claim_verdict"].values)


@pytest.mark.parametrize(
    "body, expected",
    [
        ('name = "t"\n[strategy.condor]\nwings = 50\n', "key 'strategy.condor.wings': unknown key"),
        ('name = "t"\n[simulation]\nseed = "abc"\n', "key 'simulation.seed': 'abc' is not of type 'integer'"),
        ('name = "t"\n[strategy.hedges.alvh]\nbudget_pct_per_year = -1\n',
         "key 'strategy.hedges.alvh.budget_pct_per_year': -1 is less than the minimum of 0"),
        ('name = "t"\n[data]\nspx = "no_such.csv"\n', "key 'data.spx': data file not found"),
        ('name = "t"\n[data]\nspx = "spx_bad.csv"\n', "key 'data.spx'"),
        ('name = "t"\n[simulation\n', "invalid TOML"),
        ('name = "t"\n[[stress.shocks]]\nday = 3\nspx_return = -0.1\nregime = 2\n', "regime 2 is outside 0..0"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, body, expected):
    scen = tmp_path / "bad.toml"
    scen.write_text(body)
    (tmp_path / "spx_bad.csv").write_text((TESTS / "data" / "spx_bad.csv").read_text())
    proc = alvh("run", scen, "--paths", 10, cwd=tmp_path)
    line = _one_clean_line(proc)
    assert str(scen) in line and expected in line
    assert not (tmp_path / "reports").exists()


def test_missing_scenario_file(tmp_path):
    line = _one_clean_line(alvh("run", tmp_path / "nope.toml", cwd=tmp_path))
    assert "nope.toml: file not found" in line
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("opt", [("--paths", "0"), ("--seed", "-3"), ("--jobs", "0"), ("--paths", "x")])
def test_bad_options_exit_2(tmp_path, opt):
    proc = alvh("run", TINY, *opt, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and opt[0] in proc.stderr
    assert not (tmp_path / "reports").exists()


@pytest.fixture(scope="module")
def heston_params(tmp_path_factory):
    out = tmp_path_factory.mktemp("params") / "heston.json"
    proc = alvh("calibrate", "heston", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_calibrate_writes_a_parameter_file_with_its_fit_report(heston_params):
    import json

    out, proc = heston_params
    doc = json.loads(out.read_text())
    assert doc["type"] == "heston" and set(doc["params"]) >= {"v0", "kappa", "theta", "sigma", "rho", "mu", "lam"}
    fit = doc["fit"]
    # AIC = 2k - 2 logL and BIC = k ln(n) - 2 logL (Akaike 1974; Schwarz 1978)
    assert fit["aic"] == pytest.approx(2 * fit["n_params"] - 2 * fit["loglik"])
    assert fit["bic"] == pytest.approx(fit["n_params"] * np.log(fit["n_obs"]) - 2 * fit["loglik"])
    assert fit["stderr"]["kappa"] > 0 and "log-likelihood" in proc.stdout


@pytest.mark.slow
def test_scenario_runs_from_a_parameter_file(heston_params, tmp_path):
    src, _ = heston_params
    (tmp_path / "p.json").write_text(src.read_text())
    scen = tmp_path / "fromfile.toml"
    scen.write_text('name = "fromfile"\n[model]\ntype = "heston"\nparams = "p.json"\n'
                    '[simulation]\nhorizon_years = 0.1\nchunk_size = 50\n')
    proc = alvh("run", scen, "--paths", 50, "--out", tmp_path / "o", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "parameters read from p.json" in proc.stderr


@pytest.mark.parametrize("doc, expected", [
    ('{"type": "bates", "params": {}}', "holds a 'bates' model, the scenario asks for 'heston'"),
    ('{"type": "heston", "params": {"v0": 0.02, "kappa": 2, "theta": 0.04, "sigma": 0.5, "rho": -1.5}}', "rho"),
    ('not json', "cannot read parameter file"),
])
def test_bad_parameter_files_are_refused(tmp_path, doc, expected):
    (tmp_path / "p.json").write_text(doc)
    scen = tmp_path / "s.toml"
    scen.write_text('name = "s"\n[model]\ntype = "heston"\nparams = "p.json"\n')
    line = _one_clean_line(alvh("run", scen, "--paths", 10, cwd=tmp_path))
    assert "p.json" in line and expected in line
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_validate_prints_the_table(tmp_path):
    proc = alvh("validate", "heston", "--paths", 20, "--out", tmp_path / "v.md")
    assert proc.returncode == 0, proc.stderr
    table = (tmp_path / "v.md").read_text()
    for row in ("VIX mean", "VIX 99% quantile", "SPX excess kurtosis", "days with SPX below -3%", "largest one-day VIX rise"):
        assert row in table
    assert "| statistic | units | real | heston |" in table
    bad = alvh("validate", "sabr")
    assert bad.returncode == 2 and "unknown model 'sabr'" in bad.stderr


@pytest.mark.slow
def test_sigterm_ends_a_run_like_ctrl_c_and_stops_its_workers(tmp_path):
    """A batch scheduler's SIGTERM (time limit, pre-emption): exit status 143 (128 + SIGTERM) with one
    line saying the finished chunks are kept for --resume, no traceback, nothing that looks like a
    result, and no joblib worker left behind (Python's default would end the parent at once and
    leave its workers idle for loky's 300 s)."""
    import signal
    import time

    import psutil

    out = tmp_path / "tiny"
    proc = subprocess.Popen([sys.executable, "-m", "alvh.cli", "run", str(TINY), "--paths", "200000", "--jobs", "2",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / ".tiny.chunks"
    deadline = time.monotonic() + 300
    while not any(checkpoint.glob("chunk_*")):           # the workers have started and finished a chunk
        assert proc.poll() is None and time.monotonic() < deadline, "no chunk finished"
        time.sleep(0.1)
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert workers
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "successfully executed" not in err      # nor joblib's abort warning
    assert [line for line in err.splitlines() if line.startswith("alvh: error:")] == [
        "alvh: error: terminated (SIGTERM); no result was written (finished chunks are kept: rerun the command "
        "with --resume)"]
    assert not out.exists() and any(checkpoint.glob("chunk_*"))
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"workers left running: {alive}"


@pytest.mark.slow
def test_progress_bar_shows_on_a_pseudo_terminal(tmp_path):
    """On a terminal (here a pseudo-terminal whose size was never set, as `script` or `ssh -t` give,
    which reports 0 columns and 0 rows) the chunk bar is drawn, says what it counts, and each frame
    fits in 100 characters. tqdm alone drew nothing there."""
    import os
    import pty
    import re

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "alvh.cli", "run", str(TINY), "--paths", "640", "--out",
                             str(tmp_path / "o"), "--no-checkpoint"], stdin=slave, stdout=slave, stderr=slave,
                            close_fds=True, env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:         # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=600) == 0
    text = b"".join(chunks).decode("utf-8", "replace")
    frames = [f for f in re.split(r"[\r\n]", text) if "chunks of 128 paths" in f]
    assert any(re.search(r"tiny: chunks of 128 paths:\s+\d+%\|.*\| \d+/5 ", f) for f in frames), text[-2000:]
    assert max(len(f) for f in frames) <= 100


def test_terminal_summary_fits_100_columns_and_says_why(tiny_run):
    """The summary alvh run prints: no line over 100 characters, no unit '1' printed after a ratio
    ('0.958 1'), and a 'not decidable' verdict says why in brackets."""
    import re

    _, proc = tiny_run
    lines = proc.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 100, max(lines, key=len)
    assert not re.search(r"\d 1 \(95% CI", proc.stdout)
    for m in re.finditer(r"NOT DECIDABLE(.)", proc.stdout):
        assert m.group(1) == " " and proc.stdout[m.end():m.end() + 1] == "(", proc.stdout
