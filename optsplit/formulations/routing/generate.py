"""Random `routing` instances: computing networks of several kinds (seeded, reproducible).

Figures are typical public values, not measurements: device CPUs of Jetson-class boards
(tens of GFLOP/s effective), edge GPU servers (T4-class, 8.1 TFLOP/s FP32 peak, used at
~30 %), cloud GPUs (A100-class, 19.5 TFLOP/s FP32 peak, ~50 %); Wi-Fi 5/6 and 5G uplinks
of 20–400 Mbit/s, 1–10 Gbit/s fibre between sites, metro/core delays of 0.5–20 ms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from optsplit.errors import InputError
from optsplit.profiles.reference import profile_reference
from optsplit.spec import Generator, Param

GFLOPS, TFLOPS = 1e9, 1e12
MBPS, GBPS = 1e6, 1e9

KINDS = ("tiered", "geometric", "grid")


def _node(name: str, kind: str, speed: float, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "speed": float(speed), **extra}


def _link(u: str, v: str, rate: float, delay: float) -> dict[str, Any]:
    return {"src": u, "dst": v, "rate": float(rate), "delay": float(delay)}


def tiered(num_nodes: int, rng: np.random.Generator) -> dict[str, Any]:
    """Devices → Wi-Fi/5G access points → edge servers (metro fibre) → cloud (core)."""
    clouds = max(1, num_nodes // 100)
    edges = max(1, num_nodes // 12)
    aps = max(1, num_nodes // 6)
    devices = max(1, num_nodes - clouds - edges - aps)
    nodes, links = [], []
    for c in range(clouds):
        nodes.append(_node(f"cloud{c}", "cloud", rng.uniform(8, 12) * TFLOPS))
    for e in range(edges):
        nodes.append(_node(f"edge{e}", "edge", rng.uniform(1.5, 3) * TFLOPS))
        links.append(_link(f"edge{e}", f"cloud{e % clouds}", 10 * GBPS, rng.uniform(10, 20) / 1e3))
    for e in range(edges - 1):  # metro ring between edge sites
        links.append(_link(f"edge{e}", f"edge{e + 1}", 10 * GBPS, rng.uniform(0.5, 2) / 1e3))
    for a in range(aps):
        nodes.append(_node(f"ap{a}", "ap", 0.0))
        links.append(_link(f"ap{a}", f"edge{a % edges}", 1 * GBPS, rng.uniform(0.2, 1) / 1e3))
    for d in range(devices):
        nodes.append(_node(f"dev{d}", "device", rng.uniform(10, 50) * GFLOPS))
        radio = rng.choice(["wifi", "5g"])
        rate = rng.uniform(50, 400) if radio == "wifi" else rng.uniform(20, 200)
        links.append(_link(f"dev{d}", f"ap{d % aps}", rate * MBPS, rng.uniform(1, 4) / 1e3))
    return {"kind": "tiered", "nodes": nodes, "links": links}


def _from_graph(graph: nx.Graph, rng: np.random.Generator, kind: str, pos: dict[Any, Any]) -> dict[str, Any]:
    """Label nodes n0…; every node computes (devices mostly, a few edge servers)."""
    names = {v: f"n{i}" for i, v in enumerate(graph.nodes)}
    nodes = []
    for v in graph.nodes:
        is_edge = rng.random() < 0.1
        speed = rng.uniform(1, 3) * TFLOPS if is_edge else rng.uniform(10, 50) * GFLOPS
        x, y = pos[v]
        nodes.append(_node(names[v], "edge" if is_edge else "device", speed, x=float(x), y=float(y)))
    links = []
    for u, v in graph.edges:
        dist = math.dist(pos[u], pos[v])
        rate = rng.uniform(50, 1000) * MBPS
        links.append(_link(names[u], names[v], rate, 1e-3 * (0.2 + dist)))
    return {"kind": kind, "nodes": nodes, "links": links}


def geometric(num_nodes: int, rng: np.random.Generator) -> dict[str, Any]:
    """Random geometric graph in the unit square, radius grown until it is connected."""
    radius = math.sqrt(2.0 * math.log(max(num_nodes, 2)) / (math.pi * num_nodes))
    for _ in range(50):
        graph = nx.random_geometric_graph(num_nodes, radius, seed=int(rng.integers(2**31)))
        if nx.is_connected(graph):
            break
        radius *= 1.1
    pos = nx.get_node_attributes(graph, "pos")
    return _from_graph(graph, rng, "geometric", pos)


def grid(num_nodes: int, rng: np.random.Generator) -> dict[str, Any]:
    """Near-square 2-D grid (a mesh of compute nodes)."""
    rows = max(1, int(math.sqrt(num_nodes)))
    cols = max(1, math.ceil(num_nodes / rows))
    graph = nx.grid_2d_graph(rows, cols)
    pos = {v: (v[0] / max(rows - 1, 1), v[1] / max(cols - 1, 1)) for v in graph.nodes}
    return _from_graph(graph, rng, "grid", pos)


def network(kind: str, num_nodes: int, seed: int) -> dict[str, Any]:
    """A network document of ``kind`` with about ``num_nodes`` nodes."""
    if kind not in KINDS:
        raise ValueError(f"unknown network kind '{kind}'; known: {', '.join(KINDS)}")
    if num_nodes < 2:
        raise ValueError("a network needs at least 2 nodes")
    rng = np.random.default_rng(seed)
    doc = {"tiered": tiered, "geometric": geometric, "grid": grid}[kind](num_nodes, rng)
    doc["seed"] = seed
    return doc


def routing_instance(
    kind: str, num_nodes: int, seed: int, profile: str | dict[str, Any], name: str | None = None
) -> dict[str, Any]:
    """A routing instance: the job starts and ends at one device (drawn with the seed)."""
    net = network(kind, num_nodes, seed)
    rng = np.random.default_rng(seed + 1)
    devices = [n["name"] for n in net["nodes"] if n["kind"] == "device"] or [n["name"] for n in net["nodes"]]
    src = devices[int(rng.integers(len(devices)))]
    return {
        "name": name or f"{kind}-{len(net['nodes'])}-s{seed}",
        "description": f"{kind} network, {len(net['nodes'])} nodes, seed {seed}",
        "formulation": "routing",
        "network": net,
        "job": {"source": src, "destination": src, "profile": profile},
    }


def _make(kind: str) -> Callable[..., dict[str, Any]]:
    def make(output: Path, nodes: int, seed: int, profile: str) -> dict[str, Any]:
        _, ref = profile_reference(profile, output)
        try:
            return routing_instance(kind, nodes, seed, ref)
        except ValueError as exc:
            raise InputError(str(exc), path="--nodes") from None

    return make


_DESCRIPTIONS = {
    "tiered": "devices -> access points -> edge servers -> cloud",
    "geometric": "random geometric graph in the unit square (connected)",
    "grid": "near-square 2-D mesh of compute nodes",
}


def _summary(doc: dict[str, Any]) -> str:
    return f"{len(doc['network']['nodes'])} nodes, {len(doc['network']['links'])} links"


def generators() -> dict[str, Generator]:
    """One generator per network kind; the job starts and ends at a random device."""
    params = (
        Param("nodes", int, 20, "number of nodes", minimum=2, aliases=("-n",)),
        Param("seed", int, 0, "random seed", minimum=0),
        Param("profile", str, "alexnet", "architecture name or profile file"),
    )
    return {
        kind: Generator(kind, f"routing: {_DESCRIPTIONS[kind]}", params, _make(kind), _summary)
        for kind in KINDS
    }
