"""The game's rules (spec 1.3-1.7 with the changes of section 2) as compiled kernels.

`s` is an `EnvStateRef` (see state.py): one pointer to the state arrays, so passing it to a
non-inlined kernel costs about as much as passing an int. (Were it the 60-array namedtuple,
each such call, and each `and`/`or` operand reading it, would cost about 1 us.)

`step_batch` steps every env of a batch in one call: apply the action (or the invalid-action
HOLD), run the global dynamics, compute the reward, detect the episode's end, reset finished
envs, and write observations and action masks in place (their writers are in observation.py).
"""

import math

import numpy as np
from numba import njit

from trainer.env.observation import (
    NODE_VIEW_ALL,
    NODE_VIEW_ASTEROIDS,
    NODE_VIEW_NEIGHBORS,
    NODE_VIEW_SELECTED_ASTEROID,
    NODE_VIEW_SELECTION,
    NODE_VIEW_UNCHANGED,
    cargo_total,
    cargo_value,
    update_views,
    write_views,
)
from trainer.env.rng import derive_seed, normal, uniform, uniform01
from trainer.env.rules import *  # noqa: F403 (the rule constants, compile-time in numba)
from trainer.env.state import prefetch_depletion, prefetch_edges, prefetch_estimates, prefetch_head, prefetch_node
from trainer.env.trig import sine
from trainer.env.world import clamp, ensure_asteroids, generate_world

_EPISODE_SEED_DOMAIN = np.int64(0x5EED)  # numpy: see rng.derive_seed
_TOP_BIT = np.uint64(1 << 63)
# exp(-dt/tau) and sqrt(dt) for every dt a step can cost (edge times are at most 8 ticks)
_MAX_DT = max(EDGE_TIME_RANGE[1], DT_DEEP_SCAN)
_SALES_DECAY = np.exp(-np.arange(_MAX_DT + 1) / SALES_DECAY_TAU)
_SQRT_DT = np.sqrt(np.arange(_MAX_DT + 1, dtype=np.float64))
_PREFETCH_DISTANCE = 2  # envs


@njit(cache=True, inline="always")
def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True)
def episode_seed_for(s, i):
    """The seed of env i's next episode in its per-env sequence. The sequence keeps the top
    bit of its key, so episodes after an evaluation seed stay in the evaluation range."""
    base = s.base_seed[i]
    return derive_seed(base, s.episode_index[i], _EPISODE_SEED_DOMAIN) | (base & _TOP_BIT)


@njit(cache=True)
def start_episode(s, i, episode_seed, time_max):
    generate_world(s, i, episode_seed, time_max)
    s.episode_index[i] += 1


@njit(cache=True)
def pirate_roll(s, i, intensity, dt, now):
    """One pirate roll at `intensity` over dt ticks; `now` is the tick the buffs are read at."""
    escape = 1.0 if now < s.escape_until[i] else 0.0
    alert_frac = clamp(s.alert[i] / ALERT_MAX, 0.0, 1.0)
    logit = (
        PIRATE_BIAS
        + PIRATE_INTENSITY * intensity
        + PIRATE_ALERT * alert_frac
        + PIRATE_CARGO * math.log(1.0 + cargo_value(s, i) / CREDIT_SCALE)
        + PIRATE_ESCAPE * escape
    )
    p = 1.0 - (1.0 - sigmoid(logit)) ** max(1, dt)
    if uniform01(s.rng, i) >= p:
        return
    s.pirate_encounters[i] += 1
    loss = uniform(s.rng, i, PIRATE_LOSS[0], PIRATE_LOSS[1])
    use_decoy = False
    if s.decoys[i] > 0:
        use_decoy = uniform01(s.rng, i) < DECOY_CHANCE
    if use_decoy:
        s.decoys[i] -= 1
        loss *= DECOY_LOSS_FACTOR
    before = cargo_value(s, i)
    for c in range(N_COMMODITIES):
        s.cargo[i, c] *= 1.0 - loss
    s.value_lost_to_pirates[i] += before - cargo_value(s, i)
    s.hull[i] -= uniform(s.rng, i, PIRATE_HULL[0], PIRATE_HULL[1])
    s.alert[i] += PIRATE_ALERT_GAIN


