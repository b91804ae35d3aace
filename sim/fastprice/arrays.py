"""Kernel arguments as 2-D arrays: :func:`prepare` views each input in (rows, columns) and finds the
broadcast size, :func:`finish` gives a kernel's output the inputs' broadcast shape.

Array arguments of the kernels are 2-D (rows, columns) and broadcast inside the kernel: each
input has each dimension either 1 or the output's (:func:`prepare`).
"""

from __future__ import annotations

__all__ = ["prepare", "finish"]


def finish(out, shape):
    """A kernel's (rows, cols) output in the broadcast ``shape`` of :func:`prepare` (a numpy scalar for ``()``)."""
    if len(shape) == 2:
        return out
    if len(shape) == 1:
        return out[0]
    return out[0, 0]


def prepare(*arrays):
    """2-D views of ``arrays`` for a kernel, the kernel's output size and the result's shape.

    Parameters
    ----------
    *arrays : ndarray
        Each of 0, 1 or 2 dimensions.

    Returns
    -------
    tuple or None
        ``(views, rows, cols, shape)``: each array as a 2-D view (a 1-D array is one row), the
        broadcast 2-D size and the numpy broadcast shape of the inputs; ``None`` where a kernel
        does not apply (more than 2 dimensions, an empty array, shapes that do not broadcast),
        in which case the caller runs the numpy reference.
    """
    nd = 0
    rows = cols = 1
    views = []
    for a in arrays:
        sh = a.shape
        if len(sh) == 1:
            r, c = 1, sh[0]
            a = a.reshape(1, c)
            if nd == 0:
                nd = 1
        elif len(sh) == 2:
            r, c = sh
            nd = 2
        elif len(sh) == 0:
            r = c = 1
            a = a.reshape(1, 1)
        else:
            return None
        if r != 1:
            if rows == 1:
                rows = r
            elif r != rows:
                return None
        if c != 1:
            if cols == 1:
                cols = c
            elif c != cols:
                return None
        if r == 0 or c == 0:
            return None
        views.append(a)
    shape = (rows, cols) if nd == 2 else ((cols,) if nd == 1 else ())
    return views, rows, cols, shape
