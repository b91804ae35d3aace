"""The machine ``alvh bench`` ran on: CPU, cores, load and the versions of the packages it times."""

from __future__ import annotations

import contextlib
import os
import platform

import numpy as np


def machine_info() -> dict:
    """CPU model (``/proc/cpuinfo``), cores, 1-minute load average, Python, numpy, numba and QuantLib versions.

    A load average near the number of cores means other processes compete for the CPU: the timings,
    (d)'s speedup above all, are then lower than on an idle machine.
    """
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import numba
        numba_version = numba.__version__
    except ImportError:  # pragma: no cover
        numba_version = None
    try:
        import QuantLib as ql
        ql_version = ql.__version__
    except ImportError:
        ql_version = None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return dict(cpu=cpu, cores=os.cpu_count(), usable_cores=usable, load_1min=load, python=platform.python_version(),
                numpy=np.__version__, numba=numba_version, quantlib=ql_version)
