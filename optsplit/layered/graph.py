"""The layered graph (Jung & Lee, arXiv 2111.07006): one copy of the network per stage of a job.

Vertex (v, k) = "the data after k layers sits at node v", numbered k·V + v. Transfer
edges move tensor k inside copy k; compute edges (v, k−1) → (v, k) run layer k at v.
A source→sink path is exactly a placement plus one route per tensor. This is the shared
reference of optsplit: every formulation expresses its restriction to a single path
(layer-wise partitioning, a fixed allocation) on it and is checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

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


def build_layered(
    num_nodes: int,
    num_layers: int,
    tail: np.ndarray,
    head: np.ndarray,
    transfer: np.ndarray,
    compute: np.ndarray,
    source: int,
    destination: int,
) -> LayeredGraph:
    """The layered graph of a job of ``num_layers`` stages on a network of ``num_nodes``.

    ``tail``/``head`` are the E links; ``transfer[k, e]`` the cost of moving tensor k over
    link e (inf: that link cannot carry tensor k); ``compute[k-1, v]`` the cost of running
    layer k at node v (inf: not allowed). The data starts at (``source``, 0) and must end at
    (``destination``, K). Built with array operations only: (K+1)·E transfer edges plus one
    compute edge per allowed (layer, node).
    """
    V, K, E = num_nodes, num_layers, tail.size
    stages = np.arange(K + 1)
    offset = (stages * V)[:, None]
    weights = np.broadcast_to(transfer, (K + 1, E))
    keep = np.isfinite(weights).ravel()
    t_tail = (offset + tail[None, :]).ravel()[keep]
    t_head = (offset + head[None, :]).ravel()[keep]
    t_weight = weights.ravel()[keep]
    t_copy = np.repeat(stages, E)[keep]
    t_link = np.tile(np.arange(E), K + 1)[keep]

    k_idx, v_idx = np.nonzero(np.isfinite(compute))  # layer k_idx+1 at node v_idx
    edges = EdgeList(
        (K + 1) * V,
        np.concatenate([t_tail, k_idx * V + v_idx]),
        np.concatenate([t_head, (k_idx + 1) * V + v_idx]),
        np.concatenate([t_weight, compute[k_idx, v_idx]]),
    )
    return LayeredGraph(
        edges,
        np.concatenate([t_copy, k_idx + 1]),
        np.concatenate([t_link, np.full(k_idx.size, -1)]),
        source,
        K * V + destination,
        V,
    )


def useful_edges(graph: LayeredGraph) -> np.ndarray:
    """Indices of the edges some source→sink path can use; the others carry no flow in
    any optimal solution (costs are ≥ 0), so the LP drops them."""
    e = graph.edges
    adjacency = sp.csr_matrix((np.ones(e.tail.size), (e.tail, e.head)), shape=(e.num_vertices,) * 2)
    ahead = np.zeros(e.num_vertices, dtype=bool)
    behind = np.zeros(e.num_vertices, dtype=bool)
    ahead[breadth_first_order(adjacency, graph.source, return_predecessors=False)] = True
    behind[breadth_first_order(adjacency.T.tocsr(), graph.sink, return_predecessors=False)] = True
    return np.flatnonzero(ahead[e.tail] & behind[e.head])


def flow_lp(
    graph: LayeredGraph, edges: np.ndarray | None = None, labels: list[str] | None = None
) -> LinearModel:
    """Unit-flow LP on the layered graph (on ``edges`` only, default all): min Σ w_e x_e,
    node balance, 0 ≤ x ≤ 1, in seconds.

    Its matrix is a node–arc incidence matrix, hence totally unimodular: basic optima are
    0/1 paths without any integrality constraint. x ≤ 1 changes no optimum (an optimal
    path is simple) and keeps the LP bounded whatever the rounding of near-zero costs.
    With node ``labels``, columns are named move(b,u,v) (tensor b over link u→v) and
    run(k,v) (layer k at v), rows balance(v,k) (the data after k layers at v).
    """
    e = graph.edges
    chosen = np.arange(e.tail.size) if edges is None else np.asarray(edges)
    tail, head = e.tail[chosen], e.head[chosen]
    vertices = np.union1d(np.concatenate([tail, head]), [graph.source, graph.sink])
    row_of = np.full(e.num_vertices, -1)
    row_of[vertices] = np.arange(vertices.size)
    m, n = vertices.size, chosen.size
    cols = np.arange(n)
    A = sp.csr_matrix(
        (
            np.concatenate([np.ones(n), -np.ones(n)]),
            (np.concatenate([row_of[tail], row_of[head]]), np.concatenate([cols, cols])),
        ),
        shape=(m, n),
    )
    b = np.zeros(m)
    b[row_of[graph.source]] += 1.0
    b[row_of[graph.sink]] -= 1.0
    col_names, row_names = None, None
    if labels is not None:
        col_names = []
        for t, h, link in zip(tail.tolist(), head.tolist(), graph.link[chosen].tolist()):
            (u, k), (v, _) = graph.vertex(t), graph.vertex(h)
            col_names.append(
                f"move({k},{labels[u]},{labels[v]})" if link >= 0 else f"run({k + 1},{labels[v]})"
            )
        row_names = [f"balance({labels[v]},{k})" for v, k in map(graph.vertex, vertices.tolist())]
    return LinearModel(
        c=e.weight[chosen].astype(float),
        A=A,
        row_lower=b,
        row_upper=b.copy(),
        col_lower=np.zeros(n),
        col_upper=np.ones(n),
        integer=np.zeros(n, dtype=bool),
        col_names=col_names,
        row_names=row_names,
    )


def path_weight(graph: LayeredGraph, vertices: list[int]) -> float:
    """Length of a layered path, summed in path order (the plan's latency in seconds)."""
    steps = np.asarray(graph.edges.to_csr()[vertices[:-1], vertices[1:]]).ravel()
    return float(sum(steps.tolist()))


def path_from_flow(graph: LayeredGraph, x: np.ndarray, edges: np.ndarray | None = None) -> list[int]:
    """Follow the edges carrying flow (> 0.5) from source to sink; [] if none is found.
    ``x`` holds one value per edge of ``edges`` (default all)."""
    e = graph.edges
    chosen = np.arange(e.tail.size) if edges is None else np.asarray(edges)
    used = chosen[np.flatnonzero(x > 0.5)]
    nxt = dict(zip(e.tail[used].tolist(), e.head[used].tolist()))
    path = [graph.source]
    while path[-1] != graph.sink:
        step = nxt.get(path[-1])
        if step is None or len(path) > e.num_vertices:
            return []
        path.append(step)
    return path
