"""Routing's instance sections: `[network]` (nodes, links) and `[job]` (source, destination,
profile), with the checks a schema cannot express (unique names, known ends, duplicates)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from optsplit.errors import InputError
from optsplit.formulations.routing.model import Job, Link, Network, Node
from optsplit.instance.loader import resolve_profile
from optsplit.instance.messages import quoted, shown
from optsplit.spec import LoadContext, Section


def build_network(doc: Mapping[str, Any], ctx: LoadContext, built: Mapping[str, Any]) -> Network:
    """Nodes and directed links (duplex links expanded); names unique, ends known."""
    source = ctx.source
    nodes = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(doc["nodes"]):
        name = raw["name"]
        if name in seen:
            raise InputError(
                f"duplicate node name {quoted(name)} (also network.nodes[{seen[name]}])",
                source=source,
                path=f"network.nodes[{i}].name",
            )
        seen[name] = i
        nodes.append(
            Node(
                name,
                float(raw.get("speed", 0.0)),
                str(raw.get("kind", "")),
                raw.get("processor"),
                raw.get("x"),
                raw.get("y"),
            )
        )
    links: list[Link] = []
    where: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(doc["links"]):
        for end in ("src", "dst"):
            if raw[end] not in seen:
                raise InputError(
                    f"unknown node {quoted(raw[end])}", source=source, path=f"network.links[{i}].{end}"
                )
        if raw["src"] == raw["dst"]:
            raise InputError(
                "a link must join two different nodes", source=source, path=f"network.links[{i}]"
            )
        pairs = [(raw["src"], raw["dst"])]
        if raw.get("duplex", True):
            pairs.append((raw["dst"], raw["src"]))
        for src, dst in pairs:
            if (src, dst) in where:
                raise InputError(
                    f"duplicate link {shown(src)}->{shown(dst)} (also network.links[{where[src, dst]}])",
                    source=source,
                    path=f"network.links[{i}]",
                )
            where[src, dst] = i
            links.append(Link(src, dst, float(raw["rate"]), float(raw.get("delay", 0.0))))
    return Network(tuple(nodes), tuple(links), str(doc.get("kind", "")))


def build_job(raw: Mapping[str, Any], ctx: LoadContext, built: Mapping[str, Any]) -> Job:
    """The job; its source and destination must be nodes of the network."""
    names = built["network"].index()
    for end in ("source", "destination"):
        if raw[end] not in names:
            raise InputError(f"unknown node {quoted(raw[end])}", source=ctx.source, path=f"job.{end}")
    return Job(raw["source"], raw["destination"], resolve_profile(raw["profile"], ctx, "job.profile"))


def sections() -> dict[str, Section]:
    fragment = json.loads(resources.files(__package__).joinpath("schema.json").read_text())
    props, defs = fragment["properties"], fragment["$defs"]
    return {
        "network": Section(props["network"], build_network, defs),
        "job": Section(props["job"], build_job, defs, needs=("network",)),
    }
