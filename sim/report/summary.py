"""The plain-text summary printed on the terminal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alvh.report.answers import _headline
from alvh.report.common import _fmt, _main, _strategies
from alvh.report.render import _meta
from alvh.report.tables import _claims_frame


def summary_text(ds: xr.Dataset, out_dir: Path | None = None) -> str:
    """A short plain-text summary for the terminal: the run, the headline, the main hedge's claim verdicts.

    Parameters
    ----------
    ds : xarray.Dataset
        The results Dataset.
    out_dir : Path, optional
        Where results.nc and report.html were written (named on the last line).
    """
    ds = ds.load()
    a = ds.attrs
    m = _meta(ds)
    lines = [f"ALVH stress test '{m['scenario']}': {m['n_paths']} paths x {m['n_steps']} days "
             f"(seed {m['seed']}, {m['jobs']} job(s), {m['elapsed']} s)"
             + (f"; {m['daily_scope']}" if m["daily_scope"] else "")]
    if "calibration_param" in ds.dims and "calibration_value" in ds:
        pairs = list(zip(ds["calibration_param"].values, ds["calibration_value"].values))
        lines.append(f"{a.get('model_type', 'model')} ({a.get('calibration_window', 'n/a')}): "
                     + ", ".join(f"{k}={float(v):.4g}" for k, v in pairs[:10])
                     + (", ... (all in results.nc)" if len(pairs) > 10 else ""))
    lines += _headline(ds)
    strats = _strategies(ds)
    main = _main(ds, strats)
    claims = _claims_frame(ds)
    if main is not None and not claims.empty and "claim_strategy" in claims:
        mine = claims[claims["claim_strategy"].astype(str) == main.name]
        lines.append(f"Claim check, {main.label}:" if len(mine) else f"Claim check: no rows for {main.label}.")
        for _, r in mine.sort_values(["claim_id", "claim_row"]).iterrows():
            units = str(r.get("claim_units", ""))
            units = "" if units in ("", "1") else f" {units}"      # a ratio has no unit to print
            n = r.get("claim_n", np.nan)
            verdict = str(r["claim_verdict"])
            why = str(r.get("claim_note", "") or "").split(";")[0].strip()
            lines.append(
                f"  claim {int(r['claim_id'])} [{r.get('claim_regime', 'all')}]: {verdict.upper()}"
                + (f" ({why})" if verdict == "not decidable" and why else "")
                + f" - {r.get('claim_statistic', '')} {_fmt(r.get('claim_value'))}{units} "
                f"(95% CI {_fmt(r.get('claim_ci_low'))} to {_fmt(r.get('claim_ci_high'))}; "
                f"threshold {r.get('claim_threshold', '')}; n={int(n) if pd.notna(n) else 'n/a'})")
    else:
        lines.append("Claim check: no claim rows in this result.")
    if out_dir is not None:
        lines.append(f"Results: {Path(out_dir) / 'results.nc'}   Report: {Path(out_dir) / 'report.html'}")
    return "\n".join(_wrap(line) for line in lines)


#: Widest line of the terminal summary, in characters.
TERMINAL_WIDTH = 100


def _wrap(line: str) -> str:
    """A summary line folded at :data:`TERMINAL_WIDTH`, continuation lines indented under it."""
    import textwrap

    lead = len(line) - len(line.lstrip(" "))
    return "\n".join(textwrap.wrap(line, width=TERMINAL_WIDTH, subsequent_indent=" " * (lead + 4),
                                   break_long_words=False, break_on_hyphens=False)) or line
