"""Nothing lost, nothing silently wrong: the nine faults of the safety review, one test each.

Each test reproduces a fault found by hand on the code before the output-folder marker
(:mod:`alvh.outdir`) and the up-front validation of :func:`alvh.config.parse_scenario`, and checks the
contract instead: a refusal before any work (exit 2, one line naming the file, the key and the
rule, nothing written or deleted), or a hint that fits the run. Most run ``alvh`` in-process
(:func:`alvh.cli.main`), since a refusal costs no simulation.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import snapshot

from alvh.cli import main

TESTS = Path(__file__).parent
TINY = TESTS / "data" / "tiny.toml"


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run ``alvh ARGS`` in this process; (exit status, stdout, stderr)."""
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(rc: int, err: str) -> str:
    """The single ``alvh: error:`` line of a refusal (exit 2, no traceback, no warnings around it)."""
    assert rc == 2, err
    assert "Traceback" not in err and "Warning" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("alvh: error: "), err
    return lines[0]


def plant(path: Path, kind: str) -> None:
    """A user's file (``kind`` "file") or folder holding a file ("dir") at ``path``."""
    if kind == "file":
        path.write_text("my notes, not a pid")
    else:
        path.mkdir()
        (path / "notes.txt").write_text("mine")


def scenario(tmp_path: Path, body: str, name: str = "s") -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(body, encoding="utf-8")
    return p


# --- fault 1: --out at a folder of the user's files ------------------------------------------------

@pytest.mark.parametrize("command", ["run", "rerun"])
def test_fault1_out_folder_with_user_files_is_refused_and_untouched(tmp_path, capsys, command):
    """Fault 1: ``--out DIR`` holding the user's files deleted them and left DIR mode 0700. Now: exit 2,
    one line naming the folder, a file in it and the rule; every file, and the folder's mode, as before."""
    user = tmp_path / "mine"
    (user / "sub").mkdir(parents=True)
    (user / "thesis.tex").write_text("years of work")
    (user / "sub" / "data.csv").write_text("1,2,3")
    os.chmod(user, 0o755)
    before = snapshot(user)
    if command == "run":
        rc, _, err = cli(capsys, "run", TINY, "--out", user, "--no-progress")
    else:   # rerun reads its source result first: a stand-in that passes its checks up to the output folder
        src = _fake_result(tmp_path / "res")
        rc, _, err = cli(capsys, "rerun", src, "--out", user, "--no-progress")
    line = one_line(rc, err)
    assert "--out" in line and str(user) in line and "sub" in line and "alvh did not write" in line, line
    assert "marker" in line and "rule" in line
    assert snapshot(user) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["mine"] + (["res"] if command == "rerun" else []))


def _fake_result(folder: Path) -> Path:
    """A results.nc with the attributes ``alvh rerun`` reads (the tiny scenario's text)."""
    import xarray as xr

    folder.mkdir()
    ds = xr.Dataset(attrs={"scenario_text": TINY.read_text(), "seed": 7, "n_paths": 10, "chunk_size": 10,
                           "scenario_path": str(TINY)})
    ds.to_netcdf(folder / "results.nc", engine="h5netcdf")
    return folder / "results.nc"


def test_fault1_home_root_and_working_folder_are_refused(tmp_path, capsys, monkeypatch):
    """``--out ~`` would have emptied a home folder; ``/`` and the working folder (or above) likewise."""
    home = tmp_path / "home"
    work = home / "work"
    work.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    for out, why in ((home, "home folder"), ("/", "root"), (".", "working folder"), ("..", "home folder")):
        line = one_line(*cli(capsys, "run", TINY, "--out", out, "--no-progress")[::2])
        assert why in line, (out, line)
    assert [p.name for p in home.iterdir()] == ["work"] and not list(work.iterdir())


def test_fault1_a_symlink_is_refused(tmp_path, capsys):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    line = one_line(*cli(capsys, "run", TINY, "--out", tmp_path / "link", "--no-progress")[::2])
    assert "symbolic link" in line and (tmp_path / "link").is_symlink()


