"""`robust` pccp never quietly fails: every plan passes check, never below the exact optimum,
gaps measured on random small instances across regimes; regressions for issue 11's defects."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import INSTANCES
from robust_cases import random_robust_doc

import optsplit
from optsplit.formulations.robust import allocation, generate, kkt
from optsplit.formulations.robust.data import prepare
from optsplit.formulations.robust.generate import robust_instance
from optsplit.instance.loader import load_profile
from optsplit.result import SolutionStatus, Status, Termination
from optsplit.solvers.options import Outcome
from optsplit.tolerances import CONIC_FEASIBILITY, OBJECTIVE_RELATIVE, PLAN_RELATIVE

MEASURED = INSTANCES / "profiles" / "measured"
PROFILES = ("alexnet", "mobilenet_v2", "resnet18")
# measured on the slow set's 200 instances (see formulations/robust.md): the largest gap of
# pccp to the optimum; asserted with room
MAX_GAP = 0.35


def regime_doc(seed: int) -> dict:
    """1–4 devices, measured or synthetic chains, deadlines 0.3–2.5 × the all-local time,
    ε in 0.01–0.2, B in 1e5–1e15 Hz (log-uniform), clocks and scales drawn per device."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    eps = float(rng.uniform(0.01, 0.2))
    devs = []
    for i in range(n):
        layers = int(rng.integers(2, 7))
        sizes = rng.uniform(5e3, 8e5, layers)
        sizes[-1] = 4e3
        means = rng.uniform(0.003, 0.02, layers)
        profile = {
            "name": f"c{i}",
            "input_bytes": float(rng.uniform(1e5, 6e5)),
            "layers": [
                {
                    "name": f"L{j}",
                    "flops": 1e8,
                    "output_bytes": float(sizes[j]),
                    "time": {
                        "dev": {
                            "mean": float(means[j]),
                            "var": float((rng.uniform(0.02, 0.3) * means[j]) ** 2),
                        }
                    },
                }
                for j in range(layers)
            ],
        }
        f_max = float(rng.uniform(1.0e9, 2.5e9))
        local_scale = float(rng.uniform(1, 4))
        devs.append(
            {
                "name": f"d{i}",
                "profile": profile,
                "processor": "dev",
                "server_processor": "dev",
                "f_min": float(f_max * rng.uniform(0.1, 0.5)),
                "f_max": f_max,
                "f_ref": 1.9e9,
                "local_scale": local_scale,
                "server_scale": float(rng.uniform(0.02, 0.3)),
                "kappa": float(5 / f_max**3 * rng.uniform(0.5, 2)),
                "static_power": float(rng.uniform(0, 1)),
                "tx_power": float(rng.uniform(0.05, 1)),
                "distance": float(rng.uniform(20, 500)),
                "deadline": float(means.sum() * local_scale * 1.9e9 / f_max * rng.uniform(0.3, 2.5)),
                "epsilon": eps,
            }
        )
    return {
        "name": f"regime-{seed}",
        "formulation": "robust",
        "robust": {"bandwidth": float(10 ** rng.uniform(5, 15)), "devices": devs},
    }


def gap_of(seed: int) -> float | None:
    """pccp's relative gap to enumeration's optimum (None when both find it infeasible)."""
    inst = optsplit.from_dict(regime_doc(seed))
    res = optsplit.solve(inst, "robust", "pccp")
    ref = optsplit.solve(inst, "robust", "enumerate")
    assert res.status is not optsplit.Status.OPTIMAL
    if ref.objective is None:
        assert res.plan is None or not optsplit.check(inst, res).ok
        return None
    assert res.plan is not None, (seed, res.log)
    assert optsplit.check(inst, res, rel_tol=1e-9).ok, (seed, optsplit.check(inst, res).violations)
    assert res.objective >= ref.objective * (1 - 1e-8)  # never below the optimum
    return res.objective / ref.objective - 1


