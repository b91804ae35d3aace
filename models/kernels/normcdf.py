"""The standard normal cdf for compiled code: :func:`ndtr`, Cephes' ``ndtr`` ported, bit for bit
:func:`scipy.special.ndtr` (no ``fastmath``, so that LLVM keeps Cephes' order of operations)."""

from __future__ import annotations

import math

import numba


_MAXLOG = 7.09782712893383996843E2
_SQRT1_2 = 0.70710678118654752440


# Cephes ndtr.c's six polynomials (Moshier 1992), coefficients as in scipy's
# xsf/cephes/ndtr.h, written out (constants in the code, no loop) in Cephes' order of operations.


@numba.njit(cache=True, inline="always")
def _ndtr_p(x):
    """Cephes ``polevl(x, P, 8)``: Horner from the leading coefficient."""
    ans = 2.46196981473530512524E-10
    ans = ans * x + 5.64189564831068821977E-1
    ans = ans * x + 7.46321056442269912687E0
    ans = ans * x + 4.86371970985681366614E1
    ans = ans * x + 1.96520832956077098242E2
    ans = ans * x + 5.26445194995477358631E2
    ans = ans * x + 9.34528527171957607540E2
    ans = ans * x + 1.02755188689515710272E3
    ans = ans * x + 5.57535335369399327526E2
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_q(x):
    """Cephes ``p1evl(x, Q, 8)``: Horner with a leading 1."""
    ans = x + 1.32281951154744992508E1
    ans = ans * x + 8.67072140885989742329E1
    ans = ans * x + 3.54937778887819891062E2
    ans = ans * x + 9.75708501743205489753E2
    ans = ans * x + 1.82390916687909736289E3
    ans = ans * x + 2.24633760818710981792E3
    ans = ans * x + 1.65666309194161350182E3
    ans = ans * x + 5.57535340817727675546E2
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_r(x):
    """Cephes ``polevl(x, R, 5)``: Horner from the leading coefficient."""
    ans = 5.64189583547755073984E-1
    ans = ans * x + 1.27536670759978104416E0
    ans = ans * x + 5.01905042251180477414E0
    ans = ans * x + 6.16021097993053585195E0
    ans = ans * x + 7.40974269950448939160E0
    ans = ans * x + 2.97886665372100240670E0
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_s(x):
    """Cephes ``p1evl(x, S, 6)``: Horner with a leading 1."""
    ans = x + 2.26052863220117276590E0
    ans = ans * x + 9.39603524938001434673E0
    ans = ans * x + 1.20489539808096656605E1
    ans = ans * x + 1.70814450747565897222E1
    ans = ans * x + 9.60896809063285878198E0
    ans = ans * x + 3.36907645100081516050E0
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_t(x):
    """Cephes ``polevl(x, T, 4)``: Horner from the leading coefficient."""
    ans = 9.60497373987051638749E0
    ans = ans * x + 9.00260197203842689217E1
    ans = ans * x + 2.23200534594684319226E3
    ans = ans * x + 7.00332514112805075473E3
    ans = ans * x + 5.55923013010394962768E4
    return ans


@numba.njit(cache=True, inline="always")
def _ndtr_u(x):
    """Cephes ``p1evl(x, U, 5)``: Horner with a leading 1."""
    ans = x + 3.35617141647503099647E1
    ans = ans * x + 5.21357949780152679795E2
    ans = ans * x + 4.59432382970980127987E3
    ans = ans * x + 2.26290000613890934246E4
    ans = ans * x + 4.92673942608635921086E4
    return ans


@numba.njit(cache=True)
def ndtr(a: float) -> float:
    """Standard normal cdf ``Phi(a)``, bit for bit :func:`scipy.special.ndtr`.

    Parameters
    ----------
    a : float
        Argument (not NaN).

    Returns
    -------
    float
        ``Phi(a)`` in [0, 1].

    Notes
    -----
    Cephes ``ndtr`` (Moshier 1992) as translated in scipy's ``xsf/cephes/ndtr.h``:
    ``0.5 + 0.5 erf(a/sqrt 2)`` for ``|a/sqrt 2| < 1``, else ``0.5 erfc(|a|/sqrt 2)`` (reflected
    for ``a > 0``), with Cephes' rational approximations of ``erf`` and ``erfc``.
    """
    x = a * _SQRT1_2
    z = abs(x)
    if z < 1.0:
        # erf(x) for |x| < 1: x P4(x^2) / Q5(x^2), odd
        ax = abs(x)
        zz = ax * ax
        e = ax * _ndtr_t(zz) / _ndtr_u(zz)
        if x < 0.0:
            e = -e
        return 0.5 + 0.5 * e
    # erfc(z) for z >= 1
    w = -z * z
    if w < -_MAXLOG:
        y = 0.0
    else:
        w = math.exp(w)
        if z < 8.0:
            p = _ndtr_p(z)
            q = _ndtr_q(z)
        else:
            p = _ndtr_r(z)
            q = _ndtr_s(z)
        y = 0.5 * ((w * p) / q)
    if x > 0:
        y = 1.0 - y
    return y
