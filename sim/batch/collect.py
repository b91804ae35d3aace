"""Gathering a batch: one dataset of every complete point's metrics and claims, the grid's keys as
dimensions (``batch.nc``)."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import numpy as np
import xarray as xr

from alvh.batch.spec import BatchSpec


def gather(spec: BatchSpec, out: Path, state: dict, command: str = "") -> xr.Dataset | None:
    """One dataset of every point's metrics and claims, the grid's keys as dimensions.

    Dimensions ``(scenario, *grid dims, strategy, metric)`` for ``metric_value``, ``metric_se``,
    ``metric_ci_low``, ``metric_ci_high``; ``(scenario, *grid dims, claim)`` for ``claim_verdict``,
    ``claim_value``, ``claim_ci_low``, ``claim_ci_high`` (claim coordinate "N|strategy|regime");
    ``(scenario, *grid dims)`` for ``point_status``, ``point_error``, ``point_name``, ``n_paths``.
    Points that failed are NaN / empty. Returns None when the batch has no point.
    """
    from alvh.results import package_versions

    if not spec.points:
        return None
    shape = (len(spec.scenarios), *[len(v) for v in spec.grid.values()])
    opened = {}
    strategies, metrics, claims = {}, {}, {}
    units, labels = {}, {}
    for pt in spec.points:
        if state.get(pt.name, {}).get("status") != "complete":
            continue
        with xr.open_dataset(out / "points" / pt.name / "results.nc", engine="h5netcdf") as full:
            n_paths = int(full.attrs["n_paths"])
            ds = full[["metric_value", "metric_se", "metric_ci_low", "metric_ci_high", "claim_id", "claim_strategy",
                     "claim_regime", "claim_verdict", "claim_value", "claim_ci_low", "claim_ci_high",
                     "claim_statistic", "claim_units"]].load()
        opened[pt.name] = (ds, n_paths)
        for s in ds.strategy.values:
            strategies.setdefault(str(s), None)
        for m, u, lab in zip(ds.metric.values, ds.metric_units.values, ds.metric_label.values):
            metrics.setdefault(str(m), None)
            units.setdefault(str(m), str(u))
            labels.setdefault(str(m), str(lab))
        for i, s, r, st, u in zip(ds.claim_id.values, ds.claim_strategy.values, ds.claim_regime.values,
                                  ds.claim_statistic.values, ds.claim_units.values):
            claims.setdefault(f"{int(i)}|{s}|{r}", (str(st), str(u)))
    S, M, C = list(strategies), list(metrics), list(claims)
    mv = {f: np.full(shape + (len(S), len(M)), np.nan) for f in ("value", "se", "ci_low", "ci_high")}
    cv = {f: np.full(shape + (len(C),), np.nan) for f in ("value", "ci_low", "ci_high")}
    verdict = np.full(shape + (len(C),), "", dtype=object)
    status = np.full(shape, "", dtype=object)
    error = np.full(shape, "", dtype=object)
    names = np.full(shape, "", dtype=object)
    npaths = np.zeros(shape, dtype=np.int64)
    for pt in spec.points:
        idx = pt.index
        names[idx] = pt.name
        st = state.get(pt.name, {})
        status[idx] = st.get("status", "not run")
        error[idx] = st.get("error", "")
        if pt.name not in opened:
            continue
        ds, npaths[idx] = opened[pt.name]
        si = [S.index(str(s)) for s in ds.strategy.values]
        mi = [M.index(str(m)) for m in ds.metric.values]
        for f in mv:
            mv[f][idx][np.ix_(si, mi)] = ds[f"metric_{f}"].values
        keys = [f"{int(i)}|{s}|{r}" for i, s, r in zip(ds.claim_id.values, ds.claim_strategy.values,
                                                        ds.claim_regime.values)]
        ci = [C.index(k) for k in keys]
        for f in cv:
            cv[f][idx][ci] = ds[f"claim_{f}"].values
        verdict[idx][ci] = ds["claim_verdict"].values.astype(str)
    dims = ["scenario", *spec.dims]
    coords = {"scenario": spec.scenario_names}
    for d, (key, values) in zip(spec.dims, spec.grid.items()):
        coords[d] = xr.Variable(d, np.asarray(values) if len({type(v) for v in values}) == 1
                                else np.asarray([str(v) for v in values], dtype=object), {"key": key})
    coords.update({"strategy": S, "metric": M, "metric_units": ("metric", [units[m] for m in M]),
                   "metric_label": ("metric", [labels[m] for m in M]), "claim": C,
                   "claim_statistic": ("claim", [claims[c][0] for c in C]),
                   "claim_units": ("claim", [claims[c][1] for c in C])})
    data = {}
    long = {"value": "estimate", "se": "standard error", "ci_low": "95% CI low", "ci_high": "95% CI high"}
    for f, arr in mv.items():
        data[f"metric_{f}"] = xr.Variable(dims + ["strategy", "metric"], arr,
                                          {"long_name": long[f], "units": "see metric_units"})
    for f, arr in cv.items():
        data[f"claim_{f}"] = xr.Variable(dims + ["claim"], arr, {"long_name": long[f], "units": "see claim_units"})
    data["claim_verdict"] = xr.Variable(dims + ["claim"], verdict,
                                        {"long_name": "supported, refuted or not decidable ('' if the point failed)",
                                         "units": ""})
    data["point_status"] = xr.Variable(dims, status, {"long_name": "complete or failed", "units": ""})
    data["point_error"] = xr.Variable(dims, error, {"long_name": "why the point failed", "units": ""})
    data["point_name"] = xr.Variable(dims, names, {"long_name": "folder under points/", "units": ""})
    data["n_paths"] = xr.Variable(dims, npaths, {"long_name": "paths simulated", "units": "1"})
    attrs = {"title": f"ALVH batch: {spec.name}", "batch": spec.name, "batch_text": spec.text,
             "grid_keys_json": json.dumps(dict(zip(spec.dims, spec.grid))),
             "package_versions_json": json.dumps(package_versions()), "command": command,
             "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return xr.Dataset(data, coords=coords, attrs=attrs)
