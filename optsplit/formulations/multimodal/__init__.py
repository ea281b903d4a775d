"""Formulation `multimodal` (O-WiN, Xu, Wong, Du, Shin, arXiv 2603.02109): M sensors send
their modality's data over an OFDMA uplink of K resource blocks to a C-core accelerator that
runs one multimodal DNN; decide the RB assignment, chunking, core mapping and order to
minimise the makespan.

Methods: the paper's RTFS (sequential) and PACS (pipelined) as reconstructed, an exact
CP-SAT model and a MILP (HiGHS) at a stated time resolution, brute force for tiny
instances; every result carries the proven lower bound of `bound.py`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from optsplit.errors import InputError
from optsplit.formulations.multimodal import heuristics
from optsplit.formulations.multimodal.bound import lower_bound
from optsplit.formulations.multimodal.data import DEFS, KEY, SCHEMA, MultimodalData, build
from optsplit.formulations.multimodal.plan import PlanError, evaluate_plan, read_plan, timeline_of, to_plan
from optsplit.instance.model import Instance
from optsplit.problem import Method
from optsplit.result import Evaluation, Result, SolutionStatus, Termination
from optsplit.solvers.options import SolveOptions
from optsplit.solvers.registry import ModelKind
from optsplit.spec import Generator, Section
from optsplit.timeline import Timeline

if TYPE_CHECKING:
    from optsplit.bench.runner import Suite

HEURISTIC_BACKEND = "python (optsplit list scheduler)"


def _heuristic_result(
    data: MultimodalData, sched: heuristics.Schedule, t0: float, extra: dict[str, Any]
) -> Result:
    t1 = time.perf_counter()
    bound, terms = lower_bound(data)
    t2 = time.perf_counter()
    metrics = {
        "schedule_time": t1 - t0,
        "bound_time": t2 - t1,
        "lower_bound_terms": terms,
        "chunks": dict(zip(data.modalities, sched.decisions.chunks)),
        **extra,
    }
    return Result(
        KEY,
        "",
        Termination.HEURISTIC,
        SolutionStatus.FEASIBLE,
        sched.makespan,
        bound,
        t2 - t0,
        to_plan(data, sched.decisions, sched.finish),
        metrics,
        HEURISTIC_BACKEND,
    )


def run_rtfs(data: MultimodalData, backend: str | None, options: SolveOptions) -> Result:
    """RTFS: allocate RBs, wait for all data, then list-schedule the DAG."""
    t0 = time.perf_counter()
    return _heuristic_result(data, heuristics.rtfs(data), t0, {})


def run_pacs(data: MultimodalData, backend: str | None, options: SolveOptions) -> Result:
    """PACS: Johnson-ordered, chunked, event-driven list scheduling over a few candidates."""
    t0 = time.perf_counter()
    sched, tried = heuristics.pacs(data)
    return _heuristic_result(data, sched, t0, {"candidates": tried})


def _exact(kind: str) -> Any:
    def run(data: MultimodalData, backend: str | None, options: SolveOptions) -> Result:
        from optsplit.formulations.multimodal.exact import solve_exact

        return solve_exact(data, kind, backend, options)

    run.__doc__ = f"Exact tick model solved by {kind}."
    return run


class MultimodalFormulation:
    """Multimodal DNN over an OFDMA uplink and a multi-core accelerator (min makespan)."""

    key = KEY
    title = "Multimodal DNN: OFDMA uplink + multi-core accelerator co-scheduling (makespan)"
    reference = "S. Xu, K.-K. Wong, Y. Du, H. Shin, arXiv 2603.02109 (O-WiN; abstract only public)"
    objective_name = "makespan [s]"
    sense = "minimize"
    default_method = "pacs"
    plan_legend = (
        "rbs: RB k serves these modalities in turn (one under the static policy); chunks: pieces "
        "each modality's data are cut into (entry block tiles 'name#j/J'); "
        "schedule: task, core, start, finish [s]"
    )

    def sections(self) -> Mapping[str, Section]:
        return {KEY: Section(SCHEMA, build, DEFS)}

    def methods(self) -> Mapping[str, Method]:
        return {
            "pacs": Method(
                "pacs",
                "pipelined: Johnson-ordered transfers, chunked release, event-driven list scheduling",
                "reference",
                run_pacs,
            ),
            "rtfs": Method(
                "rtfs",
                "sequential: min-max RB allocation, wait for all data, then HEFT-like list scheduling",
                "reference",
                run_rtfs,
            ),
            "exact": Method(
                "exact",
                "CP-SAT: interval variables, no-overlap per core, RB assignment (static policy), "
                "at a time resolution; continuous makespan re-evaluated by the engine",
                "exact",
                _exact("cpsat"),
                (ModelKind.CP,),
                "cpsat",
                integers=True,
            ),
            "exact-milp": Method(
                "exact-milp",
                "disjunctive MILP of the same tick model (cross-check), HiGHS",
                "exact",
                _exact("milp"),
                (ModelKind.LINEAR,),
                "highs",
                integers=True,
                writes_model=True,
            ),
            "brute": Method(
                "brute",
                "enumeration of RB assignments, chunkings, core maps and orders (tiny instances only)",
                "exact",
                _exact("brute"),
            ),
        }

    def prepare(self, instance: Instance) -> MultimodalData:
        data = instance.section(KEY)
        if data is None:
            raise InputError(
                f"the {KEY} formulation needs a [{KEY}] section", source=instance.source, path=KEY
            )
        return data

    def evaluate(self, instance: Instance, plan: Mapping[str, Any]) -> Evaluation:
        return evaluate_plan(self.prepare(instance), plan)

    def timeline(self, instance: Instance, plan: Mapping[str, Any]) -> tuple[Timeline, np.ndarray]:
        """The plan as the engine's Timeline and start times (for `optsplit check --gantt`)."""
        data = self.prepare(instance)
        try:
            dec = read_plan(data, plan)
        except PlanError as exc:
            raise InputError(str(exc), source=instance.source, path="plan") from None
        return timeline_of(data, dec)

    def generators(self) -> Mapping[str, Generator]:
        from optsplit.formulations.multimodal.generate import generators

        return generators()

    def suites(self) -> Mapping[str, Suite]:
        from optsplit.formulations.multimodal.bench import SUITE

        return {SUITE.name: SUITE}
