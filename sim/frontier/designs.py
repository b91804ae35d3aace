"""A design as a scenario and in words: its hedge table (:func:`hedge_table`), the scenario that runs it
(:func:`design_scenario`, :func:`widest_scenario`, :func:`rewritten`) and its plain sentence
(:func:`describe`)."""

from __future__ import annotations

import tomllib

from alvh.strategy import dte_to_steps
from alvh.frontier.space import Dimension


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
