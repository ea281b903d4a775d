"""HiGHS back-end (highspy, direct): LP and MILP from a LinearModel, passed as arrays.

Every HiGHS call's status is checked and a failure is reported with HiGHS' own words;
options the user passes through ``extra`` that HiGHS rejects are input errors. The
library stays silent: HiGHS logs to a file that becomes the outcome's log, and the
copyright banner highspy ≥ 1.16 prints on stdout is swallowed once, at import.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import highspy
import numpy as np

from optsplit.errors import InputError
from optsplit.result import SolutionStatus, Termination
from optsplit.solvers.linear import LinearModel
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import ModelKind
from optsplit.tolerances import EXACT_AGREEMENT, HIGHS_LP_TOLERANCE, HIGHS_MIP_FEASIBILITY

_MS = highspy.HighsModelStatus
_TERMINATION = {
    _MS.kOptimal: Termination.OPTIMAL,
    _MS.kInfeasible: Termination.INFEASIBLE,
    _MS.kUnbounded: Termination.UNBOUNDED,
    _MS.kUnboundedOrInfeasible: Termination.INFEASIBLE_OR_UNBOUNDED,
    _MS.kTimeLimit: Termination.TIME_LIMIT,
    _MS.kIterationLimit: Termination.ITERATION_LIMIT,
    _MS.kSolutionLimit: Termination.ITERATION_LIMIT,  # node, leaf or solution limit (mip_max_nodes…)
    _MS.kInterrupt: Termination.INTERRUPTED,
    _MS.kModelEmpty: Termination.OPTIMAL,
}
_NO_STATUS = 0  # HiGHS' kSolutionStatusNone
_FEASIBLE_POINT = 2  # HiGHS' kSolutionStatusFeasible
# A point HiGHS keeps after proving infeasibility or unboundedness is not a solution.
_NO_POINT = (Termination.INFEASIBLE, Termination.UNBOUNDED, Termination.INFEASIBLE_OR_UNBOUNDED)


class HighsCallFailed(Exception):
    """A HiGHS call returned kError; the message names the call and quotes HiGHS."""


def _construct_quietly() -> highspy.Highs:
    """A Highs object built with stdout (fd 1) pointed at /dev/null: highspy ≥ 1.16 prints
    its banner on the first construction in a process, which would corrupt `--json`."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


_VERSION = f"HiGHS {_construct_quietly().version()}"


def highs_version() -> str:
    return _VERSION


def _check(status: highspy.HighsStatus, call: str, log_path: str | None = None) -> None:
    """Raise HighsCallFailed when a call fails, with HiGHS' error lines from the log."""
    if status != highspy.HighsStatus.kError:
        return
    said = ""
    if log_path is not None:
        lines = Path(log_path).read_text(errors="replace").splitlines()
        said = " ".join(line.strip() for line in lines if line.lstrip().startswith("ERROR"))
    raise HighsCallFailed(f"HiGHS {call} failed" + (f": {said}" if said else ""))


def _to_highs_lp(model: LinearModel) -> highspy.HighsLp:
    lp = highspy.HighsLp()
    lp.num_col_ = model.num_cols
    lp.num_row_ = model.num_rows
    lp.offset_ = float(model.offset)
    lp.col_cost_ = np.asarray(model.c, dtype=float)
    lp.col_lower_ = np.asarray(model.col_lower, dtype=float)
    lp.col_upper_ = np.asarray(model.col_upper, dtype=float)
    lp.row_lower_ = np.asarray(model.row_lower, dtype=float)
    lp.row_upper_ = np.asarray(model.row_upper, dtype=float)
    A = model.A.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    if model.is_mip:
        kinds = highspy.HighsVarType
        lp.integrality_ = [kinds.kInteger if flag else kinds.kContinuous for flag in model.integer]
    if model.col_names is not None:
        lp.col_names_ = model.col_names
    if model.row_names is not None:
        lp.row_names_ = model.row_names
    return lp


def _set(h: highspy.Highs, key: str, value: Any, log_path: str) -> None:
    _check(h.setOptionValue(key, value), f"setOptionValue({key!r}, {value!r})", log_path)


