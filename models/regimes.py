"""Markov-modulated Heston model: a daily regime chain switching the Heston parameters.

The model
---------
A hidden regime ``r_t`` in ``0..R-1`` (``R`` = 2 or 3: calm, stressed, crisis) follows a Markov
chain with a per-step (daily, ``h = 1/252`` year) transition matrix
``P[i, j] = Pr(r_{t+1} = j | r_t = i)`` (Hamilton 1989). During the step from day ``t`` to day
``t + 1`` the regime in force is ``r_{t+1}``: **the regime switches at the start of a step**, then
SPX and its variance move for one day under that regime's Heston dynamics (Heston 1993)::

    dS / S = mu_r dt + sqrt(v) dW^S,    dv = kappa_r (theta_r - v) dt + sigma_r sqrt(v) dW^v,
    d<W^S, W^v> = rho_r dt,

simulated with Andersen's (2008) QE step and martingale correction
(:func:`alvh.models.heston.qe_step`, called with per-path parameter arrays gathered by regime). The
variance is continuous across a switch: only its drift and diffusion change. This is the same
labelling as Hamilton's filter, where the return ending on day ``t`` is drawn under ``S_t``.

Measures
--------
Each regime carries Heston's market price of variance risk ``lam_r``:
``kappa_Q,r = kappa_r + lam_r``, ``theta_Q,r = kappa_r theta_r / kappa_Q,r`` (Heston 1993, eq. 6).
The regime chain itself is assumed to have **the same law under Q as under P** (no premium for
regime-switch risk): the 30-day VIX integrates the switching risk through the same ``P`` matrix.
A premium on switching would need option data across regimes to identify, which the bundled data
(VIX close only) cannot give.

Model VIX
---------
``VIX_t^2 / 100^2 = E_Q[(1/tau) int_t^{t+tau} v_s ds | v_t = v, r_t = r]`` with
``tau = 30/365`` (CBOE white paper), which is affine in ``v``:
``VIX = 100 sqrt(A[r] v + B[r])``. The expectation follows the linear recursion for
``M_k(j) = E_Q[v_{t+kh} 1{r_{t+k} = j}]`` and ``p_k(j) = Pr(r_{t+k} = j)``
(the mean recursion of a Markov-modulated affine process, cf. Elliott, Siu & Chan 2007; it is
Hamilton's 1989 prediction step applied to the first moment)::

    p_{k+1} = P^T p_k                                         (switch at the start of the step)
    M_{k+1}(j) = theta_Q,j (1 - e_j) p_{k+1}(j) + e_j (P^T M_k)(j),   e_j = exp(-kappa_Q,j h)

and within each step the CIR mean ``theta_j + (m - theta_j) exp(-kappa_j u)`` (Cox, Ingersoll &
Ross 1985) is integrated **exactly** over ``u`` in ``[0, h]``; the last, fractional step of the
window (``tau / h = 20.71`` trading days) is integrated over its fraction. So ``A, B`` are the
exact Q-expectation for this discrete-switching model, and with identical regimes they equal the
Heston coefficients of :func:`alvh.models.heston.vix_coefficients` to rounding.
:meth:`RegimeSwitchingModel.atm_total_variance` is the same integral for any horizon.

Time step
---------
The regime chain is estimated on daily data and is defined per step of ``h = 1/252`` year.
:meth:`RegimeSwitchingModel.simulate` refuses any other ``dt`` (``ValueError``): a fractional
power of a stochastic matrix need not be stochastic (the embedding problem), so the model does not
pretend to know intraday switching. :meth:`RegimeSwitchingModel.regime_transition` accepts whole
multiples of ``h`` (``P^n``).

Estimation (:func:`calibrate_regimes`)
--------------------------------------
1. The chain: statsmodels' ``MarkovRegression`` (Hamilton 1989 filter, Kim 1994 smoother, ML by
   EM then BFGS) on daily SPX log returns in percent with switching mean and switching variance,
   preferably on the long 1999-2018 SPX sample, which contains 2000-2002 and 2008. statsmodels and
   not hmmlearn: statsmodels is already a project dependency, gives the exact Hamilton likelihood
   with its standard errors (``bse``), AIC/BIC, expected durations and Kim-smoothed probabilities,
   and works with dated pandas series; hmmlearn is an EM-only HMM library without standard errors
   or information criteria, and one more dependency.
2. The per-regime Heston parameters (see :func:`calibrate_regimes`, Notes): ``theta_r`` and
   ``mu_r`` from the regime's return variance and mean; common ``kappa`` and ``rho`` and a vol of
   variance ``sigma_r`` proportional to ``sqrt(theta_r)`` (the same Feller ratio in every regime)
   from the one-regime joint SPX+VIX QMLE of :func:`alvh.models.calibration.calibrate_heston` on the
   2014-2018 window (the option-implied-state approach of Aït-Sahalia & Kimmel 2007); one common
   variance risk premium ``lam`` that matches the window's mean ``VIX^2`` given its smoothed
   regime path.

Units: time in years, variance annualised, VIX in points, array order ``(path, time)``.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from alvh.models.base import FitReport, PathModel, Paths, State
from alvh.models.heston import VIX_TAU, FellerConditionWarning, HestonParams, cir_quantile_step, qe_step

__all__ = [
    "STEP_DT",
    "DEFAULT_REGIME_NAMES",
    "RegimeSwitchingModel",
    "RegimeChainFit",
    "fit_regime_chain",
    "stationary_distribution",
    "regime_integral_coefficients",
    "calibrate_regimes",
]

#: The model's step: one trading day, in years.
STEP_DT = 1.0 / 252.0

#: Default regime names by number of regimes (ordered by variance, calm first).
DEFAULT_REGIME_NAMES = {
    1: ("all",),
    2: ("calm", "stressed"),
    3: ("calm", "stressed", "crisis"),
}

_ROW_TOL = 1e-10


def _default_names(n: int) -> tuple[str, ...]:
    return DEFAULT_REGIME_NAMES.get(n, tuple(f"regime{i}" for i in range(n)))


def _validate_transition(transition, n_regimes: int) -> np.ndarray:
    """Check shape (R, R), entries in [0, 1] and unit row sums; return a float copy."""
    p = np.array(transition, dtype=float)
    if p.ndim != 2 or p.shape != (n_regimes, n_regimes):
        raise ValueError(
            f"transition matrix must be square with shape ({n_regimes}, {n_regimes}) to match the "
            f"{n_regimes} regimes, got shape {p.shape}"
        )
    for i, row in enumerate(p):
        if not np.all(np.isfinite(row)) or row.min() < 0.0 or row.max() > 1.0 or abs(row.sum() - 1.0) > _ROW_TOL:
            raise ValueError(
                f"transition matrix must be row-stochastic (entries in [0, 1], each row summing to 1 "
                f"within {_ROW_TOL:g}); row {i} = {row.tolist()} (sum {row.sum():.12g})"
            )
    return p


def stationary_distribution(transition: np.ndarray) -> np.ndarray:
    """Stationary distribution ``pi`` of a row-stochastic matrix: ``pi P = pi``, ``sum(pi) = 1``.

    Parameters
    ----------
    transition : ndarray of shape (R, R)
        ``P[i, j] = Pr(next = j | now = i)``.

    Returns
    -------
    ndarray of shape (R,)
        The least-squares solution of ``(P^T - I) pi = 0, 1^T pi = 1`` (Hamilton 1994, eq. 22.2.26),
        clipped at 0 and renormalised. Unique for an irreducible chain; for a reducible one
        (e.g. the identity) it is the minimum-norm solution, one of many.
    """
    p = np.asarray(transition, dtype=float)
    r = p.shape[0]
    a = np.vstack([p.T - np.eye(r), np.ones((1, r))])
    b = np.zeros(r + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def _g(kappa, u):
    """``int_0^u exp(-kappa s) ds = (1 - exp(-kappa u)) / kappa``, elementwise."""
    return -np.expm1(-kappa * u) / kappa


@dataclass
class _IntegralTables:
    """Cumulative tables of the regime-switching CIR mean recursion, for ``k = 0..K`` steps.

    ``iv[k, r]``, ``ic[k, r]``: ``E[int_0^{kh} v_s ds | v_0 = v, r_0 = r] = iv v + ic``.
    ``pv[k, j, r]``, ``pc[k, j, r]``, ``pp[k, j, r]``: after ``k`` full steps and the switch that
    starts step ``k + 1``: ``E[v_{kh} 1{regime of step k+1 = j}] = pv v + pc`` and
    ``Pr(regime of step k+1 = j)``.
    """

    iv: np.ndarray
    ic: np.ndarray
    pv: np.ndarray
    pc: np.ndarray
    pp: np.ndarray


def _build_tables(n_steps: int, kappa, theta, transition, h: float) -> _IntegralTables:
    kappa = np.asarray(kappa, dtype=float)
    theta = np.asarray(theta, dtype=float)
    pt = np.asarray(transition, dtype=float).T
    r = kappa.size
    e = np.exp(-kappa * h)[:, None]
    g = _g(kappa, h)[:, None]
    th = theta[:, None]
    iv = np.zeros((n_steps + 1, r))
    ic = np.zeros((n_steps + 1, r))
    pv = np.empty((n_steps + 1, r, r))
    pc = np.empty((n_steps + 1, r, r))
    pp = np.empty((n_steps + 1, r, r))
    mv, mc, p = np.eye(r), np.zeros((r, r)), np.eye(r)
    for k in range(n_steps + 1):
        pv[k] = pt @ mv
        pc[k] = pt @ mc
        pp[k] = pt @ p
        if k == n_steps:
            break
        # exact integral of the CIR mean over the step, regime j in force
        iv[k + 1] = iv[k] + (g * pv[k]).sum(axis=0)
        ic[k + 1] = ic[k] + (g * pc[k] + th * (h - g) * pp[k]).sum(axis=0)
        mv = e * pv[k]
        mc = e * pc[k] + th * (1.0 - e) * pp[k]
        p = pp[k]
    return _IntegralTables(iv, ic, pv, pc, pp)


def regime_integral_coefficients(tau, kappa, theta, transition, h: float = STEP_DT, regime=None):
    """Expected integrated variance of a regime-switching CIR variance, affine in the spot variance.

    ``E[int_t^{t+tau} v_s ds | v_t = v, r_t = r] = a(tau, r) v + b(tau, r)``, where the regime
    switches at the start of each step of length ``h`` (first switch at ``t``) and ``v`` follows
    the mean of regime ``j``'s CIR dynamics ``theta_j + (m - theta_j) exp(-kappa_j u)`` within a step.

    Parameters
    ----------
    tau : float or ndarray
        Horizon in years, >= 0.
    kappa, theta : ndarray of shape (R,)
        Per-regime mean reversion (per year) and long-run variance (annualised) of the measure
        the expectation is taken under.
    transition : ndarray of shape (R, R)
        Per-step matrix ``P[i, j] = Pr(r_{t+1} = j | r_t = i)``.
    h : float, default 1/252
        Step of the chain in years.
    regime : int or ndarray of int, optional
        Starting regime, broadcast against ``tau``. Without it the result has a trailing axis of
        length ``R`` (one column per starting regime).

    Returns
    -------
    a : ndarray
        Coefficient of ``v`` (years), shape ``broadcast(tau, regime)`` or ``tau.shape + (R,)``.
    b : ndarray
        Constant (years x annualised variance), same shape.

    Raises
    ------
    ValueError
        If ``tau`` is negative or not finite.

    Notes
    -----
    With ``M_k(j) = E[v_{kh} 1{r_k = j}]`` and ``p_k(j) = Pr(r_k = j)`` the recursion is

    .. math::

        p_{k+1} = P^T p_k, \\quad
        M_{k+1}(j) = \\theta_j (1 - e^{-\\kappa_j h}) p_{k+1}(j) + e^{-\\kappa_j h} (P^T M_k)(j),

    and the integral over step ``k + 1`` is
    ``sum_j theta_j (h - g_j) p_{k+1}(j) + g_j (P^T M_k)(j)`` with
    ``g_j = (1 - exp(-kappa_j h)) / kappa_j`` (exact integral of the CIR mean, Cox, Ingersoll &
    Ross 1985), over a fraction ``u < h`` of the step for a horizon that is not a whole number of
    steps. Mean recursion of Hamilton (1989) applied to the Heston (1993) variance.
    """
    tau = np.asarray(tau, dtype=float)
    if not np.all(np.isfinite(tau)) or np.any(tau < 0):
        raise ValueError(f"tau must be finite and >= 0, got min {np.min(tau)}")
    kappa = np.asarray(kappa, dtype=float)
    theta = np.asarray(theta, dtype=float)
    k = np.floor(tau / h + 1e-9).astype(np.int64)
    u = np.clip(tau - k * h, 0.0, h)
    tab = _build_tables(int(k.max()) if k.size else 0, kappa, theta, transition, h)
    return _coefficients_from_tables(tab, k, u, kappa, theta, regime)


def _coefficients_from_tables(tab: _IntegralTables, k, u, kappa, theta, regime):
    gu = _g(kappa, u[..., None])                                   # (..., R_j)
    if regime is None:
        a = tab.iv[k] + np.einsum("...j,...jr->...r", gu, tab.pv[k])
        b = tab.ic[k] + np.einsum("...j,...jr->...r", gu, tab.pc[k]) + np.einsum(
            "...j,...jr->...r", theta * (u[..., None] - gu), tab.pp[k])
        return a, b
    k, u, reg = np.broadcast_arrays(k, u, np.asarray(regime, dtype=np.int64))
    gu = _g(kappa, u[..., None])
    a = tab.iv[k, reg] + (gu * tab.pv[k, :, reg]).sum(axis=-1)
    b = tab.ic[k, reg] + (gu * tab.pc[k, :, reg]).sum(axis=-1) + (
        theta * (u[..., None] - gu) * tab.pp[k, :, reg]).sum(axis=-1)
    return a, b


class RegimeSwitchingModel(PathModel):
    """Markov-modulated Heston model (``name = "regime_heston"``), daily steps.

    Parameters
    ----------
    params : sequence of HestonParams, length R
        Heston parameters of each regime under P plus its market price of variance risk ``lam``
        (each validated by :class:`alvh.models.heston.HestonParams`: ``|rho| < 1``, ``theta > 0``,
        ``kappa + lam > 0``, ...; a Feller violation only warns). Their ``v0`` fields are ignored
        except ``params[regime0].v0``, the default initial variance when ``v0`` is not given.
    transition : array_like of shape (R, R)
        Per-day matrix ``P[i, j] = Pr(r_{t+1} = j | r_t = i)``; entries in [0, 1], rows summing
        to 1 within 1e-10. The same matrix is used under Q (no regime-switch risk premium).
    regime_names : sequence of str, optional
        Default ``("calm", "stressed")`` or ``("calm", "stressed", "crisis")``.
    v0 : float, optional
        Default initial variance (annualised); default ``params[regime0].v0``.
    regime0 : int, default 0
        The regime that goes with ``v0`` (after calibration: the last day of the window);
        :meth:`initial_state` uses it by default.
    jump_drift_q : float, default 0
        Variance a subclass's jumps add per year under Q (rate x mean size); the Q mean of ``v`` then
        reverts to ``theta_mean_q = theta_Q + jump_drift_q / kappa_Q``, which the VIX coefficients use
        (:class:`alvh.models.twofactor.TwoFactorModel`). The paths' jumps are the subclass's.

    Attributes
    ----------
    step_dt : float
        ``1/252``: the only ``dt`` :meth:`simulate` accepts.
    kappa, theta, sigma, rho, mu, lam : ndarray of shape (R,)
        Per-regime P parameters.
    kappa_q, theta_q : ndarray of shape (R,)
        Per-regime Q parameters (Heston 1993, eq. 6).
    vix_a, vix_b : ndarray of shape (R,)
        ``VIX^2 / 100^2 = vix_a[r] v + vix_b[r]`` (dimensionless, annualised variance).
    stationary_probabilities : ndarray of shape (R,)
        Stationary law of the chain.
    chain_fit : RegimeChainFit or None
        Set by :func:`calibrate_regimes`: the statsmodels fit, with the smoothed regime
        probabilities of the real data. Not serialised by :meth:`to_dict`.

    Raises
    ------
    ValueError
        No regimes, a bad transition matrix ("transition matrix must be row-stochastic ..." naming
        the row, or a shape message), a regime name count mismatch, bad ``v0``/``regime0``.
    """

    name = "regime_heston"
    step_dt = STEP_DT

    def __init__(self, params: Sequence[HestonParams], transition, regime_names: Sequence[str] | None = None,
                 *, v0: float | None = None, regime0: int = 0, jump_drift_q: float = 0.0) -> None:
        params = tuple(params)
        if len(params) < 1:
            raise ValueError("need at least one regime, got 0 parameter sets")
        if not all(isinstance(p, HestonParams) for p in params):
            raise ValueError("params must be HestonParams, one per regime")
        n = len(params)
        if n > 127:
            raise ValueError(f"at most 127 regimes (int8 labels), got {n}")
        names = _default_names(n) if regime_names is None else tuple(str(s) for s in regime_names)
        if len(names) != n:
            raise ValueError(f"regime_names must have one name per regime ({n}), got {len(names)}")
        self.regime_names = names
        self.params = params
        self.transition = _validate_transition(transition, n)
        if not (0 <= int(regime0) < n):
            raise ValueError(f"regime0 must be in 0..{n - 1}, got {regime0}")
        self.regime0 = int(regime0)
        v0 = params[self.regime0].v0 if v0 is None else float(v0)
        if not (math.isfinite(v0) and v0 >= 0):
            raise ValueError(f"v0 must be finite and >= 0, got {v0}")
        self.v0 = v0
        self.kappa = np.array([p.kappa for p in params])
        self.theta = np.array([p.theta for p in params])
        self.sigma = np.array([p.sigma for p in params])
        self.rho = np.array([p.rho for p in params])
        self.mu = np.array([p.mu for p in params])
        self.lam = np.array([p.lam for p in params])
        self.kappa_q = self.kappa + self.lam
        self.theta_q = self.kappa * self.theta / self.kappa_q
        if not (math.isfinite(jump_drift_q) and jump_drift_q >= 0):
            raise ValueError(f"jump_drift_q must be finite and >= 0, got {jump_drift_q}")
        # the level the Q mean of v reverts to: theta_Q, plus the variance jumps add per year over kappa_Q
        self.theta_mean_q = self.theta_q + float(jump_drift_q) / self.kappa_q
        self.stationary_probabilities = stationary_distribution(self.transition)
        self._cum = np.cumsum(self.transition, axis=1)
        self._cum[:, -1] = 1.0
        self._tables: _IntegralTables | None = None
        self.vix_a, self.vix_b = self._coefficients(np.asarray(VIX_TAU))
        self.vix_a, self.vix_b = self.vix_a / VIX_TAU, self.vix_b / VIX_TAU
        self.chain_fit: RegimeChainFit | None = None

    # ------------------------------------------------------------------ helpers
    def _coefficients(self, tau, regime=None):
        """``E_Q[int_0^tau v ds | v, r] = a v + b`` from cached tables (extended when needed)."""
        tau = np.asarray(tau, dtype=float)
        if not np.all(np.isfinite(tau)) or np.any(tau < 0):
            raise ValueError(f"tau must be finite and >= 0, got min {np.min(tau)}")
        k = np.floor(tau / self.step_dt + 1e-9).astype(np.int64)
        u = np.clip(tau - k * self.step_dt, 0.0, self.step_dt)
        kmax = int(k.max()) if k.size else 0
        if self._tables is None or self._tables.iv.shape[0] <= kmax:
            size = max(kmax, 64 if self._tables is None else 2 * (self._tables.iv.shape[0] - 1))
            self._tables = _build_tables(size, self.kappa_q, self.theta_mean_q, self.transition, self.step_dt)
        return _coefficients_from_tables(self._tables, k, u, self.kappa_q, self.theta_mean_q, regime)

    def _regime_array(self, regime, shape) -> np.ndarray:
        if regime is None:
            return np.zeros(shape, dtype=np.int64)
        reg = np.asarray(regime)
        if reg.size and (reg.min() < 0 or reg.max() >= self.n_regimes):
            raise ValueError(f"regime labels must be in 0..{self.n_regimes - 1}, got {reg.min()}..{reg.max()}")
        return reg.astype(np.int64)

    def _check_dt(self, dt: float) -> int:
        """Number of model steps in ``dt``; ``ValueError`` unless a whole multiple of 1/252."""
        n = round(float(dt) / self.step_dt)
        if n < 1 or abs(float(dt) - n * self.step_dt) > 1e-12:
            raise ValueError(
                f"dt must be a whole number of trading days (the regime chain is daily, step 1/252), got {dt}"
            )
        return n

    @property
    def last_regime(self) -> int:
        """Alias of :attr:`regime0`: the most likely regime on the last day of the calibration window."""
        return self.regime0

    @property
    def identical_regimes(self) -> bool:
        """Whether every regime has the same Heston parameters (then the model is Heston)."""
        arrs = (self.kappa, self.theta, self.sigma, self.rho, self.mu, self.lam)
        return all(np.all(a == a[0]) for a in arrs)

    # ------------------------------------------------------------------ paths (P)
    @property
    def default_var0(self) -> float:
        """Initial variance when none is chosen: :attr:`v0` (annualised), which belongs with :attr:`regime0`."""
        return self.v0

    @property
    def long_run_var(self) -> float:
        """Stationary mean variance under P: the regimes' ``theta`` weighted by the stationary law."""
        return float(np.dot(self.stationary_probabilities, self.theta))

    def initial_state(self, s0: float, n_paths: int, var0: float | None = None, regime0: int | None = None) -> State:
        """A state with every path at ``s0``, variance ``var0`` and regime ``regime0``.

        Defaults are the pair ``(v0, regime0)`` of the model (after :func:`calibrate_regimes`: the
        last day of the window), so that the default state's VIX is the last observed VIX. This
        differs from the base class only in the default regime.
        """
        r0 = self.regime0 if regime0 is None else int(regime0)
        if not 0 <= r0 < self.n_regimes:
            raise ValueError(f"regime0 must be in 0..{self.n_regimes - 1}, got {regime0}")
        return super().initial_state(s0, n_paths, var0, r0)

    def simulate(self, state0: State, n_steps: int, dt: float, rng: np.random.Generator,
                 intensity: np.ndarray | None = None, *, regimes: np.ndarray | None = None,
                 var_jumps: np.ndarray | None = None, log_spot_jumps: np.ndarray | None = None) -> Paths:
        """Simulate P-paths: the regime chain, then QE steps with each path's regime parameters.

        Parameters
        ----------
        state0 : State
            Initial spot (points), variance (annualised) and regime (int in ``0..R-1``) per path.
        n_steps : int
            Number of daily steps, >= 1.
        dt : float
            Must be ``1/252`` (within 1e-12).
        rng : numpy.random.Generator
            Draws, in this order: normals of shape ``(n_paths, n_steps, 2)`` (variance, price), as
            :meth:`alvh.models.heston.HestonModel.simulate`; then uniforms ``(n_paths, n_steps)`` for
            the chain. With identical regimes the paths equal Heston's for the same seed.
        intensity : ignored
            The model has no jumps.
        var_jumps, log_spot_jumps : ndarray of shape (n_paths, n_steps), optional
            Variance and SPX log return added at the end of each step (jumps, drawn and compensated by
            a subclass such as :class:`alvh.models.twofactor.TwoFactorModel`); none by default.
        regimes : ndarray of int, shape (n_steps,) or (n_paths, n_steps), optional
            A given regime path instead of a drawn one (replay of a historical regime sequence,
            or a scripted crisis): ``regimes[..., t]`` is in force during step ``t -> t + 1``.
            The chain's uniforms are then not drawn.

        Returns
        -------
        Paths
            ``spot, var, vix`` of shape ``(n_paths, n_steps + 1)`` and ``regime`` (int8); column 0
            equals ``state0`` exactly. ``regime[:, t + 1]`` is the regime in force during the step
            from day ``t`` to ``t + 1`` (drawn from row ``regime[:, t]`` of :attr:`transition` by
            comparing a uniform with the cumulative row).

        Raises
        ------
        ValueError
            ``dt != 1/252``, ``n_steps < 1``, regime labels out of range, a bad ``regimes`` shape.
        """
        if abs(float(dt) - self.step_dt) > 1e-12:
            raise ValueError(
                f"dt must be 1/252 (the regime transition matrix is per trading day), got {dt}"
            )
        n_steps = int(n_steps)
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        n = state0.n_paths
        reg0 = self._regime_array(state0.regime, (n,))
        normals = rng.standard_normal((n, n_steps, 2))
        regime = np.empty((n, n_steps + 1), dtype=np.int8)
        regime[:, 0] = reg0
        if regimes is not None:
            given = np.asarray(regimes)
            if given.shape not in ((n_steps,), (n, n_steps)):
                raise ValueError(f"regimes must have shape ({n_steps},) or ({n}, {n_steps}), got {given.shape}")
            regime[:, 1:] = self._regime_array(given, given.shape)
        else:
            uniforms = rng.random((n, n_steps))
            cur = reg0
            for t in range(n_steps):
                cur = (uniforms[:, t, None] >= self._cum[cur]).sum(axis=1)
                regime[:, t + 1] = cur
        log_s = np.empty((n, n_steps + 1))
        var = np.empty((n, n_steps + 1))
        log_s[:, 0] = np.log(state0.spot)
        var[:, 0] = state0.var
        for t in range(n_steps):
            r = regime[:, t + 1]
            log_s[:, t + 1], var[:, t + 1] = qe_step(
                log_s[:, t], var[:, t], normals[:, t, 0], normals[:, t, 1],
                self.kappa[r], self.theta[r], self.sigma[r], self.rho[r], self.mu[r], self.step_dt,
            )
            if var_jumps is not None:
                var[:, t + 1] += var_jumps[:, t]
            if log_spot_jumps is not None:
                log_s[:, t + 1] += log_spot_jumps[:, t]
        spot = np.exp(log_s)
        spot[:, 0] = state0.spot
        return Paths(spot, var, self.vix(var, regime), regime)

    def stationary_state(self, s0: float, n_paths: int, rng: np.random.Generator, burn_in: int = 0) -> State:
        """Draw states near the stationary law.

        The regime is drawn from :attr:`stationary_probabilities`, the variance from that regime's
        stationary Gamma law under P, ``Gamma(2 kappa_r theta_r / sigma_r^2, scale
        sigma_r^2 / (2 kappa_r))`` (Cox, Ingersoll & Ross 1985, eq. 20). That is an approximation:
        the true conditional law of ``v`` given the regime mixes the regimes the path came from.
        ``burn_in > 0`` simulates that many days further (spot reset to ``s0``) to approach the
        exact joint stationary law.

        Returns
        -------
        State
            ``n_paths`` states, spot ``s0``.
        """
        u = rng.random(n_paths)
        cum = np.cumsum(self.stationary_probabilities)
        cum[-1] = 1.0
        reg = (u[:, None] >= cum[None, :]).sum(axis=1)
        k, th, sg = self.kappa[reg], self.theta[reg], self.sigma[reg]
        v = rng.gamma(2.0 * k * th / sg**2, sg**2 / (2.0 * k))
        state = State(np.full(n_paths, float(s0)), v, reg.astype(np.int8))
        if burn_in > 0:
            p = self.simulate(state, int(burn_in), self.step_dt, rng)
            state = State(np.full(n_paths, float(s0)), p.var[:, -1].copy(), p.regime[:, -1].copy())
        return state

    # ------------------------------------------------------------------ prices (Q)
    def vix(self, var, regime=None) -> np.ndarray:
        """Model VIX (points) ``100 sqrt(vix_a[r] v + vix_b[r])``; ``regime=None`` means regime 0.

        Parameters
        ----------
        var : ndarray, any shape
            Annualised variance.
        regime : ndarray of int, broadcastable against ``var``, optional

        Returns
        -------
        ndarray, shape ``broadcast(var, regime)``
        """
        v = np.asarray(var, dtype=float)
        r = self._regime_array(regime, v.shape)
        return 100.0 * np.sqrt(self.vix_a[r] * v + self.vix_b[r])

    def var_from_vix(self, vix, regime=None) -> np.ndarray:
        """Inverse of :meth:`vix`: ``((vix/100)^2 - vix_b[r]) / vix_a[r]``, floored at 0."""
        x = np.asarray(vix, dtype=float)
        r = self._regime_array(regime, x.shape)
        return np.maximum(((x / 100.0) ** 2 - self.vix_b[r]) / self.vix_a[r], 0.0)

    def atm_total_variance(self, var, tau, regime=None) -> np.ndarray:
        """Q-expected integrated variance ``E_Q[int_t^{t+tau} v_s ds | v_t, r_t]`` (years x var).

        Parameters
        ----------
        var : ndarray
            Annualised spot variance.
        tau : float or ndarray
            Horizon in years (>= 0), broadcast against ``var``.
        regime : ndarray of int, optional
            Current regime (default 0), broadcast against ``var``.

        Returns
        -------
        ndarray
            ``a(tau, r) v + b(tau, r)`` (:func:`regime_integral_coefficients` under Q); no jumps.
        """
        v = np.asarray(var, dtype=float)
        tau = np.asarray(tau, dtype=float)
        shape = np.broadcast_shapes(v.shape, tau.shape, np.shape(regime) if regime is not None else ())
        r = self._regime_array(None if regime is None else np.broadcast_to(regime, shape), shape)
        a, b = self._coefficients(np.broadcast_to(tau, shape), r)
        return a * v + b

    def q_step(self, x, dt: float, regime: int = 0, m: int = 256):
        """Exact CIR transition over ``dt`` under regime ``regime``'s Q-dynamics (mid-quantiles).

        The regime is fixed during the step. In this model the regime of a step is drawn at its
        start, so the one-day Q law from state ``(v, i)`` is the mixture
        ``sum_j P[i, j] q_step(v, 1/252, j)`` (:meth:`regime_transition` then this).

        Returns
        -------
        x_next : ndarray of shape (n_nodes, m)
        weights : ndarray of shape (m,)
        """
        j = int(regime)
        if not 0 <= j < self.n_regimes:
            raise ValueError(f"regime must be in 0..{self.n_regimes - 1}, got {regime}")
        return cir_quantile_step(x, dt, float(self.kappa_q[j]), float(self.theta_q[j]), float(self.sigma[j]), m)

    def regime_transition(self, dt: float) -> np.ndarray:
        """``P^n`` for ``dt = n / 252``; the same under P and Q (no regime-switch risk premium).

        Raises
        ------
        ValueError
            If ``dt`` is not a whole number of trading days.
        """
        return np.linalg.matrix_power(self.transition, self._check_dt(dt))

    def cir_q(self):
        """The pure-CIR Q description when all regimes are identical, else ``None``."""
        if not self.identical_regimes:
            return None
        return (float(self.kappa_q[0]), float(self.theta_q[0]), float(self.sigma[0]), 0.0)

    def q_model(self, drift: float = 0.0) -> "RegimeSwitchingModel":
        """The model whose P dynamics are this model's Q dynamics (see :meth:`alvh.models.base.PathModel.q_model`).

        Q is defined in the module docstring ("Measures"): each regime's variance is CIR with
        ``kappa_Q,r``, ``theta_Q,r`` and the same ``sigma_r``, ``rho_r``, and the regime chain has
        the same transition matrix under Q as under P, switching at the start of a step. The
        returned model has, per regime, ``kappa = kappa_Q,r``, ``theta = theta_Q,r``, ``lam = 0``
        and SPX drift ``mu = drift`` (``r - q``), the same :attr:`transition`, names, ``v0`` and
        ``regime0``; so its :meth:`vix`, :meth:`q_step` and :meth:`regime_transition` equal this
        model's, and its one-day law from ``(v, i)`` is the mixture that
        :class:`alvh.pricing.MarkovVixTable` builds (switch by :attr:`transition`, then one QE step
        of the new regime's CIR).
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)
            params = [HestonParams(v0=p.v0, kappa=p.kappa_q, theta=p.theta_q, sigma=p.sigma, rho=p.rho,
                                   mu=float(drift), lam=0.0) for p in self.params]
        return RegimeSwitchingModel(params, self.transition, self.regime_names, v0=self.v0, regime0=self.regime0)

    # ------------------------------------------------------------------ parameters
    def to_dict(self) -> dict:
        """JSON-ready parameters: per-regime lists, the matrix as nested lists."""
        return {
            "regime_names": list(self.regime_names),
            "transition": self.transition.tolist(),
            "kappa": self.kappa.tolist(),
            "theta": self.theta.tolist(),
            "sigma": self.sigma.tolist(),
            "rho": self.rho.tolist(),
            "mu": self.mu.tolist(),
            "lam": self.lam.tolist(),
            "v0": float(self.v0),
            "regime0": int(self.regime0),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "RegimeSwitchingModel":
        """Inverse of :meth:`to_dict`; a scalar ``kappa``, ``sigma``, ``rho``, ``mu`` or ``lam`` is used
        for every regime. ``theta`` and ``transition`` are required.

        Raises
        ------
        ValueError
            Missing keys, lengths that disagree, or any rule of :class:`HestonParams` / the matrix.
        """
        for key in ("transition", "theta", "kappa", "sigma", "rho"):
            if key not in d:
                raise ValueError(f"regime_heston parameters need '{key}'")
        theta = np.atleast_1d(np.asarray(d["theta"], dtype=float))
        n = theta.size

        def per_regime(key, default=None):
            val = d.get(key, default)
            arr = np.atleast_1d(np.asarray(val, dtype=float))
            if arr.size == 1:
                arr = np.full(n, float(arr[0]))
            if arr.size != n:
                raise ValueError(f"'{key}' must have one value per regime ({n}), got {arr.size}")
            return arr

        cols = {k: per_regime(k) for k in ("kappa", "sigma", "rho")}
        cols["mu"] = per_regime("mu", 0.0)
        cols["lam"] = per_regime("lam", 0.0)
        v0 = float(d.get("v0", theta[0]))
        params = [HestonParams(v0=v0, kappa=cols["kappa"][i], theta=theta[i], sigma=cols["sigma"][i],
                               rho=cols["rho"][i], mu=cols["mu"][i], lam=cols["lam"][i]) for i in range(n)]
        return cls(params, d["transition"], d.get("regime_names"), v0=v0, regime0=int(d.get("regime0", 0)))

    def summary(self) -> str:
        """Per-regime table, the transition matrix and the VIX coefficients (text)."""
        lines = [f"{self.name} model, {self.n_regimes} regimes, daily chain"]
        hdr = f"  {'':<10}" + "".join(f"{n:>12}" for n in self.regime_names)
        lines.append(hdr)
        rows = [("kappa", self.kappa), ("theta", self.theta), ("vol", np.sqrt(self.theta)),
                ("sigma", self.sigma), ("rho", self.rho), ("mu", self.mu), ("lam", self.lam),
                ("kappa_q", self.kappa_q), ("theta_q", self.theta_q), ("vix_a", self.vix_a),
                ("vix_b", self.vix_b), ("pi", self.stationary_probabilities),
                ("duration", 1.0 / np.maximum(1.0 - np.diag(self.transition), 1e-300))]
        for name, arr in rows:
            lines.append(f"  {name:<10}" + "".join(f"{x:>12.5g}" for x in arr))
        lines.append("  transition P[from, to]:")
        for name, row in zip(self.regime_names, self.transition):
            lines.append(f"  {name:<10}" + "".join(f"{x:>12.6f}" for x in row))
        lines.append(f"  v0 {self.v0:.6g}, regime0 {self.regime_names[self.regime0]}")
        return "\n".join(lines)


# ====================================================================== estimation
@dataclass
class RegimeChainFit:
    """The Markov-switching fit of daily SPX returns (regimes ordered by variance).

    Attributes
    ----------
    regime_names : tuple of str
    transition : ndarray of shape (R, R)
        ``P[i, j] = Pr(r_{t+1} = j | r_t = i)``: statsmodels' ``regime_transition[:, :, 0]``
        (indexed ``[to, from]``, left-stochastic) transposed, then reordered by variance.
    transition_se : ndarray of shape (R, R)
        Standard errors of ``transition`` (delta method on statsmodels' covariance for the
        implied last column).
    mean, mean_se : ndarray of shape (R,)
        Regime mean of the daily log return (percent per day).
    variance, variance_se : ndarray of shape (R,)
        Regime variance of the daily log return (percent^2 per day).
    expected_durations : ndarray of shape (R,)
        ``1 / (1 - P[r, r])`` in trading days.
    loglik, aic, bic : float
        statsmodels' ``llf``, ``aic``, ``bic``.
    n_obs, n_params : int
    smoothed_probabilities : pandas.DataFrame of shape (n_obs, R)
        Kim (1994) smoothed ``Pr(r_t = j | all data)``, indexed by the date of the return's end
        (or 0..n_obs-1 without dates), columns ``regime_names``.
    results : statsmodels MarkovSwitchingResults
        The raw fit (its regime order is statsmodels', not ours; ``order`` maps).
    order : ndarray of int, shape (R,)
        ``order[k]`` = statsmodels' index of our regime ``k``.
    """

    regime_names: tuple
    transition: np.ndarray
    transition_se: np.ndarray
    mean: np.ndarray
    mean_se: np.ndarray
    variance: np.ndarray
    variance_se: np.ndarray
    expected_durations: np.ndarray
    loglik: float
    aic: float
    bic: float
    n_obs: int
    n_params: int
    smoothed_probabilities: pd.DataFrame = field(repr=False)
    results: object = field(repr=False)
    order: np.ndarray = field(repr=False)

    @property
    def most_likely(self) -> pd.Series:
        """The regime with the largest smoothed probability each day (int8 labels)."""
        return pd.Series(self.smoothed_probabilities.to_numpy().argmax(axis=1).astype(np.int8),
                         index=self.smoothed_probabilities.index, name="regime")

    def classify(self, prices: pd.Series | np.ndarray) -> pd.DataFrame:
        """Kim-smoothed regime probabilities of another price series at the fitted parameters.

        Parameters
        ----------
        prices : pandas.Series or ndarray of shape (n,)
            Daily closes (e.g. SPX 2014-2018, or new data).

        Returns
        -------
        pandas.DataFrame of shape (n - 1, R)
            ``Pr(r_t = j | the series)`` for each return date, columns :attr:`regime_names`.
        """
        r, idx = _pct_log_returns(prices)
        from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

        mod = MarkovRegression(r, k_regimes=len(self.regime_names), trend="c", switching_variance=True)
        res = mod.smooth(self.results.params)
        probs = np.asarray(res.smoothed_marginal_probabilities)[:, self.order]
        return pd.DataFrame(probs, index=idx, columns=list(self.regime_names))

    def summary(self) -> str:
        """The chain's fit in lines of text: likelihood, criteria and each regime's mean, volatility and duration."""
        lines = [f"Markov-switching fit of daily SPX returns: {self.n_obs} returns, "
                 f"loglik {self.loglik:.2f}, AIC {self.aic:.2f}, BIC {self.bic:.2f}"]
        for k, name in enumerate(self.regime_names):
            vol = math.sqrt(self.variance[k] * 252.0)
            lines.append(f"  {name:<9} mean {self.mean[k]:+.4f}% ± {self.mean_se[k]:.4f} /day, variance "
                         f"{self.variance[k]:.4f} ± {self.variance_se[k]:.4f} %^2/day (vol {vol:.1f}%), "
                         f"duration {self.expected_durations[k]:.1f} days")
        lines.append("  transition P[from, to]:")
        for name, row in zip(self.regime_names, self.transition):
            lines.append(f"  {name:<9}" + "".join(f"{x:>11.6f}" for x in row))
        return "\n".join(lines)


def _pct_log_returns(prices) -> tuple[np.ndarray, pd.Index]:
    if isinstance(prices, pd.Series):
        s = prices.astype(float).dropna()
        x = s.to_numpy()
        idx = s.index[1:]
    else:
        x = np.asarray(prices, dtype=float)
        idx = pd.RangeIndex(1, x.size)
    if x.ndim != 1 or x.size < 30:
        raise ValueError(f"need a 1-D price series of at least 30 days, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or x.min() <= 0:
        raise ValueError("prices must be finite and > 0")
    return 100.0 * np.diff(np.log(x)), idx


def fit_regime_chain(prices: pd.Series | np.ndarray, k_regimes: int = 3, *,
                     regime_names: Sequence[str] | None = None, search_reps: int = 0,
                     seed: int = 0) -> RegimeChainFit:
    """Fit a Markov-switching mean/variance model to daily log returns with statsmodels.

    Parameters
    ----------
    prices : pandas.Series or ndarray of shape (n,)
        Daily closes; returns are ``100 diff(log(prices))`` (percent).
    k_regimes : {2, 3}
        Number of regimes.
    regime_names : sequence of str, optional
        Names in increasing order of variance; default calm/stressed(/crisis).
    search_reps : int, default 0
        statsmodels' random restarts (``fit(search_reps=...)``); 0 = its deterministic start.
    seed : int, default 0
        Seed for those restarts.

    Returns
    -------
    RegimeChainFit
        Regimes ordered by variance (calm < stressed < crisis).

    Raises
    ------
    ValueError
        ``k_regimes`` not 2 or 3, a bad price series, or a fit that did not produce finite
        estimates.

    Notes
    -----
    ``r_t = c_{S_t} + sigma_{S_t} e_t`` with a first-order Markov chain ``S_t``: Hamilton (1989)
    filter and likelihood, Kim (1994) smoother, maximised by statsmodels' EM then BFGS
    (``MarkovRegression(trend="c", switching_variance=True)``). statsmodels'
    ``regime_transition[i, j]`` is ``Pr(S_{t+1} = i | S_t = j)`` ([to, from], columns sum to 1);
    it is transposed here to the row-stochastic ``P[from, to]``.
    """
    if k_regimes not in (2, 3):
        raise ValueError(f"k_regimes must be 2 or 3, got {k_regimes}")
    names = _default_names(k_regimes) if regime_names is None else tuple(regime_names)
    if len(names) != k_regimes:
        raise ValueError(f"regime_names must have {k_regimes} names, got {len(names)}")
    r, idx = _pct_log_returns(prices)
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    mod = MarkovRegression(r, k_regimes=k_regimes, trend="c", switching_variance=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter; checked below
        kw: dict = {}
        if search_reps:
            kw["search_reps"] = search_reps
            if "rng" in inspect.signature(mod.fit).parameters:  # statsmodels >= 0.15
                kw["rng"] = np.random.default_rng(seed)
        res = mod.fit(**kw)
    params = np.asarray(res.params, dtype=float)
    if not np.all(np.isfinite(params)):
        raise ValueError("Markov-switching fit produced non-finite estimates")
    k = k_regimes
    names_sm = list(mod.param_names)
    const = np.array([params[names_sm.index(f"const[{i}]")] for i in range(k)])
    sig2 = np.array([params[names_sm.index(f"sigma2[{i}]")] for i in range(k)])
    order = np.argsort(sig2)
    cov = np.asarray(res.cov_params(), dtype=float)
    if cov.shape != (params.size, params.size) or not np.all(np.isfinite(np.diag(cov))):
        cov = np.full((params.size, params.size), np.nan)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))

    # statsmodels [to, from] -> P[from, to]
    rt = np.asarray(res.regime_transition)[:, :, 0]
    p_sm = rt.T
    # standard errors: free parameters are p[j->i] for to-regime i < k-1; the last is 1 - sum
    se_sm = np.full((k, k), np.nan)
    for j in range(k):  # from
        ids = [names_sm.index(f"p[{j}->{i}]") for i in range(k - 1)]
        for i in range(k - 1):
            se_sm[j, i] = se[ids[i]]
        sub = cov[np.ix_(ids, ids)]
        se_sm[j, k - 1] = math.sqrt(max(sub.sum(), 0.0)) if np.all(np.isfinite(sub)) else float("nan")
    transition = p_sm[np.ix_(order, order)]
    transition = transition / transition.sum(axis=1, keepdims=True)
    transition_se = se_sm[np.ix_(order, order)]
    mean = const[order]
    mean_se = np.array([se[names_sm.index(f"const[{i}]")] for i in order])
    var = sig2[order]
    var_se = np.array([se[names_sm.index(f"sigma2[{i}]")] for i in order])
    diag = np.diag(transition)
    durations = np.where(diag < 1.0, 1.0 / np.maximum(1.0 - diag, 1e-300), np.inf)
    probs = np.asarray(res.smoothed_marginal_probabilities)[:, order]
    smoothed = pd.DataFrame(probs, index=idx, columns=list(names))
    return RegimeChainFit(
        regime_names=names, transition=transition, transition_se=transition_se, mean=mean, mean_se=mean_se,
        variance=var, variance_se=var_se, expected_durations=durations, loglik=float(res.llf),
        aic=float(res.aic), bic=float(res.bic), n_obs=int(r.size), n_params=int(params.size),
        smoothed_probabilities=smoothed, results=res, order=order,
    )


def _newey_west_se_of_mean(x: np.ndarray, lags: int | None = None) -> float:
    """Standard error of the mean of a serially dependent series (Newey & West 1987, Bartlett kernel)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    if lags is None:
        lags = int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))
    d = x - x.mean()
    lrv = d @ d / n
    for k in range(1, lags + 1):
        lrv += 2.0 * (1.0 - k / (lags + 1.0)) * (d[k:] @ d[:-k]) / n
    return math.sqrt(max(lrv, 0.0) / n)


