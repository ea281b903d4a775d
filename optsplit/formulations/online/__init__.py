"""Formulation `online` (ENACHI, Tang, Sun, Chen, Ding, Ai, Shao, arXiv 2601.08135): N devices
share an uplink over slotted frames with a hard deadline; per frame each picks a split point,
a bandwidth share and a reference power, sends its feature as importance-ordered packets
under block fading and may stop early once the server is confident; maximise the
time-averaged accuracy subject to a long-term energy budget per device (Lyapunov queues).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optsplit.instance.model import Instance
from optsplit.problem import Method
from optsplit.result import Evaluation, Result, SolutionStatus, Termination
from optsplit.solvers.options import SolveOptions
from optsplit.spec import Generator, Section

from .data import KEY, SECTION, OnlineData
from .evaluate import evaluate
from .offline import primal_plan, upper_bound
from .plan import make_plan
from .policies import POLICIES, run

if TYPE_CHECKING:
    from optsplit.bench.runner import Suite


def summary(data: OnlineData, traj: Any) -> dict[str, Any]:
    """Figures every policy's Result reports besides the accuracy."""
    energy = traj.array("energy")
    return {
        "energy_per_device": float(energy.mean()),
        "energy_budget_mean": float(data.budget.mean()),
        "energy_over_budget": float(np.max(energy.mean(0) / data.budget)),
        "queue_final_mean": float(traj.queue[-1].mean()),
        "deadline_misses": float(traj.array("missed").mean()),
        "early_stops": float(traj.array("early").mean()),
        "convex_fallbacks": traj.fallbacks,
        "frames": len(traj.correct),
    }


def _policy_method(name: str) -> Method:
    policy = POLICIES[name]

    def solve(data: OnlineData, backend: str | None, options: SolveOptions) -> Result:
        t0 = time.perf_counter()
        traj = run(data, name, record=True)
        runtime = time.perf_counter() - t0
        return Result(
            KEY,
            name,
            Termination.HEURISTIC,
            SolutionStatus.FEASIBLE,
            traj.accuracy,
            None,
            runtime,
            make_plan(data, traj),
            summary(data, traj),
            "numpy + CVXPY/Clarabel" if policy.splits != "local" else "numpy",
        )

    kind = "reference" if name == "enachi" else "baseline"
    return Method(name, policy.description, kind, solve)


def _offline(data: OnlineData, backend: str | None, options: SolveOptions) -> Result:
    """Upper bound with all fades and difficulties known; plus an offline plan for its gap."""
    t0 = time.perf_counter()
    bound = upper_bound(data, data.frames, data.seed)
    plan = primal_plan(data, bound, data.frames, data.seed)
    from .evaluate import evaluate as score

    evaluation = score(data, plan)
    runtime = time.perf_counter() - t0
    return Result(
        KEY,
        "offline",
        Termination.HEURISTIC,
        SolutionStatus.FEASIBLE if not evaluation.violations else SolutionStatus.INFEASIBLE,
        evaluation.objective,
        bound.value,
        runtime,
        plan,
        {**evaluation.metrics, "bound_frames_by_milp": bound.milp_frames},
        "numpy (Lagrangian) + HiGHS (per-frame MILP)" if bound.milp_frames else "numpy (Lagrangian)",
        explanation=None if not evaluation.violations else "; ".join(evaluation.violations[:3]),
    )


class OnlineFormulation:
    """Online split inference with progressive transmission under a long-term energy budget."""

    key = KEY
    title = "Online split inference with progressive packet transmission (two-tier Lyapunov)"
    reference = "Z. Tang, Y. Sun, W. Chen, J. Ding, B. Ai, Y. Shao, arXiv 2601.08135 (ENACHI)"
    objective_name = "time-averaged accuracy [fraction correct]"
    sense = "maximize"
    default_method = "enachi"
    plan_legend = (
        "frames[m]: per device the split (layers up to it on the device), bandwidth share, "
        "reference power [W], planned packets, and the per-slot transmit powers [W] from first_slot"
    )

    def sections(self) -> Mapping[str, Section]:
        return {KEY: SECTION}

    def methods(self) -> Mapping[str, Method]:
        out = {name: _policy_method(name) for name in POLICIES}
        out["offline"] = Method(
            "offline",
            "upper bound knowing all fades (Lagrangian of the energy budget, per-frame MILP on HiGHS)",
            "exact",
            _offline,
        )
        return out

    def prepare(self, instance: Instance) -> OnlineData:
        data = instance.section(KEY)
        if data is None:
            from optsplit.errors import InputError

            raise InputError("the instance has no [online] section", source=instance.source, path=KEY)
        return data

    def evaluate(self, instance: Instance, plan: Mapping[str, Any]) -> Evaluation:
        return evaluate(self.prepare(instance), plan)

    def generators(self) -> Mapping[str, Generator]:
        from .generate import generators

        return generators()

    def suites(self) -> Mapping[str, Suite]:
        from .bench import SUITES

        return SUITES

    def simulate(
        self, instance: Instance, policy: str, frames: int, seed: int, out_dir: Path, progress: Any = None
    ) -> list[Path]:
        """`optsplit simulate`: run a policy over a horizon and write its trajectory (CSV, JSON, plot)."""
        from optsplit.formulations.online.simulate import run

        return run(instance, policy, frames, seed, out_dir, progress)
