"""From decisions to a schedule the shared engine checks: tasks, radio rates, the Timeline.

Decisions: which modalities each RB serves in turn (one under the static policy), the
number of chunks per modality, the core of every task and its start. Chunking splits a
modality's entry block into that many tiles of equal work; tile j starts once chunk j is
in. Sensors send back to back from time 0, so arrivals follow from the RB plan alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optsplit.formulations.multimodal.data import FloatArray, IntArray, MultimodalData
from optsplit.timeline import RateProfile, Timeline, TimelineBuilder, completion_times

DONE = 1e-12  # relative remainder below which a modality's data count as delivered


@dataclass(frozen=True, eq=False)
class Tasks:
    """Compute tasks for one choice of chunk counts: blocks, with entry blocks cut into tiles."""

    names: tuple[str, ...]
    block: IntArray  # block of each task
    flops: FloatArray
    chunk: IntArray  # (task) the chunk it waits for (0-based), -1 if none
    modality: IntArray  # (task) modality whose chunk it waits for, -1 if none
    src: IntArray  # task edges
    dst: IntArray
    nbytes: FloatArray
    chunks: tuple[int, ...]  # per modality

    @property
    def n(self) -> int:
        return len(self.names)

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


def tile_name(block: str, j: int, count: int) -> str:
    return block if count == 1 else f"{block}#{j + 1}/{count}"


def transfer_names(modality: str, count: int) -> list[str]:
    return [f"tx:{modality}" if count == 1 else f"tx:{modality}#{j + 1}/{count}" for j in range(count)]


def expand(data: MultimodalData, chunks: Sequence[int]) -> Tasks:
    """Tasks of the blocks with modality m's entry block cut into ``chunks[m]`` tiles."""
    tiles = np.ones(data.n_blocks, dtype=np.int64)
    owner = np.full(data.n_blocks, -1, dtype=np.int64)
    for m, v in enumerate(data.entry):
        tiles[v], owner[v] = chunks[m], m
    first = np.concatenate(([0], np.cumsum(tiles)))
    names, block, flops, chunk, modality = [], [], [], [], []
    for v, name in enumerate(data.block_names):
        count = int(tiles[v])
        for j in range(count):
            names.append(tile_name(name, j, count))
            block.append(v)
            flops.append(data.flops[v] / count)
            chunk.append(j if owner[v] >= 0 else -1)
            modality.append(int(owner[v]))
    src, dst, nbytes = [], [], []
    for u, v, b in zip(data.edge_src.tolist(), data.edge_dst.tolist(), data.edge_bytes.tolist()):
        count = int(tiles[u])
        for j in range(count):
            for i in range(int(tiles[v])):
                src.append(int(first[u]) + j)
                dst.append(int(first[v]) + i)
                nbytes.append(b / count)
    ints = np.int64
    return Tasks(
        tuple(names),
        np.array(block, dtype=ints),
        np.array(flops, dtype=float),
        np.array(chunk, dtype=ints),
        np.array(modality, dtype=ints),
        np.array(src, dtype=ints),
        np.array(dst, dtype=ints),
        np.array(nbytes, dtype=float),
        tuple(int(c) for c in chunks),
    )


def rate_profiles(data: MultimodalData, serves: Sequence[Sequence[int]]) -> list[RateProfile]:
    """Each modality's rate over time when RB k serves ``serves[k]`` in turn, each until its
    data are in (static policy: one modality per RB, constant rates). Event simulation."""
    rates, bits = data.rates, data.bits
    M, K = rates.shape
    left = bits.astype(float).copy()
    done = np.zeros(M, dtype=bool)
    ptr = [0] * K
    steps: list[list[tuple[float, float]]] = [[] for _ in range(M)]
    t = 0.0
    while True:
        current = np.zeros(M)
        for k in range(K):
            queue = serves[k]
            while ptr[k] < len(queue) and done[queue[ptr[k]]]:
                ptr[k] += 1
            if ptr[k] < len(queue):
                current[queue[ptr[k]]] += rates[queue[ptr[k]], k]
        for m in np.flatnonzero(~done):
            if not steps[m] or steps[m][-1][1] != current[m]:
                if steps[m] and steps[m][-1][0] == t:
                    steps[m][-1] = (t, float(current[m]))
                else:
                    steps[m].append((t, float(current[m])))
        active = ~done & (current > 0)
        if not active.any():
            break
        dt = float(np.min(left[active] / current[active]))
        t += dt
        left = np.where(active, left - current * dt, left)
        finished = active & (left <= DONE * bits)
        done |= finished
        left[finished] = 0.0
    return [RateProfile.steps([s[0] for s in st], [s[1] for s in st]) for st in steps]


def chunk_arrivals(
    data: MultimodalData, profiles: Sequence[RateProfile], chunks: Sequence[int]
) -> list[FloatArray]:
    """Per modality, when each of its chunks is fully in (inf if never)."""
    return [
        completion_times(profiles[m], np.full(chunks[m], data.bits[m] / chunks[m]))
        for m in range(len(chunks))
    ]


def durations(data: MultimodalData, tasks: Tasks, cores: IntArray) -> FloatArray:
    return tasks.flops / data.speeds[cores]


def edge_lags(data: MultimodalData, tasks: Tasks, cores: IntArray) -> FloatArray:
    """NoC time on each task edge: 0 on the same core."""
    cross = cores[tasks.src] != cores[tasks.dst]
    return np.where(cross, np.asarray(data.noc_lag(tasks.nbytes)), 0.0)


def build_timeline(
    data: MultimodalData, tasks: Tasks, serves: Sequence[Sequence[int]], cores: IntArray
) -> tuple[Timeline, FloatArray]:
    """The Timeline of these decisions and the start times of its transfers (back to back from 0).

    Resources: one link per modality, then the cores; transfers come first, then the tasks.
    """
    b = TimelineBuilder()
    M = data.n_modalities
    for name in data.modalities:
        b.add_resource(f"uplink:{name}", "link")
    for c in range(data.n_cores):
        b.add_resource(f"core{c}")
    profiles = rate_profiles(data, serves)
    arrivals = chunk_arrivals(data, profiles, tasks.chunks)
    transfer_start: list[float] = []
    first_transfer = []
    for m, modality in enumerate(data.modalities):
        count = tasks.chunks[m]
        first_transfer.append(len(transfer_start))
        b.add_transfers(transfer_names(modality, count), m, data.bits[m] / count, profiles[m])
        transfer_start += [0.0, *arrivals[m][:-1].tolist()]
    n_tx = len(transfer_start)
    b.add_tasks(list(tasks.names), (cores + M).astype(np.int64), durations(data, tasks, cores))
    waits = np.flatnonzero(tasks.modality >= 0)
    tx = np.array([first_transfer[m] for m in tasks.modality[waits]], dtype=np.int64) + tasks.chunk[waits]
    b.add_edges(tx, waits + n_tx)
    b.add_edges(tasks.src + n_tx, tasks.dst + n_tx, edge_lags(data, tasks, cores))
    return b.build(), np.array(transfer_start)
