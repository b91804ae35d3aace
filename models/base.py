"""The interface every path model implements, so that pricing, strategies and metrics work unchanged.

A *path model* generates joint SPX / variance / VIX / regime paths under the real-world measure P
and answers the few questions pricing needs under the pricing measure Q:

- the model VIX of a state (:meth:`PathModel.vix`) and its inverse (:meth:`PathModel.var_from_vix`);
- the Q-expected total variance of the SPX over a horizon, including jumps, which anchors the
  SPX smile (:meth:`PathModel.atm_total_variance`);
- a one-step Q transition of the variance state on given nodes (:meth:`PathModel.q_step`), from
  which :class:`alvh.pricing.MarkovVixTable` builds VIX futures and options for any model;
- the regime transition matrix per step (:meth:`PathModel.regime_transition`).

State convention: ``var`` is the annualised instantaneous variance that drives the next step
(for GARCH, the conditional variance of the next day's return times 252); ``regime`` is an int8
label in ``0..n_regimes-1`` (all zeros for single-regime models). Array order is ``(path, time)``.

A model never owns randomness: :meth:`PathModel.simulate` takes a ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

__all__ = ["State", "Paths", "PathModel", "AffineVix", "FitReport"]


@dataclass
class State:
    """Model state on one day, one value per path.

    Attributes
    ----------
    spot : ndarray of shape (n_paths,)
        SPX level (points).
    var : ndarray of shape (n_paths,)
        Annualised variance state.
    regime : ndarray of int8, shape (n_paths,)
        Regime label.
    """

    spot: np.ndarray
    var: np.ndarray
    regime: np.ndarray

    @property
    def n_paths(self) -> int:
        """Number of paths."""
        return int(np.shape(self.spot)[0])


@dataclass
class Paths:
    """Simulated paths of one chunk.

    Attributes
    ----------
    spot, var, vix : ndarray of shape (n_paths, n_steps + 1)
        SPX (points), annualised variance state, model VIX (points, a Q quantity).
    regime : ndarray of int8, shape (n_paths, n_steps + 1)
        Regime label per day.
    """

    spot: np.ndarray
    var: np.ndarray
    vix: np.ndarray
    regime: np.ndarray

    @property
    def n_steps(self) -> int:
        """Number of steps (days after the first)."""
        return self.spot.shape[1] - 1

    def state(self, t: int) -> State:
        """State on day ``t`` (copies, so a shock applied to it leaves the paths untouched)."""
        return State(self.spot[:, t].copy(), self.var[:, t].copy(), self.regime[:, t].copy())

    def then(self, later: "Paths") -> "Paths":
        """Append ``later``, whose first column is the day after this segment's last column."""
        cat = lambda a, b: np.concatenate((a, b), axis=1)  # noqa: E731
        return Paths(cat(self.spot, later.spot), cat(self.var, later.var), cat(self.vix, later.vix),
                     cat(self.regime, later.regime))

    @classmethod
    def from_state(cls, model: "PathModel", state: State) -> "Paths":
        """One-day paths (a single column) holding ``state``."""
        col = lambda a: np.asarray(a)[:, None]  # noqa: E731
        return cls(col(state.spot).astype(float), col(state.var).astype(float),
                   col(model.vix(state.var, state.regime)), col(state.regime).astype(np.int8))


