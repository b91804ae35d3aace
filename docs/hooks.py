"""mkdocs hook: a page line ``<!-- bench-profile: bench/FILE.json -->`` becomes the table of that
``alvh bench --profile --json`` file (paths relative to docs/), so the docs show the measured JSON
itself, never numbers typed by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

_MARK = re.compile(r"<!--\s*bench-profile:\s*(\S+)\s*-->")
_HERE = Path(__file__).resolve().parent


def _table(doc: dict, name: str) -> str:
    p, m, s = doc["profile"], doc.get("machine", {}), doc.get("settings", {})
    rows = ["| part | seconds | share | samples |", "|---|---:|---:|---:|"]
    for part, r in p["parts"].items():
        rows.append(f"| {part} | {r['seconds']:.2f} | {100 * r['share']:.1f}% | {r['samples']:,} |")
    top = "\n".join(f"| {t['function']} | `{t['file']}` | {t['part']} | {t['seconds']:.2f} |" for t in p["top"][:10])
    return (f"One chunk of `{s.get('scenario', '?')}`: {p['n_paths']:,} paths × {p['n_steps']} days on one worker, "
            f"{p['wall_s']:.1f} s wall, {p.get('run_s', p['wall_s']):.1f} s of it paths and books "
            f"({p['path_steps_per_s'] / 1e6:.3f} M path-steps/s), {p['samples']:,} samples "
            f"every {p['interval_s'] * 1e3:g} ms; engine: {p['engine']}; {m.get('cpu', '?')}, {m.get('cores', '?')} "
            f"cores, numpy {m.get('numpy', '?')}, numba {m.get('numba', '?')} (`{name}`).\n\n" + "\n".join(rows)
            + "\n\nInnermost functions with the most time:\n\n| function | file | part | seconds |\n|---|---|---|---:|\n"
            + top + "\n")


def on_page_markdown(markdown, page, config, files):
    def repl(match):
        path = _HERE / match.group(1)
        return _table(json.loads(path.read_text(encoding="utf-8")), match.group(1))

    return _MARK.sub(repl, markdown)
