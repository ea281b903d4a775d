"""Conformance of every LP/MILP back-end on tiny models with known answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import highspy
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import INSTANCES, ROOT

from optsplit.errors import InputError, SolverUnavailableError, UnknownNameError
from optsplit.result import SolutionStatus, Status, Termination, summarize
from optsplit.solvers import (
    LinearModel,
    ModelKind,
    Outcome,
    SolveOptions,
    backend_names,
    check_model_path,
    solve_linear,
)
from optsplit.solvers import highs as highs_backend

ALL = backend_names({ModelKind.LINEAR})  # every registered back-end runs the same known answers
MIP = backend_names({ModelKind.LINEAR}, integers=True)
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


def market_split() -> LinearModel:
    # Market-split style knapsack: hard to prove; all zeros is feasible.
    rng = np.random.default_rng(0)
    n, m = 60, 6
    A = rng.integers(1, 100, size=(m, n))
    return model(-rng.integers(1, 100, size=n), A, [-INF] * m, A.sum(axis=1) // 2, [0] * n, [1] * n, [1] * n)


def test_highs_node_limit_keeps_the_start_and_a_true_bound() -> None:
    # A node limit (deterministic, unlike a time limit) must return the start it was given,
    # or better, with HiGHS' dual bound: below the optimum, never the incumbent's value.
    lp = market_split()
    optimum = solve_linear(lp, "highs", SolveOptions(threads=1)).objective
    options = SolveOptions(
        threads=1, extra={"mip_max_nodes": 1, "mip_allow_restart": False, "presolve": "off"}
    )
    out = solve_linear(lp, "highs", options, start=np.zeros(lp.num_cols))
    assert out.termination is Termination.ITERATION_LIMIT
    assert out.solution_status is SolutionStatus.FEASIBLE
    assert out.values is not None and np.all(lp.A @ out.values <= lp.row_upper + 1e-9)
    assert out.bound is not None and out.bound <= optimum + 1e-9 <= out.objective + 2e-9
    assert out.bound < out.objective - 1.0  # the gap is open: the bound is not the incumbent


def test_highs_lp_bound_is_the_dual_value_not_the_point() -> None:
    # Stopped early, dual simplex has no primal point but a dual one: the bound is the
    # Lagrangian value of HiGHS' row duals, a true lower bound below the optimum.
    lp = market_split().as_lp_relaxation()
    optimum = solve_linear(lp, "highs", SolveOptions()).objective
    stopped = SolveOptions(extra={"simplex_iteration_limit": 3, "simplex_strategy": 1, "presolve": "off"})
    out = solve_linear(lp, "highs", stopped)
    assert out.termination is Termination.ITERATION_LIMIT
    assert out.bound is not None and out.bound < optimum - 1.0


def test_highs_second_solve_with_another_thread_count() -> None:
    # HiGHS sizes one thread pool per process; a later solve with another `threads` value
    # used to fail with "scheduler already initialized" and no message.
    for threads in (1, 2, None, 1):
        out = solve_linear(knapsack(), "highs", SolveOptions(threads=threads))
        assert out.termination is Termination.OPTIMAL, out.message
        assert out.objective == pytest.approx(-9.0)


def test_highs_error_carries_highs_message() -> None:
    bad = knapsack()
    bad.A = sp.csr_matrix(np.array([[np.inf, 3, 1], [4, 1, 2]]))  # HiGHS' passModel refuses it
    out = solve_linear(bad, "highs", SolveOptions())
    assert out.termination is Termination.ERROR and out.solution_status is SolutionStatus.NO_SOLUTION
    assert out.message.startswith("HiGHS passModel failed") and "matrix" in out.message


def test_highs_nan_objective_is_not_optimal() -> None:
    bad = knapsack()
    bad.c[0] = np.nan  # HiGHS takes it and calls the NaN objective optimal
    out = solve_linear(bad, "highs", SolveOptions())
    assert (
        out.termination is Termination.NUMERICAL_ERROR and out.solution_status is SolutionStatus.NO_SOLUTION
    )


def test_highs_rejected_option_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no_such_option") as info:
        solve_linear(knapsack(), "highs", SolveOptions(extra={"no_such_option": 1}))
    assert info.value.path == "options.no_such_option"


class _InterruptedAfterFirstIncumbent(highspy.Highs):
    """Sends this process SIGINT (as Ctrl-C does) when HiGHS finds its first incumbent."""

    def __init__(self) -> None:
        super().__init__()
        self.cbMipImprovingSolution.subscribe(lambda _event: os.kill(os.getpid(), signal.SIGINT))


def test_ctrl_c_stops_highs_and_keeps_the_incumbent(monkeypatch) -> None:
    lp = market_split()
    optimum = solve_linear(lp, "highs", SolveOptions(threads=1)).objective
    monkeypatch.setattr(highspy, "Highs", _InterruptedAfterFirstIncumbent)
    out = solve_linear(lp, "highs", SolveOptions(threads=1))
    assert out.termination is Termination.INTERRUPTED
    assert out.solution_status is SolutionStatus.FEASIBLE
    assert out.values is not None and lp.objective_of(out.values) == pytest.approx(out.objective)
    assert out.objective > optimum  # stopped at its first incumbent, long before the proof
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_highs_point_disagreeing_with_its_objective_is_solved_again(monkeypatch) -> None:
    # HiGHS 1.16 can hand back a MIP start unchanged with the objective of a better point.
    lp, start = knapsack(), np.array([0.0, 0.0, 1.0])
    real_run, calls = highs_backend._run, []

    def run(m: LinearModel, o: SolveOptions, s: np.ndarray | None) -> Outcome:
        calls.append(s)
        out = real_run(m, o, s)
        if s is not None:  # the start, claimed to be worth the optimum
            out.values = s.copy()
        return out

    monkeypatch.setattr(highs_backend, "_run", run)
    out = solve_linear(lp, "highs", SolveOptions(), start=start)
    assert len(calls) == 2 and calls[1] is None
    assert out.termination is Termination.OPTIMAL and out.objective == pytest.approx(-9.0)
    assert np.allclose(out.values, [1, 1, 0]) and "solving again without the MIP start" in out.log


def test_highs_point_that_keeps_disagreeing_is_a_numerical_error(monkeypatch) -> None:
    real_run = highs_backend._run

    def run(m: LinearModel, o: SolveOptions, s: np.ndarray | None) -> Outcome:
        out = real_run(m, o, s)
        out.values = np.array([0.0, 0.0, 1.0])
        return out

    monkeypatch.setattr(highs_backend, "_run", run)
    out = solve_linear(knapsack(), "highs", SolveOptions())
    assert out.termination is Termination.NUMERICAL_ERROR
    assert out.solution_status is SolutionStatus.FEASIBLE and out.objective == pytest.approx(-3.0)
    assert "has objective" in out.message and out.bound == pytest.approx(-9.0)


def test_library_prints_nothing(capfd) -> None:
    for backend in ("highs", "pyomo-highs", "cvxpy-highs"):
        solve_linear(knapsack(), backend, SolveOptions())
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_highspy_banner_does_not_reach_stdout() -> None:
    # highspy >= 1.16 prints a banner on the first Highs() of a process: run a fresh one.
    instance = INSTANCES / "routing" / "tiered-5-alexnet.toml"
    done = subprocess.run(
        [sys.executable, "-m", "optsplit.cli", "solve", str(instance), "-s", "lp", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "optimal"


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


@pytest.mark.parametrize(
    ("name", "message"),
    [("no-such-dir/m.lp", "does not exist"), ("m.txt", "cannot write a model as '.txt'"), ("m", "as 'm'")],
)
def test_model_path_is_checked_before_solving(tmp_path, name: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        check_model_path(tmp_path / name)
    assert info.value.path == "write_model"
    check_model_path(tmp_path / "m.MPS")  # a known suffix in an existing directory passes


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="time_limit"):
        SolveOptions(time_limit=-1)
    with pytest.raises(ValueError, match="mip_gap"):
        SolveOptions(mip_gap=2)
