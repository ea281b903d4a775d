"""Data model of an instance after loading: frozen dataclasses, SI units."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TimeStat:
    """Measured time of one layer on one processor kind: mean (s) and variance (s²)."""

    mean: float
    var: float = 0.0
    samples: int | None = None


@dataclass(frozen=True)
class Layer:
    """One layer (or block) of a DNN: a chain by default, a DAG when layers name their inputs.

    ``inputs`` names the layers whose outputs this layer consumes; empty means the previous
    layer (the profile's input tensor for the first layer), so every chain profile loads as before.
    """

    name: str
    flops: float
    output_bytes: float
    params: float = 0.0
    time: dict[str, TimeStat] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """A DNN as a chain of layers; ``input_bytes`` is the size of tensor 0."""

    name: str
    input_bytes: float
    layers: tuple[Layer, ...]
    description: str = ""
    derivation: str = ""
    machine: dict[str, Any] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.layers)

    def tensor_bytes(self) -> np.ndarray:
        """Sizes of tensors 0..K: the input, then each layer's output."""
        return np.array([self.input_bytes, *(layer.output_bytes for layer in self.layers)])

    def flops(self) -> np.ndarray:
        return np.array([layer.flops for layer in self.layers])


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


@dataclass(frozen=True)
class Instance:
    """One loaded, validated instance. Sections a formulation does not need may be None."""

    name: str
    source: str
    description: str = ""
    formulation: str | None = None
    network: Network | None = None
    job: Job | None = None
    robust: RobustSystem | None = None
    sections: dict[str, Any] = field(default_factory=dict)  # built by the formulations that own them

    def section(self, key: str) -> Any:
        """The built data of a formulation-owned section; None when the file has none."""
        return self.sections.get(key)


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


def path_loss_gain(distance_m: float) -> float:
    """Linear channel gain from the 3GPP macro path loss 128.1 + 37.6·log10(d / km) dB."""
    loss_db = 128.1 + 37.6 * np.log10(distance_m / 1000.0)
    return float(10.0 ** (-loss_db / 10.0))


def dbm_to_watt(dbm: float) -> float:
    return float(10.0 ** ((dbm - 30.0) / 10.0))


@dataclass(frozen=True)
class RobustDevice:
    """A mobile device of the `robust` problem: its DNN, clock range, power and radio."""

    name: str
    profile: Profile
    f_min: float
    f_max: float
    f_ref: float
    kappa: float
    tx_power: float
    gain: float
    deadline: float
    epsilon: float
    processor: str | None = None
    server_processor: str | None = None
    local_scale: float = 1.0
    server_scale: float = 1.0
    flops_per_cycle: float | None = None
    server_speed: float | None = None
    static_power: float = 0.0


@dataclass(frozen=True)
class RobustSystem:
    """N devices sharing uplink bandwidth (Hz) to one edge server; noise PSD in W/Hz."""

    bandwidth: float
    noise_density: float
    devices: tuple[RobustDevice, ...]
