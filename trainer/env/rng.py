"""PCG32 random streams and the distributions the game draws from (spec 1.9).

Every env owns one stream: a uint64 state in `rng[i]`. All draws are compiled functions that
advance that slot in place, so each env's randomness is independent of every other env's.
"""

import math

import numpy as np
from numba import njit

PCG_MULT = np.uint64(6364136223846793005)
PCG_STREAM = 54
PCG_INC = np.uint64((PCG_STREAM << 1) | 1)
TWO_PI = 2.0 * math.pi
INV_2_32 = 1.0 / 4294967296.0
MIN_UNIFORM = 1e-8


@njit(cache=True, inline="always")
def pcg32_next(rng, i):
    """Advance stream i and return its next 32-bit output."""
    old = rng[i]
    rng[i] = old * PCG_MULT + PCG_INC
    xorshifted = np.uint32(((old >> np.uint64(18)) ^ old) >> np.uint64(27))
    rot = np.uint32(old >> np.uint64(59))
    return np.uint32((xorshifted >> rot) | (xorshifted << ((np.uint32(32) - rot) & np.uint32(31))))


@njit(cache=True)
def pcg32_seed(rng, i, seed):
    """Seed stream i the PCG32 way: state 0, advance, add the seed, advance."""
    rng[i] = np.uint64(0)
    pcg32_next(rng, i)
    rng[i] = rng[i] + np.uint64(seed)
    pcg32_next(rng, i)


@njit(cache=True, inline="always")
def uniform01(rng, i):
    """A float in [0, 1): u32 / 2^32."""
    return pcg32_next(rng, i) * INV_2_32


@njit(cache=True, inline="always")
def uniform(rng, i, lo, hi):
    return lo + (hi - lo) * uniform01(rng, i)


@njit(cache=True, inline="always")
def integers(rng, i, lo, hi):
    """An int in [lo, hi): lo + u32 % span (with the original's modulo bias)."""
    return lo + np.int64(pcg32_next(rng, i) % np.uint32(hi - lo))


@njit(cache=True, inline="always")
def normal(rng, i, mean, std):
    """Box-Muller, cosine half only, no caching."""
    u1 = max(uniform01(rng, i), MIN_UNIFORM)
    u2 = uniform01(rng, i)
    return mean + std * math.sqrt(-2.0 * math.log(u1)) * math.cos(TWO_PI * u2)


@njit(cache=True, inline="always")
def exponential(rng, i):
    return -math.log(max(uniform01(rng, i), MIN_UNIFORM))


@njit(cache=True, inline="always")
def gamma_int(rng, i, k):
    """Gamma(k, 1) for a whole k: the sum of k exponentials."""
    total = 0.0
    for _ in range(k):
        total += exponential(rng, i)
    return total


@njit(cache=True)
def dirichlet_ones(rng, i, out):
    """Fill `out` with a Dirichlet(1, ..., 1) draw."""
    total = 0.0
    for c in range(out.shape[0]):
        out[c] = exponential(rng, i)
        total += out[c]
    for c in range(out.shape[0]):
        out[c] /= total


@njit(cache=True)
def beta_int(rng, i, a, b):
    """Beta(a, b) for whole a, b, via two gammas."""
    x = gamma_int(rng, i, a)
    y = gamma_int(rng, i, b)
    return x / (x + y)


@njit(cache=True, inline="always")
def splitmix64(x):
    """A 64-bit mixer, used to derive independent seeds from (seed, index) pairs."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def derive_seed(a, b, c):
    """A well-mixed 63-bit seed from three integers (e.g. batch seed, env index, episode)."""
    h = splitmix64(np.uint64(a))
    h = splitmix64(h ^ np.uint64(b))
    h = splitmix64(h ^ np.uint64(c))
    return h & np.uint64(0x7FFFFFFFFFFFFFFF)
