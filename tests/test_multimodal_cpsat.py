"""The CP-SAT back-end: known answers, honest statuses, its bound, options, Ctrl-C."""

from __future__ import annotations

import _thread
import logging

import numpy as np
import pytest
from ortools.sat.python import cp_model

from optsplit.errors import OptionError
from optsplit.result import SolutionStatus, Termination
from optsplit.solvers import cpsat
from optsplit.solvers.cpsat import CpSatModel
from optsplit.solvers.options import SolveOptions
from optsplit.solvers.registry import ModelKind, backend_names, get_backend

ONE = SolveOptions(threads=1, seed=3)


def knapsack() -> CpSatModel:
    # max 5a + 4b + 3c s.t. 2a + 3b + c <= 5, 4a + b + 2c <= 11 -> a = b = 1, value 9
    md = cp_model.CpModel()
    x = [md.new_bool_var(n) for n in "abc"]
    md.add(2 * x[0] + 3 * x[1] + x[2] <= 5)
    md.add(4 * x[0] + x[1] + 2 * x[2] <= 11)
    md.maximize(5 * x[0] + 4 * x[1] + 3 * x[2])
    return CpSatModel(md, x)


def jobshop(n: int, seed: int) -> CpSatModel:
    """A random n x n job shop (minimise the makespan): far too hard to prove in a blink."""
    rng = np.random.default_rng(seed)
    md = cp_model.CpModel()
    horizon = 100 * n * n
    machines: list[list] = [[] for _ in range(n)]
    ends = []
    for _ in range(n):
        prev = None
        for machine in rng.permutation(n).tolist():
            d = int(rng.integers(1, 100))
            s = md.new_int_var(0, horizon, "")
            e = md.new_int_var(0, horizon, "")
            machines[machine].append(md.new_interval_var(s, d, e, ""))
            if prev is not None:
                md.add(s >= prev)
            prev = e
        ends.append(prev)
    for ivs in machines:
        md.add_no_overlap(ivs)
    span = md.new_int_var(0, horizon, "span")
    md.add_max_equality(span, ends)
    md.minimize(span)
    return CpSatModel(md, [span])


def test_registered_for_cp_models() -> None:
    assert "cpsat" in backend_names({ModelKind.CP}, integers=True)
    assert get_backend("cpsat").version().startswith("CP-SAT (OR-Tools 9.15")


def test_known_answer_with_its_bound() -> None:
    out = get_backend("cpsat").solve(knapsack(), ONE)
    assert (out.termination, out.solution_status) == (Termination.OPTIMAL, SolutionStatus.OPTIMAL)
    assert out.objective == out.bound == 9.0
    assert out.values.tolist() == [1, 1, 0]


def test_infeasible_and_invalid_models() -> None:
    md = cp_model.CpModel()
    x = md.new_int_var(0, 3, "x")
    md.add(x >= 5)
    out = cpsat.solve_cpsat(CpSatModel(md, [x]), ONE)
    assert (out.termination, out.solution_status, out.values) == (
        Termination.INFEASIBLE,
        SolutionStatus.NO_SOLUTION,
        None,
    )
    bad = cp_model.CpModel()
    y = bad.new_int_var(0, 3, "y")
    bad.add_modulo_equality(y, y, 0)  # modulo by zero: an invalid model
    out = cpsat.solve_cpsat(CpSatModel(bad, [y]), ONE)
    assert out.termination is Termination.ERROR and out.log.startswith("ERROR")


def test_a_work_limit_keeps_the_incumbent_and_a_true_bound() -> None:
    model = jobshop(8, 1)
    options = SolveOptions(threads=1, seed=0, extra={"stop_after_first_solution": True})
    out = cpsat.solve_cpsat(model, options)
    assert (out.termination, out.solution_status) == (Termination.ITERATION_LIMIT, SolutionStatus.FEASIBLE)
    assert out.bound < out.objective == out.values[0]


def test_deterministic_with_one_worker_and_a_seed() -> None:
    options = SolveOptions(threads=1, seed=7, extra={"max_deterministic_time": 0.05})
    first = cpsat.solve_cpsat(jobshop(6, 2), options)
    second = cpsat.solve_cpsat(jobshop(6, 2), options)
    assert (first.objective, first.bound) == (second.objective, second.bound)


def test_unknown_parameter_is_an_option_error() -> None:
    with pytest.raises(OptionError, match="unknown CP-SAT parameter 'max_nodes'"):
        cpsat.solve_cpsat(knapsack(), SolveOptions(extra={"max_nodes": 3}))


def test_log_goes_to_logging_not_stdout(caplog, capsys) -> None:
    with caplog.at_level(logging.INFO, logger="optsplit.solvers.cpsat"):
        out = cpsat.solve_cpsat(knapsack(), SolveOptions(threads=1, verbose=True))
    assert "CP-SAT" in out.log and any("CP-SAT" in r.message for r in caplog.records)
    assert capsys.readouterr().out == ""


def test_ctrl_c_stops_the_search_and_returns_the_incumbent(monkeypatch) -> None:
    """The first improving solution in the log raises KeyboardInterrupt in the main thread,
    as Ctrl-C would; the search stops and the incumbent comes back as INTERRUPTED."""

    base = cp_model.CpSolver

    class Interrupting(base):  # type: ignore[misc, valid-type]
        def solve(self, model, *args, **kwargs):
            collect, fired = self.log_callback, []

            def wrapped(line: str) -> None:
                collect(line)
                if line.startswith("#1 ") and not fired:
                    fired.append(True)
                    _thread.interrupt_main()

            self.log_callback = wrapped
            return base.solve(self, model, *args, **kwargs)

    monkeypatch.setattr(cpsat.cp_model, "CpSolver", Interrupting)
    out = cpsat.solve_cpsat(jobshop(12, 3), SolveOptions(threads=1, seed=0))
    assert out.termination is Termination.INTERRUPTED
    assert out.solution_status is SolutionStatus.FEASIBLE and out.bound < out.objective
