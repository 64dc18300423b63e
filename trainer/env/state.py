"""The state of a batch of envs: preallocated arrays with one leading row per env.

Python code sees an `EnvState`, a namedtuple of arrays. Compiled kernels take an
`EnvStateRef` made from it by `state_ref`: one pointer to a heap struct holding the same
arrays (same field names, same memory), so `s.fuel[i]` reads alike in both and edits through
either are seen by the other. The kernels also see a few scratch rows per env (SCRATCH_LAYOUT)
that are not part of the game's state. Kernels touch only the rows of the envs they step; no
step, reset or auto-reset allocates memory.

Memory layout: the arrays are views into one record per env (`allocate_state`), so one
env's state is contiguous, its ship, market and per-node summaries first, then one block per
node holding that node's edges and asteroids (NODE_FIELDS). A step reads the env's head and
the block of the node the ship is at: a few pages, whatever the batch size. (With one array
per field, a step touched ~30 pages spread over arrays of N rows each, and big batches
stalled on TLB and cache misses.)

Why a reference and not the tuple: numba passes a namedtuple of ~60 arrays to every
non-inlined call as hundreds of scalar arguments (and copies it across branches), about 1 us
per call; a structref is passed as one pointer.
"""

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.experimental import structref
from numba.experimental.jitclass.base import imp_dtor
from numba.extending import intrinsic

from trainer.env.rules import MAX_ASTEROIDS, MAX_NEIGHBORS, MAX_NODES, N_COMMODITIES

_F, _I, _U, _B = np.float64, np.int64, np.uint64, np.bool_
_ONE: tuple[int, ...] = ()
_GOODS = (N_COMMODITIES,)
_NODES = (MAX_NODES,)
_EDGES = (MAX_NODES, MAX_NEIGHBORS)
_ROCKS = (MAX_NODES, MAX_ASTEROIDS)
_ROCK_GOODS = (MAX_NODES, MAX_ASTEROIDS, N_COMMODITIES)

# name, per-env shape, dtype
STATE_LAYOUT = (
    # random streams: the game's, and the one a node's asteroids are drawn from on first visit
    ("rng", _ONE, _U),
    ("asteroid_rng", _ONE, _U),
    ("episode_seed", _ONE, _U),
    ("base_seed", _ONE, _U),  # key of this env's episode-seed sequence
    ("episode_index", _ONE, _I),  # episodes started since the last seeded reset
    ("done", _ONE, _B),  # the episode ended and (without auto-reset) awaits a reset
    # ship
    ("fuel", _ONE, _F),
    ("hull", _ONE, _F),
    ("heat", _ONE, _F),
    ("tool", _ONE, _F),
    ("alert", _ONE, _F),
    ("credits", _ONE, _F),
    ("cargo", _GOODS, _F),
    ("kits", _ONE, _I),
    ("stabilizers", _ONE, _I),
    ("decoys", _ONE, _I),
    ("node", _ONE, _I),  # 0 = station
    ("selected", _ONE, _I),  # asteroid slot, -1 = none
    ("time_remaining", _ONE, _I),
    ("ticks", _ONE, _I),
    ("escape_until", _ONE, _I),  # the escape buff is active while ticks < escape_until
    ("stabilized_until", _ROCKS, _I),  # likewise, per (node, asteroid slot)
    # world graph
    ("n_nodes", _ONE, _I),
    ("node_type", _NODES, _I),
    ("hazard", _NODES, _F),
    ("pirate", _NODES, _F),
    ("hops", _NODES, _I),  # BFS hops to the station
    ("neighbor", _EDGES, _I),  # -1 = empty slot
    ("edge_time", _EDGES, _I),
    ("edge_fuel", _EDGES, _F),
    ("edge_threat", _EDGES, _F),  # the truth
    ("threat_estimate", _EDGES, _F),
    # asteroids (generated per node on the first visit)
    ("asteroids_ready", _NODES, _B),
    ("asteroid_count", _NODES, _I),  # slots 0..count-1 hold asteroids
    ("composition", _ROCK_GOODS, _F),  # the truth
    ("composition_estimate", _ROCK_GOODS, _F),
    ("richness", _ROCKS, _F),
    ("stability", _ROCKS, _F),  # the truth
    ("stability_estimate", _ROCKS, _F),
    ("scan_noise", _ROCKS, _F),
    ("scan_confidence", _ROCKS, _F),
    ("depletion", _ROCKS, _F),
    # market
    ("price", _GOODS, _F),
    ("prev_price", _GOODS, _F),
    ("inventory", _GOODS, _F),
    ("recent_sales", _GOODS, _F),
    ("price_phase", _GOODS, _F),
    ("price_period", _GOODS, _F),
    ("price_amplitude", _GOODS, _F),
    # episode accumulators
    ("episode_return", _ONE, _F),
    ("episode_length", _ONE, _I),
    ("overheat_ticks", _ONE, _I),
    ("pirate_encounters", _ONE, _I),
    ("value_lost_to_pirates", _ONE, _F),
    ("scan_count", _ONE, _I),
    ("mining_ticks", _ONE, _I),
    ("invalid_count", _ONE, _I),
    ("cargo_utilization_sum", _ONE, _F),  # dt-weighted
)

