"""What the SPX and VIX pricers of :mod:`alvh.pricing` share: the switch to the compiled kernels of
:mod:`alvh.fastprice` (:func:`_fast`) and the model behind plain Heston parameters (:func:`as_model`).
"""

from __future__ import annotations

import sys

from alvh.models.base import PathModel
from alvh.models.heston import HestonModel, HestonParams
from alvh.switches import NUMPY_REFERENCE

__all__ = ["as_model"]


#: ``ALVH_NUMPY_REFERENCE=1`` keeps every pricing function on its numpy reference (numba is then never
#: imported); otherwise the compiled kernels of :mod:`alvh.fastprice` are used where they apply.
_NUMPY_REFERENCE = NUMPY_REFERENCE


def _fast():
    """:mod:`alvh.fastprice` when its compiled kernels are on (``alvh.fastprice.ENABLED``), else ``None``.

    Imported on first use, so that importing this module does not load numba.
    """
    fp = sys.modules.get("alvh.fastprice")
    if fp is None:
        if _NUMPY_REFERENCE:
            return None
        try:
            from alvh import fastprice as fp
        except ImportError:        # numba unavailable: the numpy reference
            return None
    return fp if fp.ENABLED else None


def as_model(model: PathModel | HestonParams) -> PathModel:
    """The :class:`alvh.models.base.PathModel` behind ``model`` (plain Heston parameters are wrapped)."""
    return HestonModel(model) if isinstance(model, HestonParams) else model
