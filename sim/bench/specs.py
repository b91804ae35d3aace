"""What ``alvh bench`` measures: the Heston test case, the five measurements, the default scenario
and :class:`Row`, one line of the table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

#: The Heston test case of (a) and (c): parameters, horizon, steps and the European call's strike.
HESTON = dict(s0=100.0, v0=0.04, kappa=2.0, theta=0.04, sigma=0.6, rho=-0.7, r=0.0, q=0.0, years=1.0,
              n_steps=252, strike=100.0)

#: The five measurements, by key.
MEASUREMENTS = {
    "a": "Heston QE path generation vs QuantLib",
    "b": "full pipeline vs QuantLib path generation",
    "c": "path generation vs drawing its normals",
    "d": "pipeline scaling, 1 -> 2 workers",
    "e": "peak memory of alvh run --jobs 2",
}

QL_MISSING = "QuantLib not installed (pip install -e '.[bench]')"
GIB = 2.0 ** 30
DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "bench.toml"


@dataclass
class Row:
    """One line of the table.

    Attributes
    ----------
    key : str
        "a" .. "e".
    measurement : str
    ours, reference : float
        Values in ``units`` (NaN when not measured).
    units : str
        Units of ``ours`` and ``reference``: "path-steps/s", "s" or "GiB".
    ratio : float
        As the target reads it (ours / reference, or t1 / t2 for (d)); NaN when not measured.
    target : str
    met : bool or None
        None when not measured.
    note : str
        What was measured, or why not ("not run", "timed out after X s", QuantLib missing).
    detail : dict
        Sizes, times and sanity values behind the row (written to the JSON file).
    """

    key: str
    measurement: str
    units: str
    target: str
    ours: float = math.nan
    reference: float = math.nan
    ratio: float = math.nan
    met: bool | None = None
    note: str = ""
    detail: dict = field(default_factory=dict)
