"""`robust` against the shared layered graph: with each device's clock and bandwidth fixed at
the optimum `enumerate` finds, the cheapest partition meeting the chance constraint on the
two-row layered graph costs what `enumerate` pays (and is the same partition unless tied)."""

from __future__ import annotations

import copy

import pytest
from robust_cases import random_robust_doc

import optsplit
from optsplit.formulations.robust.layered import cheapest_partition
from optsplit.tolerances import OBJECTIVE_RELATIVE

SEEDS = range(24)


@pytest.mark.parametrize("seed", SEEDS)
def test_enumerate_and_the_layered_graph_choose_the_same_partition(seed: int) -> None:
    inst = optsplit.from_dict(random_robust_doc(seed, devices=1 + seed % 3, layers=3 + seed % 4))
    res = optsplit.solve(inst, "robust", "enumerate")
    if not res.has_plan:
        pytest.skip("infeasible instance")  # covered by the infeasibility tests
    report = optsplit.check(inst, res)
    assert report.ok
    system = inst.section("robust")
    for entry, dev in zip(res.plan["devices"], system.devices):
        found = cheapest_partition(dev, system.noise_density, entry["frequency"], entry["bandwidth"])
        assert found is not None, "the layered graph finds no admissible path for a feasible plan"
        energy, partition = found
        spent = report.evaluation.metrics["devices"][dev.name]["energy"]
        assert energy == pytest.approx(spent, rel=OBJECTIVE_RELATIVE, abs=1e-12)
        if partition != entry["partition"]:  # a tie: the layered graph's choice must be as good
            other = copy.deepcopy(res.plan)
            other["devices"][res.plan["devices"].index(entry)]["partition"] = partition
            assert optsplit.check(inst, {"plan": other, "objective": res.objective}).ok


def test_a_tighter_deadline_makes_the_layered_check_refuse() -> None:
    inst = optsplit.from_dict(random_robust_doc(3, devices=1, layers=4))
    dev = inst.section("robust").devices[0]
    tight = type(dev)(**{**dev.__dict__, "deadline": 1e-6})
    assert (
        cheapest_partition(
            tight, inst.section("robust").noise_density, dev.f_max, inst.section("robust").bandwidth
        )
        is None
    )
