"""The Markov-modulated Heston path model :class:`RegimeSwitchingModel` (paths under P, VIX and prices under Q)."""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np

from alvh.models.base import PathModel, Paths, State
from alvh.models.heston import VIX_TAU, FellerConditionWarning, HestonParams, cir_quantile_step, qe_step
from alvh.models.regimes.coefficients import _IntegralTables, _build_tables, _coefficients_from_tables
from alvh.models.regimes.estimation import RegimeChainFit
from alvh.models.regimes.transition import STEP_DT, _default_names, _validate_transition, stationary_distribution


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
