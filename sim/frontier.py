"""The hedge-design frontier: what a budget of 0.5-3% of capital a year buys (issue 24).

The claim check asks whether the ALVH as written does what the texts say. The frontier asks what the
best tail protection of a short condor is for a given net cost, and how far the ALVH is from it.

The design space
----------------
A design is one hedge book of one or two layers plus the condor's own protection, expressed as the
scenario keys it sets (:data:`DIMENSIONS`; the docs list them with their default bounds): the
instrument of each layer (VIX calls, VIX call spreads, long VIX futures, SPX puts, SPX put spreads;
the second may be ``none``), the strike rule (moneyness or delta), each layer's opening DTE and a
common roll point, the trigger (always, VIX at or above a level, or backwardation of the VIX futures
curve), the sizing (premium budget in % a year, or a ratio of the condor's vega), the exit at a
multiple of the price paid, and the condor's short delta, wing width and stop multiple. An SPX put is
a put spread half the initial spot wide, its short strike floored at 5 points (the engine's
:data:`alvh.strategy.SPX_MIN_STRIKE`), so its short leg is worth nothing that matters; a VIX future
is sized by vega (it has no premium). The RSI exit and the ALVH's capital caps are off: the budget
governs.
The ALVH as written (four layers, a condor-decay trigger, break-even strikes), the static ladder and
the VXTH rule lie outside this two-layer space; they are run beside it as reference points on the same
paths. The SPX put spread baseline lies inside it.

The search
----------
Every design runs on the same paths (the scenario's model, one seed: common random numbers), and is
judged against the scenario's condor alone on those paths:

* **net cost**, % of capital a year: the mean P&L the design gives up against the condor alone,
  ``mean(pnl_condor - pnl_design) / capital / years`` (a design that changes the condor counts the
  condor's change too);
* **CVaR 99 cut**, % of capital: ``CVaR99(loss_condor) - CVaR99(loss_design)`` of the horizon loss,
  paired (:func:`alvh.metrics.cvar_difference`), and the same for the worst day's loss and the
  maximum drawdown.

The optimiser is optuna's multi-objective TPE sampler (Bergstra et al. 2011; Ozaki et al. 2022),
minimising the cost and maximising the cut, so one study traces the whole frontier and every budget
reads its best design off it: the largest cut among the designs whose cost is within the budget.
Settings: multivariate TPE, :data:`N_STARTUP` random designs first, 24 candidates per draw. Trials
run one after another, each on all workers; the sampler of the k-th design is seeded by
``SeedSequence([seed, k])`` and sees the k designs before it, so a search killed at any moment and
resumed (the study lives in an optuna journal file) proposes the designs an uninterrupted one does.

Out of sample
-------------
The best design of each budget and the reference hedges are run again on fresh paths, from a seed the
search never used (``confirm_seed``, refused if equal to ``seed``), under every model that passes the
market scorecard's acceptance rows (:func:`alvh.verdicts.acceptance_failures`), and on the real path
of 2006-2024 with the VIX legs at real prices (:func:`alvh.realprices.real_price_replay`). The
frontier shown is the confirmed one; the in-sample optimism is the in-sample cut minus the confirmed
cut. Each design's cut is compared with the ALVH's on the same paths (paired CVaR difference); the
p-values of those comparisons are adjusted by Holm's step-down method (Holm 1979) across the designs
of one source. On the real path the cut is of the daily loss's CVaR 99 (one path has no distribution
of annual losses), with a circular block bootstrap interval (21-day blocks; Politis & Romano 1992,
:class:`arch.bootstrap.CircularBlockBootstrap`). A design is *robust* when its cut's 95% interval is
above 0 under every counted model and on the real path, and at least one model is counted.
Designs are numbered by their place in the search (:func:`design_numbers`), the same after a resume; a
design the engine cannot run is kept with its error and counted, and the search goes on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alvh import metrics as mx
from alvh.strategy import dte_to_steps

__all__ = ["Dimension", "DIMENSIONS", "FrontierError", "default_space", "parse_space", "design_scenario",
           "describe", "design_metrics", "search", "best_per_budget", "design_numbers", "pareto_front",
           "space_reference", "rewritten", "trial_seed", "N_STARTUP", "LEVEL",
           "INSTRUMENT_CHOICES"]

#: Random designs before TPE models the history.
N_STARTUP = 20
#: CVaR level of the cut.
LEVEL = 0.99
#: Instruments of a design's layer (``none`` only for the second layer).
INSTRUMENT_CHOICES = ("call", "call_spread", "future", "spx_put", "spx_put_spread")


class FrontierError(ValueError):
    """Bad input to the frontier (bounds, budgets, trials, seeds); the message is one line."""


@dataclass(frozen=True)
class Dimension:
    """One axis of the design space.

    Attributes
    ----------
    name : str
    kind : {"float", "int", "choice"}
    low, high : float
        Default bounds (numbers).
    choices : tuple of str
        Default choices (``choice``).
    limits : tuple
        Hard limits ``(min, max)`` a user's bounds must lie in (numbers), or every allowed choice.
    key : str
        The scenario key(s) it sets.
    text : str
    """

    name: str
    kind: str
    low: float = math.nan
    high: float = math.nan
    choices: tuple = ()
    limits: tuple = ()
    key: str = ""
    text: str = ""


_H = "strategy.hedges.design"
#: The design space with its default bounds (the wing width's are a share of the scenario's, see
#: :func:`default_space`).
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("instrument", "choice", choices=INSTRUMENT_CHOICES, limits=INSTRUMENT_CHOICES,
              key=f"{_H}.layers[0].instrument", text="first layer's instrument"),
    Dimension("instrument_2", "choice", choices=("none",) + INSTRUMENT_CHOICES, limits=("none",) + INSTRUMENT_CHOICES,
              key=f"{_H}.layers[1].instrument", text="second layer's instrument, or none"),
    Dimension("share_1", "float", 0.2, 0.8, limits=(0.01, 0.99), key=f"{_H}.layers[k].allocation",
              text="first layer's share of the budget (or vega target) when there are two layers"),
    Dimension("strike_rule", "choice", choices=("otm", "delta"), limits=("otm", "delta"),
              key=f"{_H}.layers[k].strike_rule", text="strike by moneyness or by delta"),
    Dimension("vix_strike_otm", "float", 0.0, 1.0, limits=(0.0, 5.0), key=f"{_H}.layers[k].strike_otm",
              text="VIX strike = future x (1 + this)"),
    Dimension("spx_strike_otm", "float", 0.0, 0.15, limits=(0.0, 0.5), key=f"{_H}.layers[k].strike_otm",
              text="SPX put strike = spot x (1 - this)"),
    Dimension("strike_delta", "float", 0.05, 0.5, limits=(0.01, 0.99), key=f"{_H}.layers[k].strike_delta",
              text="absolute delta of the long strike (Black-76 on the VIX future; the smile's on the SPX)"),
    Dimension("vix_spread_width", "int", 2, 20, limits=(1, 100), key=f"{_H}.layers[k].spread_width",
              text="VIX call spread width, VIX points"),
    Dimension("spx_spread_width", "float", 0.01, 0.10, limits=(0.001, 0.4), key=f"{_H}.layers[k].spread_width",
              text="SPX put spread width, share of the spot (rounded to 5 points)"),
    Dimension("dte_open", "float", 7.0, 120.0, limits=(2.0, 365.0), key=f"{_H}.layers[0].dte_open",
              text="first layer's calendar DTE at entry"),
    Dimension("dte_open_2", "float", 7.0, 120.0, limits=(2.0, 365.0), key=f"{_H}.layers[1].dte_open",
              text="second layer's calendar DTE at entry"),
    Dimension("roll_share", "float", 0.0, 0.7, limits=(0.0, 0.95), key=f"{_H}.layers[k].dte_roll",
              text="roll when DTE falls to this share of the opening DTE (0 = hold to expiry)"),
    Dimension("trigger", "choice", choices=("always", "vix_above", "backwardation"),
              limits=("always", "vix_above", "backwardation"), key=f"{_H}.layers[k].trigger",
              text="when a layer may open"),
    Dimension("trigger_vix", "float", 12.0, 35.0, limits=(1.0, 200.0), key=f"{_H}.layers[k].trigger_vix",
              text="VIX level of the 'vix_above' trigger"),
    Dimension("sizing", "choice", choices=("budget", "vega"), limits=("budget", "vega"),
              key=f"{_H}.layers[k].sizing", text="VIX options sized by premium budget or by the condor's vega"),
    Dimension("budget_pct_per_year", "float", 0.25, 6.0, limits=(0.01, 100.0), key=f"{_H}.budget_pct_per_year",
              text="premium spent, % of capital a year"),
    Dimension("vega_ratio", "float", 0.05, 1.5, limits=(0.001, 100.0), key=f"{_H}.vega_ratio",
              text="hedge dollars per VIX point over the condor's dollar vega per vol point"),
    Dimension("exit_multiple", "float", 1.5, 8.0, limits=(0.0, 100.0), key=f"{_H}.exit_multiple",
              text="sell a layer at this multiple of its price (0 = never; else at least 1.01)"),
    Dimension("short_delta", "float", 0.05, 0.30, limits=(0.005, 0.49), key="strategy.condor.short_delta",
              text="condor's short strikes, absolute delta"),
    Dimension("wing_width", "float", 0.5, 3.0, limits=(1e-6, 2000.0), key="strategy.condor.wing_width",
              text="condor's wings, index points (default bounds: 0.5-3x the scenario's)"),
    Dimension("stop_multiple", "float", 1.5, 6.0, limits=(1.01, 100.0), key="strategy.condor.stop_multiple",
              text="condor's stop at this multiple of its credit"),
)
_BY_NAME = {d.name: d for d in DIMENSIONS}


def default_space(scenario) -> dict[str, Dimension]:
    """The design space with default bounds for ``scenario`` (the wing width at 0.5-3x its own)."""
    w = float(scenario.condor.wing_width)
    out = dict(_BY_NAME)
    d = out["wing_width"]
    out["wing_width"] = dataclasses.replace(d, low=round(0.5 * w, 6), high=round(3.0 * w, 6))
    return out


def parse_space(overrides: dict, scenario, where: str = "--space") -> dict[str, Dimension]:
    """The default space with a user's bounds: ``name = [low, high]`` (numbers), ``name = ["a", "b"]``
    (choices), or ``name = value`` (pinned).

    Raises
    ------
    FrontierError
        An unknown design key, empty or inverted bounds, a bound outside the dimension's limits, or a
        choice it does not have.
    """
    space = default_space(scenario)
    for name, value in overrides.items():
        if name not in space:
            raise FrontierError(f"{where}: design key '{name}' does not exist; known: {', '.join(space)}")
        d = space[name]
        vals = value if isinstance(value, list) else [value]
        if not vals:
            raise FrontierError(f"{where}: design key '{name}': empty bounds")
        if d.kind == "choice":
            bad = [v for v in vals if v not in d.limits]
            if bad:
                raise FrontierError(f"{where}: design key '{name}': {bad[0]!r} is not one of {', '.join(d.limits)}")
            space[name] = dataclasses.replace(d, choices=tuple(dict.fromkeys(vals)))
            continue
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in vals):
            raise FrontierError(f"{where}: design key '{name}': bounds must be finite numbers, got {value!r}")
        if len(vals) > 2:
            raise FrontierError(f"{where}: design key '{name}': give [low, high] or one value, got {len(vals)} values")
        lo, hi = float(vals[0]), float(vals[-1])
        if lo > hi:
            raise FrontierError(f"{where}: design key '{name}': bounds [{lo:g}, {hi:g}] are inverted")
        if lo < d.limits[0] or hi > d.limits[1]:
            raise FrontierError(f"{where}: design key '{name}': bounds [{lo:g}, {hi:g}] leave its limits "
                                f"[{d.limits[0]:g}, {d.limits[1]:g}]")
        if name == "exit_multiple" and (0.0 < lo < 1.01 or 0.0 < hi < 1.01 or (lo == 0.0 < hi)):
            raise FrontierError(f"{where}: design key 'exit_multiple': 0 (never) or bounds >= 1.01, got "
                                f"[{lo:g}, {hi:g}]")
        if d.kind == "int" and (lo != round(lo) or hi != round(hi)):
            raise FrontierError(f"{where}: design key '{name}': bounds must be whole numbers")
        space[name] = dataclasses.replace(d, low=lo, high=hi)
    if space["instrument"].choices == ("none",):
        raise FrontierError(f"{where}: design key 'instrument': the first layer needs an instrument")
    return space


def space_reference() -> str:
    """The design space as a Markdown table (``docs/pages/frontier.md`` holds it; a test keeps them equal)."""
    rows = ["| design key | default bounds | sets | meaning |", "| --- | --- | --- | --- |"]
    for d in DIMENSIONS:
        if d.kind == "choice":
            bounds = ", ".join(f"`{c}`" for c in d.choices)
        elif d.name == "wing_width":
            bounds = f"{d.low:g}-{d.high:g} x the scenario's"
        else:
            bounds = f"{d.low:g} to {d.high:g}"
        rows.append(f"| `{d.name}` | {bounds} | `{d.key}` | {d.text} |")
    return "\n".join(rows) + "\n"


def space_record(space: dict[str, Dimension]) -> dict:
    """The space as JSON-able bounds (the identity of a search, and the docs' table)."""
    return {n: list(d.choices) if d.kind == "choice" else [d.low, d.high] for n, d in space.items()}


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


def _layers(p: dict) -> list[tuple[str, float, float]]:
    insts = [p["instrument"]] + ([p["instrument_2"]] if p["instrument_2"] != "none" else [])
    shares = [float(p["share_1"]), 1.0 - float(p["share_1"])] if len(insts) == 2 else [1.0]
    return list(zip(insts, shares, [float(p["dte_open"]), float(p["dte_open_2"])]))


def hedge_table(p: dict, s0: float, steps_per_year: float) -> dict:
    """The scenario table ``[strategy.hedges.design]`` of design ``p`` (module docstring)."""
    layers = []
    for inst, share, dte in _layers(p):
        spx = inst.startswith("spx")
        o = max(dte_to_steps(dte, steps_per_year), 1)
        r = min(dte_to_steps(float(p["roll_share"]) * dte, steps_per_year), o - 1)
        ly = {"allocation": share, "dte_open": dte, "dte_roll": r * 365.0 / steps_per_year,
              "instrument": "spx_put_spread" if spx else inst, "strike_rule": p["strike_rule"],
              "strike_otm": float(p["spx_strike_otm"] if spx else p["vix_strike_otm"]),
              "strike_delta": float(p["strike_delta"]), "trigger": p["trigger"],
              "trigger_vix": float(p["trigger_vix"]),
              "sizing": "vega" if inst == "future" else "budget" if spx else p["sizing"]}
        if inst == "spx_put":
            ly["spread_width"] = 5.0 * max(round(0.5 * s0 / 5.0), 1)
        elif inst == "spx_put_spread":
            ly["spread_width"] = 5.0 * max(round(float(p["spx_spread_width"]) * s0 / 5.0), 1)
        elif inst == "call_spread":
            ly["spread_width"] = float(int(p["vix_spread_width"]))
        layers.append(ly)
    return {"label": "condor + design", "budget_pct_per_year": float(p["budget_pct_per_year"]),
            "vega_ratio": float(p["vega_ratio"]), "exit_multiple": float(p["exit_multiple"]), "rsi_exit": 0.0,
            "deepest_layer_cap": 100.0, "margin_share_cap": 100.0, "layers": layers}


def design_scenario(scenario, p: dict, s0: float, name: str = "design"):
    """``scenario`` with its hedges replaced by design ``p`` (no baselines, no budget sweep, no replay)
    and the condor's protection set, validated as a scenario file is.

    Raises
    ------
    alvh.config.ConfigError
        The design breaks a scenario rule.
    """
    def edit(raw):
        st = raw.setdefault("strategy", {})
        st["hedges"] = {"design": hedge_table(p, s0, scenario.simulation["steps_per_year"])}
        st["baselines"] = {"include": []}
        st.setdefault("condor", {}).update(short_delta=float(p["short_delta"]), wing_width=float(p["wing_width"]),
                                           stop_multiple=float(p["stop_multiple"]))
        an = raw.setdefault("analysis", {})
        an["budget_sweep"], an["replay"] = [], False
        raw["name"] = name

    return rewritten(scenario, edit, name)


def widest_scenario(scenario, space: dict[str, Dimension], s0: float):
    """``scenario`` with its own hedges plus designs at the space's longest DTEs, so that one preparation
    (VIX table, SPX surface) covers every design (the calibration is the same)."""
    hi = max(space["dte_open"].high, space["dte_open_2"].high)
    p = {d.name: (d.choices[0] if d.kind == "choice" else d.high) for d in space.values()}
    p.update(instrument="call", instrument_2="spx_put", dte_open=hi, dte_open_2=hi, trigger="backwardation",
             roll_share=0.0, sizing="budget", share_1=0.5)

    def edit(raw):
        st = raw.setdefault("strategy", {})
        hedges = st.setdefault("hedges", {}) or {"alvh": {}}
        hedges["design_widest"] = {**hedge_table(p, s0, scenario.simulation["steps_per_year"]), "kind": "baseline"}
        st["hedges"] = hedges

    return rewritten(scenario, edit, "widest design")


def rewritten(scenario, edit, label: str):
    """``scenario`` with its TOML edited in place by ``edit(raw)`` and read back, validated as a scenario
    file is (relative paths still from the scenario's folder); ``label`` names the variant in errors.

    Raises
    ------
    alvh.config.ConfigError
        The edited scenario breaks a scenario rule.
    """
    import tomli_w

    from alvh.config import parse_scenario

    raw = tomllib.loads(scenario.text)
    edit(raw)
    return parse_scenario(tomli_w.dumps(raw), where=f"{scenario.path or scenario.name} ({label})", path=scenario.path)


_NAMES = {"call": "VIX calls", "call_spread": "VIX call spreads", "future": "long VIX futures",
          "spx_put": "SPX puts", "spx_put_spread": "SPX put spreads"}


def describe(p: dict) -> str:
    """Design ``p`` in one plain sentence."""
    parts = []
    for inst, share, dte in _layers(p):
        spx = inst.startswith("spx")
        if inst == "future":
            strike = ""
        elif p["strike_rule"] == "delta":
            strike = f"{float(p['strike_delta']):.2f}-delta "
        else:
            otm = float(p["spx_strike_otm"] if spx else p["vix_strike_otm"])
            strike = f"{100 * otm:.0f}% OTM "
        width = (f" {int(p['vix_spread_width'])} points wide" if inst == "call_spread" else
                 f" {100 * float(p['spx_spread_width']):.1f}% of spot wide" if inst == "spx_put_spread" else "")
        share_txt = f" ({100 * share:.0f}%)" if share < 1 else ""
        parts.append(f"{dte:.0f}-DTE {strike}{_NAMES[inst]}{width}{share_txt}")
    trig = {"always": "held at all times", "vix_above": f"opened while VIX >= {float(p['trigger_vix']):.1f}",
            "backwardation": "opened while the VIX futures curve is inverted"}[p["trigger"]]
    sized = []
    if any(i not in ("future",) and (i.startswith("spx") or p["sizing"] == "budget") for i, _, _ in _layers(p)):
        sized.append(f"{float(p['budget_pct_per_year']):.2f}% of capital a year")
    if any(i == "future" or (not i.startswith("spx") and p["sizing"] == "vega") for i, _, _ in _layers(p)):
        sized.append(f"{float(p['vega_ratio']):.2f}x the condor's vega")
    roll = float(p["roll_share"])
    return (" and ".join(parts) + f", {trig}, sized at " + " and ".join(sized)
            + (f", rolled at {100 * roll:.0f}% of the opening DTE" if roll > 0 else ", held to expiry")
            + (f", sold at {float(p['exit_multiple']):.1f}x" if float(p["exit_multiple"]) > 0 else "")
            + f"; condor at {float(p['short_delta']):.2f} delta, "
            f"{float(p['wing_width']):.0f}-point wings, stop at {float(p['stop_multiple']):.1f}x its credit")


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
