"""Shortest path on a layered graph under path-resource limits (resource-constrained shortest path).

Each edge carries a cost and a vector of nonnegative resources (time means, variances, …);
a path is admissible when its summed resources pass a test that is monotone (an extension of
an inadmissible partial path is inadmissible). Label setting with Pareto dominance finds the
cheapest admissible path exactly; it is meant for the small graphs of one device or one frame.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np

from optsplit.layered.graph import LayeredGraph


def constrained_path(
    graph: LayeredGraph, resources: np.ndarray, admissible: Callable[[np.ndarray], bool]
) -> tuple[float, list[int]] | None:
    """(cost, vertices) of the cheapest source→sink path whose summed ``resources`` (one row per
    edge) are ``admissible``; None when no path is."""
    e = graph.edges
    resources = np.asarray(resources, dtype=float).reshape(e.tail.size, -1)
    order = np.argsort(e.tail, kind="stable")
    starts = np.searchsorted(e.tail[order], np.arange(e.num_vertices + 1))
    # label i: cost, resource sums, vertex, parent label
    costs: list[float] = [0.0]
    sums: list[np.ndarray] = [np.zeros(resources.shape[1])]
    at: list[int] = [graph.source]
    parent: list[int] = [-1]
    kept: dict[int, list[int]] = {graph.source: [0]}
    heap = [(0.0, 0)]
    while heap:
        cost, label = heapq.heappop(heap)
        vertex = at[label]
        if label not in kept.get(vertex, []):
            continue  # dominated after it was queued
        if vertex == graph.sink:
            path = []
            while label >= 0:
                path.append(at[label])
                label = parent[label]
            return cost, path[::-1]
        for edge in order[starts[vertex] : starts[vertex + 1]]:
            head, new_cost = int(e.head[edge]), cost + float(e.weight[edge])
            new_sum = sums[label] + resources[edge]
            if not admissible(new_sum) or _dominated(new_cost, new_sum, kept.get(head, []), costs, sums):
                continue
            costs.append(new_cost)
            sums.append(new_sum)
            at.append(head)
            parent.append(label)
            new = len(costs) - 1
            kept[head] = [
                i for i in kept.get(head, []) if not (new_cost <= costs[i] and np.all(new_sum <= sums[i]))
            ] + [new]
            heapq.heappush(heap, (new_cost, new))
    return None


def _dominated(
    cost: float, total: np.ndarray, labels: list[int], costs: list[float], sums: list[np.ndarray]
) -> bool:
    return any(costs[i] <= cost and np.all(sums[i] <= total) for i in labels)
