"""Checks of the VIX pricers against Monte Carlo under Q, and of the model VIX futures term structure.

Two diagnostics, for any :class:`alvh.models.base.PathModel` that defines :meth:`~alvh.models.base.PathModel.q_model`:

1. :func:`vix_table_vs_mc` -- the pricing table of :func:`alvh.pricing.make_vix_table` (exact CIR law
   for Heston and Bates, a Kushner-Dupuis Markov chain for SVCJ, GJR-GARCH and regime-switching
   Heston) against plain Monte Carlo of the model's own Q dynamics (its ``q_model()`` simulated from
   a given VIX level and regime). Under Heston and Bates the table is exact, so the comparison
   checks the Monte Carlo; for the chain it measures the approximation error.
2. :func:`futures_term_structure` -- the model VIX futures curve (from the same table) along
   stationary P paths: its slope, the share of days in contango and the roll yield, on "calm" days
   and on all days, with standard errors over paths.

Units: VIX, futures, strikes and call prices in VIX index points; expiries and maturities in
trading days (steps of ``dt = 1/252`` year); variance annualised; rates continuously compounded;
roll yields and returns as fractions per month (21 trading days). Randomness follows numpy's
SPEC 7: one root ``SeedSequence(seed)``, one child per start state (or per path chunk).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from alvh.models.base import PathModel, State
from alvh.pricing import make_vix_table

__all__ = [
    "VIX_LEVELS",
    "EXPIRIES",
    "MONEYNESS",
    "DAYS_PER_MONTH",
    "q_first_moments",
    "vix_table_vs_mc",
    "futures_term_structure",
]

#: Default starting VIX levels (points) for :func:`vix_table_vs_mc`.
VIX_LEVELS = (12.0, 16.0, 25.0, 40.0, 60.0)
#: Default expiries (trading days) for :func:`vix_table_vs_mc`: one week, one, two and three months.
EXPIRIES = (5, 21, 42, 63)
#: Default strikes as multiples of the (table) VIX future: ATM, 20% and 50% out of the money.
MONEYNESS = (1.0, 1.2, 1.5)
#: Trading days per futures month (VIX futures are listed monthly; 252 / 12).
DAYS_PER_MONTH = 21

_DT = 1.0 / 252.0


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _affine_vix2(model: PathModel) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-regime ``(a, b)`` with ``(VIX / 100)^2 = a[r] var + b[r]``, or ``None`` if not affine."""
    a, b = [], []
    x = np.array([0.0, 1.0, 0.3])
    for r in range(model.n_regimes):
        v2 = (np.asarray(model.vix(x, np.full(3, r)), dtype=float) / 100.0) ** 2
        ar, br = v2[1] - v2[0], v2[0]
        if not math.isclose(v2[2], br + 0.3 * ar, rel_tol=1e-9, abs_tol=1e-12):
            return None
        a.append(ar)
        b.append(br)
    return np.array(a), np.array(b)


