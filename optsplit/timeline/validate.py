"""Check a schedule (start times from any method) and measure it.

Every rule is one vectorised comparison over all tasks or edges: release times, each edge
(predecessor finished, input arrived), and resource use, found by one sweep over sorted
start/finish events whose running sum of demands is compared with each capacity (an
exclusive resource is capacity 1, so an overlap is a second task starting while one
runs). Python code runs only to word the violations found, at most ``max_named`` a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from optsplit.errors import InputError
from optsplit.timeline.model import Timeline, format_time
from optsplit.timeline.rates import FloatArray
from optsplit.tolerances import PLAN_RELATIVE

# Kinds of violation, in the order a report lists them.
KINDS = ("incomplete", "release", "deadline", "arrival", "precedence", "overlap", "capacity")
RUNNING_LISTED = 8  # tasks named in one capacity message


@dataclass(frozen=True)
class Violation:
    """One broken rule: its kind (see KINDS), the tasks involved and a sentence for the user."""

    kind: str
    tasks: tuple[str, ...]
    message: str


@dataclass(frozen=True, eq=False)
class Report:
    """Times, makespan, per-resource use and energy of a schedule, and what it breaks.

    ``busy[r]`` = Σ demand·(finish − start) over r's tasks (unit-seconds: wall time for
    an exclusive resource); ``idle[r]`` = capacity·makespan − busy (≥ 0); energy over
    [0, makespan] = Σ busy_power·busy + idle_power·idle. ``counts`` has every violation
    by kind, ``violations`` at most ``max_named`` of each kind, worded.
    """

    start: FloatArray
    finish: FloatArray
    makespan: float
    busy: dict[str, float]
    idle: dict[str, float]
    energy: float
    energy_by_resource: dict[str, float]
    violations: tuple[Violation, ...]
    counts: dict[str, int]
    tolerance: float

    @property
    def feasible(self) -> bool:
        return not self.counts

    def messages(self) -> list[str]:
        """Every named violation, then how many more of each kind were not named."""
        out = [v.message for v in self.violations]
        for kind, count in self.counts.items():
            named = sum(v.kind == kind for v in self.violations)
            if count > named:
                out.append(f"… and {count - named} more {kind} violations")
        return out


def start_times(timeline: Timeline, starts: ArrayLike | Mapping[str, float]) -> FloatArray:
    """Start times as an array by task index, from an array or a {task name: start} mapping.

    +inf means "never started" (a violation, not an input error); NaN and -inf are refused.
    """
    n = timeline.n_tasks
    if isinstance(starts, Mapping):
        index = timeline.task_index
        unknown = [k for k in starts if k not in index]
        if unknown:
            raise InputError(f"unknown task '{unknown[0]}'", path=f"starts['{unknown[0]}']")
        missing = [name for name in timeline.names if name not in starts]
        if missing:
            raise InputError(f"no start time for task '{missing[0]}'", path="starts")
        values = np.array([starts[name] for name in timeline.names], dtype=np.float64)
    else:
        values = np.asarray(starts)
        if values.dtype.kind not in "iuf":
            raise InputError(f"must be numbers, got {values.dtype}", path="starts")
        values = values.astype(np.float64)
        if values.shape != (n,):
            raise InputError(f"expected {n} start times, got shape {values.shape}", path="starts")
    bad = np.flatnonzero(np.isnan(values) | (values == -np.inf))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"start of task '{timeline.names[i]}' is {values[i]}", path=f"starts[{i}]")
    return values


def validate(
    timeline: Timeline,
    starts: ArrayLike | Mapping[str, float],
    *,
    tol: float | None = None,
    max_named: int = 20,
) -> Report:
    """Check start times against every rule of the timeline and measure the schedule.

    ``tol`` (seconds) forgives a rule broken by less; default PLAN_RELATIVE × the
    schedule's largest finite time, the plan tolerance every evaluator uses.
    """
    tl = timeline
    start = start_times(tl, starts)
    finish = tl.finish(start)
    started = np.isfinite(start)
    span = np.where(started, finish - np.where(started, start, 0.0), 0.0)  # 0 if never started
    if tol is None:
        finite = np.concatenate((start[started], finish[np.isfinite(finish)], tl.release))
        tol = PLAN_RELATIVE * float(np.abs(finite).max()) if finite.size else 0.0
    found: dict[str, list[Violation]] = {kind: [] for kind in KINDS}
    counts: dict[str, int] = {}

    def record(kind: str, hits: np.ndarray, word: Callable[[str, int], Violation]) -> None:
        if hits.size:
            counts[kind] = counts.get(kind, 0) + int(hits.size)
            room = max_named - len(found[kind])
            found[kind].extend(word(kind, int(k)) for k in hits[:room])

    record("incomplete", np.flatnonzero(~np.isfinite(finish)), lambda _, i: _incomplete(tl, i, start[i]))
    record("release", np.flatnonzero(start < tl.release - tol), lambda _, i: _release(tl, i, start[i]))
    overdue = np.isfinite(finish) & (finish > tl.deadline + tol)
    record("deadline", np.flatnonzero(overdue), lambda _, i: _deadline(tl, i, finish[i]))
    arrive = finish[tl.pred] + tl.lag
    early = start[tl.succ] < arrive - tol
    data = tl.is_link[tl.pred] if tl.pred.size else np.zeros(0, dtype=bool)
    for kind, hits in (("arrival", early & data), ("precedence", early & ~data)):
        record(kind, np.flatnonzero(hits), lambda kd, k: _edge(tl, kd, k, start, finish, arrive))
    occupies = span > tol  # tasks shorter than tol occupy nothing
    for kind, hits in _resource_sweep(tl, start, finish, occupies, tol).items():
        record(kind, hits, lambda kd, i: _crowded(tl, kd, i, start, finish, occupies, tol))

    makespan = float(finish.max()) if tl.n_tasks else 0.0
    busy = np.bincount(tl.resource, weights=tl.demand * span, minlength=len(tl.resources))
    idle = (
        np.maximum(tl.capacity * makespan - busy, 0.0)
        if np.isfinite(makespan)
        else np.full(busy.size, np.inf)
    )
    power_busy = np.array([r.busy_power for r in tl.resources])
    power_idle = np.array([r.idle_power for r in tl.resources])
    with np.errstate(invalid="ignore"):
        energy = np.where(power_busy > 0, power_busy * busy, 0.0) + np.where(
            power_idle > 0, power_idle * idle, 0.0
        )
    names = [r.name for r in tl.resources]
    return Report(
        start=start,
        finish=finish,
        makespan=makespan,
        busy=dict(zip(names, busy.tolist())),
        idle=dict(zip(names, idle.tolist())),
        energy=float(energy.sum()),
        energy_by_resource=dict(zip(names, energy.tolist())),
        violations=tuple(v for kind in KINDS for v in found[kind]),
        counts={kind: counts[kind] for kind in KINDS if kind in counts},
        tolerance=tol,
    )


def _resource_sweep(
    tl: Timeline, start: FloatArray, finish: FloatArray, occupies: np.ndarray, tol: float
) -> dict[str, np.ndarray]:
    """Tasks that start while their resource is full: sweep ±demand events sorted by resource, time.

    A task frees its units ``tol`` before it finishes, so back-to-back tasks do not clash;
    tasks shorter than ``tol`` occupy nothing. Each resource's events sum to zero, so one
    cumulative sum over all resources gives every resource's use.
    """
    live = np.flatnonzero(occupies)
    times = np.concatenate((start[live], finish[live] - tol))
    sign = np.concatenate((np.ones(live.size, np.int64), -np.ones(live.size, np.int64)))
    task = np.concatenate((live, live))
    res = tl.resource[task]
    order = np.lexsort((sign, times, res))
    use = np.cumsum(tl.demand[task[order]] * sign[order])
    full = (sign[order] > 0) & (use > tl.capacity[res[order]])
    hits = task[order][full]
    hits = hits[np.argsort(start[hits], kind="stable")]
    exclusive = tl.capacity[tl.resource[hits]] == 1
    return {"overlap": hits[exclusive], "capacity": hits[~exclusive]}


def _crowded(
    tl: Timeline, kind: str, i: int, start: FloatArray, finish: FloatArray, occupies: np.ndarray, tol: float
) -> Violation:
    res = tl.resources[tl.resource[i]]
    fmt = format_time
    t = start[i]
    running = np.flatnonzero((tl.resource == tl.resource[i]) & occupies & (start <= t) & (finish - tol > t))
    if kind == "overlap":
        j = int(next((k for k in running if k != i), i))
        return Violation(
            kind,
            (tl.names[j], tl.names[i]),
            f"{tl.noun(j)} [{fmt(start[j])}, {fmt(finish[j])}] and {tl.noun(i)} "
            f"[{fmt(start[i])}, {fmt(finish[i])}] overlap on '{res.name}'",
        )
    used = int(tl.demand[running].sum())
    listed = ", ".join(
        f"'{tl.names[k]}'" + (f" ×{tl.demand[k]}" if tl.demand[k] > 1 else "")
        for k in running[:RUNNING_LISTED]
    )
    more = f" and {running.size - RUNNING_LISTED} more" if running.size > RUNNING_LISTED else ""
    return Violation(
        kind,
        tuple(tl.names[k] for k in running),
        f"'{res.name}' (capacity {res.capacity}) has {used} units in use at {fmt(start[i])} "
        f"when {tl.noun(i)} starts: {listed}{more}",
    )


def _edge(
    tl: Timeline, kind: str, k: int, start: FloatArray, finish: FloatArray, arrive: FloatArray
) -> Violation:
    p, s = int(tl.pred[k]), int(tl.succ[k])
    fmt = format_time
    head = f"{tl.noun(s)} starts at {fmt(start[s])}"
    what = "input" if kind == "arrival" else "predecessor"
    if not np.isfinite(arrive[k]):
        text = (
            f"{head}, but its {what} '{tl.names[p]}' never {'arrives' if kind == 'arrival' else 'finishes'}"
        )
    elif kind == "arrival":
        text = f"{head}, before its input '{tl.names[p]}' has arrived at {fmt(arrive[k])}"
    elif tl.lag[k] > 0:
        text = (
            f"{head}, before its predecessor '{tl.names[p]}' has finished (at {fmt(finish[p])}) "
            f"and the lag of {fmt(tl.lag[k])} has passed, at {fmt(arrive[k])}"
        )
    else:
        text = f"{head}, before its predecessor '{tl.names[p]}' has finished at {fmt(arrive[k])}"
    if np.isfinite(arrive[k]):
        text += f" ({fmt(arrive[k] - start[s])} early)"
    return Violation(kind, (tl.names[p], tl.names[s]), text)


def _release(tl: Timeline, i: int, start: float) -> Violation:
    fmt, release = format_time, float(tl.release[i])
    return Violation(
        "release",
        (tl.names[i],),
        f"{tl.noun(i)} starts at {fmt(start)}, before its release time {fmt(release)} "
        f"({fmt(release - start)} early)",
    )


def _deadline(tl: Timeline, i: int, finish: float) -> Violation:
    fmt, due = format_time, float(tl.deadline[i])
    return Violation(
        "deadline",
        (tl.names[i],),
        f"{tl.noun(i)} finishes at {fmt(finish)}, after its deadline {fmt(due)} ({fmt(finish - due)} late)",
    )


def _incomplete(tl: Timeline, i: int, start: float) -> Violation:
    if not np.isfinite(start):
        return Violation("incomplete", (tl.names[i],), f"{tl.noun(i)} is never started")
    prof = tl.profiles[tl.profile[i]]
    left = float(prof.cumulative[-1] - prof.delivered(start))
    return Violation(
        "incomplete",
        (tl.names[i],),
        f"{tl.noun(i)} starting at {format_time(start)} never completes: its rate profile "
        f"delivers only {left:.6g} of its {tl.bits[i]:.6g} bits after that",
    )
