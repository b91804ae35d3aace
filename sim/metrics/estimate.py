"""A Monte Carlo estimate with its error (:class:`Estimate`) and the two-sided 95% normal quantile."""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

#: Two-sided 95% normal quantile.
Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate with its error.

    Attributes
    ----------
    value : float
    se : float
        Standard error (NaN where only an interval is available).
    ci_low, ci_high : float
        95% confidence interval.
    """

    value: float
    se: float
    ci_low: float
    ci_high: float

    @classmethod
    def normal(cls, value: float, se: float) -> "Estimate":
        """Estimate with a normal 95% interval ``value +- 1.96 se``."""
        return cls(float(value), float(se), float(value - Z95 * se), float(value + Z95 * se))
