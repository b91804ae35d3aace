"""Output folders: replaced only when empty or written by alvh, never a user's files.

Every folder alvh writes as a result (``alvh run``, ``alvh rerun``, each point of ``alvh batch``) and
every batch folder carries a marker file, :data:`MARKER`, a small JSON document saying what wrote it,
when, and which entries it wrote. Before any work (data loading, calibration, simulation) a command
checks its output folder with :func:`check_result_folder` or :func:`check_batch_folder`:

* a folder that does not exist, or an empty one, may be written;
* a folder with alvh's marker may be replaced, but only if every entry in it is one alvh wrote
  (listed in the marker); a file a user added beside the results makes it foreign;
* anything else is refused with :class:`OutputFolderError`: one line naming the folder, the first
  entry alvh did not write, and the rule. So are a symbolic link, a file, the file system's root,
  the home folder, and the working folder or any folder above it.

Rule of the project: *never destroy what the tool did not write*.
"""

from __future__ import annotations

import datetime as _dt
import glob
import json
import os
import re
from pathlib import Path

__all__ = ["MARKER", "OutputFolderError", "check_result_folder", "check_batch_folder", "check_beside",
           "write_marker", "read_marker", "check_writable", "check_owned_folder", "publish_mode", "tidy_beside",
           "work_entry_kind",
           "BATCH_ENTRIES"]

#: Name of the marker file in every folder alvh writes.
MARKER = ".alvh-output.json"

#: Format tag of the marker.
MARKER_FORMAT = "alvh-output/1"

#: Top-level entries of a batch folder (besides the marker).
BATCH_ENTRIES = frozenset({"batch.log", "batch_manifest.json", "points", "batch.nc", "summary.html", "summary.csv"})

#: Hidden names alvh itself leaves beside (or, for a batch, inside) an output folder while it works:
#: the lock ``.NAME.lock`` (a pid), the checkpoint ``.NAME.chunks`` (an alvh chunk manifest), the
#: folders ``.NAME-partial-*`` and ``.NAME-old-*`` (each with alvh's marker), and the temporary files
#: ``.FILE.part-PID`` (:func:`alvh.checkpoint.atomic_write_bytes`) and ``.results-*.nc.part``
#: (:func:`alvh.results.write_dataset`). A name of that shape whose content is not alvh's is the user's.
_WORK_PATTERNS = {
    "lock": re.compile(r"^\.(?P<name>.+)\.lock$"),
    "checkpoint": re.compile(r"^\.(?P<name>.+)\.chunks$"),
    "partial or set-aside result": re.compile(r"^\.(?P<name>.+?)-(?:partial|old)-[^/]+$"),
    "temporary file": re.compile(r"^\.(?P<name>.+)\.part-\d+$"),
    "temporary results file": re.compile(r"^\.results-(?P<name>[A-Za-z0-9_]+)\.nc\.part$"),
}


class OutputFolderError(ValueError):
    """An output folder alvh may not write into or replace; the message is one line for the user."""


def _rule(key: str) -> str:
    return (f"rule: an output folder is replaced only if it is empty or alvh wrote all of it (marker {MARKER}); "
            "choose another folder or move those files")


def _refuse_special(path: Path, key: str) -> None:
    """Refuse a symbolic link, a non-folder, the root, the home folder, or the working folder or above."""
    if path.is_symlink():
        raise OutputFolderError(f"{key} {path}: is a symbolic link; alvh writes only into real folders it created "
                                "(give the link's target, or another folder)")
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"{key} {path}: exists and is not a folder")
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == Path(resolved.anchor):
        raise OutputFolderError(f"{key} {path}: is the root of the file system; give a folder of its own")
    if resolved == Path.home().resolve():
        raise OutputFolderError(f"{key} {path}: is the home folder; give a folder of its own")
    if resolved == cwd or resolved in cwd.parents:
        raise OutputFolderError(f"{key} {path}: is the working folder or holds it; give a folder of its own")


def read_marker(folder: Path) -> dict | None:
    """The marker of ``folder`` as a dict, or None when it has none or it is not alvh's."""
    try:
        doc = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if (not isinstance(doc, dict) or doc.get("format") != MARKER_FORMAT or not isinstance(doc.get("files"), list)
            or not all(isinstance(f, str) for f in doc["files"])):
        return None
    return doc


