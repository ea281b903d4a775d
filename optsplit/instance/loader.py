"""Read, validate and build instances and profiles; write them back.

Validation has two stages: the JSON Schema shipped with the package (shapes, types,
ranges), then checks a schema cannot express (NaN, names that must exist, duplicates).
Every error names the file and the field path, e.g. ``network.links[3].rate``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import tomli_w
import tomllib
import yaml

from optsplit.errors import InputError
from optsplit.instance.model import (
    Instance,
    Job,
    Layer,
    Link,
    Network,
    Node,
    Profile,
    RobustDevice,
    RobustSystem,
    TimeStat,
    dbm_to_watt,
    path_loss_gain,
)
from optsplit.instance.sections import build_sections
from optsplit.spec import LoadContext

SUFFIXES = (".toml", ".json", ".yaml", ".yml")


@cache
def core_schema() -> dict[str, Any]:
    """The instance JSON Schema shipped with the package (without formulation sections)."""
    text = resources.files("optsplit.instance").joinpath("schema.json").read_text()
    return dict(json.loads(text))


def schema() -> dict[str, Any]:
    """The instance JSON Schema: the core plus every registered formulation's sections."""
    from optsplit.instance.sections import compose

    return compose(core_schema())


def field_path(parts: Iterator[Any] | list[Any]) -> str:
    """['network', 'links', 3, 'rate'] → 'network.links[3].rate'."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def read_document(path: Path) -> dict[str, Any]:
    """Parse a TOML, JSON or YAML file into a dict (safe loaders only)."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"unknown file type '{suffix}'; expected one of {', '.join(SUFFIXES)}", source=source
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", source=source) from None
    try:
        if suffix == ".toml":
            doc: Any = tomllib.loads(text)
        elif suffix == ".json":
            doc = json.loads(text)
        else:
            doc = yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"malformed TOML: {exc}", source=source) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc}", source=source) from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {exc}", source=source) from None
    if not isinstance(doc, dict):
        raise InputError("expected a table/object at the top level", source=source)
    return doc


