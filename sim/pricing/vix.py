"""VIX futures and calls along paths: the exact CIR-law table :class:`VixOptionTable`, the Markov-chain
table :class:`MarkovVixTable` for any model, and :func:`make_vix_table`, which picks one.

Prices are in VIX points per unit (multiply by the contract multiplier, 100 for VIX options).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from alvh.models.base import PathModel
from alvh.models.heston import HestonParams, cir_transition, vix_coefficients
from alvh.pricing.common import _fast, as_model

__all__ = [
    "VixOptionTable",
    "MarkovVixTable",
    "make_vix_table",
]


_NO_REGIME = np.zeros((), np.int64)


_GUIDES: dict = {}


def _guided(fp, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(nodes, guide)`` for the VIX kernels: :func:`alvh.fastprice.locate_guide` of ``nodes``, kept per
    nodes array (by identity, with the array itself held so that the identity stays unique)."""
    hit = _GUIDES.get(id(nodes))
    if hit is None or hit[0] is not nodes:
        if len(_GUIDES) > 64:
            _GUIDES.clear()
        hit = _GUIDES[id(nodes)] = (nodes, fp.locate_guide(nodes))
    return hit


class _VixTable:
    """What both VIX pricers share: integer strikes, the step range, and exact expiry values."""

    strikes: np.ndarray
    max_steps: int

    def _steps(self, steps) -> np.ndarray:
        s = np.asarray(steps)
        if np.any(s < 0) or np.any(s > self.max_steps):
            raise ValueError(f"time to expiry must be within 0..{self.max_steps} steps")
        return s.astype(np.intp)

    def _intrinsic_at_expiry(self, price, vix, s, k) -> np.ndarray:
        """``price`` with the exact intrinsic value ``(vix - K)^+`` where ``s == 0``."""
        at_expiry = s == 0
        if np.any(at_expiry):
            price = np.where(at_expiry, np.maximum(np.asarray(vix, dtype=float) - self.strikes[k], 0.0), price)
        return price

    def _fast_call(self, fp, x, vix, regime, steps, strike_index, table):
        """:meth:`call` by :func:`alvh.fastprice.vix_call`; ``None`` where the numpy reference must run
        (non-integer steps, a step, strike or regime out of range: the reference raises as before)."""
        s = np.asarray(steps)
        if s.dtype.kind not in "iu":
            return None
        prep = fp.prepare(x, vix, regime, np.asarray(s, dtype=np.int64), np.asarray(strike_index, dtype=np.int64))
        if prep is None:
            return None
        (a_x, a_v, a_r, a_s, a_k), rows, cols, shape = prep
        out, status = fp.vix_call(a_x, a_v, a_r, a_s, a_k, *self._fast_nodes(fp), table, self.strikes,
                                  self.max_steps, rows, cols)
        return fp.finish(out, shape) if status == 0 else None

    def _fast_futures(self, fp, x, regime, steps, table):
        """:meth:`futures` by :func:`alvh.fastprice.vix_futures`; ``None`` as :meth:`_fast_call`."""
        s = np.asarray(steps)
        if s.dtype.kind not in "iu":
            return None
        prep = fp.prepare(x, regime, np.asarray(s, dtype=np.int64))
        if prep is None:
            return None
        (a_x, a_r, a_s), rows, cols, shape = prep
        out, status = fp.vix_futures(a_x, a_r, a_s, *self._fast_nodes(fp), table, self.max_steps, rows, cols)
        return fp.finish(out, shape) if status == 0 else None

    def strike_index(self, strike) -> np.ndarray:
        """Index of the listed (integer) strike nearest to ``strike``, clipped to the grid."""
        fp = _fast()
        if fp is not None:
            prep = fp.prepare(np.asarray(strike, dtype=float))
            if prep is not None:
                (a,), rows, cols, shape = prep
                return fp.finish(fp.strike_index(a, self.strikes.size, rows, cols), shape)
        return np.clip(np.rint(np.asarray(strike, dtype=float)) - 1.0, 0, self.strikes.size - 1).astype(np.intp)


