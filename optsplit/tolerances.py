"""Numerical tolerances, in one place, each derived from what the solvers state they reach.

Back-ends, the settling of interior-point points, the evaluator and the tests read these
constants, so a plan a solver returns is judged by the same yardstick everywhere.
"""

from __future__ import annotations

# HiGHS' tightest accepted primal/dual feasibility tolerance (its options allow ≥ 1e-10).
HIGHS_LP_TOLERANCE = 1e-10

# HiGHS' default mip_feasibility_tolerance: a returned MIP point violating its model by more
# than this (rows, bounds, integrality) is not the point HiGHS claims it is.
HIGHS_MIP_FEASIBILITY = 1e-6

# Clarabel's default relative duality-gap tolerance (tol_gap_rel): its dual objective is a
# bound only to this relative accuracy, so one beyond the primal objective by more is none.
CONIC_GAP = 1e-8

# SCIP's default feasibility tolerance (numerics/feastol), absolute.
SCIP_FEASIBILITY = 1e-6

# A constraint of a plan (a deadline, a bandwidth budget) may be overrun by this fraction
# of its right-hand side; the evaluator and every method's settling step use the same figure.
PLAN_RELATIVE = 1e-6

# Clarabel's default tol_feas / tol_gap_rel are 1e-8; a point it returns is re-checked
# against every constraint to this absolute tolerance before it is called feasible. The
# conic models state their rows in units of their right-hand sides (robust: times in
# deadlines, bandwidth in B), so this absolute figure is the evaluator's relative one.
CONIC_FEASIBILITY = PLAN_RELATIVE

# A claimed objective agrees with the evaluator's when within this relative difference.
OBJECTIVE_RELATIVE = 1e-6

# Exact methods of one formulation agree with each other to this relative difference:
# LP/MILP optimality is proved to HIGHS_LP_TOLERANCE on costs scaled to O(1), so 1e-9
# leaves an order of magnitude of room.
EXACT_AGREEMENT = 1e-9
