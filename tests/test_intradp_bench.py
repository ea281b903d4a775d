"""The `intradp` bench suite: its quick cases run, every plan re-checks, the report is written."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from optsplit.formulations.intradp.bench import BANDWIDTHS, EXACT_MODELS, MODELS, SUITE, execute

REPO = Path(__file__).resolve().parents[1]


def test_quick_cases_run_and_report(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    cases = SUITE.cases(True)
    assert {c.method for c in cases} == {"intradp", "layerwise", "all-local", "all-offload", "dp", "milp"}
    rows = []
    for case in cases:
        if case.method == "milp":
            # default threads: HiGHS refuses a second thread count in one process
            case = replace(case, time_limit=None, threads=None, options={"mip_max_nodes": 100_000})
        row = execute(case)
        assert row["checks_ok"] is True, (case.key, row)
        rows.append(
            {
                **{k: str(v) for k, v in row.items()},
                "group": case.group,
                "instance": case.instance,
                "method": case.method,
                "threads": "1",
                "seed": "0",
            }
        )
    milp = next(r for r in rows if r["method"] == "milp")
    assert milp["status"] == "optimal"
    assert float(milp["objective"]) <= float(milp["heuristic"]) * (1 + 1e-9)
    exact = next(r for r in rows if r["method"] == "dp" and r["group"] == "latency")
    assert set(json.loads(exact["statuses"])) == {"optimal"}
    assert json.loads(exact["values"])[0] == pytest.approx(float(milp["objective"]), rel=1e-7)  # at 1 MB/s
    paths = SUITE.report(rows, tmp_path)
    text = (tmp_path / "README.md").read_text()
    assert "random-chain-4" in text and "heuristic above optimum" in text and "2 / 2" in text
    assert {p.name for p in paths} >= {"README.md", "latency_vs_bandwidth.png", "energy_vs_bandwidth.png"}


def test_full_suite_is_planned_within_budget() -> None:
    cases = SUITE.cases(False)
    sweeps = [c for c in cases if c.method not in ("milp", "dp")]
    exact = [c for c in cases if c.method == "dp"]
    milps = [c for c in cases if c.method == "milp"]
    assert len(sweeps) == len(MODELS) * 2 * 4 and all(
        len(c.spec["bandwidths"]) == len(BANDWIDTHS) for c in sweeps
    )
    assert len(exact) == len(EXACT_MODELS) * 2
    assert sum(c.time_limit or 0 for c in milps) <= 12 * 60  # dp sweeps: seconds each (README)
    assert {c.options.get("dp_bound", False) for c in milps} == {True, False}
    assert any(c.instance.startswith("resnet152") for c in milps)


@pytest.mark.slow
def test_resnet152_heuristic_plans_check(monkeypatch) -> None:
    import optsplit

    monkeypatch.chdir(REPO)
    inst = optsplit.load("instances/intradp/resnet152-10MBps.toml")
    res = optsplit.solve(inst, solver="intradp", solver_options={"bandwidth_table": [1, 10, 30]})
    assert optsplit.check(inst, res).ok
