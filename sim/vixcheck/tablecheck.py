"""Task 1: the VIX pricing tables against Monte Carlo of the model's own Q dynamics (:func:`vix_table_vs_mc`)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from alvh.models.base import PathModel, State
from alvh.pricing import make_vix_table
from alvh.vixcheck.defaults import _DT, EXPIRIES, MONEYNESS, VIX_LEVELS
from alvh.vixcheck.moments import _affine_vix2, _Moments, _one_step_mean, q_first_moments


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
