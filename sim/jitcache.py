"""numba's disk cache kept true to the source of every compiled kernel.

numba caches a function compiled with ``cache=True`` in the ``__pycache__`` folder beside its source
file, and drops the entry when *that* file changes. A kernel that calls compiled functions of another
file keeps its old machine code when only the other file changes (numba's documentation, "Notes on
caching": changes to functions in other files that a cached function calls are not detected).
alvh's kernels call across the files of :mod:`alvh.fastprice`, :mod:`alvh.fastbook` and
:mod:`alvh.models.kernels`, so :func:`check` hashes all their sources together and removes the cached
entries of those folders (numba's ``*.nbi`` index and ``*.nbc`` code files, nothing else) when the
hash differs from the one recorded beside them; numba then compiles afresh on first call.

Only the ``__pycache__`` folders beside the sources are looked at: that is where numba writes when it
can (an editable install, the only kind whose sources change in place). With ``NUMBA_CACHE_DIR`` set,
numba writes elsewhere and nothing is checked. A process that was already running when a source was
edited (a notebook kernel, a Dask worker) keeps the old code it loaded and may save entries built
from it after a newer process checked: restart such processes after editing a kernel.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["check", "refresh", "STAMP"]

#: The file, in each folder's ``__pycache__``, that records the hash its numba entries were built from.
STAMP = "alvh-jit-sources.sha256"

_checked = False


def refresh(folders: list[Path], also: tuple[Path, ...] = ()) -> list[Path]:
    """Remove the numba cache files of ``folders`` that may be stale.

    Parameters
    ----------
    folders : list of Path
        Source folders whose ``*.py`` files are hashed together (sorted by path); each one's
        ``__pycache__/*.nbi`` and ``*.nbc`` files are removed when its :data:`STAMP` is missing or
        differs, and the stamp is then written.
    also : tuple of Path
        Further source files hashed with them (a module whose constants the kernels compile in).

    Returns
    -------
    list of Path
        The files removed. A folder whose ``__pycache__`` cannot be read or written is skipped.
    """
    h = hashlib.sha256()
    for src in sorted(p for f in folders for p in Path(f).glob("*.py")) + [Path(p) for p in also if Path(p).is_file()]:
        h.update(src.name.encode())
        h.update(src.read_bytes())
    digest = h.hexdigest()
    removed: list[Path] = []
    for folder in folders:
        cache = Path(folder) / "__pycache__"
        stamp = cache / STAMP
        try:
            if not cache.is_dir() or (stamp.is_file() and stamp.read_text().strip() == digest):
                continue
            for entry in sorted(cache.glob("*.nb[ic]")):
                entry.unlink(missing_ok=True)
                removed.append(entry)
            tmp = cache / f".{STAMP}.{os.getpid()}"
            tmp.write_text(digest + "\n")
            tmp.replace(stamp)
        except OSError:
            continue
    return removed


def check() -> list[Path]:
    """:func:`refresh` the folders of alvh's compiled kernels, once per process (called when
    :mod:`alvh.fastprice`, :mod:`alvh.fastbook` or :mod:`alvh.models.kernels` is imported, before any
    kernel runs). Returns the files removed."""
    global _checked
    if _checked or os.environ.get("NUMBA_CACHE_DIR"):
        return []
    _checked = True
    here = Path(__file__).parent
    # installed, alvh.models is alvh/models; in the repository (an editable install) sim/ is alvh and
    # models/ its sibling: decided by the folder's name, never by looking for some other "models"
    models = here.parent / "models" if here.name == "sim" else here / "models"
    # the compiled engine bakes in alvh.strategy's SPX_MIN_STRIKE and its vocabulary's codes
    return refresh([here / "fastprice", here / "fastbook", models / "kernels"], also=(here / "strategy" / "specs.py",))