@njit(cache=True)
def scan_asteroid(s, i, node, a, kind):
    """Blend asteroid a's estimates toward a noisy reading (kind 0 wide, 1 focused, 2 deep)."""
    blend = SCAN_BLEND[kind]
    conf = s.scan_confidence[i, node, a]
    sigma = s.scan_noise[i, node, a] * (1.1 - conf) * SCAN_NOISE_MULT[kind]
    reading = s.scratch_goods
    total = 0.0
    for c in range(N_COMMODITIES):
        reading[i, c] = max(s.composition[i, node, a, c] + normal(s.rng, i, 0.0, sigma), 1e-8)
        total += reading[i, c]
    mixed_total = 0.0
    for c in range(N_COMMODITIES):
        mixed = (1.0 - blend) * s.composition_estimate[i, node, a, c] + blend * reading[i, c] / total
        reading[i, c] = max(mixed, 1e-8)
        mixed_total += reading[i, c]
    for c in range(N_COMMODITIES):
        s.composition_estimate[i, node, a, c] = reading[i, c] / mixed_total
    stability_reading = clamp(s.stability[i, node, a] + normal(s.rng, i, 0.0, sigma), 0.0, 1.0)
    s.stability_estimate[i, node, a] = (1.0 - blend) * s.stability_estimate[i, node, a] + blend * stability_reading
    s.scan_confidence[i, node, a] = min(1.0, conf + SCAN_CONF_GAIN[kind])


@njit(cache=True)
def mine(s, i, mode):
    """Mine the selected asteroid (mode 0 conservative, 1 standard, 2 aggressive), spec 1.5."""
    node = s.node[i]
    a = s.selected[i]
    heat_frac = s.heat[i] / HEAT_MAX
    tool_frac = s.tool[i] / TOOL_MAX
    eff_heat = 1.0
    if heat_frac > HEAT_EFFICIENT_FRAC:
        eff_heat = max(0.1, 1.0 - (heat_frac - HEAT_EFFICIENT_FRAC) / (1.0 - HEAT_EFFICIENT_FRAC))
    amount = (
        s.richness[i, node, a]
        * (1.0 - s.depletion[i, node, a])
        * (0.4 + 0.6 * tool_frac)
        * eff_heat
        * MINE_YIELD[mode]
        * math.exp(normal(s.rng, i, 0.0, MINE_NOISE[mode]))
    )
    free = max(0.0, CARGO_MAX - cargo_total(s, i))
    scale = 1.0
    if amount > free:
        scale = free / amount
    extracted = 0.0
    for c in range(N_COMMODITIES):
        got = amount * s.composition[i, node, a, c] * scale
        s.cargo[i, c] += got
        extracted += got
    s.heat[i] += MINE_HEAT[mode]
    s.tool[i] -= MINE_WEAR[mode]
    s.alert[i] += MINE_ALERT[mode]
    s.depletion[i, node, a] = min(1.0, s.depletion[i, node, a] + DEPLETION_PER_UNIT * extracted)
    s.mining_ticks[i] += 1

    stabilized = 1.0 if s.ticks[i] < s.stabilized_until[i, node, a] else 0.0
    fracture_logit = (
        FRACTURE_BASE
        + MINE_FRACTURE_BIAS[mode]
        + FRACTURE_STABILITY * (1.0 - s.stability[i, node, a])
        + FRACTURE_HEAT * max(0.0, heat_frac - HEAT_EFFICIENT_FRAC)
        + FRACTURE_TOOL * (1.0 - tool_frac)
        + FRACTURE_STABILIZED * stabilized
    )
    if uniform01(s.rng, i) < sigmoid(fracture_logit):
        s.hull[i] -= FRACTURE_HULL * uniform(s.rng, i, 0.5, 1.0)
        s.depletion[i, node, a] = 1.0
        s.hazard[i, node] = min(1.0, s.hazard[i, node] + FRACTURE_HAZARD_GAIN)


