"""The market's sine (trainer.env.trig) agrees with libm's."""

import math

import numpy as np
from numba import njit

from trainer.env.trig import sine


@njit(cache=True)
def _sines(x):
    out = np.empty_like(x)
    for j in range(x.shape[0]):
        out[j] = sine(x[j])
    return out


def test_sine_is_within_an_ulp_of_libm_over_the_market_arguments_and_beyond():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(0.0, 1000.0, 500_000),  # the cycles' arguments (2 pi t / period + phase)
            rng.uniform(-1e6, 1e6, 100_000),
            np.arange(-4000, 4000) * (math.pi / 4),  # quadrant boundaries and zeros
        ]
    )
    got, want = _sines(x), np.sin(x)
    error = np.abs(got - want)
    assert error.max() <= 2.0**-53
    away_from_zero = np.abs(want) > 1e-3
    assert (error[away_from_zero] <= np.spacing(np.abs(want[away_from_zero]))).all()
