"""CVXPY back-end: solves a CVXPY problem with Clarabel, SCIP or HiGHS.

CVXPY's status is not read alone. The solver's own answer is kept (CVXPY's documented
get_problem_data → solve_via_data → unpack_results route) and tells an iteration limit from a
time limit, SCIP's gap and node limits (which CVXPY folds into "optimal_inaccurate") from a
proof, and carries the dual bound: Clarabel's dual objective, HiGHS' and SCIP's MIP dual
bound. An inaccurate stop is ALMOST_OPTIMAL, never OPTIMAL. Every point is re-checked against
the problem's constraints before it is called feasible (a HiGHS "user limit" can come back
with values that violate them, an inaccurate interior-point stop with a point off by more
than its tolerance). CVXPY's warnings go to logging and to the outcome's log, never to stderr.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from typing import Any

import cvxpy as cp
import cvxpy.settings as cvxpy_settings
import numpy as np

from optsplit.errors import SolverUnavailableError
from optsplit.result import SolutionStatus, Termination
from optsplit.solvers import highs as _highs  # noqa: F401  (HiGHS built once, quietly: its banner
from optsplit.solvers.linear import LinearModel

#   is printed on the first construction in a process and would corrupt --json output)
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import ModelKind
from optsplit.tolerances import CONIC_FEASIBILITY, CONIC_GAP

log = logging.getLogger(__name__)

CVXPY_SOLVERS = {"clarabel": cp.CLARABEL, "scip": cp.SCIP, "highs": cp.HIGHS}

# Whether returned points are re-checked against the constraints (to CONIC_FEASIBILITY,
# absolute, in the problem's own units). Always on; a switch only so that a test can show
# that the check is what rejects a bad point.
RECHECK_POINTS = True

_TERMINATION = {
    cp.OPTIMAL: Termination.OPTIMAL,
    cp.OPTIMAL_INACCURATE: Termination.ALMOST_OPTIMAL,
    cp.INFEASIBLE: Termination.INFEASIBLE,
    cp.INFEASIBLE_INACCURATE: Termination.NUMERICAL_ERROR,  # "almost infeasible" proves nothing
    cp.UNBOUNDED: Termination.UNBOUNDED,
    cp.UNBOUNDED_INACCURATE: Termination.NUMERICAL_ERROR,
    cvxpy_settings.INFEASIBLE_OR_UNBOUNDED: Termination.INFEASIBLE_OR_UNBOUNDED,
    cp.USER_LIMIT: Termination.TIME_LIMIT,  # refined from the solver's own status below
    cp.SOLVER_ERROR: Termination.NUMERICAL_ERROR,
}
# The solver's own status where it says more than CVXPY's.
_RAW_TERMINATION: dict[str, dict[str, Termination]] = {
    "clarabel": {
        "MaxIterations": Termination.ITERATION_LIMIT,
        "MaxTime": Termination.TIME_LIMIT,
        "AlmostSolved": Termination.ALMOST_OPTIMAL,
    },
    "highs": {
        "kTimeLimit": Termination.TIME_LIMIT,
        "kIterationLimit": Termination.ITERATION_LIMIT,
        "kSolutionLimit": Termination.ITERATION_LIMIT,
        "kObjectiveBound": Termination.ITERATION_LIMIT,
        "kObjectiveTarget": Termination.ITERATION_LIMIT,
        "kInterrupt": Termination.INTERRUPTED,
    },
    "scip": {
        "optimal": Termination.OPTIMAL,
        "gaplimit": Termination.OPTIMAL,  # proved within the gap asked for (limits/gap)
        "timelimit": Termination.TIME_LIMIT,
        "nodelimit": Termination.ITERATION_LIMIT,
        "totalnodelimit": Termination.ITERATION_LIMIT,
        "stallnodelimit": Termination.ITERATION_LIMIT,
        "bestsollimit": Termination.ITERATION_LIMIT,
        "sollimit": Termination.ITERATION_LIMIT,
        "restartlimit": Termination.ITERATION_LIMIT,
        "userinterrupt": Termination.INTERRUPTED,
        "memlimit": Termination.ERROR,
    },
}
_HIGHS_FEASIBLE = 2  # HiGHS' kSolutionStatusFeasible
_NO_POINT = (Termination.INFEASIBLE, Termination.UNBOUNDED, Termination.INFEASIBLE_OR_UNBOUNDED)


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


def raw_status(solver: str, raw: Any) -> str:
    """The solver's own status word in its raw answer."""
    if solver == "clarabel":
        return str(raw.status)
    return str(raw.get("model_status" if solver == "highs" else "scip_status", ""))


