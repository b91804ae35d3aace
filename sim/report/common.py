"""Shared pieces of the report: constants, number formatting, and lookups in the results Dataset
(strategies, metric estimates, units, capital and horizon)."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from alvh import metrics as mx  # noqa: E402
from alvh.results import WORST_PATHS  # noqa: E402


#: The claimed annual hedge cost band, % of capital per year (claim 1).
COST_BAND = (1.0, 2.0)


#: Metric keys the headline reads (each shown as "n/a" when absent).
HEADLINE_KEYS = ("cost_median", "cost_share_1_2", "cvar99_annual", "cvar99_annual_reduction")


#: Condor legs, in the order of the ``leg`` dimension.
LEGS = ("long_put", "short_put", "short_call", "long_call")


#: Number of worst paths (by unhedged annual P&L) the report lists; the dataset keeps them (from all paths).
N_WORST = WORST_PATHS


#: The replay day shown in detail when ``replay_detail_json`` does not name one.
DETAIL_DATE = "2018-02-05"


#: Columns of claims.csv when the Dataset has no claim rows.
CLAIM_VARS = ("claim_id", "claim_text", "claim_strategy", "claim_regime", "claim_statistic", "claim_units",
              "claim_value", "claim_ci_low", "claim_ci_high", "claim_threshold", "claim_verdict", "claim_n",
              "claim_note")


_STAT_LABELS = {
    "vix_mean": ("VIX mean", "VIX points"),
    "vix_q05": ("VIX 5% quantile", "VIX points"),
    "vix_q50": ("VIX median", "VIX points"),
    "vix_q95": ("VIX 95% quantile", "VIX points"),
    "vix_q99": ("VIX 99% quantile", "VIX points"),
    "vix_max_rise": ("Largest one-day VIX rise", "VIX points"),
    "vix_max_rise_pct": ("Largest one-day VIX rise", "%"),
    "spx_vol": ("SPX daily-return volatility", "% per year"),
    "spx_kurtosis": ("SPX daily-return excess kurtosis", "1"),
    "share_below_3pct": ("Share of days below -3%", "% of days"),
}


_SHARE_UNITS = ("1", "fraction", "share", "")


_PCT_YR = "% of capital per year"


def _fmt(x, digits: int = 3) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    if not np.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits}g}"
    return f"{x:,.{digits}f}" if abs(x) < 100 else f"{x:,.1f}"


def _f2(x) -> str:
    """Two decimals, or "n/a"."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return f"{x:,.2f}" if np.isfinite(x) else "n/a"


def format_metric(value: float, se: float, lo: float, hi: float) -> tuple[str, str, str]:
    """Strings for a metric row: value, ``[lo, hi]`` 95% CI, SE ("n/a" where not finite)."""
    return _fmt(value), f"[{_fmt(lo)}, {_fmt(hi)}]", _fmt(se)


def _is_share(units: str) -> bool:
    return str(units).strip().lower() in _SHARE_UNITS


def _est_text(est: mx.Estimate | None, units: str, *, as_share: bool = False) -> str:
    """``"1.52 % of capital per year (95% CI 1.31 to 1.70)"``; shares in "1" are shown in % of paths."""
    if est is None or not np.isfinite(est.value):
        return "n/a"
    scale, u = 1.0, units
    if as_share and _is_share(units):
        scale, u = 100.0, "% of paths"
    v, lo, hi = (scale * x for x in (est.value, est.ci_low, est.ci_high))
    ci = f" (95% CI {_f2(lo)} to {_f2(hi)})" if np.isfinite(lo) and np.isfinite(hi) else " (no CI)"
    return f"{_f2(v)} {u}".rstrip() + ci


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _json_attr(ds: xr.Dataset, key: str, default):
    raw = ds.attrs.get(key)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class _Strategy:
    index: int
    name: str
    label: str
    kind: str
    budget: float


def _coord_list(ds: xr.Dataset, name: str, default: list) -> list:
    if name in ds.coords or name in ds:
        return [x.item() if hasattr(x, "item") else x for x in ds[name].values]
    return default


def _strategies(ds: xr.Dataset) -> list[_Strategy]:
    if "strategy" not in ds.dims:
        return []
    names = [str(x) for x in ds["strategy"].values]
    labels = [str(x) for x in _coord_list(ds, "strategy_label", names)]
    kinds = [str(x) for x in _coord_list(ds, "strategy_kind", [])]
    if len(kinds) != len(names):
        kinds = ["unhedged" if i == 0 else "sweep" if n.startswith("alvh_budget") else
                 "alvh" if n == "alvh" else "baseline" for i, n in enumerate(names)]
    budgets = [float(x) for x in _coord_list(ds, "strategy_budget", [np.nan] * len(names))]
    return [_Strategy(i, n, l, k, b) for i, (n, l, k, b) in enumerate(zip(names, labels, kinds, budgets))]


