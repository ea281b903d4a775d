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
    """A DNN as a chain of layers; ``input_bytes`` is the size of tensor 0.

    ``covariance`` holds, per processor kind, the L×L covariance of the layers' times (s²)
    measured in the same runs; without one, that processor's layer times are independent.
    """

    name: str
    input_bytes: float
    layers: tuple[Layer, ...]
    description: str = ""
    derivation: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    covariance: dict[str, tuple[tuple[float, ...], ...]] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.layers)

    def tensor_bytes(self) -> np.ndarray:
        """Sizes of tensors 0..K: the input, then each layer's output."""
        return np.array([self.input_bytes, *(layer.output_bytes for layer in self.layers)])

    def flops(self) -> np.ndarray:
        return np.array([layer.flops for layer in self.layers])


@dataclass(frozen=True)
class Instance:
    """One loaded, validated instance. Sections a formulation does not need may be None."""

    name: str
    source: str
    description: str = ""
    formulation: str | None = None
    sections: dict[str, Any] = field(default_factory=dict)  # built by the formulations that own them

    def section(self, key: str) -> Any:
        """The built data of a formulation-owned section; None when the file has none."""
        return self.sections.get(key)


def path_loss_gain(distance_m: float) -> float:
    """Linear channel gain from the 3GPP macro path loss 128.1 + 37.6·log10(d / km) dB."""
    loss_db = 128.1 + 37.6 * np.log10(distance_m / 1000.0)
    return float(10.0 ** (-loss_db / 10.0))


def dbm_to_watt(dbm: float) -> float:
    return float(10.0 ** ((dbm - 30.0) / 10.0))
