"""Options every solver honours, and the raw outcome a back-end hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optsplit.result import SolutionStatus, Termination


@dataclass(frozen=True)
class SolveOptions:
    """Common solver options.

    ``mip_gap`` defaults to 0: optsplit's exact methods are references, so they prove
    optimality unless the user relaxes it. ``write_model`` names a file (.lp, .mps or .nl)
    that the model is written to before solving.
    """

    time_limit: float | None = None
    mip_gap: float = 0.0
    threads: int | None = None
    seed: int = 0
    verbose: bool = False
    write_model: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds, got {self.time_limit}")
        if not 0 <= self.mip_gap < 1:
            raise ValueError(f"mip_gap must be in [0, 1), got {self.mip_gap}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")


@dataclass
class Outcome:
    """What a back-end returns: status, objective, bound and the point (if any).

    ``message`` says why, in the solver's words, when the run ended in an error.
    """

    termination: Termination
    solution_status: SolutionStatus
    objective: float | None
    bound: float | None
    runtime: float
    solver: str
    log: str = ""
    values: np.ndarray | None = None
    message: str = ""

    @property
    def has_solution(self) -> bool:
        return self.solution_status in (SolutionStatus.OPTIMAL, SolutionStatus.FEASIBLE)
