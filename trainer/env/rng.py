"""PCG32 random streams and the distributions the game draws from (spec 1.9).

Every env owns one stream: a uint64 state in `rng[i]`. All draws are compiled functions that
advance that slot in place, so each env's randomness is independent of every other env's.

Normal and exponential draws use the ziggurat method (Marsaglia & Tsang 2000, with 256
layers and the layer index, sign and value taken from separate bits of one 64-bit draw as
in Doornik 2005): an exact rejection sampler that usually costs two PCG32 outputs, a table
lookup and a multiply, with no log, sqrt or cosine (those are left to the rare draws outside
the layers' inner rectangles). Values are resolved to 2^-53 of their layer's width.
"""

import math

import numpy as np
from numba import njit

PCG_MULT = np.uint64(6364136223846793005)
PCG_STREAM = 54
PCG_INC = np.uint64((PCG_STREAM << 1) | 1)
INV_2_32 = 1.0 / 4294967296.0


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
def uniform_open01(rng, i):
    """A float in (0, 1]: (u32 + 1) / 2^32, safe to take the log of."""
    return (pcg32_next(rng, i) + 1.0) * INV_2_32


@njit(cache=True, inline="always")
def next_u64(rng, i):
    """Two 32-bit outputs of stream i as one 64-bit word (the first is the high half)."""
    high = np.uint64(pcg32_next(rng, i))
    return (high << np.uint64(32)) | np.uint64(pcg32_next(rng, i))


ZIGGURAT_LAYERS = 256
_MANTISSA_BITS = 53
_MANTISSA_SCALE = 2.0**-_MANTISSA_BITS


def _ziggurat(density, inverse, r: float, tail_area: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables of a 256-layer ziggurat under the decreasing `density` on [0, inf) whose
    base layer starts at `r` (`tail_area`: the density's integral from r on). Layer k spans
    x in [0, edge[k]) and density values [f(edge[k]), f(edge[k+1])); a 53-bit integer m drawn
    for layer k gives x = m * width[k], accepted at once when m < inner[k] (x < edge[k+1],
    under the curve); the base layer's edge[0] is its area over f(r), so the part of it past
    r stands for the tail."""
    layer_area = r * density(r) + tail_area
    edge = np.zeros(ZIGGURAT_LAYERS + 1)
    edge[0] = layer_area / density(r)
    edge[1] = r
    for k in range(1, ZIGGURAT_LAYERS - 1):
        edge[k + 1] = inverse(density(edge[k]) + layer_area / edge[k])
    # edge[256] = 0: the top layer's area closes to within 1e-14 with these r
    width = edge[:-1] * _MANTISSA_SCALE
    inner = np.floor(edge[1:] / edge[:-1] / _MANTISSA_SCALE).astype(np.uint64)
    heights = np.array([density(x) for x in edge])
    return width, inner, heights


_NORMAL_R = 3.6541528853610088  # Marsaglia & Tsang's base for 256 layers
_NORMAL_WIDTH, _NORMAL_INNER, _NORMAL_DENSITY = _ziggurat(
    lambda x: math.exp(-0.5 * x * x),
    lambda y: math.sqrt(-2.0 * math.log(y)),
    _NORMAL_R,
    math.sqrt(math.pi / 2.0) * math.erfc(_NORMAL_R / math.sqrt(2.0)),
)
_EXPONENTIAL_R = 7.69711747013104972
_EXPONENTIAL_WIDTH, _EXPONENTIAL_INNER, _EXPONENTIAL_DENSITY = _ziggurat(
    lambda x: math.exp(-x), lambda y: -math.log(y), _EXPONENTIAL_R, math.exp(-_EXPONENTIAL_R)
)
_LAYER_MASK = np.uint64(ZIGGURAT_LAYERS - 1)
_SIGN_BIT = np.uint64(ZIGGURAT_LAYERS)
_VALUE_SHIFT = np.uint64(64 - _MANTISSA_BITS)


@njit(cache=True)
def _normal_outside(rng, i, layer, x):
    """The rare case of a standard normal draw: x lies outside layer `layer`'s inner
    rectangle. Returns |value|, or -1.0 to ask for a fresh draw."""
    if layer == 0:  # the tail beyond r, by Marsaglia's method
        while True:
            a = -math.log(uniform_open01(rng, i)) / _NORMAL_R
            b = -math.log(uniform_open01(rng, i))
            if b + b > a * a:
                return _NORMAL_R + a
    low, high = _NORMAL_DENSITY[layer], _NORMAL_DENSITY[layer + 1]
    if low + uniform01(rng, i) * (high - low) < math.exp(-0.5 * x * x):
        return x
    return -1.0


@njit(cache=True, inline="always")
def standard_normal(rng, i):
    while True:
        bits = next_u64(rng, i)
        layer = bits & _LAYER_MASK
        m = bits >> _VALUE_SHIFT
        x = m * _NORMAL_WIDTH[layer]
        if m >= _NORMAL_INNER[layer]:
            x = _normal_outside(rng, i, layer, x)
            if x < 0.0:
                continue
        return -x if bits & _SIGN_BIT else x


@njit(cache=True, inline="always")
def normal(rng, i, mean, std):
    return mean + std * standard_normal(rng, i)


@njit(cache=True)
def _under_exponential(rng, i, layer, x):
    """Whether a point drawn in layer `layer` (> 0) at x, outside its inner rectangle, lies
    under the density."""
    low, high = _EXPONENTIAL_DENSITY[layer], _EXPONENTIAL_DENSITY[layer + 1]
    return low + uniform01(rng, i) * (high - low) < math.exp(-x)


@njit(cache=True, inline="always")
def exponential(rng, i):
    offset = 0.0  # the tail beyond r is r plus a fresh draw (the distribution has no memory)
    while True:
        bits = next_u64(rng, i)
        layer = bits & _LAYER_MASK
        m = bits >> _VALUE_SHIFT
        x = m * _EXPONENTIAL_WIDTH[layer]
        if m < _EXPONENTIAL_INNER[layer]:
            return offset + x
        if layer == 0:
            offset += _EXPONENTIAL_R
        elif _under_exponential(rng, i, layer, x):
            return offset + x


@njit(cache=True, inline="always")
def gamma_int(rng, i, k):
    """Gamma(k, 1) for a whole k: the sum of k exponentials."""
    total = 0.0
    for _ in range(k):
        total += exponential(rng, i)
    return total


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
    """A well-mixed 63-bit seed from three integers (e.g. batch seed, env index, episode).
    Kernels pass their domain constants as numpy ints: a Python int constant would compile a
    copy of this function for its literal value."""
    h = splitmix64(np.uint64(a))
    h = splitmix64(h ^ np.uint64(b))
    h = splitmix64(h ^ np.uint64(c))
    return h & np.uint64(0x7FFFFFFFFFFFFFFF)
