"""alvh: Monte Carlo stress tests of short SPX iron condors with layered VIX hedges (ALVH).

The Python API (:mod:`alvh.api`)::

    import alvh

    r = alvh.run("scenarios/baseline.toml", n_paths=2000, seed=1, jobs=1)
    print(r.summary())

:func:`load_scenario` reads and validates a scenario file, :func:`run` runs one (in memory, or into
a folder as ``alvh run --out`` does) and returns a :class:`Result` (``metrics`` and ``claims`` as
DataFrames, ``dataset`` as xarray, ``summary()``, ``report(path)``, ``to_netcdf(path)``).

The package is the repository's ``sim/`` folder; ``models/`` is :mod:`alvh.models`.
"""

from __future__ import annotations

__all__ = ["load_scenario", "run", "Result", "ConfigError", "__version__"]


def __getattr__(name: str):
    """The API on first use, so that ``import alvh`` (and every ``alvh.x`` submodule import) stays light."""
    if name in ("load_scenario", "run", "Result"):
        from alvh import api

        return getattr(api, name)
    if name == "ConfigError":
        from alvh.config import ConfigError

        return ConfigError
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("alvh")
        except PackageNotFoundError:
            return "0+unknown"
    raise AttributeError(f"module 'alvh' has no attribute {name!r}")
