"""Pyomo back-end: only a proof reads as infeasible; long SCIP logs do not hang the solve."""

from __future__ import annotations

from types import SimpleNamespace

import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import Results
from pyomo.contrib.solver.common.results import SolutionStatus as PyoSolution
from pyomo.contrib.solver.common.results import TerminationCondition as TC
from robust_cases import random_robust_doc

import optsplit
from optsplit.formulations.robust import minlp
from optsplit.formulations.robust.data import prepare
from optsplit.result import SolutionStatus, Status, Termination, summarize
from optsplit.solvers import pyomo_backend
from optsplit.solvers.options import SolveOptions


def test_locally_infeasible_is_not_a_proof(monkeypatch) -> None:
    """A local NLP solver's "locally infeasible" (Ipopt's restoration failure) proves nothing."""
    results = Results()
    results.termination_condition = TC.locallyInfeasible
    results.solution_status = PyoSolution.noSolution
    results.objective_bound = None
    local = SimpleNamespace(solve=lambda model, **kwargs: results, available=lambda: True)
    monkeypatch.setattr(pyomo_backend, "_solver", lambda solver: local)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.obj = pyo.Objective(expr=m.x)
    out = pyomo_backend.solve_pyomo(m, "highs", SolveOptions())
    assert out.termination is Termination.LOCALLY_INFEASIBLE
    assert summarize(out.termination, out.solution_status) is not Status.INFEASIBLE
    assert out.bound is None and not out.has_solution


def test_long_scip_log_finishes_and_keeps_the_dual_bound() -> None:
    """SCIP writes its log into Pyomo's pipe; 2000 nodes at one line each (> 64 KiB) used to
    fill the pipe while SCIP held the GIL, and the solve hung for ever."""
    # 8 devices, 5 layers: SCIP needs more than 2000 nodes (measured: bound 0.4417 J,
    # incumbent 0.5031 J at the limit); lagrangian brackets the optimum in [0.4727, 0.5031]
    inst = optsplit.from_dict(random_robust_doc(0, devices=8, layers=5))
    bracket = optsplit.solve(inst, "robust", "lagrangian")
    data = prepare(inst)
    model, unit = minlp.build(data), minlp.energy_unit(data)
    options = SolveOptions(extra={"limits/nodes": 2000, "display/freq": 1})
    out = pyomo_backend.solve_pyomo(model, "scip", options)
    assert len(out.log.encode()) > 65536
    assert out.termination is Termination.ITERATION_LIMIT
    assert out.solution_status is SolutionStatus.FEASIBLE
    assert out.bound is not None and out.objective is not None
    bound, incumbent = out.bound * unit, out.objective * unit
    assert bound <= bracket.objective and incumbent >= bracket.bound * (1 - 1e-9)
    assert bound < incumbent * (1 - 1e-3)  # SCIP's dual bound, not the incumbent
