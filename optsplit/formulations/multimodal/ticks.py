"""The tick model the exact methods solve: the problem at a time resolution Δ, in integers.

Every duration and NoC lag is rounded UP to whole ticks, and rates DOWN to integer units
(bits are counted in units of 1/S bit so that the fastest RB carries 2^30 units a tick), so
every tick schedule is feasible in continuous time with the same decisions: the engine
re-evaluates it and finds a makespan no larger. Chunk J of modality m is in at the first
tick A with A · Σ_k R_mk a_mk ≥ B_mJj. The tasks are the union over chunk options: the
blocks, and for each modality and option J its J tiles, present when that option is used.
Static RB policy only. Brute force over this model (tiny instances) cross-checks CP-SAT
and the MILP.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optsplit.formulations.multimodal.data import IntArray, MultimodalData
from optsplit.formulations.multimodal.schedule import tile_name

RATE_UNITS = 2**30  # integer rate units per tick on the fastest RB
ROUNDING = 1e-9  # a quantity within this relative distance of a whole tick is that tick
BRUTE_MAX_TASKS = 7
BRUTE_MAX_RB_MAPS = 4096


def _ceil(x: np.ndarray) -> np.ndarray:
    return np.ceil(x * (1 - ROUNDING)).astype(np.int64)


@dataclass(frozen=True, eq=False)
class TickData:
    """Integer data of the tick model; task t is present iff ``option[t]`` is used (or always, -1)."""

    delta: float
    names: tuple[str, ...]
    block: IntArray  # (T,)
    modality: IntArray  # (T,) for tiles, -1 for blocks
    option: IntArray  # (T,) index into chunk_options for tiles, -1 for blocks
    tile: IntArray  # (T,) tile index j for tiles, -1
    p: IntArray  # (T, C) ticks
    src: IntArray  # edges
    dst: IntArray
    lag: IntArray  # ticks when the edge crosses cores
    R: IntArray  # (M, K) rate units per tick
    B: dict[tuple[int, int, int], int]  # (m, option, j) -> units needed for chunk j
    options: tuple[int, ...]
    horizon: int
    exact: bool  # no duration, lag or rate was rounded

    @property
    def n(self) -> int:
        return len(self.names)


def build_ticks(data: MultimodalData, delta: float, horizon: int) -> TickData:
    """The tick model of ``data`` at resolution ``delta`` (s) with horizon ``horizon`` ticks."""
    names: list[str] = []
    block: list[int] = []
    modality: list[int] = []
    option: list[int] = []
    tile: list[int] = []
    flops: list[float] = []

    def add(name: str, v: int, m: int, o: int, j: int, work: float) -> int:
        names.append(name)
        block.append(v)
        modality.append(m)
        option.append(o)
        tile.append(j)
        flops.append(work)
        return len(names) - 1

    entry_of = {int(v): m for m, v in enumerate(data.entry)}
    first: dict[int, list[tuple[int, list[int]]]] = {}
    for v, name in enumerate(data.block_names):
        if v not in entry_of:
            first[v] = [(-1, [add(name, v, -1, -1, -1, float(data.flops[v]))])]
            continue
        m = entry_of[v]
        first[v] = []
        for o, count in enumerate(data.chunk_options):
            ids = [
                add(tile_name(name, j, count), v, m, o, j, float(data.flops[v]) / count) for j in range(count)
            ]
            first[v].append((o, ids))
    edges = [
        (i, w, b / len(ids_u))
        for u, v, b in zip(data.edge_src.tolist(), data.edge_dst.tolist(), data.edge_bytes.tolist())
        for _, ids_u in first[u]
        for i in ids_u
        for _, ids_v in first[v]
        for w in ids_v
    ]
    src = [e[0] for e in edges]
    dst = [e[1] for e in edges]
    nbytes = [e[2] for e in edges]
    exact_p = np.outer(flops, 1.0 / data.speeds) / delta
    exact_lag = np.asarray(data.noc_lag(np.array(nbytes)), dtype=float) * np.ones(len(nbytes)) / delta
    p, lag = _ceil(exact_p), _ceil(exact_lag) if nbytes else np.zeros(0, np.int64)
    scale = RATE_UNITS / (float(data.rates.max()) * delta)  # units per bit
    units = data.rates * delta * scale
    R = np.floor(units).astype(np.int64)
    B: dict[tuple[int, int, int], int] = {}
    for m in range(data.n_modalities):
        for o, count in enumerate(data.chunk_options):
            for j in range(count):
                B[(m, o, j)] = math.ceil(data.bits[m] * (j + 1) / count * scale)
    exact = bool(
        np.allclose(p, exact_p, rtol=ROUNDING, atol=0)
        and (lag.size == 0 or np.allclose(lag, exact_lag, rtol=ROUNDING, atol=0))
        and np.array_equal(R, units)
    )
    ints = np.int64
    return TickData(
        delta,
        tuple(names),
        np.array(block, ints),
        np.array(modality, ints),
        np.array(option, ints),
        np.array(tile, ints),
        p,
        np.array(src, ints),
        np.array(dst, ints),
        lag.astype(ints),
        R,
        B,
        data.chunk_options,
        int(horizon),
        exact,
    )


def arrivals(tick: TickData, owner: Sequence[int], m: int, o: int) -> list[int]:
    """Tick at which each chunk of modality m (option o) is in, for RB owners ``owner``."""
    rate = sum(int(tick.R[m, k]) for k, w in enumerate(owner) if w == m)
    count = tick.options[o]
    if rate == 0:
        return [tick.horizon * 10] * count  # never within the horizon
    return [-(-tick.B[(m, o, j)] // rate) for j in range(count)]


def active(tick: TickData, choice: Sequence[int]) -> list[int]:
    """Tasks present when modality m uses option ``choice[m]``."""
    return [t for t in range(tick.n) if tick.option[t] < 0 or choice[tick.modality[t]] == tick.option[t]]


def makespan(
    tick: TickData,
    owner: Sequence[int],
    choice: Sequence[int],
    core: dict[int, int],
    sequence: dict[int, list[int]],
) -> int | None:
    """Tick makespan of the semi-active schedule with these decisions; None if the core
    sequences contradict the edges. ``core``/``sequence`` cover the active tasks."""
    tasks = active(tick, choice)
    release = {t: 0 for t in tasks}
    for m, o in enumerate(choice):
        times = arrivals(tick, owner, m, o)
        for t in tasks:
            if tick.modality[t] == m:
                release[t] = times[tick.tile[t]]
    arcs: list[tuple[int, int, int]] = []  # (u, v, delay from u's start)
    for u, v, lag in zip(tick.src.tolist(), tick.dst.tolist(), tick.lag.tolist()):
        if u in release and v in release:
            arcs.append((u, v, int(tick.p[u, core[u]]) + (lag if core[u] != core[v] else 0)))
    for seq in sequence.values():
        for u, v in zip(seq[:-1], seq[1:]):
            arcs.append((u, v, int(tick.p[u, core[u]])))
    start = dict(release)
    for _ in range(len(tasks) + 1):
        changed = False
        for u, v, d in arcs:
            if start[u] + d > start[v]:
                start[v] = start[u] + d
                changed = True
        if not changed:
            return max(start[t] + int(tick.p[t, core[t]]) for t in tasks)
    return None  # a positive cycle: the sequences contradict the edges


def brute_force(tick: TickData, n_cores: int, n_modalities: int, n_rbs: int) -> tuple[int, dict]:
    """The tick optimum by enumeration: RB owners, chunk options, core maps, core sequences."""
    if n_modalities**n_rbs > BRUTE_MAX_RB_MAPS:
        raise ValueError(f"{n_modalities}^{n_rbs} RB maps: brute force takes at most {BRUTE_MAX_RB_MAPS}")
    best, arg = None, {}
    options = range(len(tick.options))
    for choice in itertools.product(options, repeat=n_modalities):
        tasks = active(tick, choice)
        if len(tasks) > BRUTE_MAX_TASKS:
            raise ValueError(f"{len(tasks)} tasks: brute force takes at most {BRUTE_MAX_TASKS}")
        for owner in itertools.product(range(n_modalities), repeat=n_rbs):
            if len(set(owner)) < n_modalities:
                continue
            for cores in itertools.product(range(n_cores), repeat=len(tasks)):
                core = dict(zip(tasks, cores))
                groups = [[t for t in tasks if core[t] == c] for c in range(n_cores)]
                for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
                    seq = {c: list(p) for c, p in enumerate(perms)}
                    value = makespan(tick, owner, choice, core, seq)
                    if value is not None and (best is None or value < best):
                        best = value
                        arg = {"owner": owner, "choice": choice, "core": core, "sequence": seq}
    if best is None:
        raise ValueError("no schedule found")
    return best, arg
