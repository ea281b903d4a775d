"""Benchmark suites of `online`: quick cases run, rows are complete and the report is written."""

from __future__ import annotations

import csv

import pytest

from optsplit.bench import run_suite, suites


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_seed_sweep_quick(tmp_path) -> None:
    paths = run_suite(suites()["online-seeds"], tmp_path, quick=True, isolate=False)
    rows = _rows(paths[0])
    assert {r["method"] for r in rows} == {"enachi", "offline"} and len(rows) == 4
    for seed in ("seed0", "seed1"):
        acc = next(float(r["accuracy"]) for r in rows if r["instance"] == seed and r["method"] == "enachi")
        same = next(
            float(r["bound_same_energy"]) for r in rows if r["instance"] == seed and r["method"] == "enachi"
        )
        assert 0 <= acc <= same <= 1
    assert "ENACHI accuracy over 2 seeds" in (tmp_path / "README.md").read_text()


@pytest.mark.slow
def test_main_suite_quick(tmp_path) -> None:
    paths = run_suite(suites()["online"], tmp_path, quick=True, isolate=False)
    rows = _rows(paths[0])
    assert all(r["status"] in ("feasible", "ok") for r in rows), [r["error"] for r in rows if r["error"]]
    for r in rows:
        if r["bound_same_energy"]:
            assert float(r["accuracy"]) <= float(r["bound_same_energy"]) + 1e-12, r
    engine = next(r for r in rows if r["method"] == "engine")
    assert float(engine["user_slots_per_s"]) > 0
    text = (tmp_path / "README.md").read_text()
    assert "## Headline" in text and "vs `full-transmission`" in text
    assert (tmp_path / "accuracy_energy.png").stat().st_size > 0
