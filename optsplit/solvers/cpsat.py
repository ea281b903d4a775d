"""CP-SAT back-end (OR-Tools): constraint programming models for scheduling.

The back-end knows nothing about DNNs: a method hands it a ``CpSatModel`` (the
``cp_model.CpModel`` and the variables to read back) and gets an Outcome. Statuses map
without overstatement: CP-SAT's OPTIMAL is a proof; FEASIBLE means a limit or an interrupt
stopped it with an incumbent; UNKNOWN means it stopped with none; MODEL_INVALID is an
error. The bound is CP-SAT's ``best_objective_bound``, never the incumbent. The search
log goes to ``logging`` (and into the Outcome), never to stdout. Ctrl-C stops the search
(StopSearch) and returns the incumbent as INTERRUPTED: the solve runs in a worker thread
so the main thread stays free to receive the KeyboardInterrupt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version as _dist_version

import numpy as np
from ortools.sat.python import cp_model

from optsplit.errors import OptionError
from optsplit.result import SolutionStatus, Termination
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import ModelKind

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05  # how often the main thread checks the worker thread
# Parameters that bound the work rather than the wall clock: hitting them is an iteration limit.
_WORK_LIMITS = (
    "max_deterministic_time",
    "max_number_of_conflicts",
    "solution_limit",
    "stop_after_first_solution",
)


@dataclass
class CpSatModel:
    """A CP-SAT model and the integer/Boolean variables whose values the Outcome returns."""

    model: cp_model.CpModel
    variables: Sequence[cp_model.IntVar] = field(default_factory=list)


def cpsat_version() -> str:
    return f"CP-SAT (OR-Tools {_dist_version('ortools')})"


def _configure(solver: cp_model.CpSolver, options: SolveOptions, lines: list[str]) -> None:
    params = solver.parameters
    params.random_seed = int(options.seed)
    if options.threads is not None:
        params.num_workers = int(options.threads)
    if options.time_limit is not None:
        params.max_time_in_seconds = float(options.time_limit)
    params.relative_gap_limit = float(options.mip_gap)
    if options.mip_gap == 0:
        params.absolute_gap_limit = 0.0
    params.log_search_progress = True
    params.log_to_stdout = False
    for key, value in options.extra.items():
        if not hasattr(params, key) or key.startswith("_"):
            raise OptionError(f"unknown CP-SAT parameter '{key}'")
        try:
            setattr(params, key, value)
        except (TypeError, ValueError) as exc:
            raise OptionError(f"CP-SAT parameter '{key}': {exc}") from None

    def collect(line: str) -> None:
        lines.append(line)
        if options.verbose:
            log.info("%s", line)

    solver.log_callback = collect


def _limit_reached(solver: cp_model.CpSolver, options: SolveOptions, interrupted: bool) -> Termination:
    """Which limit stopped a search that ended without a proof."""
    if interrupted:
        return Termination.INTERRUPTED
    if options.time_limit is not None and solver.wall_time >= 0.98 * options.time_limit:
        return Termination.TIME_LIMIT
    if any(key in options.extra for key in _WORK_LIMITS):
        return Termination.ITERATION_LIMIT
    return Termination.TIME_LIMIT if options.time_limit is not None else Termination.ITERATION_LIMIT


def solve_cpsat(model: CpSatModel, options: SolveOptions, start: Sequence[int] | None = None) -> Outcome:
    """Solve with CP-SAT; ``start`` (one value per variable) is passed as a solution hint."""
    if not isinstance(model, CpSatModel):
        raise OptionError(f"the cpsat back-end solves CpSatModel, got {type(model).__name__}")
    cp = model.model
    if start is not None:
        cp.clear_hints()
        for var, value in zip(model.variables, start):
            cp.add_hint(var, int(value))
    solver = cp_model.CpSolver()
    lines: list[str] = []
    _configure(solver, options, lines)
    box: dict[str, object] = {}
    done = threading.Event()  # waited on, not join(): an interrupted join can misreport the thread

    def work() -> None:
        try:
            box["status"] = solver.solve(cp)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc
        finally:
            done.set()

    interrupted = False
    t0 = time.perf_counter()
    threading.Thread(target=work, name="cpsat-solve", daemon=True).start()
    while not done.is_set():
        try:
            done.wait(POLL_SECONDS)
        except KeyboardInterrupt:
            interrupted = True
            solver.stop_search()
    runtime = time.perf_counter() - t0
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    status = box["status"]
    text = "\n".join(lines)
    has_objective = cp.has_objective()
    if status == cp_model.MODEL_INVALID:
        why = cp.validate() or "CP-SAT reports MODEL_INVALID"
        return Outcome(
            Termination.ERROR,
            SolutionStatus.NO_SOLUTION,
            None,
            None,
            runtime,
            cpsat_version(),
            f"ERROR: {why}\n{text}",
        )
    if status == cp_model.INFEASIBLE:
        return Outcome(
            Termination.INFEASIBLE, SolutionStatus.NO_SOLUTION, None, None, runtime, cpsat_version(), text
        )
    has_point = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    if status == cp_model.OPTIMAL:
        termination, solution = Termination.OPTIMAL, SolutionStatus.OPTIMAL
    else:
        termination = _limit_reached(solver, options, interrupted)
        solution = SolutionStatus.FEASIBLE if has_point else SolutionStatus.NO_SOLUTION
    objective = float(solver.objective_value) if has_point and has_objective else None
    bound = float(solver.best_objective_bound) if has_objective else None
    if bound is not None and not np.isfinite(bound):
        bound = None
    values = np.array([solver.value(v) for v in model.variables], dtype=np.int64) if has_point else None
    return Outcome(termination, solution, objective, bound, runtime, cpsat_version(), text, values)


class CpSatBackend:
    """Back-end `cpsat`: CP-SAT models (interval variables, no-overlap, cumulative)."""

    name = "cpsat"
    description = "CP-SAT (OR-Tools): constraint programming for scheduling"
    kinds = frozenset({ModelKind.CP})
    integers = True
    nonlinear = False

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> str:
        return cpsat_version()

    def solve(self, model: CpSatModel, options: SolveOptions, start: Sequence[int] | None = None) -> Outcome:
        return solve_cpsat(model, options, start)
