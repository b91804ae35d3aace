"""Q prices on a (level, variance) grid: the one-day Q Markov chain, VIX futures and expected log VIX
(:func:`q_expectations`), the model VVIX, and the exact Laplace transform of the squared VIX."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from alvh.models.heston import VIX_TAU
from alvh.models.regimes import STEP_DT, RegimeSwitchingModel

if TYPE_CHECKING:
    from alvh.models.twofactor.model import TwoFactorModel


# ---------------------------------------------------------------------------------------- Q prices
@dataclass
class QExpectations:
    """``E_Q[VIX_{t+k}]`` and ``E_Q[ln VIX_{t+k}]`` on a (level, variance) grid, ``k`` daily steps.

    Attributes
    ----------
    grid : ndarray of shape (n_nodes,)
        Variance nodes (annualised).
    mean_vix, mean_log_vix : ndarray of shape (n_levels, n_nodes, max_steps + 1)
        VIX futures (points) and the expected log VIX (ln points).
    """

    grid: np.ndarray
    mean_vix: np.ndarray
    mean_log_vix: np.ndarray

    def at(self, table: np.ndarray, level, var, steps) -> np.ndarray:
        """Linear interpolation in the variance of ``table[level, :, steps]`` (arrays broadcast)."""
        x = np.clip(np.asarray(var, float), self.grid[0], self.grid[-1])
        i = np.clip(np.searchsorted(self.grid, x, side="right") - 1, 0, self.grid.size - 2)
        w = (x - self.grid[i]) / (self.grid[i + 1] - self.grid[i])
        return (1.0 - w) * table[level, i, steps] + w * table[level, i + 1, steps]


def q_chain(model: RegimeSwitchingModel, n_nodes: int = 200, m: int = 96,
            vix_top: float = 150.0) -> tuple[np.ndarray, np.ndarray]:
    """The one-day Q Markov chain on level x variance that :func:`q_expectations` iterates.

    Returns
    -------
    grid : ndarray of shape (n_nodes,)
        Variance nodes (annualised): 0, then geometric in volatility from 0.01 up to VIX ``vix_top``
        in the most volatile level.
    chain : ndarray of shape (n_levels * n_nodes, n_levels * n_nodes)
        Row-stochastic; state ``r * n_nodes + i`` is level ``r``, variance ``grid[i]``. One day: the
        level switches by :meth:`regime_transition`, then the variance takes the new level's
        :meth:`q_step` (its quadrature nodes split onto the grid, mean-preserving).
    """
    from alvh.pricing import _split_mass

    n_reg = model.n_regimes
    top = max(float(model.var_from_vix(np.array([vix_top]), np.array([r]))[0]) for r in range(n_reg))
    # geometric in volatility (constant relative spacing, so the splitting's added variance is a
    # small, level-free fraction of the one-day variance), plus the node 0
    grid = np.concatenate(([0.0], np.geomspace(0.01, math.sqrt(top), n_nodes - 1))) ** 2
    blocks = [_split_mass(*model.q_step(grid, STEP_DT, r, m), grid) for r in range(n_reg)]
    pi = model.regime_transition(STEP_DT)
    return grid, np.block([[pi[r, s] * blocks[s] for s in range(n_reg)] for r in range(n_reg)])


def vix2_laplace(model: "TwoFactorModel", u: float, steps: int, level: int, var: float) -> float:
    """Exact Laplace transform of the squared VIX under Q: ``E_Q[exp(-u VIX_T^2 / 100^2)]`` after
    ``steps`` days from variance ``var`` in level ``level``.

    The model is exponential-affine in the variance within a day: over one day in level ``j`` the
    variance is CIR with ``kappa_Q``, ``theta_Q,j``, ``sigma``, whose transform is
    ``E[e^{B v_dt} | v] = (1 - 2 B c)^{-2 kappa theta / sigma^2} exp(B e^{-kappa dt} v / (1 - 2 B c))``
    with ``c = sigma^2 (1 - e^{-kappa dt}) / (4 kappa)`` (Cox, Ingersoll & Ross 1985, eq. 19: the
    noncentral chi-square law), then with probability ``1 - e^{-lam_v dt}`` a jump
    ``jump_min_v + Exp(mu_v)``, ``E[e^{B J}] = e^{B jump_min_v} / (1 - mu_v B)``. With ``sigma`` the
    same in every level, the exponent ``B`` does not depend on the level, so the transform stays
    ``c_k(level) exp(B_k v)`` step after step and the levels enter through ``c_k = P (c_{k-1}
    e^{A(B)}) J(B)``, a recursion over days (the regime-switching affine transform, e.g. Elliott & Siu
    2009, for a chain switching at the start of each day, as :meth:`regime_transition` does).
    ``VIX^2 / 100^2 = vix_a v + vix_b[level]`` closes it.

    Parameters
    ----------
    model : TwoFactorModel
        With ``beta = 0`` (one ``sigma`` for every level).
    u : float
        >= 0.
    steps : int
        Days (>= 0).
    level : int
    var : float
        Annualised variance, >= 0.

    Returns
    -------
    float
        In (0, 1].

    Raises
    ------
    ValueError
        ``beta != 0`` (the exponent would differ by level: no closed recursion), or a bad argument.
    """
    kq, tq, sg = (np.asarray(x, float) for x in (model.kappa_q, model.theta_q, model.sigma))
    if not (np.allclose(kq, kq[0]) and np.allclose(sg, sg[0]) and np.allclose(model.vix_a, model.vix_a[0])):
        raise ValueError("vix2_laplace is exact only when every level has the same kappa_Q and sigma (beta = 0)")
    if not (u >= 0 and var >= 0 and steps >= 0 and 0 <= level < model.n_regimes):
        raise ValueError(f"need u >= 0, var >= 0, steps >= 0, level in 0..{model.n_regimes - 1}")
    k, s, dt = float(kq[0]), float(sg[0]), STEP_DT
    e = math.exp(-k * dt)
    c1 = s * s * (1.0 - e) / (4.0 * k)
    p = -math.expm1(-model.lam_v * dt)
    pi = model.regime_transition(dt)
    b = -u * float(model.vix_a[0])
    coef = np.exp(-u * np.asarray(model.vix_b, float))
    for _ in range(int(steps)):
        d = 1.0 - 2.0 * b * c1
        jump = 1.0 - p + (p * math.exp(b * model.jump_min_v) / (1.0 - model.mu_v * b) if p > 0 else 0.0)
        coef = pi @ (coef * d ** (-2.0 * k * tq / (s * s))) * jump
        b = b * e / d
    return float(coef[level] * math.exp(b * var))


def q_expectations(model: RegimeSwitchingModel, max_steps: int, n_nodes: int = 200, m: int = 96,
                   vix_top: float = 150.0) -> QExpectations:
    """VIX futures and expected log VIX by the Markov chain of :class:`alvh.pricing.MarkovVixTable`.

    The same construction (the model's :meth:`q_step` mapped onto a grid uniform in volatility by
    mean-preserving splitting, levels switching by :meth:`regime_transition`), with two payoff
    columns instead of the full strike strip, so that it is cheap enough for a calibration loop.

    Parameters
    ----------
    model : RegimeSwitchingModel
    max_steps : int
        Longest horizon, daily steps (>= 1).
    n_nodes : int, default 200
        Variance nodes per level: 0, then geometric in volatility from 0.01 up to VIX ``vix_top`` in
        the most volatile level. (A grid uniform in volatility, as :class:`MarkovVixTable` uses,
        overstates the VVIX at low VIX by 5-15 points at 120-200 nodes: the splitting adds variance
        of the order of the squared spacing each day, comparable to a calm day's variance.)
    m : int, default 96
        Quadrature points per one-step transition.

    Returns
    -------
    QExpectations
    """
    n_reg = model.n_regimes
    grid, chain = q_chain(model, n_nodes, m, vix_top)
    vix_nodes = np.concatenate([model.vix(grid, np.full(n_nodes, r)) for r in range(n_reg)])
    g = np.stack((vix_nodes, np.log(np.maximum(vix_nodes, 1e-8))), axis=1)
    out = np.empty((n_reg * n_nodes, max_steps + 1, 2))
    out[:, 0] = g
    for k in range(1, max_steps + 1):
        g = chain @ g
        out[:, k] = g
    out = out.reshape(n_reg, n_nodes, max_steps + 1, 2)
    return QExpectations(grid, out[..., 0], out[..., 1])


#: VVIX horizon (30 calendar days, as the VIX) in daily steps of the model (30/365 years x 252).
VVIX_STEPS = int(round(VIX_TAU / STEP_DT))


def model_vvix(q: QExpectations, level, var) -> np.ndarray:
    """Model VVIX (points) of states ``(level, var)``: Cboe's formula on a continuum of VIX options.

    ``VVIX^2 T = 2 (ln F - E_Q[ln VIX_T])`` with ``F = E_Q[VIX_T]``, ``T = 30/365`` (evaluated at
    the nearest whole day, 21 steps): the expectation Cboe's strip sum approximates (Demeterfi,
    Derman, Kamal & Zou 1999, eq. 26; Cboe VVIX white paper). Shapes broadcast.
    """
    f = q.at(q.mean_vix, level, var, VVIX_STEPS)
    el = q.at(q.mean_log_vix, level, var, VVIX_STEPS)
    return 100.0 * np.sqrt(np.maximum(2.0 * (np.log(f) - el), 0.0) / (VVIX_STEPS * STEP_DT))