@pytest.mark.parametrize("seed", range(30))
def test_pccp_plans_pass_check_and_stay_near_the_optimum(seed: int) -> None:
    gap = gap_of(seed)
    assert gap is None or gap <= MAX_GAP


@pytest.mark.slow
def test_pccp_on_200_instances() -> None:
    gaps = [g for g in (gap_of(seed) for seed in range(200)) if g is not None]
    assert len(gaps) >= 100
    assert max(gaps) <= MAX_GAP
    assert np.median(gaps) <= 1e-6


def test_one_tolerance_for_backend_settling_and_evaluator() -> None:
    assert CONIC_FEASIBILITY == PLAN_RELATIVE and OBJECTIVE_RELATIVE >= PLAN_RELATIVE


def one_device_alexnet() -> optsplit.Instance:
    """Issue 11's one-device case: AlexNet, 5 MHz, D = 170.5 ms, ε = 0.1, f in 0.22–1.43 GHz."""
    doc = robust_instance(
        load_profile(MEASURED / "alexnet.toml"),
        "alexnet.toml",
        1,
        0,
        epsilon=0.1,
        bandwidth=5e6,
    )
    doc["robust"]["devices"][0].update(
        deadline=0.1705, f_min=0.22e9, f_max=1.43e9, local_scale=3.0, server_scale=0.1
    )
    return optsplit.from_dict(doc, source="one-device", base_dir=MEASURED)


def test_clarabel_failure_uses_the_exact_allocation(monkeypatch) -> None:
    """Every Clarabel failure: the exact allocation decides and the result says so."""

    def failing(ap, options):
        return (
            Outcome(Termination.NUMERICAL_ERROR, SolutionStatus.NO_SOLUTION, None, None, 0.0, "x"),
            None,
            None,
            None,
        )

    monkeypatch.setattr(allocation, "solve", failing)
    inst = one_device_alexnet()
    res = optsplit.solve(inst, "robust", "pccp")
    ref = optsplit.solve(inst, "robust", "enumerate")
    assert res.objective == pytest.approx(ref.objective, rel=1e-9)
    assert res.metrics["allocation_fallbacks"] >= 1 and "allocated exactly (KKT)" in res.log
    assert res.status is not optsplit.Status.OPTIMAL and optsplit.check(inst, res).ok


def test_mobilenet_seed_206_gap_closed(tmp_path) -> None:
    """Issue 11: a 39 % gap on `generate robust -n 3 --seed 206` (MobileNetV2, deadline factor
    1.3, ε 0.1, 20 MHz); the single-move round reaches enumeration's optimum [8, 8, 0]
    (measured: 0.281746512 J, equal to enumeration's)."""
    out = tmp_path / "mb206.toml"
    doc = generate._make(out, 3, 206, str(MEASURED / "mobilenet_v2.toml"), 1.3, 0.1, 2e7)
    inst = optsplit.from_dict(doc, source=str(out), base_dir=tmp_path)
    res = optsplit.solve(inst, "robust", "pccp")
    assert optsplit.check(inst, res).ok and "single move" in res.log
    ref = kkt.allocate(prepare(inst), np.array([[8, 8, 0]]))
    assert res.objective == pytest.approx(ref.energy[0], rel=1e-9)


def test_pccp_reports_the_lagrangian_bound() -> None:
    """pccp's bound is the Lagrangian dual (proven), never above the optimum; baselines that
    solve a relaxed problem carry none."""
    for seed in (0, 1, 2, 3):
        inst = optsplit.from_dict(random_robust_doc(seed))
        ref = optsplit.solve(inst, "robust", "enumerate")
        if ref.status is not Status.OPTIMAL:
            continue
        res = optsplit.solve(inst, "robust", "pccp")
        assert res.bound is not None and res.bound <= ref.objective * (1 + 1e-9)
        assert res.objective - ref.objective <= res.objective - res.bound + 1e-12
        assert optsplit.solve(inst, "robust", "mean-only").bound is None
