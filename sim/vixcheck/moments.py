"""Q moments of the models' variance: affine checks of ``VIX^2`` and of the one-step Q mean,
the first moments by regime (:func:`q_first_moments`) and the running sums of the control-variate estimate."""

from __future__ import annotations

import math

import numpy as np

from alvh.models.base import PathModel
from alvh.vixcheck.defaults import _DT


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _affine_vix2(model: PathModel) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-regime ``(a, b)`` with ``(VIX / 100)^2 = a[r] var + b[r]``, or ``None`` if not affine."""
    a, b = [], []
    x = np.array([0.0, 1.0, 0.3])
    for r in range(model.n_regimes):
        v2 = (np.asarray(model.vix(x, np.full(3, r)), dtype=float) / 100.0) ** 2
        ar, br = v2[1] - v2[0], v2[0]
        if not math.isclose(v2[2], br + 0.3 * ar, rel_tol=1e-9, abs_tol=1e-12):
            return None
        a.append(ar)
        b.append(br)
    return np.array(a), np.array(b)


def _one_step_mean(model: PathModel, dt: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-regime ``(c, d)`` with ``E_Q[var_{t+1} | var_t = x, regime j in force] = c[j] + d[j] x``.

    Read off the model's quadrature :meth:`~alvh.models.base.PathModel.q_step` at ``x = 0, 1`` and checked
    at ``x = 0.3``; ``None`` when it is not affine.
    """
    c, d = [], []
    x = np.array([0.0, 1.0, 0.3])
    for r in range(model.n_regimes):
        xn, w = model.q_step(x, dt, r)
        mean = (np.asarray(xn) * np.broadcast_to(np.asarray(w, dtype=float), np.shape(xn))).sum(axis=1)
        cr, dr = mean[0], mean[1] - mean[0]
        if not math.isclose(mean[2], cr + 0.3 * dr, rel_tol=1e-8, abs_tol=1e-12):
            return None
        c.append(cr)
        d.append(dr)
    return np.array(c), np.array(d)


def q_first_moments(model: PathModel, var0: float, regime0: int, steps, dt: float = _DT
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Q first moments of the variance by regime: ``M_k(j) = E_Q[var_k 1{r_k = j}]``, ``p_k(j) = Pr_Q(r_k = j)``.

    Parameters
    ----------
    model : PathModel
        Its :meth:`~alvh.models.base.PathModel.q_step` must have a one-step mean affine in the variance
        (true for every model in :mod:`models`).
    var0 : float
        Initial variance (annualised).
    regime0 : int
        Initial regime.
    steps : sequence of int
        Horizons in steps, >= 0.
    dt : float, default 1/252
        Step in years.

    Returns
    -------
    M, p : ndarray of shape (len(steps), n_regimes)
        ``M`` in annualised variance, ``p`` probabilities.

    Raises
    ------
    ValueError
        If the one-step Q mean of :meth:`q_step` is not affine in the variance.

    Notes
    -----
    The regime switches at the start of a step (:class:`alvh.pricing.MarkovVixTable`,
    :mod:`alvh.models.regimes`), then the variance moves with mean ``c_j + d_j x``::

        p_{k+1} = P^T p_k,      M_{k+1}(j) = c_j p_{k+1}(j) + d_j (P^T M_k)(j)

    (the mean recursion of a Markov-modulated affine process; Elliott, Siu & Chan 2007). The
    quadratures of :meth:`q_step` are moment-matched to the exact one-step mean in every model
    here, so this is the exact Q mean; for SVCJ it is the mean of the continuous-time process,
    which differs from that of its simulation scheme by ``~ lam_j mu_v kappa dt^2 / 2`` per step
    (:meth:`alvh.models.jumps.SvcjModel.q_model`).
    """
    cd = _one_step_mean(model, dt)
    if cd is None:
        raise ValueError(f"the one-step Q mean of {model.name}.q_step is not affine in the variance")
    c, d = cd
    pt = np.asarray(model.regime_transition(dt), dtype=float).T
    n = model.n_regimes
    p = np.zeros(n)
    p[int(regime0)] = 1.0
    m = p * float(var0)
    steps = np.asarray(steps, dtype=int)
    out_m = np.empty((steps.size, n))
    out_p = np.empty((steps.size, n))
    for k in range(int(steps.max()) + 1 if steps.size else 0):
        hit = steps == k
        out_m[hit], out_p[hit] = m, p
        p = pt @ p
        m = c * p + d * (pt @ m)
    return out_m, out_p


class _Moments:
    """Running sums of centred ``Y`` (payoffs, columns) and ``X`` (control), for the control-variate estimate."""

    def __init__(self, n_y: int) -> None:
        self.n = 0
        self.sy = np.zeros(n_y)
        self.syy = np.zeros(n_y)
        self.sxy = np.zeros(n_y)
        self.sx = 0.0
        self.sxx = 0.0

    def add(self, y: np.ndarray, x: np.ndarray) -> None:
        self.n += x.size
        self.sy += y.sum(axis=0)
        self.syy += (y * y).sum(axis=0)
        self.sxy += (x[:, None] * y).sum(axis=0)
        self.sx += float(x.sum())
        self.sxx += float((x * x).sum())

    def estimate(self, use_cv: bool):
        """``(mean, se, se_plain, z_control)`` of the centred payoffs (``X`` is centred at its exact mean)."""
        n = self.n
        my, mx = self.sy / n, self.sx / n
        vy = (self.syy / n - my * my) * n / (n - 1)
        vx = (self.sxx / n - mx * mx) * n / (n - 1)
        cxy = (self.sxy / n - mx * my) * n / (n - 1)
        se_plain = np.sqrt(np.maximum(vy, 0.0) / n)
        z_control = mx / math.sqrt(vx / n) if vx > 0 else 0.0
        if not use_cv or vx <= 0:
            return my, se_plain, se_plain, z_control
        beta = cxy / vx
        mean = my - beta * mx                     # E[X] = 0 after centring
        se = np.sqrt(np.maximum(vy - cxy * cxy / vx, 0.0) / n)
        return mean, se, se_plain, z_control
