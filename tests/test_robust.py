"""`robust`: exact methods agree, PCCP's gap is measured, promises hold under simulation."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace

import numpy as np
import pytest
from conftest import INSTANCES
from robust_cases import random_robust_doc

import optsplit
from optsplit import Status
from optsplit.cli import EXIT_INPUT, EXIT_OK, EXIT_VIOLATION, main
from optsplit.evaluate.simulate import simulate
from optsplit.formulations.robust import allocation, kkt
from optsplit.formulations.robust.data import cantelli_factor, gaussian_factor, prepare
from optsplit.solvers.options import SolveOptions

SEEDS = [s for s in range(40) if s not in (5, 7, 8, 18, 28, 35)]  # the rest are infeasible


@pytest.fixture(scope="module")
def small_instances() -> list[optsplit.Instance]:
    return [optsplit.from_dict(random_robust_doc(seed)) for seed in SEEDS]


@pytest.fixture(scope="module")
def few_instances() -> list[optsplit.Instance]:
    return [optsplit.from_dict(random_robust_doc(seed)) for seed in SEEDS[:6]]


def test_exact_methods_agree_quick(few_instances) -> None:
    for inst in few_instances:
        ref = optsplit.solve(inst, "robust", "enumerate")
        glob = optsplit.solve(inst, "robust", "scip", time_limit=60)
        assert glob.objective == pytest.approx(ref.objective, rel=1e-9), inst.name
        assert optsplit.check(inst, glob, rel_tol=1e-9).ok


def test_cantelli_and_gaussian_factors() -> None:
    assert cantelli_factor(0.05) == pytest.approx(math.sqrt(19))
    assert cantelli_factor(0.1) == pytest.approx(3.0)
    assert gaussian_factor(0.05) == pytest.approx(1.6448536, rel=1e-6)


@pytest.mark.slow
def test_scip_equals_enumeration_on_34_instances(small_instances) -> None:
    assert len(small_instances) == 34
    for inst in small_instances:
        ref = optsplit.solve(inst, "robust", "enumerate")
        glob = optsplit.solve(inst, "robust", "scip", time_limit=60)
        assert ref.status is Status.OPTIMAL and glob.status is Status.OPTIMAL, inst.name
        assert glob.objective == pytest.approx(ref.objective, rel=1e-9), inst.name
        assert glob.metrics["scip_objective"] == pytest.approx(ref.objective, rel=1e-4)
        assert glob.bound <= ref.objective * (1 + 1e-9)
        for res in (ref, glob):
            report = optsplit.check(inst, res, rel_tol=1e-9)
            assert report.ok, (inst.name, report.messages())


@pytest.mark.slow
def test_pccp_gap_to_the_optimum(small_instances) -> None:
    """Measured on these 34 instances: pccp is within 1 % of the optimum on 31 (worst 30 %),
    pccp-polish on 32 (worst 30 %); neither ever reports less than the optimum."""
    gaps, polished = [], []
    for inst in small_instances:
        ref = optsplit.solve(inst, "robust", "enumerate").objective
        for method, into in (("pccp", gaps), ("pccp-polish", polished)):
            res = optsplit.solve(inst, "robust", method)
            assert res.status is Status.LOCALLY_OPTIMAL
            report = optsplit.check(inst, res, rel_tol=1e-6)
            assert report.ok, (inst.name, method, report.messages())
            into.append(res.objective / ref - 1)
    gaps_, polished_ = np.array(gaps), np.array(polished)
    assert gaps_.min() >= -1e-6 and polished_.min() >= -1e-6  # never better than the optimum
    assert np.median(gaps_) <= 1e-4
    assert np.mean(gaps_ <= 0.01) >= 0.9 and gaps_.max() <= 0.35
    assert np.mean(polished_ <= 0.01) >= 0.9 and polished_.max() <= 0.35
    assert np.all(polished_ <= gaps_ + 1e-9)  # the polish never makes a plan worse


def test_convex_allocation_matches_kkt() -> None:
    inst = optsplit.from_dict(random_robust_doc(3))
    data = prepare(inst)
    problem = allocation.build(data)
    assert problem.problem.is_dcp(dpp=True)
    rng = np.random.default_rng(0)
    for _ in range(5):
        parts = np.array([rng.integers(d.num_points) for d in data.devices])
        exact = kkt.allocate(data, parts[None, :])
        problem.set_partition(data, parts)  # parameters only: the problem is not rebuilt
        out, f, b, _price = allocation.solve(problem, SolveOptions())
        if not exact.feasible[0]:
            assert f is None
            continue
        assert out.objective == pytest.approx(exact.energy[0], rel=1e-4)  # interior point
        settled = kkt.settle(data, parts, b)  # exact clocks for Clarabel's bandwidths
        assert settled.feasible[0]
        assert settled.energy[0] == pytest.approx(exact.energy[0], rel=2e-5)  # Clarabel stops early
        assert settled.energy[0] >= exact.energy[0] * (1 - 1e-12)


def test_mean_only_breaks_the_promise_robust_keeps_it() -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-3dev.toml")
    robust = optsplit.solve(inst, "robust", "enumerate")
    naive = optsplit.solve(inst, "robust", "mean-only")
    assert naive.objective < robust.objective  # ignoring variance looks cheaper…
    assert not optsplit.check(inst, naive).ok  # …but breaks the Cantelli bound
    good, bad = simulate(inst, robust.plan, 40_000, 1), simulate(inst, naive.plan, 40_000, 1)
    eps = 0.05
    for device, laws in good.rates.items():
        for law in ("gaussian", "gamma", "lognormal"):
            assert laws[law] <= eps, (device, law)
        assert laws["two-point"] == pytest.approx(eps, abs=0.006)  # tight deadline: exactly ε
        assert bad.rates[device]["gaussian"] > 0.3  # mean exactly at the deadline: ~50 %
    assert not good.broken() and bad.broken()


def test_gaussian_margin_violates_under_the_worst_case_law() -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-3dev.toml")
    res = optsplit.solve(inst, "robust", "gaussian")
    rates = simulate(inst, res.plan, 40_000, 2).rates
    # the two-point law with the same mean and variance sits at μ + k_ε σ > D w.p. ε
    assert all(r["two-point"] >= 0.045 for r in rates.values())
    assert all(r["gaussian"] <= 0.06 for r in rates.values())


def test_baselines_and_infeasibility_explained() -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-3dev.toml")
    best = optsplit.solve(inst, "robust", "enumerate").objective
    local = optsplit.solve(inst, "robust", "all-local")
    assert local.status is Status.FEASIBLE and local.objective > best
    assert all(d["frequency"] == 1.9e9 for d in local.plan["devices"])
    offload = optsplit.solve(inst, "robust", "all-offload")
    assert offload.status is Status.INFEASIBLE
    assert (
        "device 'dev0' cannot meet 129 ms with probability 0.95 even all-offload at f_max"
        in offload.explanation
    )


def test_infeasible_instance_names_the_device() -> None:
    doc = random_robust_doc(0)
    doc["robust"]["devices"][1]["deadline"] = 0.004
    inst = optsplit.from_dict(doc)
    for method in ("enumerate", "scip", "pccp"):
        res = optsplit.solve(inst, "robust", method)
        assert res.status is Status.INFEASIBLE, method
        assert res.explanation.startswith("device 'd1' cannot meet 4 ms with probability")


def test_bandwidth_shortfall_is_explained() -> None:
    doc = random_robust_doc(0)
    first = doc["robust"]["devices"][0]  # three copies of a device that must offload
    doc["robust"]["devices"] = [{**first, "name": f"c{i}"} for i in range(3)]
    data = prepare(optsplit.from_dict(doc))
    needs = [
        float(
            np.min(kkt._Batch(replace(data, devices=[d]), np.arange(d.num_points)[:, None]).min_bandwidth())
        )
        for d in data.devices
    ]
    doc["robust"]["bandwidth"] = 0.9 * sum(needs)
    assert max(needs) < doc["robust"]["bandwidth"]  # each device alone would fit
    res = optsplit.solve(optsplit.from_dict(doc), "robust", "enumerate")
    assert res.status is Status.INFEASIBLE
    assert res.explanation.startswith(
        f"each device can meet its deadline alone, but together they need at least {sum(needs) / 1e6:.4g} MHz"
    )


def test_pccp_scales_to_100_devices() -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-100dev.toml")
    res = optsplit.solve(inst, "robust", "pccp")
    assert res.status is Status.LOCALLY_OPTIMAL and optsplit.check(inst, res).ok
    assert res.iterations and all("energy" in it for it in res.iterations)
    assert "outer 1: energy" in res.log


def test_enumerate_refuses_huge_instances() -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-100dev.toml")
    with pytest.raises(optsplit.OptsplitError, match="partition vectors"):
        optsplit.solve(inst, "robust", "enumerate")


def _run(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["optsplit", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code or 0), capsys.readouterr()


def test_cli_check_simulate(monkeypatch, capsys, tmp_path) -> None:
    inst = str(INSTANCES / "robust" / "alexnet-3dev.toml")
    for method, expected in (("enumerate", EXIT_OK), ("mean-only", EXIT_VIOLATION)):
        out = tmp_path / f"{method}.json"
        code, _ = _run(monkeypatch, capsys, "solve", inst, "-s", method, "-o", str(out))
        assert code == EXIT_OK and json.loads(out.read_text())["plan"]["devices"]
        code, captured = _run(monkeypatch, capsys, "check", inst, str(out), "--simulate", "5000")
        assert code == expected, captured.err
        assert "two-point" in captured.out
    code, captured = _run(
        monkeypatch,
        capsys,
        "check",
        str(INSTANCES / "routing" / "tiered-5-alexnet.toml"),
        str(tmp_path / "enumerate.json"),
        "-f",
        "routing",
        "--simulate",
        "10",
    )
    assert code in (EXIT_INPUT, EXIT_VIOLATION)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["robust"]["devices"][0].update(f_min=3e9), "robust.devices[0].f_min: f_min"),
        (
            lambda d: d["robust"]["devices"][0].update(epsilon=1.5),
            "robust.devices[0].epsilon: 1.5 is greater than or equal to the maximum of 1",
        ),
        (
            lambda d: d["robust"]["devices"][0].pop("distance"),
            "robust.devices[0]: give the channel as 'gain' or 'distance'",
        ),
        (lambda d: d["robust"].update(bandwidth=-1.0), "robust.bandwidth: expected a number > 0"),
        (
            lambda d: d["robust"]["devices"][0].update(processor="gpu"),
            "robust.devices[0].processor: layer 1 'L1' of profile 'chain0' has no measured time",
        ),
    ],
)
def test_robust_bad_input(change, message) -> None:
    doc = random_robust_doc(0)
    change(doc)
    with pytest.raises(optsplit.InputError) as exc:
        optsplit.from_dict(doc, source="x.toml")
    assert message in str(exc.value)


def test_time_limits_keep_the_best_plan() -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-100dev.toml")
    res = optsplit.solve(inst, "robust", "pccp", time_limit=1e-3)
    assert res.status is Status.TIME_LIMIT  # stopped after the first allocation…
    assert res.has_plan and optsplit.check(inst, res).ok  # …with that plan kept
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-10dev.toml")
    res = optsplit.solve(inst, "robust", "scip", time_limit=3)
    assert res.status is Status.TIME_LIMIT
    assert res.has_plan and res.bound is not None and res.gap is not None and res.gap > 0
    assert optsplit.check(inst, res).ok
    assert res.bound <= optsplit.solve(inst, "robust", "pccp-polish").objective


@pytest.mark.parametrize("suffix", [".nl", ".lp"])
def test_scip_model_export(tmp_path, suffix: str) -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-3dev.toml")
    path = tmp_path / f"robust{suffix}"
    if suffix == ".lp":  # the model is nonlinear: LP format cannot hold it
        with pytest.raises(optsplit.InputError, match="cannot write the model to"):
            optsplit.solve(inst, "robust", "scip", write_model=path)
        return
    res = optsplit.solve(inst, "robust", "scip", write_model=path)
    assert res.status is Status.OPTIMAL and path.stat().st_size > 1000


def test_methods_without_a_model_refuse_to_write(tmp_path) -> None:
    inst = optsplit.load(INSTANCES / "robust" / "alexnet-3dev.toml")
    with pytest.raises(optsplit.InputError, match=r"solver 'pccp' builds no model to write.*scip"):
        optsplit.solve(inst, "robust", "pccp", write_model=tmp_path / "m.nl")
