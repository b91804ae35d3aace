"""The JSON Schema of a scenario file (:data:`SCHEMA`), built from small fragments, and what is read
off it: whether a key exists (:func:`schema_problem`) and the scenario reference page
(:func:`scenario_reference`)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from alvh.models.stress import PRESETS
from alvh.modelspec import MODEL_TYPES
from alvh.models.twofactor import N_LEVELS
from alvh.strategy import INSTRUMENTS, SIZINGS, STRIKE_RULES, TRIGGERS, CondorSpec, HedgeSpec, LayerSpec, MarketSpec


class _FromSpec:
    """Marks a schema default that is the spec dataclass's own field default (:func:`_from_spec`)."""

    def __repr__(self) -> str:
        return "SPEC"


#: A schema default written once, in the spec dataclass (``LayerSpec``, ``HedgeSpec``, ``CondorSpec``,
#: ``MarketSpec``); :func:`_from_spec` puts its value in when the schema is built.
SPEC = _FromSpec()


def _from_spec(table: dict, cls) -> None:
    """Replace each :data:`SPEC` default in ``table``'s properties by the default of the field of the
    same name of the dataclass ``cls`` (a tuple becomes a list, as TOML reads it); a key marked SPEC
    that the dataclass lacks raises KeyError."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, prop in table["properties"].items():
        if prop.get("default") is SPEC:
            f = fields[key]
            value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            prop["default"] = list(value) if isinstance(value, tuple) else value


def _scalar(kind, minimum=None, maximum=None, exclusive_min=None, exclusive_max=None, default=None, desc=""):
    """JSON-Schema fragment for a bounded number or integer."""
    s: dict[str, Any] = {"type": kind, "description": desc}
    bounds = {"minimum": minimum, "maximum": maximum, "exclusiveMinimum": exclusive_min,
              "exclusiveMaximum": exclusive_max, "default": default}
    s.update({k: v for k, v in bounds.items() if v is not None})
    return s


def _num(*args, **kwargs):
    return _scalar("number", *args, **kwargs)


def _int(minimum=None, maximum=None, default=None, desc=""):
    return _scalar("integer", minimum, maximum, default=default, desc=desc)


def _table(props: dict, required=()) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": props, "required": list(required)}


def _costs_table(min_half, rel_half, commission, max_half, what):
    return _table({
        "min_half_spread": _num(0.0, 50.0, default=min_half, desc=f"{what}: half-spread floor, price points"),
        "rel_half_spread": _num(0.0, 1.0, default=rel_half, desc=f"{what}: half-spread as a fraction of mid"),
        "vix_elasticity": _num(0.0, 5.0, default=1.0, desc="half-spread scales with (VIX / vix_ref) ** this"),
        "commission": _num(0.0, 1000.0, default=commission, desc="USD per contract per side"),
        "max_half_spread": _num(exclusive_min=0.0, maximum=1000.0, default=max_half, desc=f"{what}: half-spread cap, points"),
    })


_LAYER = _table({
    "allocation": _num(0.0, 1.0, desc="share of the hedge's budget or vega target"),
    "dte_open": _num(1.0, 365.0, desc="calendar DTE at entry"),
    "dte_roll": _num(0.0, 365.0, desc="calendar DTE at or below which the layer is rolled; 0 = hold to expiry"),
    "instrument": {"enum": list(INSTRUMENTS), "default": SPEC},
    "strike_rule": {"enum": list(STRIKE_RULES), "default": SPEC},
    "strike_otm": _num(-0.5, 5.0, default=SPEC, desc="strike = future * (1 + strike_otm); SPX put: spot * (1 - it)"),
    "strike_delta": _num(exclusive_min=0.0, exclusive_max=1.0, default=SPEC),
    "spread_width": _num(exclusive_min=0.0, maximum=10000.0, default=SPEC, desc="VIX points (SPX points for a put spread)"),
    "trigger": {"enum": list(TRIGGERS), "default": SPEC},
    "trigger_vix": _num(0.0, 200.0, default=SPEC),
    "trigger_days": _int(1, 252, SPEC),
    "decay_share": _num(0.0, 1.0, default=SPEC, desc="condor profit as a share of its max profit"),
    "sizing": {"enum": list(SIZINGS), "default": SPEC},
}, required=["allocation", "dte_open", "dte_roll"])

_HEDGE = _table({
    "enabled": {"type": "boolean", "default": True},
    "kind": {"enum": ["alvh", "baseline"], "default": SPEC},
    "label": {"type": "string"},
    "budget_pct_per_year": _num(0.0, 100.0, default=SPEC, desc="% of capital per year"),
    "vega_ratio": _num(0.0, 100.0, default=SPEC),
    "budget_bands": {"type": "array", "default": SPEC, "items": {"type": "array", "minItems": 3, "maxItems": 3,
                     "items": _num(0.0, 1000.0)}, "description": "[[low, high, pct_per_year], ...] on the VIX future"},
    "exit_multiple": _num(0.0, 100.0, default=SPEC, desc="0 = off"),
    "rsi_period": _int(1, 252, SPEC),
    "rsi_exit": _num(0.0, 100.0, default=SPEC, desc="0 = off"),
    "deepest_layer_cap": _num(exclusive_min=0.0, maximum=100.0, default=SPEC, desc="share of risk capital"),
    "margin_share_cap": _num(exclusive_min=0.0, maximum=100.0, default=SPEC, desc="share of risk capital"),
    "stagger_days": _int(0, 252, SPEC),
    "future_margin_fraction": _num(0.0, 1.0, default=SPEC),
    "min_price": _num(0.0, 100.0, default=SPEC, desc="options below this mid (points) are not traded"),
    "layers": {"type": "array", "items": _LAYER, "minItems": 1, "maxItems": 8},
})

_BASELINES = ("vix_ladder", "vxth", "spx_put_spread")

#: A scenario's ``name`` is a folder name under ``reports/``: no '/', and not '.', '..' or hidden.
NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"

_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "ISO date YYYY-MM-DD"}

#: JSON Schema (draft 2020-12) of a scenario file.
SCHEMA: dict[str, Any] = _table(
    {
        "name": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 100,
                 "description": "output folder name: letters, digits, '_', '-', '.'; not starting with '.'"},
        "description": {"type": "string"},
        "data": _table({
            "spx": {"type": "string", "default": "arch:sp500",
                    "description": "'arch:sp500' (1999-2018), 'bundled:spx' (1927-2026) or a CSV file (date "
                                   "column, close column)"},
            "vix": {"type": "string", "default": "arch:vix",
                    "description": "'arch:vix' (2014-2018), 'bundled:vix' (1990-2026) or a CSV file"},
            "start": {**_DATE, "default": "2014-01-03"},
            "end": {**_DATE, "default": "2018-12-31"},
        }),
        "model": _table({
            "type": {"enum": list(MODEL_TYPES), "default": "heston"},
            "params": {"type": "string", "description": "parameter file written by 'alvh calibrate' (JSON), "
                       "relative to the scenario; without it the model is calibrated on the fly"},
            "v0": {"oneOf": [{"enum": ["last", "theta", "default"]}, _num(minimum=0.0, maximum=4.0)], "default": "last",
                   "description": "initial variance: from the last VIX, the model's long-run level, or a number"},
            "mu": {"oneOf": [{"enum": ["fit"]}, _num(minimum=-1.0, maximum=1.0)], "default": "fit",
                   "description": "P drift of SPX per year (heston, bates, svcj)"},
            "k_regimes": {"enum": [2, 3], "default": 3, "description": "regimes of regime_heston"},
            "regime0": {"oneOf": [{"enum": ["last"]}, _int(0, N_LEVELS - 1)], "default": "last",
                        "description": "initial regime (regime_heston) or central-tendency level (two_factor): the "
                                       "most likely on the window's last day, or its index"},
            "allow_unconverged": {"type": "boolean", "default": False,
                                  "description": "run even when the calibration reports that it did not converge "
                                                 "(the run then says so); by default such a run is refused"},
            "pricing": {"enum": ["heston", "bates", "svcj"], "default": "heston",
                        "description": "model that prices options along a replay"},
        }),
        "stress": _table({
            "shocks": {"type": "array", "default": [], "items": _table({
                "day": _int(1, 2520, desc="trading day of the shock (day 0 is the start)"),
                "preset": {"enum": sorted(PRESETS), "description": "a real day; its SPX and VIX moves"},
                "spx_return": _num(exclusive_min=-1.0, maximum=10.0, desc="simple return of the day"),
                "vix_multiplier": _num(exclusive_min=0.0, maximum=20.0, desc="VIX close over previous close"),
                "var_jump": _num(0.0, 4.0, desc="added to the variance, annualised"),
                "regime": _int(0, 2, desc="regime forced from the shock day on"),
            }, required=["day"])},
            "events": _table({
                "every_days": _int(1, 252, 30, desc="trading days between scheduled events"),
                "multiplier": _num(0.0, 100.0, default=4.0, desc="jump intensity on event days / base"),
                "first_day": _int(1, 252, 1),
            }),
        }),
        "simulation": _table({
            "n_paths": _int(1, 100_000_000, 20_000),
            "horizon_years": _num(exclusive_min=0.0, maximum=10.0, default=1.0),
            "steps_per_year": {"const": 252, "default": 252, "description": "daily steps only"},
            "chunk_size": _int(1, 1_000_000, 2_000),
            "seed": _int(0, 2**63 - 1, 20261121),
            "sample_paths_per_chunk": _int(0, 10_000, 25),
            "max_sample_paths": _int(0, 1_000_000, 1_000,
                                     desc="cap on the whole paths kept for fan charts, over all chunks"),
            "result_paths": _int(1, 100_000_000, 100_000,
                                 desc="leading paths whose per-path summaries are written to results.nc"),
            "daily_paths": _int(1, 10_000_000, 20_000,
                                desc="leading paths whose daily P&L and deltas are kept for the pooled daily statistics"),
            "spot0": {"oneOf": [{"enum": ["last"]}, _num(exclusive_min=0.0, maximum=1e6)], "default": "last",
                      "description": "initial SPX level: the window's last close, or a number of index points"},
        }),
        "market": _table({
            "rate": _num(-0.05, 0.25, default=SPEC, desc="continuously compounded, per year"),
            "dividend_yield": _num(-0.05, 0.25, default=0.018),
            "spx_surface": {"enum": ["auto", "model", "ssvi"], "default": "auto",
                            "description": "SPX implied vols: 'model' = tabulated Fourier prices of the model "
                            "(heston, bates, svcj), 'ssvi' = SSVI smile anchored to the model's expected "
                            "variance, 'auto' = model where it has one, else ssvi"},
            "costs": _table({
                "vix_ref": _num(exclusive_min=0.0, maximum=100.0, default=15.0,
                                desc="VIX level (points) at which the spread coefficients apply"),
                "spx_option": _costs_table(0.05, 0.01, 1.0, 5.0, "SPX options"),
                "vix_option": _costs_table(0.025, 0.03, 1.0, 0.5, "VIX options"),
                "vix_future": _costs_table(0.025, 0.0, 2.0, 0.25, "VIX futures"),
            }),
            "spx_smile": _table({
                "rho": _num(exclusive_min=-1.0, exclusive_max=1.0, default=-0.7),
                "eta": _num(exclusive_min=0.0, maximum=2.0, default=1.1),
                "gamma": _num(exclusive_min=0.0, maximum=0.5, default=0.5),
            }),
        }),
        "portfolio": _table({"capital": _num(exclusive_min=0.0, maximum=1e12, default=1_000_000.0,
                                             desc="dollars")}),
        "strategy": _table({
            "condor": _table({
                "dte": _num(1.0, 365.0, default=SPEC),
                "short_delta": _num(exclusive_min=0.0, exclusive_max=0.5, default=SPEC),
                "wing_width": _num(exclusive_min=0.0, maximum=2000.0, default=SPEC, desc="index points"),
                "profit_take": _num(exclusive_min=0.0, maximum=1.0, default=SPEC),
                "stop_multiple": _num(exclusive_min=1.0, maximum=100.0, default=SPEC),
                "entry_interval_days": _int(1, 252, SPEC),
                "margin_fraction": _num(exclusive_min=0.0, maximum=1.0, default=SPEC),
                "wing_delta": _num(0.0, exclusive_max=0.5, default=SPEC,
                                   desc="if > 0, long wings at this |delta| instead of wing_width points"),
                "close_dte": _num(0.0, 365.0, default=SPEC, desc="close at or below this calendar DTE; 0 = hold"),
                "time_shift": {"type": "boolean", "default": SPEC,
                               "description": "above time_shift_vix, sell the next monthly cycle"},
                "time_shift_vix": _num(0.0, 200.0, default=SPEC),
                "time_shift_days": _num(0.0, 120.0, default=SPEC),
            }),
            "hedges": {"type": "object", "additionalProperties": _HEDGE, "default": {},
                       "description": "named hedge books; default: one ALVH with the texts' rules"},
            "baselines": _table({
                "include": {"type": "array", "items": {"enum": list(_BASELINES)}, "uniqueItems": True,
                            "default": list(_BASELINES),
                            "description": "built-in competing hedges run on the same paths (alvh.strategy.baseline_hedges), "
                                           "at the main hedge's budget"},
            }),
        }),
        "analysis": _table({
            "budget_sweep": {"type": "array", "items": _num(exclusive_min=0.0, maximum=100.0), "maxItems": 12,
                             "default": [], "description": "the main hedge rerun on the same paths at these budgets, "
                                                           "% of capital per year (claim 1's sweep)"},
            "replay": {"type": "boolean", "default": False,
                       "description": "also run every strategy on the real path of the calibration window, priced by "
                                      "the scenario's model, and show it beside the Monte Carlo distribution"},
            "replay_detail_day": {**_DATE, "default": "2018-02-05", "description": "replay day shown in detail"},
            "frontier": {"type": "string", "description": "a frontier.nc written by alvh frontier (relative to this "
                                                        "file): its line on claims 1 and 4 joins the summary"},
        }),
    },
    required=["name"],
)


_from_spec(_LAYER, LayerSpec)
_from_spec(_HEDGE, HedgeSpec)
_from_spec(SCHEMA["properties"]["strategy"]["properties"]["condor"], CondorSpec)
_from_spec(SCHEMA["properties"]["market"], MarketSpec)
json.dumps(SCHEMA)      # a SPEC default left unfilled is not JSON: TypeError at import, not a wrong default

def schema_problem(key: str) -> str:
    """Why ``key`` (``a.b.c`` or ``a.b[1].c``) is not a key of :data:`SCHEMA`, or "" when it is.

    Used to refuse a batch grid over a key no scenario has before any point runs.
    """
    import re

    node = SCHEMA
    for part in key.split("."):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?", part)
        if m is None:
            return f"'{part}' is not a key name"
        name, idx = m.group(1), m.group(2)
        props = node.get("properties", {})
        if name in props:
            node = props[name]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]     # a named table (strategy.hedges.NAME)
        else:
            return f"unknown key '{name}' (allowed there: {', '.join(sorted(props))})"
        if idx is not None:
            if node.get("type") != "array" or "items" not in node:
                return f"'{name}' is not a list"
            node = node["items"]
    return ""


def scenario_reference() -> str:
    """The scenario reference page (Markdown), generated from :data:`SCHEMA`: one row per key with its
    type, bounds or choices, default and description. ``docs/pages/scenario-reference.md`` is this
    text (a test keeps it so)."""
    def kind(s: dict) -> str:
        if "enum" in s:
            return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in s["enum"])
        if "const" in s:
            return f"`{s['const']}` only"
        if "oneOf" in s:
            return " or ".join(kind(b) for b in s["oneOf"])
        t = s.get("type", "")
        if t in ("number", "integer"):
            lo = (f">= {s['minimum']:g}" if "minimum" in s else f"> {s['exclusiveMinimum']:g}"
                  if "exclusiveMinimum" in s else "")
            hi = (f"<= {s['maximum']:g}" if "maximum" in s else f"< {s['exclusiveMaximum']:g}"
                  if "exclusiveMaximum" in s else "")
            return f"{t}" + (f" ({', '.join(x for x in (lo, hi) if x)})" if lo or hi else "")
        if t == "array":
            items = s.get("items", {})
            return "list of " + (kind(items) if items.get("type") != "object" else "tables")
        if t == "string" and "pattern" in s:
            return f"string matching `{s['pattern']}`"
        return t or "table"

    rows = []

    def walk(s: dict, path: str) -> None:
        if s.get("type") == "object" and "properties" in s:
            for k, sub in s["properties"].items():
                walk(sub, f"{path}.{k}" if path else k)
            return
        if s.get("type") == "object" and isinstance(s.get("additionalProperties"), dict):
            rows.append((path, "table of named tables (NAME below)", "", s.get("description", "")))
            walk(s["additionalProperties"], f"{path}.NAME")
            return
        default = json.dumps(s["default"]) if "default" in s else ""
        rows.append((path, kind(s), default, s.get("description", "")))
        if s.get("type") == "array" and s.get("items", {}).get("type") == "object":
            walk(s["items"], f"{path}[k]")

    walk(SCHEMA, "")
    esc = lambda t: str(t).replace("|", "\\|")  # noqa: E731
    out = ["# Scenario reference", "",
           "Every key of a scenario file (TOML), generated from the schema in `sim/config/schema.py`",
           "(`alvh.config.SCHEMA`). Only `name` is required; a missing key takes its default. Every number",
           "must be finite. Rules across keys (layer allocations summing to 1, roll before entry, the SSVI",
           "bound, stress regimes within the model's) are checked when the file is read; see",
           "[reliability](reliability.md).", "",
           "| key | type and bounds | default | description |", "|---|---|---|---|"]
    out += [f"| `{k}` | {esc(t)} | {'`' + esc(d) + '`' if d else ''} | {esc(desc)} |" for k, t, d, desc in rows]
    return "\n".join(out) + "\n"
