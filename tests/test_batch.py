"""Checkpoints, backends, faults and batches: resumed and parallel runs equal uninterrupted ones, bit for bit.

Expensive subprocess runs (a reference batch, a batch with a malformed scenario, a run whose worker dies,
and a rerun of a tampered result once the reference batch is done) are started in the background when the
module starts, so they overlap the in-process tests; each test that needs one waits for it with a time limit.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

TESTS = Path(__file__).parent
REPO = TESTS.parent
TINY = (TESTS / "data" / "tiny.toml").resolve()
SEED = 7
WAIT_S = 420  # longest wait for any subprocess (they share two cores with the in-process tests)

RUN_ARRAYS = ("layer_pnl", "layer_entries", "layer_cap_bound", "condor_leg_pnl", "daily_pnl", "daily_delta", "regime",
              "sample_spx", "sample_vix", "sample_cum_pnl", "sample_regime", "sample_path_index")


# ----------------------------------------------------------------------------------------------- helpers

def alvh_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "alvh.cli", *map(str, args)]


#: The environment every subprocess gets (fixed at import: a Dask cluster started here edits os.environ).
BASE_ENV = dict(os.environ)


def alvh(*args, timeout=WAIT_S, env=None):
    return subprocess.run(alvh_cmd(*args), capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env=env or BASE_ENV)


class Background:
    """An ``alvh`` command running in its own session; ``result()`` waits for it (bounded)."""

    def __init__(self, folder: Path, *args, env=None):
        folder.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = folder / "stdout.txt", folder / "stderr.txt"
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(alvh_cmd(*args), stdout=out, stderr=err, cwd=REPO, env=env or BASE_ENV,
                                         start_new_session=True)
        self._result = None

    def result(self, timeout=WAIT_S) -> subprocess.CompletedProcess:
        if self._result is None:
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"{self.proc.args} did not finish within {timeout} s")
            self._result = subprocess.CompletedProcess(self.proc.args, rc, self.stdout_path.read_text(),
                                                       self.stderr_path.read_text())
        return self._result

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the session this object started, nothing else
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=60)


def run_diffs(a, b) -> list[str]:
    """Names of the RunResult arrays that differ between two runs (NaN equal to NaN)."""
    out = []
    pairs = [(f"per_strategy.{k}", a.per_strategy[k], b.per_strategy.get(k)) for k in a.per_strategy]
    pairs += [(f"per_path.{k}", a.per_path[k], b.per_path.get(k)) for k in a.per_path]
    pairs += [(k, getattr(a, k), getattr(b, k)) for k in RUN_ARRAYS]
    for name, x, y in pairs:
        x, y = np.asarray(x), np.asarray(y)
        same = x.shape == y.shape and x.dtype == y.dtype and (
            np.array_equal(x, y, equal_nan=True) if x.dtype.kind in "fc" else np.array_equal(x, y))
        if not same:
            out.append(name)
    assert set(a.per_strategy) == set(b.per_strategy) and set(a.per_path) == set(b.per_path)
    return out


def manifest_chunks(folder: Path) -> dict:
    try:
        return json.loads((folder / "manifest.json").read_text()).get("chunks", {})
    except (OSError, ValueError):
        return {}


def open_nc(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def batch_file(folder: Path) -> Path:
    """Two grid points of the tiny scenario (budget 1 and 2 % a year), 384 paths in 6 chunks each."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "grid.toml"
    path.write_text(f'[batch]\nname = "grid"\nscenarios = [{json.dumps(str(TINY))}]\npaths = 384\n\n'
                    '[batch.grid]\n"simulation.chunk_size" = [64]\n'
                    '"strategy.hedges.alvh.budget_pct_per_year" = [1.0, 2.0]\n')
    return path


POINTS = ("tiny.chunk_size_64.budget_pct_per_year_1", "tiny.chunk_size_64.budget_pct_per_year_2")


def scenario_text(name: str, n_paths: int = 128, extra: str = "") -> str:
    text = TINY.read_text().replace('name = "tiny"', f'name = "{name}"').replace("n_paths = 300", f"n_paths = {n_paths}")
    assert f'name = "{name}"' in text and f"n_paths = {n_paths}" in text
    return text + extra


# ------------------------------------------------------------------------- background subprocess runs

