"""ENACHI and its baselines as online policies, and the horizon loop that runs them.

Every policy keeps the virtual energy queues Q_{n,m+1} = max(Q_{n,m} + E_{n,m} − Ē_n, 0)
and decides each frame from them; they differ in what the outer step may choose and in
the per-slot behaviour:

- ``enachi``: all splits, optimal bandwidth shares, reference-tracking power, early stop;
- ``outer-only``: the same outer loop, constant power = reference, early stop;
- ``full-transmission``: the same outer loop and tracking, every packet sent (no early stop);
- ``device-only`` / ``edge-only``: the split fixed to the whole model on the device / the
  raw input sent (bandwidth and power still optimised);
- ``static-split``: one intermediate split for every device and frame, the one with the
  highest expected accuracy at equal shares and full power;
- ``equal-bandwidth``: shares fixed to 1/N, splits, power and packets still optimised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .data import INPUT, OnlineData
from .engine import Decision, run_frame
from .env import draw
from .outer import ConvexStep, discrete, plan


@dataclass(frozen=True)
class Policy:
    """What a policy may decide and how it transmits."""

    name: str
    description: str
    splits: str = "all"  # "all", "local", "input" or "static"
    equal_share: bool = False
    tracking: bool = True
    early_stop: bool = True
    send_all: bool = False


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy("enachi", "two-tier Lyapunov: outer drift-plus-penalty, reference tracking, early stop"),
        Policy("outer-only", "outer loop only: constant power = reference, early stop", tracking=False),
        Policy(
            "full-transmission", "outer loop + tracking, all packets sent", early_stop=False, send_all=True
        ),
        Policy("device-only", "whole model on the device", splits="local"),
        Policy("edge-only", "raw input sent to the server", splits="input"),
        Policy("static-split", "one fixed intermediate split for all devices and frames", splits="static"),
        Policy("equal-bandwidth", "bandwidth shares fixed to 1/N", equal_share=True),
    )
}


def queue_update(queue: np.ndarray, energy: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Q_{n,m+1} = max(Q_{n,m} + E_{n,m} − Ē_n, 0)."""
    return np.maximum(queue + energy - budget, 0.0)


def static_split(data: OnlineData) -> int:
    """The intermediate split with the best mean expected accuracy at equal shares, full power."""
    n = data.n
    inner = [s for s, name in enumerate(data.split_names) if s != data.local and name != INPUT]
    candidates = inner or [s for s in range(len(data.split_names)) if s != data.local]
    best, best_acc = candidates[0], -1.0
    for s in candidates:
        allowed = np.zeros((n, len(data.split_names)), bool)
        allowed[:, s] = True
        choice = discrete(data, np.zeros(n), 1.0, np.full(n, 1.0 / n), data.p_max.copy(), allowed)
        acc = float(choice.utility.mean())
        if acc > best_acc + 1e-12:
            best, best_acc = s, acc
    return best


def allowed_splits(data: OnlineData, policy: Policy) -> np.ndarray:
    """(N, S) mask of the splits the policy may pick."""
    mask = np.zeros((data.n, len(data.split_names)), bool)
    if policy.splits == "all":
        mask[:] = True
    elif policy.splits == "local":
        mask[:, data.local] = True
    elif policy.splits == "input":
        if INPUT not in data.split_names:
            raise ValueError("the accuracy table has no 'input' split, so 'edge-only' cannot run")
        mask[:, data.split_names.index(INPUT)] = True
    else:
        mask[:, static_split(data)] = True
    return mask


@dataclass
class Trajectory:
    """Per frame and device: what a policy decided and what happened."""

    policy: str
    seed: int
    budget: np.ndarray
    correct: list[np.ndarray] = field(default_factory=list)
    energy: list[np.ndarray] = field(default_factory=list)
    queue: list[np.ndarray] = field(default_factory=list)  # backlog after the frame's update
    missed: list[np.ndarray] = field(default_factory=list)
    early: list[np.ndarray] = field(default_factory=list)
    received: list[np.ndarray] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    powers: list[np.ndarray] = field(default_factory=list)  # (T, N) per frame, when recorded
    fallbacks: int = 0

    def array(self, name: str) -> np.ndarray:
        return np.array(getattr(self, name))

    @property
    def accuracy(self) -> float:
        """Time-averaged accuracy: fraction of correct inferences over frames and devices."""
        return float(np.mean(self.correct)) if self.correct else 0.0


def run(
    data: OnlineData,
    policy: str | Policy,
    frames: int | None = None,
    seed: int | None = None,
    *,
    record: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Trajectory:
    """Run a policy for ``frames`` frames of the world drawn from ``seed``."""
    pol = POLICIES[policy] if isinstance(policy, str) else policy
    frames = data.frames if frames is None else frames
    seed = data.seed if seed is None else seed
    allowed = allowed_splits(data, pol)
    transmits = pol.splits != "local"
    step = ConvexStep(data) if transmits else None
    queue = np.zeros(data.n)
    traj = Trajectory(pol.name, seed, data.budget.copy())
    previous: np.ndarray | None = None
    for m in range(frames):
        decision = plan(data, step, queue, data.V, allowed, equal_share=pol.equal_share, start=previous)
        previous = decision.split
        if pol.send_all:
            k = data.packets[decision.split].copy()
            decision = Decision(decision.split, decision.omega, decision.power, k, np.zeros(data.n, bool))
        out = run_frame(data, decision, draw(data, seed, m), tracking=pol.tracking, early_stop=pol.early_stop)
        queue = queue_update(queue, out.energy, data.budget)
        traj.correct.append(out.correct)
        traj.energy.append(out.energy)
        traj.queue.append(queue.copy())
        traj.missed.append(out.missed)
        traj.early.append(out.early)
        traj.received.append(out.received)
        traj.decisions.append(decision)
        if record:
            traj.powers.append(out.power)
        if progress is not None:
            progress(m + 1, frames)
    traj.fallbacks = step.fallbacks if step is not None else 0
    return traj
