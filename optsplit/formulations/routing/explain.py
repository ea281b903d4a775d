"""Why a routing instance has no plan, said in the user's terms."""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import dijkstra

from optsplit.formulations.routing.data import RoutingData
from optsplit.formulations.routing.layered import LayeredGraph


def explain_infeasible(data: RoutingData, graph: LayeredGraph) -> str | None:
    """Name the first layer no reachable node can compute, or the unreachable destination."""
    V, K = data.num_nodes, data.num_layers
    src, dst = data.names[data.source], data.names[data.destination]
    for k in range(K):
        if not np.isfinite(data.compute[k]).any():
            return (
                f"no node can compute layer {k + 1} '{data.layer_names[k]}' "
                "(no node has speed > 0 or a measured time for it)"
            )
    dist = dijkstra(graph.edges.to_csr(), directed=True, indices=graph.source)
    reach = np.isfinite(dist).reshape(K + 1, V)
    for k in range(1, K + 1):
        if not reach[k].any():
            able = [data.names[v] for v in np.flatnonzero(np.isfinite(data.compute[k - 1]))]
            where = "the input at" if k == 1 else f"the output of layer {k - 1} from"
            return (
                f"{where} '{src}' cannot reach any node able to compute layer {k} "
                f"'{data.layer_names[k - 1]}' ({', '.join(able[:5])}"
                f"{', …' if len(able) > 5 else ''}): the network is disconnected"
            )
    if not reach[K, data.destination]:
        return f"the result cannot reach destination '{dst}' from source '{src}': no route"
    return None
