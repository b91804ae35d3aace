"""Do two runs of one scenario agree within their standard errors? (``alvh agree A.nc B.nc``)

Every metric of the metric table (``metric_value``, ``metric_se``) that both results have, with a
finite standard error in both, is compared by

    z = (value_A - value_B) / sd,

where ``sd`` depends on how the two samples relate:

* **nested**: the same scenario text, root seed and chunking, different numbers of paths. Chunk ``i``
  draws from child ``i`` of the root seed, so the smaller run's paths are the first paths of the
  larger one. For a mean, ``Var(mean_A - mean_B) = sigma^2 (1/n_A - 1/n_B) = se_A^2 - se_B^2``; the
  same first-order expansion applies to the other smooth statistics of the table (quantiles and
  CVaR through their influence functions), so ``sd = sqrt(|se_A^2 - se_B^2|)``. Statistics computed
  on the same sample in both (the pooled daily ones, on the first ``daily_paths`` paths of each run)
  are equal and are counted as such, not tested.
* **independent** (anything else): ``sd = sqrt(se_A^2 + se_B^2)``.

Values equal to within rounding (``|value_A - value_B| <= ROUNDING_RTOL * max(|value_A|, |value_B|)``)
are counted as equal, not tested. Besides the same-sample statistics this covers metrics that are
constant across paths (a premium paid every day whatever the path): their standard error is
rounding noise (about 1e-19 against values near 1), and the two means differ in the last bits
because they sum different numbers of values, which would give a meaningless ``|z|`` in the
hundreds. A constant that differs by more than rounding still gets such a ``|z|``, rightly.

The verdict controls the family-wise error over the ``m`` comparisons by Bonferroni: the runs agree
when every ``|z| <= Phi^{-1}(1 - alpha / (2 m))``. The statistics of one run are correlated, which
makes this conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import stats

__all__ = ["ROUNDING_RTOL", "Comparison", "Agreement", "agreement", "load_metrics", "format_agreement"]

ROUNDING_RTOL = 1e-9
"""Relative difference below which two values are equal to within floating-point rounding."""


@dataclass(frozen=True)
class Comparison:
    """One metric of one strategy in both runs (values and SEs in the metric's units)."""

    strategy: str
    metric: str
    units: str
    value_a: float
    se_a: float
    value_b: float
    se_b: float
    z: float


@dataclass
class Agreement:
    """The outcome of :func:`agreement`.

    Attributes
    ----------
    nested : bool
        Whether the smaller run's paths are the first paths of the larger one.
    n_paths_a, n_paths_b : int
    alpha : float
        Family-wise error rate of the verdict.
    threshold : float
        Bonferroni bound on ``|z|``.
    comparisons : list of Comparison
        Sorted by ``|z|``, largest first.
    identical : int
        Metrics equal in both to within rounding (:data:`ROUNDING_RTOL`): the same sample, or a
        value constant across paths. Not tested.
    skipped : int
        Metrics without a finite value or standard error in one of the runs.
    """

    nested: bool
    n_paths_a: int
    n_paths_b: int
    alpha: float
    threshold: float
    comparisons: list[Comparison] = field(default_factory=list)
    identical: int = 0
    skipped: int = 0

    @property
    def agree(self) -> bool:
        """Every ``|z|`` within the threshold (True when nothing was tested)."""
        return all(abs(c.z) <= self.threshold for c in self.comparisons)

    def share_above(self, z: float) -> float:
        """Share of the comparisons with ``|z| > z`` (NaN when there are none)."""
        if not self.comparisons:
            return float("nan")
        return float(np.mean([abs(c.z) > z for c in self.comparisons]))


def load_metrics(path: Path | str) -> xr.Dataset:
    """The metric table and the attributes of a ``results.nc``, read into memory (per-path data is not read).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not netCDF, or has no metric table (not written by ``alvh run`` or ``alvh batch``);
        the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a netCDF results file of alvh ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from None
    with ds:
        missing = [v for v in ("metric_value", "metric_se") if v not in ds]
        if missing:
            raise ValueError(f"{path}: not a results file of alvh (no {', '.join(missing)})")
        return ds[["metric_value", "metric_se"]].load()


def _nested(a: xr.Dataset, b: xr.Dataset) -> bool:
    keys = ("scenario_text", "seed", "chunk_size")
    if any(k not in a.attrs or k not in b.attrs for k in keys):
        return False
    return all(str(a.attrs[k]) == str(b.attrs[k]) for k in keys) and int(a.attrs["n_paths"]) != int(b.attrs["n_paths"])


def agreement(a: xr.Dataset, b: xr.Dataset, alpha: float = 0.05) -> Agreement:
    """Compare the metric tables of two results of one scenario (see the module docstring).

    Parameters
    ----------
    a, b : xarray.Dataset
        Results datasets (``metric_value``, ``metric_se`` over ``(strategy, metric)``; attrs
        ``n_paths``, ``seed``, ``chunk_size``, ``scenario_text``).
    alpha : float, default 0.05
        Family-wise error rate of the verdict, in (0, 1).

    Returns
    -------
    Agreement

    Raises
    ------
    ValueError
        ``alpha`` outside (0, 1), or the results share no strategy.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    strategies = [s for s in a["strategy"].values.tolist() if s in set(b["strategy"].values.tolist())]
    if not strategies:
        raise ValueError("the two results have no strategy in common: not runs of one scenario")
    metrics = [m for m in a["metric"].values.tolist() if m in set(b["metric"].values.tolist())]
    nested = _nested(a, b)
    units = (dict(zip(a["metric"].values.tolist(), a["metric_units"].values.tolist()))
             if "metric_units" in a.coords else {})
    va = a["metric_value"].sel(strategy=strategies, metric=metrics).values
    sa = a["metric_se"].sel(strategy=strategies, metric=metrics).values
    vb = b["metric_value"].sel(strategy=strategies, metric=metrics).values
    sb = b["metric_se"].sel(strategy=strategies, metric=metrics).values
    out, identical, skipped = [], 0, 0
    for i, s in enumerate(strategies):
        for j, m in enumerate(metrics):
            x = (va[i, j], sa[i, j], vb[i, j], sb[i, j])
            if not all(math.isfinite(float(v)) for v in x):
                skipped += int(any(math.isfinite(float(v)) for v in (x[0], x[2])))
                continue
            if abs(x[0] - x[2]) <= ROUNDING_RTOL * max(abs(x[0]), abs(x[2])):
                identical += 1
                continue
            var = abs(x[1] ** 2 - x[3] ** 2) if nested else x[1] ** 2 + x[3] ** 2
            if not var > 0.0:
                skipped += 1
                continue
            out.append(Comparison(str(s), str(m), str(units.get(m, "")), float(x[0]), float(x[1]), float(x[2]),
                                  float(x[3]), float((x[0] - x[2]) / math.sqrt(var))))
    out.sort(key=lambda c: -abs(c.z))
    m_tests = max(len(out), 1)
    return Agreement(nested=nested, n_paths_a=int(a.attrs.get("n_paths", -1)), n_paths_b=int(b.attrs.get("n_paths", -1)),
                     alpha=alpha, threshold=float(stats.norm.isf(alpha / (2 * m_tests))), comparisons=out,
                     identical=identical, skipped=skipped)


def format_agreement(res: Agreement, name_a: str, name_b: str, top: int = 15) -> str:
    """A plain-text account of :func:`agreement`: the verdict, the counts, the largest ``|z|``."""
    m = len(res.comparisons)
    rel = ("nested: the smaller run's paths are the first paths of the larger; sd = sqrt(|se_A^2 - se_B^2|)"
           if res.nested else "independent samples; sd = sqrt(se_A^2 + se_B^2)")
    lines = [
        f"A: {name_a} ({res.n_paths_a:,} paths)",
        f"B: {name_b} ({res.n_paths_b:,} paths)",
        f"{rel}.",
        f"{m} metric(s) compared, {res.identical} equal in both (same sample, or constant across paths), {res.skipped} without a standard error.",
    ]
    if m:
        lines.append(f"|z| > 2: {100 * res.share_above(2.0):.1f}% (4.6% expected by chance); "
                     f"|z| > 3: {100 * res.share_above(3.0):.2f}% (0.27% expected); largest |z| {abs(res.comparisons[0].z):.2f}.")
    verdict = "AGREE" if res.agree else "DO NOT AGREE"
    lines.append(f"{verdict} within standard errors: every |z| <= {res.threshold:.2f} is required "
                 f"(Bonferroni, family-wise error {res.alpha:g} over {m} comparisons).")
    if m:
        lines.append(f"Largest |z| (top {min(top, m)}):")
        lines.append(f"  {'strategy':<22} {'metric':<34} {'A':>22} {'B':>22} {'z':>7}")
        for c in res.comparisons[:top]:
            lines.append(f"  {c.strategy[:22]:<22} {c.metric[:34]:<34} {c.value_a:>11.4g} ± {c.se_a:<8.3g} "
                         f"{c.value_b:>11.4g} ± {c.se_b:<8.3g} {c.z:>7.2f}  {c.units}")
    return "\n".join(lines)
