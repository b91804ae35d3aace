"""What every part of the compiled engine shares: numba (optional) and the ``_jit`` decorator, the
thread-local switch to the numpy engine (:func:`numpy_engine`), and the integer codes of the layer
rules (positions in the one vocabulary of :mod:`alvh.strategy`)."""

from __future__ import annotations

import contextlib
import threading

try:  # numba is optional: without it everything runs on the numpy engine
    import numba
    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    numba = None
    _HAVE_NUMBA = False

from alvh.strategy import INSTRUMENTS, SIZINGS, STRIKE_RULES, TRIGGERS  # noqa: E402  (the one vocabulary)

_LOCAL = threading.local()


@contextlib.contextmanager
def numpy_engine(on: bool = True):
    """Within this block (this thread), :func:`supported` says no: :func:`alvh.strategy.run_books` runs
    its numpy engine (the reference)."""
    prev = getattr(_LOCAL, "off", False)
    _LOCAL.off = bool(on)
    try:
        yield
    finally:
        _LOCAL.off = prev

# integer codes of the packed layer specs: a name's position in the one vocabulary of alvh.strategy
# (the kernel reads them as literals: instrument 2 future, 3 short call spread, 4 SPX put spread;
# strike rule 1 delta, 2 breakeven; trigger 1 vix_above, 2 vix_sustained, 3 condor_decay; sizing 1
# vega, 2 bands; the engine-equality tests fail if the vocabulary is reordered)
_INSTRUMENTS = {name: code for code, name in enumerate(INSTRUMENTS)}
_STRIKE_RULES = {name: code for code, name in enumerate(STRIKE_RULES)}
_TRIGGERS = {name: code for code, name in enumerate(TRIGGERS)}
_SIZINGS = {name: code for code, name in enumerate(SIZINGS)}
_GUIDE_BUCKETS = 4096


def _jit(f):
    return numba.njit(cache=True, error_model="numpy", nogil=True)(f) if _HAVE_NUMBA else f
