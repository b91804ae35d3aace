"""Throughput of surface pricing (:func:`benchmark_surface`): surface lookup plus Black–Scholes
against Black–Scholes alone.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from alvh.models.heston import HestonModel, HestonParams
from alvh.pricing import black_scholes
from alvh.surface.base import SpxSurface
from alvh.surface.fourier import FourierSurface
from alvh.surface.greeks import surface_option

__all__ = ["benchmark_surface"]


def benchmark_surface(surface: SpxSurface | None = None, n: int = 100_000, repeats: int = 7,
                      seed: int = 0) -> dict:
    """Option evaluations per second: surface lookup + Black–Scholes vs Black–Scholes alone.

    Parameters
    ----------
    surface : SpxSurface, optional
        Default: a :class:`FourierSurface` of a Heston model (``kappa_q = 2, theta_q = 0.04,
        sigma = 0.6, rho = -0.7``, ``tau_max = 0.5``), whose build time is reported.
    n : int, default 100000
        Options per evaluation (random spot 2000..3000, strike within -20%..+10% of spot, maturity
        1..120 trading days, variance of VIX 10..80, half calls).
    repeats : int, default 7
        Timed repetitions; the best is kept.
    seed : int, default 0

    Returns
    -------
    dict
        ``surface_bs_per_s`` (implied vol from the surface, then price and delta),
        ``surface_greeks_per_s`` (:func:`surface_option`, all five Greeks),
        ``bs_only_per_s`` (price and delta at a given vol: the floor), ``n``, ``surface`` (class
        name) and ``build_seconds`` (when built here, else ``None``).
    """
    build = None
    if surface is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hp = HestonParams(v0=0.04, kappa=2.0, theta=0.04, sigma=0.6, rho=-0.7)
        surface = FourierSurface(HestonModel(hp), tau_max=0.5)
        build = surface.build_seconds
    rng = np.random.default_rng(seed)
    spot = rng.uniform(2000.0, 3000.0, n)
    strike = spot * np.exp(rng.uniform(-0.2, 0.1, n))
    tau = rng.integers(1, 121, n) / 252.0
    var = np.asarray(surface.model.var_from_vix(rng.uniform(10.0, 80.0, n)), dtype=float)
    is_call = rng.random(n) < 0.5
    rate, div = 0.02, 0.018
    vol = np.full(n, 0.2)

    def best(fn):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return n / min(times)

    def with_surface():
        fwd = spot * np.exp((rate - div) * tau)
        iv = surface.implied_vol(np.log(strike / fwd), tau, var)
        return black_scholes(spot, strike, tau, rate, div, iv, is_call)

    return {
        "n": n,
        "surface": type(surface).__name__,
        "build_seconds": build,
        "surface_bs_per_s": best(with_surface),
        "surface_greeks_per_s": best(lambda: surface_option(spot, strike, tau, var, is_call, surface, rate, div)),
        "bs_only_per_s": best(lambda: black_scholes(spot, strike, tau, rate, div, vol, is_call)),
    }
