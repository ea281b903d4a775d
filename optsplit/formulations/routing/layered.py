"""Routing's view of the shared layered graph: built from RoutingData, read back as a plan."""

from __future__ import annotations

import numpy as np

from optsplit.formulations.routing.data import RoutingData
from optsplit.layered import LayeredGraph, build_layered, flow_lp, path_from_flow, path_weight, useful_edges

__all__ = [
    "LayeredGraph",
    "build",
    "flow_lp",
    "path_from_flow",
    "path_weight",
    "plan_from_path",
    "useful_edges",
]


def build(data: RoutingData) -> LayeredGraph:
    """The layered graph of a routing instance (tensor k moves over every link in copy k)."""
    stages = np.arange(data.num_layers + 1)
    return build_layered(
        data.num_nodes,
        data.num_layers,
        data.tail,
        data.head,
        data.transfer_weights(stages),
        data.compute,
        data.source,
        data.destination,
    )


def plan_from_path(data: RoutingData, graph: LayeredGraph, vertices: list[int]) -> dict:
    """Placement of every layer and route of every tensor, read off a layered path."""
    placement: list[str] = []
    paths: list[list[str]] = [[data.names[data.source]]]
    for a, b in zip(vertices[:-1], vertices[1:]):
        (_u, ka), (v, kb) = graph.vertex(a), graph.vertex(b)
        if kb == ka + 1:
            placement.append(data.names[v])
            paths.append([data.names[v]])
        else:
            paths[-1].append(data.names[v])
    return {"placement": placement, "paths": paths}
