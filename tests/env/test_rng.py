"""The ziggurat draws (trainer.env.rng) follow their distributions, tails included."""

import math

import numpy as np
import pytest
from numba import njit

from trainer.env.rng import exponential, normal, pcg32_seed

SAMPLES = 400_000
KS_CRITICAL = 1.95 / math.sqrt(SAMPLES)  # Kolmogorov-Smirnov at the 0.1% level


@njit(cache=True)
def _draws(exponential_draws, n, seed):
    rng = np.zeros(1, dtype=np.uint64)
    pcg32_seed(rng, 0, seed)
    out = np.empty(n)
    for k in range(n):
        out[k] = exponential(rng, 0) if exponential_draws else normal(rng, 0, 0.0, 1.0)
    return out


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _exponential_cdf(x: np.ndarray) -> np.ndarray:
    return 1.0 - np.exp(-x)


def _assert_tail_share(share: float, expected: float) -> None:
    """A binomial share within 5 standard deviations of its expectation."""
    assert abs(share - expected) < 5.0 * math.sqrt(expected * (1.0 - expected) / SAMPLES), (share, expected)


@pytest.mark.parametrize(("exponential_draws", "cdf"), [(False, _normal_cdf), (True, _exponential_cdf)])
@pytest.mark.parametrize("seed", [1, 2])
def test_draws_follow_their_distribution(exponential_draws, cdf, seed):
    x = np.sort(_draws(exponential_draws, SAMPLES, seed))
    ranks = np.arange(1, SAMPLES + 1) / SAMPLES
    assert np.max(np.abs(cdf(x) - ranks)) < KS_CRITICAL


def test_normal_tails_beyond_the_base_layer_have_their_mass():
    x = np.abs(_draws(False, SAMPLES, 3))
    for bound in (3.6541528853610088, 4.0):  # the ziggurat's base layer ends at 3.654
        _assert_tail_share(float(np.mean(x > bound)), math.erfc(bound / math.sqrt(2.0)))


def test_exponential_tails_beyond_the_base_layer_have_their_mass():
    x = _draws(True, SAMPLES, 4)
    for bound in (7.69711747013104972, 9.0):
        _assert_tail_share(float(np.mean(x > bound)), math.exp(-bound))