def _one_step_mean(model: PathModel, dt: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-regime ``(c, d)`` with ``E_Q[var_{t+1} | var_t = x, regime j in force] = c[j] + d[j] x``.

    Read off the model's quadrature :meth:`~alvh.models.base.PathModel.q_step` at ``x = 0, 1`` and checked
    at ``x = 0.3``; ``None`` when it is not affine.
    """
    c, d = [], []
    x = np.array([0.0, 1.0, 0.3])
    for r in range(model.n_regimes):
        xn, w = model.q_step(x, dt, r)
        mean = (np.asarray(xn) * np.broadcast_to(np.asarray(w, dtype=float), np.shape(xn))).sum(axis=1)
        cr, dr = mean[0], mean[1] - mean[0]
        if not math.isclose(mean[2], cr + 0.3 * dr, rel_tol=1e-8, abs_tol=1e-12):
            return None
        c.append(cr)
        d.append(dr)
    return np.array(c), np.array(d)


def q_first_moments(model: PathModel, var0: float, regime0: int, steps, dt: float = _DT
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Q first moments of the variance by regime: ``M_k(j) = E_Q[var_k 1{r_k = j}]``, ``p_k(j) = Pr_Q(r_k = j)``.

    Parameters
    ----------
    model : PathModel
        Its :meth:`~alvh.models.base.PathModel.q_step` must have a one-step mean affine in the variance
        (true for every model in :mod:`models`).
    var0 : float
        Initial variance (annualised).
    regime0 : int
        Initial regime.
    steps : sequence of int
        Horizons in steps, >= 0.
    dt : float, default 1/252
        Step in years.

    Returns
    -------
    M, p : ndarray of shape (len(steps), n_regimes)
        ``M`` in annualised variance, ``p`` probabilities.

    Raises
    ------
    ValueError
        If the one-step Q mean of :meth:`q_step` is not affine in the variance.

    Notes
    -----
    The regime switches at the start of a step (:class:`alvh.pricing.MarkovVixTable`,
    :mod:`alvh.models.regimes`), then the variance moves with mean ``c_j + d_j x``::

        p_{k+1} = P^T p_k,      M_{k+1}(j) = c_j p_{k+1}(j) + d_j (P^T M_k)(j)

    (the mean recursion of a Markov-modulated affine process; Elliott, Siu & Chan 2007). The
    quadratures of :meth:`q_step` are moment-matched to the exact one-step mean in every model
    here, so this is the exact Q mean; for SVCJ it is the mean of the continuous-time process,
    which differs from that of its simulation scheme by ``~ lam_j mu_v kappa dt^2 / 2`` per step
    (:meth:`alvh.models.jumps.SvcjModel.q_model`).
    """
    cd = _one_step_mean(model, dt)
    if cd is None:
        raise ValueError(f"the one-step Q mean of {model.name}.q_step is not affine in the variance")
    c, d = cd
    pt = np.asarray(model.regime_transition(dt), dtype=float).T
    n = model.n_regimes
    p = np.zeros(n)
    p[int(regime0)] = 1.0
    m = p * float(var0)
    steps = np.asarray(steps, dtype=int)
    out_m = np.empty((steps.size, n))
    out_p = np.empty((steps.size, n))
    for k in range(int(steps.max()) + 1 if steps.size else 0):
        hit = steps == k
        out_m[hit], out_p[hit] = m, p
        p = pt @ p
        m = c * p + d * (pt @ m)
    return out_m, out_p


class _Moments:
    """Running sums of centred ``Y`` (payoffs, columns) and ``X`` (control), for the control-variate estimate."""

    def __init__(self, n_y: int) -> None:
        self.n = 0
        self.sy = np.zeros(n_y)
        self.syy = np.zeros(n_y)
        self.sxy = np.zeros(n_y)
        self.sx = 0.0
        self.sxx = 0.0

    def add(self, y: np.ndarray, x: np.ndarray) -> None:
        self.n += x.size
        self.sy += y.sum(axis=0)
        self.syy += (y * y).sum(axis=0)
        self.sxy += (x[:, None] * y).sum(axis=0)
        self.sx += float(x.sum())
        self.sxx += float((x * x).sum())

    def estimate(self, use_cv: bool):
        """``(mean, se, se_plain, z_control)`` of the centred payoffs (``X`` is centred at its exact mean)."""
        n = self.n
        my, mx = self.sy / n, self.sx / n
        vy = (self.syy / n - my * my) * n / (n - 1)
        vx = (self.sxx / n - mx * mx) * n / (n - 1)
        cxy = (self.sxy / n - mx * my) * n / (n - 1)
        se_plain = np.sqrt(np.maximum(vy, 0.0) / n)
        z_control = mx / math.sqrt(vx / n) if vx > 0 else 0.0
        if not use_cv or vx <= 0:
            return my, se_plain, se_plain, z_control
        beta = cxy / vx
        mean = my - beta * mx                     # E[X] = 0 after centring
        se = np.sqrt(np.maximum(vy - cxy * cxy / vx, 0.0) / n)
        return mean, se, se_plain, z_control


# ------------------------------------------------------------------------------------------------
# Task 1: table against Monte Carlo under Q
# ------------------------------------------------------------------------------------------------
def vix_table_vs_mc(
    model: PathModel,
    levels=VIX_LEVELS,
    expiries=EXPIRIES,
    moneyness=MONEYNESS,
    *,
    n_paths: int = 200_000,
    seed: int = 0,
    rate: float = 0.02,
    dt: float = _DT,
    table=None,
    control_variate: bool | None = None,
    chunk_size: int = 50_000,
    regimes=None,
) -> xr.Dataset:
    """VIX futures and call prices from the pricing table against Monte Carlo under Q.

    For each regime ``r`` and starting VIX level ``L`` above the regime's VIX floor, the state is
    ``var0 = model.var_from_vix(L, r)``. The Monte Carlo simulates ``model.q_model()`` from
    ``(var0, r)`` with ``n_paths`` paths and prices with ``VIX_T = model.vix(var_T, r_T)``::

        futures = mean(VIX_T),     call = exp(-rate T) mean((VIX_T - K)^+),     T = steps * dt

    The table prices are ``table.futures(L, steps, r)`` and ``table.call(L, steps, k, r)`` with the
    strike ``K = round(m * futures_table)`` (integer, as the tables list them) for each moneyness
    ``m``.

    Parameters
    ----------
    model : PathModel
        Needs :meth:`~alvh.models.base.PathModel.q_model`.
    levels : sequence of float, default :data:`VIX_LEVELS`
        Starting VIX levels (points); a level at or below a regime's floor ``model.vix(0, r)`` is
        skipped (``reachable`` False, prices NaN).
    expiries : sequence of int, default :data:`EXPIRIES`
        Times to expiry in steps, >= 1.
    moneyness : sequence of float, default :data:`MONEYNESS`
        Strikes as multiples of the table future.
    n_paths : int, default 200_000
        Monte Carlo paths per start state, >= 2.
    seed : int, default 0
        Root entropy of the ``numpy.random.SeedSequence``s: the start state ``(r, L)`` uses
        ``SeedSequence(seed, spawn_key=(r, round(1e6 L)))`` and its chunk ``j`` that sequence's
        child ``j`` (SPEC 7), so a start state's estimate does not depend on which other states
        are checked (one level at a time gives the same numbers as the whole grid).
    rate : float, default 0.02
        Discount rate for calls (continuously compounded, per year).
    dt : float, default 1/252
        Step in years (GJR-GARCH and the regime model accept only 1/252).
    table : VixOptionTable or MarkovVixTable, optional
        A table already built for ``model`` with this ``dt`` and ``rate`` (e.g. the runner's);
        default ``make_vix_table(model, dt, max(expiries), rate)``.
    control_variate : bool or None, default None
        Use ``VIX_T^2`` as a control variate (Glasserman 2004, "Monte Carlo Methods in Financial
        Engineering", sec. 4.1): its exact Q mean is affine in the first moments of
        :func:`q_first_moments`. ``None`` (auto) uses it unless the model's innovations are
        Student-like with ``eta <= 8`` (GJR-GARCH's skew-t): then ``E[z^8]``, and with it the
        fourth moment of ``VIX_T^2`` (affine in ``h_T``, a sum of products of ``z^2``), is
        infinite, the sample variances that set the control coefficient and the standard error
        are unreliable, and the control's sample mean sits many standard errors from its exact
        mean (measured: ``vix2_z`` down to -7 at 63 days). Plain Monte Carlo is used then, and
        whenever ``VIX^2`` or the one-step mean is not affine in the variance
        (``attrs["control_variate"]`` says which).
    chunk_size : int, default 50_000
        Paths simulated at once (memory ~ ``5 * 8 * chunk_size * max gap between expiries``
        bytes).
    regimes : sequence of int, optional
        Regimes to start from; default all.

    Returns
    -------
    xarray.Dataset
        Dimensions ``regime`` (labels ``regime_name``), ``level`` (VIX points), ``expiry``
        (steps), ``moneyness``. Variables, each with ``attrs["units"]``:

        - ``var0`` (regime, level): starting variance; ``reachable`` (regime, level): bool.
        - ``futures_table``, ``futures_mc``, ``futures_se``, ``futures_se_plain``,
          ``futures_diff`` (table - MC), all VIX points; ``futures_z`` = diff / se
          (regime, level, expiry).
        - ``strike`` (regime, level, expiry, moneyness), VIX points; ``call_table``, ``call_mc``,
          ``call_se``, ``call_se_plain``, ``call_diff`` (points), ``call_z``.
        - ``vix2_z`` (regime, level, expiry): plain-MC mean of ``VIX_T^2`` minus its exact Q mean,
          in standard errors -- a check of the control variate's mean (and of the simulation's
          first moment); it should be ``N(0, 1)``-like. NaN without the control variate.

        ``attrs``: model, table class, n_paths, seed, rate, dt, control_variate.

    Raises
    ------
    NotImplementedError
        If the model has no :meth:`~alvh.models.base.PathModel.q_model`.
    ValueError
        Bad sizes, an expiry < 1 or beyond the table, a strike off the table's grid
        (``1..strike_max`` points), or a ``dt`` the model refuses.

    Notes
    -----
    ``se`` is the standard error of the (control-variate) estimator, ignoring the estimation of
    the control coefficient (an O(1/n) effect). Sources: the exact CIR-law table (Zhang & Zhu
    2006, J. Futures Markets 26(6)), the Markov-chain table (Kushner & Dupuis 2001, ch. 4), both
    in :mod:`alvh.pricing`; control variates: Glasserman (2004), sec. 4.1.
    """
    from alvh.runner import chunk_sizes

    levels = np.asarray(levels, dtype=float)
    expiries = np.asarray(sorted(int(e) for e in expiries), dtype=int)
    mny = np.asarray(moneyness, dtype=float)
    if n_paths < 2 or chunk_size < 1:
        raise ValueError(f"n_paths must be >= 2 and chunk_size >= 1, got {n_paths}, {chunk_size}")
    if expiries.size == 0 or expiries[0] < 1:
        raise ValueError(f"expiries must be >= 1 step, got {expiries.tolist()}")
    if levels.size == 0 or mny.size == 0:
        raise ValueError("need at least one level and one moneyness")
    qm = model.q_model(0.0)
    if table is None:
        table = make_vix_table(model, dt, int(expiries[-1]), rate)
    elif table.max_steps < expiries[-1]:
        raise ValueError(f"table covers {table.max_steps} steps, expiries need {int(expiries[-1])}")
    regs = list(range(model.n_regimes)) if regimes is None else [int(r) for r in regimes]
    ab = _affine_vix2(model)
    affine = ab is not None and _one_step_mean(model, dt) is not None
    eta = getattr(model, "eta", None)
    heavy = eta is not None and float(eta) <= 8.0
    if control_variate is None:
        control_variate = not heavy
    use_cv = bool(control_variate) and affine
    cv_note = ("VIX_T^2 (exact Q mean from q_first_moments)" if use_cv else
               f"none (innovations with eta = {float(eta):.3g} <= 8: VIX_T^2 has no finite fourth moment)"
               if heavy and not control_variate else
               "none (requested off)" if not control_variate else
               "none (VIX^2 or the one-step Q mean is not affine in the variance)")

    nr, nl, ne, nk = len(regs), levels.size, expiries.size, mny.size
    shape3, shape4 = (nr, nl, ne), (nr, nl, ne, nk)
    out = {k: np.full(shape3, np.nan) for k in ("futures_table", "futures_mc", "futures_se", "futures_se_plain",
                                                "vix2_z")}
    out.update({k: np.full(shape4, np.nan) for k in ("strike", "call_table", "call_mc", "call_se", "call_se_plain")})
    var0 = np.full((nr, nl), np.nan)
    reachable = np.zeros((nr, nl), dtype=bool)
    disc = np.exp(-rate * expiries * dt)

    for i, r in enumerate(regs):
        floor = float(model.vix(np.zeros(1), np.full(1, r))[0])
        for j, lev in enumerate(levels):
            if not lev > floor + 1e-9:
                continue
            reachable[i, j] = True
            v0 = float(model.var_from_vix(np.array([lev]), np.array([r]))[0])
            var0[i, j] = v0
            lv = np.full(1, lev)
            rg = np.full(1, r)
            f_tab = np.array([float(table.futures(lv, int(e), rg)[0]) for e in expiries])
            strikes = np.rint(mny[None, :] * f_tab[:, None])
            kidx = table.strike_index(strikes)
            if np.any(table.strikes[kidx] != strikes):
                raise ValueError(f"strikes {strikes.ravel().tolist()} are not all on the table's grid "
                                 f"1..{table.strikes[-1]:g}")
            c_tab = np.array([[float(table.call(lv, int(e), kidx[q, s], rg)[0]) for s in range(nk)]
                              for q, e in enumerate(expiries)])
            if use_cv:
                a, b = ab
                mom, prob = q_first_moments(model, v0, r, expiries, dt)
                ex2 = 1e4 * (mom @ a + prob @ b)          # E_Q[VIX_T^2], points^2, one per expiry
            else:
                ex2 = np.zeros(ne)
            acc = [_Moments(1 + nk) for _ in range(ne)]
            sizes = chunk_sizes(n_paths, chunk_size)
            root = np.random.SeedSequence(seed, spawn_key=(int(r), int(round(1e6 * float(lev)))))
            for c_seq, n in zip(root.spawn(len(sizes)), sizes):
                rng = np.random.default_rng(c_seq)
                state = State(np.full(n, 100.0), np.full(n, v0), np.full(n, r, np.int8))
                t = 0
                for q, e in enumerate(expiries):
                    if e > t:
                        paths = qm.simulate(state, int(e - t), dt, rng)
                        state = State(paths.spot[:, -1].copy(), paths.var[:, -1].copy(), paths.regime[:, -1].copy())
                        t = int(e)
                    vt = model.vix(state.var, state.regime)
                    y = np.empty((n, 1 + nk))
                    y[:, 0] = vt - f_tab[q]
                    y[:, 1:] = disc[q] * np.maximum(vt[:, None] - strikes[q][None, :], 0.0) - c_tab[q][None, :]
                    acc[q].add(y, vt * vt - ex2[q])
            for q in range(ne):
                mean, se, se_plain, zc = acc[q].estimate(use_cv)
                out["futures_mc"][i, j, q] = f_tab[q] + mean[0]
                out["futures_se"][i, j, q], out["futures_se_plain"][i, j, q] = se[0], se_plain[0]
                out["call_mc"][i, j, q] = c_tab[q] + mean[1:]
                out["call_se"][i, j, q], out["call_se_plain"][i, j, q] = se[1:], se_plain[1:]
                out["vix2_z"][i, j, q] = zc if use_cv else np.nan
            out["futures_table"][i, j] = f_tab
            out["call_table"][i, j] = c_tab
            out["strike"][i, j] = strikes

    with np.errstate(divide="ignore", invalid="ignore"):  # se = 0 where a call is worthless on every path
        fz = (out["futures_table"] - out["futures_mc"]) / out["futures_se"]
        cz = (out["call_table"] - out["call_mc"]) / out["call_se"]
    dims3, dims4 = ("regime", "level", "expiry"), ("regime", "level", "expiry", "moneyness")
    pts = {"units": "VIX points"}
    ds = xr.Dataset(
        {
            "var0": (("regime", "level"), var0, {"units": "annualised variance", "description": "starting variance"}),
            "reachable": (("regime", "level"), reachable,
                          {"units": "1", "description": "level above the regime's VIX floor"}),
            "futures_table": (dims3, out["futures_table"], {**pts, "description": "VIX future from the pricing table"}),
            "futures_mc": (dims3, out["futures_mc"], {**pts, "description": "E_Q[VIX_T] by Monte Carlo of q_model()"}),
            "futures_se": (dims3, out["futures_se"], {**pts, "description": "standard error of futures_mc"}),
            "futures_se_plain": (dims3, out["futures_se_plain"],
                                 {**pts, "description": "standard error without control variate"}),
            "futures_diff": (dims3, out["futures_table"] - out["futures_mc"], {**pts, "description": "table - MC"}),
            "futures_z": (dims3, fz,
                          {"units": "standard errors", "description": "(table - MC) / se"}),
            "strike": (dims4, out["strike"], {**pts, "description": "round(moneyness * futures_table)"}),
            "call_table": (dims4, out["call_table"], {**pts, "description": "discounted VIX call from the table"}),
            "call_mc": (dims4, out["call_mc"], {**pts, "description": "exp(-rT) E_Q[(VIX_T - K)^+] by Monte Carlo"}),
            "call_se": (dims4, out["call_se"], {**pts, "description": "standard error of call_mc"}),
            "call_se_plain": (dims4, out["call_se_plain"],
                              {**pts, "description": "standard error without control variate"}),
            "call_diff": (dims4, out["call_table"] - out["call_mc"], {**pts, "description": "table - MC"}),
            "call_z": (dims4, cz,
                       {"units": "standard errors", "description": "(table - MC) / se"}),
            "vix2_z": (dims3, out["vix2_z"], {"units": "standard errors",
                                              "description": "plain MC mean of VIX_T^2 minus its exact Q mean"}),
        },
        coords={
            "regime": ("regime", np.array(regs), {"units": "1"}),
            "regime_name": ("regime", np.array([model.regime_names[r] for r in regs]), {"units": "1"}),
            "level": ("level", levels, {**pts, "description": "starting VIX"}),
            "expiry": ("expiry", expiries, {"units": "trading days", "description": "time to expiry in steps"}),
            "moneyness": ("moneyness", mny, {"units": "1", "description": "strike / table future"}),
        },
        attrs={"model": model.name, "table": type(table).__name__, "n_paths": int(n_paths), "seed": int(seed),
               "rate": float(rate), "dt": float(dt), "control_variate": cv_note},
    )
    return ds


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
