"""The house rules of issue 22 that code can check: rooms of at most 500 lines, no import cycle between
alvh's modules at import time, and every subpackage listed for the wheel."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
#: The package folders: sim/ is installed as alvh, models/ as alvh.models (pyproject's package-dir).
FOLDERS = {"alvh": ROOT / "sim", "alvh.models": ROOT / "models"}
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    """Every alvh module name and its file (a package's is its __init__.py)."""
    out = {}
    for base, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if base == "alvh" and parts[:1] == ["models"]:
                continue
            out[".".join([base, *parts])] = path
    return out


def _import_time_edges(name: str, path: Path, known: set[str]) -> set[str]:
    """The alvh modules ``name`` imports when it is imported: module-level statements (also inside
    ``if``/``try``/``with``/``for`` blocks and class bodies, not inside functions, which run later;
    not under ``if TYPE_CHECKING:``), including a ``from pkg import sub`` that names a submodule, and
    the parent packages Python imports first. The implicit import of a module's own parent packages is
    left out (they are being initialised when it runs), but an explicit ``from <own package> import
    name`` of a name that is not a submodule is kept: it reads a partly initialised package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    edges: set[str] = set()
    explicit: set[str] = set()

    def add(mod: str):
        parts = mod.split(".")
        for k in range(2, len(parts) + 1):       # importing a.b.c imports a.b first
            if ".".join(parts[:k]) in known:
                edges.add(".".join(parts[:k]))

    def type_checking(node) -> bool:
        t = node.test
        return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
            isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")

    def walk(stmts):
        for node in stmts:
            if isinstance(node, ast.Import):
                for a in node.names:
                    add(a.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:                     # relative: resolve against this module's package
                    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                add(base)
                for a in node.names:
                    if f"{base}.{a.name}" in known:
                        add(f"{base}.{a.name}")
                    elif base in known and name.startswith(base + "."):
                        explicit.add(base)
            elif isinstance(node, ast.If):
                if not type_checking(node):
                    walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                walk(node.orelse)
                for h in node.handlers:
                    walk(h.body)
                walk(node.finalbody)
            elif isinstance(node, (ast.With, ast.For, ast.While, ast.ClassDef)):
                walk(node.body)
                walk(getattr(node, "orelse", []))
    walk(tree.body)
    edges.discard(name)
    # a module's own parent packages are imported before it, never the other way round
    return {e for e in edges if not name.startswith(e + ".")} | explicit


def test_no_source_module_is_over_500_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_no_import_cycle_at_import_time():
    mods = _modules()
    graph = {m: _import_time_edges(m, p, set(mods)) for m, p in mods.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    """The checker itself: two modules importing each other at module level are a cycle; the same
    import inside a function is not."""
    (tmp_path / "a.py").write_text("from alvh.b import f\n")
    (tmp_path / "b.py").write_text("def f():\n    from alvh.a import g\n")
    known = {"alvh.a", "alvh.b"}
    assert _import_time_edges("alvh.a", tmp_path / "a.py", known) == {"alvh.b"}
    assert _import_time_edges("alvh.b", tmp_path / "b.py", known) == set()
    (tmp_path / "b.py").write_text("import alvh.a\n")
    assert _import_time_edges("alvh.b", tmp_path / "b.py", known) == {"alvh.a"}
    # a submodule reading a name from its own, partly initialised package is an edge back to it
    known = {"alvh.p", "alvh.p.a"}
    (tmp_path / "pa.py").write_text("from alvh.p import X\n")
    assert _import_time_edges("alvh.p.a", tmp_path / "pa.py", known) == {"alvh.p"}
    (tmp_path / "pa.py").write_text("from alvh.p.b import X\n")     # a sibling: the package is not read
    assert _import_time_edges("alvh.p.a", tmp_path / "pa.py", known | {"alvh.p.b"}) == {"alvh.p.b"}
    # module level includes with-blocks and class bodies; a TYPE_CHECKING import never runs
    (tmp_path / "c.py").write_text("import contextlib\nwith contextlib.suppress(ImportError):\n"
                                   "    from alvh.a import f\nclass C:\n    from alvh.b import g\n"
                                   "if TYPE_CHECKING:\n    from alvh.d import h\n")
    assert _import_time_edges("alvh.c", tmp_path / "c.py", {"alvh.a", "alvh.b", "alvh.c", "alvh.d"}) == \
        {"alvh.a", "alvh.b"}


def test_every_package_folder_is_listed_for_the_wheel():
    """setuptools builds the wheel from pyproject's explicit package list: a subpackage missing from it
    would be missing from a user's install (the editable install here would not show it)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    have = {name for name, path in _modules().items() if path.name == "__init__.py"}
    assert listed == have


def test_no_submodule_is_shadowed_by_a_name_of_its_package():
    """``alvh.frontier.search`` cannot be both a submodule and the function ``search``: the package
    attribute would be whichever was bound last, and the API docs drop one of them."""
    import importlib
    import types

    for name, path in _modules().items():
        if path.name != "__init__.py":
            continue
        pkg = importlib.import_module(name)
        subs = [p.stem for p in path.parent.glob("*.py")] + [p.parent.name for p in path.parent.glob("*/__init__.py")]
        for sub in subs:
            attr = getattr(pkg, sub, None)
            assert sub == "__init__" or attr is None or isinstance(attr, types.ModuleType), \
                f"{name}.{sub} is both a submodule and {attr!r}"
