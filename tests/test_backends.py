"""Conformance of every LP/MILP back-end on tiny models with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from optsplit.errors import SolverUnavailableError, UnknownNameError
from optsplit.result import SolutionStatus, Status, Termination, summarize
from optsplit.solvers import LINEAR_BACKENDS, LinearModel, SolveOptions, solve_linear

ALL = list(LINEAR_BACKENDS)
MIP = [b for b in ALL if LINEAR_BACKENDS[b].handles_integers]
INF = np.inf


def model(c, rows, lo, hi, col_lo, col_hi, integer) -> LinearModel:
    return LinearModel(
        np.array(c, float),
        sp.csr_matrix(np.array(rows, float)),
        np.array(lo, float),
        np.array(hi, float),
        np.array(col_lo, float),
        np.array(col_hi, float),
        np.array(integer, bool),
    )


def knapsack() -> LinearModel:
    # max 5a + 4b + 3c s.t. 2a + 3b + c <= 5, 4a + b + 2c <= 11, binary -> a = b = 1, value 9
    return model([-5, -4, -3], [[2, 3, 1], [4, 1, 2]], [-INF, -INF], [5, 11], [0, 0, 0], [1, 1, 1], [1, 1, 1])


@pytest.mark.parametrize("backend", MIP)
def test_milp_known_answer(backend: str) -> None:
    out = solve_linear(knapsack(), backend, SolveOptions())
    assert out.termination is Termination.OPTIMAL
    assert out.solution_status is SolutionStatus.OPTIMAL
    assert out.objective == pytest.approx(-9.0, abs=1e-7)
    assert out.bound == pytest.approx(-9.0, abs=1e-6)
    assert np.allclose(out.values, [1, 1, 0], atol=1e-6)


@pytest.mark.parametrize("backend", ALL)
def test_lp_known_answer(backend: str) -> None:
    lp = knapsack().as_lp_relaxation()  # greedy by ratio on row 1: c, a, then b = 2/3
    out = solve_linear(lp, backend, SolveOptions())
    assert out.termination is Termination.OPTIMAL
    assert out.objective == pytest.approx(-32 / 3, rel=1e-6)
    assert lp.objective_of(out.values) == pytest.approx(-32 / 3, rel=1e-6)


@pytest.mark.parametrize("backend", ALL)
def test_infeasible(backend: str) -> None:
    lp = model([1, 1], [[1, 1]], [3], [INF], [0, 0], [1, 1], [0, 0])
    out = solve_linear(lp, backend, SolveOptions())
    assert out.termination in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED)
    assert out.solution_status is SolutionStatus.NO_SOLUTION and out.values is None


@pytest.mark.parametrize("backend", ALL)
def test_unbounded_lp(backend: str) -> None:
    lp = model([-1, 0], [[1, -1]], [-INF], [1], [0, 0], [INF, INF], [0, 0])
    out = solve_linear(lp, backend, SolveOptions())
    assert out.termination in (Termination.UNBOUNDED, Termination.INFEASIBLE_OR_UNBOUNDED)
    assert summarize(out.termination, out.solution_status) is Status.UNBOUNDED
    assert out.objective is None


def test_highs_time_limit_keeps_the_start() -> None:
    # Market-split style equality knapsack: hard to prove, start is feasible (all zeros fits
    # the ≤ rows); a time limit must return that point, not lose it.
    rng = np.random.default_rng(0)
    n, m = 60, 6
    A = rng.integers(1, 100, size=(m, n))
    lp = model(-rng.integers(1, 100, size=n), A, [-INF] * m, A.sum(axis=1) // 2, [0] * n, [1] * n, [1] * n)
    out = solve_linear(lp, "highs", SolveOptions(time_limit=0.05), start=np.zeros(n))
    assert out.termination is Termination.TIME_LIMIT
    assert out.solution_status is SolutionStatus.FEASIBLE
    assert out.values is not None and np.all(lp.A @ out.values <= lp.row_upper + 1e-9)
    assert out.bound is not None and out.bound <= out.objective


def test_unknown_backend_and_integer_on_clarabel() -> None:
    with pytest.raises(UnknownNameError, match=r"known: .*highs"):
        solve_linear(knapsack(), "gurobi", SolveOptions())
    with pytest.raises(SolverUnavailableError, match="cannot solve integer"):
        solve_linear(knapsack(), "cvxpy-clarabel", SolveOptions())


@pytest.mark.parametrize("suffix", [".lp", ".mps", ".nl"])
def test_write_model(tmp_path, suffix: str) -> None:
    path = tmp_path / f"m{suffix}"
    out = solve_linear(knapsack(), "highs", SolveOptions(write_model=path))
    assert out.termination is Termination.OPTIMAL
    assert path.stat().st_size > 0


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="time_limit"):
        SolveOptions(time_limit=-1)
    with pytest.raises(ValueError, match="mip_gap"):
        SolveOptions(mip_gap=2)
