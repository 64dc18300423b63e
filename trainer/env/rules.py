"""Game constants of Asteroid Prospector (spec section 1.1) and the observation/action layout.

Module-level numbers and tuples here are compile-time constants for the numba kernels.
"""

import numpy as np

# Interface
N_COMMODITIES = 6
IRON, NICKEL, WATER_ICE, PGE, RARE_ISOTOPES, VOLATILES = range(6)
COMMODITY_NAMES = ("iron", "nickel", "water_ice", "pge", "rare_isotopes", "volatiles")
MAX_NODES = 32
MAX_NEIGHBORS = 6
MAX_ASTEROIDS = 16
STATION, CLUSTER, HAZARD = 0, 1, 2
OBS_DIM = 260
# The `scouted` observation (an option beside spec 1.3's): per neighbour slot, what the player
# has seen of that node: visited, its best asteroid's estimated value, its undepleted share, hops
SCOUT_WIDTH = 4
SCOUT_DIM = 6 * SCOUT_WIDTH
OBSERVATIONS = ("spec", "scouted")
N_ACTIONS = 69

# Scales
CREDIT_SCALE = 1000.0
FUEL_MAX = 1000.0
HULL_MAX = 100.0
HEAT_MAX = 100.0
TOOL_MAX = 100.0
ALERT_MAX = 100.0
CARGO_MAX = 200.0
TIME_MAX = 20000

# Observation normalisers
CREDITS_CAP = 1e7
ITEM_CAP = 12
TRAVEL_TIME_NORM = 8.0
TRAVEL_FUEL_NORM = 160.0
PRICE_DELTA_NORM = 100.0
INVENTORY_NORM = 500.0
NODE_INDEX_NORM = 31.0

# Market: base / min / max price per commodity
PRICE_BASE = np.array([45.0, 55.0, 85.0, 145.0, 210.0, 120.0])
PRICE_MIN = np.array([12.0, 15.0, 20.0, 50.0, 80.0, 30.0])
PRICE_MAX = np.array([180.0, 200.0, 240.0, 320.0, 420.0, 300.0])
INVENTORY_PRESSURE = 0.04
SALES_PRESSURE = 0.05
PRICE_NOISE = 0.03
SALES_DECAY_TAU = 14.0
INVENTORY_DECAY = 0.998
OBS_INVENTORY_COMMODITIES = (IRON, WATER_ICE, PGE, RARE_ISOTOPES)

# Ship start state
START_FUEL = 1000.0
START_HULL = 100.0
START_TOOL = 100.0
START_KITS = 3
START_STABILIZERS = 2
START_DECOYS = 1

# Action indices
A_TRAVEL = 0  # 0..5: travel through neighbour slot k
A_HOLD = 6
A_EMERGENCY_BURN = 7
A_WIDE_SCAN = 8
A_FOCUSED_SCAN = 9
A_DEEP_SCAN = 10
A_THREAT_LISTEN = 11
A_SELECT = 12  # 12..27: select asteroid slot a
A_MINE = 28  # 28/29/30: conservative, standard, aggressive
A_STABILIZE = 31
A_REFINE = 32
A_COOLDOWN = 33
A_TOOL_MAINT = 34
A_HULL_PATCH = 35
A_JETTISON = 36  # 36..41: jettison commodity c
A_DOCK = 42
A_SELL = 43  # 43..60: sell commodity (i-43)//3, fraction SELL_FRACTIONS[(i-43)%3]
A_BUY_FUEL = 61  # 61..63: small, medium, large
A_BUY_KIT = 64
A_BUY_STABILIZER = 65
A_BUY_DECOY = 66
A_OVERHAUL = 67
A_CASH_OUT = 68

# Action families, for histograms: (name, first index, last index inclusive)
ACTION_FAMILIES = (
    ("travel", 0, 5),
    ("hold", 6, 6),
    ("emergency_burn", 7, 7),
    ("scan", 8, 10),
    ("threat_listen", 11, 11),
    ("select", 12, 27),
    ("mine", 28, 30),
    ("stabilize", 31, 31),
    ("refine", 32, 32),
    ("cooldown", 33, 33),
    ("repair", 34, 35),
    ("jettison", 36, 41),
    ("dock", 42, 42),
    ("sell", 43, 60),
    ("buy", 61, 66),
    ("overhaul", 67, 67),
    ("cash_out", 68, 68),
)

# Time cost (dt, ticks) of actions other than travel
DT_WIDE_SCAN = 3
DT_FOCUSED_SCAN = 2
DT_DEEP_SCAN = 4
DT_THREAT_LISTEN = 2
DT_STABILIZE = 2
DT_REFINE = 2
DT_COOLDOWN = 2
DT_MAINTENANCE = 2
DT_DOCK = 1
DT_OVERHAUL = 3

