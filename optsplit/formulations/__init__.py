"""One module per paper problem, registered by key (same keys as DESIGN's table)."""

from __future__ import annotations

from types import MappingProxyType

from optsplit.formulations.robust import RobustFormulation
from optsplit.formulations.routing import RoutingFormulation
from optsplit.problem import Formulation

REGISTRY: MappingProxyType[str, Formulation] = MappingProxyType(
    {f.key: f for f in (RoutingFormulation(), RobustFormulation())}
)
