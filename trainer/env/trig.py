"""The sine of the market's price cycles (spec 1.6), compiled inline.

libm's sine is a call with a general argument reduction; the market takes six sines a step
of arguments below 1e3. This one reduces by pi/2 in three parts (Cody & Waite: k * HALF_PI_1
is exact for k < 2^20) and evaluates Taylor polynomials on [-pi/4, pi/4] (truncation error
below 5e-17). For |x| < 2^20 it is within 2^-53 of `math.sin`, and within 1 ulp where
|sin x| > 1e-3 (tests/env/test_trig.py).
"""

import math
from fractions import Fraction

from numba import njit

_PI = Fraction("3.14159265358979323846264338327950288419716939937510582097494459")
_HALF_PI = _PI / 2
HALF_PI_1 = math.floor(_HALF_PI * 2**32) / 2**32  # pi/2 to 33 bits
HALF_PI_2 = float(_HALF_PI - Fraction(HALF_PI_1))
HALF_PI_3 = float(_HALF_PI - Fraction(HALF_PI_1) - Fraction(HALF_PI_2))
TWO_OVER_PI = float(1 / _HALF_PI)
# Taylor coefficients: sin r = r + r^3 * sum S[k] r^(2k), cos r = 1 + r^2 * sum C[k] r^(2k)
_S = tuple((-1) ** (k + 1) / math.factorial(2 * k + 3) for k in range(7))  # to r^15
_C = tuple((-1) ** (k + 1) / math.factorial(2 * k + 2) for k in range(8))  # to r^16


@njit(cache=True, inline="always")
def _series(coefficients, r2):
    """The sum of coefficients[k] * r2^k, by Horner's rule."""
    p = coefficients[-1]
    for k in range(len(coefficients) - 2, -1, -1):
        p = p * r2 + coefficients[k]
    return p


@njit(cache=True, inline="always")
def _sin_poly(r):
    r2 = r * r
    return r + r * r2 * _series(_S, r2)


@njit(cache=True, inline="always")
def _cos_poly(r):
    r2 = r * r
    return 1.0 + r2 * _series(_C, r2)


@njit(cache=True, inline="always")
def sine(x):
    """sin(x) for |x| < 2^20."""
    k = math.floor(x * TWO_OVER_PI + 0.5)
    r = ((x - k * HALF_PI_1) - k * HALF_PI_2) - k * HALF_PI_3
    quadrant = int(k) & 3
    # both polynomials, then a select: a branch on the quadrant mispredicts half the time
    sin_r = _sin_poly(r)
    cos_r = _cos_poly(r)
    value = cos_r if quadrant & 1 else sin_r
    return -value if quadrant & 2 else value
