"""How the kernels are compiled: their argument types, the decorator :func:`_jit` and the
reference-count-free view :func:`borrow`.

All kernels are compiled ahead for one signature each (read-only, any-layout float64 / int64 / bool
arrays), so no call pattern triggers a new compilation, and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
from numba import types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

__all__ = ["borrow"]


# ================================================================================================
# signatures
# ================================================================================================

_F1 = types.Array(types.float64, 1, "A", readonly=True)
_F2 = types.Array(types.float64, 2, "A", readonly=True)
_F3 = types.Array(types.float64, 3, "A", readonly=True)
_F4 = types.Array(types.float64, 4, "A", readonly=True)
_I1 = types.Array(types.int64, 1, "A", readonly=True)
_I2 = types.Array(types.int64, 2, "A", readonly=True)
_B2 = types.Array(types.boolean, 2, "A", readonly=True)
_OUT = types.Array(types.float64, 2, "C")
_OUT_I = types.Array(types.int64, 2, "C")
_f8, _i8, _b1 = types.float64, types.int64, types.boolean


def _jit(*sig):
    """``numba.njit`` with numpy's floating-point error model (``1/0 = inf``, no exceptions), cached."""
    return numba.njit(*sig, cache=True, error_model="numpy", nogil=True)


@intrinsic
def borrow(typingctx, arr):
    """A view of ``arr`` (same data, shape and strides) that carries no reference count, for use
    inside a compiled kernel while ``arr`` itself stays alive (a kernel argument, say).

    numba reference-counts every array it hands to a function call, with an atomic increment and
    decrement of the array's memory block per call; in the strategy engine, whose helpers take the
    pricing tables as arrays, those atomics measured over half of the kernel's time (``perf``). A
    view without a memory block (``meminfo`` NULL, as numba's ``carray`` makes) makes them no-ops.
    The caller guarantees the lifetime: never return a borrowed view or keep it past ``arr``.
    """
    if not isinstance(arr, types.Array):
        return None         # typing fails here, not in code generation
    def codegen(context, builder, sig, args):  # noqa: E306
        src = make_array(sig.args[0])(context, builder, value=args[0])
        out = make_array(sig.return_type)(context, builder)
        populate_array(out, data=src.data, shape=src.shape, strides=src.strides, itemsize=src.itemsize,
                       meminfo=None)
        return out._getvalue()
    return arr(arr), codegen