def work_entry_kind(parent: Path, entry: str, name: str | None = None) -> str | None:
    """What alvh work file or folder ``parent/entry`` is ("lock", "checkpoint", ...), or None when it
    is not one: its name has none of alvh's shapes (for the output ``name``, if given), or its
    content is not alvh's (a lock holding more than a pid, a checkpoint without alvh's manifest, a
    partial or set-aside folder without alvh's marker)."""
    p = Path(parent) / entry
    if p.is_symlink():
        return None
    for kind, pattern in _WORK_PATTERNS.items():
        m = pattern.match(entry)
        if m is None or (name is not None and m.group("name") != name):
            continue
        if kind == "lock":
            ok = p.is_file() and p.stat().st_size <= 32 and re.fullmatch(rb"\s*\d*\s*", p.read_bytes()) is not None
        elif kind == "checkpoint":
            ok = p.is_dir() and (not any(p.iterdir()) or _chunk_manifest(p / "manifest.json"))
        elif kind == "partial or set-aside result":
            ok = p.is_dir() and read_marker(p) is not None
        else:
            ok = p.is_file()
        return kind if ok else None
    return None


def _chunk_manifest(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and str(doc.get("format", "")).startswith("alvh-chunks/")


def check_beside(path: Path, key: str = "--out") -> None:
    """Refuse, before any work, a file or folder beside the output folder ``path`` that has the name
    of one of alvh's work files for it (``.NAME.lock``, ``.NAME.chunks``, ``.NAME-partial-*``,
    ``.NAME-old-*``) but is not alvh's: alvh would overwrite, delete or restore it.

    Raises
    ------
    OutputFolderError
    """
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        return
    for entry in sorted(os.listdir(parent)):
        if not entry.startswith(f".{path.name}"):
            continue
        shaped = any((m := pat.match(entry)) is not None and m.group("name") == path.name
                     for pat in list(_WORK_PATTERNS.values())[:3])
        if shaped and work_entry_kind(parent, entry, path.name) is None:
            raise OutputFolderError(f"{key} {path}: {str(parent / entry)!r} beside it has the name of an alvh work "
                                    "file (lock, checkpoint, partial or set-aside result) but alvh did not write it; "
                                    "rule: alvh never overwrites or deletes what it did not write; rename it or "
                                    "choose another folder")


def tidy_beside(path: Path, log=None) -> None:
    """Before a run (under its lock): put back a result that a run killed between its two renames left
    aside (``.NAME-old-*``, alvh's marker of kind "result"), and remove the partial folders of killed
    runs (``.NAME-partial-*`` with alvh's marker). Nothing without alvh's marker is touched."""
    import shutil

    path = Path(path)
    esc = glob.escape(path.name)
    own = lambda p: p.is_dir() and not p.is_symlink() and read_marker(p) is not None  # noqa: E731
    old = [p for p in sorted(path.parent.glob(f".{esc}-old-*")) if own(p)]
    if old and not path.exists() and read_marker(old[-1]).get("kind") == "result":
        if log is not None:
            log.warning("%s: restoring the previous result, left aside by a run killed while replacing it", path)
        os.replace(old.pop(), path)
    for stale in old + [p for p in sorted(path.parent.glob(f".{esc}-partial-*")) if own(p)]:
        shutil.rmtree(stale, ignore_errors=True)


def _foreign(folder: Path, allowed, hidden: bool = False) -> list[str]:
    """Entries of ``folder`` that are neither the marker, in ``allowed``, nor (with ``hidden``) alvh's
    hidden work files."""
    out = []
    for entry in sorted(os.listdir(folder)):
        if entry == MARKER or entry in allowed:
            continue
        if hidden and work_entry_kind(folder, entry) is not None:
            continue
        out.append(entry)
    return out


def check_result_folder(path: Path, key: str = "--out") -> None:
    """Refuse, before any work, a result folder that alvh may not replace.

    Parameters
    ----------
    path : Path
        The folder a result will be written to (replaced as a whole).
    key : str
        How the user named it, for the message (``--out``, ``name``).

    Raises
    ------
    OutputFolderError
        ``path`` is a symbolic link, a file, the root, the home folder, the working folder or above
        it, or a non-empty folder without alvh's marker, or one holding an entry the marker does
        not list.
    """
    path = Path(path)
    _refuse_special(path, key)
    check_beside(path, key)
    if not path.exists():
        return
    entries = os.listdir(path)
    if not entries:
        return
    marker = read_marker(path)
    if marker is None or marker.get("kind") not in ("result", None):
        first = sorted(e for e in entries if e != MARKER)[:1] or [MARKER]
        what = ("a batch folder" if marker is not None else
                f"{first[0]!r} and no alvh marker" if "results.nc" in entries else
                f"{first[0]!r}, which alvh did not write")
        raise OutputFolderError(f"{key} {path}: holds {what}; {_rule(key)}")
    foreign = _foreign(path, set(marker["files"]))
    if foreign:
        raise OutputFolderError(f"{key} {path}: holds {foreign[0]!r}, which alvh did not write; {_rule(key)}")


def check_batch_folder(path: Path, key: str = "--out") -> None:
    """Refuse, before any work, a batch folder that holds anything alvh did not write.

    A batch folder may hold :data:`BATCH_ENTRIES` and alvh's hidden work files; its ``points``
    folder may hold only point folders that :func:`check_result_folder` accepts and hidden work files.

    Raises
    ------
    OutputFolderError
        As :func:`check_result_folder`, for the batch folder or any entry of ``points``.
    """
    path = Path(path)
    if not check_owned_folder(path, "batch", BATCH_ENTRIES, key):
        return
    points = path / "points"
    if points.is_symlink() or (points.exists() and not points.is_dir()):
        raise OutputFolderError(f"{key} {path}: 'points' is not a folder alvh wrote; {_rule(key)}")
    if points.is_dir():
        for entry in _foreign(points, (), hidden=True):
            check_result_folder(points / entry, key=f"{key} point")


def check_owned_folder(path: Path, kind: str, entries, key: str = "--out") -> bool:
    """Refuse a folder of ``kind`` (``batch``, ``frontier``) that holds anything alvh did not write.

    Returns
    -------
    bool
        False when ``path`` does not exist or is empty (nothing more to check), True otherwise.

    Raises
    ------
    OutputFolderError
        ``path`` is special (:func:`check_result_folder`), has no marker of ``kind``, or holds an entry
        other than ``entries`` and alvh's hidden work files.
    """
    path = Path(path)
    _refuse_special(path, key)
    check_beside(path, key)
    if not path.exists() or not os.listdir(path):
        return False
    marker = read_marker(path)
    if marker is None or marker.get("kind", "result") != kind:
        first = sorted(e for e in os.listdir(path) if e != MARKER)[:1] or [MARKER]
        what = (f"{first[0]!r}, which alvh did not write" if marker is None else
                "a single run's result" if marker.get("kind", "result") == "result" else f"a {marker['kind']} folder")
        raise OutputFolderError(f"{key} {path}: holds {what}; {_rule(key)}")
    foreign = _foreign(path, entries, hidden=True)
    if foreign:
        raise OutputFolderError(f"{key} {path}: holds {foreign[0]!r}, which alvh did not write; {_rule(key)}")
    return True


def check_writable(parent: Path, key: str = "--out") -> None:
    """Refuse, before any work, a parent folder in which nothing can be created.

    Nothing is left behind: the probe is made (and removed) in the nearest folder that exists, so a
    parent that does not exist yet is not created here.

    Raises
    ------
    OutputFolderError
        The nearest existing folder of ``parent`` is not a folder, or a folder cannot be made in it
        (read-only file system, no permission).
    """
    import tempfile

    probe_in = Path(os.path.abspath(parent))
    while not probe_in.exists() and probe_in != probe_in.parent:
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise OutputFolderError(f"{key}: cannot write in {parent}: {probe_in} is not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".alvh-probe-", dir=probe_in))
    except OSError as exc:
        raise OutputFolderError(f"{key}: cannot write in {parent}: {exc.strerror or exc}") from None


def write_marker(folder: Path, kind: str, files=None) -> None:
    """Write :data:`MARKER` into ``folder``: what wrote it, when, and the entries it wrote.

    Parameters
    ----------
    folder : Path
    kind : {"result", "batch", "frontier"}
    files : iterable of str, optional
        Entries alvh wrote; default: every entry now in ``folder``.
    """
    from alvh.results import package_versions

    folder = Path(folder)
    names = sorted(set(os.listdir(folder) if files is None else files) - {MARKER})
    doc = {"format": MARKER_FORMAT, "kind": kind, "written_by": f"alvh {package_versions().get('alvh', '?')}",
           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "files": names}
    (folder / MARKER).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def publish_mode(folder: Path) -> None:
    """Give ``folder`` and the files in it the modes the user's umask asks for (a temporary folder
    is created 0700 and its files 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    folder = Path(folder)
    os.chmod(folder, 0o777 & ~mask)
    for entry in folder.iterdir():
        if entry.is_file() and not entry.is_symlink():
            os.chmod(entry, 0o666 & ~mask)
