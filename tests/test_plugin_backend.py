"""A back-end defined here, outside the package, serves every method whose model it accepts
once registered (by name or handed in as an object), and `optsplit list` shows it."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
import scipy
from conftest import LINE_OPTIMUM
from scipy.optimize import linprog

import optsplit
from optsplit.cli import EXIT_OK, main
from optsplit.errors import OptionError
from optsplit.result import SolutionStatus, Termination
from optsplit.solvers import LinearModel, ModelKind, Outcome, SolveOptions
from optsplit.solvers.registry import BACKENDS


class LinprogBackend:
    """LPs through scipy.optimize.linprog: a route optsplit does not ship."""

    name = "toy-linprog"
    description = "scipy.optimize.linprog (test plug-in)"
    kinds = frozenset({ModelKind.LINEAR})
    integers = False
    nonlinear = False

    def __init__(self) -> None:
        self.calls = 0

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> str:
        return f"scipy {scipy.__version__} linprog"

    def solve(self, model: LinearModel, options: SolveOptions, start: object = None) -> Outcome:
        self.calls += 1
        A = model.A.tocsr()
        upper = np.isfinite(model.row_upper)
        lower = np.isfinite(model.row_lower) & (model.row_lower != model.row_upper)
        equal = model.row_lower == model.row_upper
        t0 = time.perf_counter()
        res = linprog(
            model.c,
            A_ub=scipy.sparse.vstack([A[upper & ~equal], -A[lower]]),
            b_ub=np.concatenate([model.row_upper[upper & ~equal], -model.row_lower[lower]]),
            A_eq=A[equal],
            b_eq=model.row_lower[equal],
            bounds=list(zip(model.col_lower, np.where(np.isinf(model.col_upper), None, model.col_upper))),
            method="highs-ds",
        )
        runtime = time.perf_counter() - t0
        if res.status != 0:
            return Outcome(
                Termination.ERROR,
                SolutionStatus.NO_SOLUTION,
                None,
                None,
                runtime,
                self.version(),
                res.message,
            )
        value = float(res.fun + model.offset)
        return Outcome(
            Termination.OPTIMAL, SolutionStatus.OPTIMAL, value, value, runtime, self.version(), values=res.x
        )


@pytest.fixture
def toy():
    backend = LinprogBackend()
    optsplit.register_backend(backend)
    yield backend
    BACKENDS.unregister(backend.name)


def test_a_registered_backend_solves_the_routing_lp(toy, line_doc) -> None:
    inst = optsplit.from_dict(line_doc)
    assert "toy-linprog" in optsplit.get_formulation("routing").methods()["lp"].backends
    assert "toy-linprog" not in optsplit.get_formulation("routing").methods()["milp"].backends  # no integers
    res = optsplit.solve(inst, "routing", "lp", backend="toy-linprog")
    assert toy.calls == 1 and res.backend.startswith("scipy")
    assert res.objective == pytest.approx(LINE_OPTIMUM, rel=1e-9)
    assert optsplit.check(inst, res).ok


def test_a_backend_object_handed_in_is_used(line_doc) -> None:
    inst = optsplit.from_dict(line_doc)
    backend = LinprogBackend()  # not registered: CVXPY-style, the caller hands in an instance
    res = optsplit.solve(inst, "routing", "lp", backend=backend)
    assert backend.calls == 1 and res.objective == pytest.approx(LINE_OPTIMUM, rel=1e-9)
    with pytest.raises(OptionError, match="builds"):
        optsplit.solve(inst, "routing", "single-node", backend=backend)


def test_list_shows_the_registered_backend(toy, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["optsplit", "list"])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr().out
    assert exc.value.code == EXIT_OK and "toy-linprog" in out and "linprog" in out


def test_a_name_is_not_taken_twice(toy) -> None:
    with pytest.raises(OptionError, match="already registered"):
        optsplit.register_backend(LinprogBackend())
