"""Per-path summaries on disk: memory flat in the number of paths.

A run of ``n`` paths produces a few hundred numbers per path (each strategy's P&L, cost, drawdown,
layer P&L, ...). At millions of paths they do not fit in memory, so the runner writes each finished
chunk's summaries into one preallocated ``.npy`` file per field (:func:`numpy.lib.format.open_memmap`)
at the chunk's path offset, and the analysis reads them back a row at a time.

:class:`StoredArray` is what the analysis sees: it has an array's ``shape``, ``ndim`` and ``dtype``;
indexing (``a[s]``, ``a[:, :m]``) reads just that part from disk into an ordinary array, and numpy
functions and arithmetic (``a + b``, ``np.asarray(a)``) read the whole array. Each read maps the file,
copies, and unmaps, so pages do not stay mapped in the process between reads.

The folder is private to one run: the one given (``alvh run`` uses ``paths`` inside the run's
checkpoint folder, removed with it), or a temporary directory (``$TMPDIR``; on a RAM-backed tmpfs the
files would take memory, so point ``TMPDIR`` at a disk for runs of millions of paths) removed when
the :class:`PathStore` is closed or garbage-collected; every :class:`StoredArray` keeps its store
alive.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["PathStore", "StoredArray"]


class StoredArray(NDArrayOperatorsMixin):
    """A read-only array in a ``.npy`` file, read on demand.

    Parameters
    ----------
    path : Path
        The ``.npy`` file.
    shape : tuple of int
    dtype : numpy dtype
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype, owner=None) -> None:
        self.path, self.shape, self.dtype = Path(path), tuple(shape), np.dtype(dtype)
        self._owner = owner      # the PathStore: its folder lives as long as any of its arrays

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes on disk (not in memory)."""
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        mm = np.load(self.path, mmap_mode="r")
        try:
            part = mm[key]
            return np.array(part) if isinstance(part, np.ndarray) else part   # a scalar stays a scalar
        finally:
            del mm

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[...]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(isinstance(x, StoredArray) for x in kwargs.get("out", ()) or ()):
            raise TypeError("a StoredArray is read-only (in-place operations are not supported)")
        inputs = tuple(np.asarray(x) if isinstance(x, StoredArray) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __getattr__(self, name: str):
        """Other ndarray methods and attributes (``sum``, ``mean``, ``T``, ...) on the whole array."""
        if name.startswith("__") or name in ("path", "shape", "dtype"):
            raise AttributeError(name)
        return getattr(np.asarray(self), name)

    def __repr__(self) -> str:
        return f"StoredArray(shape={self.shape}, dtype={self.dtype}, path={str(self.path)!r})"


class PathStore:
    """One run's per-path summaries, one ``.npy`` file per field, path axis last.

    Parameters
    ----------
    n_paths : int
        Paths of the run (the last axis of every field).
    folder : Path, optional
        Where to keep the files; default a new temporary directory (``$TMPDIR``), removed on
        :meth:`close` or when the store is garbage-collected.

    Raises
    ------
    ValueError
        For ``n_paths < 1``.
    """

    def __init__(self, n_paths: int, folder: Path | None = None) -> None:
        if n_paths < 1:
            raise ValueError(f"n_paths must be >= 1, got {n_paths}")
        self.n_paths = int(n_paths)
        if folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="alvh-paths-"))
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.folder), True)
        else:
            self.folder = Path(folder)
            self.folder.mkdir(parents=True, exist_ok=True)
            self._finalizer = None
        self.fields: dict[str, StoredArray] = {}

    def write(self, start: int, values: dict[str, np.ndarray]) -> None:
        """Write one chunk's arrays (path axis last, ``k`` paths) at paths ``start .. start + k - 1``.

        The first write of a field creates its file, shaped like the chunk's array but with
        ``n_paths`` on the path axis (unwritten paths are zero).

        Raises
        ------
        ValueError
            When a chunk overruns ``n_paths`` or its leading shape differs from the field's.
        OSError
            When the disk is full.
        """
        for name, v in values.items():
            v = np.asarray(v)
            k = v.shape[-1]
            if start < 0 or start + k > self.n_paths:
                raise ValueError(f"{name}: paths {start}..{start + k - 1} outside 0..{self.n_paths - 1}")
            field = self.fields.get(name)
            if field is None:
                shape = v.shape[:-1] + (self.n_paths,)
                path = self.folder / f"{name}.npy"
                open_memmap(path, mode="w+", dtype=v.dtype, shape=shape).flush()
                field = self.fields[name] = StoredArray(path, shape, v.dtype, owner=self)
            if v.shape[:-1] != field.shape[:-1]:
                raise ValueError(f"{name}: chunk shape {v.shape} does not fit {field.shape}")
            # No flush (msync): readers map the same page cache, and a resumed run rebuilds the store from
            # its checkpoint, so forcing the pages to disk bought nothing and cost the parent 0.12 s of wall
            # time (0.02 s of CPU) per baseline.toml chunk.
            mm = open_memmap(field.path, mode="r+")
            try:
                mm[..., start:start + k] = v
            finally:
                del mm

    def __getitem__(self, name: str) -> StoredArray:
        return self.fields[name]

    def close(self) -> None:
        """Remove the temporary folder (a no-op for a folder given by the caller)."""
        if self._finalizer is not None:
            self._finalizer()
