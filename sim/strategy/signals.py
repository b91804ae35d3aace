"""The VIX signals the hedge rules read: Wilder's RSI and the run length of the VIX above a level."""

from __future__ import annotations

import numpy as np


def wilder_rsi(x: np.ndarray, period: int = 21) -> np.ndarray:
    """Relative strength index of each row of ``x`` (Wilder 1978).

    Parameters
    ----------
    x : ndarray of shape (n_paths, n_days)
        A level series per path (here the VIX, points).
    period : int, default 21
        Look-back in days (the texts' "21-day RSI").

    Returns
    -------
    ndarray of shape (n_paths, n_days)
        RSI in [0, 100]; NaN for the first ``period`` days, which do not yet have ``period``
        changes.

    Notes
    -----
    J. W. Wilder, *New Concepts in Technical Trading Systems* (1978), ch. 6: average gain ``G`` and
    average loss ``L`` start as the simple means of the first ``period`` daily changes, then
    ``G_t = (G_{t-1} (period - 1) + gain_t) / period`` (the same for ``L``);
    ``RSI = 100 - 100 / (1 + G / L)``, 100 when ``L = 0``.

    Raises
    ------
    ValueError
        If ``period < 1`` or ``x`` is not 2-D.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError("x must be 2-D (n_paths, n_days)")
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    out = np.full(x.shape, np.nan)
    d = np.diff(x, axis=1)
    if d.shape[1] < period:
        return out
    gain, loss = np.maximum(d, 0.0), np.maximum(-d, 0.0)
    g, l_ = gain[:, :period].mean(axis=1), loss[:, :period].mean(axis=1)
    for t in range(period, x.shape[1]):
        if t > period:
            g = (g * (period - 1) + gain[:, t - 1]) / period
            l_ = (l_ * (period - 1) + loss[:, t - 1]) / period
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, t] = np.where(l_ > 0.0, 100.0 - 100.0 / (1.0 + g / np.where(l_ > 0, l_, 1.0)), 100.0)
    return out


def _run_length(x: np.ndarray, level: float) -> np.ndarray:
    """Consecutive days, up to and including each day, with ``x >= level``; shape of ``x``."""
    out = np.zeros(x.shape, dtype=np.int64)
    above = x >= level
    run = np.zeros(x.shape[0], dtype=np.int64)
    for t in range(x.shape[1]):
        run = np.where(above[:, t], run + 1, 0)
        out[:, t] = run
    return out
