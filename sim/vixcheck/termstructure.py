"""Task 2: the model VIX futures term structure along stationary P paths (:func:`futures_term_structure`)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from alvh.models.base import PathModel, State
from alvh.pricing import make_vix_table
from alvh.vixcheck.defaults import _DT, DAYS_PER_MONTH


# ------------------------------------------------------------------------------------------------
# Task 2: the model VIX futures term structure along stationary P paths
# ------------------------------------------------------------------------------------------------
def _ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Ratio estimate ``sum(num) / sum(den)`` over paths and its delta-method standard error.

    ``num``, ``den`` of shape (n_paths,): per-path sums and counts. Paths are independent, the days
    within a path are not, so the error is computed over paths (Cochran 1977, "Sampling
    Techniques", sec. 6.4).
    """
    n = num.size
    tot = den.sum()
    if tot <= 0 or n < 2:
        return float("nan"), float("nan")
    r = num.sum() / tot
    resid = num - r * den
    se = math.sqrt((resid * resid).sum() / (n * (n - 1))) / (tot / n)
    return float(r), float(se)


def futures_term_structure(
    model: PathModel,
    *,
    months=(1, 2, 3, 4, 5, 6),
    n_paths: int = 2_000,
    n_days: int = 252,
    burn: int = 252,
    calm: str | float = "median",
    seed: int = 0,
    rate: float = 0.02,
    dt: float = _DT,
    table=None,
    s0: float = 100.0,
) -> xr.Dataset:
    """The model's VIX futures curve along stationary P paths: slope, contango share, roll yield.

    Draws ``n_paths`` states from ``model.stationary_state``, simulates ``burn`` days under P and
    discards them, then simulates ``n_days`` more. On each day ``t`` of each path the futures curve
    is ``F_k = table.futures(VIX_t, 21 k, r_t)`` for ``k`` in ``months``. Each statistic is averaged
    over the days of a subset:

    - ``calm``: ``VIX_t`` below a threshold -- by default the median of the model's own stationary
      VIX (all simulated days), i.e. the calmer half of the model's days, so that every model is
      judged on its own calm state; a number (e.g. 20) uses that VIX level instead.
    - ``all``: every simulated day.

    Statistics (per day, then averaged):

    - ``slope``: least-squares slope of ``F_k`` on ``k`` (points per month).
    - ``contango_share``: ``F_1 > VIX_t``, a positive basis (the sign convention of Simon &
      Campasano 2014, who call a front future above the spot VIX contango).
    - ``upward_share``: ``F_2 > F_1``, an upward-sloping curve between the first two months (the
      measure behind Whaley's (2013) "nearly 80% of trading days").
    - ``roll_yield``: ``(F_1 - VIX_t) / F_1`` per month: what a long one-month future loses over the
      month if the spot VIX stays put (the basis over the future; Simon & Campasano 2014 define the
      daily roll as the basis divided by the days to settlement).
    - ``roll_yield_spread``: ``(F_2 - F_1) / F_1`` per month, the practitioners' front-to-second-month
      roll (what a constant-maturity index rolling from the first into the second month pays).
    - ``futures_return_1m``: ``(VIX_{t+21} - F_1(t)) / F_1(t)``: the realised P return of a
      one-month future held to expiry, on the days with 21 days of path left; Eraker & Wu (2017)
      measure its market counterpart (a constant-maturity one-month position: about -30% a year,
      2006-2013).

    Parameters
    ----------
    model : PathModel
    months : sequence of int, default 1..6
        Futures maturities in months of :data:`DAYS_PER_MONTH` trading days; must include 1 and 2.
    n_paths : int, default 2000
        Independent stationary paths, >= 2.
    n_days : int, default 252
        Days kept per path, > 21.
    burn : int, default 252
        Days simulated and discarded after the stationary draw (``stationary_state`` is
        approximate for several models), >= 0.
    calm : "median" or float, default "median"
        Calm-day rule (above).
    seed : int, default 0
        Root ``SeedSequence`` seed (one generator for the whole run).
    rate, dt : float
        Table discount rate and step (years).
    table : VixOptionTable or MarkovVixTable, optional
        Default ``make_vix_table(model, dt, 21 * max(months), rate)``.
    s0 : float, default 100
        SPX level of the stationary draw (irrelevant to the VIX).

    Returns
    -------
    xarray.Dataset
        Dimension ``subset`` (``"calm"``, ``"all"``) and ``month``. Variables (with ``_se``
        standard errors over paths): ``futures_curve`` (subset, month), ``vix_mean``, ``slope``,
        ``contango_share``, ``upward_share``, ``roll_yield``, ``roll_yield_spread``,
        ``futures_return_1m``, plus ``day_share`` (share of days in the subset). ``attrs`` record
        the calm threshold and the run.

    Raises
    ------
    ValueError
        Bad sizes, ``months`` without 1 and 2, a table too short, or a ``calm`` that is neither
        ``"median"`` nor a number.

    Notes
    -----
    Standard errors treat paths as independent and the days of a path as dependent (ratio
    estimator over paths, :func:`_ratio`). The curve is the model's own (Q expectation of the
    model VIX); its contango comes from the variance risk premium (Q mean reversion to a higher
    level; DESIGN.md, "Measures: P for paths, Q for prices"), offset by the concavity of the VIX
    in the variance, which pulls futures below the VIX of the expected variance.

    Published figures to compare with (market data, not model output): Eraker & Wu (2017),
    "Explaining the negative returns to volatility claims: An equilibrium approach", J. Financial
    Economics 125(1), 72-98, abstract: a constant-maturity portfolio of one-month VIX futures lost
    about 30% a year over 2006-2013 (compare ``futures_return_1m``); Whaley (2013), "Trading
    volatility: At what cost?", J. Portfolio Management 40(1), quoted in the press: the VIX futures
    curve sloped upwards on nearly 80% of trading days at 30-day maturities (compare
    ``upward_share``); Simon & Campasano (2014), "The VIX futures basis: Evidence and trading
    strategies", J. Derivatives 21(3), 54-69, for the basis and daily-roll definitions.
    """
    months = np.asarray(sorted(int(m) for m in months), dtype=int)
    if 1 not in months or 2 not in months:
        raise ValueError(f"months must include 1 and 2, got {months.tolist()}")
    if n_paths < 2 or n_days <= DAYS_PER_MONTH or burn < 0:
        raise ValueError(f"need n_paths >= 2, n_days > {DAYS_PER_MONTH}, burn >= 0; got {n_paths}, {n_days}, {burn}")
    steps = months * DAYS_PER_MONTH
    if table is None:
        table = make_vix_table(model, dt, int(steps[-1]), rate)
    elif table.max_steps < steps[-1]:
        raise ValueError(f"table covers {table.max_steps} steps, months need {int(steps[-1])}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    state = model.stationary_state(s0, n_paths, rng)
    if burn:
        p = model.simulate(state, int(burn), dt, rng)
        state = State(np.full(n_paths, float(s0)), p.var[:, -1].copy(), p.regime[:, -1].copy())
    paths = model.simulate(state, int(n_days) - 1, dt, rng)
    vix = np.asarray(paths.vix, dtype=float)
    reg = np.asarray(paths.regime)
    fut = np.stack([table.futures(vix.ravel(), int(s), reg.ravel()).reshape(vix.shape) for s in steps], axis=-1)

    if isinstance(calm, str):
        if calm != "median":
            raise ValueError(f"calm must be 'median' or a VIX level, got {calm!r}")
        threshold = float(np.median(vix))
        rule = "VIX below the median of the model's stationary VIX"
    else:
        threshold = float(calm)
        rule = f"VIX below {threshold:g}"
    subsets = {"calm": vix < threshold, "all": np.ones(vix.shape, dtype=bool)}

    k = months.astype(float)
    kc = (k - k.mean()) / ((k - k.mean()) ** 2).sum()
    i1, i2 = int(np.flatnonzero(months == 1)[0]), int(np.flatnonzero(months == 2)[0])
    f1, f2 = fut[..., i1], fut[..., i2]
    h = DAYS_PER_MONTH
    ret = np.full(vix.shape, np.nan)
    ret[:, :-h] = (vix[:, h:] - f1[:, :-h]) / f1[:, :-h]
    per_day = {
        "vix_mean": vix,
        "slope": fut @ kc,
        "contango_share": (f1 > vix).astype(float),
        "upward_share": (f2 > f1).astype(float),
        "roll_yield": (f1 - vix) / f1,
        "roll_yield_spread": (f2 - f1) / f1,
    }
    names = list(per_day) + ["futures_return_1m"]
    res = {n: np.full(2, np.nan) for n in names}
    res_se = {n: np.full(2, np.nan) for n in names}
    curve = np.full((2, months.size), np.nan)
    curve_se = np.full((2, months.size), np.nan)
    day_share = np.zeros(2)
    for s, sel in enumerate(subsets.values()):
        cnt = sel.sum(axis=1).astype(float)
        day_share[s] = sel.mean()
        for n, x in per_day.items():
            res[n][s], res_se[n][s] = _ratio(np.where(sel, x, 0.0).sum(axis=1), cnt)
        ok = sel & np.isfinite(ret)
        res["futures_return_1m"][s], res_se["futures_return_1m"][s] = _ratio(
            np.where(ok, ret, 0.0).sum(axis=1), ok.sum(axis=1).astype(float))
        for q in range(months.size):
            curve[s, q], curve_se[s, q] = _ratio(np.where(sel, fut[..., q], 0.0).sum(axis=1), cnt)

    units = {"vix_mean": ("VIX points", "mean spot VIX"),
             "slope": ("VIX points per month", "least-squares slope of the futures curve over the months"),
             "contango_share": ("1", "share of days with F_1M > VIX (positive basis)"),
             "upward_share": ("1", "share of days with F_2M > F_1M"),
             "roll_yield": ("1 per month", "(F_1M - VIX) / F_1M"),
             "roll_yield_spread": ("1 per month", "(F_2M - F_1M) / F_1M"),
             "futures_return_1m": ("1 per month", "(VIX_{t+21} - F_1M(t)) / F_1M(t), realised under P")}
    data = {}
    for n in names:
        u, d = units[n]
        data[n] = (("subset",), res[n], {"units": u, "description": d})
        data[n + "_se"] = (("subset",), res_se[n], {"units": u, "description": f"standard error of {n} over paths"})
    data["futures_curve"] = (("subset", "month"), curve, {"units": "VIX points", "description": "mean VIX future"})
    data["futures_curve_se"] = (("subset", "month"), curve_se, {"units": "VIX points", "description": "standard error"})
    data["day_share"] = (("subset",), day_share, {"units": "1", "description": "share of simulated days in the subset"})
    return xr.Dataset(
        data,
        coords={"subset": ("subset", list(subsets)),
                "month": ("month", months, {"units": "months of 21 trading days"})},
        attrs={"model": model.name, "table": type(table).__name__, "calm_rule": rule, "calm_threshold": threshold,
               "n_paths": int(n_paths), "n_days": int(n_days), "burn": int(burn), "seed": int(seed),
               "rate": float(rate), "dt": float(dt)},
    )
