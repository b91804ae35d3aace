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

from alvh import metrics as mx

__all__ = ["heston_control_means", "control_means", "ControlVariates", "cv_mean"]


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
    from alvh.models.heston import HestonModel

    model = prepared.model
    if type(model) is not HestonModel or prepared.shocks:
        return None
    p = model.params
    if p.rho > 0:       # the martingale correction (Andersen 2008, Prop. 9) may not exist on a step; simulate_qe then falls back
        return None
    return heston_control_means(p.kappa, p.theta, p.mu, float(prepared.var0), int(prepared.n_steps), float(prepared.dt))


class ControlVariates:
    """Controls prepared once for the control-variate means of many per-path quantities.

    Holds the centred controls (one ``(k, n)`` copy) and their Gram matrix, so that each
    :meth:`mean` needs one temporary of ``n`` values beyond its input: the analysis of a
    10M-path run calls it for every strategy's P&L and hedge cost.

    Parameters
    ----------
    controls : array_like of shape (k, n), or a list or tuple of k array_likes of shape (n,)
        Per-path control values, copied once into one ``(k, n)`` array. A list or tuple is read one
        control at a time, so a control held on disk or computed when read (anything ``np.asarray``
        takes) needs no second full copy beside that array.
    means : array_like of shape (k,)
        Their exactly known means.

    Raises
    ------
    ValueError
        For non-finite values, mismatched shapes, or fewer than ``k + 3`` paths.

    Notes
    -----
    The slope solves the normal equations of the centred regression, ``(Xc Xc') b = Xc y``
    (``Xc y = Xc yc`` since each row of ``Xc`` sums to zero), by least squares on the ``k x k``
    Gram matrix: the minimum-norm solution, as the regression of ``yc`` on ``Xc'`` gives, also for
    a constant control. Estimator and standard error: Glasserman (2004), sec. 4.1.1-4.1.2,
    eqs. 4.3-4.5 and 4.17-4.19 (module docstring).
    """

    def __init__(self, controls, means) -> None:
        first = np.asarray(controls[0], dtype=float) if isinstance(controls, (list, tuple)) and controls else None
        if first is not None and first.ndim == 1:
            x = np.empty((len(controls), first.size))   # centred in place below
            x[0] = first
            del first
            for i in range(1, len(controls)):
                c = np.asarray(controls[i], dtype=float)
                if c.shape != (x.shape[1],):
                    raise ValueError(f"controls must have shape (k, n) and means (k,): control {i} has shape "
                                     f"{c.shape}, control 0 ({x.shape[1]},)")
                x[i] = c
                del c
        else:
            x = np.array(controls, dtype=float)     # a copy, centred in place below
        if x.ndim == 1:
            x = x[None, :]
        mu = np.asarray(means, dtype=float).reshape(-1)
        if x.ndim != 2 or mu.shape != (x.shape[0],):
            raise ValueError(f"controls must have shape (k, n) and means (k,), got {x.shape} and {mu.shape}")
        k, n = x.shape
        if n < k + 3:
            raise ValueError(f"need at least {k + 3} paths for {k} control(s), got {n}")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(mu))):
            raise ValueError("controls and means must be finite")
        xbar = x.mean(axis=1)
        x -= xbar[:, None]
        self.k, self.n = k, n
        self.centred = x
        self.shift = xbar - mu                  # mean(X) - E[X]
        self.gram = x @ x.T

    def mean(self, y) -> tuple[mx.Estimate, float]:
        """Control-variate estimate of ``E[y]`` and the measured standard-error reduction factor.

        Parameters
        ----------
        y : array_like of shape (n,)
            Per-path values.

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
            For a non-finite ``y`` or one of another length.
        """
        y = np.asarray(y, dtype=float)
        k, n = self.k, self.n
        if y.shape != (n,):
            raise ValueError(f"y must have shape ({n},), got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y must be finite")
        ybar = float(y.mean())
        se_plain = float(y.std(ddof=1) / math.sqrt(n))
        b, *_ = np.linalg.lstsq(self.gram, self.centred @ y, rcond=None)
        resid = b @ self.centred                # the one temporary of n values
        np.subtract(y, resid, out=resid)
        resid -= ybar
        se_cv = math.sqrt(float(resid @ resid) / (n - 1 - k) / n)
        est = mx.Estimate.normal(ybar - float(b @ self.shift), se_cv)
        factor = se_plain / se_cv if se_cv > 0 and se_plain > 0 else math.nan
        return est, factor


def cv_mean(y, controls: np.ndarray, means: np.ndarray) -> tuple[mx.Estimate, float]:
    """Control-variate estimate of ``E[y]`` and the measured SE reduction factor, for one ``y``.

    ``ControlVariates(controls, means).mean(y)``: see :class:`ControlVariates` for the parameters
    (``controls`` of shape (k, n), ``means`` of shape (k,), ``y`` of shape (n,)), and
    :meth:`ControlVariates.mean` for the estimate and the factor returned.

    Raises
    ------
    ValueError
        For non-finite values, mismatched shapes, or fewer than ``k + 3`` paths.
    """
    return ControlVariates(controls, means).mean(y)
