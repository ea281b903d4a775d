"""The layered graph of Jung & Lee: one copy of the network per stage of the job.

Vertex (v, k) = "the data after k layers sits at node v", numbered k·V + v. Transfer
edges move tensor k inside copy k; compute edges (v, k−1) → (v, k) run layer k at v.
A source→sink path is exactly a placement plus one route per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from optsplit.formulations.routing.data import RoutingData
from optsplit.solvers.graph import EdgeList
from optsplit.solvers.linear import LinearModel


@dataclass
class LayeredGraph:
    """Edge arrays of the layered graph; ``link`` is −1 on compute edges."""

    edges: EdgeList
    copy: np.ndarray  # stage k of each edge's head
    link: np.ndarray  # link index of transfer edges, -1 for compute edges
    source: int
    sink: int
    num_nodes: int

    def vertex(self, index: int) -> tuple[int, int]:
        """(node, stage) of a layered vertex."""
        return index % self.num_nodes, index // self.num_nodes


def build(data: RoutingData) -> LayeredGraph:
    """Vectorised construction: (K+1)·E transfer edges plus one compute edge per allowed (k, v)."""
    V, K, E = data.num_nodes, data.num_layers, data.tail.size
    stages = np.arange(K + 1)
    offset = (stages * V)[:, None]
    t_tail = (offset + data.tail[None, :]).ravel()
    t_head = (offset + data.head[None, :]).ravel()
    t_weight = data.transfer_weights(stages).ravel()
    t_copy = np.repeat(stages, E)
    t_link = np.tile(np.arange(E), K + 1)

    k_idx, v_idx = np.nonzero(np.isfinite(data.compute))  # layer k_idx+1 at node v_idx
    c_tail = k_idx * V + v_idx
    c_head = (k_idx + 1) * V + v_idx
    c_weight = data.compute[k_idx, v_idx]

    edges = EdgeList(
        (K + 1) * V,
        np.concatenate([t_tail, c_tail]),
        np.concatenate([t_head, c_head]),
        np.concatenate([t_weight, c_weight]),
    )
    return LayeredGraph(
        edges,
        np.concatenate([t_copy, k_idx + 1]),
        np.concatenate([t_link, np.full(k_idx.size, -1)]),
        data.source,
        K * V + data.destination,
        V,
    )


def flow_lp(graph: LayeredGraph) -> LinearModel:
    """Unit-flow LP on the layered graph: min Σ w_e x_e, node balance, x ≥ 0.

    Its matrix is a node–arc incidence matrix, hence totally unimodular: basic optima
    are 0/1 paths without any integrality constraint.
    """
    e = graph.edges
    m, n = e.num_vertices, e.tail.size
    cols = np.arange(n)
    A = sp.csr_matrix(
        (
            np.concatenate([np.ones(n), -np.ones(n)]),
            (np.concatenate([e.tail, e.head]), np.concatenate([cols, cols])),
        ),
        shape=(m, n),
    )
    b = np.zeros(m)
    b[graph.source] += 1.0
    b[graph.sink] -= 1.0
    return LinearModel(
        c=e.weight.astype(float),
        A=A,
        row_lower=b,
        row_upper=b.copy(),
        col_lower=np.zeros(n),
        col_upper=np.full(n, np.inf),
        integer=np.zeros(n, dtype=bool),
    )


def path_from_flow(graph: LayeredGraph, x: np.ndarray) -> list[int]:
    """Follow the edges carrying flow (> 0.5) from source to sink; [] if none is found."""
    e = graph.edges
    used = np.flatnonzero(x > 0.5)
    nxt = dict(zip(e.tail[used].tolist(), e.head[used].tolist()))
    path = [graph.source]
    while path[-1] != graph.sink:
        step = nxt.get(path[-1])
        if step is None or len(path) > e.num_vertices:
            return []
        path.append(step)
    return path


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