def _path_mean_vix2(lam, kappa, theta, transition, reg, h) -> float:
    """Mean over a fixed regime path of ``E_P[VIX_t^2 | regime path]`` (affine in v, so exact).

    ``E[v_{t+1} | path] = theta_j + (E[v_t | path] - theta_j) exp(-kappa_j h)`` with ``j = reg[t+1]``,
    started at ``theta[reg[0]]``; ``VIX_t^2 = a[reg_t] E[v_t] + b[reg_t]`` with the Q coefficients.
    """
    kq = kappa + lam
    thq = kappa * theta / kq
    n_full = int(math.floor(VIX_TAU / h + 1e-9))
    tab = _build_tables(n_full, kq, thq, transition, h)
    a, b = _coefficients_from_tables(tab, np.asarray(n_full), np.asarray(VIX_TAU - n_full * h), kq, thq, None)
    a, b = a / VIX_TAU, b / VIX_TAU
    e = np.exp(-kappa * h)
    m = np.empty(reg.size)
    m[0] = theta[reg[0]]
    for t in range(reg.size - 1):
        j = reg[t + 1]
        m[t + 1] = theta[j] + (m[t] - theta[j]) * e[j]
    return float(np.mean(a[reg] * m + b[reg]))


def calibrate_regimes(
    spx,
    vix,
    dates=None,
    k_regimes: int = 3,
    dt: float = STEP_DT,
    regime_spx=None,
    *,
    regime_dates=None,
    regime_names: Sequence[str] | None = None,
    heston=None,
    search_reps: int = 0,
) -> tuple[RegimeSwitchingModel, FitReport]:
    """Calibrate the Markov-modulated Heston model: the chain on SPX returns, Heston parts on SPX+VIX.

    Parameters
    ----------
    spx, vix : ndarray or pandas.Series of shape (n,)
        Aligned daily SPX closes (points) and VIX closes (points), e.g. 2014-2018.
    dates : array_like of datetime64, shape (n,), optional
        Dates of ``spx``/``vix``; default the index of ``spx`` when it is a dated Series. Needed to
        align ``regime_spx``.
    k_regimes : {2, 3}, default 3
    dt : float, default 1/252
        Must be 1/252: the chain is daily.
    regime_spx : pandas.Series, or tuple (dates, closes), or ndarray with ``regime_dates``, optional
        A longer dated SPX series for the regime chain, e.g. 1999-2018
        (``arch.data.sp500.load()['Adj Close']``), which contains 2000-2002 and 2008; the
        2014-2018 window alone has almost no crisis days. It must contain every window date
        (and the day before the first). Default: ``spx`` itself.
    regime_dates : array_like of datetime64, optional
        Dates of ``regime_spx`` when it is a plain array.
    regime_names : sequence of str, optional
    heston : alvh.models.calibration.HestonCalibration, optional
        A finished :func:`alvh.models.calibration.calibrate_heston` fit of the same window (saves its
        ~2 s); computed when not given.
    search_reps : int, default 0
        Random restarts of the statsmodels fit.

    Returns
    -------
    model : RegimeSwitchingModel
        With ``model.chain_fit`` (:class:`RegimeChainFit`: smoothed probabilities and most likely
        regime per day of the chain's sample), ``regime0`` = most likely regime on the last day
        of the window and ``v0`` its VIX-implied variance.
    report : FitReport
        ``loglik``, ``n_obs``, ``n_params`` (hence AIC/BIC) are statsmodels' Markov-switching fit;
        ``params``/``stderr`` hold every model parameter; ``notes`` the choices, the expected
        durations and the window fit.

    Raises
    ------
    ValueError
        Bad shapes or values, ``dt != 1/252``, ``k_regimes`` not 2 or 3, ``regime_spx`` without
        dates to align, a window date missing from ``regime_spx``, or no variance risk premium
        that matches the window's mean VIX^2.

    Notes
    -----
    Why statsmodels for the chain (and not hmmlearn): see the module docstring.

    Per-regime Heston parameters (P), with ``s_r`` and ``c_r`` the Markov-switching variance and
    mean of the daily log return in regime ``r`` (percent units converted to years):

    - ``theta_r = 252 s_r`` and ``mu_r = 252 c_r + theta_r / 2`` (the QE step's martingale
      correction makes ``E[dS/S] = mu dt``). With a common ``kappa`` the stationary mean of ``v``
      is then exactly ``sum_r pi_r theta_r``, the Markov-switching model's unconditional return
      variance (sum the recursion of :func:`regime_integral_coefficients` over ``j``), although
      ``v`` lags each switch by a half-life ``ln 2 / kappa``.
    - ``kappa`` and ``rho`` common, from :func:`alvh.models.calibration.calibrate_heston` on the
      SPX+VIX window (joint QMLE, Aït-Sahalia & Kimmel 2007): the speed at which the VIX-implied
      variance reverts and the leverage correlation are the two things one regime's VIX path
      identifies well.
    - ``sigma_r = sigma_H sqrt(theta_r / theta_H)`` from that fit's ``(sigma_H, theta_H)``: the
      same Feller ratio ``2 kappa theta_r / sigma_r^2`` in every regime, i.e. the same relative
      variance noise, so a crisis regime's variance (and VIX) moves as much in relative terms as
      the window's did. A regime-aware QMLE of ``kappa, sigma, rho, lam`` given the smoothed regime
      path was tried and rejected: with ``theta_r`` from 1999-2018 it drives ``kappa`` and
      ``kappa_Q`` to 0 (the window's VIX-implied variance cannot revert to the long-sample levels).

    The variance risk premium (Q): one ``lam`` for all regimes (``kappa_Q = kappa + lam``,
    ``theta_Q,r = kappa theta_r / kappa_Q``; Heston 1993, eq. 6), chosen so that the mean over the
    window of the model's ``E[VIX_t^2 | smoothed regime path]`` equals the mean observed
    ``VIX_t^2`` (VIX^2 is affine in ``v``, so that expectation is an exact recursion; one moment,
    one parameter, solved by Brent's method). Its standard error is the Newey-West (1987)
    standard error of the mean ``VIX^2`` divided by the moment's slope in ``lam``, conditional on
    the other parameters. The regime chain has the same law under Q.
    """
    from scipy import optimize

    from alvh.models.calibration import calibrate_heston

    if abs(float(dt) - STEP_DT) > 1e-12:
        raise ValueError(f"dt must be 1/252: the regime chain is estimated and simulated daily, got {dt}")
    if k_regimes not in (2, 3):
        raise ValueError(f"k_regimes must be 2 or 3, got {k_regimes}")
    if dates is None and isinstance(spx, pd.Series) and isinstance(spx.index, pd.DatetimeIndex):
        dates = spx.index
    spx_a = np.asarray(spx, dtype=float)
    vix_a = np.asarray(vix, dtype=float)
    if spx_a.ndim != 1 or spx_a.shape != vix_a.shape:
        raise ValueError(f"spx and vix must be 1-D of equal length, got {spx_a.shape}, {vix_a.shape}")
    if spx_a.size < 60:
        raise ValueError(f"need at least 60 aligned daily observations, got {spx_a.size}")
    if not (np.all(np.isfinite(spx_a)) and np.all(np.isfinite(vix_a)) and spx_a.min() > 0 and vix_a.min() > 0):
        raise ValueError("SPX and VIX closes must be finite and > 0")
    if dates is not None:
        dates = pd.DatetimeIndex(dates)
        if dates.size != spx_a.size:
            raise ValueError(f"dates must have one entry per observation ({spx_a.size}), got {dates.size}")

    # 1. the regime chain
    if regime_spx is None:
        chain = fit_regime_chain(pd.Series(spx_a, index=dates) if dates is not None else spx_a, k_regimes,
                                 regime_names=regime_names, search_reps=search_reps)
        ml = chain.most_likely.to_numpy()
        reg = np.concatenate([ml[:1], ml])          # the first day has no return: its successor's regime
        chain_sample = "the calibration window itself"
    else:
        if dates is None:
            raise ValueError("dates (or a dated spx Series) are needed to align regime_spx with the SPX/VIX window")
        if isinstance(regime_spx, tuple) and len(regime_spx) == 2 and regime_dates is None:
            regime_dates, regime_spx = regime_spx
        if not isinstance(regime_spx, pd.Series):
            if regime_dates is None:
                raise ValueError("regime_spx needs dates to align it with the window: pass a dated pandas Series, "
                                 "a (dates, closes) tuple, or regime_dates=")
            values = np.asarray(regime_spx, dtype=float)
            rd = pd.DatetimeIndex(regime_dates)
            if rd.size != values.size:
                raise ValueError(f"regime_dates must have one entry per regime_spx close ({values.size}), got {rd.size}")
            regime_spx = pd.Series(values, index=rd)
        elif not isinstance(regime_spx.index, pd.DatetimeIndex):
            raise ValueError("regime_spx must be indexed by dates (or pass regime_dates=)")
        missing = dates.difference(regime_spx.astype(float).dropna().index[1:])
        if missing.size:
            raise ValueError(f"regime_spx must cover every date of the SPX/VIX window (with the day before); "
                             f"{missing.size} missing, first {missing[0].date()}")
        chain = fit_regime_chain(regime_spx, k_regimes, regime_names=regime_names, search_reps=search_reps)
        reg = chain.most_likely.reindex(dates).to_numpy()
        idx = chain.smoothed_probabilities.index
        chain_sample = f"SPX {idx[0].date()} .. {idx[-1].date()}"
    reg = reg.astype(np.int64)
    names = chain.regime_names

    # 2. Heston parts on the window
    if heston is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)
            heston = calibrate_heston(spx_a, vix_a, dt=dt)
    hp = heston.params
    theta = chain.variance * 252.0 / 1e4
    mu = chain.mean * 252.0 / 100.0 + 0.5 * theta
    kappa = np.full(k_regimes, hp.kappa)
    sigma = hp.sigma * np.sqrt(theta / hp.theta)
    rho = np.full(k_regimes, hp.rho)

    # 3. the variance risk premium by the mean-VIX^2 moment on the window's regime path
    target = float(np.mean((vix_a / 100.0) ** 2))
    kap = float(hp.kappa)

    def moment(lam):
        return _path_mean_vix2(np.full(k_regimes, lam), kappa, theta, chain.transition, reg, STEP_DT) - target

    lo, hi = -kap * (1.0 - 1e-6), 50.0 * kap
    f_lo, f_hi = moment(lo), moment(hi)
    if not f_lo > 0 > f_hi:
        raise ValueError(
            f"no variance risk premium lam in ({lo:.4g}, {hi:.4g}) matches the window's mean VIX^2 {target:.5f} "
            f"(model range {f_hi + target:.5f} .. {f_lo + target:.5f}); the regime variances are too low for "
            f"the window's VIX: estimate the chain on a longer sample (regime_spx) or with k_regimes=3"
        )
    lam = float(optimize.brentq(moment, lo, hi, xtol=1e-12, rtol=1e-12))
    step = 1e-4 * max(abs(lam), 1.0)
    slope = (moment(lam + step) - moment(lam - step)) / (2.0 * step)
    lam_se = _newey_west_se_of_mean((vix_a / 100.0) ** 2) / abs(slope)

    # 4. the model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        params = [HestonParams(v0=float(theta[r]), kappa=kap, theta=float(theta[r]), sigma=float(sigma[r]),
                               rho=float(rho[r]), mu=float(mu[r]), lam=lam) for r in range(k_regimes)]
        tmp = RegimeSwitchingModel(params, chain.transition, names)
    regime0 = int(reg[-1])
    v_last = float(tmp.var_from_vix(vix_a[-1], regime0))
    model = RegimeSwitchingModel(params, chain.transition, names, v0=v_last, regime0=regime0)
    model.chain_fit = chain

    # 5. the report
    p_out: dict = {}
    se_out: dict = {}
    for r, nm in enumerate(names):
        p_out[f"theta[{nm}]"] = float(theta[r])
        se_out[f"theta[{nm}]"] = float(chain.variance_se[r] * 252.0 / 1e4)
        p_out[f"mu[{nm}]"] = float(mu[r])
        se_out[f"mu[{nm}]"] = float(chain.mean_se[r] * 252.0 / 100.0)
        p_out[f"sigma[{nm}]"] = float(sigma[r])
        se_out[f"sigma[{nm}]"] = float(heston.stderr.get("sigma", float("nan")) * math.sqrt(theta[r] / hp.theta))
        p_out[f"theta_q[{nm}]"] = float(model.theta_q[r])
        p_out[f"vix_a[{nm}]"] = float(model.vix_a[r])
        p_out[f"vix_b[{nm}]"] = float(model.vix_b[r])
        p_out[f"pi[{nm}]"] = float(model.stationary_probabilities[r])
        p_out[f"duration[{nm}]"] = float(chain.expected_durations[r])
    p_out.update(kappa=kap, rho=float(hp.rho), lam=lam, kappa_q=float(kap + lam), v0=v_last,
                 regime0=names[regime0])
    se_out.update(kappa=float(heston.stderr.get("kappa", float("nan"))),
                  rho=float(heston.stderr.get("rho", float("nan"))), lam=float(lam_se))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            p_out[f"P[{a}->{b}]"] = float(chain.transition[i, j])
            se_out[f"P[{a}->{b}]"] = float(chain.transition_se[i, j])
    window = (f"{dates[0].date()} .. {dates[-1].date()}" if dates is not None else f"{spx_a.size} days")
    counts = np.bincount(reg, minlength=k_regimes)
    notes = [
        f"regime chain: statsmodels MarkovRegression (switching mean and variance, {k_regimes} regimes) on "
        f"{chain.n_obs} daily SPX log returns of {chain_sample}; loglik/AIC/BIC/n_params are this fit's",
        "expected durations (trading days): " + ", ".join(
            f"{nm} {d:.1f}" for nm, d in zip(names, chain.expected_durations)),
        "regime variance (annualised vol): " + ", ".join(
            f"{nm} {math.sqrt(t):.1%}" for nm, t in zip(names, theta)),
        "stationary regime probabilities: " + ", ".join(
            f"{nm} {p:.3f}" for nm, p in zip(names, model.stationary_probabilities)),
        "theta_r = 252 x regime return variance, mu_r = 252 x regime mean log return + theta_r/2 (P)",
        f"kappa, rho from calibrate_heston on the window ({window}): kappa {kap:.4g}, rho {hp.rho:.4g}; "
        f"sigma_r = sigma_H sqrt(theta_r/theta_H) with sigma_H {hp.sigma:.4g}, theta_H {hp.theta:.4g} "
        f"(same Feller ratio {hp.feller_ratio:.3f} in every regime)",
        f"lam (common) matches the window's mean VIX^2 {target:.5f} (VIX rms {100 * math.sqrt(target):.2f}) given "
        f"the smoothed regime path; Newey-West SE conditional on the other parameters",
        "window days by most likely regime: " + ", ".join(f"{nm} {c}" for nm, c in zip(names, counts)),
        "Q = P for the regime chain (no premium for regime-switch risk)",
        f"v0 = VIX-implied variance on the last window day in regime {names[regime0]} "
        f"(VIX {vix_a[-1]:.2f}; floored at 0 when the VIX is below the regime's floor "
        f"{100 * math.sqrt(model.vix_b[regime0]):.2f})",
        f"Heston window fit (single regime) loglik {heston.loglik:.2f} on {heston.n_obs} transitions",
    ]
    report = FitReport(
        model=RegimeSwitchingModel.name, params=p_out, stderr=se_out, loglik=chain.loglik, n_obs=chain.n_obs,
        n_params=chain.n_params,
        method="Hamilton (1989) filter / Kim (1994) smoother ML (statsmodels MarkovRegression) for the chain; "
               "Heston parts: joint SPX+VIX QMLE (calibrate_heston) and a mean-VIX^2 moment for lam",
        sample=f"chain: {chain_sample}; Heston/VIX: {window}",
        notes=notes,
    )
    return model, report
