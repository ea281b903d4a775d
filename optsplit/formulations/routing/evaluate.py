"""Latency of a routing plan, computed directly from the instance's network and profile.

Deliberately written with plain loops over the plan, sharing nothing with the models
but the instance's meaning of "compute time of a layer on a node".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from optsplit.formulations.routing.model import compute_time
from optsplit.instance.model import Instance
from optsplit.problem import Evaluation


def evaluate_routing(instance: Instance, plan: Mapping[str, Any]) -> Evaluation:
    """End-to-end latency = Σ compute times + Σ over tensors and hops of 8·o/r + delay."""
    if instance.section("network") is None or instance.section("job") is None:
        return Evaluation(math.inf, violations=["instance has no [network] or [job]"])
    net, job = instance.section("network"), instance.section("job")
    layers = job.profile.layers
    nodes = {node.name: node for node in net.nodes}
    links = {(link.src, link.dst): link for link in net.links}
    placement = list(plan.get("placement", []))
    paths = [list(p) for p in plan.get("paths", [])]
    violations: list[str] = []
    if len(placement) != len(layers):
        violations.append(f"placement has {len(placement)} entries, the job has {len(layers)} layers")
    if len(paths) != len(layers) + 1:
        violations.append(
            f"paths has {len(paths)} routes, expected {len(layers) + 1} (input, one per layer output)"
        )
    if violations:
        return Evaluation(math.inf, violations=violations)

    compute = 0.0
    for k, (layer, where) in enumerate(zip(layers, placement), start=1):
        if where not in nodes:
            violations.append(f"layer {k} '{layer.name}' placed on unknown node '{where}'")
            continue
        t = compute_time(layer, nodes[where])
        if math.isinf(t):
            violations.append(f"node '{where}' cannot compute layer {k} '{layer.name}'")
        compute += t

    ends = [job.source, *placement, job.destination]
    sizes = [job.profile.input_bytes, *(layer.output_bytes for layer in layers)]
    transfer, hops = 0.0, 0
    for k, route in enumerate(paths):
        if not route or route[0] != ends[k] or route[-1] != ends[k + 1]:
            violations.append(f"route of tensor {k} must go from '{ends[k]}' to '{ends[k + 1]}', got {route}")
            continue
        for u, v in zip(route[:-1], route[1:]):
            link = links.get((u, v))
            if link is None:
                violations.append(f"route of tensor {k} uses {u}->{v}, which is not a link")
                continue
            transfer += 8.0 * sizes[k] / link.rate + link.delay
            hops += 1
    latency = compute + transfer if not violations else math.inf
    return Evaluation(
        latency,
        {
            "latency": latency,
            "compute_time": compute,
            "transfer_time": transfer,
            "hops": hops,
            "nodes_used": sorted(set(placement)),
        },
        violations,
    )
