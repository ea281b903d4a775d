"""The semi-active schedule of a given service order: every task as early as the rules allow.

Each resource serves its tasks in a given sequence (default: the order they were added).
On an exclusive resource the next task starts after the previous one finishes; on a
cumulative one tasks start in sequence order, each at the first moment from then on at
which its demand fits (serial list scheduling). With edges and release times this is a
longest path over the DAG of edges + sequence links, computed in one topological sweep;
a cycle means the order contradicts the edges and is named. Finish times are
non-decreasing in start times (rate-profile transfers included), so each task's earliest
start is the least over all schedules with these sequences.

Intra-DP's two-clock recursion is this sweep on four exclusive resources: device,
server, uplink, downlink, segment k's tasks dev_k, srv_k and its exchange up_k (or
down_k), with edges dev_k → up_k → srv_{k+1} and srv_k → down_k → dev_{k+1}; the clocks
T^d, T^s, L^d, L^s are the finish times of the last task on each resource.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np

from optsplit.errors import InputError
from optsplit.timeline.model import IntArray, Ref, Timeline
from optsplit.timeline.rates import FloatArray

EDGE, AFTER_FINISH, AFTER_START = 0, 1, 2  # link kinds: an edge, sequence on exclusive / cumulative


class CycleError(InputError):
    """The edges and resource sequences form a cycle, so no schedule satisfies them."""

    def __init__(self, cycle: tuple[str, ...], message: str):
        self.cycle = cycle
        super().__init__(message, path="order")


def sequences(timeline: Timeline, order: Mapping[str, Sequence[Ref]] | None = None) -> IntArray:
    """Task indices grouped by resource (in resource order), each group in its service order."""
    tl = timeline
    by_resource = np.argsort(tl.resource, kind="stable")
    if not order:
        return by_resource
    unknown = [name for name in order if name not in tl.resource_index]
    if unknown:
        raise InputError(f"unknown resource '{unknown[0]}'", path=f"order['{unknown[0]}']")
    bounds = np.searchsorted(tl.resource[by_resource], np.arange(len(tl.resources) + 1))
    groups = []
    for k, res in enumerate(tl.resources):
        group = by_resource[bounds[k] : bounds[k + 1]]
        groups.append(_given(tl, k, order[res.name], group) if res.name in order else group)
    return np.concatenate(groups) if groups else by_resource


def _given(tl: Timeline, k: int, refs: Sequence[Ref], group: IntArray) -> IntArray:
    name = tl.resources[k].name
    path = f"order['{name}']"
    index = tl.task_index
    out = np.empty(len(refs), dtype=np.int64)
    for j, ref in enumerate(refs):
        if isinstance(ref, str) and ref in index:
            out[j] = index[ref]
        elif isinstance(ref, (int, np.integer)) and not isinstance(ref, bool) and 0 <= ref < tl.n_tasks:
            out[j] = ref
        else:
            raise InputError(f"unknown task {ref!r:.60}", path=f"{path}[{j}]")
        if tl.resource[out[j]] != k:
            other = tl.resources[tl.resource[out[j]]].name
            raise InputError(
                f"task '{tl.names[out[j]]}' runs on '{other}', not on '{name}'", path=f"{path}[{j}]"
            )
    values, counts = np.unique(out, return_counts=True)
    if np.any(counts > 1):
        raise InputError(f"task '{tl.names[values[counts > 1][0]]}' is listed twice", path=path)
    if out.size != group.size:
        missing = np.setdiff1d(group, out)
        raise InputError(f"task '{tl.names[missing[0]]}' of '{name}' is missing from its order", path=path)
    return out


def earliest(timeline: Timeline, order: Mapping[str, Sequence[Ref]] | None = None) -> FloatArray:
    """Earliest start times given each resource's service order ({resource: [tasks]}).

    Resources left out of ``order`` serve their tasks in the order they were added.
    Raises CycleError, naming the cycle, when the edges and the orders contradict.
    """
    tl = timeline
    n = tl.n_tasks
    seq = sequences(tl, order)
    same = tl.resource[seq[:-1]] == tl.resource[seq[1:]]
    first, then = seq[:-1][same], seq[1:][same]
    kind_seq = np.where(tl.capacity[tl.resource[first]] > 1, AFTER_START, AFTER_FINISH)
    src = np.concatenate((tl.pred, first))
    dst = np.concatenate((tl.succ, then))
    lag = np.concatenate((tl.lag, np.zeros(first.size)))
    kind = np.concatenate((np.full(tl.pred.size, EDGE), kind_seq))
    perm = np.argsort(src, kind="stable")
    ptr = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=n)))).tolist()
    out_dst, out_lag = dst[perm].tolist(), lag[perm].tolist()
    out_ss = (kind[perm] == AFTER_START).tolist()
    indeg = np.bincount(dst, minlength=n).tolist()

    est = tl.release.tolist()
    dur, bits, prof = tl.duration.tolist(), tl.bits.tolist(), tl.profile.tolist()
    res, demand, cap = tl.resource.tolist(), tl.demand.tolist(), tl.capacity.tolist()
    shared = (tl.capacity[tl.resource] > 1).tolist() if n else []
    profiles = tl.profiles
    running: list[list[tuple[float, int]]] = [[] for _ in tl.resources]  # (finish, demand) heaps
    used = [0] * len(tl.resources)
    start = [0.0] * n
    queue = deque(i for i in range(n) if indeg[i] == 0)
    done = 0
    while queue:
        v = queue.popleft()
        done += 1
        t = est[v]
        p = prof[v]
        if shared[v]:
            k, d = res[v], demand[v]
            heap = running[k]
            while heap and heap[0][0] <= t:
                used[k] -= heapq.heappop(heap)[1]
            while used[k] + d > cap[k]:
                f_k, d_k = heapq.heappop(heap)
                used[k] -= d_k
                t = max(t, f_k)
        f = t + dur[v] if p < 0 else profiles[p].finish_one(t, bits[v])
        if shared[v]:
            heapq.heappush(heap, (f, d))
            used[k] += d
        start[v] = t
        for e in range(ptr[v], ptr[v + 1]):
            w = out_dst[e]
            x = t if out_ss[e] else f + out_lag[e]
            if x > est[w]:
                est[w] = x
            indeg[w] -= 1
            if indeg[w] == 0:
                queue.append(w)
    if done < n:
        raise _cycle(tl, np.array(indeg) > 0, src, dst, kind)
    return np.array(start, dtype=np.float64)


def _cycle(tl: Timeline, left: np.ndarray, src: IntArray, dst: IntArray, kind: IntArray) -> CycleError:
    """Name one cycle among the tasks the sweep could not reach (each has a predecessor there)."""
    inner = np.flatnonzero(left[src] & left[dst])
    back = np.full(tl.n_tasks, -1, dtype=np.int64)
    back_kind = np.zeros(tl.n_tasks, dtype=np.int64)
    back[dst[inner]], back_kind[dst[inner]] = src[inner], kind[inner]
    v = int(np.flatnonzero(left)[0])
    walk: list[int] = []
    seen: dict[int, int] = {}
    while v not in seen:
        seen[v] = len(walk)
        walk.append(v)
        v = int(back[v])
    cycle = walk[seen[v] :][::-1]  # forward order: each task precedes the next
    text = f"'{tl.names[cycle[0]]}'"
    for u, w in zip(cycle, [*cycle[1:], cycle[0]]):
        why = "" if back_kind[w] == EDGE else f" (next in the order of '{tl.resources[tl.resource[u]].name}')"
        text += f" →{why} '{tl.names[w]}'"
    names = tuple(tl.names[i] for i in cycle)
    return CycleError(names, f"the edges and resource orders form a cycle, so no schedule exists: {text}")
