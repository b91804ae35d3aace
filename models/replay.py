"""Historical replay: the real SPX/VIX path as a one-path "model", priced by a calibrated model.

The strategy then runs on what really happened. Paths are the real closes; the variance state is
the one the pricing model implies from the real VIX (:meth:`~alvh.models.base.PathModel.var_from_vix`),
in the regime the pricing model reads off the real data (:meth:`~alvh.models.base.PathModel.real_levels`;
regime 0 for a model that cannot), so SPX options and VIX futures/options are marked by the pricing
model's Q side on the real state.
"""

from __future__ import annotations

import numpy as np

from alvh.models.base import Paths, PathModel, State

__all__ = ["HistoricalReplay"]


class HistoricalReplay(PathModel):
    """Replay of real daily closes.

    Parameters
    ----------
    spx, vix : ndarray of shape (n_days,)
        Real SPX and VIX closes on the same days (points).
    dates : ndarray of datetime64, shape (n_days,)
    pricing : PathModel
        Model whose Q side prices everything (e.g. Heston calibrated to the same window).

    Raises
    ------
    ValueError
        Series of different lengths, fewer than 2 days, or non-positive closes.

    Notes
    -----
    :meth:`simulate` ignores the random generator and the initial state's values except its
    number of paths: every path is the real one (so a run wants ``n_paths = 1``), starting on the
    first day. Asking for more steps than the data holds is an error.
    """

    name = "replay"

    def __init__(self, spx, vix, dates, pricing: PathModel) -> None:
        spx = np.asarray(spx, dtype=float)
        vix = np.asarray(vix, dtype=float)
        if spx.shape != vix.shape or spx.ndim != 1 or spx.size < 2:
            raise ValueError("replay needs SPX and VIX closes of equal length >= 2")
        if np.any(spx <= 0) or np.any(vix <= 0):
            raise ValueError("replay closes must be > 0")
        self.spx, self.vix_close, self.dates, self.pricing = spx, vix, np.asarray(dates), pricing
        self.regime_names = pricing.regime_names

    @property
    def n_days(self) -> int:
        """Number of real days."""
        return self.spx.size

    @property
    def default_var0(self) -> float:
        """Variance the pricing model reads off the first day's VIX."""
        return float(self.pricing.var_from_vix(self.vix_close[:1])[0])

    def initial_state(self, s0: float, n_paths: int, var0: float | None = None, regime0: int = 0) -> State:
        """The first real day (``s0`` and ``var0`` are ignored)."""
        return State(np.full(n_paths, self.spx[0]), np.full(n_paths, self.default_var0), np.zeros(n_paths, np.int8))

    def simulate(self, state0: State, n_steps: int, dt: float, rng=None, intensity=None) -> Paths:
        """The real closes as one path per asked path (the generator is ignored)."""
        if n_steps > self.n_days - 1:
            raise ValueError(f"replay holds {self.n_days - 1} steps, {n_steps} asked")
        n = state0.n_paths
        rows = lambda a: np.repeat(a[None, : n_steps + 1], n, axis=0)  # noqa: E731
        vix = rows(self.vix_close)
        levels = self.pricing.real_levels(self.dates, self.vix_close)
        regime = np.zeros((n, n_steps + 1), np.int8) if levels is None else rows(np.asarray(levels, np.int8))
        return Paths(rows(self.spx), self.pricing.var_from_vix(vix, regime), vix, regime)

    def stationary_state(self, s0, n_paths, rng) -> State:
        """The first real day (a replay has no stationary law)."""
        return self.initial_state(s0, n_paths)

    def vix(self, var, regime=None):
        """The pricing model's VIX of ``var`` (points)."""
        return self.pricing.vix(var, regime)

    def var_from_vix(self, vix, regime=None):
        """The pricing model's variance for ``vix``."""
        return self.pricing.var_from_vix(vix, regime)

    def atm_total_variance(self, var, tau, regime=None):
        """The pricing model's Q-expected integrated variance over ``tau``."""
        return self.pricing.atm_total_variance(var, tau, regime)

    def q_step(self, x, dt, regime=0):
        """The pricing model's one-step Q law."""
        return self.pricing.q_step(x, dt, regime)

    def regime_transition(self, dt):
        """The pricing model's regime transition over ``dt``."""
        return self.pricing.regime_transition(dt)

    def cir_q(self):
        """The pricing model's pure-CIR Q description, if any."""
        return self.pricing.cir_q()

    def to_dict(self) -> dict:
        """What the replay is: its pricing model and first and last day."""
        return {"pricing": self.pricing.name, "first_day": str(self.dates[0])[:10], "last_day": str(self.dates[-1])[:10]}

    @classmethod
    def from_dict(cls, d):
        """Refused: a replay is built from data."""
        raise ValueError("a replay is built from data, not from a parameter file")
