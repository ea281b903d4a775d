"""RTFS (transmit, then compute) and PACS (pipelined) as reconstructed from O-WiN's abstract.

Both allocate RBs by a greedy min-max, then list-schedule the task DAG on the cores with
the upward rank as priority and earliest-finish core choice, NoC cost included (HEFT-like).
RTFS waits until every modality's data are in and sends them unchunked. PACS orders the
transfers Johnson-style against the branches' compute, weighs the RB allocation by the
compute that follows each arrival, cuts the data into chunks, and schedules event by event
(the earliest-starting ready task next), so blocks start while later data are in flight;
it simulates a few candidate allocations and chunkings and keeps the best, and on small
instances improves that by a local search over single moves (RB handed over or exchanged,
transfer order, one modality's chunk count), each plan simulated by the same scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optsplit.formulations.multimodal.data import FloatArray, IntArray, MultimodalData
from optsplit.formulations.multimodal.plan import Decisions
from optsplit.formulations.multimodal.schedule import Tasks, chunk_arrivals, expand, rate_profiles

INF = float("inf")
SEARCH_TASKS = 64  # local search only when the finest chunking has at most this many blocks/tiles ...
SEARCH_ROUNDS = 20  # ... and for at most this many improving moves
PRUNE_MARGIN = 1e-9  # a candidate is skipped once its makespan floor exceeds the best by this


@dataclass(frozen=True, eq=False)
class Schedule:
    """A method's decisions with the finish times it computed and its makespan."""

    decisions: Decisions
    finish: FloatArray
    makespan: float


# --- radio ------------------------------------------------------------------------------


