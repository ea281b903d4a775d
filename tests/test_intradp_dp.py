"""Formulation `intradp`, method `dp` (label setting): equal to brute force over the grid, its
canonical clocks equal to the recursion, its lower bound below every completion, its limits
returning a plan with a proven bound, and equal to the MILP where the MILP closes."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_intradp import instance, solve

import optsplit
from optsplit.errors import SolverError
from optsplit.formulations.intradp import planners
from optsplit.formulations.intradp.data import prepare
from optsplit.formulations.intradp.labelsetting import FluidBound, LabelSetting, advance, pareto_keep
from optsplit.formulations.intradp.recursion import clocks, durations, latency
from optsplit.formulations.intradp.slicing import grid_exchanges, grid_tables
from optsplit.instance.model import TimeStat
from optsplit.profiles.operators import DEVICE, INPUT, SERVER, GraphBuilder, write_graph

REPO = Path(__file__).resolve().parents[1]
NODES = {"mip_max_nodes": 200_000}  # a guard, never a clock


def all_plans(data, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Every grid plan (grid indices) and its objective by the recursion."""
    t = grid_tables(data, grid)
    choices = [np.flatnonzero(t.allowed[j]) for j in range(data.n_positions)]
    plans = np.array(list(itertools.product(*choices)), dtype=np.int64)
    return plans, planners.score(data, t, plans)


def odd_pool_graph(tmp_path: Path) -> None:
    """A 2/2 pooling on 9 rows never reads row 8: rows left on the server may never travel down."""
    b = GraphBuilder("oddpool", (2, 9, 9))
    x = b.conv("c1", INPUT, 4, 3, 1, 1)
    x = b.pool("pool", x, "maxpool", 2, 2)
    x = b.conv("c2", x, 4, 3, 1, 1)
    x = b.adaptive_avgpool("gap", x, 1)
    x = b.flatten("flat", x)
    b.linear("fc", x, 3)
    g = b.graph("odd pooling")
    rng = np.random.default_rng(5)
    ops = tuple(
        replace(op, time={DEVICE: TimeStat(float(rng.uniform(5e-4, 2e-3)), 0.0), SERVER: TimeStat(1e-4, 0.0)})
        for op in g.operators
    )
    write_graph(replace(g, operators=ops), tmp_path / "oddpool.json")


# ------------------------------------------------------------------ exact = brute force


@pytest.mark.parametrize("residual", [0, 1])
@pytest.mark.parametrize("seed", [0, 1, 3])
@pytest.mark.parametrize("bandwidth", [0.5, 2.0, 20.0, 500.0])
def test_dp_equals_brute_force(tmp_path, residual, seed, bandwidth) -> None:
    inst = instance(tmp_path, layers=3, seed=seed, residual=residual, bandwidth=bandwidth)
    _, values = all_plans(prepare(inst), 2)
    best = float(values.min())
    for start in (True, False):
        res = solve(inst, "dp", solver_options={"grid": 2, "start": start})
        assert res.status.value == "optimal"
        assert res.objective == pytest.approx(best, rel=1e-9)
        assert best * (1 - 2e-9) <= res.bound <= res.objective


@pytest.mark.parametrize("seed", [0, 2])
def test_dp_equals_brute_force_on_a_finer_grid(tmp_path, seed) -> None:
    inst = instance(tmp_path, layers=2, seed=seed, residual=1, bandwidth=1.0)
    _, values = all_plans(prepare(inst), 4)
    res = solve(inst, "dp", solver_options={"grid": 4})
    assert res.objective == pytest.approx(float(values.min()), rel=1e-9)


@pytest.mark.parametrize("bound", [0.004, 0.006, 0.009, 0.02])
def test_dp_energy_under_a_bound_equals_brute_force(tmp_path, bound) -> None:
    inst = instance(tmp_path, layers=2, seed=1, bandwidth=2.0, objective="energy", latency_bound=bound)
    _, values = all_plans(prepare(inst), 2)
    best = float(values.min())
    res = optsplit.solve(inst, solver="dp", solver_options={"grid": 2})
    if np.isfinite(best):
        assert res.status.value == "optimal" and optsplit.check(inst, res).ok
        assert res.objective == pytest.approx(best, rel=1e-9)
        assert res.metrics["latency"] <= bound * (1 + 1e-9)
    else:  # no grid plan meets the bound: proven, and said in the user's terms
        assert res.status.value == "infeasible" and "meets the latency bound" in res.explanation


def test_dp_where_server_rows_can_stay_unread(tmp_path) -> None:
    odd_pool_graph(tmp_path)
    doc = {"name": "odd", "formulation": "intradp", "intradp": {"graph": "oddpool.json", "bandwidth": 0.3}}
    inst = optsplit.from_dict(doc, "odd.toml", tmp_path)
    data = prepare(inst)
    assert not FluidBound.of(data).server_side  # the server-side term would not be valid here
    _, values = all_plans(data, 3)
    res = solve(inst, "dp", solver_options={"grid": 3})
    assert res.objective == pytest.approx(float(values.min()), rel=1e-9)


# ------------------------------------------------------------------ the parts it rests on


