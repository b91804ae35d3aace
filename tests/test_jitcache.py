"""alvh.jitcache: numba's cache entries of the kernel folders are dropped when any of their sources
changes (numba itself only notices a change in the function's own file), and nothing else is touched."""

from __future__ import annotations

from pathlib import Path

from alvh import jitcache


def _folder(root: Path, name: str, source: str) -> Path:
    folder = root / name
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "k.py").write_text(source)
    for f in ("k.kernel-10.py311.nbi", "k.kernel-10.py311.1.nbc", "k.cpython-311.pyc", "notes.txt"):
        (folder / "__pycache__" / f).write_text("x")
    return folder


def _numba_files(folder: Path) -> set[str]:
    return {p.name for p in (folder / "__pycache__").glob("*.nb[ic]")}


def test_a_change_in_another_file_drops_the_cached_kernels_of_every_folder(tmp_path):
    a = _folder(tmp_path, "a", "def kernel(): return helper()\n")
    b = _folder(tmp_path, "b", "def helper(): return 1\n")
    # no stamp yet: entries of unknown provenance are dropped, and the stamp written
    assert {p.name for p in jitcache.refresh([a, b])} == {"k.kernel-10.py311.nbi", "k.kernel-10.py311.1.nbc"} \
        and not _numba_files(a) and not _numba_files(b)
    for folder in (a, b):
        assert (folder / "__pycache__" / jitcache.STAMP).is_file()
        assert {p.name for p in (folder / "__pycache__").iterdir()} >= {"k.cpython-311.pyc", "notes.txt"}
    # numba writes new entries; nothing changed: they stay
    for folder in (a, b):
        (folder / "__pycache__" / "k.kernel-10.py311.nbi").write_text("new")
    assert jitcache.refresh([a, b]) == []
    assert _numba_files(a) == _numba_files(b) == {"k.kernel-10.py311.nbi"}
    # the callee in b changes: a's kernel (whose own file did not change) is dropped too
    (b / "k.py").write_text("def helper(): return 2\n")
    removed = jitcache.refresh([a, b])
    assert sorted(p.parent.parent.name for p in removed) == ["a", "b"]
    assert not _numba_files(a) and not _numba_files(b)
    assert (a / "__pycache__" / "notes.txt").read_text() == "x"


def test_a_folder_without_a_cache_is_left_alone(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "k.py").write_text("x = 1\n")
    assert jitcache.refresh([folder]) == [] and not (folder / "__pycache__").exists()


def test_a_further_source_file_is_hashed_too(tmp_path):
    """A module outside the folders whose constants a kernel compiles in (alvh.strategy's
    SPX_MIN_STRIKE): its change drops the folders' entries."""
    a = _folder(tmp_path, "a", "def kernel(): return 1\n")
    specs = tmp_path / "specs.py"
    specs.write_text("SPX_MIN_STRIKE = 5.0\n")
    jitcache.refresh([a], also=(specs,))
    (a / "__pycache__" / "k.kernel-10.py311.nbi").write_text("new")
    assert jitcache.refresh([a], also=(specs,)) == []
    specs.write_text("SPX_MIN_STRIKE = 10.0\n")
    assert [p.name for p in jitcache.refresh([a], also=(specs,))] == ["k.kernel-10.py311.nbi"]


def test_the_kernel_folders_carry_the_stamp_once_imported():
    import os

    import pytest

    if os.environ.get("NUMBA_CACHE_DIR"):
        pytest.skip("numba writes its cache under NUMBA_CACHE_DIR: alvh.jitcache checks nothing")
    import alvh.fastbook  # noqa: F401  (imports alvh.fastprice; both run the check first)

    here = Path(jitcache.__file__).parent
    for folder in (here / "fastprice", here / "fastbook"):
        if (folder / "__pycache__").is_dir():
            assert (folder / "__pycache__" / jitcache.STAMP).is_file()