def minmax_allocation(data: MultimodalData, tails: FloatArray) -> list[int]:
    """Owner of each RB, greedy: the modality with the largest D_m / r_m + tail_m takes its
    best free RB; then single-RB moves to the worst modality while they lower that maximum."""
    M, K = data.rates.shape
    rates, bits = data.rates, data.bits
    owner = np.full(K, -1, dtype=np.int64)
    rate = np.zeros(M)
    by_rate = np.argsort(-rates, axis=1, kind="stable").tolist()
    ptr = [0] * M
    tail, size = tails.tolist(), bits.tolist()
    for _ in range(K):
        greedy = [size[m] / rate[m] + tail[m] if rate[m] > 0 else INF for m in range(M)]
        top = max(greedy)
        m = max((w for w in range(M) if greedy[w] == top), key=lambda w: size[w] + tail[w])
        while owner[by_rate[m][ptr[m]]] >= 0:
            ptr[m] += 1
        k = by_rate[m][ptr[m]]
        owner[k] = m
        rate[m] += rates[m, k]
    cols = np.arange(K)
    for _ in range(4 * K):
        with np.errstate(divide="ignore"):
            score = np.where(rate > 0, bits / np.where(rate > 0, rate, 1.0) + tails, INF)
        m = int(np.argmax(score))
        # moving RB k from its owner o to m: o's new score, m's new score, the others unchanged
        o = owner
        left = rate[o] - rates[o, cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            o_score = np.where(left > 0, bits[o] / np.where(left > 0, left, 1.0) + tails[o], INF)
        m_score = bits[m] / (rate[m] + rates[m]) + tails[m]
        others = _max_without(score, m, o)
        trial = np.maximum(np.maximum(o_score, m_score), others)
        trial[o == m] = INF
        k = int(np.argmin(trial))
        if not trial[k] < score[m] * (1 - 1e-12):
            break
        rate[owner[k]] -= rates[owner[k], k]
        rate[m] += rates[m, k]
        owner[k] = m
    return owner.tolist()


def _max_without(score: FloatArray, m: int, o: IntArray) -> FloatArray:
    """Per RB, the largest score among modalities other than m and the RB's owner o[k]."""
    out = np.full(o.size, -INF)
    for w in range(score.size):
        if w == m:
            continue
        out = np.where(o != w, np.maximum(out, score[w]), out)
    return out


def johnson_order(stage1: FloatArray, stage2: FloatArray) -> list[int]:
    """Johnson's rule for a two-machine flow shop: short transfers before long compute."""
    first = sorted((m for m in range(stage1.size) if stage1[m] < stage2[m]), key=lambda m: stage1[m])
    last = sorted((m for m in range(stage1.size) if stage1[m] >= stage2[m]), key=lambda m: -stage2[m])
    return first + last


def queues(owner: Sequence[int], then: Sequence[int] | None) -> tuple[tuple[int, ...], ...]:
    """RB queues: the owner alone (static), or the owner then the others in ``then``'s order."""
    if then is None:
        return tuple((o,) for o in owner)
    return tuple((o, *(m for m in then if m != o)) for o in owner)


# --- compute ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Costs:
    """Per task and core durations, per edge NoC lag, and adjacency lists for the schedulers."""

    dur: list[list[float]]
    preds: list[list[tuple[int, float]]]
    succs: list[list[tuple[int, float]]]
    rank: list[float]


def costs(data: MultimodalData, tasks: Tasks) -> Costs:
    """Durations, lags and upward ranks (mean duration + max over successors of mean lag + rank)."""
    dur = np.outer(tasks.flops, 1.0 / data.speeds)
    lag = np.asarray(data.noc_lag(tasks.nbytes), dtype=float) * np.ones(tasks.src.size)
    preds: list[list[tuple[int, float]]] = [[] for _ in range(tasks.n)]
    succs: list[list[tuple[int, float]]] = [[] for _ in range(tasks.n)]
    for u, v, w in zip(tasks.src.tolist(), tasks.dst.tolist(), lag.tolist()):
        preds[v].append((u, w))
        succs[u].append((v, w))
    mean = dur.mean(axis=1).tolist()
    share = (data.n_cores - 1) / data.n_cores
    rank = [0.0] * tasks.n
    for t in range(tasks.n - 1, -1, -1):  # task order is topological (blocks in file order)
        rank[t] = mean[t] + max((share * w + rank[s] for s, w in succs[t]), default=0.0)
    return Costs(dur.tolist(), preds, succs, rank)


def _best_core(
    t: int, release: float, c: Costs, core_of: list[int], finish: list[float], free: list[float]
) -> tuple[float, float, int]:
    """(finish, start, core) of task t on the core where it finishes first (ties: earlier
    start, then lower core): every core waits for all NoC transfers, except the few cores
    holding a predecessor, which are then re-priced without that predecessor's lag."""
    preds = c.preds[t]
    cross = release
    for p, w in preds:
        f = finish[p] + w
        if f > cross:
            cross = f
    dur = c.dur[t]
    b_end, b_start, b_k = INF, INF, -1
    for k, fk in enumerate(free):
        start = fk if fk > cross else cross
        end = start + dur[k]
        if end < b_end or (end == b_end and start < b_start):
            b_end, b_start, b_k = end, start, k
    if cross > release:
        for k in {core_of[p] for p, _ in preds}:
            ready = release
            for p, w in preds:
                f = finish[p] if core_of[p] == k else finish[p] + w
                if f > ready:
                    ready = f
            start = max(ready, free[k])
            end = start + dur[k]
            if (end, start, k) < (b_end, b_start, b_k):
                b_end, b_start, b_k = end, start, k
    return b_end, b_start, b_k


def heft(c: Costs, release: Sequence[float], n_cores: int) -> tuple[list[int], list[float], list[float]]:
    """Tasks in decreasing upward rank, each on its earliest-finish core, appended (no insertion)."""
    n = len(c.rank)
    order = sorted(range(n), key=lambda t: (-c.rank[t], t))
    core_of, start, finish, free = [-1] * n, [0.0] * n, [0.0] * n, [0.0] * n_cores
    for t in order:
        end, s, k = _best_core(t, release[t], c, core_of, finish, free)
        core_of[t], start[t], finish[t], free[k] = k, s, end, end
    return core_of, start, finish


def event_driven(
    c: Costs, release: Sequence[float], n_cores: int
) -> tuple[list[int], list[float], list[float]]:
    """Repeatedly start the ready task that can start first (ties: higher rank) on its
    earliest-finish core; a task is ready once its predecessors are placed."""
    n = len(c.rank)
    core_of, start, finish, free = [-1] * n, [0.0] * n, [0.0] * n, [0.0] * n_cores
    waiting = [len(p) for p in c.preds]
    best: dict[int, tuple[float, float, int]] = {}
    for t in range(n):
        if waiting[t] == 0:
            best[t] = _best_core(t, release[t], c, core_of, finish, free)
    while best:
        t = min(best, key=lambda u: (best[u][1], -c.rank[u], u))
        end, s, k = best.pop(t)
        core_of[t], start[t], finish[t], free[k] = k, s, end, end
        for u, (_, _, ku) in list(best.items()):
            if ku == k:
                best[u] = _best_core(u, release[u], c, core_of, finish, free)
        for v, _ in c.succs[t]:
            waiting[v] -= 1
            if waiting[v] == 0:
                best[v] = _best_core(v, release[v], c, core_of, finish, free)
    return core_of, start, finish


# --- the two methods --------------------------------------------------------------------


def _run(
    data: MultimodalData,
    serves: tuple[tuple[int, ...], ...],
    chunks: tuple[int, ...],
    wait_all: bool,
    prepared: tuple[Tasks, Costs] | None = None,
    arrivals: list[FloatArray] | None = None,
) -> Schedule:
    """Simulate one candidate: arrivals from the RB queues, then list-schedule the tasks
    (``prepared``: the chunking's tasks and costs, shared by candidates with that chunking;
    ``arrivals``: the chunks' arrival times, if already known)."""
    tasks, c = prepared or _prepare(data, chunks)
    if arrivals is None:
        arrivals = chunk_arrivals(data, rate_profiles(data, serves), chunks)
    release = np.zeros(tasks.n)
    waits = tasks.modality >= 0
    if wait_all:
        release[waits] = max(float(a[-1]) for a in arrivals)
    else:
        release[waits] = [arrivals[m][j] for m, j in zip(tasks.modality[waits], tasks.chunk[waits])]
    rel = release.tolist()
    core_of, start, finish = (heft if wait_all else event_driven)(c, rel, data.n_cores)
    fin = np.array(finish)
    dec = Decisions(serves, chunks, tasks, np.array(core_of, dtype=np.int64), np.array(start))
    return Schedule(dec, fin, float(fin.max()))


def _prepare(data: MultimodalData, chunks: tuple[int, ...]) -> tuple[Tasks, Costs]:
    """The task DAG of a chunking and its scheduling costs."""
    tasks = expand(data, chunks)
    return tasks, costs(data, tasks)


def rtfs(data: MultimodalData) -> Schedule:
    """RTFS: min-max transfer-time RBs; no chunks; nothing starts before all data are in."""
    owner = minmax_allocation(data, np.zeros(data.n_modalities))
    then = None
    if data.policy == "reassign":  # a freed RB goes to the largest remaining transfer
        then = sorted(range(data.n_modalities), key=lambda m: -data.bits[m])
    return _run(data, queues(owner, then), (1,) * data.n_modalities, wait_all=True)


def branch_paths(data: MultimodalData, chunks: int) -> tuple[FloatArray, FloatArray]:
    """Per modality: compute on its path from its entry block to the end at the fastest core
    (entry block cut into ``chunks`` tiles, so only the last tile follows the last chunk), and
    the branch part of it alone (Johnson's second stage)."""
    fastest = float(data.speeds.max())
    t = (data.flops / fastest).tolist()
    to_end = list(t)
    succ: list[list[int]] = [[] for _ in range(data.n_blocks)]
    for u, v in zip(data.edge_src.tolist(), data.edge_dst.tolist()):
        succ[u].append(v)
    for v in range(data.n_blocks - 1, -1, -1):
        if succ[v]:
            to_end[v] = t[v] + max(to_end[w] for w in succ[v])
    tails = np.array([to_end[v] - t[v] * (1 - 1 / chunks) for v in data.entry.tolist()])
    speed = data.flops / fastest
    own = np.array([speed[data.branch == m].sum() for m in range(data.n_modalities)])
    return tails, own


def pacs(data: MultimodalData) -> tuple[Schedule, int]:
    """PACS: best of a few pipelined candidates (allocation × chunking), then a local search
    on small instances; returns it and how many candidates were simulated.

    Candidates are simulated in increasing order of a lower bound on their makespan (the last
    chunk's arrival plus the path after it at the fastest core, per modality); one whose bound
    already exceeds the best makespan found is skipped, which never changes the best."""
    M = data.n_modalities
    alone = data.bits / data.rates.sum(axis=1)
    plain = tuple(minmax_allocation(data, np.zeros(M)))
    pending: list[tuple[float, int, tuple[tuple[int, ...], ...], int, list[FloatArray]]] = []
    for J in data.chunk_options:
        tails, own = branch_paths(data, J)
        order = johnson_order(alone, own)
        owners = sorted({tuple(minmax_allocation(data, tails)), plain})
        plans = [queues(owner, order if data.policy == "reassign" else None) for owner in owners]
        if data.policy == "reassign":
            plans.append(tuple(tuple(order) for _ in range(data.n_rbs)))  # serial, Johnson order
        for serves in plans:
            arrivals = chunk_arrivals(data, rate_profiles(data, serves), (J,) * M)
            floor = max(float(a[-1]) + tail for a, tail in zip(arrivals, tails.tolist()))
            pending.append((floor, len(pending), serves, J, arrivals))
    pending.sort(key=lambda p: (p[0], p[1]))
    best: Schedule | None = None
    tried = 0
    prepared: dict[tuple[int, ...], tuple[Tasks, Costs]] = {}
    for floor, _, serves, J, arrivals in pending:
        if best is not None and floor > best.makespan * (1 + PRUNE_MARGIN):
            break
        chunks = (J,) * M
        if chunks not in prepared:
            prepared[chunks] = _prepare(data, chunks)
        sched = _run(data, serves, chunks, wait_all=False, prepared=prepared[chunks], arrivals=arrivals)
        tried += 1
        if best is None or sched.makespan < best.makespan:
            best = sched
    assert best is not None
    if data.n_blocks + data.entry.size * (max(data.chunk_options) - 1) <= SEARCH_TASKS:
        best, more = local_search(data, best)
        tried += more
    return best, tried


def _neighbours(
    data: MultimodalData, serves: tuple[tuple[int, ...], ...], chunks: tuple[int, ...]
) -> list[tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]]:
    """Plans one move away: an RB handed to another modality (first in its queue), two RBs
    exchanging their queues, two adjacent modalities swapped in every RB's queue tail, or one
    modality's chunk count changed."""
    out: list[tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]] = []
    for k, q in enumerate(serves):
        for m in range(data.n_modalities):
            if m != q[0]:
                head = (m, *(w for w in q if w != m)) if len(q) > 1 else (m,)
                out.append(((*serves[:k], head, *serves[k + 1 :]), chunks))
    for k1 in range(len(serves)):
        for k2 in range(k1 + 1, len(serves)):
            if serves[k1][0] != serves[k2][0]:
                pair = {k1: serves[k2], k2: serves[k1]}
                out.append((tuple(pair.get(k, q) for k, q in enumerate(serves)), chunks))
    for i in range(1, max(len(q) for q in serves) - 1):
        tail = tuple((*q[:i], q[i + 1], q[i], *q[i + 2 :]) if len(q) > i + 1 else q for q in serves)
        out.append((tail, chunks))
    for m in range(data.n_modalities):
        for J in data.chunk_options:
            if chunks[m] != J:
                out.append((serves, (*chunks[:m], J, *chunks[m + 1 :])))
    return out


def local_search(data: MultimodalData, start: Schedule) -> tuple[Schedule, int]:
    """First-improvement descent over single moves (small instances only); returns the best
    schedule and how many plans it simulated."""
    best, tried = start, 0
    prepared: dict[tuple[int, ...], tuple[Tasks, Costs]] = {}
    for _ in range(SEARCH_ROUNDS):
        improved = False
        for serves, chunks in _neighbours(data, best.decisions.serves, best.decisions.chunks):
            if chunks not in prepared:
                prepared[chunks] = _prepare(data, chunks)
            sched = _run(data, serves, chunks, wait_all=False, prepared=prepared[chunks])
            tried += 1
            if sched.makespan < best.makespan * (1 - 1e-9):
                best, improved = sched, True
                break
        if not improved:
            break
    return best, tried