@pytest.mark.parametrize(("seed", "residual", "bandwidth"), [(0, 0, 2.0), (3, 1, 0.5), (1, 1, 30.0)])
def test_canonical_clocks_and_bound_along_every_plan(tmp_path, seed, residual, bandwidth) -> None:
    """For every grid plan: the canonical clocks give the recursion's latency, and the fluid
    bound after every position is at most that latency (so pruning never loses a better plan)."""
    inst = instance(tmp_path, layers=2, seed=seed, residual=residual, bandwidth=bandwidth)
    data = prepare(inst)
    t = grid_tables(data, 2)
    plans, _ = all_plans(data, 2)
    m, ex = grid_exchanges(data, t, plans)
    d = durations(data, m, ex)
    final = latency(d)
    np.testing.assert_allclose(final, clocks(d)[0][:, -1], rtol=1e-12)  # run sums = step by step
    fluid = FluidBound.of(data)
    assert fluid.server_side
    lab = np.zeros((plans.shape[0], 4))
    for j in range(data.n_positions):
        lab = np.column_stack(advance(lab, d.dev[:, j], d.srv[:, j], d.up[:, j], d.down[:, j]))
        assert np.all(fluid.latency(j, lab[:, 0], lab[:, 1]) <= final * (1 + 1e-12))
    np.testing.assert_allclose(lab[:, 0], final, rtol=1e-12)


def test_pareto_keep_drops_exactly_the_dominated_rows() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 6, size=(700, 3)).astype(float)  # many ties and duplicates
    x = x[np.argsort(x.sum(axis=1), kind="stable")]
    keep = pareto_keep(x)
    for i in range(x.shape[0]):
        earlier = x[:i]
        dominated = np.any(np.all(earlier <= x[i], axis=1))
        assert keep[i] == (not dominated)


# ------------------------------------------------------------------ limits and refusals


def test_label_limit_returns_the_start_plan_with_a_proven_bound(tmp_path) -> None:
    inst = instance(tmp_path, layers=4, seed=0, bandwidth=1.0)
    exact = solve(inst, "dp", solver_options={"grid": 2})
    capped = solve(inst, "dp", solver_options={"grid": 2, "max_labels": 10})
    assert capped.termination.value == "iteration_limit"
    assert capped.status.value != "optimal"
    assert capped.bound <= exact.objective * (1 + 1e-12)
    assert capped.objective >= exact.objective * (1 - 1e-12)
    cold = optsplit.solve(inst, solver="dp", solver_options={"grid": 2, "max_labels": 10, "start": False})
    assert cold.plan is None and cold.solution_status.value == "no_solution"


def test_frontier_limit_and_bad_options_are_refused(tmp_path) -> None:
    inst = instance(tmp_path, layers=3, seed=0, residual=1, bandwidth=1.0)
    with pytest.raises(SolverError, match="tensors open"):
        optsplit.solve(inst, solver="dp", solver_options={"max_states": 2})
    with pytest.raises(optsplit.OptionError, match="max_labels"):
        optsplit.solve(inst, solver="dp", solver_options={"max_labels": 0})
    with pytest.raises(optsplit.OptionError, match="dp takes"):
        optsplit.solve(inst, solver="dp", solver_options={"strong": True})
    dense = optsplit.load(REPO / "instances/intradp/densenet121-10MBps.toml")  # 7 tensors open at once
    with pytest.raises(SolverError, match=r"features\.pool0.*7 tensors open.*use milp"):
        optsplit.solve(dense, solver="dp")
    with pytest.raises(SolverError, match="solve without dp_bound"):
        optsplit.solve(dense, solver="milp", solver_options={"dp_bound": True})


# ------------------------------------------------------------------ against the MILP, real networks


@pytest.mark.parametrize("bandwidth", [2.0, 30.0])
def test_dp_equals_milp_on_vgg19(bandwidth) -> None:
    inst = optsplit.load(REPO / "instances/intradp/vgg19_bn-10MBps.toml")
    inst = replace(inst, sections={**inst.sections, "intradp": prepare(inst).with_bandwidth(bandwidth)})
    dp = solve(inst, "dp")
    milp = solve(inst, "milp", solver_options=NODES)
    assert dp.status.value == milp.status.value == "optimal"
    assert dp.objective == pytest.approx(milp.objective, rel=1e-7)


@pytest.mark.slow
def test_dp_proves_the_resnet152_grid_optimum() -> None:
    inst = optsplit.load(REPO / "instances/intradp/resnet152-10MBps.toml")
    res = solve(inst, "dp")
    assert res.status.value == "optimal" and res.gap <= 1e-8
    offload = solve(inst, "all-offload")
    assert res.objective == pytest.approx(offload.objective, rel=1e-9)


