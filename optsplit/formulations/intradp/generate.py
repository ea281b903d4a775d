"""Generator `intradp`: an instance over a shipped operator profile, or over a seeded random
small convolution graph (a chain, or with residual adds) whose file is written beside it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from optsplit.formulations.intradp.data import KEY
from optsplit.instance.model import TimeStat
from optsplit.profiles.operators import (
    DEVICE,
    INPUT,
    NETWORKS,
    SERVER,
    GraphBuilder,
    OperatorGraph,
    write_graph,
)
from optsplit.spec import Generator, Param

SHIPPED = Path(__file__).resolve().parents[3] / "instances" / "profiles" / "operators"
RANDOM = "random"


def random_graph(
    layers: int,
    seed: int,
    rows: int = 32,
    residual: bool = False,
    device_speed: float = 1e8,
    server_speed: float = 1e9,
) -> OperatorGraph:
    """A seeded stack of convolutions (3×3 or 1×1, now and then stride 2) with ReLUs, a pooling
    head and a linear classifier; with ``residual``, some blocks add their input back."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder(f"random-{layers}-s{seed}{'-res' if residual else ''}", (3, rows, rows))
    x, width = INPUT, 8
    for i in range(layers):
        stride = 2 if b.shape(x)[1] >= 8 and rng.random() < 0.25 else 1
        k = int(rng.choice([1, 3])) if stride == 1 else 3
        out = int(width * (2 if stride == 2 else 1))
        y = b.conv(f"conv{i}", x, out, k, stride, k // 2)
        y = b.unary(f"relu{i}", y, "relu")
        if residual and stride == 1 and b.shape(x) == b.shape(y) and rng.random() < 0.5:
            y = b.add_(f"add{i}", y, x)
        x, width = y, out
    x = b.adaptive_avgpool("avgpool", x, 1)
    x = b.flatten("flatten", x)
    b.linear("fc", x, 10)
    graph = b.graph("random convolution stack (optsplit.formulations.intradp.generate)")
    noise = rng.uniform(0.8, 1.25, size=(len(graph.operators), 2))
    ops = tuple(
        replace(
            op,
            time={
                DEVICE: TimeStat(max(op.flops, 1e3) / device_speed * noise[i, 0], 0.0),
                SERVER: TimeStat(max(op.flops, 1e3) / server_speed * noise[i, 1], 0.0),
            },
        )
        for i, op in enumerate(graph.operators)
    )
    return replace(graph, operators=ops)


def make(
    output: Path | str | None,
    network: str = RANDOM,
    layers: int = 4,
    seed: int = 0,
    residual: int = 0,
    bandwidth: float = 10.0,
    objective: str = "latency",
    latency_bound: float = 0.0,
    grid: int = 10,
) -> dict[str, Any]:
    """The instance document; a random graph is written next to ``output``."""
    out_dir = Path(output).parent if output else Path.cwd()
    if network == RANDOM:
        graph = random_graph(layers, seed, residual=bool(residual))
        path = out_dir / f"{graph.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_graph(graph, path)
        name = graph.name
    elif network in NETWORKS:
        path = SHIPPED / f"{network}.json"
        name = network
    else:
        raise ValueError(f"unknown network '{network}'; use '{RANDOM}' or one of {', '.join(NETWORKS)}")
    section: dict[str, Any] = {
        "graph": os.path.relpath(path, out_dir),
        "bandwidth": float(bandwidth),
        "objective": objective,
        "grid": int(grid),
    }
    if objective == "energy":
        section["latency_bound"] = float(latency_bound) if latency_bound > 0 else 1.0
    return {
        "name": f"intradp-{name}-{bandwidth:g}MBps",
        "formulation": KEY,
        "description": f"Intra-DP split of {name} at {bandwidth:g} MB/s ({objective})",
        KEY: section,
    }


GENERATOR = Generator(
    KEY,
    "Intra-DP instances: a shipped operator profile or a seeded random conv graph",
    (
        Param("network", str, RANDOM, f"'{RANDOM}' or a shipped network ({', '.join(NETWORKS)})"),
        Param("layers", int, 4, "conv layers of a random graph", minimum=1, maximum=200),
        Param("seed", int, 0, "seed of a random graph", minimum=0),
        Param("residual", int, 0, "1: random graph with residual adds (a DAG)", minimum=0, maximum=1),
        Param("bandwidth", float, 10.0, "uplink = downlink bandwidth (MB/s)", minimum=0, open_minimum=True),
        Param("objective", str, "latency", "latency or energy"),
        Param("latency_bound", float, 0.0, "latency bound (s) for the energy objective", minimum=0),
        Param("grid", int, 10, "share grid G of the MILP", minimum=1, maximum=100),
    ),
    make,
    lambda doc: f"{doc[KEY]['graph']} at {doc[KEY]['bandwidth']:g} MB/s",
)
