"""Formulation `multimodal`: the engine re-checks every plan, exact models agree with brute
force, heuristics never beat the exact optimum, the bound never exceeds it, the one-modality
case equals routing's Dijkstra, and bad input gets a field path."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import optsplit
from optsplit.errors import InputError
from optsplit.formulations.multimodal import exact, heuristics
from optsplit.formulations.multimodal.generate import multimodal_instance
from optsplit.formulations.multimodal.ticks import build_ticks, makespan
from optsplit.result import Status
from optsplit.tolerances import EXACT_AGREEMENT

KEY = "multimodal"


def tiny(seed: int, chunks: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    """Two modalities, one block per branch, 3 RBs, 2 cores: small enough for brute force."""
    rng = np.random.default_rng(seed)
    return {
        "name": f"tiny-{seed}",
        "formulation": KEY,
        KEY: {
            "model": "audio_visual",
            "blocks_per_branch": 1,
            "chunk_options": list(chunks),
            "radio": {"resource_blocks": 3, "rates": rng.uniform(5e6, 4e7, (2, 3)).round(-3).tolist()},
            "accelerator": {
                "cores": 2,
                "core_speed": [4e11, float(rng.choice([2e11, 4e11]))],
                "noc_bandwidth": 1e9,
                "noc_latency": 1e-5,
            },
            "sensors": [
                {"modality": "image", "bits": float(rng.uniform(2e5, 1.2e6))},
                {
                    "modality": "audio",
                    "bits": float(rng.uniform(2e5, 1.2e6)),
                    "workload_scale": float(rng.uniform(0.5, 2)),
                },
            ],
        },
    }


def solve_all(inst: optsplit.Instance, methods: tuple[str, ...]) -> dict[str, optsplit.Result]:
    out = {}
    for m in methods:
        res = optsplit.solve(inst, KEY, m, threads=1, seed=0)
        report = optsplit.check(inst, res)
        assert report.ok, (m, report.messages())
        out[m] = res
    return out


@pytest.mark.parametrize(
    "kw",
    [
        dict(model="audio_visual_text", heterogeneity=3.0),
        dict(model="camera_lidar", heterogeneity=0.0, cores=2, rbs=4),
        dict(model="image_text", policy="reassign", heterogeneity=2.0, rbs=8),
        dict(model="synthetic", modalities=4, blocks=6, cores=8, rbs=32, policy="reassign"),
        dict(model="synthetic", modalities=3, blocks=3, cores=1, rbs=2, policy="reassign"),
        dict(model="audio_visual_text", policy="reassign", cores=2, rbs=4, blocks_per_branch=2, seed=2),
    ],
)
def test_heuristic_claims_equal_the_engine(kw: dict[str, Any]) -> None:
    inst = optsplit.from_dict(multimodal_instance(**kw))
    for res in solve_all(inst, ("rtfs", "pacs")).values():
        # a plan may meet the bound (kw5: PACS does); the two sums then differ by rounding only
        assert res.status is Status.FEASIBLE and res.bound <= res.objective * (1 + EXACT_AGREEMENT)
        ev = optsplit.check(inst, res).evaluation
        assert ev.objective == pytest.approx(res.objective, rel=1e-9)


def test_pacs_local_search_closes_the_gap_the_constructive_candidates_leave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kw = dict(cores=2, rbs=4, chunks=2, blocks_per_branch=2, heterogeneity=1.0, seed=1)
    inst = optsplit.from_dict(multimodal_instance("camera_lidar", **kw))
    res = solve_all(inst, ("exact", "pacs"))
    assert res["exact"].metrics["tick_termination"] == "optimal"
    assert res["pacs"].objective <= 1.05 * res["exact"].objective
    assert res["pacs"].metrics["candidates"] > 2
    monkeypatch.setattr(heuristics, "SEARCH_TASKS", 0)  # the constructive candidates alone
    alone = optsplit.solve(inst, KEY, "pacs")
    assert alone.metrics["candidates"] < res["pacs"].metrics["candidates"]
    assert alone.objective > 1.05 * res["exact"].objective


@pytest.mark.parametrize(
    "kw",
    [
        dict(model="synthetic", modalities=4, blocks=8, cores=8, rbs=32, heterogeneity=2.0, seed=1),
        dict(model="image_text", policy="reassign", heterogeneity=2.0, rbs=8),
    ],
)
def test_pacs_skips_only_candidates_whose_floor_exceeds_the_best(
    kw: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = optsplit.from_dict(multimodal_instance(**kw)).section(KEY)
    monkeypatch.setattr(heuristics, "SEARCH_TASKS", 0)
    pruned, n_pruned = heuristics.pacs(data)
    monkeypatch.setattr(heuristics, "PRUNE_MARGIN", float("inf"))  # simulate every candidate
    full, n_full = heuristics.pacs(data)
    assert pruned.makespan == full.makespan
    assert n_pruned < n_full


def _plan(inst: optsplit.Instance) -> dict[str, Any]:
    return copy.deepcopy(optsplit.solve(inst, KEY, "pacs").plan)


def _row(plan: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(r for r in plan["schedule"] if r["task"].startswith(prefix))


def test_the_engine_names_what_a_broken_plan_breaks() -> None:
    inst = optsplit.from_dict(tiny(3))
    plan = _plan(inst)
    assert optsplit.check(inst, plan).ok

    early = _plan(inst)
    _row(early, "img.conv1")["start"] = 0.0  # before its chunk is in
    msgs = optsplit.check(inst, early).messages()
    assert any("before its input 'tx:image" in m and "has arrived" in m for m in msgs), msgs

    pred = _plan(inst)
    _row(pred, "fuse")["start"] = _row(pred, "fuse")["start"] * 0.5
    msgs = optsplit.check(inst, pred).messages()
    assert any("before its predecessor" in m for m in msgs), msgs

    clash = _plan(inst)
    a, b = clash["schedule"][0], clash["schedule"][1]
    b["core"], b["start"] = a["core"], a["start"]
    msgs = optsplit.check(inst, clash).messages()
    assert any("overlap on 'core" in m for m in msgs), msgs

    static = _plan(inst)
    static["rbs"][0]["serves"] = ["image", "audio"]
    msgs = optsplit.check(inst, static).messages()
    assert any("RB policy is static" in m for m in msgs), msgs

    missing = _plan(inst)
    missing["schedule"].pop()
    assert "is not scheduled" in optsplit.check(inst, missing).messages()[0]


@pytest.mark.parametrize("seed", range(4))
def test_cpsat_milp_and_brute_force_agree_and_bound_the_heuristics(seed: int) -> None:
    inst = optsplit.from_dict(tiny(seed))
    res = solve_all(inst, ("exact", "exact-milp", "brute", "pacs", "rtfs"))
    ticks = {m: res[m].metrics["tick_objective"] for m in ("exact", "exact-milp", "brute")}
    assert ticks["exact"] == ticks["exact-milp"] == ticks["brute"], ticks
    assert res["exact"].metrics["tick_termination"] == "optimal"
    # every heuristic plan, rounded into the same ticks, is no better than the tick optimum
    data = inst.section(KEY)
    delta = res["exact"].metrics["resolution"]
    tick = build_ticks(data, delta, 1)
    for m in ("pacs", "rtfs"):
        sched = _schedule(data, res[m])
        assert makespan(tick, *exact._from_schedule(tick, data, sched)) >= ticks["exact"]
        # and in continuous time the exact plan is at most the rounding slack behind
        slack = (tick.n + 1) * delta
        assert res["exact"].objective <= res[m].objective + slack
    # the lower bound never exceeds what any method achieves, the exact optimum included
    for r in res.values():
        assert r.bound <= min(x.objective for x in res.values()) * (1 + 1e-12)


def _schedule(data: Any, res: optsplit.Result) -> heuristics.Schedule:
    from optsplit.formulations.multimodal.plan import read_plan

    dec = read_plan(data, res.plan)
    return heuristics.Schedule(dec, np.array([r["finish"] for r in res.plan["schedule"]]), res.objective)


def test_exact_at_a_work_limit_is_not_called_optimal() -> None:
    inst = optsplit.from_dict(
        multimodal_instance("audio_visual_text", cores=3, rbs=4, blocks_per_branch=3, seed=2)
    )
    res = optsplit.solve(inst, KEY, "exact", threads=1, solver_options={"stop_after_first_solution": True})
    assert res.status is Status.TIME_LIMIT and res.metrics["tick_termination"] == "iteration_limit"
    assert res.bound < res.objective and optsplit.check(inst, res).ok


def test_exact_refuses_the_reassign_policy() -> None:
    inst = optsplit.from_dict(multimodal_instance("audio_visual", policy="reassign"))
    with pytest.raises(InputError, match=r"radio\.policy: the exact models cover the static RB policy only"):
        optsplit.solve(inst, KEY, "exact")


def chain_model(flops: list[float], outputs: list[float], input_bytes: float) -> dict[str, Any]:
    layers = [
        {"name": f"l{i}", "flops": f, "output_bytes": o} for i, (f, o) in enumerate(zip(flops, outputs))
    ]
    layers[0]["inputs"] = ["input:cam"]
    return {
        "name": "chain",
        "input_bytes": input_bytes,
        "modalities": [{"name": "cam", "input_bytes": input_bytes}],
        "layers": layers,
    }


def test_one_modality_one_core_equals_routing_dijkstra() -> None:
    flops, outputs, input_bytes = [3e9, 1.5e9, 4e8, 2e7], [8e5, 4e5, 1e5, 4e3], 1.5e5
    rates, speed = [6e6, 2.5e6, 9e6, 1.2e6], 2e11
    doc = {
        "name": "one",
        "formulation": KEY,
        KEY: {
            "model": chain_model(flops, outputs, input_bytes),
            "radio": {"resource_blocks": 4, "rates": [rates]},
            "accelerator": {"cores": 1, "core_speed": speed},
            "sensors": [{"modality": "cam", "bits": 8 * input_bytes}],
        },
    }
    profile = {
        "name": "chain",
        "input_bytes": input_bytes,
        "layers": [
            {"name": f"l{i}", "flops": f, "output_bytes": o} for i, (f, o) in enumerate(zip(flops, outputs))
        ],
    }
    routing = {
        "name": "two-node",
        "formulation": "routing",
        "network": {
            "nodes": [{"name": "sensor", "speed": 0.0}, {"name": "acc", "speed": speed}],
            "links": [{"src": "sensor", "dst": "acc", "rate": sum(rates), "delay": 0.0}],
        },
        "job": {"source": "sensor", "destination": "acc", "profile": profile},
    }
    best = optsplit.solve(optsplit.from_dict(routing), "routing", "dijkstra").objective
    inst = optsplit.from_dict(doc)
    for name, res in solve_all(inst, ("rtfs", "pacs", "exact", "exact-milp", "brute")).items():
        assert res.objective == pytest.approx(best, rel=1e-9), name


def _broken(change: Any) -> dict[str, Any]:
    doc = tiny(0)
    model = optsplit.profiles.multimodal.model_to_dict(optsplit.profiles.multimodal.MODELS["audio_visual"]())
    doc[KEY]["model"] = model
    change(doc[KEY])
    return doc


def _set_inputs(section: dict[str, Any], layer: str, inputs: list[str]) -> None:
    next(x for x in section["model"]["layers"] if x["name"] == layer)["inputs"] = inputs


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            lambda s: _set_inputs(s, "img.pool1", ["img.layer1.0"]),
            r"multimodal\.model\.layers\[1\]\.inputs\[0\]",
            "cycle: img.pool1",
        ),
        (
            lambda s: _set_inputs(s, "img.pool1", ["img.conv9"]),
            r"multimodal\.model\.layers\[1\]\.inputs\[0\]",
            "unknown layer 'img.conv9'",
        ),
        (
            lambda s: s["model"]["modalities"].append({"name": "radar", "input_bytes": 1.0}),
            r"multimodal\.model\.modalities\[2\]\.name",
            "modality 'radar' feeds no layer",
        ),
        (lambda s: s["sensors"].pop(), r"multimodal\.sensors", "modality 'audio' of the model has no sensor"),
        (
            lambda s: s["sensors"].append({"modality": "radar"}),
            r"multimodal\.sensors\[2\]",
            "unknown modality 'radar'",
        ),
        (
            lambda s: s["radio"].update(resource_blocks=0),
            r"multimodal\.radio\.resource_blocks",
            "expected a number >= 1, got 0",
        ),
        (
            lambda s: s["radio"].update(resource_blocks=1, rates=[[1e6], [1e6]]),
            r"multimodal\.radio\.resource_blocks",
            "every modality needs one",
        ),
        (
            lambda s: s["radio"].update(rates=[[1e6, 1e6, 1e6]]),
            r"multimodal\.radio\.rates",
            "expected 2 rows",
        ),
        (
            lambda s: s["accelerator"].update(cores=3),
            r"multimodal\.accelerator\.core_speed",
            "expected 3 speeds",
        ),
        (lambda s: s.update(model="no_such_model"), r"multimodal\.model", "neither a shipped model"),
    ],
)
def test_bad_input_names_the_field(change: Any, path: str, words: str) -> None:
    with pytest.raises(InputError, match=path) as err:
        optsplit.from_dict(_broken(change), "bad.toml")
    assert words in str(err.value) and "bad.toml" in str(err.value)


def test_timeline_for_the_gantt_chart(tmp_path) -> None:
    from optsplit.timeline import draw_gantt, validate

    inst = optsplit.from_dict(tiny(1))
    res = optsplit.solve(inst, KEY, "pacs")
    tl, starts = optsplit.get_formulation(KEY).timeline(inst, res.plan)
    assert validate(tl, starts).makespan == pytest.approx(res.objective)
    assert draw_gantt(tl, starts, tmp_path / "g.png").stat().st_size > 0


def test_pacs_beats_rtfs_under_high_heterogeneity() -> None:
    low = optsplit.from_dict(multimodal_instance("camera_lidar", heterogeneity=0.0, seed=1))
    high = optsplit.from_dict(multimodal_instance("camera_lidar", heterogeneity=4.0, seed=1))
    gain = {}
    for name, inst in (("low", low), ("high", high)):
        res = solve_all(inst, ("rtfs", "pacs"))
        assert res["pacs"].objective <= res["rtfs"].objective
        gain[name] = 1 - res["pacs"].objective / res["rtfs"].objective
    assert gain["high"] > gain["low"]


def test_quick_bench_runs_and_reports(tmp_path) -> None:
    from optsplit.bench.runner import read_rows, run_suite
    from optsplit.formulations.multimodal.bench import SUITE

    paths = run_suite(SUITE, tmp_path, quick=True, isolate=False)
    rows = read_rows(tmp_path / "results.csv")
    assert len(rows) == len(SUITE.cases(True)) and all(r["check_ok"] == "True" for r in rows), rows
    exact = [r for r in rows if r["method"] == "exact"]
    assert exact and all(r["tick_termination"] == "optimal" for r in exact)
    text = (tmp_path / "README.md").read_text()
    assert "PACS within 5% of the exact optimum" in text and any(p.suffix == ".png" for p in paths)


def test_brute_force_refuses_large_instances_with_an_input_error() -> None:
    inst = optsplit.from_dict(multimodal_instance("audio_visual_text", blocks_per_branch=3))
    with pytest.raises(InputError, match="too large for brute force"):
        optsplit.solve(inst, KEY, "brute")
