"""Heston parameters under P, with the market price of variance risk that defines Q
(:class:`HestonParams`), and the warning raised when they break the Feller condition."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np


class FellerConditionWarning(UserWarning):
    """Raised as a warning when 2 kappa theta < sigma^2: the variance can touch zero.

    The QE scheme stays accurate in that case (Andersen 2008, sec. 3); the warning only flags it.
    """


@dataclass(frozen=True)
class HestonParams:
    """Heston parameters under P, plus the market price of variance risk that defines Q.

    Parameters
    ----------
    v0 : float
        Initial variance (annualised), > 0 allowed to be 0.
    kappa : float
        Mean-reversion speed of variance under P, per year, > 0.
    theta : float
        Long-run variance under P (annualised), > 0.
    sigma : float
        Volatility of variance ("vol of vol"), > 0.
    rho : float
        Correlation between price and variance shocks, in (-1, 1).
    mu : float, default 0.0
        Expected log-price drift plus half variance under P, i.e. ``E_P[dS/S] = mu dt``, per year.
    lam : float, default 0.0
        Market price of variance risk (Heston 1993, eq. 6); ``kappa + lam`` must be > 0.

    Raises
    ------
    ValueError
        If a parameter breaks its rule; the message states the rule and the value.

    Warns
    -----
    FellerConditionWarning
        If ``2 kappa theta < sigma**2``.
    """

    v0: float
    kappa: float
    theta: float
    sigma: float
    rho: float
    mu: float = 0.0
    lam: float = 0.0

    def __post_init__(self) -> None:
        for name in ("v0", "kappa", "theta", "sigma", "rho", "mu", "lam"):
            value = getattr(self, name)
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        if self.v0 < 0:
            raise ValueError(f"v0 must be >= 0, got {self.v0}")
        if self.kappa <= 0:
            raise ValueError(f"kappa must be > 0, got {self.kappa}")
        if self.theta <= 0:
            raise ValueError(f"theta must be > 0, got {self.theta}")
        if self.sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")
        if not -1.0 < self.rho < 1.0:
            raise ValueError(f"rho must be in (-1, 1), got {self.rho}")
        if self.kappa + self.lam <= 0:
            raise ValueError(
                f"kappa + lam (kappa under Q) must be > 0, got {self.kappa} + {self.lam}"
            )
        if 2.0 * self.kappa * self.theta < self.sigma**2:
            warnings.warn(
                f"Feller condition violated: 2*kappa*theta = {2 * self.kappa * self.theta:.4g} "
                f"< sigma^2 = {self.sigma ** 2:.4g}; variance can reach 0",
                FellerConditionWarning,
                stacklevel=3,
            )

    @property
    def kappa_q(self) -> float:
        """Mean-reversion speed under Q, ``kappa + lam``."""
        return self.kappa + self.lam

    @property
    def theta_q(self) -> float:
        """Long-run variance under Q, ``kappa theta / (kappa + lam)``."""
        return self.kappa * self.theta / (self.kappa + self.lam)

    @property
    def feller_ratio(self) -> float:
        """``2 kappa theta / sigma^2`` (the same under P and Q); below 1 the variance can hit 0."""
        return 2.0 * self.kappa * self.theta / self.sigma**2

    def q_params(self, drift: float = 0.0) -> "HestonParams":
        """The Q parameters as P parameters: ``kappa_q``, ``theta_q``, the same ``sigma`` and ``rho``,
        ``lam = 0`` and drift ``mu = drift`` (``r - q``); silent about Feller (Heston 1993, eq. 6)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)
            return HestonParams(v0=self.v0, kappa=self.kappa_q, theta=self.theta_q, sigma=self.sigma, rho=self.rho,
                                mu=float(drift), lam=0.0)

    def with_v0(self, v0: float) -> "HestonParams":
        """A copy with another initial variance."""
        d = asdict(self)
        d["v0"] = float(v0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)
            return HestonParams(**d)

    def to_dict(self) -> dict[str, float]:
        """Parameters (P and derived Q) as plain floats, for metadata."""
        d = {k: float(v) for k, v in asdict(self).items()}
        d.update(kappa_q=self.kappa_q, theta_q=self.theta_q, feller_ratio=self.feller_ratio)
        return d
