"""Market dynamics: models, their calibration to data, and the model-implied VIX.

No I/O, no parallelism, no result containers here; draws are passed in (or a Generator is).

Every model implements :class:`models.base.PathModel`: ``heston`` (:class:`models.heston.HestonModel`),
``bates`` and ``svcj`` (:mod:`models.jumps`), ``gjr_garch`` (:mod:`models.garch`), ``regime_heston``
(:mod:`models.regimes`) and the historical replay (:mod:`models.replay`); :mod:`models.stress` overlays
scripted shocks on any of them.
"""

from models.base import FitReport, Paths, PathModel, State
from models.heston import FellerConditionWarning, HestonModel, HestonParams, simulate_qe

__all__ = ["FellerConditionWarning", "FitReport", "HestonModel", "HestonParams", "Paths", "PathModel", "State",
           "simulate_qe"]
