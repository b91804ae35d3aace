"""Scripted stress overlays for any path model: shocks on given days and an event calendar.

A :class:`Shock` replaces the model's move on one day by a scripted one: the SPX closes at exactly
``(1 + spx_return)`` times the previous close and the VIX at exactly ``vix_multiplier`` times the
previous VIX (then ``var_jump`` is added to the variance, and a regime may be forced). The path
then goes on from the shocked state under the model's own dynamics, so the aftermath (variance
decay, regime persistence, contango) is the model's. :func:`simulate_with_overlays` runs a model
in segments between shock days, all from one ``Generator``.

:func:`event_intensity` builds a scheduled-event calendar (FOMC/CPI-like days every ~6 weeks)
whose jump intensity is a multiple of the base; it acts only on models with jumps.

Presets (:data:`PRESETS`) are real days. Where the bundled data (``arch``'s S&P 500 1999-2018 and
VIX 2014-2018) holds the day, :func:`preset_shock` measures the move from it; the rest carry
published closes, cited per preset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alvh.models.base import Paths, PathModel, State

__all__ = ["Shock", "PRESETS", "preset_shock", "apply_shock", "event_intensity", "simulate_with_overlays"]


@dataclass(frozen=True)
class Shock:
    """A scripted one-day move.

    Parameters
    ----------
    day : int
        Trading day of the shock, ``1..n_steps`` (day 0 is the start).
    spx_return : float
        Simple SPX return of the day, > -1 (``-0.041`` = -4.1%).
    vix_multiplier : float, default 1
        VIX close of the day over the previous close, > 0 (``2.16`` = +116%).
    var_jump : float, default 0
        Added to the variance state after the VIX move (annualised variance, >= 0).
    regime : int or None, default None
        Regime forced from the shock day on (regime-switching models), or ``None`` to keep it.
    name : str
        Label for reports.

    Raises
    ------
    ValueError
        If a field breaks its rule.
    """

    day: int
    spx_return: float
    vix_multiplier: float = 1.0
    var_jump: float = 0.0
    regime: int | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        if int(self.day) != self.day or self.day < 1:
            raise ValueError(f"shock day must be an integer >= 1, got {self.day}")
        if not self.spx_return > -1.0:
            raise ValueError(f"shock spx_return must be > -1, got {self.spx_return}")
        if not self.vix_multiplier > 0.0:
            raise ValueError(f"shock vix_multiplier must be > 0, got {self.vix_multiplier}")
        if not self.var_jump >= 0.0:
            raise ValueError(f"shock var_jump must be >= 0, got {self.var_jump}")


#: Real days: date -> (description, SPX return or None to measure from the data, VIX multiplier or
#: None to measure, source of any number not in the bundled data).
PRESETS: dict[str, tuple[str, float | None, float | None, str]] = {
    "2018-02-05": ("'Volmageddon': SPX -4.1%, VIX +116%", None, None, "bundled arch S&P 500 and VIX closes"),
    "2015-08-24": ("August 2015 flash crash", None, None, "bundled arch S&P 500 and VIX closes"),
    "2008-10-15": (
        "October 2008: SPX -9.0%, VIX 55.13 -> 69.25", None, 69.25 / 55.13,
        "SPX from the bundled arch S&P 500; VIX closes 2008-10-14 55.13 and 2008-10-15 69.25 (CBOE VIX history)",
    ),
    "1987-10-19": (
        "Black Monday: SPX -20.5%, VXO 36.37 -> 150.19", 224.84 / 282.70 - 1.0, 150.19 / 36.37,
        "S&P 500 closes 282.70 -> 224.84 (S&P Dow Jones Indices); VXO, the VIX's predecessor, 36.37 -> 150.19 "
        "(CBOE, '25 years ago the VXO index topped 150', 2012)",
    ),
}


def preset_shock(name: str, day: int, spx_dates=None, spx=None, vix_dates=None, vix=None) -> Shock:
    """The :class:`Shock` of a real day in :data:`PRESETS`, placed on simulation day ``day``.

    Parameters
    ----------
    name : str
        A key of :data:`PRESETS` (ISO date).
    day : int
        Simulation day of the shock.
    spx_dates, spx : array_like, optional
        Dates (``numpy.datetime64`` or ISO strings) and closes of the SPX, to measure the move
        where the preset does not carry it.
    vix_dates, vix : array_like, optional
        Same for the VIX.

    Raises
    ------
    ValueError
        Unknown preset, or the data needed to measure it is missing.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown stress preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    _, ret, mult, _ = PRESETS[name]
    day_ = np.datetime64(name, "D")

    def move(dates, closes, what):
        if dates is None or closes is None:
            raise ValueError(f"preset {name} needs the {what} series to measure its move")
        d = np.asarray(dates).astype("datetime64[D]")
        i = np.flatnonzero(d == day_)
        if i.size == 0 or i[0] == 0:
            raise ValueError(f"preset {name}: {what} has no close on {name} and the day before")
        c = np.asarray(closes, dtype=float)
        return c[i[0]] / c[i[0] - 1]

    if ret is None:
        ret = move(spx_dates, spx, "SPX") - 1.0
    if mult is None:
        mult = move(vix_dates, vix, "VIX")
    return Shock(day=day, spx_return=float(ret), vix_multiplier=float(mult), name=name)