# Fields stored in each node's block of its env's record (their per-env shape starts with
# MAX_NODES): the edges (what a reset clears), what observations read, what only actions read.
NODE_FIELDS = (
    "neighbor",
    "edge_time",
    "edge_fuel",
    "threat_estimate",
    "edge_threat",
    "composition_estimate",
    "stability_estimate",
    "depletion",
    "scan_confidence",
    "composition",
    "richness",
    "stability",
    "scan_noise",
    "stabilized_until",
)

# Per-env rows the kernels work in (name, per-env shape, dtype); never read across steps.
SCRATCH_LAYOUT = (
    ("scratch_goods", _GOODS, _F),  # a scan's reading
    ("scratch_nodes", _NODES, _I),  # world generation's candidate list and BFS queue
    ("scratch_degree", _NODES, _I),  # world generation's edge count per node
)

EnvState = NamedTuple("EnvState", [(name, np.ndarray) for name, _, _ in STATE_LAYOUT])
KernelState = NamedTuple("KernelState", [(name, np.ndarray) for name, _, _ in STATE_LAYOUT + SCRATCH_LAYOUT])
_CACHE_LINE = 64


def _padded(fields: list[tuple], tail: tuple | None = None) -> np.dtype:
    """An aligned struct dtype of `fields` (then `tail` from the next cache line), its size a
    whole number of cache lines."""
    packed = np.dtype(fields, align=True)
    names = list(packed.names)
    formats = [packed.fields[name][0] for name in names]
    offsets = [packed.fields[name][1] for name in names]
    size = -(-packed.itemsize // _CACHE_LINE) * _CACHE_LINE
    if tail is not None:
        tail_name, tail_dtype, tail_shape = tail
        names.append(tail_name)
        formats.append((tail_dtype, tail_shape))
        offsets.append(size)
        size += tail_dtype.itemsize * int(np.prod(tail_shape))
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": size})


def _record_dtype() -> np.dtype:
    """One env's record: the per-env fields, then MAX_NODES node blocks (cache-line aligned)."""
    shapes = {name: (shape, dtype) for name, shape, dtype in STATE_LAYOUT}
    node = _padded([(name, shapes[name][1], shapes[name][0][1:]) for name in NODE_FIELDS])
    head = [(name, dtype, shape) for name, shape, dtype in STATE_LAYOUT if name not in NODE_FIELDS]
    return _padded(head, tail=("nodes", node, (MAX_NODES,)))


RECORD_DTYPE = _record_dtype()


def allocate_state(num_envs: int) -> EnvState:
    """Zeroed state for `num_envs` envs: views into one record per env (see the module doc)."""
    size = num_envs * RECORD_DTYPE.itemsize
    raw = np.zeros(size + _CACHE_LINE, dtype=np.uint8)
    start = -raw.ctypes.data % _CACHE_LINE
    records = raw[start : start + size].view(RECORD_DTYPE)
    nodes = records["nodes"]
    return EnvState(*(nodes[name] if name in NODE_FIELDS else records[name] for name, _, _ in STATE_LAYOUT))


HEAD_BYTES = RECORD_DTYPE.fields["nodes"][1]  # an env's per-env fields; its node blocks follow
_NODE_DTYPE = RECORD_DTYPE.fields["nodes"][0].base
NODE_BYTES = _NODE_DTYPE.itemsize
# a node's asteroid estimates and depletion, what the scouted observation reads of a neighbour
ESTIMATE_BYTES = _NODE_DTYPE.fields["scan_confidence"][1] - _NODE_DTYPE.fields["composition_estimate"][1]
# a node's edges (neighbor to edge_threat), and its asteroids' depletion: what every step reads
EDGE_BYTES = _NODE_DTYPE.fields["composition_estimate"][1]
DEPLETION_BYTES = _NODE_DTYPE.fields["depletion"][0].itemsize


def _line_prefetcher(nbytes: int):
    """A kernel-only `prefetch(array, indices)`: ask the CPU to start loading the `nbytes` from
    `array[indices]` on (a hint: never faults, changes no value)."""

    @intrinsic
    def prefetch(typingctx, array, indices):
        def codegen(context, builder, signature, args):
            array_type, indices_type = signature.args
            array = context.make_array(array_type)(context, builder, args[0])
            index = cgutils.unpack_tuple(builder, args[1], len(indices_type))
            pointer = cgutils.get_item_pointer(context, builder, array_type, array, index, wraparound=False)
            byte = builder.bitcast(pointer, ir.IntType(8).as_pointer())
            i32 = ir.IntType(32)
            hint = ir.FunctionType(ir.VoidType(), [byte.type, i32, i32, i32])
            llvm_prefetch = cgutils.get_or_insert_function(builder.module, hint, "llvm.prefetch.p0")
            for offset in range(0, nbytes, _CACHE_LINE):  # read, keep in every cache level, data
                line = builder.gep(byte, [ir.IntType(64)(offset)])
                builder.call(llvm_prefetch, [line, i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        return types.void(array, indices), codegen

    return prefetch


# prefetch_head(s.rng, (i,)): env i's per-env fields (rng is the first);
# prefetch_node(s.neighbor, (i, node, 0)): that node's block (neighbor is its first field);
# prefetch_edges(s.neighbor, (i, node, 0)): its edges;
# prefetch_depletion(s.depletion, (i, node, 0)): its asteroids' depletion;
# prefetch_estimates(s.composition_estimate, (i, node, 0, 0)): its estimates and depletion.
prefetch_head = _line_prefetcher(HEAD_BYTES)
prefetch_node = _line_prefetcher(NODE_BYTES)
prefetch_edges = _line_prefetcher(EDGE_BYTES)
prefetch_depletion = _line_prefetcher(DEPLETION_BYTES)
prefetch_estimates = _line_prefetcher(ESTIMATE_BYTES)


@structref.register
class EnvStateRefType(types.StructRef):
    """numba type of an `EnvStateRef`: its fields are KernelState's (EnvState's, then the scratch rows)."""


class EnvStateRef(structref.StructRefProxy):
    """The kernels' handle on an `EnvState`'s arrays; opaque in Python (use the EnvState)."""


structref.define_boxing(EnvStateRefType, EnvStateRef)


_STATE_FIELDS = frozenset(name for name, _, _ in STATE_LAYOUT)


def _ref_field_type(name: str, array_type: types.Array) -> types.Array:
    """A state field's kernel type: layout 'A' always. The state arrays are strided views into
    the env records, but numpy calls a one-env view contiguous ('C'), which would compile every
    kernel a second time for one-env batches (play sessions, the single-env wrapper)."""
    return array_type.copy(layout="A") if name in _STATE_FIELDS else array_type


@intrinsic
def _ref_to_arrays(typingctx, state_type):
    """A new EnvStateRef whose fields are the arrays of the namedtuple `state` (shared)."""
    fields = [(name, _ref_field_type(name, array_type)) for name, array_type in zip(state_type.fields, state_type.types)]
    ref_type = EnvStateRefType(fields)

    def codegen(context, builder, signature, args):
        [state] = args
        payload_type = context.data_model_manager[ref_type.get_data_type()].get_value_type()
        meminfo = context.nrt.meminfo_alloc_dtor(
            builder,
            context.get_constant(types.uintp, context.get_abi_sizeof(payload_type)),
            imp_dtor(context, builder.module, ref_type),  # decrefs the arrays when freed
        )
        payload_pointer = builder.bitcast(context.nrt.meminfo_data(builder, meminfo), payload_type.as_pointer())
        payload = cgutils.create_struct_proxy(ref_type.get_data_type())(context, builder, ref=payload_pointer)
        for k, (name, array_type) in enumerate(fields):
            array = context.cast(builder, builder.extract_value(state, k), state_type.types[k], array_type)
            context.nrt.incref(builder, array_type, array)
            setattr(payload, name, array)
        ref = context.make_helper(builder, ref_type)
        ref.meminfo = meminfo
        return ref._getvalue()

    return ref_type(state_type), codegen


@njit(cache=True)
def _kernel_ref(kernel_state):
    return _ref_to_arrays(kernel_state)


def state_ref(state: EnvState) -> EnvStateRef:
    """The `EnvStateRef` the kernels take: `state`'s arrays (shared, kept alive) and new
    zeroed scratch rows."""
    num_envs = state.rng.shape[0]
    scratch = (np.zeros((num_envs, *shape), dtype=dtype) for _, shape, dtype in SCRATCH_LAYOUT)
    return _kernel_ref(KernelState(*state, *scratch))