def test_fault1_own_result_is_replaced_with_the_users_modes(tmp_path):
    """alvh's own result folder (marker) is replaced; the new folder and files get the umask's modes,
    not the 0700/0600 of a temporary folder."""
    from alvh.outdir import MARKER, check_result_folder, publish_mode, write_marker

    res = tmp_path / "res"
    res.mkdir()
    (res / "results.nc").write_bytes(b"x")
    write_marker(res, "result")
    check_result_folder(res)            # accepted: alvh wrote all of it
    (res / "notes.txt").write_text("mine")
    from alvh.outdir import OutputFolderError

    with pytest.raises(OutputFolderError, match="notes.txt"):
        check_result_folder(res)
    doc = json.loads((res / MARKER).read_text())
    assert doc["kind"] == "result" and doc["files"] == ["results.nc"] and doc["written_by"].startswith("alvh")
    old = os.umask(0o022)
    try:
        os.chmod(res, 0o700)
        os.chmod(res / "results.nc", 0o600)
        publish_mode(res)
    finally:
        os.umask(old)
    assert stat.S_IMODE(res.stat().st_mode) == 0o755 and stat.S_IMODE((res / "results.nc").stat().st_mode) == 0o644


@pytest.mark.parametrize("entry, kind", [
    (".r.lock", "file"), (".r.chunks", "dir"), (".r-old-backup", "dir"), (".r-partial-keep", "dir"),
])
def test_fault1_user_files_named_like_alvh_work_files_are_refused_and_untouched(tmp_path, capsys, entry, kind):
    """Beside an output folder alvh keeps its lock, checkpoint, and partial and set-aside folders; a user's
    file or folder of such a name (a lock holding text, a folder without alvh's manifest or marker) was
    overwritten, deleted, adopted or renamed into the result. Now the run is refused before any work."""
    p = tmp_path / entry
    plant(p, kind)
    before = snapshot(tmp_path)
    line = one_line(*cli(capsys, "run", TINY, "--out", tmp_path / "r", "--no-progress")[::2])
    assert repr(str(p)) in line and "alvh did not write it" in line, line
    assert snapshot(tmp_path) == before


def test_fault1_a_marker_alvh_did_not_write_and_odd_names(tmp_path, capsys):
    """A marker whose file list is not a list of names is not alvh's (it raised TypeError); a file name
    with a newline is quoted, so the refusal stays one line."""
    from alvh.outdir import MARKER

    out = tmp_path / "o"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"format": "alvh-output/1", "kind": "result", "files": [{"a": 1}]}))
    (out / "bad\nname.txt").write_text("x")
    before = snapshot(out)
    line = one_line(*cli(capsys, "run", TINY, "--out", out, "--no-progress")[::2])
    assert "'bad\\nname.txt'" in line and snapshot(out) == before


def test_fault3_batch_fresh_never_removes_hidden_user_files(tmp_path, capsys):
    """--fresh removes a batch folder only if everything in it is alvh's: a hidden user file whose name
    merely contains '-old-' or '.lock', or a user folder named like a point's checkpoint, stops it."""
    from alvh.outdir import BATCH_ENTRIES, write_marker

    for name, make in ((".thesis-old-draft.txt", "file"), (".my.lock", "file"), ("points/.mywork.chunks", "dir")):
        out = tmp_path / name.replace("/", "_").strip(".") / "out"
        (out / "points").mkdir(parents=True)
        write_marker(out, "batch", BATCH_ENTRIES)
        (out / "batch_manifest.json").write_text("{}")
        plant(out / name, make)
        before = snapshot(out)
        line = one_line(*cli(capsys, "batch", TINY, "--out", out, "--fresh", "--no-progress")[::2])
        assert "alvh did not write" in line, line
        assert snapshot(out) == before


