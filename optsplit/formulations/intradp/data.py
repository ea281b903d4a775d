"""Instance section `intradp`: an operator DAG, the two processors' times, the link and the powers.

Positions index the schedule: 0 is the input tensor (born on the device), 1..N the operators
in topological order, N + 1 the result's consumer on the device (``end``). Shares x are per
position; the input and ``end`` are fixed at 1 (all on the device).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from optsplit.errors import InputError
from optsplit.formulations.intradp.graphcheck import checked_graph
from optsplit.profiles.halo import IDENTITY, Window, graph_windows, rows_of
from optsplit.profiles.operators import DEVICE, INPUT, SERVER, OperatorGraph
from optsplit.spec import LoadContext, Section

KEY = "intradp"
MB = 1e6  # bandwidths are in MB/s (10^6 bytes per second), as Intra-DP's planner states them
# Device powers (W) read off the Intra-DP sample logs (Jetson Xavier NX, VDD_IN): about 14 W
# computing locally, about 4.5 W waiting on an offloaded inference; the radio adds ~1.5 W
# while sending and ~0.5 W while receiving (our reading, see formulations/intradp.md).
DEFAULT_POWER = {"compute": 14.0, "transmit": 1.5, "receive": 0.5, "idle": 4.5}
OBJECTIVES = ("latency", "energy")

_NUM = {"type": "number", "minimum": 0}
_POS = {"type": "number", "exclusiveMinimum": 0}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["graph", "bandwidth"],
    "additionalProperties": False,
    "properties": {
        "graph": {"type": "string", "minLength": 1},
        "device": {"type": "string", "minLength": 1},
        "server": {"type": "string", "minLength": 1},
        "bandwidth": _POS,
        "downlink_bandwidth": _POS,
        "objective": {"enum": list(OBJECTIVES)},
        "latency_bound": _POS,
        "grid": {"type": "integer", "minimum": 1, "maximum": 100},
        "power": {"$ref": "#/$defs/intradpPower"},
    },
}
DEFS = {
    "intradpPower": {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: _NUM for name in DEFAULT_POWER},
    }
}


@dataclass(frozen=True)
class Power:
    """Device powers (W): computing, radio while sending / receiving (added), idle or waiting."""

    compute: float
    transmit: float
    receive: float
    idle: float


@dataclass(frozen=True, eq=False)
class IntraDPData:
    """Per-position arrays of one instance (position 0 = input, N + 1 = end)."""

    name: str
    source: str
    graph: OperatorGraph
    names: tuple[str, ...]  # per position: "input", operator names, "end"
    t_dev: np.ndarray  # s, per position (0 for input and end)
    t_srv: np.ndarray
    rows: np.ndarray  # rows of the position's output tensor (end: 1)
    row_bytes: np.ndarray  # bytes per row of that tensor
    local: np.ndarray  # may take a fractional share
    fixed: np.ndarray  # share fixed at 1 (input, end)
    windows: tuple[Window | None, ...]  # per position, as a consumer: None = needs inputs whole
    edge_src: np.ndarray  # data edges as (producer, consumer) positions, sorted by producer
    edge_dst: np.ndarray
    bandwidth: float  # uplink, MB/s
    downlink: float  # MB/s
    objective: str
    latency_bound: float | None
    power: Power
    grid: int
    downlink_given: bool

    @property
    def n_positions(self) -> int:
        return len(self.names)

    @property
    def up_rate(self) -> float:
        return self.bandwidth * MB

    @property
    def down_rate(self) -> float:
        return self.downlink * MB

    @cached_property
    def out_edges(self) -> tuple[np.ndarray, ...]:
        """Per position, the indices of the edges it produces."""
        bounds = np.searchsorted(self.edge_src, np.arange(self.n_positions + 1))
        return tuple(np.arange(bounds[j], bounds[j + 1]) for j in range(self.n_positions))

    @cached_property
    def parents(self) -> tuple[np.ndarray, ...]:
        """Per position, the positions it reads."""
        order = np.argsort(self.edge_dst, kind="stable")
        bounds = np.searchsorted(self.edge_dst[order], np.arange(self.n_positions + 1))
        return tuple(self.edge_src[order[bounds[j] : bounds[j + 1]]] for j in range(self.n_positions))

    @cached_property
    def window_groups(self) -> tuple[tuple[Window | None, np.ndarray], ...]:
        """The data edges grouped by their consumer's window (one vectorised halo call each)."""
        groups: dict[Window | None, list[int]] = {}
        for e, c in enumerate(self.edge_dst.tolist()):
            groups.setdefault(self.windows[c], []).append(e)
        return tuple((w, np.array(es, dtype=np.int64)) for w, es in groups.items())

    @property
    def is_chain(self) -> bool:
        """Each operator reads only the previous position (a chain: layer-wise = one row switch)."""
        return bool(np.array_equal(self.edge_src, self.edge_dst - 1))

    def with_bandwidth(self, bandwidth: float) -> IntraDPData:
        """The same instance at another uplink bandwidth (downlink follows unless given apart)."""
        from dataclasses import replace

        return replace(
            self, bandwidth=bandwidth, downlink=self.downlink if self.downlink_given else bandwidth
        )


