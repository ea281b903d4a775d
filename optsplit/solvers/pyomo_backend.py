"""Pyomo back-end: solves a Pyomo model with HiGHS (`highs`) or SCIP (`scip_direct`).

Uses Pyomo's newer solver interface (``pyomo.contrib.solver``), whose results keep the
termination condition and the solution status apart, as optsplit does. Only a proof reads as
infeasible (a local solver's "locally infeasible" does not), and the bound is the solver's
dual bound: SCIP's, HiGHS' MIP dual bound, or for an LP HiGHS solved to optimality the
objective of its optimal basis, which its dual objective equals.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from typing import Any

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus as PyoSolution
from pyomo.contrib.solver.common.results import TerminationCondition as TC
from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect

from optsplit.errors import InputError, SolverUnavailableError
from optsplit.result import SolutionStatus, Termination
from optsplit.solvers import highs as _highs  # noqa: F401  (HiGHS built once, quietly: its banner
from optsplit.solvers.linear import LinearModel

#   is printed on the first construction in a process and would corrupt --json output)
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import ModelKind

log = logging.getLogger(__name__)

PYOMO_SOLVERS = {"highs": "highs", "scip": "scip_direct"}

_TERMINATION = {
    TC.convergenceCriteriaSatisfied: Termination.OPTIMAL,
    TC.maxTimeLimit: Termination.TIME_LIMIT,
    TC.iterationLimit: Termination.ITERATION_LIMIT,
    TC.objectiveLimit: Termination.ITERATION_LIMIT,
    TC.unbounded: Termination.UNBOUNDED,
    TC.provenInfeasible: Termination.INFEASIBLE,
    TC.locallyInfeasible: Termination.LOCALLY_INFEASIBLE,  # no point found: not a proof
    TC.infeasibleOrUnbounded: Termination.INFEASIBLE_OR_UNBOUNDED,
    TC.interrupted: Termination.INTERRUPTED,
    TC.minStepLength: Termination.NUMERICAL_ERROR,
    TC.emptyModel: Termination.OPTIMAL,
}
_SOLUTION = {
    PyoSolution.optimal: SolutionStatus.OPTIMAL,
    PyoSolution.feasible: SolutionStatus.FEASIBLE,
    PyoSolution.infeasible: SolutionStatus.INFEASIBLE,
}
# Keys of each solver's own parameters for the seed.
_SEED_OPTION = {"highs": "random_seed", "scip": "randomization/randomseedshift"}


class _NogilModel:
    """A PySCIPOpt model whose optimize() releases the GIL (everything else is passed on)."""

    def __init__(self, model: Any):
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def optimize(self) -> None:
        self._model.optimizeNogil()


class ScipReleasingGil(ScipDirect):
    """Pyomo's scip_direct, solving with the GIL released.

    Pyomo reads SCIP's output from a pipe in a Python thread, but PySCIPOpt's optimize()
    holds the GIL: once SCIP has written a pipe's capacity of log (64 KiB, a long run) both
    wait on each other for ever. With the GIL released the reader drains the pipe.
    """

    def _create_solver_model(self, model: Any, config: Any) -> tuple[Any, Any, bool]:
        scip_model, loader, has_objective = super()._create_solver_model(model, config)
        return _NogilModel(scip_model), loader, has_objective


def _solver(solver: str) -> Any:
    return ScipReleasingGil() if solver == "scip" else SolverFactory(PYOMO_SOLVERS[solver])


def pyomo_available(solver: str) -> tuple[bool, str]:
    """Whether Pyomo can reach ``solver`` here, and why not."""
    try:
        ok = bool(_solver(solver).available())
    except Exception as exc:  # a missing shared library surfaces as anything
        return False, f"{type(exc).__name__}: {exc}"
    return ok, "" if ok else f"Pyomo solver '{PYOMO_SOLVERS[solver]}' is not available"


def solver_version(solver: str) -> str:
    if solver == "scip":
        import pyscipopt

        return f"SCIP {pyscipopt.Model().version()} (PySCIPOpt {pyscipopt.__version__})"
    import highspy

    return f"HiGHS {highspy.Highs().version()}"


def solve_pyomo(model: pyo.ConcreteModel, solver: str, options: SolveOptions) -> Outcome:
    """Solve ``model`` in place (values are loaded into it when a point exists)."""
    ok, why = pyomo_available(solver)
    if not ok:
        raise SolverUnavailableError(why)
    if options.write_model is not None:
        try:
            model.write(str(options.write_model))
        except (ValueError, RuntimeError, KeyError) as exc:  # e.g. a nonlinear model as .lp
            raise InputError(
                f"cannot write the model to '{options.write_model}': {exc}", path="write_model"
            ) from None
    buffer = io.StringIO()
    streams: list[Any] = [buffer] + ([sys.stdout] if options.verbose else [])
    solver_options: dict[str, Any] = {_SEED_OPTION[solver]: int(options.seed), **options.extra}
    t0 = time.perf_counter()
    results = _solver(solver).solve(
        model,
        tee=streams,
        time_limit=options.time_limit,
        rel_gap=options.mip_gap,
        abs_gap=0.0 if options.mip_gap == 0 else None,
        threads=options.threads,
        solver_options=solver_options,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
    )
    runtime = time.perf_counter() - t0
    termination = _TERMINATION.get(results.termination_condition, Termination.ERROR)
    solution = _SOLUTION.get(results.solution_status, SolutionStatus.NO_SOLUTION)
    if termination in (Termination.INFEASIBLE, Termination.UNBOUNDED, Termination.INFEASIBLE_OR_UNBOUNDED):
        solution = SolutionStatus.NO_SOLUTION
    if solution in (SolutionStatus.OPTIMAL, SolutionStatus.FEASIBLE):
        results.solution_loader.load_vars()
    objective = results.incumbent_objective if solution is not SolutionStatus.NO_SOLUTION else None
    bound = results.objective_bound
    bound = float(bound) if bound is not None and np.isfinite(bound) else None
    return Outcome(
        termination,
        solution,
        None if objective is None else float(objective),
        bound,
        runtime,
        solver_version(solver),
        buffer.getvalue(),
    )


def linear_to_pyomo(model: LinearModel) -> tuple[pyo.ConcreteModel, Any]:
    """Translate a LinearModel into a Pyomo model; returns (model, indexed variable x)."""
    m = pyo.ConcreteModel()
    n = model.num_cols
    lower = [None if not np.isfinite(v) else float(v) for v in model.col_lower]
    upper = [None if not np.isfinite(v) else float(v) for v in model.col_upper]
    m.x = pyo.Var(
        range(n),
        domain=lambda _m, j: pyo.Integers if model.integer[j] else pyo.Reals,
        bounds=lambda _m, j: (lower[j], upper[j]),
    )
    A = sp.csr_matrix(model.A)

    def row_rule(_m: Any, i: int) -> Any:
        cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
        vals = A.data[A.indptr[i] : A.indptr[i + 1]]
        body = sum(float(a) * _m.x[int(j)] for j, a in zip(cols, vals))
        lo, hi = model.row_lower[i], model.row_upper[i]
        return (float(lo) if np.isfinite(lo) else None, body, float(hi) if np.isfinite(hi) else None)

    m.rows = pyo.Constraint(range(model.num_rows), rule=row_rule)
    nz = np.flatnonzero(model.c)
    m.obj = pyo.Objective(expr=sum(float(model.c[j]) * m.x[int(j)] for j in nz) + float(model.offset))
    return m, m.x


def solve_linear_pyomo(model: LinearModel, solver: str, options: SolveOptions) -> Outcome:
    """Solve a LinearModel through Pyomo; fills ``values`` from the Pyomo variables."""
    pm, x = linear_to_pyomo(model)
    outcome = solve_pyomo(pm, solver, options)
    if outcome.has_solution:
        outcome.values = np.array([pyo.value(x[j]) for j in range(model.num_cols)], dtype=float)
    return outcome


class PyomoBackend:
    """Back-ends `pyomo-highs` and `pyomo-scip`: Pyomo models, or LinearModels translated."""

    kinds = frozenset({ModelKind.LINEAR, ModelKind.PYOMO})
    integers = True

    def __init__(self, solver: str) -> None:
        self.solver = solver
        self.name = f"pyomo-{solver}"
        self.nonlinear = solver == "scip"
        self.description = f"{solver} through Pyomo ({PYOMO_SOLVERS[solver]})"

    def available(self) -> tuple[bool, str]:
        return pyomo_available(self.solver)

    def version(self) -> str:
        return solver_version(self.solver)

    def solve(self, model: Any, options: SolveOptions, start: Any = None) -> Outcome:
        if isinstance(model, LinearModel):
            return solve_linear_pyomo(model, self.solver, options)
        return solve_pyomo(model, self.solver, options)
