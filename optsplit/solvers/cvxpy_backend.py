"""CVXPY back-end: solves a CVXPY problem with Clarabel, SCIP or HiGHS.

CVXPY's own status is not trusted alone (a HiGHS "user limit" can come back with
values that violate the constraints): any point is re-checked against the problem's
constraints before it is called feasible.
"""

from __future__ import annotations

import time
from typing import Any

import cvxpy as cp
import numpy as np

from optsplit.errors import SolverUnavailableError
from optsplit.result import SolutionStatus, Termination
from optsplit.solvers.linear import LinearModel
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import ModelKind

CVXPY_SOLVERS = {"clarabel": cp.CLARABEL, "scip": cp.SCIP, "highs": cp.HIGHS}
FEASIBILITY_TOL = 1e-6

_TERMINATION = {
    cp.OPTIMAL: Termination.OPTIMAL,
    cp.OPTIMAL_INACCURATE: Termination.OPTIMAL,
    cp.INFEASIBLE: Termination.INFEASIBLE,
    cp.INFEASIBLE_INACCURATE: Termination.INFEASIBLE,
    cp.UNBOUNDED: Termination.UNBOUNDED,
    cp.UNBOUNDED_INACCURATE: Termination.UNBOUNDED,
    cp.USER_LIMIT: Termination.TIME_LIMIT,
    cp.SOLVER_ERROR: Termination.NUMERICAL_ERROR,
}


def cvxpy_available(solver: str) -> tuple[bool, str]:
    name = CVXPY_SOLVERS[solver]
    ok = name in cp.installed_solvers()
    return ok, "" if ok else f"CVXPY does not find solver {name} (installed: {cp.installed_solvers()})"


def _solver_kwargs(solver: str, options: SolveOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if solver == "clarabel":
        if options.time_limit is not None:
            kwargs["time_limit"] = options.time_limit
    elif solver == "highs":
        kwargs.update(random_seed=options.seed, mip_rel_gap=options.mip_gap)
        if options.mip_gap == 0:
            kwargs["mip_abs_gap"] = 0.0
        if options.time_limit is not None:
            kwargs["time_limit"] = options.time_limit
        if options.threads is not None:
            kwargs["threads"] = options.threads
    elif solver == "scip":
        params: dict[str, Any] = {
            "limits/gap": options.mip_gap,
            "randomization/randomseedshift": options.seed,
        }
        if options.time_limit is not None:
            params["limits/time"] = options.time_limit
        kwargs["scip_params"] = params
    kwargs.update(options.extra)
    return kwargs


def max_violation(problem: cp.Problem) -> float:
    """Largest constraint violation of the point held in the problem's variables."""
    worst = 0.0
    for con in problem.constraints:
        v = con.violation()
        if v is None:
            return float("inf")
        worst = max(worst, float(np.max(v)) if np.size(v) else 0.0)
    return worst


def solve_cvxpy(problem: cp.Problem, solver: str, options: SolveOptions) -> Outcome:
    """Solve ``problem`` in place; values stay on its variables."""
    ok, why = cvxpy_available(solver)
    if not ok:
        raise SolverUnavailableError(why)
    t0 = time.perf_counter()
    try:
        problem.solve(
            solver=CVXPY_SOLVERS[solver], verbose=options.verbose, **_solver_kwargs(solver, options)
        )
    except cp.SolverError as exc:
        return Outcome(
            Termination.NUMERICAL_ERROR,
            SolutionStatus.NO_SOLUTION,
            None,
            None,
            time.perf_counter() - t0,
            f"CVXPY/{solver}",
            str(exc),
        )
    runtime = time.perf_counter() - t0
    termination = _TERMINATION.get(problem.status, Termination.ERROR)
    has_values = all(v.value is not None for v in problem.variables())
    feasible = (
        has_values
        and termination not in (Termination.INFEASIBLE, Termination.UNBOUNDED)
        and max_violation(problem) <= FEASIBILITY_TOL
    )
    if feasible:
        solution = SolutionStatus.OPTIMAL if termination is Termination.OPTIMAL else SolutionStatus.FEASIBLE
        objective = float(problem.value)
    else:
        solution, objective = SolutionStatus.NO_SOLUTION, None
        if termination is Termination.OPTIMAL:  # claimed optimal, but the point fails the check
            termination = Termination.NUMERICAL_ERROR
    bound = objective if termination is Termination.OPTIMAL else None
    stats = problem.solver_stats
    log = (
        f"CVXPY {cp.__version__} status={problem.status} solver={stats.solver_name} "
        f"solve_time={stats.solve_time} iterations={stats.num_iters}"
    )
    return Outcome(
        termination,
        solution,
        objective,
        bound,
        runtime,
        f"CVXPY {cp.__version__}/{stats.solver_name or solver}",
        log,
    )


def linear_to_cvxpy(model: LinearModel) -> tuple[cp.Problem, cp.Variable]:
    """Translate a LinearModel into a vectorised CVXPY problem."""
    n = model.num_cols
    x = (
        cp.Variable(n, integer=bool(model.is_mip))
        if not model.is_mip or model.integer.all()
        else cp.Variable(n)
    )
    constraints = []
    if model.is_mip and not model.integer.all():
        xi = cp.Variable(int(model.integer.sum()), integer=True)
        constraints.append(x[np.flatnonzero(model.integer)] == xi)
    A = model.A.tocsr()
    equal = np.isfinite(model.row_lower) & (model.row_lower == model.row_upper)
    if equal.any():
        constraints.append(A[equal] @ x == model.row_lower[equal])
    for bounds, sign in ((model.row_lower, 1), (model.row_upper, -1)):
        finite = np.isfinite(bounds) & ~equal
        if finite.any():
            constraints.append(sign * (A[finite] @ x) >= sign * bounds[finite])
    for bounds, sign in ((model.col_lower, 1), (model.col_upper, -1)):
        finite = np.isfinite(bounds)
        if finite.any():
            constraints.append(sign * x[np.flatnonzero(finite)] >= sign * bounds[finite])
    problem = cp.Problem(cp.Minimize(model.c @ x + model.offset), constraints)
    return problem, x


def solve_linear_cvxpy(model: LinearModel, solver: str, options: SolveOptions) -> Outcome:
    problem, x = linear_to_cvxpy(model)
    outcome = solve_cvxpy(problem, solver, options)
    if outcome.has_solution:
        outcome.values = np.asarray(x.value, dtype=float)
    return outcome


class CvxpyBackend:
    """Back-ends `cvxpy-clarabel`, `cvxpy-scip`, `cvxpy-highs`: CVXPY problems, or LinearModels."""

    kinds = frozenset({ModelKind.LINEAR, ModelKind.CVXPY})

    def __init__(self, solver: str) -> None:
        self.solver = solver
        self.name = f"cvxpy-{solver}"
        self.description = f"{CVXPY_SOLVERS[solver]} through CVXPY"
        self.integers = solver != "clarabel"
        self.nonlinear = solver == "clarabel"

    def available(self) -> tuple[bool, str]:
        return cvxpy_available(self.solver)

    def version(self) -> str:
        return f"CVXPY {cp.__version__}/{CVXPY_SOLVERS[self.solver]}"

    def solve(self, model: Any, options: SolveOptions, start: Any = None) -> Outcome:
        if isinstance(model, LinearModel):
            return solve_linear_cvxpy(model, self.solver, options)
        return solve_cvxpy(model, self.solver, options)