@njit(cache=True)
def sell(s, i, c, fraction):
    qty = s.cargo[i, c] * fraction
    ratio = qty / max(1.0, s.inventory[i, c] + qty)
    slip = clamp(SLIPPAGE_K * ratio + SLIPPAGE_ROOT * math.sqrt(ratio), 0.0, SLIPPAGE_MAX)
    s.credits[i] += qty * s.price[i, c] * (1.0 - slip)
    s.cargo[i, c] -= qty
    s.inventory[i, c] += qty
    s.recent_sales[i, c] += qty


@njit(cache=True)
def lower_alert(s, i, amount):
    """Alert and heat never go below 0, not even between two effects of one step."""
    s.alert[i] = max(0.0, s.alert[i] - amount)


@njit(cache=True)
def lower_heat(s, i, amount):
    s.heat[i] = max(0.0, s.heat[i] - amount)


@njit(cache=True)
def hold(s, i):
    lower_alert(s, i, -ALERT_HOLD)
    lower_heat(s, i, HEAT_HOLD_EXTRA)


@njit(cache=True)
def apply_action(s, i, action):
    """Apply a valid action's effect (spec 1.4); return its cost in ticks."""
    node = s.node[i]
    now = s.ticks[i]
    if action < A_HOLD:
        k = action - A_TRAVEL
        dt = s.edge_time[i, node, k]
        threat = s.edge_threat[i, node, k]
        s.fuel[i] -= s.edge_fuel[i, node, k] * (1.0 + CARGO_MASS_FUEL_FACTOR * cargo_total(s, i) / CARGO_MAX)
        dest = s.neighbor[i, node, k]
        s.node[i] = dest
        s.selected[i] = -1
        ensure_asteroids(s, i, dest)
        jitter = uniform(s.rng, i, EDGE_HAZARD_JITTER[0], EDGE_HAZARD_JITTER[1])
        s.hull[i] -= dt * threat * HAZARD_HULL * jitter
        s.heat[i] += dt * threat * HAZARD_HEAT
        s.alert[i] += dt * threat * HAZARD_ALERT
        if dest != 0:
            pirate_roll(s, i, threat, dt, now)
        return dt
    if action == A_HOLD:
        hold(s, i)
        return 1
    if action == A_EMERGENCY_BURN:
        s.fuel[i] -= FUEL_EMERGENCY_BURN
        s.alert[i] += ALERT_BURN
        s.escape_until[i] = max(s.escape_until[i], now + ESCAPE_BUFF_TICKS)
        return 1
    if action <= A_DEEP_SCAN:
        kind = action - A_WIDE_SCAN  # 0 wide (every asteroid here), 1 focused, 2 deep (selection)
        s.fuel[i] -= SCAN_FUEL[kind]
        s.alert[i] += SCAN_ALERT[kind]
        if kind == 0:
            for a in range(s.asteroid_count[i, node]):
                scan_asteroid(s, i, node, a, kind)
        else:
            scan_asteroid(s, i, node, s.selected[i], kind)
        s.scan_count[i] += 1
        return SCAN_DT[kind]
    if action == A_THREAT_LISTEN:
        for k in range(MAX_NEIGHBORS):
            if s.neighbor[i, node, k] >= 0:
                heard = clamp(s.edge_threat[i, node, k] + normal(s.rng, i, 0.0, THREAT_LISTEN_NOISE), 0.0, 1.0)
                s.threat_estimate[i, node, k] = (
                    THREAT_LISTEN_KEEP * s.threat_estimate[i, node, k] + (1.0 - THREAT_LISTEN_KEEP) * heard
                )
        return DT_THREAT_LISTEN
    if action < A_MINE:
        s.selected[i] = action - A_SELECT
        return 1
    if action < A_STABILIZE:
        mine(s, i, action - A_MINE)
        return 1
    if action == A_STABILIZE:
        s.stabilizers[i] -= 1
        s.stabilized_until[i, node, s.selected[i]] = now + STABILIZE_BUFF_TICKS
        return DT_STABILIZE
    if action == A_REFINE:
        taken = REFINE_TAKE * (s.cargo[i, IRON] + s.cargo[i, NICKEL])
        s.cargo[i, IRON] *= 1.0 - REFINE_TAKE
        s.cargo[i, NICKEL] *= 1.0 - REFINE_TAKE
        s.cargo[i, RARE_ISOTOPES] += REFINE_GAIN * taken
        s.fuel[i] -= FUEL_REFINE
        s.heat[i] += HEAT_REFINE
        s.alert[i] += ALERT_REFINE
        return DT_REFINE
    if action == A_COOLDOWN:
        s.fuel[i] -= FUEL_COOLDOWN
        lower_heat(s, i, HEAT_COOLDOWN)
        s.alert[i] += ALERT_COOLDOWN
        return DT_COOLDOWN
    if action == A_TOOL_MAINT:
        s.kits[i] -= 1
        s.tool[i] += TOOL_REPAIR
        return DT_MAINTENANCE
    if action == A_HULL_PATCH:
        s.kits[i] -= 1
        s.hull[i] += HULL_PATCH
        return DT_MAINTENANCE
    if action < A_DOCK:
        s.cargo[i, action - A_JETTISON] = 0.0
        lower_alert(s, i, -ALERT_JETTISON)
        return 1
    if action == A_DOCK:
        lower_alert(s, i, -ALERT_DOCK)
        return DT_DOCK
    if action < A_BUY_FUEL:
        b = action - A_SELL
        sell(s, i, b // 3, SELL_FRACTIONS[b % 3])
        return 1
    if action < A_BUY_KIT:
        p = action - A_BUY_FUEL
        s.credits[i] -= FUEL_PACK_PRICE[p]
        s.fuel[i] = min(FUEL_MAX, s.fuel[i] + FUEL_PACK_UNITS[p])
        return 1
    if action == A_BUY_KIT:
        s.credits[i] -= KIT_PRICE
        s.kits[i] += 1
        return 1
    if action == A_BUY_STABILIZER:
        s.credits[i] -= STABILIZER_PRICE
        s.stabilizers[i] += 1
        return 1
    if action == A_BUY_DECOY:
        s.credits[i] -= DECOY_PRICE
        s.decoys[i] += 1
        return 1
    if action == A_OVERHAUL:
        s.credits[i] -= OVERHAUL_PRICE
        s.hull[i] = HULL_MAX
        s.tool[i] = TOOL_MAX
        return DT_OVERHAUL
    return 1  # A_CASH_OUT: ends the episode; the step's global dynamics still run


@njit(cache=True)
def update_market(s, i, dt):
    t = s.ticks[i] + dt
    decay = _SALES_DECAY[dt]
    sqrt_dt = _SQRT_DT[dt]
    for c in range(N_COMMODITIES):
        base = PRICE_BASE[c]
        cycle = s.price_amplitude[i, c] * sine(2.0 * math.pi * t / s.price_period[i, c] + s.price_phase[i, c])
        price = (
            base
            + cycle
            - INVENTORY_PRESSURE * s.inventory[i, c]
            - SALES_PRESSURE * s.recent_sales[i, c]
            + normal(s.rng, i, 0.0, PRICE_NOISE * base * sqrt_dt)
        )
        s.prev_price[i, c] = s.price[i, c]
        s.price[i, c] = clamp(price, PRICE_MIN[c], PRICE_MAX[c])
        s.recent_sales[i, c] *= decay
        s.inventory[i, c] *= INVENTORY_DECAY


@njit(cache=True)
def clamp_ship(s, i):
    s.fuel[i] = clamp(s.fuel[i], 0.0, FUEL_MAX)
    s.hull[i] = clamp(s.hull[i], 0.0, HULL_MAX)
    s.heat[i] = clamp(s.heat[i], 0.0, HEAT_MAX)
    s.tool[i] = clamp(s.tool[i], 0.0, TOOL_MAX)
    s.alert[i] = clamp(s.alert[i], 0.0, ALERT_MAX)
    total = 0.0
    for c in range(N_COMMODITIES):
        s.cargo[i, c] = max(0.0, s.cargo[i, c])
        total += s.cargo[i, c]
    if total > CARGO_MAX:
        for c in range(N_COMMODITIES):
            s.cargo[i, c] *= CARGO_MAX / total


@njit(cache=True)
def global_dynamics(s, i, dt):
    """Spec 1.6 step 3 and 4: time, heat, overheat, node hazard, pirates, market, clamps."""
    s.time_remaining[i] = max(0, s.time_remaining[i] - dt)
    lower_heat(s, i, HEAT_PASSIVE_PER_TICK * dt)
    if s.heat[i] > HEAT_MAX:
        s.hull[i] -= OVERHEAT_HULL_PER_HEAT * (s.heat[i] - HEAT_MAX)
        s.heat[i] = HEAT_MAX
        s.overheat_ticks[i] += dt
    node = s.node[i]
    if node != 0:
        h = s.hazard[i, node]
        if h > 0.0:
            jitter = uniform(s.rng, i, NODE_HAZARD_JITTER[0], NODE_HAZARD_JITTER[1])
            s.hull[i] -= dt * h * HAZARD_HULL * jitter
            s.heat[i] += dt * h * HAZARD_HEAT
            s.alert[i] += dt * h * HAZARD_ALERT
        pirate_roll(s, i, s.pirate[i, node], dt, s.ticks[i] + dt)
    update_market(s, i, dt)
    clamp_ship(s, i)
    s.cargo_utilization_sum[i] += dt * cargo_total(s, i) / CARGO_MAX
    s.ticks[i] += dt


@njit(cache=True)
def original_reward(s, i, action, valid, dt, before, destroyed, stranded, ended):
    """Spec 1.7: the original's sum of terms. `before` = (credits, fuel, hull, tool, cargo
    value, value lost to pirates) at the step's start."""
    credits0, fuel0, hull0, tool0, value0, lost0 = before
    reward = (s.credits[i] - credits0) / CREDIT_SCALE
    reward += R_EXTRACT * max(0.0, cargo_value(s, i) - value0) / CREDIT_SCALE
    reward += R_FUEL * max(0.0, fuel0 - s.fuel[i]) / 100.0
    reward += R_TIME * dt
    reward += R_WEAR * max(0.0, tool0 - s.tool[i]) / 10.0
    reward += R_DAMAGE * max(0.0, hull0 - s.hull[i]) / 10.0
    overheat = max(0.0, s.heat[i] - R_HEAT_THRESHOLD) / 100.0
    reward += R_HEAT * overheat * overheat
    if valid and A_WIDE_SCAN <= action <= A_DEEP_SCAN:
        reward += R_SCAN  # spec 2.3: an invalid scan costs only the invalid-action HOLD
    if not valid:
        reward += R_INVALID
    reward += R_PIRATE * (s.value_lost_to_pirates[i] - lost0) / CREDIT_SCALE
    if destroyed:
        reward += R_DESTROYED
    if stranded:
        reward += R_STRANDED
    if ended and not (destroyed or stranded):
        reward += R_DONE_CREDITS * s.credits[i] / CREDIT_SCALE
    return reward


@njit(cache=True)
def profit_reward(s, i, dt, credits0, value0, destroyed, stranded, ended, gamma, per_tick, shaping, death_penalty):
    """Spec 2.9: the change in credits (thousands), plus potential-based shaping on the
    market value of the cargo, Phi = shaping * value / 1000 (0 once the episode ends), and on
    death the loss of every banked credit and `death_penalty` (the spec's 1) per ending
    (destroyed, stranded)."""
    discount = gamma**dt if per_tick else gamma
    phi_after = 0.0 if ended else shaping * cargo_value(s, i) / CREDIT_SCALE
    reward = (s.credits[i] - credits0) / CREDIT_SCALE + discount * phi_after - shaping * value0 / CREDIT_SCALE
    if destroyed or stranded:
        reward -= s.credits[i] / CREDIT_SCALE
    if destroyed:
        reward -= death_penalty
    if stranded:
        reward -= death_penalty
    return reward


@njit(cache=True)
def ship_lost(hull, fuel, node):
    """(destroyed, stranded): how a ship with this hull and fuel at `node` ends its episode,
    if it does (docs/game.md, how an episode ends)."""
    return hull <= 0.0, fuel <= 0.0 and node != 0


@njit(cache=True)
def step_env(s, i, action, valid, profile, gamma, per_tick, shaping, death_penalty):
    """One step of env i; returns (reward, terminated, truncated, dt, destroyed, stranded).
    `profile` is REWARD_ORIGINAL or REWARD_PROFIT; gamma, per_tick and shaping are the profit
    profile's shaping discount (per step, or per tick when `per_tick`) and weight,
    death_penalty its cost of each ending by death."""
    before = (s.credits[i], s.fuel[i], s.hull[i], s.tool[i], cargo_value(s, i), s.value_lost_to_pirates[i])

    if valid:
        dt = apply_action(s, i, action)
    else:
        hold(s, i)
        dt = 1
        s.invalid_count[i] += 1
    global_dynamics(s, i, dt)

    destroyed, stranded = ship_lost(s.hull[i], s.fuel[i], s.node[i])
    terminated = destroyed or stranded or (valid and action == A_CASH_OUT)
    truncated = s.time_remaining[i] <= 0 and not terminated
    ended = terminated or truncated
    if profile == REWARD_PROFIT:
        reward = profit_reward(
            s, i, dt, before[0], before[4], destroyed, stranded, ended, gamma, per_tick, shaping, death_penalty
        )
    else:
        reward = original_reward(s, i, action, valid, dt, before, destroyed, stranded, ended)

    s.episode_return[i] += reward
    s.episode_length[i] += 1
    return reward, terminated, truncated, dt, destroyed, stranded


@njit(cache=True)
def write_episode_stats(s, i, destroyed, stranded, cashed_out, out):
    """Row i of `out`: the finished episode's statistics (spec section 3), in EPISODE_STATS order."""
    out[i, ST_RETURN] = s.episode_return[i]
    out[i, ST_LENGTH] = s.episode_length[i]
    out[i, ST_TICKS] = s.ticks[i]
    out[i, ST_CREDITS] = s.credits[i]
    out[i, ST_NET_PROFIT] = s.credits[i]  # credits start at 0 (spec 2.1)
    out[i, ST_SURVIVAL] = 0.0 if destroyed or stranded else 1.0
    out[i, ST_DESTROYED] = 1.0 if destroyed else 0.0
    out[i, ST_STRANDED] = 1.0 if stranded else 0.0
    out[i, ST_CASH_OUT] = 1.0 if cashed_out else 0.0
    out[i, ST_PIRATE_ENCOUNTERS] = s.pirate_encounters[i]
    out[i, ST_VALUE_LOST] = s.value_lost_to_pirates[i]
    out[i, ST_OVERHEAT_TICKS] = s.overheat_ticks[i]
    out[i, ST_SCAN_COUNT] = s.scan_count[i]
    out[i, ST_MINING_TICKS] = s.mining_ticks[i]
    out[i, ST_INVALID_ACTIONS] = s.invalid_count[i]
    out[i, ST_FUEL_USED] = max(0.0, START_FUEL - s.fuel[i])
    out[i, ST_HULL_DAMAGE] = max(0.0, START_HULL - s.hull[i])


@njit(cache=True)
def node_view_change(action, valid):
    """What a step with `action` changes in the observation's node blocks (NODE_VIEW_*):
    travel shows another node, scans, mining and selection change asteroid slots, listening
    the threat estimates; every other action (and the invalid HOLD) leaves both as they were."""
    if not valid:
        return NODE_VIEW_UNCHANGED
    if action < A_HOLD:
        return NODE_VIEW_ALL
    if action == A_WIDE_SCAN:
        return NODE_VIEW_ASTEROIDS
    if action == A_FOCUSED_SCAN or action == A_DEEP_SCAN or A_MINE <= action < A_STABILIZE:
        return NODE_VIEW_SELECTED_ASTEROID
    if A_SELECT <= action < A_MINE:
        return NODE_VIEW_SELECTION
    if action == A_THREAT_LISTEN:
        return NODE_VIEW_NEIGHBORS
    return NODE_VIEW_UNCHANGED


@njit(cache=True)
def prefetch_ahead(s, actions, i, n, scouted):
    """While env i steps, start loading what the next envs of the batch (i < n) will read:
    their records are too far apart for the hardware to guess. The head of env i+2d; the
    edges and depletion of the node env i+d is at (its mask and observation read them); for
    env i+1 what its action reads: the block of the node it travels to, or of the node it
    scans, mines or selects at, or with `scouted` the estimates of the visited neighbours it
    will describe."""
    if i + 2 * _PREFETCH_DISTANCE < n:
        prefetch_head(s.rng, (i + 2 * _PREFETCH_DISTANCE,))
    if i + _PREFETCH_DISTANCE < n:
        ahead = i + _PREFETCH_DISTANCE
        node = s.node[ahead]
        prefetch_edges(s.neighbor, (ahead, node, 0))
        prefetch_depletion(s.depletion, (ahead, node, 0))
    j = i + 1
    if j >= n:
        return
    node = s.node[j]
    action = actions[j]
    if 0 <= action < A_HOLD:
        destination = s.neighbor[j, node, action]
        if destination > 0:
            prefetch_node(s.neighbor, (j, destination, 0))
        return
    if A_WIDE_SCAN <= action <= A_DEEP_SCAN or A_SELECT <= action < A_STABILIZE:
        prefetch_node(s.neighbor, (j, node, 0))
    if scouted:
        for k in range(MAX_NEIGHBORS):
            v = s.neighbor[j, node, k]
            if v > 0 and s.asteroids_ready[j, v]:
                prefetch_estimates(s.composition_estimate, (j, v, 0, 0))


@njit(cache=True, nogil=True)  # parts of a batch step in parallel threads (trainer.parts)
def step_batch(
    s,
    actions,
    time_max,
    scouted,
    autoreset,
    reward_args,
    observations,
    action_mask,
    rewards,
    terminals,
    truncations,
    step_ticks,
    invalid,
    episode_stats,
    final_observations,
    finished,
):
    """Step every env once; return how many episodes ended (their env ids fill `finished`).

    An action outside 0..68 or one the mask forbids takes the invalid branch (spec 2.5).
    Envs that are done and not auto-reset are left untouched. `reward_args` is
    (profile, gamma, per_tick, shaping, death_penalty), as `RewardSpec.kernel_args()` gives it.
    """
    profile, gamma, per_tick, shaping, death_penalty = reward_args
    n_finished = 0
    n = actions.shape[0]
    for i in range(n):
        prefetch_ahead(s, actions, i, n, scouted)
        if s.done[i]:
            rewards[i] = 0.0
            step_ticks[i] = 0
            invalid[i] = False
            continue
        action = actions[i]
        valid = 0 <= action < N_ACTIONS and action_mask[i, action]
        reward, terminated, truncated, dt, destroyed, stranded = step_env(
            s, i, action, valid, profile, gamma, per_tick, shaping, death_penalty
        )
        rewards[i] = reward
        terminals[i] = terminated
        truncations[i] = truncated
        step_ticks[i] = dt
        invalid[i] = not valid
        change = node_view_change(action, valid)
        if terminated or truncated:
            cashed_out = valid and action == A_CASH_OUT
            write_episode_stats(s, i, destroyed, stranded, cashed_out, episode_stats)
            finished[n_finished] = i
            n_finished += 1
            write_views(s, i, time_max, scouted, final_observations, action_mask)
            change = NODE_VIEW_ALL
            if autoreset:
                start_episode(s, i, episode_seed_for(s, i), time_max)
            else:
                s.done[i] = True
        update_views(s, i, time_max, scouted, observations, action_mask, change)
    return n_finished


@njit(cache=True)
def start_seeded_episodes(s, episode_seeds, time_max, scouted, observations, action_mask):
    """Start an episode with the given seed in every env; later episodes of env i continue
    from the sequence keyed by episode_seeds[i]."""
    for i in range(s.rng.shape[0]):
        s.base_seed[i] = episode_seeds[i]
        s.episode_index[i] = 0
        generate_world(s, i, episode_seeds[i], time_max)
        s.episode_index[i] = 1
        write_views(s, i, time_max, scouted, observations, action_mask)


@njit(cache=True)
def reset_batch(s, batch_seed, reseed, time_max, scouted, observations, action_mask):
    """Start a new episode in every env. With `reseed`, restart each env's seed sequence
    from (batch_seed, env index); otherwise continue it."""
    for i in range(s.rng.shape[0]):
        if reseed:
            s.base_seed[i] = derive_seed(batch_seed, i, _EPISODE_SEED_DOMAIN)
            s.episode_index[i] = 0
        start_episode(s, i, episode_seed_for(s, i), time_max)
        write_views(s, i, time_max, scouted, observations, action_mask)