def _configure(h: highspy.Highs, options: SolveOptions, log_path: str) -> None:
    _set(h, "output_flag", True, log_path)
    _set(h, "log_to_console", bool(options.verbose), log_path)
    _set(h, "log_file", log_path, log_path)
    _set(h, "random_seed", int(options.seed), log_path)
    # The tightest LP tolerances HiGHS accepts: optsplit's exact methods are references, and
    # alternative plans can differ by 1e-7 of the objective.
    _set(h, "primal_feasibility_tolerance", HIGHS_LP_TOLERANCE, log_path)
    _set(h, "dual_feasibility_tolerance", HIGHS_LP_TOLERANCE, log_path)
    _set(h, "mip_rel_gap", float(options.mip_gap), log_path)
    if options.mip_gap == 0:
        _set(h, "mip_abs_gap", 0.0, log_path)
        # After each incumbent HiGHS only looks for points better by mip_feasibility_tolerance
        # (absolute, 1e-6 by default): a plan better by less would be cut off unseen.
        _set(h, "mip_feasibility_tolerance", HIGHS_LP_TOLERANCE, log_path)
    if options.time_limit is not None:
        _set(h, "time_limit", float(options.time_limit), log_path)
    if options.threads is not None:
        _set(h, "threads", int(options.threads), log_path)
    for key, value in options.extra.items():
        if not isinstance(value, (bool, int, float, str)):
            raise InputError(
                f"HiGHS options take a number, true/false or text; got {value!r:.60} for {key}",
                path=f"options.{key}",
            )
        try:
            _set(h, key, value, log_path)
        except (HighsCallFailed, TypeError) as exc:
            raise InputError(
                f"HiGHS rejects option {key} = {value!r} ({exc})", path=f"options.{key}"
            ) from None


def write_linear_model(model: LinearModel, path: Path) -> None:
    """Write the model as .lp or .mps (HiGHS picks the format from the suffix)."""
    h = highspy.Highs()
    h.silent()
    try:
        _check(h.passModel(_to_highs_lp(model)), "passModel")
        _check(h.writeModel(str(path)), f"writeModel({str(path)!r})")
    except HighsCallFailed as exc:
        raise InputError(str(exc), path="write_model") from None