def test_model_warnings_per_regime():
    """The Feller warning of a model with a variance level per regime (regime_heston's theta and sigma are
    lists): the lowest regime's ratio is the one reported; a scalar model as before."""
    from alvh.modelspec import FELLER_WARN_BELOW, model_warnings

    class Stub:
        def __init__(self, d):
            self.d = d

        def to_dict(self):
            return self.d

    class Fit:
        notes = ["kappa_q is at its lower bound 0.01 (the likelihood rises)", "Feller ratio 0.5"]

    ok = Stub({"kappa": 5.0, "theta": [0.01, 0.04], "sigma": [0.2, 0.4]})     # 2.5 and 2.5
    assert model_warnings(ok, type("F", (), {"notes": []})()) == []
    bad = Stub({"kappa": 1.0, "theta": [0.04, 0.0005], "sigma": [0.2, 1.0]})  # 2.0 and 0.001
    w = model_warnings(bad, Fit())
    assert len(w) == 2 and "0.001" in w[0] and str(FELLER_WARN_BELOW) in w[0]
    assert w[1] == "kappa_q is at its lower bound 0.01"


# --- faults 2 and 3: names that are not folder names ------------------------------------------------

@pytest.mark.parametrize("name", [".", "..", ".hidden", "/tmp/x", "a/b", ""])
def test_fault2_names_that_resolve_outside_reports_are_refused(tmp_path, capsys, monkeypatch, name):
    """Fault 2: ``name = "."`` without --out deleted the whole reports/ folder. Now the schema refuses it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports" / "earlier").mkdir(parents=True)
    (tmp_path / "reports" / "earlier" / "results.nc").write_text("an earlier result")
    before = snapshot(tmp_path / "reports")
    path = scenario(tmp_path, f'name = {json.dumps(name)}\n')
    line = one_line(*cli(capsys, "run", path, "--no-progress")[::2])
    assert str(path) in line and "key 'name'" in line and "not starting with '.'" in line, line
    assert snapshot(tmp_path / "reports") == before


def test_fault3_a_batch_never_removes_finished_points(tmp_path, capsys):
    """Fault 3: a scenario named "." inside a batch replaced points/, deleting the finished points. Now the
    batch is refused before its first point and the finished point is untouched."""
    from alvh.outdir import BATCH_ENTRIES, write_marker

    out = tmp_path / "batch"
    done = out / "points" / "good"
    done.mkdir(parents=True)
    (done / "results.nc").write_text("finished point")
    write_marker(done, "result")
    (out / "batch_manifest.json").write_text(json.dumps({"points": {"good": {"status": "complete"}}}))
    write_marker(out, "batch", BATCH_ENTRIES)
    before = snapshot(out)
    dot = scenario(tmp_path, 'name = "."\n[simulation]\nn_paths = 10\n', "dot")
    line = one_line(*cli(capsys, "batch", TINY, dot, "--out", out, "--resume", "--no-progress")[::2])
    assert str(dot) in line and "key 'name'" in line
    assert snapshot(out) == before


def test_fault3_a_batch_folder_with_user_files_is_refused(tmp_path, capsys):
    out = tmp_path / "b"
    out.mkdir()
    (out / "todo.txt").write_text("mine")
    before = snapshot(out)
    line = one_line(*cli(capsys, "batch", TINY, "--out", out, "--fresh", "--no-progress")[::2])
    assert "todo.txt" in line and "alvh did not write" in line
    assert snapshot(out) == before


# --- faults 4, 5 and 7: non-finite values ---------------------------------------------------------------

@pytest.mark.parametrize("body, key", [
    ("[market]\nrate = nan\n", "market.rate"),                                          # fault 4
    ("[strategy.hedges.alvh]\nbudget_pct_per_year = nan\n", "strategy.hedges.alvh.budget_pct_per_year"),  # 5
    ("[portfolio]\ncapital = inf\n", "portfolio.capital"),                              # fault 7
    ("[strategy.condor]\nshort_delta = nan\n", "strategy.condor.short_delta"),          # fault 7
    ("[model]\nv0 = nan\n", "model.v0"),
    ("[analysis]\nbudget_sweep = [1.0, -inf]\n", "analysis.budget_sweep[1]"),
])
def test_faults_4_5_7_non_finite_values_are_refused_before_any_work(tmp_path, capsys, body, key):
    """NaN passes every JSON-Schema minimum and maximum; it used to run to a verdict with exit 0 (rate,
    budget) or fail after the simulation behind numpy warnings (capital, short delta)."""
    path = scenario(tmp_path, 'name = "x"\n' + body)
    rc, out, err = cli(capsys, "run", path, "--out", tmp_path / "o", "--no-progress")
    line = one_line(rc, err)
    assert f"key '{key}'" in line and "not a finite number" in line and str(path) in line, line
    assert out == "" and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# --- fault 6: refusals that came late, hints that were wrong ----------------------------------------------

def test_fault6_dotdot_name_is_refused_before_calibrating(tmp_path, capsys):
    path = scenario(tmp_path, 'name = ".."\n')
    rc, _, err = cli(capsys, "run", path, "--no-checkpoint", "--no-progress")
    line = one_line(rc, err)
    assert "key 'name'" in line and "--resume" not in line and "calibrating" not in err


def test_fault6_unwritable_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """A read-only --out parent failed only after the run, with a '--resume' hint on a --no-checkpoint
    run. Now it is refused first. (Tests run as root, whom permission bits do not stop: the probe's
    failure is injected.)"""
    import tempfile

    real = tempfile.mkdtemp

    def refuse(*a, **k):
        if str(k.get("prefix", "")).startswith(".alvh-probe-"):
            raise PermissionError(13, "Permission denied")
        return real(*a, **k)

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    rc, _, err = cli(capsys, "run", TINY, "--out", tmp_path / "ro" / "o", "--no-checkpoint", "--no-progress")
    line = one_line(rc, err)
    assert "cannot write in" in line and "Permission denied" in line and "--resume" not in line
    assert "calibrating" not in err


@pytest.mark.parametrize("checkpoint", [False, True])
def test_fault6_failure_hints_fit_the_run(tmp_path, capsys, monkeypatch, checkpoint):
    """A failure of the workers suggests --resume only where chunks were kept, and a permission
    failure asks for the cause to be fixed first."""
    import alvh.pipeline

    def fail(*a, **k):
        raise PermissionError(13, "Permission denied", "somewhere")

    monkeypatch.setattr(alvh.pipeline, "run_scenario", fail)
    args = ["run", TINY, "--out", tmp_path / "o", "--no-progress"] + ([] if checkpoint else ["--no-checkpoint"])
    rc, _, err = cli(capsys, *args)
    assert rc == 1, err
    if checkpoint:
        assert "fix the cause, then rerun with --resume" in err
    else:
        assert "--resume" not in err and "no chunks were kept" in err


# --- fault 8: batches -------------------------------------------------------------------------------------

@pytest.mark.parametrize("grid, expected", [
    ('"strategy.hedges.alvh.budget_pct_per_yr" = [1.0, 2.0]', "unknown key 'budget_pct_per_yr'"),
    ('"strategy.hedges.alvh.budget_bands" = [1.0, [2.0]]', "key 'batch.grid.\"strategy.hedges.alvh.budget_bands\"[1]'"),
    ('"simulation.n_paths" = [-1, 100]', "key 'simulation.n_paths': -1 is less than the minimum"),
    ('"market.rate" = [nan]', "not a finite number"),
])
def test_fault8_a_bad_batch_is_refused_whole_and_writes_nothing(tmp_path, capsys, grid, expected):
    """Fault 8: a batch whose every point was invalid exited 3 with a batch.nc and summaries that looked
    finished. Now an unknown grid key or a bad value refuses the batch file (exit 2) before any point."""
    b = tmp_path / "b.toml"
    b.write_text(f'[batch]\nname = "v"\nscenarios = [{json.dumps(str(TINY))}]\n[batch.grid]\n{grid}\n')
    line = one_line(*cli(capsys, "batch", b, "--out", tmp_path / "out", "--no-progress")[::2])
    assert expected in line and str(b) in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.toml"]


def test_fault8_a_batch_with_no_complete_point_writes_no_summary(tmp_path, monkeypatch):
    """Every point fails while running: no batch.nc, summary.html or summary.csv (stale ones removed)."""
    import alvh.pipeline
    import alvh.runner
    from alvh.batch import batch_from_scenarios, run_batch

    monkeypatch.setattr(alvh.runner, "prepare", lambda scenario, seed: None)

    def fail(*a, **k):
        raise RuntimeError("the point's model blew up")

    monkeypatch.setattr(alvh.pipeline, "run_scenario", fail)
    spec = batch_from_scenarios([TINY])
    out = tmp_path / "out"
    outcome = run_batch(spec, out)
    assert outcome.complete == [] and list(outcome.failed) == ["tiny"] and outcome.dataset is None
    assert sorted(p.name for p in out.iterdir()) == [".alvh-output.json", "batch.log", "batch_manifest.json"]
    assert "no point is complete" in (out / "batch.log").read_text()


# --- fault 9: the smaller ones -----------------------------------------------------------------------------

def test_fault9_agree_names_the_file_it_cannot_read(tmp_path, capsys):
    junk = tmp_path / "junk.nc"
    junk.write_text("not netCDF")
    line = one_line(*cli(capsys, "agree", junk, junk)[::2])
    assert str(junk) in line and "not a netCDF results file" in line


def test_fault9_a_folder_given_as_the_scenario(tmp_path, capsys):
    folder = tmp_path / "s.toml"
    folder.mkdir()
    line = one_line(*cli(capsys, "run", folder)[::2])
    assert line.endswith(f"{folder}: is a folder, not a scenario file")


@pytest.mark.parametrize("params, expected", [
    ("missing.json", "key 'model.params'"),
    ("bad.json", "key 'model.params'"),
])
def test_fault9_params_file_errors_name_the_key(tmp_path, capsys, params, expected):
    (tmp_path / "bad.json").write_text('{"type": "heston", "params": {"kappa": 1}}')
    path = scenario(tmp_path, f'name = "x"\n[model]\nparams = "{params}"\n')
    line = one_line(*cli(capsys, "run", path, "--out", tmp_path / "o", "--no-progress")[::2])
    assert str(path) in line and expected in line and params in line, line


def _params_file(tmp_path: Path, model_type: str, params: dict) -> Path:
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"type": model_type, "params": params}))
    return p


@pytest.mark.slow
def test_fault9_a_badly_violated_feller_condition_is_shown(tmp_path, capsys, monkeypatch):
    """A parameter file with Feller ratio 2 kappa theta / sigma^2 = 0.001 passed with the warning
    suppressed. Now a one-line warning says so (the run itself is cut short here, after preparation)."""
    import alvh.pipeline

    heston = {"v0": 0.02, "kappa": 1.0, "theta": 0.0005, "sigma": 1.0, "rho": -0.7, "mu": 0.05, "lam": 0.0}
    assert 2 * heston["kappa"] * heston["theta"] / heston["sigma"] ** 2 == pytest.approx(0.001)
    _params_file(tmp_path, "heston", heston)
    path = scenario(tmp_path, 'name = "x"\n[model]\nparams = "p.json"\n[simulation]\nhorizon_years = 0.1\n')

    def stop(*a, **k):
        raise RuntimeError("stopped after preparation")

    monkeypatch.setattr(alvh.pipeline, "_run_locked", stop)
    rc, _, err = cli(capsys, "run", path, "--out", tmp_path / "o", "--no-progress")
    assert rc == 1
    warnings = [ln for ln in err.splitlines() if ln.startswith("alvh: warning:")]
    assert len(warnings) == 1 and "Feller ratio" in warnings[0] and "0.001" in warnings[0], err


def test_fault9_a_jump_intensity_the_pricers_cannot_hold(tmp_path, capsys):
    """lam_j = 1000 jumps a year put the VIX at 433 points at zero variance; it failed with 'VIX 150.0 maps
    to no positive variance under the bates model'. Now the refusal names the key, the level and the rule."""
    bates = {"v0": 0.04, "kappa": 5.0, "theta": 0.02, "sigma": 0.6, "rho": -0.7, "mu": 0.05, "lam": 0.0,
             "lam_j": 1000.0, "mu_j": -0.1, "sigma_j": 0.1}
    _params_file(tmp_path, "bates", bates)
    path = scenario(tmp_path, 'name = "x"\n[model]\ntype = "bates"\nparams = "p.json"\n')
    line = one_line(*cli(capsys, "run", path, "--out", tmp_path / "o", "--no-progress")[::2])
    assert "key 'model.params'" in line and "even at zero variance" in line and "lam_j" in line, line
    assert not (tmp_path / "o").exists()
