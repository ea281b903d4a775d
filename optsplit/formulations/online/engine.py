"""One frame, slot by slot, vectorised over devices (no Python loop per device per slot).

Given the outer decision (split, bandwidth share ω, reference power p̄, packet cap) each
device computes its head, then sends packets in its window [first, last) with a per-slot
power: constant p̄ (outer loop only) or ENACHI-style reference tracking (below). Bits of a
slot are δ·ωW·log2(1 + p·g/(ωW·N0)); packet k has arrived once k·L bits are in. A device
stops when it has sent its cap, when the server's uncertainty reaches θ (early stop), or at
the end of its window (the server then infers on what arrived).

Reference tracking [reconstructed]: water-filling p_t = min(P_max, [ν_t − ωW·N0/g_t]^+)
with water level ν_t = max(ν_track, ν_need): ν_track starts at p̄ + ωW·N0/ḡ (so that the mean
channel gets p̄) and moves by the energy overspent against the reference line p̄·δ·j,
spread over the remaining slots; ν_need is the level that would deliver the remaining
planned bits over the remaining slots at the mean channel (deadline awareness).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import OnlineData
from .env import Draws, correct, stop_packets


@dataclass(frozen=True)
class Decision:
    """A frame's outer decision per device."""

    split: np.ndarray  # (N,) int
    omega: np.ndarray  # (N,) bandwidth share
    power: np.ndarray  # (N,) reference power p̄, W
    cap: np.ndarray  # (N,) int, packets the outer step planned (the tracking target)
    open_end: np.ndarray  # (N,) bool: keep sending past the cap while the window lasts


@dataclass(frozen=True)
class FrameOutcome:
    """What happened in one frame, per device; ``power`` is the per-slot power (T × N)."""

    received: np.ndarray
    correct: np.ndarray
    energy: np.ndarray
    tx_energy: np.ndarray
    missed: np.ndarray
    early: np.ndarray
    power: np.ndarray


def run_frame(
    data: OnlineData, decision: Decision, draws: Draws, *, tracking: bool, early_stop: bool
) -> FrameOutcome:
    """Simulate one frame; all per-device quantities are arrays of length N."""
    n = data.n
    split = decision.split
    rows = np.arange(n)
    first = data.first[rows, split]
    last = data.last[split]
    k_all = data.packets[split]
    target = np.minimum(decision.cap, k_all)
    goal = np.where(decision.open_end, k_all, target)
    limit = np.minimum(goal, stop_packets(data, split, draws)) if early_stop else goal
    band = decision.omega * data.bandwidth
    c = band * data.noise  # in-band noise power, W
    cbar = c / data.gain
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_c = np.where(c > 0, 1.0 / c, 0.0)
    sends = (k_all > 0) & (limit > 0) & (band > 0) & data.feasible[rows, split]
    level0 = decision.power + cbar
    target_bits = target * data.packet_bits
    delivered = np.zeros(n)
    spent = np.zeros(n)
    done = ~sends
    power = np.zeros((data.slots, n))
    delta, L = data.slot, data.packet_bits
    start = int(first[sends].min()) if sends.any() else data.slots
    stop = int(last[sends].max()) if sends.any() else 0
    for t in range(start, stop):
        active = ~done & (t >= first) & (t < last)
        if not active.any():
            continue
        g = draws.gain[t]
        if tracking:
            remaining = np.maximum(last - t, 1)
            reference = decision.power * delta * (t - first)
            level = level0 - (spent - reference) / (delta * remaining)
            need_bits = np.maximum(target_bits - delivered, 0.0)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                per_slot = np.where(band > 0, need_bits / (remaining * delta * band), 0.0)
                need_level = cbar * np.exp2(np.minimum(per_slot, 60.0))
            p = np.clip(np.maximum(level, need_level) - c / g, 0.0, data.p_max)
        else:
            p = decision.power
        p = np.where(active, p, 0.0)
        power[t] = p
        delivered += delta * band * np.log2(1.0 + p * g * inv_c)
        spent += p * delta
        received = np.minimum(np.floor(delivered / L), k_all)
        done |= received >= limit
    received = np.where(sends, np.minimum(np.floor(delivered / L), k_all), 0).astype(np.int64)
    reached = received >= limit
    early = early_stop & reached & (received < goal)
    is_local = split == data.local
    in_time = data.feasible[rows, split]
    ok = correct(data, split, received, draws) & in_time
    missed = np.where(is_local, ~in_time, (k_all > 0) & ~reached)
    return FrameOutcome(received, ok, data.e_loc[rows, split] + spent, spent, missed, early, power)
