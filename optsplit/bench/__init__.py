"""Benchmark suites (`optsplit bench SUITE`): resumable CSV rows, Markdown table, plot."""

from optsplit.bench.robust import SUITE as ROBUST
from optsplit.bench.routing import SUITE as ROUTING
from optsplit.bench.runner import Case, Suite, run_suite

SUITES: dict[str, Suite] = {s.name: s for s in (ROUTING, ROBUST)}

__all__ = ["SUITES", "Case", "Suite", "run_suite"]
