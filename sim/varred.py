"""Control variates: per-path quantities whose mean is known exactly, used to shrink the standard
error of mean P&L and mean hedge cost, with the reduction measured on the run itself.

Controls (Heston under P, simulated with Andersen's QE-martingale scheme, no scripted shocks):

* ``spx_growth = S_T / S_0``: ``E = exp(mu T)``. The QE scheme's martingale correction makes this
  exact in discrete time (Andersen 2008, "Simple and efficient simulation of the Heston stochastic
  volatility model", J. Computational Finance 11(3), Proposition 9).
* ``integrated_variance = dt * sum_{t=0}^{T-1} v_t`` (left Riemann sum of the variance path):
  ``E = dt * sum_t (theta + (v_0 - theta) exp(-kappa t dt))``. The CIR conditional mean is
  ``E[v_{t+dt} | v_t] = theta + (v_t - theta) exp(-kappa dt)`` (Cox, Ingersoll & Ross 1985,
  Econometrica 53(2), eq. 19), which QE reproduces exactly at every step (Andersen 2008, sec. 3.2.3,
  moment matching), so the expectation holds for the discretised paths, not only in the limit.

Estimator (Glasserman 2004, *Monte Carlo Methods in Financial Engineering*, sec. 4.1.1-4.1.2,
eqs. 4.3-4.5 and the multiple-control form 4.17-4.19): with ``Y`` the per-path quantity and ``X``
the controls, ``b`` the least-squares slope of ``Y`` on ``X``,
``Y_cv = mean(Y) - b' (mean(X) - E[X])``, and its standard error that of the regression residuals,
``sd(Y - b' X) / sqrt(n)`` with ``n - 1 - k`` degrees of freedom. The slope estimated from the same
paths adds a bias of order 1/n (Glasserman 2004, sec. 4.1.3), negligible at the path counts used.
The *measured* reduction factor is ``SE(plain mean) / SE(control-variate mean)`` on the same paths:
the equivalent increase in paths is its square.
"""

from __future__ import annotations

import math

import numpy as np

from sim import metrics as mx

__all__ = ["heston_control_means", "control_means", "cv_mean"]


def heston_control_means(kappa: float, theta: float, mu: float, v0: float, n_steps: int, dt: float) -> dict[str, float]:
    """Exact means of the controls for Heston paths under P (see the module docstring).

    Parameters
    ----------
    kappa, theta : float
        Variance mean reversion (per year) and long-run variance under P.
    mu : float
        SPX drift under P, per year (``E[S_{t+dt} / S_t] = exp(mu dt)``).
    v0 : float
        Initial variance (annualised).
    n_steps : int
        Steps of the horizon.
    dt : float
        Years per step.

    Returns
    -------
    dict
        ``{"spx_growth": E[S_T / S_0] (1), "integrated_variance": E[dt * sum v_t] (variance x years)}``.
    """
    t = np.arange(n_steps) * dt
    return {"spx_growth": math.exp(mu * n_steps * dt),
            "integrated_variance": float(dt * np.sum(theta + (v0 - theta) * np.exp(-kappa * t)))}


def control_means(prepared) -> dict[str, float] | None:
    """Known control means for a prepared run, or None where none is known exactly.

    Known for the Heston model with ``rho <= 0`` and without scripted shocks (the QE-martingale
    scheme, see the module docstring; with ``rho > 0`` the correction may not apply on every step). Jump, GARCH and regime models, and stress overlays, have no exact control here yet.
    """
    from models.heston import HestonModel

    model = prepared.model
    if type(model) is not HestonModel or prepared.shocks:
        return None
    p = model.params
    if p.rho > 0:       # the martingale correction (Andersen 2008, Prop. 9) may not exist on a step; simulate_qe then falls back
        return None
    return heston_control_means(p.kappa, p.theta, p.mu, float(prepared.var0), int(prepared.n_steps), float(prepared.dt))


def cv_mean(y, controls: np.ndarray, means: np.ndarray) -> tuple[mx.Estimate, float]:
    """Control-variate estimate of ``E[y]`` and the measured standard-error reduction factor.

    Parameters
    ----------
    y : array_like of shape (n,)
        Per-path values.
    controls : ndarray of shape (k, n)
        Per-path control values.
    means : array_like of shape (k,)
        Their exactly known means.

    Returns
    -------
    estimate : Estimate
        ``mean(y) - b' (mean(X) - E[X])`` with the residual standard error (normal 95% CI).
    factor : float
        ``SE(mean(y)) / SE(estimate)``, measured on these paths (> 1: the controls help); NaN
        when either SE is zero or undefined.

    Raises
    ------
    ValueError
        For non-finite values, mismatched shapes, or fewer than ``k + 3`` paths.
    """
    y = np.asarray(y, dtype=float)
    x = np.atleast_2d(np.asarray(controls, dtype=float))
    mu = np.asarray(means, dtype=float).reshape(-1)
    k, n = x.shape
    if y.shape != (n,) or mu.shape != (k,):
        raise ValueError(f"y must have shape ({n},) and means ({k},), got {y.shape} and {mu.shape}")
    if n < k + 3:
        raise ValueError(f"need at least {k + 3} paths for {k} control(s), got {n}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(x)) and np.all(np.isfinite(mu))):
        raise ValueError("y, controls and means must be finite")
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    b, *_ = np.linalg.lstsq(xc.T, yc, rcond=None)
    resid = yc - b @ xc
    se_cv = math.sqrt(float(resid @ resid) / (n - 1 - k) / n)
    se_plain = float(y.std(ddof=1) / math.sqrt(n))
    est = mx.Estimate.normal(float(y.mean() - b @ (x.mean(axis=1) - mu)), se_cv)
    factor = se_plain / se_cv if se_cv > 0 and se_plain > 0 else math.nan
    return est, factor
