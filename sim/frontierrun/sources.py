"""The paths of one source: the reference scenario, the preparation under a model, and the per-path
P&L, worst day and drawdown of every strategy run on them."""

from __future__ import annotations

import dataclasses

import numpy as np

from alvh import frontier as fr


_FIELDS = ("pnl", "worst_day", "max_drawdown")


def _reference_scenario(scenario):
    """The scenario's own hedges (the ALVH and its baselines) without the budget sweep or the replay."""
    def edit(raw):
        an = raw.setdefault("analysis", {})
        an["budget_sweep"], an["replay"] = [], False

    return fr.rewritten(scenario, edit, "references")


def _arrays(prep, sc, n_paths: int, seed: int, jobs: int) -> list[dict]:
    """Per strategy (the condor alone first): ``pnl``, ``worst_day``, ``max_drawdown`` per path, USD."""
    from alvh import runner

    res = runner.run(dataclasses.replace(prep, scenario=sc), n_paths, seed, jobs=jobs, progress=False)
    try:
        return [{k: np.asarray(res.per_strategy[k][s], float) for k in _FIELDS} for s in range(len(res.strategies))]
    finally:
        res.path_store.close()


def _prepare_source(scenario, model: str | None, space, seed: int):
    """(reference scenario, prepared widest scenario) under ``model`` (None: the scenario's own)."""
    from alvh import runner

    def edit(raw):
        raw.setdefault("model", {})["type"] = model
        raw["name"] = f"{scenario.name}.{model}"

    sc = scenario                   # a variant from the text, so that a scenario without a file varies too
    if model is not None and model != scenario.model["type"]:
        sc = fr.rewritten(scenario, edit, f"model.type = {model}")
    base = runner.prepare(sc, seed, cache=True)          # the calibration, cached; s0 for the widths
    wide = fr.widest_scenario(sc, space, base.s0)
    return _reference_scenario(sc), runner.prepare(wide, seed, cache=True)
