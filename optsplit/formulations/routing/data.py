"""Numeric data of a routing instance: compute times per (layer, node) and link arrays."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from optsplit.errors import InputError
from optsplit.formulations.routing.model import compute_time
from optsplit.instance.model import Instance


@dataclass
class RoutingData:
    """Arrays the routing models are built from (V nodes, K layers, E directed links)."""

    instance: Instance
    names: list[str]
    layer_names: list[str]
    compute: np.ndarray  # (K, V) seconds; inf where the node cannot compute the layer
    tensor_bits: np.ndarray  # (K+1,) bits of tensor k (0 = input, K = result)
    tail: np.ndarray  # (E,) link tails
    head: np.ndarray  # (E,) link heads
    rate: np.ndarray  # (E,) bit/s
    delay: np.ndarray  # (E,) s
    source: int
    destination: int

    @property
    def labels(self) -> list[str]:
        """Node names as they may appear inside a variable name of an .lp/.mps file."""
        return model_labels(self.names)

    @property
    def num_nodes(self) -> int:
        return len(self.names)

    @property
    def num_layers(self) -> int:
        return len(self.layer_names)

    def transfer_weights(self, k: int | np.ndarray) -> np.ndarray:
        """Time to move tensor k over each link: 8·o_k / r + delay (rows per k if an array)."""
        bits = np.atleast_1d(self.tensor_bits[k])[:, None]
        with np.errstate(over="ignore", divide="ignore"):  # a subnormal rate: the link is unusable (inf)
            w = bits / self.rate[None, :] + self.delay[None, :]
        return w[0] if np.ndim(k) == 0 else w


def model_labels(names: list[str]) -> list[str]:
    """Names with every character an .lp file forbids replaced by '_'; if that makes two
    equal, the nodes' indices (v0, v1…) instead."""
    clean = [re.sub(r"[^A-Za-z0-9_.]", "_", name) for name in names]
    return clean if len(set(clean)) == len(clean) else [f"v{i}" for i in range(len(names))]


def prepare(instance: Instance) -> RoutingData:
    """Turn an instance with [network] and [job] into RoutingData."""
    if instance.section("network") is None:
        raise InputError(
            "the routing formulation needs a [network] section", source=instance.source, path="network"
        )
    if instance.section("job") is None:
        raise InputError("the routing formulation needs a [job] section", source=instance.source, path="job")
    net, job = instance.section("network"), instance.section("job")
    index = net.index()
    compute = np.array(
        [[compute_time(layer, node) for node in net.nodes] for layer in job.profile.layers], dtype=float
    )
    tail, head, rate, delay = net.link_arrays()
    return RoutingData(
        instance=instance,
        names=[node.name for node in net.nodes],
        layer_names=[layer.name for layer in job.profile.layers],
        compute=compute,
        tensor_bits=8.0 * job.profile.tensor_bytes(),
        tail=tail,
        head=head,
        rate=rate,
        delay=delay,
        source=index[job.source],
        destination=index[job.destination],
    )
