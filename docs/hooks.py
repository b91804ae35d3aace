"""mkdocs hook: a page line ``<!-- bench-profile: bench/FILE.json -->`` becomes the table of that
``alvh bench --profile --json`` file, and ``<!-- frontier-result: frontier/NAME -->`` the summary and
tables of an ``alvh frontier`` run kept as ``frontier/NAME.json`` (its settings and summary, from
``frontier.nc``) and ``frontier/NAME.csv`` (its ``frontier.csv``), paths relative to docs/; so the
docs show the measured files themselves, never numbers typed by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

_MARK = re.compile(r"<!--\s*bench-profile:\s*(\S+)\s*-->")
_FRONTIER = re.compile(r"<!--\s*frontier-result:\s*(\S+)\s*-->")
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


def _num(v, d: int = 2) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return ""
    return "" if x != x else f"{x:.{d}f}"


def _frontier(name: str) -> str:
    import csv

    meta = json.loads((_HERE / f"{name}.json").read_text(encoding="utf-8"))
    with open(_HERE / f"{name}.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    head = (f"`alvh frontier {meta['scenario_file']}`: {meta['trials']} designs x {meta['paths']:,} paths (seed "
            f"{meta['seed']}), confirmed on {meta['confirm_paths']:,} fresh paths (seed {meta['confirm_seed']}); "
            f"search {meta['search_seconds'] / 60:.0f} min, confirmation {meta['confirm_seconds'] / 60:.0f} min on "
            f"{meta.get('machine', 'this machine')} (`{name}.csv`, `{name}.json`).\n\n")
    summary = "\n\n".join(p.replace("\n", " ") for p in meta["summary"].split("\n\n"))
    t = ["| budget %/yr | source | cost %/yr (95% CI) | CVaR 99 cut, % (95% CI) | in sample | vs ALVH (Holm p) | robust |",
         "|---:|---|---|---|---:|---|---|"]
    for r in rows:
        if r["kind"] != "design" or r["source"] == "":
            continue
        t.append(f"| {_num(r['budget'], 1)} | {r['source']} | {_num(r['cost'])} ({_num(r['cost_ci_low'])} to "
                 f"{_num(r['cost_ci_high'])}) | {_num(r['cut'])} ({_num(r['cut_ci_low'])} to {_num(r['cut_ci_high'])}) | "
                 f"{_num(r['in_sample_cut'])} | {_num(r['vs_alvh'])} ({_num(r['vs_alvh_p_holm'], 3)}) | {r['robust']} |")
    ref = ["| hedge | source | cost %/yr (95% CI) | CVaR 99 cut, % (95% CI) |", "|---|---|---|---|"]
    for r in rows:
        if r["kind"] == "reference":
            ref.append(f"| {r['name']} | {r['source']} | {_num(r['cost'])} ({_num(r['cost_ci_low'])} to "
                       f"{_num(r['cost_ci_high'])}) | {_num(r['cut'])} ({_num(r['cut_ci_low'])} to {_num(r['cut_ci_high'])}) |")
    designs = {}
    for r in rows:
        if r["kind"] == "design" and r["description"]:
            designs.setdefault(r["trial"], (r["description"], []))[1].append(_num(r["budget"], 1))
    d = "\n".join(f"- trial {k} (budgets {', '.join(dict.fromkeys(v[1]))}): {v[0]}." for k, v in designs.items())
    return (head + summary + "\n\nThe designs:\n\n" + d + "\n\nConfirmed:\n\n" + "\n".join(t)
            + "\n\nThe scenario's own hedges on the same fresh paths:\n\n" + "\n".join(ref) + "\n")


def on_page_markdown(markdown, page, config, files):
    def repl(match):
        path = _HERE / match.group(1)
        return _table(json.loads(path.read_text(encoding="utf-8")), match.group(1))

    markdown = _FRONTIER.sub(lambda m: _frontier(m.group(1)), markdown)
    return _MARK.sub(repl, markdown)