def dual_bound(problem: cp.Problem, solver: str, raw: Any) -> float | None:
    """The solver's dual bound, in the problem's own objective (its constant included).

    Clarabel's is its dual objective, taken only when it reports Solved with its dual point
    feasible (residual within CONIC_FEASIBILITY): at an AlmostSolved stop the dual objective
    was measured 3e-4 above the optimum of a badly scaled exponential-cone problem. HiGHS' and
    SCIP's are branch and bound's; an LP basis that HiGHS calls optimal with feasible duals has
    its dual objective equal to its primal one. The solver reports these for its canonical
    form, which differs from the problem by a constant (and the sign, for a maximisation): the
    bound is shifted by the same amount. A "bound" beyond the returned point's objective by
    more than CONIC_GAP (relative) is no bound, and None is returned.
    """
    value = problem.value
    if value is None or not math.isfinite(float(value)):
        return None
    if solver == "clarabel":
        if str(raw.status) != "Solved" or not float(raw.r_dual) <= CONIC_FEASIBILITY:
            return None
        gap = float(raw.obj_val) - float(raw.obj_val_dual)
    elif solver == "highs":
        info = raw["info"]
        if info.mip_node_count >= 0:
            gap = float(info.objective_function_value) - float(info.mip_dual_bound)
        elif raw["model_status"] == "kOptimal" and info.dual_solution_status == _HIGHS_FEASIBLE:
            gap = 0.0
        else:
            return None
    else:
        model = raw["model"]
        gap = float(model.getPrimalbound()) - float(model.getDualbound())
    if not math.isfinite(gap) or gap < -CONIC_GAP * max(1.0, abs(float(value))):
        return None
    sign = -1.0 if isinstance(problem.objective, cp.Maximize) else 1.0
    return float(value) - sign * gap


def _solve_raw(problem: cp.Problem, solver: str, options: SolveOptions) -> tuple[Any, str | None, list[str]]:
    """Solve in place; returns the solver's raw answer, CVXPY's error (if any) and its warnings."""
    name = CVXPY_SOLVERS[solver]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data, chain, inverse = problem.get_problem_data(name, solver_opts=_solver_kwargs(solver, options))
        # no warm start for Clarabel: CVXPY would re-use the cached solver with the settings of
        # the previous call wherever this call does not name them
        warm = solver != "clarabel"
        raw = chain.solve_via_data(problem, data, warm, options.verbose, _solver_kwargs(solver, options))
        try:
            problem.unpack_results(raw, chain, inverse)
            error = None
        except cp.SolverError as exc:  # raised for a solver error: the raw answer says why
            error = str(exc)
    messages = [str(w.message) for w in caught]
    for message in messages:
        log.info("CVXPY/%s: %s", solver, message)
    return raw, error, messages


def solve_cvxpy(problem: cp.Problem, solver: str, options: SolveOptions) -> Outcome:
    """Solve ``problem`` in place; values stay on its variables."""
    ok, why = cvxpy_available(solver)
    if not ok:
        raise SolverUnavailableError(why)
    t0 = time.perf_counter()
    try:
        raw, error, messages = _solve_raw(problem, solver, options)
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
    own = raw_status(solver, raw)
    lines = [f"CVXPY {cp.__version__} solver={solver} solver status={own}"]
    if error is not None:
        lines.append(error)
        termination = _RAW_TERMINATION[solver].get(own, Termination.NUMERICAL_ERROR)
        if termination in (Termination.OPTIMAL, Termination.ALMOST_OPTIMAL):
            termination = Termination.NUMERICAL_ERROR  # CVXPY read it as a failure
        return Outcome(
            termination,
            SolutionStatus.NO_SOLUTION,
            None,
            None,
            runtime,
            f"CVXPY/{solver}",
            "\n".join(lines + messages),
        )
    termination = _RAW_TERMINATION[solver].get(own, _TERMINATION.get(problem.status, Termination.ERROR))
    has_values = problem.value is not None and all(v.value is not None for v in problem.variables())
    violation = max_violation(problem) if has_values else math.inf
    checked = violation <= CONIC_FEASIBILITY or not RECHECK_POINTS
    feasible = has_values and termination not in _NO_POINT and checked
    if feasible:
        solution = SolutionStatus.OPTIMAL if termination is Termination.OPTIMAL else SolutionStatus.FEASIBLE
        objective: float | None = float(problem.value)
        bound = dual_bound(problem, solver, raw)
    else:
        solution, objective, bound = SolutionStatus.NO_SOLUTION, None, None
        if termination in (Termination.OPTIMAL, Termination.ALMOST_OPTIMAL):
            termination = Termination.NUMERICAL_ERROR  # claimed a solution that fails the check
    stats = problem.solver_stats
    lines.append(
        f"cvxpy status={problem.status} solve_time={stats.solve_time} iterations={stats.num_iters} "
        f"max violation={violation:.3g}"
    )
    return Outcome(
        termination,
        solution,
        objective,
        bound,
        runtime,
        f"CVXPY {cp.__version__}/{stats.solver_name or solver}",
        "\n".join(lines + messages),
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
