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
import json
import os
from pathlib import Path

__all__ = ["MARKER", "OutputFolderError", "check_result_folder", "check_batch_folder", "write_marker",
           "check_writable", "publish_mode", "BATCH_ENTRIES", "TOOL_HIDDEN_PREFIXES"]

#: Name of the marker file in every folder alvh writes.
MARKER = ".alvh-output.json"

#: Format tag of the marker.
MARKER_FORMAT = "alvh-output/1"

#: Top-level entries of a batch folder (besides the marker).
BATCH_ENTRIES = frozenset({"batch.log", "batch_manifest.json", "points", "batch.nc", "summary.html", "summary.csv"})

#: Hidden names alvh itself leaves beside a result while it works: ``.NAME.lock``, ``.NAME.chunks``,
#: ``.NAME-partial-*``, ``.NAME-old-*`` and ``.FILE.part-PID`` (:func:`sim.checkpoint.atomic_write_bytes`).
TOOL_HIDDEN_PREFIXES = (".lock", ".chunks", "-partial-", "-old-", ".part-")


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
    if not isinstance(doc, dict) or doc.get("format") != MARKER_FORMAT or not isinstance(doc.get("files"), list):
        return None
    return doc


def _foreign(folder: Path, allowed, hidden: bool = False) -> list[str]:
    """Entries of ``folder`` that are neither the marker, in ``allowed``, nor (with ``hidden``) alvh's
    hidden work files."""
    out = []
    for entry in sorted(os.listdir(folder)):
        if entry == MARKER or entry in allowed:
            continue
        if hidden and entry.startswith(".") and any(p in entry for p in TOOL_HIDDEN_PREFIXES):
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
    if not path.exists():
        return
    entries = os.listdir(path)
    if not entries:
        return
    marker = read_marker(path)
    if marker is None or marker.get("kind") not in ("result", None):
        first = sorted(e for e in entries if e != MARKER)[:1] or [MARKER]
        what = ("a batch folder" if marker is not None else
                f"'{first[0]}' and no alvh marker" if "results.nc" in entries else
                f"'{first[0]}', which alvh did not write")
        raise OutputFolderError(f"{key} {path}: holds {what}; {_rule(key)}")
    foreign = _foreign(path, set(marker["files"]))
    if foreign:
        raise OutputFolderError(f"{key} {path}: holds '{foreign[0]}', which alvh did not write; {_rule(key)}")


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
    _refuse_special(path, key)
    if not path.exists() or not os.listdir(path):
        return
    marker = read_marker(path)
    if marker is None or marker.get("kind") != "batch":
        first = sorted(e for e in os.listdir(path) if e != MARKER)[:1] or [MARKER]
        what = "a single run's result" if marker is not None else f"'{first[0]}', which alvh did not write"
        raise OutputFolderError(f"{key} {path}: holds {what}; {_rule(key)}")
    foreign = _foreign(path, BATCH_ENTRIES, hidden=True)
    if foreign:
        raise OutputFolderError(f"{key} {path}: holds '{foreign[0]}', which alvh did not write; {_rule(key)}")
    points = path / "points"
    if points.is_symlink() or (points.exists() and not points.is_dir()):
        raise OutputFolderError(f"{key} {path}: 'points' is not a folder alvh wrote; {_rule(key)}")
    if points.is_dir():
        for entry in _foreign(points, (), hidden=True):
            check_result_folder(points / entry, key=f"{key} point")


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
    kind : {"result", "batch"}
    files : iterable of str, optional
        Entries alvh wrote; default: every entry now in ``folder``.
    """
    from sim.results import package_versions

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
