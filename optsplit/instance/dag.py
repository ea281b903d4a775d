"""Profiles as DAGs: each layer may name the layers it consumes (default: the previous one).

A name ``input:<modality>`` stands for a model input declared by the profile's modality
table (multimodal profiles); otherwise the first layer consumes the profile's input tensor.
Layers must be listed after the layers they consume, which also rules out cycles; the checks
below say which of the two was broken.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from optsplit.errors import InputError
from optsplit.instance.model import Profile

INPUT_PREFIX = "input:"


def input_name(modality: str) -> str:
    """The reserved name by which a layer consumes the model input of ``modality``."""
    return f"{INPUT_PREFIX}{modality}"


def resolved_inputs(profile: Profile) -> tuple[tuple[str, ...], ...]:
    """Per layer, the names it consumes with the default filled in; () is the profile's input."""
    out: list[tuple[str, ...]] = []
    for j, layer in enumerate(profile.layers):
        if layer.inputs:
            out.append(layer.inputs)
        else:
            out.append((profile.layers[j - 1].name,) if j else ())
    return tuple(out)


def is_chain(profile: Profile) -> bool:
    """True when every layer consumes just the previous one (the first, the profile's input):
    what the chain formulations assume."""
    return all(
        names == ((profile.layers[j - 1].name,) if j else ())
        for j, names in enumerate(resolved_inputs(profile))
    )


def consumers(profile: Profile) -> dict[str, list[str]]:
    """Name (layer or ``input:<modality>``) → the layers that consume its output, in file order."""
    users: dict[str, list[str]] = {layer.name: [] for layer in profile.layers}
    for layer, names in zip(profile.layers, resolved_inputs(profile)):
        for name in names:
            users.setdefault(name, []).append(layer.name)
    return users


def descendants(profile: Profile, start: str) -> list[str]:
    """Layers that depend on ``start`` (a layer or ``input:<modality>``), in file order."""
    users = consumers(profile)
    seen: set[str] = set()
    stack = [start]
    while stack:
        for user in users.get(stack.pop(), []):
            if user not in seen:
                seen.add(user)
                stack.append(user)
    return [layer.name for layer in profile.layers if layer.name in seen]


def _path(users: dict[str, list[str]], src: str, dst: str) -> list[str]:
    """A shortest consumer path src → … → dst (breadth first); [] when there is none."""
    parent: dict[str, str] = {}
    frontier = [src]
    while frontier:
        nxt = []
        for node in frontier:
            for user in users.get(node, []):
                if user not in parent and user != src:
                    parent[user] = node
                    if user == dst:
                        path = [dst]
                        while path[-1] != src:
                            path.append(parent[path[-1]])
                        return path[::-1]
                    nxt.append(user)
        frontier = nxt
    return []


def validate_dag(
    profile: Profile,
    modalities: Sequence[str] | None = None,
    *,
    source: str | None = None,
    at: str = "",
) -> None:
    """Check the layer graph of ``profile``; raise InputError naming the field on the first fault.

    ``modalities`` are the names of the profile's model inputs (its modality table), or None
    for a profile with one input tensor. ``at`` prefixes field paths (e.g. ``job.profile``).
    """
    prefix = f"{at}." if at else ""

    def fail(message: str, path: str) -> None:
        raise InputError(message, source=source, path=prefix + path)

    index: dict[str, int] = {}
    for j, layer in enumerate(profile.layers):
        if layer.name.startswith(INPUT_PREFIX):
            fail(
                f"layer names starting with '{INPUT_PREFIX}' are reserved for model inputs",
                f"layers[{j}].name",
            )
        if layer.name in index:
            fail(
                f"duplicate layer name '{layer.name}' (also layers[{index[layer.name]}])", f"layers[{j}].name"
            )
        index[layer.name] = j
    declared: dict[str, int] = {}
    for i, name in enumerate(modalities or ()):
        if name in declared:
            fail(f"duplicate modality '{name}' (also modalities[{declared[name]}])", f"modalities[{i}].name")
        declared[name] = i
    if modalities is not None and profile.layers and not profile.layers[0].inputs:
        fail(
            f"the first layer must name its input ('{INPUT_PREFIX}<modality>') "
            "when the profile declares modalities",
            "layers[0].inputs",
        )
    users = consumers(profile)
    for j, layer in enumerate(profile.layers):
        listed: dict[str, int] = {}
        for k, name in enumerate(layer.inputs):
            where = f"layers[{j}].inputs[{k}]"
            if name in listed:
                fail(f"'{name}' is listed twice (also inputs[{listed[name]}])", where)
            listed[name] = k
            if name.startswith(INPUT_PREFIX):
                modality = name[len(INPUT_PREFIX) :]
                if modalities is None:
                    fail(f"'{name}' names a model input, but the profile declares no modalities", where)
                elif modality not in declared:
                    fail(f"unknown modality '{modality}'; declared: {', '.join(declared)}", where)
                continue
            if name == layer.name:
                fail(f"layer '{name}' cannot consume its own output", where)
            if name not in index:
                close = difflib.get_close_matches(name, list(index), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                fail(f"unknown layer '{name}'{hint}", where)
            if index[name] > j:
                cycle = _path(users, layer.name, name)
                if cycle:
                    fail(f"cycle: {' -> '.join([*cycle, layer.name])}", where)
                fail(
                    f"'{name}' comes later (layers[{index[name]}]); "
                    "list every layer after the layers it consumes",
                    where,
                )
    last = profile.layers[-1].name if profile.layers else None
    for j, layer in enumerate(profile.layers):
        if layer.name != last and not users.get(layer.name):
            fail(
                f"the output of layer '{layer.name}' is consumed by no layer; only the last layer may be "
                "the model's output",
                f"layers[{j}]",
            )
    for name, i in declared.items():
        if not users.get(input_name(name)):
            fail(f"modality '{name}' feeds no layer", f"modalities[{i}].name")