# Fuel, heat and alert costs
FUEL_WIDE_SCAN = 5.0
FUEL_FOCUSED_SCAN = 4.0
FUEL_DEEP_SCAN = 8.0
FUEL_REFINE = 4.0
FUEL_COOLDOWN = 2.0
FUEL_EMERGENCY_BURN = 18.0
HEAT_REFINE = 6.0
HEAT_COOLDOWN = 20.0
HEAT_PASSIVE_PER_TICK = 2.5
HEAT_HOLD_EXTRA = 2.5
ALERT_BURN = 10.0
ALERT_WIDE_SCAN = 4.0
ALERT_FOCUSED_SCAN = 3.0
ALERT_DEEP_SCAN = 6.0
ALERT_REFINE = 3.0
ALERT_COOLDOWN = 1.0
ALERT_HOLD = -3.0
ALERT_DOCK = -20.0
ALERT_JETTISON = -8.0
CARGO_MASS_FUEL_FACTOR = 0.5

# Damage, repair, buffs
OVERHEAT_HULL_PER_HEAT = 1.25
TOOL_REPAIR = 25.0
HULL_PATCH = 20.0
ESCAPE_BUFF_TICKS = 4
STABILIZE_BUFF_TICKS = 6

# Hazard per tick: hull, heat, alert; hull draws U(lo, hi) on nodes and edges
HAZARD_HULL = 0.7
HAZARD_HEAT = 0.5
HAZARD_ALERT = 0.8
NODE_HAZARD_JITTER = (0.8, 1.2)
EDGE_HAZARD_JITTER = (0.85, 1.15)

# Pirates
PIRATE_BIAS = -4.0
PIRATE_INTENSITY = 3.0
PIRATE_ALERT = 2.2
PIRATE_CARGO = 0.8
PIRATE_ESCAPE = -2.8
PIRATE_LOSS = (0.08, 0.2)
DECOY_CHANCE = 0.6
DECOY_LOSS_FACTOR = 0.3
PIRATE_HULL = (1.0, 4.0)
PIRATE_ALERT_GAIN = 8.0

# Selling
SLIPPAGE_K = 0.25
SLIPPAGE_ROOT = 0.2
SLIPPAGE_MAX = 0.7
SELL_FRACTIONS = (0.25, 0.5, 1.0)

# Shop
FUEL_PACK_UNITS = (120.0, 260.0, 480.0)
FUEL_PACK_PRICE = (60.0, 120.0, 210.0)
KIT_PRICE = 150.0
STABILIZER_PRICE = 175.0
DECOY_PRICE = 110.0
OVERHAUL_PRICE = 280.0

# Mining modes: conservative, standard, aggressive
MINE_YIELD = (0.80, 1.15, 1.55)
MINE_HEAT = (2.0, 4.0, 7.0)
MINE_WEAR = (0.8, 1.6, 2.8)
MINE_ALERT = (1.2, 2.2, 4.0)
MINE_NOISE = (0.05, 0.10, 0.16)
MINE_FRACTURE_BIAS = (-0.7, 0.0, 0.8)
DEPLETION_PER_UNIT = 0.01
HEAT_EFFICIENT_FRAC = 0.7
FRACTURE_BASE = -3.1
FRACTURE_STABILITY = 2.5
FRACTURE_HEAT = 2.2
FRACTURE_TOOL = 1.5
FRACTURE_STABILIZED = -1.1
FRACTURE_HULL = 12.0
FRACTURE_HAZARD_GAIN = 0.1

# Scans, by kind (wide, focused, deep): cost, then blend, confidence gain, noise multiplier
SCAN_DT = (DT_WIDE_SCAN, DT_FOCUSED_SCAN, DT_DEEP_SCAN)
SCAN_FUEL = (FUEL_WIDE_SCAN, FUEL_FOCUSED_SCAN, FUEL_DEEP_SCAN)
SCAN_ALERT = (ALERT_WIDE_SCAN, ALERT_FOCUSED_SCAN, ALERT_DEEP_SCAN)
SCAN_BLEND = (0.22, 0.42, 0.80)
SCAN_CONF_GAIN = (0.10, 0.20, 0.45)
SCAN_NOISE_MULT = (1.35, 1.0, 0.55)
THREAT_LISTEN_KEEP = 0.25
THREAT_LISTEN_NOISE = 0.08

# Refining
REFINE_TAKE = 0.15
REFINE_GAIN = 0.65

