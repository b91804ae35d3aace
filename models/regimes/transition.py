"""The regime chain's constants and checks: the daily step, default names, transition matrix, stationary law."""

from __future__ import annotations

import numpy as np


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
