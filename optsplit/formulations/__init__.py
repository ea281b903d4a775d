"""The formulation registry: one package per paper problem, registered by key.

Built-ins are listed by import path and imported on first use; third-party packages add
theirs with ``optsplit.register_formulation()`` or the ``optsplit.formulations``
entry-point group.
"""

from __future__ import annotations

from typing import Any

from optsplit.plugins import Lazy, Registry


def _is_formulation(obj: Any) -> bool:
    return all(hasattr(obj, name) for name in ("key", "methods", "prepare", "evaluate"))


FORMULATIONS: Registry[Any] = Registry("formulation", "optsplit.formulations", _is_formulation)
FORMULATIONS.add_builtin("routing", Lazy("optsplit.formulations.routing:RoutingFormulation"))
FORMULATIONS.add_builtin("robust", Lazy("optsplit.formulations.robust:RobustFormulation"))
FORMULATIONS.add_builtin("multimodal", Lazy("optsplit.formulations.multimodal:MultimodalFormulation"))
FORMULATIONS.add_builtin("intradp", Lazy("optsplit.formulations.intradp:IntraDPFormulation"))
FORMULATIONS.add_builtin("online", Lazy("optsplit.formulations.online:OnlineFormulation"))
