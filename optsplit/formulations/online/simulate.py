"""`optsplit simulate FILE --policy P --frames N --seed S -o DIR`: run a policy, write results.

Writes ``trajectory.csv`` (one row per frame: running and per-frame accuracy, energy, queue
backlog, deadline misses, early stops; no wall-clock figures, so the same seed gives the
same bytes), ``summary.json`` (time averages, per-device energy against Ē_n) and
``trajectory.png`` (running accuracy, energy vs budget, queue backlog).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from optsplit.errors import InputError
from optsplit.instance.model import Instance

from .data import KEY, OnlineData
from .policies import POLICIES, Trajectory
from .policies import run as run_policy

COLUMNS = (
    "frame",
    "accuracy",
    "accuracy_running",
    "energy_mean",
    "energy_running",
    "queue_mean",
    "queue_max",
    "deadline_misses",
    "early_stops",
    "packets_mean",
)


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def rows(traj: Trajectory) -> list[dict[str, str]]:
    """Per-frame rows of the trajectory CSV."""
    correct = traj.array("correct").mean(1)
    energy = traj.array("energy").mean(1)
    count = np.arange(1, correct.size + 1)
    acc_run = np.cumsum(correct) / count
    energy_run = np.cumsum(energy) / count
    queue = traj.array("queue")
    missed, early = traj.array("missed").sum(1), traj.array("early").sum(1)
    received = traj.array("received").mean(1)
    return [
        {
            "frame": str(m),
            "accuracy": _fmt(correct[m]),
            "accuracy_running": _fmt(acc_run[m]),
            "energy_mean": _fmt(energy[m]),
            "energy_running": _fmt(energy_run[m]),
            "queue_mean": _fmt(queue[m].mean()),
            "queue_max": _fmt(queue[m].max()),
            "deadline_misses": str(int(missed[m])),
            "early_stops": str(int(early[m])),
            "packets_mean": _fmt(received[m]),
        }
        for m in range(correct.size)
    ]


def summary(data: OnlineData, traj: Trajectory, frames: int, seed: int) -> dict[str, Any]:
    """Time averages over the horizon (no wall-clock figures)."""
    energy = traj.array("energy")
    return {
        "instance": data.name,
        "policy": traj.policy,
        "frames": frames,
        "seed": seed,
        "devices": data.n,
        "V": data.V,
        "accuracy": traj.accuracy,
        "energy_per_device": float(energy.mean()),
        "energy_by_device": {d: float(e) for d, e in zip(data.devices, energy.mean(0))},
        "energy_budget": {d: float(b) for d, b in zip(data.devices, data.budget)},
        "queue_final": {d: float(q) for d, q in zip(data.devices, traj.queue[-1])},
        "queue_mean": float(traj.array("queue").mean()),
        "deadline_misses": int(traj.array("missed").sum()),
        "deadline_miss_rate": float(traj.array("missed").mean()),
        "early_stops": int(traj.array("early").sum()),
        "convex_fallbacks": traj.fallbacks,
    }


def _plot(data: OnlineData, traj: Trajectory, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    correct = traj.array("correct").mean(1)
    energy = traj.array("energy")
    frames = np.arange(1, correct.size + 1)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(frames, np.cumsum(correct) / frames)
    axes[0].set_ylabel("running accuracy")
    for n, name in enumerate(data.devices[:8]):
        line = axes[1].plot(frames, np.cumsum(energy[:, n]) / frames, label=name)[0]
        axes[1].axhline(data.budget[n], color=line.get_color(), ls=":", lw=0.8)
    axes[1].set_ylabel("running energy per frame [J] (dotted: Ē_n)")
    axes[2].plot(frames, traj.array("queue").mean(1), label="mean")
    axes[2].plot(frames, traj.array("queue").max(1), label="max")
    axes[2].set_ylabel("queue backlog Q [J]")
    axes[2].legend(fontsize=7)
    if data.n <= 8:
        axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("frame")
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{data.name}: policy {traj.policy}, V = {data.V:g}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(
    instance: Instance | OnlineData,
    policy: str,
    frames: int,
    seed: int,
    out_dir: str | Path,
    progress: Callable[[int, int], None] | None = None,
    *,
    plot: bool = True,
) -> list[Path]:
    """Simulate ``policy`` for ``frames`` frames from ``seed``; returns the files written."""
    data = instance if isinstance(instance, OnlineData) else instance.section(KEY)
    if data is None:
        raise InputError("the instance has no [online] section", path=KEY)
    if policy not in POLICIES:
        raise InputError(f"unknown policy '{policy}'; known: {', '.join(POLICIES)}", path="--policy")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise InputError(f"frames must be an integer ≥ 1, got {frames!r}", path="--frames")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise InputError(f"seed must be an integer in [0, 2^31), got {seed!r}", path="--seed")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    traj = run_policy(data, policy, frames, seed, progress=progress)
    csv_path = out / "trajectory.csv"
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows(traj))
    json_path = out / "summary.json"
    json_path.write_text(json.dumps(summary(data, traj, frames, seed), indent=2) + "\n")
    written = [csv_path, json_path]
    if plot:
        png = out / "trajectory.png"
        _plot(data, traj, png)
        written.append(png)
    return written
