"""The one reading of the environment switch ``ALVH_NUMPY_REFERENCE``.

``ALVH_NUMPY_REFERENCE=1`` (or ``true``, ``yes``, ``on``) when the package is first imported keeps
everything on its numpy reference: the pricing functions never load numba (:mod:`alvh.pricing`,
:mod:`alvh.surface`), the compiled kernels of :mod:`alvh.fastprice` are off, and
:func:`alvh.strategy.run_books` runs its numpy engine. It is read here, once; within a process,
:func:`alvh.fastprice.numpy_reference` and :func:`alvh.fastbook.numpy_engine` switch the same
things for a block of code.
"""

from __future__ import annotations

import os

__all__ = ["NUMPY_REFERENCE"]

#: Whether ``ALVH_NUMPY_REFERENCE`` asked for the numpy references (read at first import).
NUMPY_REFERENCE: bool = os.environ.get("ALVH_NUMPY_REFERENCE", "").strip().lower() in ("1", "true", "yes", "on")
