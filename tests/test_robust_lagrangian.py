"""`robust` lagrangian: a proven bound at any N, plans that check, the best-clock baseline."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import tomli_w
from conftest import INSTANCES
from robust_cases import WIDE_BANDWIDTHS, random_robust_doc

import optsplit
from optsplit import Status
from optsplit.formulations.robust import lagrangian
from optsplit.formulations.robust.evaluate import evaluate_robust
from optsplit.formulations.robust.generate import generators
from optsplit.result import Termination

BOUND_SLACK = 1e-9  # relative: the bound may not exceed the optimum by more than rounding


def _random_docs(count: int, first_seed: int = 0) -> list[dict]:
    """Seeded instances over 1–4 devices, tight to loose deadlines, ε 0.01–0.2, B 1e5–1e15 Hz."""
    docs = []
    for seed in range(first_seed, first_seed + count):
        rng = np.random.default_rng(10_000 + seed)
        doc = random_robust_doc(seed, devices=int(rng.integers(1, 5)), layers=int(rng.integers(2, 6)))
        doc["robust"]["bandwidth"] = float(10.0 ** rng.uniform(5, 15))
        for dev in doc["robust"]["devices"]:
            dev["epsilon"] = float(rng.choice([0.01, 0.05, 0.1, 0.2]))
            dev["deadline"] *= float(rng.uniform(0.6, 1.4))
        docs.append(doc)
    return docs


def _check_against_enumerate(docs: list[dict]) -> list[float]:
    gaps = []
    for doc in docs:
        inst = optsplit.from_dict(doc)
        ref = optsplit.solve(inst, "robust", "enumerate")
        res = optsplit.solve(inst, "robust", "lagrangian")
        if ref.status is Status.INFEASIBLE:
            assert res.status is Status.INFEASIBLE, doc["name"]
            continue
        assert res.status is not Status.INFEASIBLE and res.has_plan, doc["name"]
        assert optsplit.check(inst, res).ok, doc["name"]
        assert res.bound <= ref.objective * (1 + BOUND_SLACK), doc["name"]
        assert res.objective >= ref.objective * (1 - 1e-9), doc["name"]
        assert res.objective - ref.objective <= res.objective - res.bound + 1e-12  # within its gap
        gaps.append(res.gap)
    return gaps


def test_bound_and_plan_against_enumeration() -> None:
    gaps = _check_against_enumerate(_random_docs(40))
    assert len(gaps) >= 20


@pytest.mark.slow
@pytest.mark.parametrize("first", range(40, 240, 50))
def test_bound_and_plan_against_enumeration_200(first: int) -> None:
    """200 more seeds, in four chunks so that parallel workers share them."""
    gaps = _check_against_enumerate(_random_docs(50, first_seed=first))
    assert len(gaps) >= 25


@pytest.mark.parametrize("bandwidth", WIDE_BANDWIDTHS[::2])
def test_bound_holds_over_wide_bandwidths(bandwidth: float) -> None:
    _check_against_enumerate([random_robust_doc(seed, bandwidth=bandwidth) for seed in (0, 1, 2)])


@pytest.mark.slow
def test_bound_below_scip() -> None:
    """The bound never exceeds SCIP's optimum, nor its incumbent where a node limit stops it
    (random-305 does not close in 200,000 nodes)."""
    proved = 0
    for doc in _random_docs(20, first_seed=300):
        inst = optsplit.from_dict(doc)
        glob = optsplit.solve(inst, "robust", "scip", solver_options={"limits/nodes": 20_000})
        res = optsplit.solve(inst, "robust", "lagrangian")
        if glob.status is Status.INFEASIBLE:
            assert res.status is Status.INFEASIBLE, doc["name"]
            continue
        assert glob.has_plan and res.bound is not None, doc["name"]
        assert res.bound <= glob.objective * (1 + BOUND_SLACK), doc["name"]
        proved += glob.status is Status.OPTIMAL
    assert proved >= 15


def test_certified_golden_brackets_a_convex_minimum() -> None:
    rng = np.random.default_rng(3)
    centre = rng.uniform(0.1, 0.9, 500)
    scale = rng.uniform(0.1, 10, 500)

    def cost(b: np.ndarray) -> np.ndarray:
        return scale * np.abs(b - centre) ** 1.5 + 1.0 / (b + 0.05)

    lo, hi = np.zeros(500), np.ones(500)
    grid = np.linspace(0, 1, 200_001)[:, None]
    grid_min = cost(grid).min(axis=0)  # at or above the true minimum
    for steps in (3, 10, 40):
        b, upper, lower = lagrangian.certified_golden(cost, lo, hi, lo, steps)
        assert np.all(lower <= grid_min) and np.all(lower <= upper)
        assert np.allclose(upper, cost(b))
    assert np.all(upper <= grid_min + 1e-9)
    assert np.max(upper - lower) < 1e-6  # tight after 40 steps


def test_shipped_100_devices_within_a_tenth_of_a_percent() -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-100dev.toml")
    res = optsplit.solve(inst, "robust", "lagrangian")
    assert res.termination is Termination.HEURISTIC and res.bound is not None
    assert res.gap <= 1e-3
    assert optsplit.check(inst, res).ok
    assert res.objective < optsplit.solve(inst, "robust", "all-local").objective


def test_thousand_devices_gap(tmp_path) -> None:
    target = tmp_path / "big.toml"
    profile = str(INSTANCES / "profiles" / "measured" / "alexnet.toml")
    doc = generators()["robust"].make(
        target, devices=1000, seed=1, profile=profile, deadline_factor=2.0, epsilon=0.05, bandwidth=20e6
    )
    target.write_text(tomli_w.dumps(doc))
    inst = optsplit.load(target)
    res = optsplit.solve(inst, "robust", "lagrangian")
    assert res.gap is not None and res.gap <= 1e-3
    assert optsplit.check(inst, res).ok


def test_one_device_is_proven_optimal() -> None:
    """Alone on the uplink a device takes all of it at price 0: the bound closes."""
    doc = random_robust_doc(1, devices=1)
    inst = optsplit.from_dict(doc)
    res = optsplit.solve(inst, "robust", "lagrangian")
    ref = optsplit.solve(inst, "robust", "enumerate")
    assert res.metrics["price"] == 0.0
    assert res.objective == pytest.approx(ref.objective, rel=1e-9)
    assert res.gap <= 1e-9 and res.status is Status.OPTIMAL


def test_infeasible_is_explained() -> None:
    doc = random_robust_doc(0, bandwidth=1e3)
    res = optsplit.solve(optsplit.from_dict(doc), "robust", "lagrangian")
    assert res.status is Status.INFEASIBLE and "cannot meet" in res.explanation


def test_all_local_takes_each_devices_best_clock() -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-100dev.toml")
    res = optsplit.solve(inst, "robust", "all-local")
    assert optsplit.check(inst, res).ok
    at_max = copy.deepcopy(res.plan)
    system = inst.section("robust")
    for entry, dev in zip(at_max["devices"], system.devices):
        entry["frequency"] = dev.f_max
    assert res.objective < evaluate_robust(inst, at_max).objective
    # no clock on a fine sweep does better for any device that meets its deadline there
    chosen = evaluate_robust(inst, res.plan).metrics["devices"]
    for n, dev in list(enumerate(system.devices))[:10]:
        for f in np.linspace(dev.f_min, dev.f_max, 300):
            trial = copy.deepcopy(res.plan)
            trial["devices"][n]["frequency"] = float(f)
            ev = evaluate_robust(inst, trial)
            if not any(f"'{dev.name}'" in v for v in ev.violations):
                assert ev.metrics["devices"][dev.name]["energy"] >= chosen[dev.name]["energy"] * (1 - 1e-9)


def test_scale_suite_row_and_report(tmp_path) -> None:
    from optsplit.bench.runner import Case
    from optsplit.formulations.robust import bench_scale

    rows = []
    for method in ("lagrangian", "enumerate"):
        case = Case("scale", "alexnet-3dev", method, {"devices": 3, "seed": 1}, "robust")
        row = bench_scale.execute(case)
        assert row["check_ok"] and row["peak_rss_mb"] >= row["rss_before_mb"] > 0
        rows.append(
            {k: str(v) for k, v in row.items()}
            | {"group": "scale", "instance": case.instance, "method": method}
        )
    paths = bench_scale.report(rows, tmp_path)
    text = paths[0].read_text()
    assert "alexnet-3dev" in text and "at the bound" in text and paths[1].exists()


def test_dual_bound_alone_equals_the_solve_bound() -> None:
    from optsplit.formulations.robust.data import prepare

    data = prepare(optsplit.load(INSTANCES / "robust" / "alexnet-10dev.toml"))
    assert lagrangian.dual_bound(data) == lagrangian.solve(data).bound