def _non_finite(value: Any, path: list[Any]) -> Iterator[list[Any]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, [*path, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(item, [*path, i])


def validate(doc: dict[str, Any], source: str, definition: str | None = None) -> None:
    """Check ``doc`` against the schema (or one of its $defs); raise on the first error."""
    for bad in _non_finite(doc, []):
        raise InputError("expected a finite number, got NaN or infinity", source=source, path=field_path(bad))
    full = schema()
    target = full if definition is None else {"$defs": full["$defs"], "$ref": f"#/$defs/{definition}"}
    validator = jsonschema.Draft202012Validator(target)
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        raise InputError(_describe(error), source=source, path=field_path(list(error.absolute_path)))


def _describe(error: jsonschema.ValidationError) -> str:
    """A one-line account of a schema error in plain words."""
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return f"missing required field '{missing[0]}'" if missing else error.message
    if error.validator == "additionalProperties":
        return f"unknown field: {error.message.split('(')[-1].rstrip(')')}"
    if error.validator in ("minimum", "exclusiveMinimum"):
        op = ">=" if error.validator == "minimum" else ">"
        return f"expected a number {op} {error.validator_value}, got {error.instance}"
    if error.validator == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    return error.message


def _time_stats(raw: dict[str, Any] | None) -> dict[str, TimeStat]:
    return {
        key: TimeStat(float(v["mean"]), float(v.get("var", 0.0)), v.get("samples"))
        for key, v in (raw or {}).items()
    }


def profile_from_dict(doc: dict[str, Any]) -> Profile:
    """Build a Profile from an already validated dict."""
    layers = tuple(
        Layer(
            str(x["name"]),
            float(x["flops"]),
            float(x["output_bytes"]),
            float(x.get("params", 0.0)),
            _time_stats(x.get("time")),
        )
        for x in doc["layers"]
    )
    return Profile(
        str(doc["name"]),
        float(doc["input_bytes"]),
        layers,
        str(doc.get("description", "")),
        str(doc.get("derivation", "")),
        dict(doc.get("machine", {})),
    )


def load_profile(path: str | Path) -> Profile:
    """Load and validate a profile file."""
    path = Path(path)
    doc = read_document(path)
    validate(doc, str(path), "profile")
    return profile_from_dict(doc)


def _resolve_profile(ref: str | dict[str, Any], base: Path, source: str, at: str) -> Profile:
    if isinstance(ref, dict):
        return profile_from_dict(ref)
    path = (base / ref) if not Path(ref).is_absolute() else Path(ref)
    if not path.exists():
        raise InputError(f"profile file '{ref}' not found (looked in {path.parent})", source=source, path=at)
    return load_profile(path)


def _network(doc: dict[str, Any], source: str) -> Network:
    nodes = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(doc["nodes"]):
        name = raw["name"]
        if name in seen:
            raise InputError(
                f"duplicate node name '{name}' (also network.nodes[{seen[name]}])",
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
                    f"unknown node '{raw[end]}'", source=source, path=f"network.links[{i}].{end}"
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
                    f"duplicate link {src}->{dst} (also network.links[{where[src, dst]}])",
                    source=source,
                    path=f"network.links[{i}]",
                )
            where[src, dst] = i
            links.append(Link(src, dst, float(raw["rate"]), float(raw.get("delay", 0.0))))
    return Network(tuple(nodes), tuple(links), str(doc.get("kind", "")))


def from_dict(doc: dict[str, Any], source: str = "<dict>", base_dir: Path | None = None) -> Instance:
    """Validate a parsed document and build the Instance (profile paths relative to base_dir)."""
    validate(doc, source)
    base = base_dir or Path.cwd()
    network = _network(doc["network"], source) if "network" in doc else None
    job = None
    if "job" in doc:
        raw = doc["job"]
        if network is None:
            raise InputError("a job needs a [network] section", source=source, path="job")
        names = network.index()
        for end in ("source", "destination"):
            if raw[end] not in names:
                raise InputError(f"unknown node '{raw[end]}'", source=source, path=f"job.{end}")
        job = Job(
            raw["source"], raw["destination"], _resolve_profile(raw["profile"], base, source, "job.profile")
        )
    robust = _robust(doc["robust"], base, source) if "robust" in doc else None
    sections = build_sections(doc, LoadContext(source, base))
    return Instance(
        doc["name"],
        source,
        str(doc.get("description", "")),
        doc.get("formulation"),
        network,
        job,
        robust,
        sections,
    )


def _robust(doc: dict[str, Any], base: Path, source: str) -> RobustSystem:
    """Build the `robust` section; checks that need more than one field at a time."""
    default_eps = float(doc.get("epsilon", 0.05))
    devices, seen = [], set()
    profiles: dict[str, Profile] = {}
    for i, raw in enumerate(doc["devices"]):
        at = f"robust.devices[{i}]"
        if raw["name"] in seen:
            raise InputError(f"duplicate device name '{raw['name']}'", source=source, path=f"{at}.name")
        seen.add(raw["name"])
        if raw["f_min"] > raw["f_max"]:
            raise InputError(
                f"f_min {raw['f_min']} exceeds f_max {raw['f_max']}", source=source, path=f"{at}.f_min"
            )
        if "gain" not in raw and "distance" not in raw:
            raise InputError("give the channel as 'gain' or 'distance'", source=source, path=at)
        key = raw["profile"] if isinstance(raw["profile"], str) else None
        if key is not None and key in profiles:
            profile = profiles[key]
        else:
            profile = _resolve_profile(raw["profile"], base, source, f"{at}.profile")
            if key is not None:
                profiles[key] = profile
        _check_times(profile, raw, source, at)
        gain = float(raw["gain"]) if "gain" in raw else path_loss_gain(float(raw["distance"]))
        devices.append(
            RobustDevice(
                name=raw["name"],
                profile=profile,
                f_min=float(raw["f_min"]),
                f_max=float(raw["f_max"]),
                f_ref=float(raw.get("f_ref", raw["f_max"])),
                kappa=float(raw["kappa"]),
                tx_power=float(raw["tx_power"]),
                gain=gain,
                deadline=float(raw["deadline"]),
                epsilon=float(raw.get("epsilon", default_eps)),
                processor=raw.get("processor"),
                server_processor=raw.get("server_processor"),
                local_scale=float(raw.get("local_scale", 1.0)),
                server_scale=float(raw.get("server_scale", 1.0)),
                flops_per_cycle=raw.get("flops_per_cycle"),
                server_speed=raw.get("server_speed"),
                static_power=float(raw.get("static_power", 0.0)),
            )
        )
    return RobustSystem(
        float(doc["bandwidth"]), dbm_to_watt(float(doc.get("noise_density_dbm", -174.0))), tuple(devices)
    )


def _check_times(profile: Profile, raw: dict[str, Any], source: str, at: str) -> None:
    """Every layer needs a local time (measured or via flops_per_cycle) and a server time."""
    for j, layer in enumerate(profile.layers):
        if raw.get("processor") not in layer.time and "flops_per_cycle" not in raw:
            raise InputError(
                f"layer {j + 1} '{layer.name}' of profile '{profile.name}' has no measured time "
                f"for processor '{raw.get('processor')}' and the device gives no flops_per_cycle",
                source=source,
                path=f"{at}.processor",
            )
        if raw.get("server_processor") not in layer.time and "server_speed" not in raw:
            raise InputError(
                f"layer {j + 1} '{layer.name}' of profile '{profile.name}' has no measured time "
                f"for server processor '{raw.get('server_processor')}' and the device gives no "
                "server_speed",
                source=source,
                path=f"{at}.server_processor",
            )


def load(path: str | Path) -> Instance:
    """Load an instance file (.toml, .json, .yaml); raises InputError naming file and field."""
    path = Path(path)
    return from_dict(read_document(path), str(path), path.parent)


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
    layers = []
    for layer in profile.layers:
        raw: dict[str, Any] = {
            "name": layer.name,
            "flops": layer.flops,
            "output_bytes": layer.output_bytes,
            "params": layer.params,
        }
        if layer.time:
            raw["time"] = {
                k: {"mean": v.mean, "var": v.var, **({"samples": v.samples} if v.samples else {})}
                for k, v in layer.time.items()
            }
        layers.append(raw)
    doc["layers"] = layers
    return doc
