"""The layered graph: the shared exact reference of optsplit's formulations.

`build_layered` makes the graph from arrays; `flow_lp` its totally unimodular unit-flow LP;
`constrained_path` a shortest path under path-resource limits (e.g. a chance constraint on
the sum of means and variances along the path).
"""

from optsplit.layered.constrained import constrained_path
from optsplit.layered.graph import (
    LayeredGraph,
    build_layered,
    flow_lp,
    path_from_flow,
    path_weight,
    useful_edges,
)

__all__ = [
    "LayeredGraph",
    "build_layered",
    "constrained_path",
    "flow_lp",
    "path_from_flow",
    "path_weight",
    "useful_edges",
]
