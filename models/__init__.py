"""Market dynamics: models, their calibration to data, and the model-implied VIX.

No I/O, no parallelism, no result containers here; draws are passed in (or a Generator is).
"""

from models.heston import FellerConditionWarning, HestonParams, simulate_qe

__all__ = ["FellerConditionWarning", "HestonParams", "simulate_qe"]
