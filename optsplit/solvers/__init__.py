"""Solver back-ends. They know nothing about DNNs: they solve LinearModels, Pyomo models,
CVXPY problems and graphs, and report an Outcome. Each is found by name in the registry
(optsplit.solvers.registry) and its solver is imported only when it is used."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from optsplit.errors import SolverUnavailableError
from optsplit.result import SolutionStatus, Termination
from optsplit.solvers.export import MODEL_SUFFIXES, check_model_path, write_linear_model
from optsplit.solvers.linear import LinearModel
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import Backend, ModelKind, backend_names, get_backend

__all__ = [
    "MODEL_SUFFIXES",
    "Backend",
    "LinearModel",
    "ModelKind",
    "Outcome",
    "SolveOptions",
    "backend_names",
    "check_model_path",
    "get_backend",
    "solve_linear",
    "write_linear_model",
]


def solve_linear(
    model: LinearModel, backend: str | Backend, options: SolveOptions, start: Any = None
) -> Outcome:
    """Solve a LinearModel on a back-end (by name, or an object the caller hands in).

    Writes the model first when asked, and settles rows without entries (a trivial presolve
    every back-end shares) so an infeasible empty row is reported the same everywhere.
    """
    chosen = get_backend(backend) if isinstance(backend, str) else backend
    if ModelKind.LINEAR not in chosen.kinds:
        raise SolverUnavailableError(f"back-end '{chosen.name}' does not solve linear models")
    if model.is_mip and not chosen.integers:
        raise SolverUnavailableError(f"back-end '{chosen.name}' cannot solve integer models")
    if options.write_model is not None:
        write_linear_model(model, options.write_model)
        options = replace(options, write_model=None)
    model, infeasible_row = model.drop_empty_rows()
    if infeasible_row is not None:
        return Outcome(
            Termination.INFEASIBLE,
            SolutionStatus.NO_SOLUTION,
            None,
            None,
            0.0,
            f"presolve ({chosen.name} not called)",
            f"row {infeasible_row} has no entries and excludes 0",
        )
    return chosen.solve(model, options, start)
