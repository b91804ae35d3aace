"""The frontier's output folder: what it may hold (:data:`FRONTIER_ENTRIES`), the check before any work
(:func:`check_frontier_folder`), and its opening for a search or a resume."""

from __future__ import annotations

from pathlib import Path

from alvh import frontier as fr


#: Entries of a frontier folder besides alvh's marker.
FRONTIER_ENTRIES = frozenset({"settings.json", "study.journal", "frontier.nc", "frontier.csv", "frontier.json",
                              "frontier.html"})
#: optuna's journal lock beside ``study.journal`` (a symbolic link, and its rename file while it moves).
_OPTUNA_LOCK = r"study\.journal\.lock\S*"


def check_frontier_folder(path: Path, resume: bool, key: str = "--out") -> None:
    """Refuse, before any work, a folder this search may not write.

    A frontier folder holds only :data:`FRONTIER_ENTRIES`, alvh's marker (kind ``frontier``) and
    alvh's hidden work files. One that holds a search is continued only with ``resume``.

    Raises
    ------
    alvh.outdir.OutputFolderError
    """
    import os
    import re

    from alvh.outdir import OutputFolderError, _rule, check_owned_folder, read_marker

    path = Path(path)
    # optuna's journal lock (a symbolic link and its rename file) is left behind by a kill -9
    locks = {e for e in (os.listdir(path) if path.is_dir() and not path.is_symlink() else ())
             if re.fullmatch(_OPTUNA_LOCK, e)}
    if not check_owned_folder(path, "frontier", FRONTIER_ENTRIES | locks, key):
        return
    listed = set(read_marker(path).get("files", [])) | locks
    mine = [e for e in os.listdir(path) if not e.startswith(".") and e not in listed]
    if mine:      # a name alvh uses, but a file alvh did not write
        raise OutputFolderError(f"{key} {path}: holds {sorted(mine)[0]!r}, which alvh did not write; {_rule(key)}")
    if (path / "study.journal").exists() and not resume:
        raise OutputFolderError(f"{key} {path}: holds a frontier search; add --resume to continue it, or choose "
                                "another folder")


def _open_folder(out: Path, ident: dict, resume: bool) -> Path:
    """Mark the folder as alvh's first, then check (on resume) and write the search's settings."""
    import json
    import os
    import re

    from alvh.outdir import read_marker, write_marker

    out.mkdir(parents=True, exist_ok=True)
    have = out / "settings.json"
    if resume and have.exists() and (out / "study.journal").exists():
        old = json.loads(have.read_text())
        diff = [k for k in ident if old.get(k) != ident[k]]
        if diff:
            raise fr.FrontierError(f"--resume: {out} holds a search with another {diff[0]} ({old.get(diff[0])!r}); "
                                   "resume with the same scenario, seed, paths and space, or use another folder")
    # optuna's journal lock left by a process killed while it wrote: stale, since this process holds the
    # folder's lock (no other alvh process writes here), and optuna would wait on it for ever
    for e in os.listdir(out):
        if re.fullmatch(_OPTUNA_LOCK, e) and ((out / e).is_symlink() or (out / e).is_file()):
            (out / e).unlink()
    listed = set((read_marker(out) or {}).get("files", []))         # only what alvh wrote before
    write_marker(out, "frontier", files=sorted(listed | {"settings.json", "study.journal"}))
    fr.write_json(have, ident)
    return out / "study.journal"
