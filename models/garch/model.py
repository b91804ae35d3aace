"""The GJR-GARCH(1,1)-skew-t path model (:class:`GjrGarchModel`): P paths, model VIX, Q steps; and the
constants of its daily units."""

from __future__ import annotations

import math

import numpy as np

from alvh.models.base import AffineVix, PathModel, Paths, State
from alvh.models.garch.recursion import _gjr_time_major
from alvh.models.garch.skewt import _check_skewt, skewt_lower_moment, skewt_ppf, skewt_rvs


#: Trading days per year: ``var = h * TRADING_DAYS / 1e4``.
TRADING_DAYS = 252
#: Trading days in the VIX's 30-calendar-day window.
VIX_DAYS = 21
_DT = 1.0 / TRADING_DAYS
_SCALE = TRADING_DAYS / 1e4  # %^2 per day -> annualised variance (decimal)


# ---------------------------------------------------------------------------------------------
# The path model
# ---------------------------------------------------------------------------------------------
def _check_dt(dt: float) -> None:
    if not math.isclose(float(dt), _DT, rel_tol=1e-9):
        raise ValueError(f"dt must be 1/252 (the GJR-GARCH model is daily), got {dt}")


class GjrGarchModel(AffineVix, PathModel):
    """GJR-GARCH(1,1) with skew-t innovations as a :class:`alvh.models.base.PathModel`.

    Parameters
    ----------
    mu : float
        Daily mean log return, % (P).
    omega : float
        Variance intercept, %^2 per day, > 0.
    alpha : float
        ARCH coefficient, >= 0.
    gamma : float
        Leverage (asymmetry) coefficient; ``alpha + gamma >= 0``.
    beta : float
        GARCH coefficient, >= 0.
    eta : float
        Skew-t degrees of freedom (Hansen's ``eta``), > 2 (finite variance).
    lambda_ : float
        Skew-t skewness (Hansen's ``lambda``, ``arch``'s ``"lambda"``), in (-1, 1); negative means a
        longer left tail. The trailing underscore avoids the Python keyword.
    vrp : float, default 1.0
        Variance risk premium, > 0: every Q-expected variance (VIX^2, SPX ATM total variance) is
        ``vrp`` times the P forecast.

    Raises
    ------
    ValueError
        Naming the rule broken: ``omega > 0``, ``alpha >= 0``, ``alpha + gamma >= 0``, ``beta >= 0``,
        ``alpha + beta + gamma/2 < 1`` (covariance stationarity with the symmetric-innovation rule
        that ``arch`` uses), the exact persistence ``alpha + beta + gamma E[z^2 1{z<0}] < 1`` under the
        skew-t (needed for ``hbar``; it can exceed the symmetric rule when ``lambda_ < 0``),
        ``eta > 2``, ``-1 < lambda_ < 1``, ``vrp > 0``; all finite.

    Notes
    -----
    Recursion, units, VIX and the P/Q convention: see the module docstring. ``var`` (state) is
    ``h_{t+1} * 252 / 1e4``.
    """

    name = "gjr_garch"
    _KEYS = ("mu", "omega", "alpha", "gamma", "beta", "eta", "lambda_", "vrp")

    def __init__(self, mu: float, omega: float, alpha: float, gamma: float, beta: float,
                 eta: float, lambda_: float, vrp: float = 1.0) -> None:
        vals = dict(mu=mu, omega=omega, alpha=alpha, gamma=gamma, beta=beta, eta=eta, lambda_=lambda_, vrp=vrp)
        for k, v in vals.items():
            if not math.isfinite(float(v)):
                raise ValueError(f"{k} must be finite, got {v}")
        mu, omega, alpha, gamma, beta, eta, lambda_, vrp = (float(vals[k]) for k in self._KEYS)
        if omega <= 0:
            raise ValueError(f"omega must be > 0, got {omega}")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        if alpha + gamma < 0:
            raise ValueError(f"alpha + gamma must be >= 0 (variance stays positive), got {alpha} + {gamma}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        sym = alpha + beta + 0.5 * gamma
        if sym >= 1.0:
            raise ValueError(
                f"alpha + beta + gamma/2 must be < 1, got {sym:.6g}: the process is not covariance-stationary"
            )
        _check_skewt(eta, lambda_)
        if vrp <= 0:
            raise ValueError(f"vrp must be > 0, got {vrp}")
        self.mu, self.omega, self.alpha, self.gamma, self.beta = mu, omega, alpha, gamma, beta
        self.eta, self.lambda_, self.vrp = eta, lambda_, vrp
        #: ``E[z^2 1{z < 0}]`` of the skew-t (1/2 when ``lambda_ = 0``).
        self.kappa_minus = float(skewt_lower_moment(2, 0.0, eta, lambda_))
        phi = alpha + beta + gamma * self.kappa_minus
        if phi >= 1.0:
            raise ValueError(
                f"alpha + beta + gamma*E[z^2 1{{z<0}}] must be < 1, got {phi:.6g} (E[z^2 1{{z<0}}] = "
                f"{self.kappa_minus:.4f} under the skew-t): the process is not covariance-stationary"
            )
        self._q_cache: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ derived quantities
    @property
    def persistence(self) -> float:
        """Exact persistence ``phi = alpha + beta + gamma E[z^2 1{z<0}]`` (used in every forecast)."""
        return self.alpha + self.beta + self.gamma * self.kappa_minus

    @property
    def persistence_symmetric(self) -> float:
        """``alpha + beta + gamma / 2``, the persistence ``arch`` uses (exact only for symmetric ``z``)."""
        return self.alpha + self.beta + 0.5 * self.gamma

    @property
    def h_bar(self) -> float:
        """Unconditional variance ``omega / (1 - phi)``, %^2 per day."""
        return self.omega / (1.0 - self.persistence)

    @property
    def default_var0(self) -> float:
        """Unconditional variance, annualised: ``h_bar * 252 / 1e4``."""
        return self.h_bar * _SCALE

    def forecast_h(self, h1, k) -> np.ndarray:
        """P forecast ``E_t[h_{t+k}]`` given ``h_{t+1} = h1`` (%^2 per day), ``k >= 1``, broadcasting.

        Notes
        -----
        ``hbar + phi^(k-1) (h1 - hbar)`` (Baillie & Bollerslev 1992, with the GJR
        persistence; Ling & McAleer 2002).
        """
        hb = self.h_bar
        return hb + self.persistence ** (np.asarray(k, dtype=float) - 1.0) * (np.asarray(h1, dtype=float) - hb)

    def vix_coefficients(self) -> tuple[float, float]:
        """``(A, B)`` with ``(VIX / 100)^2 = A var + B``.

        Returns
        -------
        A : float
            ``vrp * w``, ``w = (1 - phi^21) / (21 (1 - phi))`` (dimensionless).
        B : float
            ``vrp * (1 - w) * hbar * 252 / 1e4`` (annualised variance).
        """
        phi = self.persistence
        w = (1.0 - phi**VIX_DAYS) / (VIX_DAYS * (1.0 - phi))
        return self.vrp * w, self.vrp * (1.0 - w) * self.default_var0

    # ------------------------------------------------------------------ paths (P)
    def simulate(self, state0: State, n_steps: int, dt: float, rng: np.random.Generator,
                 intensity: np.ndarray | None = None) -> Paths:
        """Simulate P-paths (vectorised over paths); ``intensity`` is ignored (no jumps).

        Parameters
        ----------
        state0 : State
            ``var`` is the annualised variance of the first day's return.
        n_steps : int
            Days, >= 1.
        dt : float
            Must be 1/252.
        rng : numpy.random.Generator
            Source of the skew-t draws (:func:`skewt_rvs`).
        intensity : ignored

        Returns
        -------
        Paths
            ``spot[:, t+1] = spot[:, t] exp(r_t / 100)`` with ``r_t`` in %; ``var`` and ``vix`` (a Q
            quantity); ``regime`` carried from ``state0``. Arrays of shape (n_paths, n_steps + 1),
            stored time-major (Fortran order: each day's column is contiguous).

        Raises
        ------
        ValueError
            If ``dt != 1/252`` or ``n_steps < 1``.
        """
        _check_dt(dt)
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        zt = skewt_rvs(self.eta, self.lambda_, (int(n_steps), state0.n_paths), rng)
        return self._paths(state0, zt)

    def paths_from_draws(self, state0: State, z: np.ndarray) -> Paths:
        """:class:`Paths` from given standardised draws (common random numbers).

        Parameters
        ----------
        state0 : State
        z : ndarray of shape (n_paths, n_steps)
            Standardised skew-t draws (e.g. :func:`skewt_ppf` of uniforms).

        Returns
        -------
        Paths
            As :meth:`simulate`.
        """
        z = np.asarray(z, dtype=float)
        if z.ndim != 2 or z.shape[0] != state0.n_paths:
            raise ValueError(f"z must have shape ({state0.n_paths}, n_steps), got {z.shape}")
        return self._paths(state0, np.ascontiguousarray(z.T))

    def _paths(self, state0: State, zt: np.ndarray) -> Paths:
        n_steps, n = zt.shape
        eps, h = _gjr_time_major(self.omega, self.alpha, self.gamma, self.beta,
                                 np.asarray(state0.var, dtype=float) / _SCALE, zt)
        log_s = np.empty((n_steps + 1, n))
        log_s[0] = 0.0
        eps += self.mu
        eps *= 0.01
        np.cumsum(eps, axis=0, out=log_s[1:])
        spot = np.exp(log_s, out=log_s)
        spot *= np.asarray(state0.spot, dtype=float)[None, :]
        spot[0] = state0.spot
        var = h
        var *= _SCALE
        var[0] = state0.var
        vix = self.vix(var)
        regime = np.repeat(np.asarray(state0.regime, np.int8)[None, :], n_steps + 1, axis=0)
        # time-major storage, returned as (path, time) views: column t (one day) is contiguous
        return Paths(spot.T, var.T, vix.T, regime.T)

    def stationary_state(self, s0: float, n_paths: int, rng: np.random.Generator, burn: int = 500) -> State:
        """Approximately stationary states: ``burn`` days of the recursion from ``hbar``, keep the last ``h``.

        The stationary law of ``h`` has no closed form; with ``phi`` near 1 it is very right-skewed
        (mean ``hbar`` well above its median), and ``burn`` should exceed ``1 / (1 - phi)`` days.
        """
        zt = skewt_rvs(self.eta, self.lambda_, (int(burn), int(n_paths)), rng)
        _, h = _gjr_time_major(self.omega, self.alpha, self.gamma, self.beta, self.h_bar, zt)
        return State(np.full(n_paths, float(s0)), h[-1] * _SCALE, np.zeros(n_paths, np.int8))

    # ------------------------------------------------------------------ prices (Q)
    def atm_total_variance(self, var, tau, regime=None) -> np.ndarray:
        """Q-expected total variance over ``tau`` years: ``vrp * sum_{k=1}^{n} E[h_{t+k}] / 1e4``, ``n = 252 tau``.

        Parameters
        ----------
        var : array_like
            Annualised state variance(s).
        tau : array_like
            Horizon(s) in years, >= 0, broadcasting against ``var``.

        Returns
        -------
        ndarray
            Years x annualised variance: ``vrp (n hbar + (h1 - hbar)(1 - phi^n)/(1 - phi)) / 1e4``.
            The closed form equals the sum at integer ``n`` and interpolates smoothly (and
            monotonically) between integers.
        """
        n = np.asarray(tau, dtype=float) * TRADING_DAYS
        h1 = np.asarray(var, dtype=float) / _SCALE
        phi, hb = self.persistence, self.h_bar
        total = n * hb + (h1 - hb) * (1.0 - phi**n) / (1.0 - phi)
        return self.vrp * total / 1e4

    def _bucket_g(self, m: int) -> np.ndarray:
        """``m E[(alpha + gamma 1{z<0}) z^2 1{z in bucket j}]`` for the ``m`` equal-probability buckets."""
        if m not in self._q_cache:
            edges = np.concatenate(([-np.inf], skewt_ppf(np.arange(1, m) / m, self.eta, self.lambda_), [np.inf]))
            pm_neg = skewt_lower_moment(2, np.minimum(edges, 0.0), self.eta, self.lambda_)
            pm_all = skewt_lower_moment(2, edges, self.eta, self.lambda_)
            g_cum = (self.alpha + self.gamma) * pm_neg + self.alpha * (pm_all - pm_neg)
            self._q_cache[m] = m * np.diff(g_cum)
        return self._q_cache[m]

    def q_step(self, x, dt: float, regime: int = 0, m: int = 256):
        """One-day Q transition of ``var`` at ``m`` equal-probability quadrature points.

        Parameters
        ----------
        x : ndarray of shape (n_nodes,)
            Annualised variance nodes, >= 0.
        dt : float
            Must be 1/252.
        regime : int
            Ignored (one regime).
        m : int, default 256
            Points per node.

        Returns
        -------
        x_next : ndarray of shape (n_nodes, m)
            ``(omega + beta h + h g_j) * 252 / 1e4`` with ``h = x * 1e4 / 252`` and
            ``g_j = m E[(alpha + gamma 1{z<0}) z^2 ; z in (F^-1(j/m), F^-1((j+1)/m))]``: the
            conditional mean of next-day variance given that ``z`` falls in the j-th of ``m``
            equal-probability buckets of the skew-t.
        weights : ndarray of shape (m,)
            ``1 / m`` each.

        Raises
        ------
        ValueError
            If ``dt != 1/252``.

        Notes
        -----
        Under Q the variance follows the P recursion (``vrp`` scales only the price maps). The
        bucket means (rather than the recursion at the mid-quantiles ``(j + 1/2)/m``) make the
        quadrature's mean equal the exact one-step mean ``omega + phi h`` whatever ``m``; with the
        skew-t's heavy tails the mid-quantile rule would understate ``E[z^2]`` (by 3% at
        ``m = 256``, ``eta = 5.7``). Bucket moments from :func:`skewt_lower_moment`.
        """
        _check_dt(dt)
        h = np.asarray(x, dtype=float) / _SCALE
        g = self._bucket_g(int(m))
        x_next = (self.omega + self.beta * h[:, None] + h[:, None] * g[None, :]) * _SCALE
        return x_next, np.full(int(m), 1.0 / m)

    def q_model(self, drift: float = 0.0) -> "GjrGarchModel":
        """The model whose P recursion is this model's Q variance law (see :meth:`alvh.models.base.PathModel.q_model`).

        Q is defined in the module docstring ("P versus Q") and :meth:`q_step`: the variance
        follows the P recursion itself (same ``omega, alpha, gamma, beta``, same skew-t), and the
        premium ``vrp`` scales only the map from the state to prices (:meth:`vix_coefficients`).
        So the returned model has this model's parameters and ``vrp`` (hence the same :meth:`vix`
        and :meth:`q_step`), with the daily mean return ``mu = 100 drift / 252`` (%).

        The SPX of the returned model is not a Q-martingale: the model defines no Q law for the
        SPX (with Student-t innovations ``E[exp(sqrt(h) z)]`` is not even finite), so use its
        ``var``, ``vix`` and regime paths only.
        """
        d = self.to_dict()
        d["mu"] = 100.0 * float(drift) / TRADING_DAYS
        return GjrGarchModel(**d)

    # ------------------------------------------------------------------ parameters
    def to_dict(self) -> dict:
        """The parameters as a dict of floats (for a parameter file)."""
        return {k: float(getattr(self, k)) for k in self._KEYS}

    @classmethod
    def from_dict(cls, d: dict) -> "GjrGarchModel":
        """Build from :meth:`to_dict` output (``"lambda"`` accepted for ``"lambda_"``, extra keys ignored).

        Raises
        ------
        ValueError
            On a missing key or a broken rule.
        """
        d = dict(d)
        if "lambda_" not in d and "lambda" in d:
            d["lambda_"] = d["lambda"]
        missing = [k for k in cls._KEYS if k not in d and k != "vrp"]
        if missing:
            raise ValueError(f"gjr_garch parameters missing: {', '.join(missing)}")
        return cls(**{k: float(d[k]) for k in cls._KEYS if k in d})

    def __repr__(self) -> str:
        return "GjrGarchModel(" + ", ".join(f"{k}={v:.6g}" for k, v in self.to_dict().items()) + ")"
