"""Compiled (numba, nopython) path kernels; the numpy code they mirror stays the reference.

Heston QE (Andersen 2008) with martingale correction, compiled:

* :func:`heston_qe_kernel` steps paths on given normals into caller-owned arrays, with the
  arithmetic of :func:`alvh.models.heston.qe_step`; on the same normals it agrees with
  ``simulate_qe(..., engine="numpy")`` to rounding (~1e-15 relative; see its Notes).
* :func:`simulate_heston_qe` draws the normals inside compiled code from a
  :class:`numpy.random.Generator`, in the order of ``rng.standard_normal((n_paths, n_steps,
  2))`` (path, step, [variance, price]), bit for bit the same numbers: NumPy's 256-step ziggurat
  on the same bit-generator state. So its paths are those of
  ``simulate_qe(..., rng=rng, n_paths=n_paths, engine="numpy")`` from the same seed, and ``rng``
  is left in the same state. (numba's own ``Generator.standard_normal`` runs that ziggurat,
  numba/np/random/distributions.py, calling the bit generator through its C function pointers;
  for PCG64, ``default_rng``'s bit generator, it is run here on PCG64 inlined, ~20% faster.)

How it is fast (one core): paths are stepped in blocks of :data:`BLOCK`. A block's normals go
into a small time-major buffer; each step is then one loop over the block's paths that LLVM
vectorises (AVX2): the quadratic branch without any call, ``log(1 - 2 A a)`` from its Taylor
series. The few paths where that does not apply (exponential branch; ``|2 A a| > 0.01``) are
redone in short scalar loops over just them. Prices are kept as log-prices and exponentiated
by NumPy, as the reference does, chunk by chunk (:data:`CHUNK` paths) while still in cache.

The exponential branch needs the standard normal cdf: :func:`ndtr` ports the Cephes
``ndtr``/``erf``/``erfc`` that :func:`scipy.special.ndtr` evaluates (scipy's ``xsf`` library,
``xsf/cephes/ndtr.h``), equal to it bit for bit, so that both engines see the same uniform.
No ``fastmath``: it would let LLVM fuse multiply-adds and reassociate, breaking that equality
and the variance's bit-for-bit agreement with the reference.

Units: time in years, variance annualised, prices in index points; arrays are ``(path, time)``.

Submodules: :mod:`alvh.models.kernels.normcdf` (:func:`ndtr`), :mod:`alvh.models.kernels.qe` (the
step constants, the one-path step and the vectorised block stepping), :mod:`alvh.models.kernels.draws`
(the ziggurat normals on PCG64) and :mod:`alvh.models.kernels.paths` (:data:`BLOCK`, :data:`CHUNK` and
the drivers :func:`heston_qe_kernel`, :func:`simulate_heston_qe`).
"""

from alvh import jitcache

jitcache.check()      # before any kernel is compiled or loaded from numba's cache (alvh.jitcache)

from alvh.models.kernels.draws import _pcg64_standard_normal, _pcg64_state  # noqa: E402
from alvh.models.kernels.normcdf import ndtr  # noqa: E402
from alvh.models.kernels.paths import BLOCK, CHUNK, heston_qe_kernel, simulate_heston_qe  # noqa: E402
from alvh.models.kernels.qe import qe_constants  # noqa: E402

__all__ = ["BLOCK", "CHUNK", "ndtr", "qe_constants", "heston_qe_kernel", "simulate_heston_qe"]
