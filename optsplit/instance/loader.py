"""Read, validate and build instances and profiles; write them back.

Reading stays within ReadLimits (size, nesting, YAML aliases, digits: optsplit.instance.reading).
Validation has three stages: a scan for what no schema expresses about numbers and depth,
the JSON Schema shipped with the package (shapes, types, ranges), then checks across fields
(names that must exist, duplicates). Every error names the file and the field path,
e.g. ``network.links[3].rate``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tomli_w
import yaml

from optsplit.errors import InputError
from optsplit.instance import reading
from optsplit.instance.covariance import covariances, matrix_rows
from optsplit.instance.dag import validate_dag
from optsplit.instance.limits import DEFAULT_LIMITS, ReadLimits
from optsplit.instance.messages import brief, quoted
from optsplit.instance.model import (
    Instance,
    Layer,
    Profile,
    TimeStat,
)
from optsplit.instance.sections import build_sections
from optsplit.instance.validation import validate
from optsplit.spec import LoadContext


def read_document(path: str | Path, limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Parse a TOML, JSON or YAML file into a dict (safe loaders, within ``limits``)."""
    return reading.read_document(Path(path), limits)


def _time_stats(raw: dict[str, Any] | None) -> dict[str, TimeStat]:
    return {
        key: TimeStat(float(v["mean"]), float(v.get("var", 0.0)), v.get("samples"))
        for key, v in (raw or {}).items()
    }


def profile_from_dict(doc: dict[str, Any], source: str | None = None, at: str = "") -> Profile:
    """Build a Profile from an already validated dict; a DAG (layers naming their inputs) is
    checked for unknown names, cycles and dangling outputs, a covariance table for shape,
    symmetry, its diagonal and positive semidefiniteness, with field paths under ``at``."""
    layers = tuple(
        Layer(
            str(x["name"]),
            float(x["flops"]),
            float(x["output_bytes"]),
            float(x.get("params", 0.0)),
            _time_stats(x.get("time")),
            tuple(str(name) for name in x.get("inputs", ())),
        )
        for x in doc["layers"]
    )
    profile = Profile(
        str(doc["name"]),
        float(doc["input_bytes"]),
        layers,
        str(doc.get("description", "")),
        str(doc.get("derivation", "")),
        dict(doc.get("machine", {})),
        covariances(doc.get("covariance", {}), layers, source, at),
    )
    modalities = [str(m["name"]) for m in doc["modalities"]] if "modalities" in doc else None
    if modalities is not None or any(layer.inputs for layer in layers):
        validate_dag(profile, modalities, source=source, at=at)
    return profile


def load_profile(path: str | Path, limits: ReadLimits = DEFAULT_LIMITS) -> Profile:
    """Load and validate a profile file."""
    path = Path(path)
    doc = read_document(path, limits)
    validate(doc, str(path), limits, "profile")
    return profile_from_dict(doc, str(path))


def resolve_profile(ref: str | dict[str, Any], ctx: LoadContext, at: str) -> Profile:
    """A profile given inline or as a file path relative to the instance (field ``at``)."""
    return _resolve_profile(ref, ctx.base_dir, ctx.source, at, ctx.limits or DEFAULT_LIMITS)


def _resolve_profile(
    ref: str | dict[str, Any], base: Path, source: str, at: str, limits: ReadLimits
) -> Profile:
    if isinstance(ref, dict):
        return profile_from_dict(ref, source, at)
    try:
        path = base / ref
        found = path.exists()
    except (OSError, ValueError):  # a NUL byte, a name too long for the system
        raise InputError(f"not a usable file name: {brief(ref)}", source=source, path=at) from None
    if not found:
        folder = str(path.parent)
        folder = folder if folder.isprintable() else brief(folder)
        message = f"profile file {quoted(ref)} not found (looked in {folder})"
        raise InputError(message, source=source, path=at)
    try:
        return load_profile(path, limits)
    except InputError as exc:  # say which instance field led to the broken profile file
        raise InputError(f"profile {quoted(ref)}: {exc}", source=source, path=at) from None


def from_dict(
    doc: dict[str, Any],
    source: str = "<dict>",
    base_dir: Path | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Instance:
    """Validate a parsed document and build the Instance (profile paths relative to base_dir)."""
    validate(doc, source, limits)
    base = base_dir or Path.cwd()
    sections = build_sections(doc, LoadContext(source, base, limits))
    return Instance(
        doc["name"],
        source,
        str(doc.get("description", "")),
        doc.get("formulation"),
        sections,
    )


def load(path: str | Path, limits: ReadLimits = DEFAULT_LIMITS) -> Instance:
    """Load an instance file (.toml, .json, .yaml); raises InputError naming file and field.

    ``limits`` caps file size, nesting, YAML alias expansion and integer length.
    """
    path = Path(path)
    return from_dict(read_document(path, limits), str(path), path.parent, limits)


def dump_document(doc: dict[str, Any], path: str | Path) -> None:
    """Write a document as TOML, JSON or YAML, chosen by the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".toml":
        path.write_text(tomli_w.dumps(doc))
    elif suffix == ".json":
        path.write_text(json.dumps(doc, indent=1) + "\n")
    elif suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    else:
        raise InputError(f"unknown file type '{suffix}'", source=str(path))


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """The file form of a Profile (inverse of profile_from_dict)."""
    doc: dict[str, Any] = {"name": profile.name}
    if profile.description:
        doc["description"] = profile.description
    if profile.derivation:
        doc["derivation"] = profile.derivation
    if profile.machine:
        doc["machine"] = profile.machine
    doc["input_bytes"] = profile.input_bytes
    if profile.covariance:
        doc["covariance"] = {k: matrix_rows(v) for k, v in profile.covariance.items()}
    layers = []
    for layer in profile.layers:
        raw: dict[str, Any] = {
            "name": layer.name,
            "flops": layer.flops,
            "output_bytes": layer.output_bytes,
            "params": layer.params,
        }
        if layer.inputs:
            raw["inputs"] = list(layer.inputs)
        if layer.time:
            raw["time"] = {
                k: {"mean": v.mean, "var": v.var, **({"samples": v.samples} if v.samples else {})}
                for k, v in layer.time.items()
            }
        layers.append(raw)
    doc["layers"] = layers
    return doc
