"""The choice of SPX surface for a model (:func:`make_surface`): Fourier or SSVI."""

from __future__ import annotations

from alvh.surface.base import SpxSurface
from alvh.surface.cos import FOURIER_MODELS, _as_model, _fourier_model
from alvh.surface.fourier import FourierSurface
from alvh.surface.ssvi import SsviSurface

__all__ = ["make_surface"]


def make_surface(model, kind: str = "auto", smile=None, tau_max: float = 0.5, **options) -> SpxSurface:
    """The SPX surface for ``model``.

    Parameters
    ----------
    model : PathModel or HestonParams
    kind : {"auto", "model", "ssvi"}, default "auto"
        ``"auto"``: :class:`FourierSurface` for Heston, Bates and SVCJ (and a historical replay
        priced by one of them), :class:`SsviSurface` otherwise; ``"model"``: the Fourier surface
        or an error; ``"ssvi"``: the SSVI surface whatever the model.
    smile : alvh.pricing.SpxSmile, optional
        Shape of the SSVI surface (default ``SpxSmile()``); unused by the Fourier surface.
    tau_max : float, default 0.5
        Longest maturity of the Fourier surface's grid (years); longer maturities use its last
        maturity's smile shape.
    **options
        Passed to :class:`FourierSurface` (grid sizes, ...).

    Returns
    -------
    SpxSurface

    Raises
    ------
    ValueError
        Unknown ``kind``, or ``kind="model"`` for a model without a semi-analytic price.
    """
    model = _as_model(model)
    if kind not in ("auto", "model", "ssvi"):
        raise ValueError(f"surface kind must be 'auto', 'model' or 'ssvi', got {kind!r}")
    fourier = _fourier_model(model) is not None
    if kind == "model" and not fourier:
        raise ValueError(
            f"kind='model' needs a model with a semi-analytic option price "
            f"({', '.join(c.name for c in FOURIER_MODELS)}); the {model.name} model has none, use 'ssvi' or 'auto'"
        )
    if kind == "model" or (kind == "auto" and fourier):
        return FourierSurface(model, tau_max=tau_max, **options)
    if smile is None:
        from alvh.pricing import SpxSmile  # imported here: alvh.pricing may import this module

        smile = SpxSmile()
    return SsviSurface(model, smile)
