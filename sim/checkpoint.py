"""Chunk checkpoints: every finished chunk of a run persisted atomically, with a manifest and checksums.

A checkpoint folder holds one ``.npz`` file per finished chunk (``chunk_00012.npz``: numpy's own
uncompressed archive of ``.npy`` arrays, as :func:`numpy.savez` writes it, read back with
:func:`numpy.load` and ``allow_pickle=False``) and ``manifest.json``, which records

* the run's identity: the SHA-256 of the scenario text, the root seed, the number of paths, the
  chunking, the number of steps and the versions of the packages that draw and price the paths;
* for every finished chunk: its file, its size in bytes and the SHA-256 of its bytes.

Both are written to a temporary name, flushed to disk (``fsync``) and renamed into place, so a
process killed at any moment (``kill -9``) leaves either the old file or the new one, never half of
one. A chunk counts as finished only once the manifest lists it with its checksum: a chunk file the
manifest does not list (killed between the two renames), a missing file, or one whose bytes no longer
match the checksum (truncated, corrupted) is reported and recomputed. Because chunk ``i`` always
draws from the same child seed, a resumed run is bit-identical to an uninterrupted one.

A full disk (``ENOSPC``, ``EDQUOT``) raises :class:`StorageError` with a message that says so; the
temporary file is removed and the manifest still lists only complete chunks.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["ChunkStore", "CheckpointError", "CheckpointExists", "StorageError", "atomic_write_bytes",
           "file_sha256", "storage_guard", "output_lock", "QuietFileHandler"]

log = logging.getLogger("alvh")

MANIFEST = "manifest.json"
#: Version 2 (chunk files as ``.npz``) replaced version 1 (netCDF-4 through xarray): saving a chunk of
#: baseline.toml cost the parent 0.28 s of CPU, against 0.012 s now, on a machine whose cores all run
#: workers.
FORMAT = "alvh-chunks/2"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class CheckpointError(RuntimeError):
    """A checkpoint folder cannot be used for this run (it belongs to another run, or is unreadable)."""


class CheckpointExists(CheckpointError):
    """A checkpoint of an interrupted run is present and neither resume nor a fresh start was asked for."""


class StorageError(OSError):
    """Writing a checkpoint or a result failed for lack of disk space (or another OS error)."""


def _is_disk_full(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
            return True
        if "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class storage_guard:
    """Context manager: turn an ``OSError`` (or an HDF5 error caused by one) while writing ``path``
    into a :class:`StorageError` with a one-line message; a full disk is named as such."""

    def __init__(self, path: Path, what: str):
        self.path, self.what = Path(path), what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or isinstance(exc, StorageError):
            return False
        if _is_disk_full(exc):
            try:
                free = shutil.disk_usage(self.path.parent).free
                room = f"{free / 2**20:,.1f} MiB free"
            except OSError:
                room = "free space unknown"
            raise StorageError(errno.ENOSPC, f"disk full while writing {self.what} {self.path} ({room}); "
                                             "nothing partial was kept") from exc
        if isinstance(exc, OSError):
            raise StorageError(exc.errno or errno.EIO, f"cannot write {self.what} {self.path}: {exc}") from exc
        return False


class output_lock:
    """Context manager: an exclusive lock (``fcntl.flock``) on ``.NAME.lock`` beside an output folder,
    held for a whole run, so two processes never write, resume or delete the same run at once. The
    lock file holds the holder's pid and is removed on release.

    Raises
    ------
    CheckpointError
        Another process holds the lock (the message gives its pid).
    """

    def __init__(self, out_dir: Path):
        out_dir = Path(out_dir)
        self.path = out_dir.parent / f".{out_dir.name}.lock"
        self.fd = None

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise CheckpointError(f"{self.path.parent / self.path.name[1:-5]}: in use by another alvh process "
                                      f"(pid {other}); wait for it or choose another --out") from None
            try:  # the holder before us may have removed the file while we opened it: lock the live one
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        else:
            raise CheckpointError(f"{self.path}: could not take the lock")
        self.fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return self

    def __exit__(self, *exc):
        import fcntl

        if self.fd is not None:
            try:
                self.path.unlink()  # removed while still held, so nobody can lock a stale file
            except FileNotFoundError:
                pass
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        return False


class QuietFileHandler(logging.FileHandler):
    """A log file that goes quiet (instead of printing a traceback per record) once writing fails,
    e.g. on a full disk; the error itself is reported by the command."""

    def handleError(self, record):  # noqa: N802 (logging's name)
        """A failed write of the log closes the file and silences the handler (the run goes on)."""
        self.close()
        self.setLevel(logging.CRITICAL + 1)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes, what: str = "file") -> None:
    """Write ``data`` to ``path`` through a temporary file, ``fsync`` and a rename.

    Raises
    ------
    StorageError
        The disk is full or the folder is not writable; ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        with storage_guard(path, what):
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _write_npz(f, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to the open binary file ``f`` as an uncompressed ``.npz`` (member ``NAME.npy`` per
    array), as :func:`numpy.savez` does, but refusing object arrays (``allow_pickle=False``) on any numpy
    and with no clash between array names and ``savez``'s own parameters.

    Raises
    ------
    ValueError
        An array of dtype object.
    """
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, v in arrays.items():
            with zf.open(f"{name}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(v), allow_pickle=False)


class ChunkStore:
    """The checkpoint folder of one run.

    Parameters
    ----------
    folder : Path
        Where chunk files and the manifest live (created when needed).
    identity : dict
        JSON-serialisable description of the run (scenario hash, seed, paths, chunking, versions);
        a folder written for another identity is refused.
    n_chunks : int
        Number of chunks of the run.

    Examples
    --------
    >>> store = ChunkStore(folder, identity, n_chunks)            # doctest: +SKIP
    >>> done = store.open(resume=True)                            # doctest: +SKIP
    >>> store.save(i, chunk_arrays)                               # doctest: +SKIP
    """

    def __init__(self, folder: Path, identity: dict, n_chunks: int):
        self.folder = Path(folder)
        self.identity = json.loads(json.dumps(identity))
        self.n_chunks = int(n_chunks)
        self.chunks: dict[int, dict] = {}

    @property
    def manifest_path(self) -> Path:
        """Path of the checkpoint's manifest."""
        return self.folder / MANIFEST

    def chunk_path(self, i: int) -> Path:
        """Path of chunk ``i``'s stored arrays."""
        return self.folder / f"chunk_{i:05d}.npz"

    def exists(self) -> bool:
        """Whether a manifest is present (a run was started here)."""
        return self.manifest_path.is_file()

    def _read_manifest(self) -> dict:
        try:
            doc = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{self.manifest_path}: unreadable manifest ({exc}); remove the folder to start "
                                  "again") from None
        fmt = doc.get("format")
        if fmt != FORMAT:
            if isinstance(fmt, str) and fmt.startswith("alvh-chunks/"):
                raise CheckpointError(f"{self.manifest_path}: a checkpoint in format {fmt!r}, written by another "
                                      f"version of alvh (this one reads {FORMAT!r}); pass --fresh to discard it")
            raise CheckpointError(f"{self.manifest_path}: not an alvh chunk manifest (format {fmt!r})")
        return doc

    def open(self, resume: bool = False, fresh: bool = False) -> list[int]:
        """Prepare the folder and return the chunks already finished (verified by checksum).

        Parameters
        ----------
        resume : bool
            Continue a checkpoint of the same run if one is present.
        fresh : bool
            Discard any checkpoint present and start again.

        Returns
        -------
        list of int
            Indices of finished chunks whose files exist and match their checksums.

        Raises
        ------
        CheckpointExists
            A checkpoint is present and neither ``resume`` nor ``fresh`` is set.
        CheckpointError
            The checkpoint belongs to another run (the message names the differing key), or its
            manifest is unreadable.
        StorageError
            The manifest cannot be written (disk full).
        """
        if fresh and self.folder.exists():
            shutil.rmtree(self.folder)
        if not self.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            for stale in self.folder.glob("chunk_*"):
                stale.unlink()
            self.chunks = {}
            self._write_manifest()
            return []
        doc = self._read_manifest()
        if not resume:
            raise CheckpointExists(
                f"{self.folder}: a checkpoint of an interrupted run is here ({len(doc.get('chunks', {}))} of "
                f"{doc.get('n_chunks', '?')} chunks done); pass --resume to continue it or --fresh to discard it")
        for key in sorted(set(self.identity) | set(doc["identity"])):
            if self.identity.get(key) != doc["identity"].get(key):
                raise CheckpointError(
                    f"{self.folder}: the checkpoint is of another run ({key}: {doc['identity'].get(key)!r} there, "
                    f"{self.identity.get(key)!r} now); pass --fresh to discard it")
        done = []
        for name, entry in sorted(doc.get("chunks", {}).items(), key=lambda kv: int(kv[0])):
            i = int(name)
            path = self.folder / entry["file"]
            problem = None
            if not path.is_file():
                problem = "file missing"
            elif path.stat().st_size != entry["bytes"]:
                problem = f"{path.stat().st_size} bytes, {entry['bytes']} expected (truncated or partial)"
            elif file_sha256(path) != entry["sha256"]:
                problem = "checksum mismatch (corrupt)"
            if problem is None and 0 <= i < self.n_chunks:
                self.chunks[i] = entry
                done.append(i)
            else:
                log.warning("checkpoint %s: chunk %d: %s; it will be recomputed", self.folder, i, problem)
                path.unlink(missing_ok=True)
        unlisted = {p.name for p in self.folder.glob("chunk_*")} - {e["file"] for e in self.chunks.values()}
        for name in sorted(unlisted):  # killed between the chunk's rename and the manifest's
            log.info("checkpoint %s: %s is not in the manifest; it will be recomputed", self.folder, name)
            (self.folder / name).unlink(missing_ok=True)
        for tmp in self.folder.glob(".*.part-*"):  # temporaries of a writer killed mid-write
            log.info("checkpoint %s: removing the partial file %s of an interrupted write", self.folder, tmp.name)
            tmp.unlink(missing_ok=True)
        self._write_manifest()
        return done

    def _write_manifest(self) -> None:
        doc = {"format": FORMAT, "identity": self.identity, "n_chunks": self.n_chunks,
               "chunks": {str(i): self.chunks[i] for i in sorted(self.chunks)}}
        atomic_write_bytes(self.manifest_path, json.dumps(doc, indent=1).encode(), "checkpoint manifest")

    def save(self, i: int, out: dict[str, np.ndarray]) -> None:
        """Persist chunk ``i`` atomically, then list it in the manifest.

        ``out`` is the dict of arrays :func:`alvh.runner.simulate_chunk` returns (any shapes and
        numeric dtypes, each stored exactly; names are ``.npy`` members of the archive).

        Raises
        ------
        StorageError
            The disk is full (or the folder not writable); the chunk is not listed.
        """
        path = self.chunk_path(i)
        tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
        try:
            with storage_guard(path, f"checkpoint of chunk {i}"):
                with open(tmp, "wb") as f:
                    _write_npz(f, out)
                    f.flush()
                    os.fsync(f.fileno())
                digest, size = file_sha256(tmp), tmp.stat().st_size
                os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        _fsync_dir(self.folder)
        self.chunks[i] = {"file": path.name, "bytes": size, "sha256": digest}
        self._write_manifest()

    def load(self, i: int) -> dict[str, np.ndarray] | None:
        """The arrays of finished chunk ``i``, or None if its file no longer matches its checksum."""
        entry = self.chunks.get(i)
        path = self.chunk_path(i)
        if entry is None or not path.is_file() or file_sha256(path) != entry["sha256"]:
            log.warning("checkpoint %s: chunk %d changed since it was verified; it will be recomputed", self.folder, i)
            self.chunks.pop(i, None)
            return None
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
