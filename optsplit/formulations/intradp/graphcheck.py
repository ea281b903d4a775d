"""Read an operator graph file and refuse what cannot be scheduled: cycles, unknown inputs,
shapes that contradict the operators, splittable operators without rows to split.

Operators may be listed in any order that has no cycle; they are put in topological order
(stable: the file's order wherever the edges allow it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optsplit.errors import InputError
from optsplit.instance.loader import read_document
from optsplit.profiles.halo import Window
from optsplit.profiles.operators import INPUT, OperatorGraph, graph_from_dict


def checked_graph(path: Path) -> OperatorGraph:
    """The operator graph of a file, with its order, edges and shapes checked."""
    source = str(path)
    doc = read_document(path)
    layers = doc.get("layers")
    if not isinstance(layers, list) or not layers:
        raise InputError("expected a non-empty list of operators", source=source, path="layers")
    explicit, where = _explicit_inputs(layers, source)
    order = _topological(explicit, where, source)
    graph = graph_from_dict({**doc, "layers": [explicit[i] for i in order]}, source)
    check_shapes(graph, source, [where[explicit[i]["name"]] for i in order])
    return graph


def _explicit_inputs(layers: list[Any], source: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Layers with ``inputs`` written out (the file's default is the previous layer)."""
    out: list[dict[str, Any]] = []
    where: dict[str, int] = {}
    previous = INPUT
    for i, raw in enumerate(layers):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise InputError("expected an operator with a name", source=source, path=f"layers[{i}]")
        name = raw["name"]
        if name in where or name == INPUT:
            raise InputError(
                f"operator name '{name}' is used twice (or is reserved)",
                source=source,
                path=f"layers[{i}].name",
            )
        where[name] = i
        inputs = raw.get("inputs", [previous])
        if not isinstance(inputs, list) or not inputs or not all(isinstance(s, str) for s in inputs):
            raise InputError(
                "expected a non-empty list of tensor names", source=source, path=f"layers[{i}].inputs"
            )
        out.append({**raw, "inputs": list(inputs)})
        previous = name
    for i, raw in enumerate(out):
        for k, src in enumerate(raw["inputs"]):
            if src != INPUT and src not in where:
                raise InputError(f"unknown input '{src}'", source=source, path=f"layers[{i}].inputs[{k}]")
    return out, where


def _topological(layers: list[dict[str, Any]], where: dict[str, int], source: str) -> list[int]:
    """Kahn's order, smallest file index first; a cycle is named operator by operator."""
    import heapq

    n = len(layers)
    indeg = [0] * n
    succ: list[list[int]] = [[] for _ in range(n)]
    for j, raw in enumerate(layers):
        for src in dict.fromkeys(raw["inputs"]):
            if src != INPUT:
                succ[where[src]].append(j)
                indeg[j] += 1
    ready = [j for j in range(n) if indeg[j] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        v = heapq.heappop(ready)
        order.append(v)
        for w in succ[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                heapq.heappush(ready, w)
    if len(order) < n:
        left = {j for j in range(n) if indeg[j] > 0}
        v = min(left)
        walk: list[int] = []
        while v not in walk:  # follow inputs that are themselves on the cycle
            walk.append(v)
            v = next(where[s] for s in layers[v]["inputs"] if s != INPUT and where[s] in left)
        cycle = walk[walk.index(v) :][::-1]
        text = " → ".join(f"'{layers[j]['name']}'" for j in [*cycle, cycle[0]])
        raise InputError(
            f"the operators form a cycle: {text}", source=source, path=f"layers[{cycle[0]}].inputs"
        )
    return order


def check_shapes(graph: OperatorGraph, source: str, file_index: list[int]) -> None:
    """Every operator's rows agree with its inputs (windows by g(L), the rest row for row)."""
    for j, op in enumerate(graph.operators):
        path = f"layers[{file_index[j]}]"
        shapes = [graph.shape(s) for s in op.inputs]
        if op.split_dim is not None and len(op.out_shape) != 3:
            raise InputError(
                f"operator '{op.name}' has split_dim H but its output {list(op.out_shape)} has no rows",
                source=source,
                path=f"{path}.split_dim",
            )
        if op.kind == "add" and any(s != op.out_shape for s in shapes):
            raise InputError(
                f"shape mismatch: '{op.name}' adds {[list(s) for s in shapes]} into {list(op.out_shape)}",
                source=source,
                path=f"{path}.out_shape",
            )
        if op.split_dim is None:
            continue
        if any(len(s) != 3 for s in shapes):
            raise InputError(
                f"shape mismatch: local operator '{op.name}' reads a tensor without rows",
                source=source,
                path=f"{path}.inputs",
            )
        if op.windowed:
            assert op.kernel is not None and op.stride is not None and op.padding is not None
            w = Window(op.kernel, op.stride, op.padding, op.dilation)
            expect = int(w.out_length(shapes[0][1]))
        else:
            expect = shapes[0][1]
        rows_in = {s[1] for s in shapes}
        if op.out_shape[1] != expect or (not op.windowed and len(rows_in) > 1):
            raise InputError(
                f"shape mismatch: '{op.name}' ({op.kind}) makes {op.out_shape[1]} rows from inputs of "
                f"{sorted(rows_in)} rows; expected {expect}",
                source=source,
                path=f"{path}.out_shape",
            )
