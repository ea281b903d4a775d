"""Data of a `routing` instance after loading: the computing network and the job (SI units)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsplit.instance.model import Layer, Profile


@dataclass(frozen=True)
class Node:
    """A network node; ``speed`` 0 means it only forwards data."""

    name: str
    speed: float = 0.0
    kind: str = ""
    processor: str | None = None
    x: float | None = None
    y: float | None = None


@dataclass(frozen=True)
class Link:
    """A directed link with rate (bit/s) and propagation delay (s)."""

    src: str
    dst: str
    rate: float
    delay: float = 0.0


@dataclass(frozen=True)
class Network:
    """Nodes and directed links (duplex links of the file are already expanded)."""

    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    kind: str = ""

    def index(self) -> dict[str, int]:
        return {node.name: i for i, node in enumerate(self.nodes)}

    def link_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(tail index, head index, rate, delay) of every directed link."""
        idx = self.index()
        tail = np.array([idx[link.src] for link in self.links], dtype=np.int64)
        head = np.array([idx[link.dst] for link in self.links], dtype=np.int64)
        rate = np.array([link.rate for link in self.links], dtype=float)
        delay = np.array([link.delay for link in self.links], dtype=float)
        return tail, head, rate, delay


@dataclass(frozen=True)
class Job:
    """A DNN inference job: input at ``source``, result needed at ``destination``."""

    source: str
    destination: str
    profile: Profile


def compute_time(layer: Layer, node: Node) -> float:
    """Time (s) for ``node`` to compute ``layer``; inf when it cannot.

    A measured mean for the node's processor kind wins over FLOPs / speed, because
    measured per-layer times are what practitioners have for real hardware.
    """
    if node.processor is not None and node.processor in layer.time:
        return layer.time[node.processor].mean
    if node.speed > 0:
        return layer.flops / node.speed
    return float("inf")
