"""One device of `robust` on the shared layered graph: with its clock and bandwidth fixed, a
partition is a path through two rows (device, server) and the chance constraint a limit on
the path's summed mean and variance (Cantelli: μ + sqrt((1−ε)/ε)·σ ≤ D).

Built from the instance's profile alone (no array shared with the solvers), so that it
checks the partition `enumerate` and the other methods choose. Variances add along a path,
so the check holds for independent layers only (a device with a covariance or 'comonotone'
has variances that are not sums over layers).
"""

from __future__ import annotations

import math

import numpy as np

from optsplit.formulations.robust.model import RobustDevice
from optsplit.layered import LayeredGraph, build_layered, constrained_path
from optsplit.tolerances import PLAN_RELATIVE

DEVICE, SERVER = 0, 1


def _layer_figures(dev: RobustDevice) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per layer: local cycles (mean, variance), server seconds (mean, variance); bits per tensor."""
    cycles, cycles_var, server, server_var = [], [], [], []
    for layer in dev.profile.layers:
        if dev.processor is not None and dev.processor in layer.time:
            stat = layer.time[dev.processor]
            cycles.append(stat.mean * dev.local_scale * dev.f_ref)
            cycles_var.append(stat.var * (dev.local_scale * dev.f_ref) ** 2)
        else:
            cycles.append(layer.flops / (dev.flops_per_cycle or math.nan))
            cycles_var.append(0.0)
        if dev.server_processor is not None and dev.server_processor in layer.time:
            stat = layer.time[dev.server_processor]
            server.append(stat.mean * dev.server_scale)
            server_var.append(stat.var * dev.server_scale**2)
        else:
            server.append(layer.flops / (dev.server_speed or math.nan))
            server_var.append(0.0)
    bits = 8.0 * np.array([dev.profile.input_bytes, *(x.output_bytes for x in dev.profile.layers)])
    return np.array(cycles), np.array(cycles_var), np.array(server), np.array(server_var), bits


def device_graph(
    dev: RobustDevice, noise_density: float, f: float, b: float, max_se: float = math.inf
) -> tuple[LayeredGraph, np.ndarray]:
    """The two-row layered graph of ``dev`` at clock ``f`` and bandwidth ``b``: edge costs are
    device energy, edge resources (mean time, time variance). The uplink carries tensor k
    (k < L) once; the result of the last layer reaches the sink from either row for free."""
    cycles, cycles_var, server, server_var, bits = _layer_figures(dev)
    L = cycles.size
    se = min(math.log2(1.0 + dev.tx_power * dev.gain / (noise_density * b)), max_se) if b > 0 else 0.0
    rate = b * se
    tx_time = np.where(rate > 0, bits / max(rate, 1e-300), np.inf)
    uplink = np.append(dev.tx_power * tx_time[:L], np.inf)  # nothing is sent after the last layer
    back = np.full(L + 1, np.inf)
    back[L] = 0.0  # a result computed on the server ends the path
    if dev.power is None:  # cpu: time W/f, power κf³ + P_static
        seconds, seconds_var = cycles / f, cycles_var / f**2
        work = dev.kappa * cycles * f**2 + dev.static_power * cycles / f
    else:  # gpu: each layer's time at f_ref scaled by (1 − φ)·f_ref/f + φ, its std alike
        phi = dev.insensitive_fraction
        scale = (1.0 - phi) * dev.f_ref / f + phi
        seconds, seconds_var = cycles / dev.f_ref * scale, cycles_var / dev.f_ref**2 * scale**2
        work = sum(p * (f / 1e9) ** k for k, p in enumerate(dev.power)) * seconds
    compute = np.stack([work, np.zeros(L)], axis=1)
    graph = build_layered(
        2,
        L,
        np.array([DEVICE, SERVER]),
        np.array([SERVER, DEVICE]),
        np.stack([uplink, back], axis=1),
        compute,
        DEVICE,
        DEVICE,
    )
    head_node = graph.edges.head % 2
    layer = graph.copy - 1  # layer of a compute edge
    on_link = graph.link >= 0
    mean = np.where(
        on_link,
        np.where(graph.link == 0, tx_time[np.minimum(graph.copy, L)], 0.0),
        np.where(head_node == DEVICE, seconds[layer], server[layer]),
    )
    var = np.where(on_link, 0.0, np.where(head_node == DEVICE, seconds_var[layer], server_var[layer]))
    return graph, np.stack([mean, var], axis=1)


def cheapest_partition(
    dev: RobustDevice, noise_density: float, f: float, b: float, max_se: float = math.inf
) -> tuple[float, int] | None:
    """(energy, partition) of the cheapest partition meeting the chance constraint at (f, b)."""
    graph, resources = device_graph(dev, noise_density, f, b, max_se)
    k = math.sqrt((1 - dev.epsilon) / dev.epsilon)
    limit = dev.deadline * (1 + PLAN_RELATIVE)

    def meets_deadline(total: np.ndarray) -> bool:
        return bool(total[0] + k * math.sqrt(max(total[1], 0.0)) <= limit)

    found = constrained_path(graph, resources, meets_deadline)
    if found is None:
        return None
    energy, vertices = found
    # the partition is the number of compute edges taken on the device row
    local = sum(1 for a, c in zip(vertices[:-1], vertices[1:]) if c == a + 2 and a % 2 == DEVICE)
    return energy, local
