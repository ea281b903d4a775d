"""Plans of the `multimodal` formulation: written from decisions, read back and re-checked.

A plan is ``{"rbs": [{"rb": k, "serves": [modality, …]}], "chunks": {modality: J},
"schedule": [{"task", "core", "start", "finish"}]}``. ``evaluate`` rebuilds the schedule
from the instance and the plan's decisions alone and lets the shared engine check the
plan's start times: overlap on a core, a start before a predecessor's output has crossed
the NoC, a start before the chunk has arrived, an RB re-assigned under the static policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optsplit.formulations.multimodal.data import FloatArray, IntArray, MultimodalData
from optsplit.formulations.multimodal.schedule import Tasks, build_timeline, expand
from optsplit.result import Evaluation
from optsplit.timeline import Timeline, validate


@dataclass(frozen=True, eq=False)
class Decisions:
    """What a plan decides: RB queues, chunk counts, and per task its core and start."""

    serves: tuple[tuple[int, ...], ...]
    chunks: tuple[int, ...]
    tasks: Tasks
    cores: IntArray
    starts: FloatArray


def to_plan(data: MultimodalData, dec: Decisions, finish: FloatArray) -> dict[str, Any]:
    """The JSON plan of these decisions (``finish`` per task, as the method computed it)."""
    order = np.lexsort((dec.starts, dec.cores))
    return {
        "rbs": [{"rb": k, "serves": [data.modalities[m] for m in q]} for k, q in enumerate(dec.serves)],
        "chunks": {m: int(c) for m, c in zip(data.modalities, dec.chunks)},
        "schedule": [
            {
                "task": dec.tasks.names[i],
                "core": int(dec.cores[i]),
                "start": float(dec.starts[i]),
                "finish": float(finish[i]),
            }
            for i in order.tolist()
        ],
    }


class PlanError(ValueError):
    """A plan that cannot even be read as a schedule (wrong shape, unknown names)."""


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise PlanError(f"{path}: expected a whole number, got {value!r:.40}")
    return int(value)


def read_plan(data: MultimodalData, plan: Mapping[str, Any]) -> Decisions:
    """Decisions from a plan; raises PlanError naming the field when it cannot be read."""
    for key in ("rbs", "chunks", "schedule"):
        if key not in plan:
            raise PlanError(f"plan has no '{key}'")
    index = {m: i for i, m in enumerate(data.modalities)}
    rbs = plan["rbs"]
    if not isinstance(rbs, list) or len(rbs) != data.n_rbs:
        raise PlanError(f"rbs: expected a list of {data.n_rbs} RBs, got {rbs!r:.60}")
    serves: list[tuple[int, ...]] = [()] * data.n_rbs
    for i, entry in enumerate(rbs):
        if not isinstance(entry, Mapping) or "rb" not in entry or not isinstance(entry.get("serves"), list):
            raise PlanError(f"rbs[{i}]: expected {{'rb': k, 'serves': [modality, ...]}}")
        k = _int(entry["rb"], f"rbs[{i}].rb")
        if not 0 <= k < data.n_rbs or serves[k]:
            raise PlanError(f"rbs[{i}].rb: {k} is not a new RB in 0..{data.n_rbs - 1}")
        queue = []
        for j, m in enumerate(entry["serves"]):
            if m not in index:
                raise PlanError(f"rbs[{i}].serves[{j}]: unknown modality {m!r:.40}")
            queue.append(index[m])
        if len(set(queue)) != len(queue):
            raise PlanError(f"rbs[{i}].serves: a modality is listed twice")
        serves[k] = tuple(queue)
    chunks_raw = plan["chunks"]
    if not isinstance(chunks_raw, Mapping) or set(chunks_raw) != set(index):
        raise PlanError(f"chunks: expected a count for each of {', '.join(data.modalities)}")
    chunks = tuple(_int(chunks_raw[m], f"chunks.{m}") for m in data.modalities)
    for m, c in zip(data.modalities, chunks):
        if c not in data.chunk_options:
            raise PlanError(
                f"chunks.{m}: {c} is not one of the instance's chunk_options {list(data.chunk_options)}"
            )
    tasks = expand(data, chunks)
    names = tasks.index()
    cores = np.full(tasks.n, -1, dtype=np.int64)
    starts = np.full(tasks.n, math.nan)
    rows = plan["schedule"]
    if not isinstance(rows, list):
        raise PlanError("schedule: expected a list of {task, core, start}")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or row.get("task") not in names:
            raise PlanError(
                f"schedule[{i}]: unknown task {row.get('task') if isinstance(row, Mapping) else row!r:.60}"
            )
        t = names[row["task"]]
        if cores[t] >= 0:
            raise PlanError(f"schedule[{i}]: task '{row['task']}' is listed twice")
        cores[t] = _int(row.get("core"), f"schedule[{i}].core")
        if not 0 <= cores[t] < data.n_cores:
            raise PlanError(f"schedule[{i}].core: {cores[t]} is not a core (0..{data.n_cores - 1})")
        start = row.get("start")
        if isinstance(start, bool) or not isinstance(start, (int, float)) or not math.isfinite(start):
            raise PlanError(f"schedule[{i}].start: expected a finite number, got {start!r:.40}")
        starts[t] = float(start)
    missing = np.flatnonzero(cores < 0)
    if missing.size:
        raise PlanError(f"schedule: task '{tasks.names[missing[0]]}' is not scheduled")
    return Decisions(tuple(serves), chunks, tasks, cores, starts)


def timeline_of(data: MultimodalData, dec: Decisions) -> tuple[Timeline, FloatArray]:
    """The engine's Timeline of the decisions and every task's start (transfers first)."""
    tl, tx_start = build_timeline(data, dec.tasks, dec.serves, dec.cores)
    return tl, np.concatenate((tx_start, dec.starts))


def policy_violations(data: MultimodalData, serves: Sequence[Sequence[int]]) -> list[str]:
    if data.policy != "static":
        return []
    return [
        f"RB {k} serves {len(q)} modalities in turn, but the instance's RB policy is static"
        for k, q in enumerate(serves)
        if len(q) > 1
    ]


def evaluate_plan(data: MultimodalData, plan: Mapping[str, Any]) -> Evaluation:
    """Makespan of the plan as the engine measures it, with every rule it breaks."""
    try:
        dec = read_plan(data, plan)
    except PlanError as exc:
        return Evaluation(math.nan, {}, [str(exc)])
    tl, starts = timeline_of(data, dec)
    report = validate(tl, starts)
    n_tx = tl.n_tasks - dec.tasks.n
    arrivals = {name: float(report.finish[i]) for i, name in enumerate(tl.names[:n_tx])}
    busy = {k: v for k, v in report.busy.items() if k.startswith("core")}
    metrics = {
        "arrivals": arrivals,
        "last_arrival": float(max(arrivals.values())),
        "core_busy": busy,
        "chunks": dict(zip(data.modalities, dec.chunks)),
    }
    violations = [*policy_violations(data, dec.serves), *report.messages()]
    return Evaluation(report.makespan, metrics, violations)
