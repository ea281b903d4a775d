"""Independent evaluation of an `online` plan: re-play every device-frame from the instance.

The plan records, per frame and device, the split, the bandwidth share and the per-slot
transmit powers a policy used. This module re-draws the world from the seed, turns the
powers into per-slot bits, gets packet arrivals from the shared schedule engine
(``RateProfile.slots`` + ``completion_times``), and scores correctness, energy and the
queues; it shares no code with the simulator's slot loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from optsplit.result import Evaluation
from optsplit.timeline import RateProfile, completion_times
from optsplit.tolerances import PLAN_RELATIVE

from .data import OnlineData
from .env import draw


def _number_list(value: Any) -> list[float] | None:
    if not isinstance(value, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value
    ):
        return None
    return [float(x) for x in value]


def _device_frame(
    data: OnlineData, n: int, s: int, omega: float, first: int, powers: list[float], gain: np.ndarray
) -> tuple[int, float, list[str]]:
    """(packets received, transmit energy, violations) of one device in one frame."""
    problems: list[str] = []
    sending = [p for p in powers if p > 0]
    if not sending:
        return 0, 0.0, problems
    if s == data.local or data.packets[s] == 0:
        problems.append("transmits although the split sends nothing")
    if first < data.first[n, s]:
        problems.append(f"transmits in slot {first}, before its head is computed (slot {data.first[n, s]})")
    end = first + len(powers)
    if end > data.last[s]:
        problems.append(f"transmits until slot {end}, past the last useful slot {data.last[s]}")
    if max(powers) > data.p_max[n] * (1 + PLAN_RELATIVE) or min(powers) < 0:
        problems.append(f"power outside [0, {data.p_max[n]}] W")
    if omega <= 0:
        problems.append("transmits without bandwidth")
        return 0, float(np.sum(powers) * data.slot), problems
    band = omega * data.bandwidth
    p = np.array(powers)
    bits = data.slot * band * np.log2(1.0 + p * gain[first:end] / (band * data.noise))
    k = int(data.packets[s])
    profile = RateProfile.slots(bits, data.slot, start=first * data.slot)
    arrivals = completion_times(profile, np.full(k, data.packet_bits), start=first * data.slot)
    received = int(np.sum(arrivals <= end * data.slot * (1 + 1e-12)))
    return received, float(p.sum() * data.slot), problems


def evaluate(data: OnlineData, plan: Mapping[str, Any]) -> Evaluation:
    """Time-averaged accuracy of the plan (fraction of correct inferences) and its energy."""
    frames = plan.get("frames")
    seed = plan.get("seed")
    if not isinstance(frames, list) or not frames:
        return Evaluation(float("nan"), {}, ["plan.frames must be a non-empty list"])
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        return Evaluation(float("nan"), {}, ["plan.seed must be an integer ≥ 0"])
    index = {name: s for s, name in enumerate(data.split_names)}
    violations: list[str] = []
    correct = np.zeros((len(frames), data.n), bool)
    energy = np.zeros((len(frames), data.n))
    for m, frame in enumerate(frames):
        where = f"frames[{m}]"
        if not isinstance(frame, Mapping):
            return Evaluation(float("nan"), {}, [f"{where} must be an object"])
        splits, omega = frame.get("split"), _number_list(frame.get("bandwidth"))
        firsts, powers = frame.get("first_slot"), frame.get("power")
        if not (isinstance(splits, list) and isinstance(firsts, list) and isinstance(powers, list)):
            return Evaluation(float("nan"), {}, [f"{where}: split, first_slot and power must be lists"])
        if omega is None or not len(splits) == len(omega) == len(firsts) == len(powers) == data.n:
            return Evaluation(
                float("nan"), {}, [f"{where}: need one split, share, first slot, power list per device"]
            )
        if any(s not in index for s in splits):
            bad = next(s for s in splits if s not in index)
            return Evaluation(
                float("nan"), {}, [f"{where}: unknown split {bad!r} (known: {', '.join(index)})"]
            )
        if min(omega) < 0 or sum(omega) > 1 + PLAN_RELATIVE:
            violations.append(f"{where}: bandwidth shares must be ≥ 0 and sum to ≤ 1 (sum {sum(omega):.9g})")
        draws = draw(data, seed, m)
        split = np.array([index[s] for s in splits])
        received = np.zeros(data.n, np.int64)
        for n in range(data.n):
            p = _number_list(powers[n])
            if p is None or not isinstance(firsts[n], int) or firsts[n] < 0:
                return Evaluation(float("nan"), {}, [f"{where}: power[{n}] / first_slot[{n}] malformed"])
            k, e_tx, problems = _device_frame(
                data, n, int(split[n]), omega[n], firsts[n], p, draws.gain[:, n]
            )
            violations += [f"{where}, device {data.devices[n]}: {x}" for x in problems]
            received[n] = k
            energy[m, n] = data.e_loc[n, split[n]] + e_tx
        in_time = data.feasible[np.arange(data.n), split]
        k_all = np.maximum(data.packets[split], 1)
        correct[m] = in_time & (draws.difficulty <= data.surrogate.value(split, received / k_all))
    queue = np.zeros(data.n)
    for m in range(len(frames)):
        queue = np.maximum(queue + energy[m] - data.budget, 0.0)
    mean_energy = energy.mean(axis=0)
    metrics = {
        "accuracy": float(correct.mean()),
        "energy_per_device": float(mean_energy.mean()),
        "energy_over_budget": float(np.max(mean_energy / data.budget)),
        "queue_final_mean": float(queue.mean()),
        "frames": len(frames),
    }
    return Evaluation(float(correct.mean()), metrics, violations)
