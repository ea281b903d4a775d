"""A policy's trajectory as a JSON plan: per frame and device, split, share and slot powers."""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import OnlineData
from .policies import Trajectory


def _powers(column: np.ndarray) -> tuple[int, list[float]]:
    """(first slot, powers up to the last non-zero one) of one device's frame."""
    nz = np.flatnonzero(column > 0)
    if nz.size == 0:
        return 0, []
    return int(nz[0]), [float(x) for x in column[nz[0] : nz[-1] + 1]]


def make_plan(data: OnlineData, traj: Trajectory) -> dict[str, Any]:
    """JSON plan of a recorded trajectory (``run(..., record=True)``)."""
    frames = []
    for decision, power in zip(traj.decisions, traj.powers):
        firsts, lists = zip(*(_powers(power[:, n]) for n in range(data.n)))
        frames.append(
            {
                "split": [data.split_names[s] for s in decision.split],
                "bandwidth": [float(x) for x in decision.omega],
                "reference_power": [float(x) for x in decision.power],
                "planned_packets": [int(x) for x in decision.cap],
                "first_slot": list(firsts),
                "power": list(lists),
            }
        )
    return {"policy": traj.policy, "seed": traj.seed, "devices": list(data.devices), "frames": frames}