@contextmanager
def _ctrl_c_stops(h: highspy.Highs) -> Iterator[None]:
    """While HiGHS runs, Ctrl-C (SIGINT) asks it to stop at its next check, keeping its best
    point, instead of raising KeyboardInterrupt after the run and losing the plan.

    Only where SIGINT would raise KeyboardInterrupt (Python's default handler, main thread);
    the handler runs when HiGHS calls back into Python, which its interrupt checks do.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    requested = threading.Event()

    def on_sigint(_signum: int, _frame: object) -> None:
        requested.set()

    def check(event: Any) -> None:
        if requested.is_set():
            event.interrupt()

    events = (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt)
    for event in events:
        event.subscribe(check)
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        for event in events:
            event.unsubscribe(check)


def _lagrangian_bound(model: LinearModel, row_dual: np.ndarray) -> float | None:
    """Lower bound min_x {c·x + y·(b − A x)} over the column box, for HiGHS' row duals y
    clipped to their valid signs: valid for any y (weak duality), so a slightly dual
    infeasible point still gives a true bound; None when an infinite bound makes it −∞."""
    y = np.asarray(row_dual, dtype=float).copy()
    y[(y > 0) & ~np.isfinite(model.row_lower)] = 0.0
    y[(y < 0) & ~np.isfinite(model.row_upper)] = 0.0
    reduced = model.c - model.A.T @ y
    with np.errstate(invalid="ignore"):
        row_part = np.where(y > 0, y * model.row_lower, np.where(y < 0, y * model.row_upper, 0.0))
        col_part = np.where(
            reduced > 0,
            reduced * model.col_lower,
            np.where(reduced < 0, reduced * model.col_upper, 0.0),
        )
    total = float(model.offset + row_part.sum() + col_part.sum())
    return total if np.isfinite(total) else None


def _error(message: str, runtime: float, log: str) -> Outcome:
    return Outcome(
        Termination.ERROR, SolutionStatus.NO_SOLUTION, None, None, runtime, _VERSION, log, message=message
    )


@dataclass
class _PointCheck:
    """How a returned point compares with its model and with what HiGHS reports of it."""

    violation: float  # worst row, bound or integrality violation
    objective: float  # c·x + offset, recomputed

    @property
    def feasible(self) -> bool:
        return self.violation <= HIGHS_MIP_FEASIBILITY and bool(np.isfinite(self.objective))

    def disagreement(self, model: LinearModel, x: np.ndarray, reported: float) -> str | None:
        """Why the point is not what HiGHS says it is, or None."""
        if self.violation > HIGHS_MIP_FEASIBILITY:
            return f"the point HiGHS returned violates the model by {self.violation:.3g}"
        if not np.isfinite(self.objective):
            return f"the point HiGHS returned has objective {self.objective} (a cost is not finite)"
        scale = max(1.0, float(np.abs(model.c * x).sum()) + abs(model.offset))
        if not abs(self.objective - reported) <= EXACT_AGREEMENT * scale:
            return f"the point HiGHS returned has objective {self.objective!r}, HiGHS reports {reported!r}"
        return None


def _check_point(model: LinearModel, x: np.ndarray) -> _PointCheck:
    with np.errstate(invalid="ignore"):  # an infinite cost times 0 is NaN: not a finite objective
        objective = model.objective_of(x)
    activity = model.A @ x
    violation = max(
        float(np.max(model.row_lower - activity, initial=0.0)),
        float(np.max(activity - model.row_upper, initial=0.0)),
        float(np.max(model.col_lower - x, initial=0.0)),
        float(np.max(x - model.col_upper, initial=0.0)),
        float(np.max(np.abs(x - np.round(x))[model.integer], initial=0.0)),
    )
    return _PointCheck(violation, objective)


def solve_linear(model: LinearModel, options: SolveOptions, start: np.ndarray | None = None) -> Outcome:
    """Solve with HiGHS; ``start`` is a feasible point handed to the MIP solver as incumbent.

    A MIP's bound is HiGHS' dual bound; an LP's the Lagrangian value of its row duals.
    The point is checked against the model: HiGHS 1.16 can return a MIP start unchanged
    with the objective of a better point it found; the solve is then repeated without
    the start, and a point that still disagrees is reported as a numerical error.
    """
    out = _run(model, options, start)
    found = _disagreement(model, out)
    if found is not None and start is not None and out.termination is not Termination.INTERRUPTED:
        again = _run(model, replace(options, write_model=None), None)
        again.runtime += out.runtime
        again.log = f"{out.log}\noptsplit: {found[1]}; solving again without the MIP start\n{again.log}"
        out, found = again, _disagreement(model, again)
    if found is None:
        return out
    check, why = found
    out.termination = Termination.NUMERICAL_ERROR
    out.message = why
    if check.feasible:
        out.solution_status, out.objective = SolutionStatus.FEASIBLE, check.objective
    else:
        out.solution_status, out.objective, out.values = SolutionStatus.NO_SOLUTION, None, None
    return out


def _disagreement(model: LinearModel, out: Outcome) -> tuple[_PointCheck, str] | None:
    """The check of the point an outcome holds and why it is not what HiGHS reports; None
    when it is, or when there is no point."""
    if out.values is None or out.objective is None:
        return None
    check = _check_point(model, out.values)
    why = check.disagreement(model, out.values, out.objective)
    return None if why is None else (check, why)


def _run(model: LinearModel, options: SolveOptions, start: np.ndarray | None) -> Outcome:
    """One HiGHS run, its statuses read as they are reported."""
    h = highspy.Highs()
    fd, log_path = tempfile.mkstemp(suffix=".log", prefix="optsplit-highs-")
    os.close(fd)
    runtime = 0.0
    try:
        try:
            _configure(h, options, log_path)
            _check(h.passModel(_to_highs_lp(model)), "passModel", log_path)
            if options.write_model is not None:
                _check(h.writeModel(str(options.write_model)), "writeModel", log_path)
            if start is not None and model.is_mip:
                cols = np.arange(model.num_cols, dtype=np.int32)
                _check(h.setSolution(model.num_cols, cols, start), "setSolution", log_path)
            if options.threads is not None:
                # HiGHS keeps one thread pool per process, sized by the first solve; another
                # `threads` value fails ("scheduler already initialized") unless it is reset.
                highspy.Highs.resetGlobalScheduler(True)
            t0 = time.perf_counter()
            with _ctrl_c_stops(h):
                status = h.run()
            runtime = time.perf_counter() - t0
            _check(status, "run", log_path)
        except HighsCallFailed as exc:
            h.setOptionValue("log_file", "")
            return _error(str(exc), runtime, Path(log_path).read_text(errors="replace"))
        h.setOptionValue("log_file", "")
        log = Path(log_path).read_text(errors="replace")
    finally:
        Path(log_path).unlink(missing_ok=True)
    model_status = h.getModelStatus()
    termination = _TERMINATION.get(model_status)
    if termination is None:
        return _error(
            f"HiGHS stopped with model status '{h.modelStatusToString(model_status)}'", runtime, log
        )
    info = h.getInfo()
    has_point = info.primal_solution_status == _FEASIBLE_POINT and termination not in _NO_POINT
    values = np.asarray(h.getSolution().col_value, dtype=float) if has_point else None
    objective = float(info.objective_function_value) if has_point else None
    bound: float | None = None
    if model.is_mip:
        bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
    elif info.dual_solution_status != _NO_STATUS and termination not in _NO_POINT:
        bound = _lagrangian_bound(model, np.asarray(h.getSolution().row_dual, dtype=float))
    if has_point:
        solution = SolutionStatus.OPTIMAL if termination is Termination.OPTIMAL else SolutionStatus.FEASIBLE
    else:
        solution = SolutionStatus.NO_SOLUTION
    return Outcome(termination, solution, objective, bound, runtime, _VERSION, log, values)


class HighsBackend:
    """Back-end `highs`: LinearModels on HiGHS through highspy, with MIP starts."""

    name = "highs"
    description = "HiGHS through highspy, model passed as arrays"
    kinds = frozenset({ModelKind.LINEAR})
    integers = True
    nonlinear = False

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> str:
        return _VERSION

    def solve(self, model: LinearModel, options: SolveOptions, start: np.ndarray | None = None) -> Outcome:
        return solve_linear(model, options, start)
