"""Shared pieces of the jump path models: parameter checks and the QE + compound-Poisson simulator.

The Heston keys of the parameter dicts, finite-value and state checks, the per-step jump-intensity
multipliers, and :func:`_simulate_jump_diffusion`, the path loop that :class:`BatesModel` and
:class:`SvcjModel` share (they differ only in the jump sizes they draw).
"""

from __future__ import annotations

import math

import numpy as np

from alvh.models.base import Paths, State
from alvh.models.heston import qe_step


_HESTON_KEYS = ("v0", "kappa", "theta", "sigma", "rho", "mu", "lam")


# ================================================================================================
# small helpers
# ================================================================================================


def _finite(name: str, value) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _intensity_path(intensity, n_steps: int) -> np.ndarray:
    """Validated jump-intensity multipliers of shape (n_steps,) (ones when ``None``)."""
    if intensity is None:
        return np.ones(n_steps)
    mult = np.asarray(intensity, dtype=float)
    if mult.shape != (n_steps,):
        raise ValueError(f"intensity must have shape ({n_steps},), got {mult.shape}")
    if not np.all(np.isfinite(mult)) or np.any(mult < 0):
        raise ValueError("intensity multipliers must be finite and >= 0")
    return mult


def _check_state(state0: State, n_steps: int, dt: float) -> None:
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be > 0, got {dt}")
    if np.any(np.asarray(state0.var) < 0):
        raise ValueError("state0.var must be >= 0")


def _simulate_jump_diffusion(model, state0: State, n_steps: int, dt: float, rng: np.random.Generator,
                             intensity, jumps) -> Paths:
    """QE diffusion (:func:`alvh.models.heston.qe_step`) plus compound-Poisson jumps, for Bates and SVCJ.

    Each step draws the two QE normals, then the Poisson counts at intensity
    ``lam_j * intensity[t]``; ``jumps(c, rng)`` returns the summed log-price jumps and the summed
    variance jumps (or ``None``) of the paths with ``c >= 1`` jumps. The drift is compensated by
    ``lam_j * intensity[t] * kbar`` so that ``E_P[S_{t+dt} / S_t] = exp(mu dt)``.
    """
    _check_state(state0, n_steps, dt)
    mult = _intensity_path(intensity, n_steps)
    p = model.params
    n = state0.n_paths
    spot = np.empty((n, n_steps + 1))
    var = np.empty((n, n_steps + 1))
    spot[:, 0] = state0.spot
    var[:, 0] = state0.var
    log_s = np.log(np.asarray(state0.spot, dtype=float))
    v = np.asarray(state0.var, dtype=float).copy()
    kbar = model.kbar
    for t in range(n_steps):
        lam_t = model.lam_j * mult[t]
        z = rng.standard_normal((2, n))
        log_s, v = qe_step(log_s, v, z[0], z[1], p.kappa, p.theta, p.sigma, p.rho, p.mu - lam_t * kbar, dt)
        if lam_t > 0.0:
            cnt = rng.poisson(lam_t * dt, n)
            k = np.flatnonzero(cnt)
            if k.size:
                d_log_s, d_v = jumps(cnt[k], rng)
                if d_v is not None:
                    v[k] += d_v
                log_s[k] += d_log_s
        spot[:, t + 1] = np.exp(log_s)
        var[:, t + 1] = v
    return Paths(spot, var, model.vix(var), np.zeros(spot.shape, np.int8))