def _hedges(strats: list[_Strategy], *, sweep: bool = False) -> list[_Strategy]:
    """Hedged strategies (not "unhedged"); sweep variants only when ``sweep``."""
    return [s for s in strats if s.kind != "unhedged" and s.index != 0 and (sweep or s.kind != "sweep")]


def _unhedged(strats: list[_Strategy]) -> _Strategy | None:
    for s in strats:
        if s.kind == "unhedged":
            return s
    return strats[0] if strats else None


def _main(ds: xr.Dataset, strats: list[_Strategy]) -> _Strategy | None:
    """The strategy the headline refers to: attrs ``main_hedge``, else the first of kind "alvh"."""
    want = ds.attrs.get("main_hedge")
    for s in strats:
        if s.name == want:
            return s
    for kind in ("alvh", "baseline", "sweep"):
        for s in strats:
            if s.kind == kind:
                return s
    return None


def _metric(ds: xr.Dataset, strategy: str, key: str) -> mx.Estimate | None:
    """The (strategy, key) metric as an Estimate, or None when absent or NaN."""
    if "metric" not in ds.dims or "metric_value" not in ds:
        return None
    keys = [str(k) for k in ds["metric"].values]
    names = [str(s) for s in ds["strategy"].values] if "strategy" in ds.dims else []
    if key not in keys or strategy not in names:
        return None
    i, j = names.index(strategy), keys.index(key)

    def get(var: str) -> float:
        if var not in ds:
            return np.nan
        da = ds[var]
        if "strategy" in da.dims:
            da = da.isel(strategy=i)
        return float(da.isel(metric=j))

    est = mx.Estimate(get("metric_value"), get("metric_se"), get("metric_ci_low"), get("metric_ci_high"))
    return est if np.isfinite(est.value) else None


def _metric_units(ds: xr.Dataset, key: str, default: str = "") -> str:
    if "metric" not in ds.dims or "metric_units" not in ds.coords:
        return default
    keys = [str(k) for k in ds["metric"].values]
    return str(ds["metric_units"].values[keys.index(key)]) if key in keys else default


def _capital(ds: xr.Dataset) -> float:
    return float(ds.attrs.get("capital_usd", np.nan))


def _years(ds: xr.Dataset) -> float:
    return float(ds.attrs.get("horizon_years", np.nan))


def _annual_pnl_pct(ds: xr.Dataset) -> np.ndarray:
    """(S, n) annual P&L, % of capital per year."""
    return ds["pnl"].values / _capital(ds) * 100.0 / _years(ds)


def _regime_names(ds: xr.Dataset) -> list[str]:
    names = _json_attr(ds, "regime_names", [])
    return [str(x) for x in names] if isinstance(names, list) else []


def _has_replay(ds: xr.Dataset) -> bool:
    return "replay_pnl_pct" in ds and "replay_year" in ds.dims and ds.sizes["replay_year"] > 0


def _cost_median(ds: xr.Dataset, s: _Strategy) -> mx.Estimate | None:
    """Median annual net hedge cost: metric ``cost_median``, else from ``hedge_cost_annual_pct``."""
    est = _metric(ds, s.name, "cost_median")
    if est is not None or "hedge_cost_annual_pct" not in ds:
        return est
    x = ds["hedge_cost_annual_pct"].values[s.index]
    x = x[np.isfinite(x)]
    return mx.quantile(x, 0.5) if x.size >= 2 else None


def _annual_cvar(ds: xr.Dataset, s: _Strategy, lv: int) -> mx.Estimate | None:
    """CVaR ``lv``% of the annual loss: metric ``cvar{lv}_annual``, else computed from ``pnl``."""
    est = _metric(ds, s.name, f"cvar{lv}_annual")
    if est is not None or "pnl" not in ds:
        return est
    loss = -_annual_pnl_pct(ds)[s.index]
    loss = loss[np.isfinite(loss)]
    return mx.var_cvar(loss, lv / 100.0)[1] if loss.size >= 2 else None


def _mean_est(x: np.ndarray) -> mx.Estimate | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return mx.mean(x) if x.size >= 2 else None


def _stored_est(mean, se, scale: float, layer: bool = False) -> mx.Estimate | None:
    """An Estimate from a stored mean and standard error; None where missing (NaN) and, for a layer,
    where it never traded (both 0), as the per-path computation (:func:`_mean_est`) gives."""
    mean, se = float(mean), float(se)
    if not (np.isfinite(mean) and np.isfinite(se)) or (layer and mean == 0.0 and se == 0.0):
        return None
    return mx.Estimate.normal(mean * scale, se * scale)