# Reward (spec 1.7)
R_EXTRACT = 0.02
R_FUEL = -0.1
R_TIME = -0.001
R_WEAR = -0.05
R_DAMAGE = -1.0
R_HEAT = -0.2
R_HEAT_THRESHOLD = 70.0
R_SCAN = -0.005
R_INVALID = -0.01
R_PIRATE = -1.0
R_STRANDED = -50.0
R_DESTROYED = -100.0
R_DONE_CREDITS = 0.002

# Reward profiles (spec 2.9): index passed to the step kernel
REWARD_ORIGINAL = 0
REWARD_PROFIT = 1
REWARD_PROFILES = ("original", "profit")
PROFIT_DEATH_PENALTY = 1.0  # spec 2.9: per ending (destroyed, stranded), on top of losing the banked credits

# World generation
NODES_RANGE = (8, 33)
HAZARD_NODE_CHANCE = 0.25
NODE_HAZARD_RANGE = (0.05, 0.35)
NODE_PIRATE_RANGE = (0.05, 0.30)
HAZARD_NODE_EXTRA = (0.25, 0.12)
EDGE_TIME_RANGE = (1, 9)
EDGE_FUEL_RANGE = (20.0, 112.0)
EDGE_THREAT_NOISE = 0.05
THREAT_ESTIMATE_START = 0.5
ASTEROIDS_RANGE = (5, 17)
RICHNESS_LOGNORMAL = (-0.2, 0.65)
RICHNESS_CLAMP = (0.2, 4.0)
STABILITY_BETA = (3, 2)
ASTEROID_NOISE_RANGE = (0.04, 0.22)
STABILITY_ESTIMATE_START = 0.5
SCAN_CONFIDENCE_START = 0.10
MARKET_INVENTORY_RANGE = (20.0, 120.0)
MARKET_PERIOD_RANGE = (180.0, 380.0)
MARKET_AMPLITUDE_RANGE = (0.1, 0.3)

# Observation layout (start index of each block)
OBS_SHIP = 0
OBS_CARGO = 8
OBS_ITEMS = 14
OBS_AT_STATION = 17
OBS_SELECTION_VALID = 18
OBS_NODE_TYPE = 19
OBS_NODE_INDEX = 22
OBS_HOPS = 23
OBS_NEIGHBORS = 24
NEIGHBOR_WIDTH = 7
OBS_ASTEROIDS = 68
ASTEROID_WIDTH = 11
OBS_PRICES = 244
OBS_PRICE_DELTAS = 250
OBS_INVENTORY = 256

# Per-episode statistics reported when an episode ends (spec section 3), column order
EPISODE_STATS = (
    "return",
    "length",
    "ticks",
    "credits",
    "net_profit",
    "survival",
    "destroyed",
    "stranded",
    "cash_out",
    "pirate_encounters",
    "value_lost_to_pirates",
    "overheat_ticks",
    "scan_count",
    "mining_ticks",
    "invalid_actions",
    "fuel_used",
    "hull_damage",
)
(
    ST_RETURN,
    ST_LENGTH,
    ST_TICKS,
    ST_CREDITS,
    ST_NET_PROFIT,
    ST_SURVIVAL,
    ST_DESTROYED,
    ST_STRANDED,
    ST_CASH_OUT,
    ST_PIRATE_ENCOUNTERS,
    ST_VALUE_LOST,
    ST_OVERHEAT_TICKS,
    ST_SCAN_COUNT,
    ST_MINING_TICKS,
    ST_INVALID_ACTIONS,
    ST_FUEL_USED,
    ST_HULL_DAMAGE,
) = range(len(EPISODE_STATS))

NODE_TYPE_NAMES = ("station", "cluster", "hazard")
MINE_MODE_NAMES = ("conservative", "standard", "aggressive")
FUEL_PACK_NAMES = ("small", "medium", "large")
# A name per action index, for replays and people: e.g. travel_2, mine_standard, sell_pge_50
ACTION_NAMES = (
    *(f"travel_{k}" for k in range(A_HOLD - A_TRAVEL)),
    "hold",
    "emergency_burn",
    "wide_scan",
    "focused_scan",
    "deep_scan",
    "threat_listen",
    *(f"select_{a}" for a in range(MAX_ASTEROIDS)),
    *(f"mine_{mode}" for mode in MINE_MODE_NAMES),
    "stabilize",
    "refine",
    "cooldown",
    "tool_maintenance",
    "hull_patch",
    *(f"jettison_{name}" for name in COMMODITY_NAMES),
    "dock",
    *(f"sell_{name}_{round(100 * f)}" for name in COMMODITY_NAMES for f in SELL_FRACTIONS),
    *(f"buy_fuel_{size}" for size in FUEL_PACK_NAMES),
    "buy_kit",
    "buy_stabilizer",
    "buy_decoy",
    "overhaul",
    "cash_out",
)
