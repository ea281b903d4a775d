"""The independent evaluator: a plan's shares → rows crossing the link (exact halo) → tasks on
device, server, uplink and downlink → the shared schedule engine's earliest schedule (the
C.4 recursion) → latency and device energy, checked by the engine's validator."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from optsplit.errors import InputError
from optsplit.formulations.intradp.data import IntraDPData
from optsplit.formulations.intradp.recursion import Durations, durations
from optsplit.formulations.intradp.slicing import exchanges, held_rows
from optsplit.result import Evaluation
from optsplit.timeline import Timeline, TimelineBuilder, earliest, validate
from optsplit.tolerances import PLAN_RELATIVE


def read_shares(data: IntraDPData, plan: Mapping[str, Any]) -> np.ndarray:
    """Share vector by position from ``plan["shares"]`` ({operator: share}); clear errors for
    unknown or missing operators, shares outside [0, 1], fractions on barrier operators."""
    shares = plan.get("shares")
    if not isinstance(shares, Mapping):
        raise InputError("expected an object {operator: share}", path="plan.shares")
    index = {name: j for j, name in enumerate(data.names) if not data.fixed[j]}
    x = np.ones(data.n_positions)
    for name, value in shares.items():
        path = f"plan.shares['{name}']"
        if name not in index:
            raise InputError(f"unknown operator '{name}'", path=path)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"expected a number in [0, 1], got {value!r:.40}", path=path)
        if not 0.0 <= value <= 1.0:
            raise InputError(f"share {value} is outside [0, 1]", path=path)
        j = index[name]
        if not data.local[j] and value not in (0, 1):
            raise InputError(
                f"operator '{name}' has no local dimension (it needs its input whole), so it cannot be "
                f"split: share {value} must be 0 (server) or 1 (device)",
                path=path,
            )
        x[j] = float(value)
    missing = [name for name in index if name not in shares]
    if missing:
        raise InputError(f"no share for operator '{missing[0]}' ({len(missing)} missing)", path="plan.shares")
    return x


def build_timeline(data: IntraDPData, d: Durations) -> Timeline:
    """Tasks dev:/srv: per position, up:/down: where rows cross, with C.4's edges."""
    pw = data.power
    b = TimelineBuilder()
    b.add_resource("device", busy_power=pw.compute, idle_power=pw.idle)
    b.add_resource("server")
    b.add_resource("uplink", "link", busy_power=pw.transmit)
    b.add_resource("downlink", "link", busy_power=pw.receive)
    names = data.names
    p = len(names)
    dev = b.add_tasks([f"dev:{n}" for n in names], "device", d.dev[0])
    srv = b.add_tasks([f"srv:{n}" for n in names], "server", d.srv[0])
    for link, times, before, after in (("uplink", d.up[0], dev, srv), ("downlink", d.down[0], srv, dev)):
        js = np.flatnonzero(times > 0)
        tag = "up" if link == "uplink" else "down"
        tasks = b.add_tasks([f"{tag}:{names[j]}" for j in js], link, times[js])
        b.add_edges(before[js], tasks)
        follow = js + 1 < p
        b.add_edges(tasks[follow], after[js[follow] + 1])
    return b.build()


def evaluate_plan(data: IntraDPData, plan: Mapping[str, Any]) -> Evaluation:
    """Latency, energy and where the rows cross, from the instance and the shares alone."""
    x = read_shares(data, plan)
    m = held_rows(data, x)[None, :]
    d = durations(data, m, exchanges(data, m))
    tl = build_timeline(data, d)
    report = validate(tl, earliest(tl))
    violations = report.messages()
    latency = report.makespan
    if data.objective == "energy":
        assert data.latency_bound is not None
        if latency > data.latency_bound * (1 + PLAN_RELATIVE):
            violations.append(f"latency {latency:.6g} s exceeds the bound {data.latency_bound:.6g} s")
    up_bytes = float((d.up[0] * data.up_rate).sum())
    down_bytes = float((d.down[0] * data.down_rate).sum())
    frac = m[0] / data.rows
    ops = ~data.fixed
    metrics = {
        "latency": latency,
        "energy": report.energy,
        "device_busy": report.busy["device"],
        "server_busy": report.busy["server"],
        "airtime_up": report.busy["uplink"],
        "airtime_down": report.busy["downlink"],
        "bytes_up": up_bytes,
        "bytes_down": down_bytes,
        "exchanges": int((d.up[0] > 0).sum() + (d.down[0] > 0).sum()),
        "split_operators": int(((frac > 0) & (frac < 1) & ops).sum()),
        "device_operators": int(((frac == 1) & ops).sum()),
        "server_operators": int(((frac == 0) & ops).sum()),
    }
    objective = latency if data.objective == "latency" else report.energy
    return Evaluation(float(objective), metrics, violations)
