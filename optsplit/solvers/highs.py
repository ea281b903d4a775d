"""HiGHS back-end (highspy, direct): LP and MILP from a LinearModel, passed as arrays."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import highspy
import numpy as np

from optsplit.result import SolutionStatus, Termination
from optsplit.solvers.linear import LinearModel
from optsplit.solvers.options import Outcome, SolveOptions
from optsplit.solvers.registry import ModelKind

_MS = highspy.HighsModelStatus
_TERMINATION = {
    _MS.kOptimal: Termination.OPTIMAL,
    _MS.kInfeasible: Termination.INFEASIBLE,
    _MS.kUnbounded: Termination.UNBOUNDED,
    _MS.kUnboundedOrInfeasible: Termination.INFEASIBLE_OR_UNBOUNDED,
    _MS.kTimeLimit: Termination.TIME_LIMIT,
    _MS.kIterationLimit: Termination.ITERATION_LIMIT,
    _MS.kSolutionLimit: Termination.ITERATION_LIMIT,
    _MS.kInterrupt: Termination.INTERRUPTED,
    _MS.kModelEmpty: Termination.OPTIMAL,
}
_FEASIBLE_POINT = 2  # HiGHS' kSolutionStatusFeasible
# A point HiGHS keeps after proving infeasibility or unboundedness is not a solution.
_NO_POINT = (Termination.INFEASIBLE, Termination.UNBOUNDED, Termination.INFEASIBLE_OR_UNBOUNDED)


def highs_version() -> str:
    return f"HiGHS {highspy.Highs().version()}"


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


def _configure(h: highspy.Highs, options: SolveOptions, log_path: str) -> None:
    h.setOptionValue("output_flag", True)
    h.setOptionValue("log_to_console", bool(options.verbose))
    h.setOptionValue("log_file", log_path)
    h.setOptionValue("random_seed", int(options.seed))
    # The tightest LP tolerances HiGHS accepts: optsplit's exact methods are references, and
    # alternative plans can differ by 1e-7 of the objective (integrality keeps its default).
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    if options.mip_gap == 0:
        h.setOptionValue("mip_abs_gap", 0.0)
    if options.time_limit is not None:
        h.setOptionValue("time_limit", float(options.time_limit))
    if options.threads is not None:
        h.setOptionValue("threads", int(options.threads))
    for key, value in options.extra.items():
        h.setOptionValue(key, value)


def write_linear_model(model: LinearModel, path: Path) -> None:
    """Write the model as .lp or .mps (HiGHS picks the format from the suffix)."""
    h = highspy.Highs()
    h.silent()
    h.passModel(_to_highs_lp(model))
    h.writeModel(str(path))


def solve_linear(model: LinearModel, options: SolveOptions, start: np.ndarray | None = None) -> Outcome:
    """Solve with HiGHS; ``start`` is a feasible point handed to the MIP solver as incumbent."""
    h = highspy.Highs()
    fd, log_path = tempfile.mkstemp(suffix=".log", prefix="optsplit-highs-")
    os.close(fd)
    try:
        _configure(h, options, log_path)
        h.passModel(_to_highs_lp(model))
        if options.write_model is not None:
            h.writeModel(str(options.write_model))
        if start is not None and model.is_mip:
            h.setSolution(model.num_cols, np.arange(model.num_cols, dtype=np.int32), start)
        t0 = time.perf_counter()
        h.run()
        runtime = time.perf_counter() - t0
        status = h.getModelStatus()
        info = h.getInfo()
        h.setOptionValue("log_file", "")
        log = Path(log_path).read_text(errors="replace")
    finally:
        Path(log_path).unlink(missing_ok=True)
    termination = _TERMINATION.get(status, Termination.ERROR)
    has_point = info.primal_solution_status == _FEASIBLE_POINT and termination not in _NO_POINT
    values = np.asarray(h.getSolution().col_value, dtype=float) if has_point else None
    objective = float(info.objective_function_value) if has_point else None
    if model.is_mip:
        bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
    else:
        bound = objective if termination is Termination.OPTIMAL else None
    if has_point:
        solution = SolutionStatus.OPTIMAL if termination is Termination.OPTIMAL else SolutionStatus.FEASIBLE
    else:
        solution = SolutionStatus.NO_SOLUTION
    return Outcome(termination, solution, objective, bound, runtime, highs_version(), log, values)


class HighsBackend:
    """Back-end `highs`: LinearModels on HiGHS through highspy, with MIP starts."""

    name = "highs"
    description = "HiGHS through highspy, model passed as arrays"
    kinds = frozenset({ModelKind.LINEAR})
    integers = True

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> str:
        return highs_version()

    def solve(self, model: LinearModel, options: SolveOptions, start: np.ndarray | None = None) -> Outcome:
        return solve_linear(model, options, start)
