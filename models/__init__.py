"""Market dynamics: models, their calibration to data, and the model-implied VIX.

No I/O, no parallelism, no result containers here; draws are passed in (or a Generator is).

Every model implements :class:`alvh.models.base.PathModel`: ``heston`` (:class:`alvh.models.heston.HestonModel`),
``bates`` and ``svcj`` (:mod:`alvh.models.jumps`), ``gjr_garch`` (:mod:`alvh.models.garch`), ``regime_heston``
(:mod:`alvh.models.regimes`) and the historical replay (:mod:`alvh.models.replay`); :mod:`alvh.models.stress` overlays
scripted shocks on any of them.
"""

from alvh.models.base import FitReport, Paths, PathModel, State
from alvh.models.heston import FellerConditionWarning, HestonModel, HestonParams, simulate_qe

__all__ = ["FellerConditionWarning", "FitReport", "HestonModel", "HestonParams", "Paths", "PathModel", "State",
           "simulate_qe"]