class PathModel(ABC):
    """Base class of all path models.

    Subclasses set :attr:`name` and implement the abstract methods. Parameters are validated in
    ``__init__`` (``ValueError`` stating the rule); soft problems are warnings.
    """

    #: Short model name used in scenario files (``[model] type``).
    name: str = "abstract"
    #: Regime names; single-regime models have one.
    regime_names: tuple[str, ...] = ("all",)
    #: Whether the model has jumps whose intensity an event calendar can scale.
    has_jumps: bool = False

    @property
    def n_regimes(self) -> int:
        """Number of regimes (1 for a single-regime model)."""
        return len(self.regime_names)

    # ------------------------------------------------------------------ paths (measure P)
    @abstractmethod
    def simulate(
        self, state0: State, n_steps: int, dt: float, rng: np.random.Generator,
        intensity: np.ndarray | None = None,
    ) -> Paths:
        """Simulate P-paths from ``state0``.

        Parameters
        ----------
        state0 : State
            Initial state, one value per path.
        n_steps : int
            Number of steps, >= 1.
        dt : float
            Step in years.
        rng : numpy.random.Generator
            Source of every draw.
        intensity : ndarray of shape (n_steps,), optional
            Multiplier of the jump intensity on each step (event days); ignored by models
            without jumps.

        Returns
        -------
        Paths
            ``spot[:, 0]``, ``var[:, 0]``, ``regime[:, 0]`` equal ``state0`` exactly.
        """

    def initial_state(self, s0: float, n_paths: int, var0: float | None = None, regime0: int = 0) -> State:
        """A state with every path at ``s0``, variance ``var0`` (default :attr:`default_var0`) and ``regime0``."""
        v = self.default_var0 if var0 is None else var0
        return State(np.full(n_paths, float(s0)), np.full(n_paths, float(v)), np.full(n_paths, regime0, np.int8))

    @property
    @abstractmethod
    def default_var0(self) -> float:
        """Initial variance used when the scenario does not choose one (annualised)."""

    @property
    def long_run_var(self) -> float:
        """Long-run (stationary mean) variance under P, annualised; ``v0 = "theta"`` in a scenario."""
        return self.default_var0

    @abstractmethod
    def stationary_state(self, s0: float, n_paths: int, rng: np.random.Generator) -> State:
        """Draw states from (an approximation of) the stationary law, for validation runs."""

    # ------------------------------------------------------------------ prices (measure Q)
    @abstractmethod
    def vix(self, var: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        """Model VIX (points) of the state; same shape as ``var``."""

    @abstractmethod
    def var_from_vix(self, vix: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        """Inverse of :meth:`vix`, floored at 0 (a VIX below the model's floor maps to 0)."""

    @abstractmethod
    def atm_total_variance(self, var: np.ndarray, tau, regime: np.ndarray | None = None) -> np.ndarray:
        """Q-expected total variance of the SPX log-return over ``tau`` years (incl. jumps).

        ``E_Q[int_t^{t+tau} v_s ds + sum of squared jumps | state]`` in years x annualised
        variance; it anchors the SPX smile's ATM level. ``tau`` broadcasts against ``var``.
        """

    @abstractmethod
    def q_step(self, x: np.ndarray, dt: float, regime: int = 0, m: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """One-step Q transition of the variance state, as a quadrature.

        Parameters
        ----------
        x : ndarray of shape (n_nodes,)
            Variance nodes (annualised, >= 0).
        dt : float
            Step in years.
        regime : int
            Regime whose Q-dynamics apply during the step.
        m : int, default 256
            Quadrature points of the main shock (a model may add points, e.g. for jumps).

        Returns
        -------
        x_next : ndarray of shape (n_nodes, m)
            Next-step variance at ``m`` quadrature points per node.
        weights : ndarray of shape (m,) or (n_nodes, m)
            Probabilities of the points (each row sums to 1).
        """

    def regime_transition(self, dt: float) -> np.ndarray:
        """Per-step regime transition matrix ``P[i, j] = Pr(regime_{t+1} = j | regime_t = i)``."""
        return np.eye(self.n_regimes)

    def cir_q(self) -> tuple[float, float, float, float] | None:
        """``(kappa_q, theta_q, sigma, b_extra)`` when the Q variance is a pure CIR process.

        Then ``VIX^2 / 100^2 = a v + b + b_extra`` and VIX options have the exact CIR-law price
        (:class:`alvh.pricing.VixOptionTable`); ``None`` for other models.
        """
        return None

    def real_levels(self, dates, vix) -> np.ndarray | None:
        """The regime of each real day, for a model that can read it off real data, else ``None``.

        Used by the historical replay (:mod:`alvh.models.replay`) so that a model with a regime state
        prices the real path in the regime the real market was in (the two-factor model reads its
        central-tendency level off the real VIX6M). The default, ``None``, prices in regime 0.

        Parameters
        ----------
        dates : array_like of datetime64, shape (n_days,)
        vix : ndarray of shape (n_days,)
            Real VIX closes (points).

        Returns
        -------
        ndarray of int8, shape (n_days,), or None
        """
        return None

    def q_model(self, drift: float = 0.0) -> "PathModel":
        """A path model whose *P* dynamics are this model's *Q* dynamics (variance and regime).

        Simulating the returned model (:meth:`simulate`) gives Monte Carlo paths of the variance
        state and the regime under the pricing measure Q, from which VIX futures and options can be
        priced by plain averaging (``alvh.vixcheck`` compares them with the pricing tables). The
        returned model's :meth:`vix` equals this model's, and its Q dynamics equal its P dynamics
        (it is its own :meth:`q_model`); its one-step law agrees with :meth:`q_step`, the
        quadrature the pricing tables are built from.

        Parameters
        ----------
        drift : float, default 0
            SPX drift of the returned model, per year (``r - q`` under Q). The SPX paths are
            irrelevant to VIX prices; a model whose SPX cannot be made a Q-martingale says so.

        Returns
        -------
        PathModel

        Raises
        ------
        NotImplementedError
            If the model does not define its Q dynamics as a path model (this default).
        """
        raise NotImplementedError(f"the {self.name} model does not define its Q dynamics as a path model (q_model)")

    # ------------------------------------------------------------------ parameters
    @abstractmethod
    def to_dict(self) -> dict:
        """Parameters as plain floats / lists (JSON-ready), inverse of :meth:`from_dict`."""

    @classmethod
    @abstractmethod
    def from_dict(cls, d: dict) -> "PathModel":
        """Build the model from :meth:`to_dict` output; raises ``ValueError`` on bad values."""

    def summary(self) -> str:
        """One parameter per line."""
        lines = [f"{self.name} model"]
        for k, v in self.to_dict().items():
            lines.append(f"  {k:<14} {v}")
        return "\n".join(lines)


class AffineVix:
    """Mixin for models whose squared VIX is affine in the variance: ``(VIX/100)^2 = a var + b``.

    The model supplies ``vix_coefficients() -> (a, b)``; this gives :meth:`PathModel.vix` and
    :meth:`PathModel.var_from_vix` (single regime).
    """

    def vix(self, var, regime=None) -> np.ndarray:
        """Model VIX (points) ``100 sqrt(a var + b)``; shape of ``var``."""
        a, b = self.vix_coefficients()
        return 100.0 * np.sqrt(a * np.asarray(var, dtype=float) + b)

    def var_from_vix(self, vix, regime=None) -> np.ndarray:
        """Inverse of :meth:`vix`, ``((vix/100)^2 - b) / a`` floored at 0."""
        a, b = self.vix_coefficients()
        return np.maximum(((np.asarray(vix, dtype=float) / 100.0) ** 2 - b) / a, 0.0)


@dataclass
class FitReport:
    """What a calibration found and how well it fits.

    Attributes
    ----------
    model : str
        Model name.
    params : dict of str to float
        Point estimates (the values :meth:`PathModel.to_dict` holds, flattened).
    stderr : dict of str to float
        Standard errors (``nan`` where not available).
    loglik : float or None
        Maximised log-likelihood (``None`` for moment fits).
    n_obs : int
        Observations used.
    n_params : int
        Free parameters estimated.
    method : str
        One line naming the estimator and its source.
    sample : str
        Data window, e.g. ``"2014-01-03 .. 2018-12-31"``.
    notes : list of str
        Anything a reader should know (choices, fixed values, misses).
    converged : bool, default True
        Whether the optimiser reported convergence (a run refuses a fit that did not, unless the
        scenario sets ``[model] allow_unconverged``).
    objective : float or None
        The optimiser's final objective value, where it has one.
    """

    model: str
    params: dict
    stderr: dict
    loglik: float | None
    n_obs: int
    n_params: int
    method: str
    sample: str = ""
    notes: list = field(default_factory=list)
    converged: bool = True
    objective: float | None = None

    @property
    def aic(self) -> float | None:
        """Akaike information criterion ``2 k - 2 loglik`` (Akaike 1974); None without a likelihood."""
        return None if self.loglik is None else 2.0 * self.n_params - 2.0 * self.loglik

    @property
    def bic(self) -> float | None:
        """Bayesian information criterion ``k ln n - 2 loglik`` (Schwarz 1978); None without a likelihood."""
        return None if self.loglik is None else self.n_params * math.log(self.n_obs) - 2.0 * self.loglik

    def to_dict(self) -> dict:
        """The fit as a JSON-ready dict (parameters, standard errors, likelihood, notes)."""
        return {
            "model": self.model, "params": self.params, "stderr": self.stderr, "loglik": self.loglik,
            "aic": self.aic, "bic": self.bic, "n_obs": self.n_obs, "n_params": self.n_params,
            "method": self.method, "sample": self.sample, "notes": list(self.notes),
            "converged": bool(self.converged), "objective": self.objective,
        }

    def summary(self) -> str:
        """The fit report in lines of text: parameters with standard errors, criteria, notes."""
        lines = [f"{self.model} fit, {self.sample} ({self.n_obs} observations)", f"  method: {self.method}"]
        for k, v in self.params.items():
            if isinstance(v, (int, float)):
                se = self.stderr.get(k, float("nan"))
                se_txt = "" if se is None or not math.isfinite(se) else f" ± {se:.4g}"
                lines.append(f"  {k:<14} {v:.6g}{se_txt}")
            else:
                lines.append(f"  {k:<14} {v}")
        if self.loglik is not None:
            lines.append(f"  log-likelihood {self.loglik:.2f}, AIC {self.aic:.2f}, BIC {self.bic:.2f}, k = {self.n_params}")
        if not self.converged:
            obj = "" if self.objective is None else f" (objective {self.objective:.6g})"
            lines.append(f"  NOT CONVERGED: the optimiser reported no convergence{obj}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
