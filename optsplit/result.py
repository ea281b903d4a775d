"""Outcome of a solve: why the solver stopped, what it holds, and the plan it found.

Modelled on MathOptInterface: the *termination* (why the run stopped) is kept apart
from the *solution status* (what the returned point is), so a time limit can still
carry a feasible plan, its bound and its gap.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Termination(str, Enum):
    """Why the solver stopped."""

    OPTIMAL = "optimal"  # proven global optimum (within the gap asked for)
    ALMOST_OPTIMAL = "almost_optimal"  # met only the solver's relaxed tolerances: no proof
    LOCALLY_SOLVED = "locally_solved"  # a local / stationary-point method converged
    HEURISTIC = "heuristic"  # a heuristic or baseline finished; no optimality claim
    INFEASIBLE = "infeasible"  # proven infeasible
    LOCALLY_INFEASIBLE = "locally_infeasible"  # a local method found no point: not a proof
    UNBOUNDED = "unbounded"
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    INTERRUPTED = "interrupted"
    NUMERICAL_ERROR = "numerical_error"
    ERROR = "error"


class SolutionStatus(str, Enum):
    """What the returned point is."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no_solution"


class Status(str, Enum):
    """One-word summary of termination and solution status, for users and tables."""

    OPTIMAL = "optimal"
    LOCALLY_OPTIMAL = "locally_optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    ERROR = "error"


def summarize(termination: Termination, solution: SolutionStatus) -> Status:
    """Collapse (termination, solution status) into the summary Status.

    Only a proof reads as OPTIMAL or INFEASIBLE: ALMOST_OPTIMAL with a point is FEASIBLE,
    LOCALLY_INFEASIBLE (nothing proved, no point) is ERROR.
    """
    if termination is Termination.OPTIMAL and solution is not SolutionStatus.NO_SOLUTION:
        return Status.OPTIMAL
    if termination is Termination.LOCALLY_SOLVED and solution is not SolutionStatus.NO_SOLUTION:
        return Status.LOCALLY_OPTIMAL
    if termination is Termination.INFEASIBLE:
        return Status.INFEASIBLE
    if termination in (Termination.UNBOUNDED, Termination.INFEASIBLE_OR_UNBOUNDED):
        return Status.UNBOUNDED
    if termination in (Termination.TIME_LIMIT, Termination.ITERATION_LIMIT, Termination.INTERRUPTED):
        return Status.TIME_LIMIT
    if solution in (SolutionStatus.FEASIBLE, SolutionStatus.OPTIMAL):
        return Status.FEASIBLE
    return Status.ERROR


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective − bound| / max(|objective|, tiny); None where either is missing."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-12)


@dataclass
class Result:
    """What every solver of every formulation returns.

    ``plan`` is JSON-serialisable and formulation-specific (placement per layer,
    paths, frequencies, bandwidth…); ``metrics`` holds the figures the formulation
    reports besides the objective; ``explanation`` says, in the user's terms, why an
    instance is infeasible when it is.
    """

    formulation: str
    solver: str
    termination: Termination
    solution_status: SolutionStatus
    objective: float | None = None
    bound: float | None = None
    runtime: float = 0.0
    plan: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None
    explanation: str | None = None
    log: str = ""
    iterations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return summarize(self.termination, self.solution_status)

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.bound)

    @property
    def has_plan(self) -> bool:
        return self.plan is not None

    def to_dict(self, include_log: bool = False) -> dict[str, Any]:
        """JSON-ready dict (status fields as strings); the log only on request."""
        data = asdict(self)
        data["termination"] = self.termination.value
        data["solution_status"] = self.solution_status.value
        data["status"] = self.status.value
        data["gap"] = self.gap
        if not include_log:
            data.pop("log")
        return data

    def to_json(self, include_log: bool = False) -> str:
        return json.dumps(self.to_dict(include_log), indent=2, default=_json_default)


@dataclass
class Evaluation:
    """Independent figures of a plan: objective, other metrics and constraint violations."""

    objective: float
    metrics: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations


def _json_default(value: Any) -> Any:
    """Turn numpy scalars and arrays into plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")