def test_milp_with_the_dp_bound_closes_on_its_floor(tmp_path) -> None:
    inst = instance(tmp_path, layers=4, seed=3, residual=1, bandwidth=1.0)
    dp = solve(inst, "dp", solver_options={"grid": 3})
    res = solve(inst, "milp", solver_options={"grid": 3, "dp_bound": True, **NODES})
    assert res.status.value == "optimal"
    assert res.objective == pytest.approx(dp.objective, rel=1e-9)
    assert res.bound >= dp.bound * (1 - 1e-12) and res.metrics["dp_bound"] == dp.bound
    plain = solve(inst, "milp", solver_options={"grid": 3, **NODES})
    assert res.metrics["rows"] == plain.metrics["rows"] + 1  # the floor row
    with pytest.raises(optsplit.OptionError, match="dp_bound"):
        optsplit.solve(inst, solver="milp", solver_options={"dp_bound": "yes"})


@pytest.mark.slow
def test_milp_with_the_dp_bound_proves_resnet152() -> None:
    inst = optsplit.load(REPO / "instances/intradp/resnet152-10MBps.toml")
    res = solve(inst, "milp", solver_options={"dp_bound": True, **NODES})
    assert res.status.value == "optimal" and res.gap <= 1e-8
    assert res.metrics["dp_status"] == "optimal" and res.bound >= res.metrics["dp_bound"] * (1 - 1e-12)


def _interrupt_after(monkeypatch, calls: int) -> None:
    """Ctrl-C inside the search after ``calls`` dominance filters (no clock involved)."""
    original = LabelSetting._dominance
    seen = {"n": 0}

    def dominance(self, lab, lv):
        seen["n"] += 1
        if seen["n"] > calls:
            raise KeyboardInterrupt
        return original(self, lab, lv)

    monkeypatch.setattr(LabelSetting, "_dominance", dominance)


def test_interrupt_returns_the_start_plan_and_a_proven_bound(tmp_path, monkeypatch) -> None:
    inst = instance(tmp_path, layers=4, seed=0, bandwidth=1.0)
    exact = solve(inst, "dp", solver_options={"grid": 2})
    _interrupt_after(monkeypatch, 6)
    res = solve(inst, "dp", solver_options={"grid": 2})
    assert res.termination.value == "interrupted" and res.plan is not None
    assert res.bound <= exact.objective * (1 + 1e-12) <= res.objective * (1 + 2e-12)
    milp = optsplit.solve(inst, solver="milp", solver_options={"grid": 2, "dp_bound": True})
    assert milp.termination.value == "interrupted" and "interrupted during dp" in milp.metrics["milp"]


def test_deadline_before_the_first_position_proves_nothing(tmp_path) -> None:
    inst = instance(tmp_path, layers=2, seed=0, bandwidth=1.0)
    data = prepare(inst)
    out = LabelSetting(data, grid_tables(data, 2)).run(0.02, deadline=0.0)
    assert not out.complete and out.stopped == "time_limit" and out.bound == 0.0


def test_canonical_clocks_at_every_position(tmp_path) -> None:
    inst = instance(tmp_path, layers=3, seed=3, residual=1, bandwidth=0.7)
    data = prepare(inst)
    t = grid_tables(data, 2)
    plans, _ = all_plans(data, 2)
    m, ex = grid_exchanges(data, t, plans[:: max(1, plans.shape[0] // 400)])
    d = durations(data, m, ex)
    dev, srv, up, down = clocks(d)
    lab = np.zeros((m.shape[0], 4))
    for j in range(data.n_positions):
        lab = np.column_stack(advance(lab, d.dev[:, j], d.srv[:, j], d.up[:, j], d.down[:, j]))
        a, b = np.maximum(dev[:, j], down[:, j]), np.maximum(srv[:, j], up[:, j])
        expected = np.column_stack((a, b, np.maximum(up[:, j], a), np.maximum(down[:, j], b)))
        np.testing.assert_allclose(lab, expected, rtol=1e-12, atol=0)


def test_objective_floor_row_and_the_bound_it_gives() -> None:
    from optsplit.formulations.intradp import _with_floor, milp

    inst = optsplit.load(REPO / "instances/intradp/random-chain-4.toml")
    data = prepare(inst)
    model, _ = milp.build(data, grid_tables(data, 2))
    floored = milp.with_objective_floor(model, 0.0123)
    assert floored.num_rows == model.num_rows + 1
    np.testing.assert_array_equal(floored.A[-1].toarray().ravel(), model.c)
    assert floored.row_lower[-1] == pytest.approx(0.0123 - model.offset) and floored.row_upper[-1] == np.inf
    assert _with_floor(None, 1.0) == 1.0 and _with_floor(0.5, 1.0) == 1.0 and _with_floor(2.0, 1.0) == 2.0
    assert _with_floor(None, None) is None


def test_milp_with_the_dp_bound_on_energy(tmp_path) -> None:
    inst = instance(tmp_path, layers=2, seed=1, bandwidth=2.0, objective="energy", latency_bound=0.009)
    dp = solve(inst, "dp", solver_options={"grid": 2})
    res = solve(inst, "milp", solver_options={"grid": 2, "dp_bound": True, **NODES})
    assert res.status.value == "optimal" and res.objective == pytest.approx(dp.objective, rel=1e-9)
    plain = solve(inst, "milp", solver_options={"grid": 2, **NODES})
    assert res.metrics["rows"] == plain.metrics["rows"] + 1  # the floor row
