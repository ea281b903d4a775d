"""Solver back-ends. They know nothing about DNNs: they solve LinearModels, Pyomo models,
CVXPY problems and graphs, and report an Outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from optsplit.errors import InputError, SolverUnavailableError, UnknownNameError
from optsplit.result import SolutionStatus, Termination
from optsplit.solvers import cvxpy_backend, highs, pyomo_backend
from optsplit.solvers.linear import LinearModel
from optsplit.solvers.options import Outcome, SolveOptions

__all__ = [
    "LINEAR_BACKENDS",
    "LinearBackend",
    "LinearModel",
    "Outcome",
    "SolveOptions",
    "check_model_path",
    "solve_linear",
    "write_linear_model",
]


@dataclass(frozen=True)
class LinearBackend:
    """A route to an LP/MILP solver for LinearModels."""

    name: str
    description: str
    solve: Callable[[LinearModel, SolveOptions], Outcome]
    available: Callable[[], tuple[bool, str]]
    handles_integers: bool = True
    takes_start: bool = False


def _always() -> tuple[bool, str]:
    return True, ""


LINEAR_BACKENDS: dict[str, LinearBackend] = {
    b.name: b
    for b in (
        LinearBackend(
            "highs",
            "HiGHS through highspy, model passed as arrays",
            highs.solve_linear,
            _always,
            takes_start=True,
        ),
        LinearBackend(
            "pyomo-highs",
            "HiGHS through Pyomo",
            lambda m, o: pyomo_backend.solve_linear_pyomo(m, "highs", o),
            lambda: pyomo_backend.pyomo_available("highs"),
        ),
        LinearBackend(
            "pyomo-scip",
            "SCIP through Pyomo (scip_direct)",
            lambda m, o: pyomo_backend.solve_linear_pyomo(m, "scip", o),
            lambda: pyomo_backend.pyomo_available("scip"),
        ),
        LinearBackend(
            "cvxpy-highs",
            "HiGHS through CVXPY",
            lambda m, o: cvxpy_backend.solve_linear_cvxpy(m, "highs", o),
            lambda: cvxpy_backend.cvxpy_available("highs"),
        ),
        LinearBackend(
            "cvxpy-scip",
            "SCIP through CVXPY",
            lambda m, o: cvxpy_backend.solve_linear_cvxpy(m, "scip", o),
            lambda: cvxpy_backend.cvxpy_available("scip"),
        ),
        LinearBackend(
            "cvxpy-clarabel",
            "Clarabel (interior point, no integers) through CVXPY",
            lambda m, o: cvxpy_backend.solve_linear_cvxpy(m, "clarabel", o),
            lambda: cvxpy_backend.cvxpy_available("clarabel"),
            handles_integers=False,
        ),
    )
}


def solve_linear(
    model: LinearModel, backend: str, options: SolveOptions, start: np.ndarray | None = None
) -> Outcome:
    """Solve a LinearModel on the named back-end (a MIP start only where it is taken)."""
    if backend not in LINEAR_BACKENDS:
        raise UnknownNameError("back-end", backend, list(LINEAR_BACKENDS))
    chosen = LINEAR_BACKENDS[backend]
    ok, why = chosen.available()
    if not ok:
        raise SolverUnavailableError(f"back-end '{backend}' is unavailable: {why}")
    if model.is_mip and not chosen.handles_integers:
        raise SolverUnavailableError(f"back-end '{backend}' cannot solve integer models")
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
            f"presolve ({backend} not called)",
            f"row {infeasible_row} has no entries and excludes 0",
        )
    if chosen.takes_start:
        return highs.solve_linear(model, options, start)
    return chosen.solve(model, options)


MODEL_SUFFIXES = (".lp", ".mps", ".nl")


def check_model_path(path: str | Path) -> None:
    """Refuse, before any solving, a model file that cannot be written: an unknown suffix or
    a directory that does not exist (InputError at path ``write_model``)."""
    target = Path(path)
    if target.suffix.lower() not in MODEL_SUFFIXES:
        raise InputError(
            f"cannot write a model as '{target.suffix or target.name}': use {', '.join(MODEL_SUFFIXES)}",
            path="write_model",
        )
    if not target.parent.is_dir():
        raise InputError(f"directory '{target.parent}' of '{target}' does not exist", path="write_model")


def write_linear_model(model: LinearModel, path: Path) -> None:
    """Write the model to ``path``: .lp and .mps through HiGHS, .nl through Pyomo."""
    check_model_path(path)
    if Path(path).suffix.lower() == ".nl":
        pyomo_backend.linear_to_pyomo(model)[0].write(str(path))
    else:
        highs.write_linear_model(model, Path(path))