@pytest.fixture(scope="module", autouse=True)
def background(tmp_path_factory, request):
    """Start the slow subprocess runs at once, so they overlap the in-process tests; kill leftovers at the end.
    Nothing is started when no selected test of this module uses them (``-m "not slow"``)."""
    if not any("background" in item.fixturenames for item in request.session.items
               if getattr(item, "module", None) is request.module):
        yield {}
        return
    root = tmp_path_factory.mktemp("background")
    jobs = {}
    # 8, 9, 12: the reference batch, uninterrupted
    bfile = batch_file(root / "ref")
    jobs["ref_batch"] = (Background(root / "ref", "batch", bfile, "--out", root / "ref" / "out", "--no-progress"),
                         root / "ref" / "out")
    # 10: a batch of three scenario files, the middle one valid but failing when it runs (a data window
    # of a few days: the data are read by the point's preparation, not by the validation)
    mal = root / "malformed"
    mal.mkdir()
    (mal / "a.toml").write_text(scenario_text("a"))
    (mal / "bad.toml").write_text(scenario_text("bad", extra='[data]\nstart = "2014-01-03"\nend = "2014-01-20"\n'))
    (mal / "b.toml").write_text(scenario_text("b"))
    jobs["malformed"] = (Background(mal, "batch", mal / "a.toml", mal / "bad.toml", mal / "b.toml", "--out",
                                    mal / "out", "--no-progress"), mal / "out")
    # 11: a run whose worker running chunk 1 dies once
    wd = root / "worker_death"
    env = dict(BASE_ENV, ALVH_TEST_KILL_CHUNK=f"1:{wd / 'marker'}")
    jobs["worker_death"] = (Background(wd, "run", TINY, "--paths", 300, "--jobs", 2, "--out", wd / "out",
                                       "--no-progress", env=env), wd)
    # 12: once the reference batch is done, `alvh rerun` of a tampered copy of one of its results
    chain = TamperedRerun(jobs["ref_batch"][0], root / "ref" / "out", root / "rerun")
    yield dict(jobs, rerun=(chain, root / "rerun"))
    for job, _ in jobs.values():
        job.kill()
    chain.thread.join(timeout=60)
    if chain.job is not None:
        chain.job.kill()



def tamper(src: Path, dst: Path) -> None:
    """Copy a results.nc with one value of ``pnl`` altered.

    Edited in place with h5py, not rewritten by xarray: this runs in a thread while other tests run in
    the main one, where the disk-full tests patch ``alvh.checkpoint._write_npz`` (and count its calls) and
    the Dask tests open and close distributed clients, through which xarray's writer takes a lock (one
    closing meanwhile failed it with "ConnectionPool is closed").
    """
    import h5py

    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        f["pnl"][1, 5] = f["pnl"][1, 5] + 1000.0


class TamperedRerun:
    """In a thread: wait for the reference batch, tamper with a copy of its first point's result, start `alvh rerun`."""

    def __init__(self, ref_job: Background, ref_out: Path, folder: Path):
        self.ref_job, self.ref_out, self.folder = ref_job, ref_out, folder
        self.job, self.error = None, None
        self.thread = threading.Thread(target=self._go, daemon=True)
        self.thread.start()

    def _go(self):
        try:
            if self.ref_job.proc.wait(timeout=WAIT_S) != 0:
                return
            tamper(self.ref_out / "points" / POINTS[0] / "results.nc", self.folder / "tampered" / "results.nc")
            self.job = Background(self.folder, "rerun", self.folder / "tampered" / "results.nc", "--out",
                                  self.folder / "again", "--no-progress")
        except BaseException as exc:  # reported by the test
            self.error = exc


@pytest.fixture(scope="module")
def ref_batch(background):
    job, out = background["ref_batch"]
    proc = job.result()
    assert proc.returncode == 0, proc.stderr
    return out, proc


# ------------------------------------------------------------------------------ in-process run fixtures

@pytest.fixture(scope="module")
def ref_run(tiny_prepared):
    """The uninterrupted run: 300 paths in chunks of 128 (3 chunks), no checkpoint."""
    from alvh.runner import run

    return run(tiny_prepared, 300, SEED, jobs=1, progress=False)


@pytest.fixture(scope="module")
def complete_checkpoint(tiny_prepared, tmp_path_factory):
    """A checkpoint folder of the same run, all 3 chunks finished, and that run's result."""
    from alvh.runner import run

    folder = tmp_path_factory.mktemp("complete") / "ck"
    result = run(tiny_prepared, 300, SEED, jobs=1, progress=False, checkpoint=folder)
    assert sorted(manifest_chunks(folder)) == ["0", "1", "2"]
    return folder, result


@pytest.fixture
def computed(monkeypatch):
    """The chunk indices actually computed in this process (jobs=1 runs chunks here)."""
    from alvh.runner import ChunkTask

    seen = []
    real = ChunkTask.__call__

    def recording(self, i):
        seen.append(i)
        return real(self, i)

    monkeypatch.setattr(ChunkTask, "__call__", recording)
    return seen


