"""`optsplit bench`: rows written as they finish, resumable, table and plot produced."""

from __future__ import annotations

import csv

import pytest

from optsplit.bench import SUITES, run_suite


def test_quick_routing_suite_resumes(tmp_path) -> None:
    suite = SUITES["routing"]
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


@pytest.mark.slow
def test_cases_run_in_guarded_worker_processes(tmp_path) -> None:
    run_suite(SUITES["routing"], tmp_path, quick=True, isolate=True)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert len(rows) == 6 and all(r["status"] == "optimal" for r in rows)
