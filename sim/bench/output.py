"""Output of ``alvh bench``: the Markdown table and the JSON file (with the check that ``--json``
may be written)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np

from alvh.bench.specs import Row


# --------------------------------------------------------------------------------------------------
# output


def _fmt(value: float, units: str) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if units == "path-steps/s":
        return f"{value:,.0f} {units}"
    if units == "GiB":
        return f"{value:.3f} GiB"
    return f"{value:.3g} {units}"


def format_table(rows: list[Row], machine: dict | None = None, repeats: int | None = None) -> str:
    """Markdown table: measurement, ours, reference, ratio, target, met, note; with a machine header."""
    lines = []
    if machine is not None:
        lines.append(f"alvh bench on {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable); "
                     f"Python {machine['python']}, numpy {machine['numpy']}, numba {machine['numba']}, "
                     f"QuantLib {machine['quantlib'] or 'not installed'}; load average "
                     f"{'n/a' if machine.get('load_1min') is None else format(machine['load_1min'], '.2f')} at the start "
                     "(other processes compete for the cores when it is near their number).")
    if repeats is not None:
        lines.append(f"Timings: best of {repeats} after one untimed warm-up (numba compilation, loky start-up and "
                     f"QuantLib's first call excluded; in (b) and (d) before every run, 1 and 2 workers alternating); "
                     f"ours and QuantLib on one core each.")
    lines += ["", "| measurement | ours | reference | ratio | target | met | note |",
              "|---|---:|---:|---:|---|---|---|"]
    for r in rows:
        met = "n/a" if r.met is None else ("yes" if r.met else "no")
        ratio = "n/a" if not math.isfinite(r.ratio) else f"{r.ratio:.3g}"
        lines.append(f"| {r.measurement} | {_fmt(r.ours, r.units)} | {_fmt(r.reference, r.units)} | {ratio} | "
                     f"{r.target} | {met} | {r.note} |")
    return "\n".join(lines)


def json_problem(path: Path | str) -> str | None:
    """Why ``--json PATH`` must not be written: an existing file that is not a bench JSON alvh wrote
    (keys ``machine``, ``settings``, ``rows``), or a folder; None when it may be."""
    p = Path(path)
    if p.is_dir():
        return f"{p}: is a folder"
    if not p.exists():
        return None
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        ok = isinstance(doc, dict) and {"machine", "settings", "rows"} <= set(doc)
    except (OSError, ValueError, UnicodeDecodeError):
        ok = False
    return None if ok else f"{p}: exists and is not a benchmark JSON alvh wrote; not replaced"


def _clean(obj):
    """JSON-safe copy: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_json(path: Path | str, rows: list[Row], machine: dict, settings: dict, extra: dict | None = None) -> None:
    """Write the machine, the settings and every row (with its details) as JSON, plus the keys of
    ``extra`` (e.g. ``"profile"``)."""
    doc = {"machine": machine, "settings": settings, "rows": [asdict(r) for r in rows], **(extra or {})}
    Path(path).write_text(json.dumps(_clean(doc), indent=2, allow_nan=False) + "\n", encoding="utf-8")
