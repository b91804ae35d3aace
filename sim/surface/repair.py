"""Repair of the :class:`~alvh.surface.FourierSurface` table: filling the unreliable wing nodes
(:func:`_fill_wings`) and removing calendar arbitrage from the filled ones (:func:`_calendar_repair`).
"""

from __future__ import annotations

import math

import numpy as np


def _calendar_repair(m: np.ndarray, reliable: np.ndarray, xi: np.ndarray, z: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Raise filled nodes so that total variance does not fall with maturity at fixed ``k``.

    Parameters
    ----------
    m : ndarray of shape (n_var, n_tau, n_z)
        Normalised total variance after :func:`_fill_wings`.
    reliable : ndarray of bool, shape of ``m``
    xi, z : ndarray of shape (n_z,)
        Moneyness nodes (``xi = asinh(z / z_scale)``, ``z``).
    sd : ndarray of shape (n_var, n_tau)
        ATM implied total standard deviation of each line.

    Returns
    -------
    ndarray, shape of ``m``
        Each *filled* node ``(v, tau_j, z)`` (at ``k = z sd_j``) is first capped, going down in
        maturity, by the total variance of the next maturity's line at the same ``k``, then raised,
        going up, to that of the previous maturity's line (lines interpolated linearly in ``xi``,
        flat beyond their ends). Reliable nodes are
        never changed: prices of a martingale model are non-decreasing in maturity at fixed
        forward moneyness, so the computed nodes already satisfy it; only the extrapolated wings
        can break it.
    """
    out = m.copy()
    z_scale = z[-1] / math.sinh(xi[-1])
    n_t = m.shape[1]

    def other(i, j, jo, mask):   # w of line (i, jo) at the k of nodes (i, j, mask), in units of line j
        xo = np.arcsinh(z[mask] * (sd[i, j] / sd[i, jo]) / z_scale)
        return np.interp(xo, xi, out[i, jo]) * (sd[i, jo] / sd[i, j]) ** 2

    for i in range(m.shape[0]):
        for j in range(n_t - 2, -1, -1):          # cap by the next maturity
            bad = ~reliable[i, j]
            if bad.any():
                out[i, j, bad] = np.minimum(out[i, j, bad], other(i, j, j + 1, bad))
        for j in range(1, n_t):                   # raise to the previous maturity
            bad = ~reliable[i, j]
            if bad.any():
                out[i, j, bad] = np.maximum(out[i, j, bad], other(i, j, j - 1, bad))
    return out


def _fill_wings(m: np.ndarray, reliable: np.ndarray, z: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Fill the unreliable nodes of ``m`` along its last axis (see :class:`FourierSurface`).

    Parameters
    ----------
    m : ndarray of shape (..., n_z)
        Normalised total variance, ``nan`` where unreliable.
    reliable : ndarray of bool, shape of ``m``
    z : ndarray of shape (n_z,)
        Moneyness nodes (ATM standard deviations), increasing.
    sd : ndarray of shape ``m.shape[:-1]``
        ``sqrt(w_ref)`` of each line.

    Returns
    -------
    ndarray, shape of ``m``
        On each side of the money, nodes beyond the outermost reliable one get ``m`` extrapolated
        linearly in ``|z|`` from the two outermost reliable nodes, the outward slope clipped to
        ``[0, 2 / sd]`` (Lee's bound ``dw/d|k| <= 2`` in ``m``-units: ``w = m sd^2``,
        ``k = z sd``); flat with a single reliable node on that side. Unreliable nodes between
        reliable ones are interpolated linearly in ``z``.

    Raises
    ------
    FloatingPointError
        If a whole line is unreliable (cannot happen for ``price_floor`` well below ATM prices).
    """
    out = m.copy()
    n_z = z.size
    i0 = int(np.argmin(np.abs(z)))
    flat = out.reshape(-1, n_z)
    rel = reliable.reshape(-1, n_z)
    sds = np.broadcast_to(sd, m.shape[:-1]).reshape(-1)
    for r in np.flatnonzero(~rel.all(axis=1)):
        row, ok = flat[r], rel[r]
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            raise FloatingPointError("a whole moneyness line of the surface table is unreliable")
        for side in (-1, 1):
            inner = idx[idx <= i0] if side < 0 else idx[idx >= i0]
            if inner.size == 0:
                inner = idx
            last = inner.min() if side < 0 else inner.max()
            near = inner[inner > last] if side < 0 else inner[inner < last]
            slope = 0.0
            if near.size:
                prev = near.min() if side < 0 else near.max()
                slope = (row[last] - row[prev]) / (abs(z[last]) - abs(z[prev]))
            slope = min(max(slope, 0.0), 2.0 / sds[r])
            targets = np.arange(0, last) if side < 0 else np.arange(last + 1, n_z)
            row[targets] = row[last] + slope * (np.abs(z[targets]) - abs(z[last]))
        holes = np.isnan(row)
        if np.any(holes):
            row[holes] = np.interp(z[holes], z[~holes], row[~holes])
    return out