def apply_shock(model: PathModel, state: State, shock: Shock) -> State:
    """The state after ``shock``, from the previous day's ``state``.

    SPX: ``spot * (1 + spx_return)``; VIX: ``model.vix(var) * vix_multiplier``, turned back into a
    variance by :meth:`~alvh.models.base.PathModel.var_from_vix` (exact wherever the shocked VIX is
    above the model's floor), plus ``var_jump``.
    """
    regime = state.regime if shock.regime is None else np.full_like(state.regime, shock.regime)
    vix = model.vix(state.var, state.regime) * shock.vix_multiplier
    var = model.var_from_vix(vix, regime) + shock.var_jump
    return State(state.spot * (1.0 + shock.spx_return), var, regime)


def event_intensity(n_steps: int, every_days: int = 30, multiplier: float = 4.0, first_day: int = 1) -> np.ndarray:
    """Jump-intensity multipliers for a calendar of scheduled events.

    Parameters
    ----------
    n_steps : int
        Steps (trading days) simulated.
    every_days : int, default 30
        Trading days between events (30 is about six calendar weeks, the FOMC cycle).
    multiplier : float, default 4
        Intensity on an event day relative to other days, >= 0.
    first_day : int, default 1
        Trading day of the first event, >= 1.

    Returns
    -------
    ndarray of shape (n_steps,)
        Element ``t`` scales the intensity of the step from day ``t`` to day ``t + 1``; event day
        ``d`` is the step ending on ``d``.
    """
    if every_days < 1 or first_day < 1 or multiplier < 0:
        raise ValueError("event calendar needs every_days >= 1, first_day >= 1 and multiplier >= 0")
    out = np.ones(n_steps)
    out[np.arange(first_day - 1, n_steps, every_days)] = multiplier
    return out


def simulate_with_overlays(
    model: PathModel, state0: State, n_steps: int, dt: float, rng: np.random.Generator,
    shocks: tuple[Shock, ...] = (), intensity: np.ndarray | None = None,
) -> Paths:
    """Simulate ``model`` with scripted shocks, segment by segment.

    Parameters
    ----------
    model : PathModel
    state0 : State
        Day-0 state.
    n_steps : int
        Total steps.
    dt : float
        Years per step.
    rng : numpy.random.Generator
        Source of all draws (the segments use it in order, so a run is reproducible).
    shocks : tuple of Shock
        On distinct days within ``1..n_steps``.
    intensity : ndarray of shape (n_steps,), optional
        Jump-intensity multipliers (:func:`event_intensity`).

    Returns
    -------
    Paths
        ``n_steps + 1`` columns. On a shock day ``d``: ``spot[:, d] = spot[:, d-1] (1 + r)`` and
        ``vix[:, d] = vix[:, d-1] * m`` exactly (for a shocked VIX above the model's floor).

    Raises
    ------
    ValueError
        Shock days outside ``1..n_steps`` or repeated.
    """
    days = [s.day for s in shocks]
    if len(set(days)) != len(days):
        raise ValueError(f"shock days must be distinct, got {sorted(days)}")
    if any(d > n_steps for d in days):
        raise ValueError(f"shock days must be within 1..{n_steps}, got {sorted(days)}")
    if intensity is not None and len(intensity) != n_steps:
        raise ValueError(f"intensity must have {n_steps} entries, got {len(intensity)}")
    paths = Paths.from_state(model, state0)
    t = 0
    for shock in sorted(shocks, key=lambda s: s.day):
        if shock.day - 1 > t:
            seg = model.simulate(paths.state(t), shock.day - 1 - t, dt, rng,
                                 None if intensity is None else intensity[t:shock.day - 1])
            paths = paths.then(Paths(seg.spot[:, 1:], seg.var[:, 1:], seg.vix[:, 1:], seg.regime[:, 1:]))
        shocked = apply_shock(model, paths.state(shock.day - 1), shock)
        paths = paths.then(Paths.from_state(model, shocked))
        t = shock.day
    if n_steps > t:
        seg = model.simulate(paths.state(t), n_steps - t, dt, rng, None if intensity is None else intensity[t:])
        paths = paths.then(Paths(seg.spot[:, 1:], seg.var[:, 1:], seg.vix[:, 1:], seg.regime[:, 1:]))
    return paths
