"""The Python API: load a scenario, run it (in memory or into a folder), read the result.

In the manner of ``arch`` (``model.fit()`` returns a result with ``summary()``)::

    import alvh

    r = alvh.run("scenarios/baseline.toml", n_paths=2000, seed=1, jobs=1)
    print(r.summary())
    r.metrics          # tidy DataFrame: strategy, key, label, units, value, se, ci_low, ci_high
    r.claims           # one row per claim, strategy and regime: verdict, value, CI, threshold, note
    r.pnl_pct          # per-path P&L, % of capital (beside r.dataset["pnl"] in USD)
    r.report("report.html"); r.to_netcdf("results.nc")

``run(..., out=None)`` keeps everything in memory and writes nothing but the calibration cache;
``out=DIR`` writes exactly what ``alvh run --out DIR`` writes (and refuses a folder holding files
alvh did not write, :mod:`alvh.outdir`). Calibrations are cached on disk by their inputs
(:func:`alvh.modelspec.calibration_cache_key`), so a notebook that runs one scenario many times
calibrates once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from alvh.config import Scenario, load_scenario

__all__ = ["load_scenario", "run", "Result"]


@dataclass
class Result:
    """The result of :func:`run`.

    Attributes
    ----------
    dataset : xarray.Dataset
        The results Dataset, as written to ``results.nc`` (layout: :mod:`alvh.results`).
    scenario : Scenario
        The scenario that was run.
    out : Path or None
        The folder the result was written to, or None for an in-memory run.
    """

    dataset: xr.Dataset
    scenario: Scenario
    out: Path | None = None

    @property
    def metrics(self) -> pd.DataFrame:
        """Every metric of every strategy, one row each (the rows of ``metrics.csv``).

        Columns ``strategy, key, label, units, value, se, ci_low, ci_high``; a metric that does not
        apply to a strategy has no row.
        """
        from alvh.report import _metrics_frame

        return _metrics_frame(self.dataset).reset_index(drop=True)

    @property
    def claims(self) -> pd.DataFrame:
        """The claim check, one row per claim, strategy and regime (the rows of ``claims.csv``)."""
        from alvh.report import _claims_frame

        return _claims_frame(self.dataset).reset_index(drop=True)

    @property
    def pnl_pct(self) -> xr.DataArray:
        """Per-path P&L over the horizon in % of capital, dims ``(strategy, path)``: ``dataset["pnl"]``
        (USD) divided by the capital base (attr ``capital_usd``) times 100, as every "% of capital"
        figure of the report is defined (:func:`alvh.results.capital_definitions`)."""
        capital = float(self.dataset.attrs["capital_usd"])
        pct = self.dataset["pnl"] / capital * 100.0
        pct.attrs = {"units": "% of capital", "long_name": "P&L over the horizon in % of capital"}
        return pct.rename("pnl_pct")

    def summary(self) -> str:
        """The plain-text summary ``alvh run`` prints: the run, the headline, the main hedge's verdicts."""
        from alvh.report import summary_text

        return summary_text(self.dataset, self.out)

    def report(self, path: str | Path) -> Path:
        """Write the self-contained HTML report to ``path`` and return it."""
        from alvh.report import render_report

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        render_report(self.dataset, path)
        return path

    def to_netcdf(self, path: str | Path) -> Path:
        """Write the results Dataset to ``path`` (netCDF-4, written atomically) and return it."""
        from alvh.results import write_dataset

        write_dataset(self.dataset, Path(path))
        return Path(path)

    def __repr__(self) -> str:
        a = self.dataset.attrs
        where = f", out={str(self.out)!r}" if self.out else ", in memory"
        return f"<alvh.Result {a.get('scenario', self.scenario.name)!r}: {a.get('n_paths', '?')} paths{where}>"


def run(scenario: str | Path | Scenario, n_paths: int | None = None, seed: int | None = None, jobs: int = 1,
        out: str | Path | None = None, backend: str = "joblib", progress: bool = False,
        cache: bool = True) -> Result:
    """Calibrate, simulate, price and analyse a scenario.

    Parameters
    ----------
    scenario : str, Path or Scenario
        A scenario file, or one loaded with :func:`load_scenario`.
    n_paths, seed : int, optional
        Default: the scenario's ``simulation.n_paths`` and ``simulation.seed``.
    jobs : int, default 1
        Parallel workers (-1: all cores); the result does not depend on it.
    out : str or Path, optional
        Write ``results.nc``, ``report.html`` and the CSV tables there, as ``alvh run --out`` does.
        Default: nothing is written (the result is in memory).
    backend : {"joblib", "dask"}
        Where chunks run.
    progress : bool, default False
        A progress bar over chunks.
    cache : bool, default True
        Reuse a calibration of the same model to the same data and window (on disk, see
        :func:`alvh.modelspec.calibration_cache_dir`).

    Returns
    -------
    Result

    Raises
    ------
    alvh.config.ConfigError
        A bad scenario (the message names the file, the key and the rule).
    alvh.outdir.OutputFolderError
        ``out`` holds files alvh did not write.
    alvh.data.DataError, alvh.modelspec.ParamsFileError, ValueError
        Bad data, parameter file, or a failed calibration.
    """
    from alvh import runner
    from alvh.pipeline import analyse_run, run_scenario

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    seed = scenario.simulation["seed"] if seed is None else int(seed)
    n_paths = int(n_paths or scenario.simulation["n_paths"])
    if n_paths < 2 and scenario.model["type"] != "replay":
        raise ValueError(f"n_paths must be >= 2 (VaR, CVaR and their errors need two paths), got {n_paths}")
    if out is not None:
        ds = run_scenario(scenario, Path(out), n_paths=n_paths, seed=seed, jobs=jobs, backend=backend,
                          progress=progress, checkpoint=False, cache=cache)
        return Result(ds, scenario, Path(out))
    prepared = runner.prepare(scenario, seed, cache=cache)
    ds = analyse_run(scenario, prepared, n_paths, seed, jobs=jobs, backend=backend, progress=progress,
                     command="alvh.run()")
    return Result(ds, scenario, None)