def copy_checkpoint(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "ck"
    shutil.copytree(src, dst)
    return dst


# --------------------------------------------------------------------------------------------- tests

def test_chunkstore_round_trip_keeps_values_and_dtypes(tmp_path):
    """ChunkStore.save/load round-trips float64, float32 with NaN, int8 and empty arrays exactly, in a plain .npz
    archive (numpy's format, readable without alvh and without pickle), with a checksummed manifest."""
    from alvh.checkpoint import ChunkStore, file_sha256

    rng = np.random.default_rng(0)
    f32 = rng.normal(size=(3, 5, 7)).astype(np.float32)
    f32[0, 1, 2] = np.nan
    f32[2, :, 4] = np.nan
    arrays = {"a64": rng.normal(size=(2, 11)), "b32": f32, "c8": rng.integers(-128, 127, size=(4, 9), dtype=np.int8),
              "d1": np.array([0.5, -1e300, np.inf]), "e0": np.zeros((9, 0, 253), np.float32)}
    store = ChunkStore(tmp_path / "ck", {"seed": 1, "what": "round trip"}, n_chunks=4)
    assert store.open() == []
    store.save(3, arrays)

    again = ChunkStore(tmp_path / "ck", {"seed": 1, "what": "round trip"}, n_chunks=4)
    assert again.open(resume=True) == [3]
    back = again.load(3)
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        assert np.array_equal(back[k], v, equal_nan=v.dtype.kind == "f"), k
    path = tmp_path / "ck" / "chunk_00003.npz"
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(arrays)
        assert all(np.array_equal(z[k], v, equal_nan=v.dtype.kind == "f") for k, v in arrays.items())
    entry = json.loads((tmp_path / "ck" / "manifest.json").read_text())["chunks"]
    assert entry == {"3": {"file": "chunk_00003.npz", "bytes": path.stat().st_size, "sha256": file_sha256(path)}}
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["chunk_00003.npz", "manifest.json"]
    assert not list(tmp_path.rglob("*part*"))


def test_chunkstore_refuses_object_arrays_and_leaves_no_file(tmp_path):
    """An object array (which only pickle could store) raises ValueError on save; no chunk file, temporary or
    manifest entry is left."""
    from alvh.checkpoint import ChunkStore

    store = ChunkStore(tmp_path / "ck", {"seed": 1}, n_chunks=2)
    store.open()
    with pytest.raises(ValueError, match="pickle"):
        store.save(0, {"ok": np.ones(3), "bad": np.array([{"a": 1}], dtype=object)})
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["manifest.json"]
    assert manifest_chunks(tmp_path / "ck") == {}


def test_checkpoint_of_another_format_is_refused_with_a_remedy(tmp_path):
    """A manifest of format alvh-chunks/1 (netCDF chunk files, before .npz) is refused on resume, the message
    naming both formats and --fresh; a manifest of no alvh format says it is not one."""
    from alvh.checkpoint import FORMAT, CheckpointError, ChunkStore

    ck = tmp_path / "ck"
    store = ChunkStore(ck, {"seed": 1}, n_chunks=2)
    store.open()
    doc = json.loads((ck / "manifest.json").read_text())
    for fmt, words in (("alvh-chunks/1", ["'alvh-chunks/1'", repr(FORMAT), "another version", "--fresh"]),
                       ("something/else", ["not an alvh chunk manifest", "'something/else'"])):
        (ck / "manifest.json").write_text(json.dumps(dict(doc, format=fmt)))
        with pytest.raises(CheckpointError) as info:
            ChunkStore(ck, {"seed": 1}, n_chunks=2).open(resume=True)
        assert all(w in str(info.value) for w in words), str(info.value)
    assert ChunkStore(ck, {"seed": 1}, n_chunks=2).open(fresh=True) == []


def test_truncated_chunk_is_detected_and_recomputed(complete_checkpoint, ref_run, tiny_prepared, tmp_path, caplog,
                                                   computed):
    """A truncated chunk file is reported on resume, recomputed alone, and the result equals an uninterrupted run."""

    src, first = complete_checkpoint
    assert run_diffs(ref_run, first) == []  # a checkpointed run equals an unchecked one
    ck = copy_checkpoint(src, tmp_path)
    chunk = ck / "chunk_00001.npz"
    size = chunk.stat().st_size
    with open(chunk, "r+b") as f:
        f.truncate(size // 2)
    again, warned = resume_with_warnings(tiny_prepared, ck, caplog)
    assert any("chunk 1" in m and "truncated" in m for m in warned), warned
    assert computed == [1]
    assert run_diffs(ref_run, again) == []
    assert manifest_chunks(ck)["1"]["bytes"] == (ck / "chunk_00001.npz").stat().st_size


def resume_with_warnings(prepared, ck: Path, caplog):
    """Resume the 300-path tiny run from checkpoint ``ck``; return it and the warnings logged on 'alvh'."""
    from alvh.runner import run

    caplog.set_level(logging.INFO, logger="alvh")
    again = run(prepared, 300, SEED, jobs=1, progress=False, checkpoint=ck, resume=True)
    return again, [r.getMessage() for r in caplog.records if r.name == "alvh" and r.levelno == logging.WARNING]


def test_corrupted_byte_is_detected_by_checksum(complete_checkpoint, ref_run, tiny_prepared, tmp_path, caplog,
                                                computed):
    """A chunk file with one flipped byte (same size) fails its checksum, is recomputed, and the result is unchanged."""

    ck = copy_checkpoint(complete_checkpoint[0], tmp_path)
    chunk = ck / "chunk_00002.npz"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    again, warned = resume_with_warnings(tiny_prepared, ck, caplog)
    assert any("chunk 2" in m and "checksum" in m for m in warned), warned
    assert computed == [2]
    assert run_diffs(ref_run, again) == []


def test_chunk_file_missing_from_manifest_is_removed_and_recomputed(complete_checkpoint, ref_run, tiny_prepared,
                                                                    tmp_path, computed):
    """A chunk file the manifest does not list (killed between the two renames) is not trusted: it is recomputed."""
    from alvh.runner import run

    ck = copy_checkpoint(complete_checkpoint[0], tmp_path)
    doc = json.loads((ck / "manifest.json").read_text())
    del doc["chunks"]["2"]
    (ck / "manifest.json").write_text(json.dumps(doc))
    # the unlisted file holds other bytes (chunk 0's): used as is, it would change the result
    shutil.copyfile(ck / "chunk_00000.npz", ck / "chunk_00002.npz")
    again = run(tiny_prepared, 300, SEED, jobs=1, progress=False, checkpoint=ck, resume=True)
    assert computed == [2]
    assert run_diffs(ref_run, again) == []
    assert sorted(manifest_chunks(ck)) == ["0", "1", "2"]


def test_stale_temporaries_of_a_killed_writer_are_removed_on_resume(complete_checkpoint, tiny_prepared, tmp_path):
    """Temporary files left by a writer killed mid-write (.chunk_*.part-PID, .manifest.json.part-PID) are cleaned up."""
    from alvh.runner import run

    ck = copy_checkpoint(complete_checkpoint[0], tmp_path)
    doc = json.loads((ck / "manifest.json").read_text())
    del doc["chunks"]["2"]
    (ck / "manifest.json").write_text(json.dumps(doc))
    (ck / "chunk_00002.npz").unlink()
    (ck / ".chunk_00002.npz.part-999999").write_bytes(b"PK\x03\x04 half a chunk")
    (ck / ".manifest.json.part-999999").write_bytes(b'{"format": "alvh-ch')
    run(tiny_prepared, 300, SEED, jobs=1, progress=False, checkpoint=ck, resume=True)
    assert sorted(p.name for p in ck.iterdir()) == ["chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz",
                                                    "manifest.json"]


class _Interrupted(Exception):
    pass


def test_chunks_finished_out_of_order_resume_identically(ref_run, tiny_prepared, tmp_path, monkeypatch, computed):
    """A run interrupted after finishing only its last chunk resumes to the same result as an uninterrupted run."""
    import alvh.parallel
    from alvh.runner import run

    real = alvh.parallel.run_tasks

    def last_chunk_then_die(task, indices, **kw):
        assert list(indices) == [0, 1, 2]
        yield task(2)
        raise _Interrupted("killed after chunk 2")

    ck = tmp_path / "ck"
    with monkeypatch.context() as m:
        m.setattr(alvh.parallel, "run_tasks", last_chunk_then_die)
        with pytest.raises(_Interrupted):
            run(tiny_prepared, 300, SEED, jobs=1, progress=False, checkpoint=ck)
    assert alvh.parallel.run_tasks is real
    assert sorted(manifest_chunks(ck)) == ["2"]
    assert computed == [2]
    again = run(tiny_prepared, 300, SEED, jobs=1, progress=False, checkpoint=ck, resume=True)
    assert computed == [2, 0, 1]
    assert run_diffs(ref_run, again) == []


def test_checkpoint_conflicts_are_refused_and_fresh_discards(complete_checkpoint, ref_run, tiny_prepared, tmp_path,
                                                              computed):
    """A present checkpoint needs resume or fresh; one of another run (seed) is refused naming the key; fresh discards it."""
    from alvh.checkpoint import CheckpointError, CheckpointExists
    from alvh.runner import run

    ck = copy_checkpoint(complete_checkpoint[0], tmp_path)
    with pytest.raises(CheckpointExists, match="--resume"):
        run(tiny_prepared, 300, SEED, jobs=1, progress=False, checkpoint=ck)
    with pytest.raises(CheckpointError) as info:
        run(tiny_prepared, 300, SEED + 1, jobs=1, progress=False, checkpoint=ck, resume=True)
    assert not isinstance(info.value, CheckpointExists)
    msg = str(info.value)
    assert "seed" in msg and str(SEED) in msg and str(SEED + 1) in msg, msg
    assert computed == []
    other = run(tiny_prepared, 300, SEED + 1, jobs=1, progress=False, checkpoint=ck, fresh=True)
    assert computed == [0, 1, 2]
    doc = json.loads((ck / "manifest.json").read_text())
    assert doc["identity"]["seed"] == SEED + 1 and sorted(doc["chunks"]) == ["0", "1", "2"]
    assert "per_strategy.pnl" in run_diffs(ref_run, other)


def _fail_second_write(monkeypatch, calls):
    import alvh.checkpoint

    real = alvh.checkpoint._write_npz

    def failing(f, arrays):
        calls.append(f)
        if len(calls) == 2:
            f.write(b"PK\x03\x04 partial")  # the disk filled up mid-write
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(f, arrays)

    monkeypatch.setattr(alvh.checkpoint, "_write_npz", failing)


def test_disk_full_raises_storage_error_and_resume_completes(ref_run, tiny_prepared, tmp_path, monkeypatch, computed):
    """ENOSPC on the second chunk raises StorageError ('disk full'), keeps chunk 0 only, and a resume completes identically."""
    from alvh.checkpoint import StorageError
    from alvh.runner import run

    ck = tmp_path / "ck"
    calls = []
    with monkeypatch.context() as m:
        _fail_second_write(m, calls)
        with pytest.raises(StorageError) as info:
            run(tiny_prepared, 300, SEED, jobs=1, progress=False, checkpoint=ck)
    assert "disk full" in str(info.value)
    assert info.value.errno == errno.ENOSPC
    assert len(calls) == 2
    assert sorted(manifest_chunks(ck)) == ["0"]
    assert sorted(p.name for p in ck.iterdir()) == ["chunk_00000.npz", "manifest.json"]  # nothing partial
    assert computed == [0, 1]
    again = run(tiny_prepared, 300, SEED, jobs=1, progress=False, checkpoint=ck, resume=True)
    assert computed == [0, 1, 1, 2]
    assert run_diffs(ref_run, again) == []


def test_cli_disk_full_exits_1_with_one_line_and_no_output(tiny_prepared, tmp_path, monkeypatch, capsys):
    """`alvh run` on a full disk exits 1 with one 'alvh: error:' line naming it, writes no output folder, keeps chunk 0."""
    import alvh.cli
    import alvh.runner
    from alvh.pipeline import checkpoint_folder

    monkeypatch.setattr(alvh.runner, "prepare", lambda scenario, seed: tiny_prepared)  # skip the calibration
    calls = []
    _fail_second_write(monkeypatch, calls)
    out = tmp_path / "out"
    rc = alvh.cli.main(["run", str(TINY), "--paths", "256", "--jobs", "1", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1, err
    lines = [ln for ln in err.splitlines() if ln.startswith("alvh: error:")]
    assert len(lines) == 1 and "disk full" in lines[0], err
    assert "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [checkpoint_folder(out).name]  # no partial result folder
    assert sorted(manifest_chunks(checkpoint_folder(out))) == ["0"]


@pytest.mark.slow
def test_backends_give_bit_identical_results(ref_run, tiny_prepared):
    """jobs=1, jobs=2 (joblib) and a two-worker Dask cluster give bit-identical arrays."""
    import distributed

    from alvh.runner import run

    two = run(tiny_prepared, 300, SEED, jobs=2, progress=False)
    assert run_diffs(ref_run, two) == []
    environ = dict(os.environ)  # distributed sets OMP/MKL/OPENBLAS_NUM_THREADS=1 here for its workers
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as client:
            on_dask = run(tiny_prepared, 300, SEED, progress=False, backend="dask", client=client)
            assert len(client.scheduler_info()["workers"]) == 2
    finally:  # later subprocesses must see the environment the background ones saw
        os.environ.clear()
        os.environ.update(environ)
    assert run_diffs(ref_run, on_dask) == []


@pytest.mark.slow
def test_preparation_does_not_depend_on_blas_threads(tiny_scenario, tiny_prepared):
    """prepare() gives the same pricing tables, hence the same paths' P&L, whatever the BLAS thread count."""
    import warnings

    from threadpoolctl import threadpool_info, threadpool_limits

    from alvh.models.heston import FellerConditionWarning
    from alvh.runner import prepare, run

    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas, "no BLAS library found by threadpoolctl"
    other = 1 if max(blas) > 1 else 2  # tiny_prepared was made with the default count
    with threadpool_limits(limits=other, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        again = prepare(tiny_scenario, seed=SEED)
    assert again.model.to_dict() == tiny_prepared.model.to_dict()
    tables = [(k, v, vars(again.table)[k]) for k, v in vars(tiny_prepared.table).items() if isinstance(v, np.ndarray)]
    assert tables
    table_diffs = [k for k, a, b in tables if not np.array_equal(a, b, equal_nan=True)]
    result_diffs = run_diffs(run(tiny_prepared, 64, SEED, progress=False), run(again, 64, SEED, progress=False))
    assert (table_diffs, result_diffs) == ([], [])


@pytest.mark.slow
def test_batch_killed_mid_point_resumes_identically(background, tmp_path, request):
    """A batch killed (SIGKILL) mid-point and resumed gives the results and batch.nc of an uninterrupted batch."""
    from alvh.pipeline import checkpoint_folder, compare_results

    bfile = batch_file(tmp_path)
    out = tmp_path / "out"
    ck = checkpoint_folder(out / "points" / POINTS[0])
    with open(tmp_path / "killed.out", "w") as log:
        proc = subprocess.Popen(alvh_cmd("batch", bfile, "--out", out, "--no-progress"), stdout=log, stderr=log,
                                cwd=REPO, env=BASE_ENV, start_new_session=True)
    try:
        deadline = time.monotonic() + WAIT_S
        while len(manifest_chunks(ck)) < 2:
            assert proc.poll() is None, "the batch ended before it could be killed: " + \
                (tmp_path / "killed.out").read_text()[-2000:]
            assert time.monotonic() < deadline, "no two chunks checkpointed in time"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    n_done = len(manifest_chunks(ck))
    assert 2 <= n_done < 6 and not (out / "points" / POINTS[0] / "results.nc").exists()

    proc = alvh("batch", bfile, "--out", out, "--resume", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "2 of 2 point(s) complete" in proc.stdout
    ref_out, _ = request.getfixturevalue("ref_batch")  # the uninterrupted batch, run meanwhile
    for name in POINTS:
        new = open_nc(out / "points" / name / "results.nc")
        old = open_nc(ref_out / "points" / name / "results.nc")
        assert compare_results(old, new) == [], name
    assert open_nc(out / "points" / POINTS[0] / "results.nc").attrs["resumed_chunks"] >= n_done
    assert not ck.exists()
    a, b = open_nc(ref_out / "batch.nc"), open_nc(out / "batch.nc")
    assert np.array_equal(a["metric_value"].values, b["metric_value"].values, equal_nan=True)
    assert a["claim_verdict"].dims == b["claim_verdict"].dims
    assert np.array_equal(a["claim_verdict"].values.astype(str), b["claim_verdict"].values.astype(str))
    assert (b["point_status"].values == "complete").all()


@pytest.mark.slow
def test_batch_dataset_summary_and_log(ref_batch):
    """batch.nc has the grid's keys as dimensions, every point complete, cost rising with budget; summary and log exist."""
    out, proc = ref_batch
    ds = open_nc(out / "batch.nc")
    assert ds["metric_value"].dims == ("scenario", "chunk_size", "budget_pct_per_year", "strategy", "metric")
    assert ds["budget_pct_per_year"].values.tolist() == [1.0, 2.0]
    assert ds["chunk_size"].values.tolist() == [64]
    assert ds["scenario"].values.tolist() == ["tiny"]
    assert (ds["point_status"].values == "complete").all()
    assert ds["point_name"].values.ravel().tolist() == list(POINTS)
    assert (ds["n_paths"].values == 384).all()
    cost = ds["metric_value"].sel(scenario="tiny", chunk_size=64, strategy="alvh", metric="cost_median")
    assert float(cost.sel(budget_pct_per_year=2.0)) > float(cost.sel(budget_pct_per_year=1.0))
    for name in ("summary.html", "summary.csv", "batch.log", "batch_manifest.json"):
        assert (out / name).is_file(), name
    log = (out / "batch.log").read_text()
    for name in POINTS:
        assert f"point {name}: complete" in log
    assert "2 of 2 point(s) complete" in proc.stdout
    for name in POINTS:
        with xr.open_dataset(out / "points" / name / "results.nc", engine="h5netcdf") as r:
            assert int(r.attrs["chunk_size"]) == 64 and int(r.attrs["n_chunks"]) == 6


@pytest.mark.slow
def test_a_point_that_fails_while_running_fails_alone(background):
    """In a batch of three scenario files, the one that fails while running (too short a data window) is
    reported (exit 3, named with its reason) and the others complete; batch.nc holds NaN for it."""
    job, out = background["malformed"]
    proc = job.result()
    assert proc.returncode == 3, proc.stderr
    assert "2 of 3 point(s) complete" in proc.stdout and "1 failed" in proc.stdout, proc.stdout
    failed = [ln for ln in proc.stdout.splitlines() if "FAILED" in ln]
    assert len(failed) == 1 and "bad" in failed[0] and "data.start" in failed[0], proc.stdout
    for name in ("a", "b"):
        assert (out / "points" / name / "results.nc").is_file(), name
    assert not (out / "points" / "bad").exists()
    ds = open_nc(out / "batch.nc")
    status = dict(zip(ds["scenario"].values.tolist(), ds["point_status"].values.tolist()))
    assert status == {"a": "complete", "bad": "failed", "b": "complete"}
    assert "only" in str(ds["point_error"].sel(scenario="bad").values)
    assert np.isnan(ds["metric_value"].sel(scenario="bad").values).all()


def test_a_malformed_scenario_refuses_the_whole_batch_before_any_point(tmp_path):
    """A batch is validated whole: one malformed scenario among three is a ConfigError naming its file and
    key, raised before any point runs (the batch used to run the others and exit 3)."""
    from alvh.batch import batch_from_scenarios
    from alvh.config import ConfigError

    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(scenario_text(name))
    (tmp_path / "bad.toml").write_text(scenario_text("bad").replace("n_paths = 128", "n_paths = 128\nbogus_key = 3"))
    files = [tmp_path / "a.toml", tmp_path / "bad.toml", tmp_path / "b.toml"]
    with pytest.raises(ConfigError, match=r"bad\.toml: key 'simulation\.bogus_key': unknown key"):
        batch_from_scenarios(files)


@pytest.mark.slow
def test_worker_death_is_survived_identically(background, tiny_prepared, tmp_path):
    """A worker that dies mid-chunk is replaced, its chunks rerun, and the result equals a normal run's."""
    from alvh.config import load_scenario
    from alvh.pipeline import compare_results, run_scenario

    job, folder = background["worker_death"]
    proc = job.result()
    assert proc.returncode == 0, proc.stderr
    assert (folder / "marker").exists()
    assert "worker died" in proc.stderr and "rerunning" in proc.stderr, proc.stderr
    normal = run_scenario(load_scenario(TINY), tmp_path / "normal", n_paths=300, jobs=1, prepared=tiny_prepared,
                          checkpoint=False)
    died = open_nc(folder / "out" / "results.nc")
    assert compare_results(normal, died) == []
    assert compare_results(open_nc(tmp_path / "normal" / "results.nc"), died) == []


@pytest.mark.slow
def test_rerun_detects_a_tampered_result(ref_batch, background):
    """`alvh rerun` of a result whose pnl was altered exits 4 and names pnl, not the path-level variables."""
    from alvh.pipeline import compare_results

    ref_out, _ = ref_batch
    chain, folder = background["rerun"]
    chain.thread.join(timeout=WAIT_S)
    assert not chain.thread.is_alive() and chain.error is None and chain.job is not None, chain.error
    proc = chain.job.result()
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "NOT reproduced" in proc.stdout
    diffs = [ln.split()[1].rstrip(":") for ln in proc.stdout.splitlines() if ln.startswith("  variable ")]
    assert "pnl" in diffs, proc.stdout
    path_level = {"spx_return", "vix_max", "sample_spx", "sample_vix", "condor_credit", "n_condors", "regime_worst_day"}
    assert not path_level & set(diffs), diffs
    assert not [ln for ln in proc.stdout.splitlines() if ln.startswith("  coordinate ")], proc.stdout
    # the rerun's own result is the untouched one
    assert compare_results(open_nc(ref_out / "points" / POINTS[0] / "results.nc"),
                           open_nc(folder / "again" / "results.nc")) == []


# ----------------------------------------------------------------------------- batch file validation

def _write_batch(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "b.toml"
    path.write_text(f'[batch]\nname = "v"\nscenarios = [{json.dumps(str(TINY))}]\n' + body)
    return path


def test_batch_file_validation(tmp_path):
    """Unknown [batch] keys, repeated grid values, a grid key no scenario has, and a grid key indexing a
    layer the scenario does not declare are ConfigErrors, raised before any point runs."""
    from alvh.batch import load_batch
    from alvh.config import ConfigError

    with pytest.raises(ConfigError, match="colour"):
        load_batch(_write_batch(tmp_path, "colour = 3\n"))
    with pytest.raises(ConfigError, match="repeat"):
        load_batch(_write_batch(tmp_path, '[batch.grid]\n"strategy.hedges.alvh.budget_pct_per_year" = [1.0, 1.0]\n'))
    with pytest.raises(ConfigError, match=r"b\.toml: grid point .*layers.*\[5\]"):
        load_batch(_write_batch(tmp_path, '[batch.grid]\n"strategy.hedges.alvh.layers[5].trigger_vix" = [20.0]\n'))
    with pytest.raises(ConfigError, match=r"key 'batch\.grid\.\"strategy\.hedges\.alvh\.trigger\"': unknown key 'trigger'"):
        load_batch(_write_batch(tmp_path, '[batch.grid]\n"strategy.hedges.alvh.trigger" = [20.0]\n'))
    spec = load_batch(_write_batch(tmp_path, '[batch.grid]\n"strategy.hedges.alvh.budget_pct_per_year" = [0.5, 1.5]\n'))
    assert [p.error for p in spec.points] == ["", ""]
    assert [p.scenario.hedges[0].budget_pct_per_year for p in spec.points] == [0.5, 1.5]


@pytest.mark.parametrize("values", ["[1.0, 1.0000001]", "[1, 1.0]"])
def test_distinct_grid_values_get_distinct_point_folders(tmp_path, values):
    """Grid values accepted as distinct never share a point folder (one would overwrite the other's results)."""
    from alvh.batch import load_batch
    from alvh.config import ConfigError

    try:
        spec = load_batch(_write_batch(tmp_path, f'[batch.grid]\n"strategy.hedges.alvh.budget_pct_per_year" = {values}\n'))
    except ConfigError:
        return  # refusing them as repeats is fine too
    names = [p.name for p in spec.points]
    assert len(set(names)) == len(names), names


# ----------------------------------------------------------------------------- review fixes (cheap, no runs)

def test_output_lock_refuses_a_second_process_and_names_the_first(tmp_path):
    """A second lock on one output folder raises CheckpointError with the holder's pid; released, it can be taken."""
    from alvh.checkpoint import CheckpointError, output_lock

    out = tmp_path / "run"
    with output_lock(out):
        with pytest.raises(CheckpointError, match=f"pid {os.getpid()}"):
            with output_lock(out):
                pass
    with output_lock(out):  # released
        pass
    assert not list(tmp_path.iterdir())  # and the lock file removed


def test_a_result_left_aside_by_a_killed_swap_is_restored(tmp_path):
    """A run killed between its two renames leaves '.X-old-PID'; the next start puts it back and drops partials
    (both carry alvh's marker; folders of those names without it are the user's and are left alone)."""
    from alvh.outdir import write_marker
    from alvh.pipeline import _tidy

    out = tmp_path / "res"
    old = tmp_path / ".res-old-99999"
    old.mkdir()
    (old / "results.nc").write_text("previous")
    write_marker(old, "result")
    partial = tmp_path / ".res-partial-abc"
    partial.mkdir()
    write_marker(partial, "partial", files=())
    (tmp_path / ".res-partial-mine").mkdir()        # no marker: not alvh's
    _tidy(out)
    assert (out / "results.nc").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".res-partial-mine", "res"]


def test_grid_keys_named_like_dataset_variables_are_prefixed(tmp_path):
    """A grid over simulation.n_paths gets the dimension grid_n_paths (n_paths is a variable of batch.nc)."""
    from alvh.batch import load_batch

    spec = load_batch(_write_batch(tmp_path, '[batch.grid]\n"simulation.n_paths" = [64, 128]\n'))
    assert spec.dims == ["grid_n_paths"]


def test_batch_paths_cannot_override_a_grid_over_n_paths(tmp_path):
    """batch.paths together with a grid over simulation.n_paths is refused (one would silently win)."""
    from alvh.batch import load_batch
    from alvh.config import ConfigError

    with pytest.raises(ConfigError, match="override"):
        load_batch(_write_batch(tmp_path, 'paths = 100\n[batch.grid]\n"simulation.n_paths" = [64, 128]\n'))


def test_compare_results_ignores_execution_and_version_attrs_but_not_values():
    """compare_results: a different 'created' or package version is no difference; one changed value is."""
    import xarray as xr

    from alvh.pipeline import compare_results

    a = xr.Dataset({"pnl": ("path", np.array([1.0, np.nan]))}, attrs={"created": "x", "package_versions_json": "1",
                                                                        "seed": 7})
    b = a.copy(deep=True)
    b.attrs.update(created="y", package_versions_json="2")
    assert compare_results(a, b) == []
    b["pnl"].values[0] = 1.0 + 1e-15
    b.attrs["seed"] = 8
    assert [d.split(":")[0] for d in compare_results(a, b)] == ["variable pnl", "attribute seed"]
