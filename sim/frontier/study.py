"""The search: a design's net cost and tail cuts (:func:`design_metrics`), the seeded optuna study that
proposes designs (:func:`search`), and the reading of its results (:func:`best_per_budget`,
:func:`pareto_front`)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np

from alvh import metrics as mx
from alvh.frontier.space import Dimension


#: Random designs before TPE models the history.
N_STARTUP = 20
#: CVaR level of the cut.
LEVEL = 0.99


def suggest(trial, space: dict[str, Dimension]) -> dict:
    """One design from an optuna trial (every dimension is suggested, used or not)."""
    p = {}
    for n, d in space.items():
        if d.kind == "choice":
            p[n] = trial.suggest_categorical(n, list(d.choices))
        elif d.low == d.high:
            p[n] = trial.suggest_categorical(n, [int(d.low) if d.kind == "int" else float(d.low)])
        elif d.kind == "int":
            p[n] = trial.suggest_int(n, int(d.low), int(d.high))
        else:
            p[n] = trial.suggest_float(n, d.low, d.high)
    return p


def design_metrics(ref: dict, des: dict, capital: float, years: float, level: float = LEVEL) -> dict:
    """Net cost and paired tail cuts of a design against the reference condor on the same paths.

    Parameters
    ----------
    ref, des : dict
        ``pnl``, ``worst_day``, ``max_drawdown``: arrays of shape (n_paths,), USD (the condor alone, the
        design), on the same paths.
    capital : float
        USD.
    years : float
        Horizon, years.
    level : float
        CVaR level.

    Returns
    -------
    dict
        ``cost``, ``cost_se`` (% of capital a year), ``cut``, ``cut_se``, ``cut_rel`` (share of the
        condor's CVaR), ``worst_day_cut``, ``worst_day_cut_se``, ``drawdown_cut``, ``drawdown_cut_se``
        (% of capital; a positive cut is a smaller tail).
    """
    k = 100.0 / capital
    gave = (np.asarray(ref["pnl"], float) - np.asarray(des["pnl"], float)) * k / years
    out = {"cost": float(gave.mean()), "cost_se": float(gave.std(ddof=1) / math.sqrt(gave.size))}
    for key, a, b in (("cut", -np.asarray(ref["pnl"]), -np.asarray(des["pnl"])),
                      ("worst_day_cut", -np.asarray(ref["worst_day"]), -np.asarray(des["worst_day"])),
                      ("drawdown_cut", np.asarray(ref["max_drawdown"]), np.asarray(des["max_drawdown"]))):
        est, _ = mx.cvar_difference(k * a.astype(float), k * b.astype(float), level)
        out[key], out[f"{key}_se"] = est.value, est.se
    cvar_ref = mx.var_cvar(-k * np.asarray(ref["pnl"], float), level)[1].value
    out["cut_rel"] = out["cut"] / cvar_ref if cvar_ref > 0 else math.nan
    return out


def trial_seed(seed: int, k: int) -> int:
    """Seed of the sampler that proposes the k-th design (``SeedSequence([seed, k])``)."""
    return int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1)[0])


def _sampler(seed: int, k: int, n_startup: int):
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=trial_seed(seed, k), multivariate=True, constant_liar=False,
                                          n_startup_trials=n_startup)


def open_study(journal: Path | None):
    """The optuna study of a search: in an optuna journal file (resumable), or in memory."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = None
    if journal is not None:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.create_study(storage=storage, study_name="frontier", directions=["minimize", "maximize"],
                               load_if_exists=True)


def design_numbers(trials) -> dict[int, int]:
    """optuna trial number -> design number: the trial's place among the finished designs (0, 1, ...),
    the same whether or not the search was interrupted (optuna's own number also counts a trial killed
    while it ran)."""
    return {t.number: k for k, t in enumerate(sorted(trials, key=lambda t: t.number))}


def search(evaluate, space: dict[str, Dimension], n_trials: int, seed: int, journal: Path | None = None,
           n_startup: int = N_STARTUP, on_trial=None) -> list:
    """Run the multi-objective search until ``n_trials`` designs are finished (module docstring).

    Parameters
    ----------
    evaluate : callable
        ``evaluate(params) -> dict`` with at least ``cost`` and ``cut`` (floats); every entry is kept
        as a user attribute of the trial. A ``ValueError`` or ``ArithmeticError`` it raises fails that
        design alone (kept, with its message as the attribute ``error``, and counted); the search goes
        on with the next.
    space : dict of Dimension
    n_trials : int
        Designs to finish (those of an earlier, interrupted search count).
    seed : int
    journal : Path, optional
        optuna journal file; an existing one is resumed: a trial killed while it ran is marked failed
        (without ``error``) and not counted, and its design is proposed again, since the sampler of the
        k-th design is seeded by k and sees the same history.
    n_startup : int
    on_trial : callable, optional
        Called with each finished trial.

    Returns
    -------
    list of optuna.trial.FrozenTrial
        The finished designs in order (their place is the design number, :func:`design_numbers`); a
        failed one has ``values`` None.
    """
    from optuna.trial import TrialState

    study = open_study(journal)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        study.tell(t.number, state=TrialState.FAIL)     # killed mid-trial: proposed again below

    def finished():
        return sorted((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
                       if t.state == TrialState.COMPLETE or "error" in t.user_attrs), key=lambda t: t.number)

    for t in finished():
        if on_trial is not None:
            on_trial(t, resumed=True)
    while (k := len(finished())) < n_trials:
        study.sampler = _sampler(seed, k, n_startup)
        trial = study.ask()
        trial.set_user_attr("design", k)
        params = suggest(trial, space)
        try:
            result = evaluate(params)
        except (ValueError, ArithmeticError) as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            study.tell(trial, state=TrialState.FAIL)
        else:
            for key, v in result.items():
                trial.set_user_attr(key, v)
            study.tell(trial, [float(result["cost"]), float(result["cut"])])
        if on_trial is not None:
            on_trial(study.get_trials(deepcopy=False)[trial.number], resumed=False)
    return finished()


def best_per_budget(trials, budgets) -> dict[float, object]:
    """For each budget (% a year), the design with the largest cut among those whose cost is within it
    (the earliest design on ties), or None; failed designs never count."""
    out = {}
    for b in budgets:
        ok = [t for t in trials if t.values is not None and math.isfinite(t.values[0]) and t.values[0] <= b
              and math.isfinite(t.values[1])]
        out[float(b)] = max(ok, key=lambda t: (t.values[1], -t.number)) if ok else None
    return out


def pareto_front(cost, cut) -> np.ndarray:
    """Which designs no other dominates: none costs no more and cuts no less, one of the two strictly.

    Parameters
    ----------
    cost, cut : array_like of shape (n,)
        Net cost (lower is better) and cut (higher is better); NaN designs are never on the front.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    c, u = np.asarray(cost, float), np.asarray(cut, float)
    ok = np.isfinite(c) & np.isfinite(u)
    front = ok.copy()
    for i in np.flatnonzero(ok):
        dom = ok & (c <= c[i]) & (u >= u[i]) & ((c < c[i]) | (u > u[i]))
        front[i] = not dom.any()
    return front


def write_json(path: Path, doc: dict) -> None:
    """``doc`` as JSON, atomically."""
    from alvh.checkpoint import atomic_write_bytes

    atomic_write_bytes(Path(path), (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
