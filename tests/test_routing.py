"""Routing: known answers on every method and back-end, infeasibility, time limits."""

from __future__ import annotations

import pytest
from conftest import INSTANCES, LINE_OPTIMUM

import optsplit
from optsplit import Status
from optsplit.errors import UnknownNameError
from optsplit.formulations.routing import _LP_BACKENDS, _MILP_BACKENDS

EXACT = [("dijkstra", None)] + [("lp", b) for b in _LP_BACKENDS] + [("milp", b) for b in _MILP_BACKENDS]


@pytest.mark.parametrize(("method", "backend"), EXACT)
def test_line_known_answer(line_doc, method, backend) -> None:
    inst = optsplit.from_dict(line_doc)
    res = optsplit.solve(inst, "routing", method, backend=backend)
    assert res.status is Status.OPTIMAL
    tol = 1e-6 if backend == "cvxpy-clarabel" else 1e-9  # interior point, no crossover
    assert res.objective == pytest.approx(LINE_OPTIMUM, rel=tol)
    assert res.plan["placement"] == ["dev", "edge"]
    assert res.plan["paths"] == [["dev"], ["dev", "ap", "edge"], ["edge", "ap", "dev"]]
    report = optsplit.check(inst, res, rel_tol=tol)
    assert report.ok, report.messages()
    assert report.evaluation.objective == pytest.approx(LINE_OPTIMUM, rel=1e-12)


def test_measured_time_overrides_flops(line_doc) -> None:
    line_doc["job"]["profile"]["layers"][1]["time"] = {"gpu": {"mean": 0.05, "var": 1e-6}}
    inst = optsplit.from_dict(line_doc)
    for method in ("dijkstra", "lp", "milp"):
        res = optsplit.solve(inst, "routing", method)
        assert res.objective == pytest.approx(LINE_OPTIMUM - 0.05, rel=1e-9)


def test_single_node_baseline_is_worse_and_feasible(line_doc) -> None:
    inst = optsplit.from_dict(line_doc)
    res = optsplit.solve(inst, "routing", "single-node")
    assert res.status is Status.FEASIBLE and res.bound is None
    # best single node is the edge: input 1 s over Wi-Fi, 2 ms to the edge, 0.101 s of
    # compute, 2.001 ms back
    assert res.objective == pytest.approx(1.0 + 0.002 + 0.101 + 0.002001, rel=1e-12)
    assert optsplit.check(inst, res).ok


@pytest.mark.parametrize(("method", "backend"), [*EXACT, ("single-node", None)])
def test_disconnected_network_is_infeasible_and_explained(line_doc, method, backend) -> None:
    line_doc["network"]["links"] = line_doc["network"]["links"][1:]  # device isolated
    line_doc["network"]["nodes"][0]["speed"] = 0  # and it cannot compute
    inst = optsplit.from_dict(line_doc)
    res = optsplit.solve(inst, "routing", method, backend=backend)
    assert res.status is Status.INFEASIBLE
    assert res.plan is None
    assert "cannot reach any node able to compute layer 1 'L1'" in res.explanation or method == "single-node"


def test_layer_nobody_can_compute(line_doc) -> None:
    for node in line_doc["network"]["nodes"]:
        node["speed"] = 0.0
    res = optsplit.solve(optsplit.from_dict(line_doc), "routing", "dijkstra")
    assert res.status is Status.INFEASIBLE
    assert "no node can compute layer 1 'L1'" in res.explanation


def test_destination_unreachable(line_doc) -> None:
    line_doc["network"]["links"][0]["duplex"] = False  # dev -> ap only: result cannot return
    line_doc["network"]["nodes"][0]["speed"] = 0.0  # and the device cannot compute
    res = optsplit.solve(optsplit.from_dict(line_doc), "routing", "lp")
    assert res.status is Status.INFEASIBLE
    assert res.explanation == "the result cannot reach destination 'dev' from source 'dev': no route"


def test_milp_time_limit_returns_best_plan_bound_and_gap() -> None:
    # this MILP is far from proven after 3 s (gap ~0.6); 1.5 s gets past the root LP
    inst = optsplit.load(INSTANCES / "routing" / "grid-64-resnet18.toml")
    res = optsplit.solve(inst, "routing", "milp", time_limit=1.5)
    assert res.status is Status.TIME_LIMIT
    assert res.has_plan and res.bound is not None and res.gap is not None and res.gap > 0
    report = optsplit.check(inst, res)
    assert report.ok, report.messages()
    optimum = optsplit.solve(inst, "routing", "dijkstra").objective
    assert res.bound <= optimum + 1e-12 <= res.objective + 2e-12


def test_unknown_names(line_doc) -> None:
    inst = optsplit.from_dict(line_doc)
    with pytest.raises(UnknownNameError, match="unknown formulation 'nope'"):
        optsplit.solve(inst, "nope")
    with pytest.raises(UnknownNameError, match="unknown solver for 'routing' 'bfs'"):
        optsplit.solve(inst, "routing", "bfs")
    with pytest.raises(UnknownNameError, match="back-end"):
        optsplit.solve(inst, "routing", "milp", backend="cvxpy-clarabel")


def test_check_catches_a_bad_plan(line_doc) -> None:
    inst = optsplit.from_dict(line_doc)
    res = optsplit.solve(inst, "routing")
    plan = dict(res.plan)
    plan["paths"] = [["dev"], ["dev", "edge"], ["edge", "ap", "dev"]]  # dev-edge is no link
    report = optsplit.check(inst, plan)
    assert not report.ok and "dev->edge, which is not a link" in report.messages()[0]
    wrong = optsplit.check(inst, {"plan": res.plan, "objective": 0.1, "formulation": "routing"})
    assert not wrong.agrees and "differs from the evaluator" in wrong.messages()[-1]


def test_log_is_kept_on_the_result(line_doc) -> None:
    res = optsplit.solve(optsplit.from_dict(line_doc), "routing", "milp")
    assert "HiGHS" in res.log
    res = optsplit.solve(optsplit.from_dict(line_doc), "routing", "milp", backend="pyomo-scip")
    assert "SCIP" in res.log and "optimal solution found" in res.log


def test_lp_solution_is_integral(line_doc) -> None:
    inst = optsplit.load(INSTANCES / "routing" / "grid-64-resnet18.toml")
    res = optsplit.solve(inst, "routing", "lp")
    assert res.metrics["integrality_violation"] == 0.0
