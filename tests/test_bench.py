"""`optsplit bench`: rows written as they finish, resumable, table and plot produced."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

from optsplit.bench import Case, Suite, run_suite, suites
from optsplit.bench.environment import header as environment_header
from optsplit.bench.runner import RUNNER_FIELDS, failure_reason
from optsplit.result import Result, SolutionStatus, Termination


def test_quick_routing_suite_resumes(tmp_path) -> None:
    suite = suites()["routing"]
    paths = run_suite(suite, tmp_path, quick=True, isolate=False)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert len(rows) == len(suite.cases(True)) == 6
    assert all(r["status"] == "optimal" and r["check_ok"] == "True" for r in rows)
    table = (tmp_path / "README.md").read_text()
    assert "HiGHS" in table and "tiered-10-alexnet" in table and "| yes |" in table
    assert (tmp_path / "runtime.png").stat().st_size > 1000
    assert {p.name for p in paths} == {"results.csv", "README.md", "runtime.png"}
    # drop the last row as if the run had been interrupted: only that case runs again
    lines = (tmp_path / "results.csv").read_text().splitlines(keepends=True)
    (tmp_path / "results.csv").write_text("".join(lines[:-1]))
    run_suite(suite, tmp_path, quick=True, isolate=False)
    again = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [r["method"] for r in again] == [r["method"] for r in rows]
    assert again[:-1] == rows[:-1]


def _flaky(state: dict[str, Any]) -> Suite:
    """Three cases: one fine, one raising and one failing silently until ``state['fixed']``."""

    def cases(quick: bool) -> list[Case]:
        return [Case("g", name, "m", {}, "none") for name in ("fine", "raises", "silent")]

    def execute(case: Case) -> dict[str, Any]:
        state["runs"].append(case.instance)
        if state["fixed"] or case.instance == "fine":
            return {"status": "optimal", "objective": len(state["runs"])}
        if case.instance == "raises":
            raise ValueError("boom")
        return {"status": "error"}

    def report(rows: list[dict[str, str]], out_dir: Path) -> list[Path]:
        state["reported"] = rows
        return []

    return Suite("flaky", "test suite", ("status", "objective"), cases, report, execute)


def _rows(path: Path) -> list[dict[str, str]]:
    with (path / "results.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_error_rows_carry_their_reason_and_run_again(tmp_path) -> None:
    state: dict[str, Any] = {"runs": [], "fixed": False}
    suite = _flaky(state)
    run_suite(suite, tmp_path, isolate=False)
    first = {r["instance"]: r for r in _rows(tmp_path)}
    assert first["fine"]["status"] == "optimal" and first["fine"]["error"] == ""
    assert first["raises"]["status"] == "error"
    assert first["raises"]["error"].startswith("ValueError: boom (at test_bench.py:")
    assert first["silent"]["error"] == "the suite returned status error without a reason"
    state["fixed"] = True
    run_suite(suite, tmp_path, isolate=False)
    assert state["runs"] == ["fine", "raises", "silent", "raises", "silent"]  # only the failed ones
    again = _rows(tmp_path)
    assert [r["instance"] for r in again] == ["fine", "raises", "silent"]  # one row per case
    assert again[0] == first["fine"] and all(r["status"] == "optimal" for r in again)
    assert [r["instance"] for r in state["reported"]] == ["fine", "raises", "silent"]


def test_a_row_cut_off_mid_write_runs_again(tmp_path) -> None:
    state: dict[str, Any] = {"runs": [], "fixed": True}
    suite = _flaky(state)
    run_suite(suite, tmp_path, isolate=False)
    text = (tmp_path / "results.csv").read_text()
    (tmp_path / "results.csv").write_text(text[:-8])  # the writer was killed mid-line
    run_suite(suite, tmp_path, isolate=False)
    assert state["runs"] == ["fine", "raises", "silent", "silent"]
    assert [r["instance"] for r in _rows(tmp_path)] == ["fine", "raises", "silent"]
    assert not list(tmp_path.glob(".results.csv.*"))  # the atomic rewrite left no temporary file


def test_rows_under_an_older_header_are_kept_and_rewritten(tmp_path) -> None:
    state: dict[str, Any] = {"runs": [], "fixed": True}
    (tmp_path / "results.csv").write_text("group,instance,method,backend,status\ng,fine,m,,optimal\n")
    run_suite(_flaky(state), tmp_path, isolate=False)
    rows = _rows(tmp_path)
    assert state["runs"] == ["raises", "silent"]
    assert list(rows[0]) == ["group", "instance", "method", "backend", "status", "objective", *RUNNER_FIELDS]
    assert [(r["instance"], r["status"]) for r in rows] == [
        (n, "optimal") for n in ("fine", "raises", "silent")
    ]


def test_a_failed_solve_explains_itself() -> None:
    base = Result("routing", "lp", Termination.ERROR, SolutionStatus.NO_SOLUTION)
    log = "Running HiGHS\nERROR:   Option 'threads' is set to 1 but the scheduler has 2\nsolved\n"
    assert (
        failure_reason(replace(base, log=log))
        == "ERROR:   Option 'threads' is set to 1 but the scheduler has 2"
    )
    assert failure_reason(replace(base, log="a\nb\nc\nd\n")) == "b | c | d"
    assert failure_reason(replace(base, log=log, explanation="why")) == "why"
    assert "termination error" in failure_reason(base)


def _routing_row(method: str, objective: float, **extra: str) -> dict[str, str]:
    row = {"group": "size", "instance": "x", "method": method, "backend": "", "status": "optimal"}
    row.update(
        nodes="10", layers="11", runtime="0.5" if method == "milp" else "0.001", objective=str(objective)
    )
    return {**row, "check_ok": "True", **extra}


def test_routing_findings_compare_before_claiming_the_same_optimum() -> None:
    from optsplit.formulations.routing.bench import _findings

    same = _findings([_routing_row("dijkstra", 1.0), _routing_row("milp", 1.0 + 1e-12)])
    assert any("same optimum" in line and "500x" in line for line in same)
    other = _findings([_routing_row("dijkstra", 1.0), _routing_row("milp", 1.001)])
    assert any("DIFFERENT optima (relative difference 1.0e-03" in line for line in other)
    assert not any("same optimum" in line for line in other)
    failed = _findings([_routing_row("dijkstra", 1.0), _routing_row("lp", 1.0, status="error")])
    assert any("error or were killed" in line and "x/lp" in line for line in failed)


def test_robust_findings_say_slower_when_pccp_is_slower() -> None:
    from optsplit.formulations.robust.bench import _comparisons

    def row(method: str, runtime: str) -> dict[str, str]:
        return {"status": "optimal", "runtime": runtime, "devices": "3", "objective": "1"}

    slower = _comparisons({("scale", "n3"): {"pccp": row("pccp", "2"), "scip": row("scip", "1")}})
    assert any("pccp 2.0x slower" in line for line in slower)
    faster = _comparisons({("scale", "n3"): {"pccp": row("pccp", "0.5"), "scip": row("scip", "10")}})
    assert any("pccp 20.0x faster" in line for line in faster)


def test_report_header_counts_what_the_rows_record() -> None:
    lines = environment_header(
        [{"threads": "1", "seed": "0", "solver": "HiGHS 1.16.0"}, {"threads": "1", "seed": "0", "solver": ""}]
    )
    assert "- threads: 1 (2 rows)" in lines
    assert "- solver versions: (none) (1 row), HiGHS 1.16.0 (1 row)" in lines