class VixOptionTable(_VixTable):
    """Tabulated VIX futures and VIX call prices for CIR variance under Q (Heston, Bates).

    Prices are exact CIR-law expectations (Zhang & Zhu 2006, eq. 9 for futures; the call is the
    same integral with the call payoff), computed once on a grid and then looked up for every path
    and day.

    Grid: spot VIX nodes ``vix_nodes`` (points, from the model floor ``100 sqrt(b_Q)`` up to
    ``vix_max``), time to expiry in whole simulation steps ``0..max_steps`` (years = steps * dt),
    and integer strikes ``1..strike_max`` (VIX points). The terminal VIX is binned on a fine grid of
    edges (0.2 points up to 60, wider above); the probability of each bin is a difference of
    noncentral chi-square CDFs (``scipy.special.chndtr``) and the payoff is evaluated at the bin's
    midpoint. Because strikes are integers and bin edges include every integer, the call payoff is
    linear inside each bin, so the error comes from the midpoint rule for the conditional mean and
    from linear interpolation in the spot VIX. Against direct quadrature it is below 0.003 VIX
    points for spot VIX < 40 and below 0.02 points up to VIX 80 (largest at one day to expiry;
    see tests/test_pricing.py).

    Parameters
    ----------
    model : PathModel or HestonParams
        A model whose :meth:`~alvh.models.base.PathModel.cir_q` is not ``None`` (its Q variance is
        CIR; ``b_extra``, e.g. Bates' jump term, shifts the VIX^2 intercept).
    dt : float
        Simulation step in years.
    max_steps : int
        Longest time to expiry needed, in steps.
    rate : float
        Discount rate for the calls.
    vix_max : float, default 500
        Largest spot VIX node; paths above it are priced at the top node (clamped).
    strike_max : int, default 150
        Largest strike.
    """

    def __init__(
        self, model: PathModel | HestonParams, dt: float, max_steps: int, rate: float,
        vix_max: float = 500.0, strike_max: int = 150,
    ) -> None:
        model = as_model(model)
        cir = model.cir_q()
        if cir is None:
            raise ValueError(f"VixOptionTable needs a CIR variance under Q; use MarkovVixTable for {model.name}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.model = model
        self.dt = float(dt)
        self.max_steps = int(max_steps)
        self.rate = float(rate)
        kq, tq, sig, b_extra = cir
        self.a, self.b = vix_coefficients(kq, tq)
        self.b += b_extra
        floor = 100.0 * math.sqrt(self.b)
        self.floor = floor
        # spot VIX nodes: 0.25 points up to 40, 0.5 up to 80, 2 above
        fine = np.concatenate((np.arange(math.ceil(floor * 4.0) / 4.0, 40.0, 0.25), np.arange(40.0, 80.0, 0.5)))
        coarse = np.concatenate((np.arange(80.0, 150.0, 2.0), np.arange(150.0, vix_max + 1.0, 10.0)))
        self.vix_nodes = np.concatenate(([floor], fine[fine > floor + 1e-9], coarse))
        self.strikes = np.arange(1.0, strike_max + 1.0)
        # terminal VIX bin edges (points)
        e1 = np.arange(math.floor(floor * 5.0) / 5.0, 60.0, 0.2)
        e2 = np.arange(60.0, 150.0, 1.0)
        e3 = np.arange(150.0, 800.0 + 1e-9, 5.0)
        edges = np.concatenate(([floor], e1[e1 > floor + 1e-9], e2, e3))
        mids = 0.5 * (edges[:-1] + edges[1:])
        x_edges = ((edges / 100.0) ** 2 - self.b) / self.a  # terminal variance at the edges
        x_edges[0] = 0.0

        steps = np.arange(1, self.max_steps + 1)
        v_nodes = ((self.vix_nodes / 100.0) ** 2 - self.b) / self.a
        v_nodes[0] = 0.0
        scale, df, nc = cir_transition(v_nodes[:, None], steps[None, :] * self.dt, kq, tq, sig)
        cdf = special.chndtr(x_edges[None, None, :] / scale[..., None], df, nc[..., None])
        mass = np.diff(cdf, axis=-1)                      # (n_v, n_steps, n_bins)
        tail = 1.0 - cdf[..., -1]                         # beyond 800 points: priced at the edge
        fut = mass @ mids + tail * edges[-1]
        payoff = np.maximum(mids[:, None] - self.strikes[None, :], 0.0)   # (n_bins, n_K)
        calls = mass @ payoff + tail[..., None] * np.maximum(edges[-1] - self.strikes, 0.0)
        disc = np.exp(-self.rate * steps * self.dt)
        # step 0 (expiry): the payoff at the spot VIX itself
        self.futures_table = np.concatenate((self.vix_nodes[:, None], fut), axis=1)
        intrinsic = np.maximum(self.vix_nodes[:, None] - self.strikes[None, :], 0.0)
        self.call_table = np.concatenate(
            (intrinsic[:, None, :], calls * disc[None, :, None]), axis=1
        )  # (n_v, max_steps + 1, n_K)

    def _fast_nodes(self, fp) -> tuple[np.ndarray, np.ndarray]:
        return _guided(fp, self.vix_nodes)

    def _locate(self, vix) -> tuple[np.ndarray, np.ndarray]:
        x = np.clip(np.asarray(vix, dtype=float), self.vix_nodes[0], self.vix_nodes[-1])
        i = np.clip(np.searchsorted(self.vix_nodes, x, side="right") - 1, 0, self.vix_nodes.size - 2)
        w = (x - self.vix_nodes[i]) / (self.vix_nodes[i + 1] - self.vix_nodes[i])
        return i, w


    def futures(self, vix, steps, regime=None) -> np.ndarray:
        """VIX futures price (points) for spot VIX ``vix`` and ``steps`` steps to expiry.

        Parameters
        ----------
        vix : ndarray of shape (n,)
            Model spot VIX on each path (points).
        steps : int or ndarray of int, broadcastable to (n,)
            Steps to expiry, 0..max_steps.
        """
        fp = _fast()
        if fp is not None:
            x = np.asarray(vix, dtype=float)
            out = self._fast_futures(fp, x, _NO_REGIME, steps, self.futures_table[None])
            if out is not None:
                return out
        i, w = self._locate(vix)
        s = self._steps(steps)
        t = self.futures_table
        return (1.0 - w) * t[i, s] + w * t[i + 1, s]

    def call(self, vix, steps, strike_index, regime=None) -> np.ndarray:
        """VIX call price (points, discounted) from the table.

        Parameters
        ----------
        vix : ndarray of shape (n,)
            Spot VIX (points).
        steps : int or ndarray of int, broadcastable to (n,)
            Steps to expiry; at 0 the price is the exact intrinsic value.
        strike_index : ndarray of int, broadcastable to (n,)
            Index into :attr:`strikes` (strike = index + 1 points).
        """
        fp = _fast()
        if fp is not None:
            x = np.asarray(vix, dtype=float)
            out = self._fast_call(fp, x, x, _NO_REGIME, steps, strike_index, self.call_table[None])
            if out is not None:
                return out
        s = self._steps(steps)
        k = np.asarray(strike_index, dtype=np.intp)
        i, w = self._locate(vix)
        t = self.call_table
        price = (1.0 - w) * t[i, s, k] + w * t[i + 1, s, k]
        return self._intrinsic_at_expiry(price, vix, s, k)


def _split_mass(x_next: np.ndarray, weights: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Transition matrix on ``grid`` from quadrature points, by mean-preserving linear splitting.

    Each point's weight goes to the two grid nodes around it in proportion to its distance from
    each, so the conditional mean of the state is kept exactly inside the grid (Kushner & Dupuis
    2001, ch. 4, "locally consistent" chains); points beyond the last node go to it.
    """
    n, m = x_next.shape
    w = np.broadcast_to(weights, (n, m))
    x = np.clip(x_next, grid[0], grid[-1])
    j = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, grid.size - 2)
    f = (x - grid[j]) / (grid[j + 1] - grid[j])
    rows = np.broadcast_to(np.arange(n)[:, None], (n, m))
    out = np.zeros((n, grid.size))
    np.add.at(out, (rows.ravel(), j.ravel()), (w * (1.0 - f)).ravel())
    np.add.at(out, (rows.ravel(), (j + 1).ravel()), (w * f).ravel())
    return out / out.sum(axis=1, keepdims=True)


class MarkovVixTable(_VixTable):
    """VIX futures and calls for any path model, by a Markov chain on a variance grid under Q.

    The Q law of the variance state (and of the regime, for regime-switching models) is
    approximated by a finite Markov chain: for each regime the one-step transition comes from the
    model's own quadrature :meth:`~alvh.models.base.PathModel.q_step`, mapped onto the grid by
    mean-preserving linear splitting (Kushner & Dupuis 2001, "Numerical Methods for Stochastic
    Control Problems in Continuous Time", ch. 4). With regimes the chain lives on
    (regime, variance): the regime switches at the start of a step by
    :meth:`~alvh.models.base.PathModel.regime_transition`, then the variance moves under the new
    regime's Q-dynamics. Then::

        F(x, r, k)    = (P^k  VIX(., .))(x, r)               (VIX future, k steps to expiry)
        C(x, r, k, K) = e^{-r_f k dt} (P^k (VIX - K)^+)(x, r)

    computed once by repeated multiplication and interpolated linearly in the variance at lookup.
    The grid is uniform in volatility ``sqrt(x)`` (``n_nodes`` nodes from 0 up to the variance of
    VIX ``vix_fine`` in the most volatile regime), then 60 nodes geometric in volatility up to VIX
    ``vix_max`` for stress states; states beyond the last node are priced there. Under Heston,
    against the exact CIR-law table (tests/test_pricing.py), the chain is within 0.015 VIX points
    for futures and 0.01 for calls up to 62 daily steps, for spot VIX 12-60 (0.02 for futures one
    step from VIX 60); at stress levels (spot VIX 140-300) within 0.3% for futures and 1% for
    calls. The residual is the grid's Jensen gap (futures slightly low).

    Parameters
    ----------
    model : PathModel
        Supplies ``q_step``, ``vix``, ``var_from_vix`` and ``regime_transition``.
    dt : float
        Simulation step in years.
    max_steps : int
        Longest time to expiry, in steps (>= 1).
    rate : float
        Discount rate for calls (continuously compounded).
    vix_max : float, default 500
        VIX level (points) of the top grid node.
    strike_max : int, default 150
        Strikes are the integers ``1..strike_max`` (VIX points).
    n_nodes : int, default 300
        Fine variance nodes per regime (up to ``vix_fine``).
    vix_fine : float, default 150
        VIX level (points) up to which the grid is fine.

    Raises
    ------
    ValueError
        If ``max_steps < 1`` or ``n_nodes < 10``.
    """

    def __init__(
        self, model: PathModel, dt: float, max_steps: int, rate: float,
        vix_max: float = 500.0, strike_max: int = 150, n_nodes: int = 300, vix_fine: float = 150.0,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if n_nodes < 10:
            raise ValueError(f"n_nodes must be >= 10, got {n_nodes}")
        self.model = model
        self.dt = float(dt)
        self.max_steps = int(max_steps)
        self.rate = float(rate)
        self.strikes = np.arange(1.0, strike_max + 1.0)
        n_reg = model.n_regimes
        top_var = lambda level: max(  # noqa: E731
            float(model.var_from_vix(np.array([level]), np.array([r]))[0]) for r in range(n_reg))
        fine_top = math.sqrt(top_var(min(vix_fine, vix_max)))
        vols = np.linspace(0.0, fine_top, n_nodes)
        if vix_max > vix_fine:  # stress levels: 60 nodes, geometric in volatility
            vols = np.concatenate((vols, np.geomspace(fine_top, math.sqrt(top_var(vix_max)), 61)[1:]))
        self.grid = vols**2
        n_nodes = self.grid.size
        blocks = [_split_mass(*model.q_step(self.grid, self.dt, r), self.grid) for r in range(n_reg)]
        pi = np.asarray(model.regime_transition(self.dt), dtype=float)
        # P[(r, i), (s, j)] = pi[r, s] * K_s[i, j]
        chain = np.concatenate([np.concatenate([pi[r, s] * blocks[s] for s in range(n_reg)], axis=1)
                                for r in range(n_reg)], axis=0)
        vix_nodes = np.concatenate([model.vix(self.grid, np.full(n_nodes, r)) for r in range(n_reg)])
        g = np.concatenate((vix_nodes[:, None], np.maximum(vix_nodes[:, None] - self.strikes[None, :], 0.0)), axis=1)
        fut = np.empty((n_reg * n_nodes, self.max_steps + 1))
        calls = np.empty((n_reg * n_nodes, self.max_steps + 1, self.strikes.size))
        for k in range(self.max_steps + 1):
            if k:
                g = chain @ g
            fut[:, k] = g[:, 0]
            calls[:, k, :] = math.exp(-self.rate * k * self.dt) * g[:, 1:]
        self.futures_table = fut.reshape(n_reg, n_nodes, -1)
        self.call_table = calls.reshape(n_reg, n_nodes, self.max_steps + 1, -1)

    def _fast_nodes(self, fp) -> tuple[np.ndarray, np.ndarray]:
        return _guided(fp, self.grid)

    def _fast_state(self, vix, regime):
        """Spot VIX, regimes (intp) and variance state of the lookups, as :meth:`_locate` has them (before clipping)."""
        vix = np.asarray(vix, dtype=float)
        r = np.zeros(vix.shape, np.intp) if regime is None else np.broadcast_to(np.asarray(regime, np.intp), vix.shape)
        return vix, r, np.asarray(self.model.var_from_vix(vix, r), dtype=float)

    def _locate(self, vix, regime):
        vix = np.asarray(vix, dtype=float)
        r = np.zeros(vix.shape, np.intp) if regime is None else np.broadcast_to(np.asarray(regime, np.intp), vix.shape)
        x = np.clip(self.model.var_from_vix(vix, r), self.grid[0], self.grid[-1])
        i = np.clip(np.searchsorted(self.grid, x, side="right") - 1, 0, self.grid.size - 2)
        w = (x - self.grid[i]) / (self.grid[i + 1] - self.grid[i])
        return r, i, w


    def futures(self, vix, steps, regime=None) -> np.ndarray:
        """VIX future (points) for spot VIX ``vix`` (shape (n,)), ``steps`` to expiry and ``regime``."""
        fp = _fast()
        if fp is not None:
            _, r, x = self._fast_state(vix, regime)
            out = self._fast_futures(fp, x, r, steps, self.futures_table)
            if out is not None:
                return out
        r, i, w = self._locate(vix, regime)
        s = self._steps(steps)
        t = self.futures_table
        return (1.0 - w) * t[r, i, s] + w * t[r, i + 1, s]

    def call(self, vix, steps, strike_index, regime=None) -> np.ndarray:
        """VIX call price (points, discounted); exact intrinsic value at 0 steps to expiry."""
        fp = _fast()
        if fp is not None:
            vx, r, x = self._fast_state(vix, regime)
            out = self._fast_call(fp, x, vx, r, steps, strike_index, self.call_table)
            if out is not None:
                return out
        r, i, w = self._locate(vix, regime)
        s = self._steps(steps)
        k = np.asarray(strike_index, dtype=np.intp)
        t = self.call_table
        price = (1.0 - w) * t[r, i, s, k] + w * t[r, i + 1, s, k]
        return self._intrinsic_at_expiry(price, vix, s, k)


def make_vix_table(model: PathModel | HestonParams, dt: float, max_steps: int, rate: float):
    """The VIX pricer for ``model``: exact CIR-law table when the Q variance is CIR, else the Markov chain.

    Returns
    -------
    VixOptionTable or MarkovVixTable
        Both offer ``futures(vix, steps, regime=None)``, ``call(vix, steps, strike_index,
        regime=None)``, ``strike_index(strike)`` and ``max_steps``.
    """
    model = as_model(model)
    if model.cir_q() is not None:
        return VixOptionTable(model, dt, max_steps, rate)
    return MarkovVixTable(model, dt, max_steps, rate)
