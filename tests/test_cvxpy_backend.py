"""CVXPY back-end: inaccurate stops, limits and bounds are labelled as what they are."""

from __future__ import annotations

import logging
import warnings

import cvxpy as cp
import numpy as np
import pytest

from optsplit.result import SolutionStatus, Status, Termination, summarize
from optsplit.solvers import cvxpy_backend
from optsplit.solvers.cvxpy_backend import max_violation, solve_cvxpy
from optsplit.solvers.options import SolveOptions
from optsplit.tolerances import CONIC_FEASIBILITY, CONIC_GAP

# Clarabel asked for 1e-15 but allowed to stop "almost solved" at 1e-1 after a few steps:
# a deterministic inaccurate stop (3 steps: the point is 1e-2 off; 7 steps: 4e-9 off).
ALMOST = {
    "tol_feas": 1e-15,
    "tol_gap_abs": 1e-15,
    "tol_gap_rel": 1e-15,
    "tol_ktratio": 1e-15,
    "reduced_tol_feas": 1e-1,
    "reduced_tol_gap_abs": 1e-1,
    "reduced_tol_gap_rel": 1e-1,
    "reduced_tol_ktratio": 1e-1,
}


def conic() -> cp.Problem:
    """A small SOC + exponential-cone problem (optimum 4.4580398915498…)."""
    x = cp.Variable(3)
    objective = cp.Minimize(cp.sum(x) + cp.norm(x - np.array([1.0, 2.0, 3.0])))
    return cp.Problem(objective, [x >= 0.5, cp.sum(x) <= 5, cp.exp(x[0]) <= 3])


def almost(steps: int) -> SolveOptions:
    return SolveOptions(extra={"max_iter": steps, **ALMOST})


def test_inaccurate_stop_is_almost_optimal_never_optimal() -> None:
    optimum = solve_cvxpy(conic(), "clarabel", SolveOptions()).objective
    out = solve_cvxpy(conic(), "clarabel", almost(7))
    assert out.termination is Termination.ALMOST_OPTIMAL
    assert out.solution_status is SolutionStatus.FEASIBLE  # the point passed the re-check
    assert summarize(out.termination, out.solution_status) is Status.FEASIBLE
    assert out.objective == pytest.approx(optimum, rel=1e-7)
    assert out.bound is None  # an AlmostSolved dual objective is no bound: no gap is claimed
    assert "AlmostSolved" in out.log


def test_recheck_rejects_an_inaccurate_point_that_violates(monkeypatch) -> None:
    problem = conic()
    out = solve_cvxpy(problem, "clarabel", almost(3))
    assert max_violation(problem) > 100 * CONIC_FEASIBILITY  # Clarabel's point is 1e-2 off
    assert out.termination is Termination.NUMERICAL_ERROR
    assert out.solution_status is SolutionStatus.NO_SOLUTION and out.objective is None
    # the re-check is what rejects it: without it the same stop passes as a feasible point
    monkeypatch.setattr(cvxpy_backend, "RECHECK_POINTS", False)
    unchecked = solve_cvxpy(conic(), "clarabel", almost(3))
    assert unchecked.termination is Termination.ALMOST_OPTIMAL
    assert unchecked.solution_status is SolutionStatus.FEASIBLE


def test_iteration_cap_is_not_a_time_limit() -> None:
    out = solve_cvxpy(conic(), "clarabel", almost(2))
    assert out.termination is Termination.ITERATION_LIMIT  # CVXPY says only "user_limit"
    assert out.solution_status is SolutionStatus.NO_SOLUTION  # its point is 1e-2 off


def test_clarabel_bound_is_its_dual_objective() -> None:
    # min x + y + 1 s.t. x + 2y >= 2, 3x + y >= 3, x, y >= 0: optimum 2.4 at (0.8, 0.6); its
    # dual max 2u + 3v s.t. u + 3v <= 1, 2u + v <= 1 has the same value 1.4 at (0.4, 0.2)
    x = cp.Variable(2, nonneg=True)
    problem = cp.Problem(cp.Minimize(cp.sum(x) + 1.0), [x[0] + 2 * x[1] >= 2, 3 * x[0] + x[1] >= 3])
    out = solve_cvxpy(problem, "clarabel", SolveOptions())
    assert out.termination is Termination.OPTIMAL
    assert out.bound is not None and out.bound != out.objective  # a dual figure, not the incumbent
    assert out.bound == pytest.approx(2.4, rel=CONIC_GAP)  # the constant 1 is carried over
    maximised = cp.Problem(cp.Maximize(-cp.sum(x) - 1.0), problem.constraints)
    out = solve_cvxpy(maximised, "clarabel", SolveOptions())
    assert out.bound is not None and out.bound == pytest.approx(-2.4, rel=CONIC_GAP)
    assert out.bound != out.objective


def knapsack() -> tuple[cp.Problem, float]:
    """A 40-item, 4-row binary knapsack that needs many nodes (LP bound 1639.11)."""
    rng = np.random.default_rng(0)
    weights = rng.integers(1, 100, size=(4, 40))
    values = rng.integers(1, 100, size=40)
    y = cp.Variable(40, boolean=True)
    problem = cp.Problem(cp.Maximize(values @ y), [weights @ y <= weights.sum(axis=1) // 2])
    return problem, 1639.1094429265268


@pytest.mark.parametrize(
    ("solver", "extra"),
    [("scip", {"scip_params": {"limits/nodes": 5}}), ("highs", {"mip_max_nodes": 1})],
)
def test_node_limit_keeps_the_point_and_the_dual_bound(solver: str, extra: dict) -> None:
    # CVXPY reports SCIP's node limit as "optimal_inaccurate" and HiGHS' as "user_limit"
    problem, lp_bound = knapsack()
    out = solve_cvxpy(problem, solver, SolveOptions(extra=extra))
    assert out.termination is Termination.ITERATION_LIMIT
    assert out.solution_status is SolutionStatus.FEASIBLE
    assert out.bound is not None and out.objective is not None
    assert out.objective < out.bound <= lp_bound + 1e-6  # maximisation: the bound is above
    assert np.all(problem.constraints[0].expr.value <= 1e-9)


def test_cvxpy_warnings_go_to_logging(caplog) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning reaching the caller fails the test
        with caplog.at_level(logging.INFO, logger="optsplit.solvers.cvxpy_backend"):
            out = solve_cvxpy(conic(), "clarabel", almost(7))
    assert "Solution may be inaccurate" in caplog.text
    assert "Solution may be inaccurate" in out.log


def test_settings_of_one_call_do_not_leak_into_the_next() -> None:
    problem = conic()
    assert solve_cvxpy(problem, "clarabel", almost(3)).termination is Termination.NUMERICAL_ERROR
    again = solve_cvxpy(problem, "clarabel", SolveOptions())  # default settings again
    assert again.termination is Termination.OPTIMAL and again.bound is not None
