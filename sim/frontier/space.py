"""The design space of the frontier: its dimensions (:data:`DIMENSIONS`) with their default bounds,
a user's bounds read onto them (:func:`parse_space`), and the space as a table or a record."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


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
