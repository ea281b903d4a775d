"""The schedule model: resources, tasks and edges, held as numpy arrays.

A task runs on one resource for a duration (or, for a transfer at a piecewise-constant
rate, until its bits are delivered), not before its release time and, where it has a
deadline, finishing by it. An edge (pred, succ, lag) says succ starts no earlier than lag
after pred finishes; an edge from a transfer to its consumer is a data-arrival edge. A
resource of capacity 1 is exclusive (a core, a FIFO link); capacity C > 1 is cumulative
(C identical cores, K resource blocks) and a task takes ``demand`` units of it. Callers
add tasks one by one or in bulk through ``TimelineBuilder``; ``build()`` checks
everything once and freezes the arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optsplit.errors import InputError
from optsplit.timeline.rates import FloatArray, RateProfile

IntArray = NDArray[np.int64]
Ref = str | int  # a task or resource, by name or by index


def format_time(t: float) -> str:
    """A time in seconds, in the unit that reads best (s, ms, µs, ns)."""
    if not math.isfinite(t):
        return "never" if t > 0 else str(t)
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(t) >= scale:
            return f"{t / scale:.6g} {unit}"
    return f"{t / 1e-9:.6g} ns" if t else "0 s"


@dataclass(frozen=True)
class Resource:
    """A processor, core, link or pool: exclusive when ``capacity`` is 1, cumulative otherwise.

    Powers are per unit of capacity (W per core / per resource block); ``kind`` "link"
    marks a carrier of data, whose tasks are called transfers in messages.
    """

    name: str
    kind: str = "compute"
    capacity: int = 1
    busy_power: float = 0.0
    idle_power: float = 0.0


@dataclass(frozen=True, eq=False)
class Timeline:
    """Tasks, edges and resources of one schedule problem; arrays indexed by task / edge.

    ``profile[i]`` ≥ 0 marks task i as a transfer of ``bits[i]`` at ``profiles[profile[i]]``
    (its duration then depends on its start); otherwise it lasts ``duration[i]``.
    """

    resources: tuple[Resource, ...]
    names: tuple[str, ...]
    resource: IntArray
    duration: FloatArray
    release: FloatArray
    deadline: FloatArray  # inf where none
    demand: IntArray
    profile: IntArray
    bits: FloatArray
    profiles: tuple[RateProfile, ...]
    pred: IntArray
    succ: IntArray
    lag: FloatArray

    @property
    def n_tasks(self) -> int:
        return len(self.names)

    @cached_property
    def task_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @cached_property
    def resource_index(self) -> dict[str, int]:
        return {r.name: k for k, r in enumerate(self.resources)}

    @cached_property
    def capacity(self) -> IntArray:
        return np.array([r.capacity for r in self.resources], dtype=np.int64)

    @cached_property
    def is_link(self) -> NDArray[np.bool_]:
        """Per task: whether it runs on a link (a transfer)."""
        links = np.array([r.kind == "link" for r in self.resources], dtype=bool)
        return links[self.resource] if self.resource.size else np.zeros(0, dtype=bool)

    def noun(self, i: int) -> str:
        """'transfer' or 'task', with the name quoted: how a message refers to task i."""
        return f"{'transfer' if self.is_link[i] else 'task'} '{self.names[i]}'"

    def finish(self, start: ArrayLike) -> FloatArray:
        """Finish time of every task started at ``start``; inf if never started or never delivered."""
        start = np.asarray(start, dtype=np.float64)
        out = start + self.duration
        started = np.isfinite(start)
        for k, prof in enumerate(self.profiles):
            mask = (self.profile == k) & started
            out[mask] = prof.finish(start[mask], self.bits[mask])
        return out


def _number(value: float, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"must be a number, got {type(value).__name__} {value!r:.40}", path=path)
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise InputError(f"must be finite and ≥ 0, got {v}", path=path)
    return v


def _column(
    values: ArrayLike,
    n: int,
    first: int,
    field: str,
    dtype: type = np.float64,
    *,
    items: str = "tasks",
    unbounded: bool = False,
) -> NDArray:
    """A column of ``n`` values for items first.. (a scalar broadcasts), checked ≥ 0 and finite
    (or +inf, meaning none, when ``unbounded``)."""
    array = np.asarray(values)
    where = f"{items}[{first}:{first + n}].{field}"
    if array.dtype.kind not in "iuf":
        raise InputError(f"must be numbers, got {array.dtype}", path=where)
    array = np.broadcast_to(array, (n,)) if array.ndim == 0 else array
    if array.shape != (n,):
        raise InputError(f"expected {n} values, got shape {array.shape}", path=where)
    array = array.astype(np.float64)
    allowed = (array < np.inf) if not unbounded else ~np.isnan(array)
    bad = np.flatnonzero(~allowed | (array < 0))
    if bad.size:
        k = int(bad[0])
        rule = "≥ 0 (inf for none)" if unbounded else "finite and ≥ 0"
        raise InputError(f"must be {rule}, got {array[k]}", path=f"{items}[{first + k}].{field}")
    if dtype is np.int64:
        frac = np.flatnonzero(array != np.round(array))
        if frac.size:
            k = int(frac[0])
            raise InputError(f"must be a whole number, got {array[k]}", path=f"{items}[{first + k}].{field}")
    return array.astype(dtype)


class TimelineBuilder:
    """Collects resources, tasks and edges (one by one or in bulk) and builds a Timeline."""

    def __init__(self) -> None:
        self._resources: list[Resource] = []
        self._resource_index: dict[str, int] = {}
        self._names: list[str] = []
        self._cols: dict[str, list[NDArray]] = {
            f: [] for f in ("resource", "duration", "release", "deadline", "demand")
        }
        self._transfers: list[tuple[IntArray, FloatArray, RateProfile]] = []
        self._edges: list[tuple[Sequence[Ref] | NDArray, Sequence[Ref] | NDArray, NDArray]] = []
        self._n_edges = 0

    def add_resource(
        self,
        name: str,
        kind: str = "compute",
        *,
        capacity: int = 1,
        busy_power: float = 0.0,
        idle_power: float = 0.0,
    ) -> int:
        """Add a resource; returns its index."""
        path = f"resources[{len(self._resources)}]"
        if not isinstance(name, str) or not name:
            raise InputError(f"must be a non-empty string, got {name!r:.40}", path=f"{path}.name")
        if name in self._resource_index:
            raise InputError(f"resource '{name}' is defined twice", path=f"{path}.name")
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise InputError(f"must be a whole number ≥ 1, got {capacity!r:.40}", path=f"{path}.capacity")
        res = Resource(
            name,
            str(kind),
            int(capacity),
            _number(busy_power, f"{path}.busy_power"),
            _number(idle_power, f"{path}.idle_power"),
        )
        self._resource_index[name] = len(self._resources)
        self._resources.append(res)
        return len(self._resources) - 1

    def _resource_ref(self, ref: Ref, path: str) -> int:
        if isinstance(ref, str):
            if ref not in self._resource_index:
                known = ", ".join(f"'{r}'" for r in self._resource_index) or "none"
                raise InputError(f"unknown resource '{ref}' (known: {known})", path=path)
            return self._resource_index[ref]
        if (
            isinstance(ref, (int, np.integer))
            and not isinstance(ref, bool)
            and 0 <= ref < len(self._resources)
        ):
            return int(ref)
        raise InputError(f"not a resource name or index: {ref!r:.40}", path=path)

    def _resource_column(self, resource: Ref | Sequence[Ref] | IntArray, n: int, first: int) -> IntArray:
        """Resource index per task, from one reference or one per task."""
        if isinstance(resource, (str, int, np.integer)):
            return np.full(n, self._resource_ref(resource, f"tasks[{first}].resource"), dtype=np.int64)
        if len(resource) != n:
            raise InputError(
                f"expected {n} resources, got {len(resource)}", path=f"tasks[{first}:{first + n}].resource"
            )
        if isinstance(resource, np.ndarray) and resource.dtype.kind in "iu":
            bad = np.flatnonzero((resource < 0) | (resource >= len(self._resources)))
            if bad.size:
                k = int(bad[0])
                raise InputError(f"no resource with index {resource[k]}", path=f"tasks[{first + k}].resource")
            return resource.astype(np.int64)
        return np.array(
            [self._resource_ref(r, f"tasks[{first + k}].resource") for k, r in enumerate(resource)],
            dtype=np.int64,
        )

    def add_tasks(
        self,
        names: Sequence[str],
        resource: Ref | Sequence[Ref] | IntArray,
        duration: ArrayLike,
        *,
        release: ArrayLike = 0.0,
        deadline: ArrayLike = math.inf,
        demand: ArrayLike = 1,
    ) -> IntArray:
        """Add many tasks at once (scalars broadcast); returns their indices."""
        first, n = len(self._names), len(names)
        path = f"tasks[{first}:{first + n}]"
        if isinstance(names, str):
            raise InputError("expected a list of task names, got one string", path=path)
        res = self._resource_column(resource, n, first)
        for k, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise InputError(
                    f"must be a non-empty string, got {name!r:.40}", path=f"tasks[{first + k}].name"
                )
        cols = {
            "resource": res,
            "duration": _column(duration, n, first, "duration"),
            "release": _column(release, n, first, "release"),
            "deadline": _column(deadline, n, first, "deadline", unbounded=True),
            "demand": _column(demand, n, first, "demand", np.int64),
        }
        self._names.extend(names)
        for key, col in cols.items():
            self._cols[key].append(col)
        return np.arange(first, first + n, dtype=np.int64)

    def add_task(
        self,
        name: str,
        resource: Ref,
        duration: float,
        *,
        release: float = 0.0,
        deadline: float = math.inf,
        demand: int = 1,
    ) -> int:
        """Add one task of fixed duration; returns its index."""
        added = self.add_tasks(
            [name], resource, [duration], release=[release], deadline=[deadline], demand=[demand]
        )
        return int(added[0])

    def add_transfers(
        self,
        names: Sequence[str],
        resource: Ref | Sequence[Ref] | IntArray,
        bits: ArrayLike,
        rate: RateProfile,
        *,
        release: ArrayLike = 0.0,
        deadline: ArrayLike = math.inf,
        demand: ArrayLike = 1,
    ) -> IntArray:
        """Add transfers of ``bits`` each at the piecewise-constant ``rate``; returns their indices."""
        first, n = len(self._names), len(names)
        size = _column(bits, n, first, "bits")
        if not isinstance(rate, RateProfile):
            raise InputError(f"must be a RateProfile, got {type(rate).__name__}", path=f"tasks[{first}].rate")
        added = self.add_tasks(names, resource, 0.0, release=release, deadline=deadline, demand=demand)
        self._transfers.append((added, size, rate))
        return added

    def add_transfer(
        self,
        name: str,
        resource: Ref,
        bits: float,
        rate: RateProfile,
        *,
        release: float = 0.0,
        deadline: float = math.inf,
        demand: int = 1,
    ) -> int:
        """Add one transfer of ``bits`` at the piecewise-constant ``rate``; returns its index."""
        added = self.add_transfers(
            [name], resource, [bits], rate, release=[release], deadline=[deadline], demand=[demand]
        )
        return int(added[0])

    def add_edges(
        self, preds: Sequence[Ref] | NDArray, succs: Sequence[Ref] | NDArray, lag: ArrayLike = 0.0
    ) -> None:
        """Add edges pred → succ: succ starts ≥ lag after pred finishes (tasks by name or index)."""
        n, first = len(preds), self._n_edges
        if len(succs) != n:
            raise InputError(f"{n} predecessors but {len(succs)} successors", path=f"edges[{first}:]")
        self._edges.append((preds, succs, _column(lag, n, first, "lag", items="edges")))
        self._n_edges += n

    def add_edge(self, pred: Ref, succ: Ref, lag: float = 0.0) -> None:
        """Add one edge pred → succ with a delay ``lag`` after pred finishes."""
        self.add_edges([pred], [succ], [lag])

    def _task_refs(
        self, refs: Sequence[Ref] | NDArray, index: dict[str, int], first: int, field: str
    ) -> IntArray:
        n = len(self._names)
        if isinstance(refs, np.ndarray) and refs.dtype.kind in "iu":
            out = refs.astype(np.int64)
            bad = np.flatnonzero((out < 0) | (out >= n))
            if bad.size:
                raise InputError(
                    f"no task with index {out[bad[0]]} ({n} tasks)", path=f"edges[{first + bad[0]}].{field}"
                )
            return out
        out = np.empty(len(refs), dtype=np.int64)
        for k, ref in enumerate(refs):
            if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool) and 0 <= ref < n:
                out[k] = ref
            elif isinstance(ref, str) and ref in index:
                out[k] = index[ref]
            else:
                raise InputError(f"unknown task {ref!r:.60}", path=f"edges[{first + k}].{field}")
        return out

    def build(self) -> Timeline:
        """Check the whole problem and freeze it."""
        n = len(self._names)
        index: dict[str, int] = {}
        for i, name in enumerate(self._names):
            if name in index:
                raise InputError(
                    f"task '{name}' is defined twice (first as tasks[{index[name]}])", path=f"tasks[{i}].name"
                )
            index[name] = i

        def col(key: str, dtype: type) -> NDArray:
            parts = self._cols[key]
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        resource, duration = col("resource", np.int64), col("duration", np.float64)
        release, demand = col("release", np.float64), col("demand", np.int64)
        deadline = col("deadline", np.float64)
        capacity = np.array([r.capacity for r in self._resources], dtype=np.int64)
        over = np.flatnonzero((demand < 1) | (demand > capacity[resource])) if n else np.zeros(0, np.int64)
        if over.size:
            i = int(over[0])
            r = self._resources[resource[i]]
            raise InputError(
                f"task '{self._names[i]}' demands {demand[i]} units of '{r.name}', "
                f"which has capacity {r.capacity} (demand must be 1..capacity)",
                path=f"tasks[{i}].demand",
            )
        profile = np.full(n, -1, dtype=np.int64)
        bits = np.zeros(n)
        profiles: list[RateProfile] = []
        slot: dict[int, int] = {}
        for added, size, prof in self._transfers:
            k = slot.get(id(prof))
            if k is None:
                k = slot[id(prof)] = len(profiles)
                profiles.append(prof)
            profile[added], bits[added] = k, size

        preds, succs, lags = [], [], []
        first = 0
        for p, s, lag in self._edges:
            preds.append(self._task_refs(p, index, first, "pred"))
            succs.append(self._task_refs(s, index, first, "succ"))
            lags.append(lag)
            first += len(p)
        pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
        succ = np.concatenate(succs) if succs else np.zeros(0, np.int64)
        loops = np.flatnonzero(pred == succ)
        if loops.size:
            k = int(loops[0])
            raise InputError(f"task '{self._names[pred[k]]}' cannot precede itself", path=f"edges[{k}]")
        arrays = [resource, duration, release, deadline, demand, profile, bits, pred, succ]
        lag_all = np.concatenate(lags) if lags else np.zeros(0)
        for a in (*arrays, lag_all):
            a.setflags(write=False)
        return Timeline(
            tuple(self._resources),
            tuple(self._names),
            resource,
            duration,
            release,
            deadline,
            demand,
            profile,
            bits,
            tuple(profiles),
            pred,
            succ,
            lag_all,
        )
