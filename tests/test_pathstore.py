"""The on-disk store of per-path summaries (alvh.pathstore)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from alvh.pathstore import PathStore, StoredArray


def test_chunks_written_out_of_order_read_back_as_one_array(tmp_path):
    rng = np.random.default_rng(0)
    full = {"pnl": rng.normal(size=(3, 10)), "legs": rng.normal(size=(3, 2, 10)), "n": np.arange(10.0)}
    store = PathStore(10, tmp_path / "s")
    for start, stop in ((6, 10), (0, 4), (4, 6)):
        store.write(start, {k: v[..., start:stop] for k, v in full.items()})
    for k, v in full.items():
        a = store[k]
        assert isinstance(a, StoredArray) and a.shape == v.shape and a.ndim == v.ndim and a.dtype == v.dtype
        assert np.array_equal(np.asarray(a), v)
    a, b = store["pnl"], store["n"]
    assert np.array_equal(a[1], full["pnl"][1]) and np.array_equal(a[:, 3:5], full["pnl"][:, 3:5])
    assert np.array_equal(a - a[0], full["pnl"] - full["pnl"][0])          # ufuncs and broadcasting
    assert np.array_equal(b + b, 2 * full["n"]) and float(b.sum()) == 45.0   # array methods
    assert np.array_equal(store["legs"][2, 1], full["legs"][2, 1])
    assert store["pnl"].nbytes == full["pnl"].nbytes


def test_bad_writes_are_refused(tmp_path):
    store = PathStore(5, tmp_path)
    with pytest.raises(ValueError, match="outside"):
        store.write(3, {"x": np.zeros(3)})
    store.write(0, {"x": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="does not fit"):
        store.write(3, {"x": np.zeros((4, 2))})
    with pytest.raises(ValueError):
        PathStore(0)


def test_temporary_folder_is_removed_with_the_store():
    store = PathStore(4)
    store.write(0, {"x": np.ones(4)})
    folder = store.folder
    assert (folder / "x.npy").is_file()
    store.close()
    assert not folder.exists()
    store = PathStore(4)
    folder = store.folder
    del store
    gc.collect()
    assert not folder.exists()


def test_arrays_keep_their_store_alive_and_refuse_in_place_writes():
    store = PathStore(3)
    store.write(0, {"x": np.array([1.0, 2.0, 3.0])})
    a = store["x"]
    folder = store.folder
    del store
    gc.collect()
    assert folder.exists() and np.array_equal(np.asarray(a), [1.0, 2.0, 3.0])
    assert isinstance(a[1], np.floating) and a[1] == 2.0          # a scalar, as an ndarray gives
    with pytest.raises(TypeError, match="read-only"):
        a += 1.0
    del a
    gc.collect()
    assert not folder.exists()


def test_a_checkpointed_run_keeps_its_path_store_in_the_checkpoint(tiny_prepared, tmp_path):
    """The per-path store lives in the checkpoint folder (removed with it, not left in $TMPDIR by a
    killed run), and a fresh start empties it before the store is made."""
    from alvh.runner import run

    ck = tmp_path / ".tiny.chunks"
    res = run(tiny_prepared, 200, seed=5, jobs=1, progress=False, checkpoint=ck, path_store=ck / "paths")
    assert res.path_store.folder == ck / "paths"
    assert (ck / "paths" / "pnl.npy").is_file() and (ck / "manifest.json").is_file()
    again = run(tiny_prepared, 200, seed=5, jobs=1, progress=False, checkpoint=ck, fresh=True,
                path_store=ck / "paths")
    np.testing.assert_array_equal(np.asarray(again.per_strategy["pnl"]), np.asarray(res.per_strategy["pnl"]))
    resumed = run(tiny_prepared, 200, seed=5, jobs=1, progress=False, checkpoint=ck, resume=True,
                  path_store=ck / "paths")
    assert resumed.resumed_chunks == 2
    np.testing.assert_array_equal(np.asarray(resumed.per_strategy["pnl"]), np.asarray(res.per_strategy["pnl"]))
