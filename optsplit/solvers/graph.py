"""Shortest paths on a weighted digraph given as edge arrays (scipy.sparse.csgraph)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from optsplit.result import SolutionStatus, Termination
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import ModelKind


@dataclass
class EdgeList:
    """A digraph as parallel arrays: edge i goes tail[i] → head[i] with weight[i] ≥ 0."""

    num_vertices: int
    tail: np.ndarray
    head: np.ndarray
    weight: np.ndarray

    def to_csr(self) -> sp.csr_matrix:
        """Sparse adjacency matrix; of parallel edges the lightest is kept.

        Explicit zero weights stay edges (scipy's csgraph treats stored zeros as edges).
        """
        order = np.lexsort((self.weight, self.head, self.tail))
        tail, head, weight = self.tail[order], self.head[order], self.weight[order]
        first = np.ones(tail.size, dtype=bool)
        first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        tail, head, weight = tail[first], head[first], weight[first]
        indptr = np.zeros(self.num_vertices + 1, dtype=np.int64)
        np.add.at(indptr, tail + 1, 1)
        np.cumsum(indptr, out=indptr)
        return sp.csr_matrix((weight, head, indptr), shape=(self.num_vertices,) * 2)


@dataclass
class ShortestPath:
    """Distance (inf when unreachable) and vertex sequence of one shortest path."""

    distance: float
    vertices: list[int]
    runtime: float


def scipy_version() -> str:
    return f"scipy {scipy.__version__} (csgraph Dijkstra)"


def shortest_path(graph: sp.csr_matrix, source: int, target: int) -> ShortestPath:
    """Dijkstra from ``source`` to ``target`` (O(E + V log V))."""
    t0 = time.perf_counter()
    dist, pred = dijkstra(graph, directed=True, indices=source, return_predecessors=True)
    runtime = time.perf_counter() - t0
    if not np.isfinite(dist[target]):
        return ShortestPath(float("inf"), [], runtime)
    path = [target]
    while path[-1] != source:
        path.append(int(pred[path[-1]]))
    path.reverse()
    return ShortestPath(float(dist[target]), path, runtime)


def all_pairs(graph: sp.csr_matrix, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances and predecessor matrix from each of ``sources`` to every vertex."""
    dist, pred = dijkstra(graph, directed=True, indices=sources, return_predecessors=True)
    return np.atleast_2d(dist), np.atleast_2d(pred)


def walk_predecessors(pred_row: np.ndarray, source: int, target: int) -> list[int]:
    """Vertex sequence source → target read from one predecessor row."""
    path = [target]
    while path[-1] != source:
        path.append(int(pred_row[path[-1]]))
    path.reverse()
    return path


@dataclass
class PathQuery:
    """The GRAPH model kind: a shortest ``source`` → ``target`` path in ``graph``."""

    graph: sp.csr_matrix
    source: int
    target: int


class ScipyDijkstra:
    """Back-end for PathQuery models: Dijkstra of scipy.sparse.csgraph (exact, O(E + V log V))."""

    name = "scipy"
    description = "Dijkstra of scipy.sparse.csgraph"
    kinds = frozenset({ModelKind.GRAPH})
    integers = False
    nonlinear = False

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> str:
        return scipy_version()

    def solve(self, model: PathQuery, options: SolveOptions, start: object = None) -> Outcome:
        found = shortest_path(model.graph, model.source, model.target)
        if not found.vertices:
            return Outcome(
                Termination.INFEASIBLE,
                SolutionStatus.NO_SOLUTION,
                None,
                None,
                found.runtime,
                self.version(),
                f"vertex {model.target} is unreachable from vertex {model.source}",
            )
        return Outcome(
            Termination.OPTIMAL,
            SolutionStatus.OPTIMAL,
            found.distance,
            found.distance,
            found.runtime,
            self.version(),
            values=np.asarray(found.vertices, dtype=np.int64),
        )