def positions_of(graph: OperatorGraph) -> tuple[np.ndarray, np.ndarray]:
    """Data edges (producer, consumer) as positions, the result's consumer ``end`` included."""
    idx = graph.index()
    src, dst = [], []
    consumed = np.zeros(len(graph.operators), dtype=bool)
    for j, op in enumerate(graph.operators):
        for name in dict.fromkeys(op.inputs):
            src.append(idx[name] + 1)
            dst.append(j + 1)
            if name != INPUT:
                consumed[idx[name]] = True
    end = len(graph.operators) + 1
    for i in np.flatnonzero(~consumed):
        src.append(int(i) + 1)
        dst.append(end)
    s, d = np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)
    order = np.lexsort((d, s))
    return s[order], d[order]


def build_data(
    graph: OperatorGraph,
    *,
    bandwidth: float,
    device: str = DEVICE,
    server: str = SERVER,
    downlink: float | None = None,
    objective: str = "latency",
    latency_bound: float | None = None,
    power: Mapping[str, float] | None = None,
    grid: int = 10,
    source: str = "<graph>",
    name: str = "",
) -> IntraDPData:
    """Arrays of an instance from an operator graph with times for ``device`` and ``server``."""
    ops = graph.operators
    n = len(ops)
    times = {}
    for side, proc in (("device", device), ("server", server)):
        t = np.zeros(n + 2)
        for i, op in enumerate(ops):
            if proc not in op.time:
                raise InputError(
                    f"operator '{op.name}' has no time for '{proc}' ({side})", path=f"{KEY}.{side}"
                )
            t[i + 1] = op.time[proc].mean
        times[side] = t
    rows = np.ones(n + 2, dtype=np.int64)
    rows[0] = rows_of(graph, INPUT)
    out_bytes = np.zeros(n + 2)
    out_bytes[0] = graph.input_bytes
    for i, op in enumerate(ops):
        rows[i + 1] = rows_of(graph, op.name)
        out_bytes[i + 1] = op.output_bytes
    local = np.zeros(n + 2, dtype=bool)
    local[1 : n + 1] = graph.local()
    fixed = np.zeros(n + 2, dtype=bool)
    fixed[[0, n + 1]] = True
    windows: list[Window | None] = [IDENTITY, *graph_windows(graph), None]
    src, dst = positions_of(graph)
    if objective == "energy" and latency_bound is None:
        raise InputError("the energy objective needs a latency_bound (s)", path=f"{KEY}.latency_bound")
    if objective == "latency" and latency_bound is not None:
        raise InputError(
            'latency_bound applies to the energy objective only (set objective = "energy", or remove it)',
            path=f"{KEY}.latency_bound",
        )
    return IntraDPData(
        name=name or graph.name,
        source=source,
        graph=graph,
        names=(INPUT, *(op.name for op in ops), "end"),
        t_dev=times["device"],
        t_srv=times["server"],
        rows=rows,
        row_bytes=out_bytes / rows,
        local=local,
        fixed=fixed,
        windows=tuple(windows),
        edge_src=src,
        edge_dst=dst,
        bandwidth=float(bandwidth),
        downlink=float(downlink if downlink is not None else bandwidth),
        objective=objective,
        latency_bound=latency_bound,
        power=Power(**{**DEFAULT_POWER, **(power or {})}),
        grid=int(grid),
        downlink_given=downlink is not None,
    )


def _build(raw: Mapping[str, Any], ctx: LoadContext, built: Mapping[str, Any]) -> IntraDPData:
    path = Path(raw["graph"])
    if not path.is_absolute():
        path = ctx.base_dir / path
    if not path.exists():
        raise InputError(f"graph file '{raw['graph']}' not found", source=ctx.source, path=f"{KEY}.graph")
    graph = checked_graph(path)
    try:
        return build_data(
            graph,
            bandwidth=raw["bandwidth"],
            device=raw.get("device", DEVICE),
            server=raw.get("server", SERVER),
            downlink=raw.get("downlink_bandwidth"),
            objective=raw.get("objective", "latency"),
            latency_bound=raw.get("latency_bound"),
            power=raw.get("power"),
            grid=raw.get("grid", 10),
            source=ctx.source,
        )
    except InputError as exc:
        raise InputError(exc.detail, source=ctx.source, path=exc.path) from None


SECTION = Section(SCHEMA, _build, DEFS)


def prepare(instance: Any) -> IntraDPData:
    """The instance's `intradp` section, or a clear error when it has none."""
    data = instance.section(KEY)
    if data is None:
        raise InputError(f"the instance has no [{KEY}] section", source=instance.source, path=KEY)
    assert isinstance(data, IntraDPData)
    return data
