"""Run an operator graph with PyTorch: one module per operator, built from the description alone.

Checks the description (every output shape and parameter count against what PyTorch builds
and computes) and measures per-operator time on this CPU. Random weights, nothing downloaded.
ConvNeXt's channels-last stretch is followed: a permute flips the layout of its tensor, layer
norm and channel-wise linear layers need channels-last, everything windowed needs channels-first.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from optsplit.errors import OptsplitError
from optsplit.instance.model import TimeStat
from optsplit.profiles.operators import HOST, INPUT, NETWORKS, Operator, OperatorGraph, calibrate, write_graph
from optsplit.profiles.torch_profiler import require_torch, timing_record

CHANNELS_LAST_ONLY = frozenset({"layernorm", "channel_linear"})
CHANNELS_FIRST_ONLY = frozenset({"conv", "bn", "maxpool", "avgpool", "adaptive_avgpool", "mul"})


def _module(op: Operator, in_shape: tuple[int, ...]) -> Any:
    """The torch module computing ``op`` (None for functions without state)."""
    nn = require_torch().nn
    c_in = in_shape[0]
    if op.kind == "conv":
        assert op.kernel is not None and op.stride is not None and op.padding is not None
        weights = (c_in // op.groups) * op.kernel**2 * op.out_shape[0]
        if op.params not in (weights, weights + op.out_shape[0]):
            raise OptsplitError(f"'{op.name}': {op.params} parameters fit no conv of this shape")
        return nn.Conv2d(
            c_in,
            op.out_shape[0],
            op.kernel,
            op.stride,
            op.padding,
            op.dilation,
            op.groups,
            bias=op.params > weights,
        )
    simple = {
        "bn": lambda: nn.BatchNorm2d(c_in),
        "relu": nn.ReLU,
        "relu6": nn.ReLU6,
        "gelu": nn.GELU,
        "dropout": nn.Dropout,
        "maxpool": lambda: nn.MaxPool2d(op.kernel, op.stride, op.padding),
        "avgpool": lambda: nn.AvgPool2d(op.kernel, op.stride, op.padding),
        "adaptive_avgpool": lambda: nn.AdaptiveAvgPool2d(op.out_shape[1]),
        "layernorm": lambda: nn.LayerNorm(c_in, eps=1e-6),
        "channel_linear": lambda: nn.Linear(c_in, op.out_shape[0]),
        "linear": lambda: nn.Linear(c_in, op.out_shape[0]),
        "flatten": lambda: nn.Flatten(1),
    }
    return simple[op.kind]() if op.kind in simple else None


class GraphRunner:
    """The graph as torch modules; ``run`` evaluates it operator by operator."""

    def __init__(self, graph: OperatorGraph, seed: int = 0):
        torch = require_torch()
        torch.manual_seed(seed)
        self.graph = graph
        self.modules: list[Any] = []
        self.scales: dict[str, Any] = {}  # layer-scale parameters of the "mul" operators
        for op in graph.operators:
            module = _module(op, graph.shape(op.inputs[0]))
            self.modules.append(module.eval() if module is not None else None)
            if op.kind == "mul":
                self.scales[op.name] = torch.nn.Parameter(torch.full((op.out_shape[0], 1, 1), 1e-6))
        # the last operator to read each tensor, so that dead tensors are freed while running
        last: dict[str, int] = {}
        for j, op in enumerate(graph.operators):
            for src in op.inputs:
                last[src] = j
        self._free = [[s for s in op.inputs if last[s] == j] for j, op in enumerate(graph.operators)]

    def parameter_count(self, j: int) -> int:
        """Parameters PyTorch allocates for operator ``j``."""
        op = self.graph.operators[j]
        if op.kind == "mul":
            return int(self.scales[op.name].numel())
        module = self.modules[j]
        return 0 if module is None else sum(int(p.numel()) for p in module.parameters())

    def _apply(self, j: int, args: list[Any], layouts: list[str]) -> tuple[Any, str]:
        torch = require_torch()
        op = self.graph.operators[j]
        layout = layouts[0]
        if len(set(layouts)) != 1:
            raise OptsplitError(f"'{op.name}': inputs in different layouts {layouts}")
        if len(op.out_shape) == 3 and (
            (op.kind in CHANNELS_LAST_ONLY and layout != "nhwc")
            or (op.kind in CHANNELS_FIRST_ONLY and layout != "nchw")
        ):
            raise OptsplitError(f"'{op.name}' ({op.kind}) cannot run on a {layout} tensor")
        if op.kind == "add":
            return args[0] + args[1], layout
        if op.kind == "concat":
            return torch.cat(args, 1), layout
        if op.kind == "mul":
            return self.scales[op.name] * args[0], layout
        if op.kind == "permute":
            flipped = "nhwc" if layout == "nchw" else "nchw"
            order = (0, 2, 3, 1) if layout == "nchw" else (0, 3, 1, 2)
            return args[0].permute(*order), flipped
        return self.modules[j](args[0]), layout

    def run(self, x: Any, timer: np.ndarray | None = None) -> dict[str, tuple[int, ...]]:
        """Evaluate the graph on ``x``; logical output shape of every operator (times into ``timer``)."""
        values: dict[str, tuple[Any, str]] = {INPUT: (x, "nchw")}
        shapes = {}
        for j, op in enumerate(self.graph.operators):
            args = [values[s][0] for s in op.inputs]
            layouts = [values[s][1] for s in op.inputs]
            t0 = time.perf_counter()
            out, layout = self._apply(j, args, layouts)
            if timer is not None:
                timer[j] = time.perf_counter() - t0
            shape = tuple(out.shape[1:])
            shapes[op.name] = (shape[2], shape[0], shape[1]) if layout == "nhwc" else shape
            values[op.name] = (out, layout)
            for src in self._free[j]:
                del values[src]
        return shapes


def check_graph(graph: OperatorGraph) -> None:
    """Raise unless PyTorch agrees with every operator's output shape and parameter count.

    Runs on PyTorch's meta device (shapes without data), so even ConvNeXt-L checks in a moment.
    """
    torch = require_torch()
    with torch.device("meta"), torch.inference_mode():
        runner = GraphRunner(graph)
        shapes = runner.run(torch.zeros(1, *graph.input_shape))
    for j, op in enumerate(graph.operators):
        if shapes[op.name] != op.out_shape:
            raise OptsplitError(f"'{op.name}': PyTorch computes {shapes[op.name]}, described {op.out_shape}")
        if runner.parameter_count(j) != op.params:
            raise OptsplitError(
                f"'{op.name}': PyTorch has {runner.parameter_count(j)} parameters, described {op.params}"
            )


def measure_operators(
    graph: OperatorGraph,
    processor: str,
    repeats: int = 20,
    warmup: int = 3,
    threads: int = 1,
    seed: int = 0,
) -> OperatorGraph:
    """Time every operator ``repeats`` times (runs of the whole graph); mean and variance per operator."""
    if repeats < 2:
        raise OptsplitError("repeats must be at least 2 to estimate a variance")
    torch = require_torch()
    torch.set_num_threads(threads)
    check_graph(graph)
    runner = GraphRunner(graph, seed)
    x = torch.randn(1, *graph.input_shape)
    times = np.zeros((repeats, len(graph.operators)))
    with torch.inference_mode():
        for _ in range(warmup):
            runner.run(x)
        for r in range(repeats):
            runner.run(x, times[r])
    mean, var = times.mean(axis=0), times.var(axis=0, ddof=1)
    ops = tuple(
        replace(op, time={**op.time, processor: TimeStat(float(m), float(v), repeats)})
        for op, m, v in zip(graph.operators, mean, var)
    )
    machine = {**graph.machine, processor: timing_record(threads, repeats, warmup, seed)}
    derivation = (
        graph.derivation + f" Times under '{processor}': each operator timed separately over {repeats} "
        f"runs of the whole graph after {warmup} warm-up runs (PyTorch {torch.__version__}, "
        f"{threads} thread(s), random weights; optsplit.profiles.operator_torch)."
    )
    return replace(graph, operators=ops, machine=machine, derivation=derivation)


def write_profiles(directory: str | Path, repeats: int = 20, warmup: int = 3, threads: int = 1) -> list[Path]:
    """Measure every network of NETWORKS on this CPU, add calibrated device and server times,
    and write one JSON operator profile per network into ``directory``."""
    measured = {
        name: measure_operators(build(), HOST, repeats, warmup, threads) for name, build in NETWORKS.items()
    }
    paths = []
    for name, graph in calibrate(measured).items():
        path = Path(directory) / f"{name}.json"
        write_graph(graph, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=write_profiles.__doc__)
    parser.add_argument("directory")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    write_profiles(args.directory, args.repeats, args.warmup, args.threads)
