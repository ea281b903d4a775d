"""Hostile instance files: alias bombs, deep nesting, huge numbers, duplicates, size; and the
column-wise schema check, which must agree exactly with jsonschema."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import tomli_w
import yaml
from conftest import INSTANCES, LINE_DOC, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

import optsplit
from optsplit.errors import InputError
from optsplit.instance import ReadLimits, validation, yamlread
from optsplit.instance.columns import ColumnCheck, Unsupported
from optsplit.instance.loader import read_document
from optsplit.instance.messages import field_path
from optsplit.instance.scan import LongInt


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def refused(path: Path, limits: ReadLimits | None = None) -> InputError:
    """Load ``path`` expecting an InputError; checks the message is one line naming the file."""
    with pytest.raises(InputError) as info:
        optsplit.load(path) if limits is None else optsplit.load(path, limits=limits)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return info.value


def line_as(fmt: str, doc: dict[str, Any] | None = None) -> str:
    doc = copy.deepcopy(LINE_DOC) if doc is None else doc
    if fmt == "toml":
        return tomli_w.dumps(doc)
    if fmt == "json":
        return json.dumps(doc)
    return yaml.safe_dump(doc)


def with_value(fmt: str, literal: str) -> str:
    """The line instance with network.nodes[2].speed spelled as ``literal`` in ``fmt``."""
    doc = copy.deepcopy(LINE_DOC)
    doc["network"]["nodes"][2]["speed"] = "@@VALUE@@"
    text = line_as(fmt, doc)
    for quoted in ('"@@VALUE@@"', "'@@VALUE@@'"):
        text = text.replace(quoted, literal)
    return text


# --- YAML aliases -------------------------------------------------------------------------


DEEP = 100_000  # nesting levels of the deep files


def laughs(levels: int) -> str:
    """Each anchor is a list of ten aliases of the previous one: 10**levels strings."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]")
    return "name: bomb\nmachine:\n" + "".join(f"  {line}\n" for line in lines)


def test_billion_laughs_is_refused_at_the_alias_budget(tmp_path) -> None:
    path = write(tmp_path, "lol.yaml", laughs(9))  # 10^9 nodes once expanded
    message = str(refused(path))
    assert (
        "more than max_alias_nodes=1000000 (raise it with --limit max_alias_nodes=N "
        "or ReadLimits(max_alias_nodes=...))" in message
    )
    # l1..l4 add 123440 nodes, each *l4 111111 more: the 8th alias in l5 (line 8) crosses 10^6
    assert "line 8, column 47: aliases expand to over 1012328 nodes" in message


def test_alias_budget_is_configurable(tmp_path) -> None:
    text = laughs(3).replace("machine:", "formulation: x\nmachine:")  # 1110 nodes added
    doc = yaml.safe_load(text)
    assert read_document(write(tmp_path, "ok.yaml", text)) == doc
    with pytest.raises(InputError, match="more than max_alias_nodes=1000 "):
        read_document(tmp_path / "ok.yaml", ReadLimits(max_alias_nodes=1000))


def test_recursive_alias_is_refused(tmp_path) -> None:
    error = refused(write(tmp_path, "rec.yaml", "name: x\nnetwork: &a {nodes: [*a], links: []}\n"))
    assert "alias *a refers to a node that contains it" in str(error)


def test_aliases_count_toward_depth(tmp_path) -> None:
    # every anchor nests the previous one 10 levels deeper: 80 levels with few nodes
    lines = ["a0: &a0 " + "[" * 10 + "]" * 10]
    lines += [f"a{i}: &a{i} " + "[" * 9 + f"*a{i - 1}" + "]" * 9 for i in range(1, 8)]
    error = refused(write(tmp_path, "deep.yaml", "name: x\nmachine:\n" + "".join(f"  {x}\n" for x in lines)))
    assert "alias *a5 nests too deep, more than max_depth=64" in str(error)


def test_shared_profile_by_anchor_and_merge_keys(tmp_path) -> None:
    text = """name: merge
formulation: routing
network:
  nodes:
  - &dev {name: dev, kind: device, speed: 1.0e+9}
  - {name: ap, kind: ap}
  - {<<: *dev, name: edge, speed: 1.0e+11, processor: gpu}
  links:
  - &link {src: dev, dst: ap, rate: 8.0e+6}
  - {<<: *link, src: ap, dst: edge, rate: 8.0e+9, delay: 0.001}
job: {source: dev, destination: dev, profile: &p {name: two-layer, input_bytes: 1.0e+6, layers: [
  {name: L1, flops: 1.0e+8, output_bytes: 1.0e+4}, {name: L2, flops: 1.0e+10, output_bytes: 1.0e+3}]}}
"""
    inst = optsplit.load(write(tmp_path, "merge.yaml", text))
    assert inst.section("network") is not None and inst.section("network").nodes[2].kind == "device"
    assert (
        inst.section("network").nodes[2].processor == "gpu"
        and inst.section("network").links[2].delay == 0.001
    )
    assert optsplit.solve(inst).objective == pytest.approx(0.213011, rel=1e-12)


def test_python_tags_are_refused(tmp_path) -> None:
    text = "name: !!python/object/apply:os.system ['echo owned']\n"
    error = refused(write(tmp_path, "tag.yaml", text))
    assert "malformed YAML: could not determine a constructor for the tag" in str(error)
    assert "(line 1, column 7)" in str(error)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("!!bool maybe", "bool"), ("!!timestamp 2020-02-31", "timestamp"), ("!!int 12x", "int")],
)
def test_values_a_tag_cannot_take_are_yaml_errors(tmp_path, value, kind) -> None:
    error = refused(write(tmp_path, "v.yaml", f"name: x\nmachine: {{a: {value}}}\n"))
    assert f"malformed YAML: not a valid tag:yaml.org,2002:{kind} value" in str(error)


@pytest.mark.parametrize("loader", [yamlread.PythonLoader, yamlread.LOADER], ids=["python", "default"])
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (laughs(9), "more than max_alias_nodes=1000000"),
        ("a: &a [*a]\n", "alias *a refers to a node that contains it"),
        ("a: " + "[" * DEEP + "]" * DEEP + "\n", "nested too deep, more than max_depth=64"),
        ("a: 1\na: 2\n", "found duplicate key 'a'"),
        ("a: !!python/name:os.system\n", "could not determine a constructor"),
        ("a: !!bool maybe\n", "not a valid tag:yaml.org,2002:bool value: 'maybe'"),
    ],
)
def test_both_yaml_event_sources_are_bounded(loader, text, problem) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        yamlread.load_yaml(text, ReadLimits(), loader)
    assert problem in yamlread.describe(info.value)
    big = yamlread.load_yaml("a: " + "9" * 500 + "\n", ReadLimits(), loader)["a"]
    assert isinstance(big, LongInt) and big.digits == 500


# --- duplicate keys -------------------------------------------------------------------------


def test_duplicate_keys_are_refused(tmp_path) -> None:
    error = refused(write(tmp_path, "d.yaml", line_as("yaml") + "name: again\n"))
    assert "found duplicate key 'name'" in str(error)
    text = line_as("json").replace('"rate": 8000000.0', '"rate": 8000000.0, "rate": 1.0', 1)
    error = refused(write(tmp_path, "d.json", text))
    assert str(error).endswith("network.links[0]: duplicate key 'rate'")
    error = refused(write(tmp_path, "d.toml", line_as("toml") + '\n[job]\nsource = "ap"\n'))
    assert "malformed TOML" in str(error)


def test_merge_keys_may_override(tmp_path) -> None:
    text = "name: x\nmachine: {base: &b {a: 1, b: 2}, more: {<<: *b, a: 3}}\n"
    assert read_document(write(tmp_path, "m.yaml", text))["machine"]["more"] == {"a": 3, "b": 2}


# --- nesting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", '{"name": "x", "machine": ' + "[" * DEEP + "]" * DEEP + "}"),
        ("objects.json", '{"name": "x", "machine": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}"),
        ("deep.toml", 'name = "x"\nmachine = ' + "{a = " * DEEP + "1" + "}" * DEEP + "\n"),
        ("arrays.toml", 'name = "x"\nmachine = ' + "[" * DEEP + "]" * DEEP + "\n"),
        ("deep.yaml", "name: x\nmachine: " + "[" * DEEP + "]" * DEEP + "\n"),
        ("block.yaml", "name: x\nmachine:\n" + "".join(" " * (2 * i + 2) + "-\n" for i in range(2000))),
        ("headers.toml", 'name = "x"\n[' + ".".join(["a"] * 5000) + "]\n"),
    ],
)
def test_deep_nesting_is_refused_without_recursion_error(tmp_path, name, text) -> None:
    error = refused(write(tmp_path, name, text))
    assert (
        "nested too deep, more than max_depth=64 "
        "(raise it with --limit max_depth=N or ReadLimits(max_depth=...))" in str(error)
    )


def test_depth_limit_names_the_field_and_can_be_raised(tmp_path) -> None:
    doc = copy.deepcopy(LINE_DOC)
    nested: Any = 1.0
    for _ in range(70):
        nested = {"k": nested}
    doc["job"]["profile"]["machine"] = nested
    path = write(tmp_path, "deep.json", json.dumps(doc))
    error = refused(path)
    assert error.path is not None and error.path.startswith("job.profile.machine.k.k.k")
    assert error.path.count(".k") == 61  # level 65: under root, job, profile, machine and 60 k
    assert optsplit.load(path, limits=ReadLimits(max_depth=80)).section("job") is not None


# --- numbers -----------------------------------------------------------------------------------

SPEED = "network.nodes[2].speed"


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("9" * 5000, "expected a finite number, got an integer"),
        ("9" * 350, "expected a finite number, got an integer"),
        ("NaN", "expected a finite number, got NaN or infinity"),
        ("1e999", "expected a finite number, got NaN or infinity"),
        ("-1e999", "expected a finite number, got NaN or infinity"),
    ],
)
def test_non_finite_and_overflowing_numbers(tmp_path, fmt, literal, message) -> None:
    spelled = {("toml", "NaN"): "nan", ("yaml", "NaN"): ".nan", ("yaml", "1e999"): "1.0e+999"}
    spelled[("yaml", "-1e999")] = "-1.0e+999"
    text = with_value(fmt, spelled.get((fmt, literal), literal))
    error = refused(write(tmp_path, f"n.{fmt}", text))
    assert message in str(error)
    if fmt == "toml" and len(literal) > 4300:  # tomllib refuses before any path exists
        assert f"(line {text[: text.index(literal)].count(chr(10)) + 1})" in str(error)
    else:
        assert error.path == SPEED


def test_integer_digit_limit(tmp_path) -> None:
    path = write(tmp_path, "n.json", with_value("json", "1" + "0" * 30))
    assert optsplit.load(path).section("network") is not None
    error = refused(path, ReadLimits(max_int_digits=20))
    assert error.path == SPEED and "more than max_int_digits=20" in str(error)
    yaml_path = write(tmp_path, "n.yaml", with_value("yaml", "1" + "0" * 30))
    assert refused(yaml_path, ReadLimits(max_int_digits=20)).path == SPEED
    assert "too large for a float" in str(refused(write(tmp_path, "b.toml", with_value("toml", "9" * 320))))


def test_derived_figures_must_stay_finite(tmp_path) -> None:
    doc = read_document(INSTANCES / "robust" / "alexnet-3dev.toml")
    profile = str(INSTANCES / "profiles" / "measured" / "alexnet.toml")
    for device in doc["robust"]["devices"]:
        device["profile"] = profile
    doc["robust"]["noise_density_dbm"] = 1e10
    error = refused(write(tmp_path, "r.toml", tomli_w.dumps(doc)))
    assert error.path == "robust.noise_density_dbm" and "noise density (W/Hz) of inf" in str(error)
    doc["robust"]["noise_density_dbm"] = -174.0
    doc["robust"]["devices"][1]["distance"] = 1e-300
    error = refused(write(tmp_path, "r.toml", tomli_w.dumps(doc)))
    assert error.path == "robust.devices[1].distance" and "channel gain of inf" in str(error)


# --- size, files, messages ---------------------------------------------------------------------


def test_file_size_limit(tmp_path) -> None:
    path = write(tmp_path, "i.toml", line_as("toml"))
    assert optsplit.load(path).name == "line"
    size = path.stat().st_size
    error = refused(path, ReadLimits(max_bytes=size - 1))
    assert f"file of {size} bytes, more than max_bytes={size - 1}" in str(error)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_special_file_is_read_only_up_to_the_limit(tmp_path) -> None:
    path = tmp_path / "zero.toml"
    path.symlink_to("/dev/zero")  # reports size 0, never ends
    assert "file too large, more than max_bytes=1000 " in str(refused(path, ReadLimits(max_bytes=1000)))


def test_limits_must_be_positive_integers() -> None:
    for bad in ({"max_depth": 0}, {"max_bytes": -1}, {"max_int_digits": 2.5}, {"max_alias_nodes": True}):
        with pytest.raises(ValueError, match="must be a positive integer"):
            ReadLimits(**bad)


def test_odd_profile_names_and_values_stay_on_one_line(tmp_path) -> None:
    doc = copy.deepcopy(LINE_DOC)
    doc["job"]["profile"] = "no\x00where.toml"
    error = refused(write(tmp_path, "a.json", json.dumps(doc)))
    assert "profile file 'no\\x00where.toml' not found" in str(error)
    doc["job"]["profile"] = "p" * 5000 + ".toml"
    error = refused(write(tmp_path, "a.json", json.dumps(doc)))
    assert error.path == "job.profile" and "not a usable file name: 'ppppppp" in str(error)
    doc["job"]["profile"] = "a\nb.toml"
    assert "profile file 'a\\nb.toml' not found" in str(refused(write(tmp_path, "b.json", json.dumps(doc))))
    doc = copy.deepcopy(LINE_DOC)
    doc["network"]["links"][0]["dst"] = "mars\nvenus" * 100
    assert "unknown node 'mars\\nvenusmars" in str(refused(write(tmp_path, "c.json", json.dumps(doc))))
    doc = copy.deepcopy(LINE_DOC)
    doc["network"]["nodes"] = "x" * 10**6
    error = refused(write(tmp_path, "d.json", json.dumps(doc)))
    assert error.path == "network.nodes" and error.detail.startswith("expected array, got str 'xxxxxxxx")
    assert len(error.detail) < 100


def console(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "optsplit.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_console_script_refuses_hostile_files_in_one_line(tmp_path) -> None:
    for path in (
        write(tmp_path, "lol.yaml", laughs(9)),
        write(tmp_path, "deep.toml", 'name = "x"\nmachine = ' + "{a = " * DEEP + "1" + "}" * DEEP + "\n"),
    ):
        done = console("solve", str(path))
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {path}: ")


# --- the column check against jsonschema -------------------------------------------------------

SCHEMA = validation.schema()
EDITS = ["set", "delete", "add"]
ODD_VALUES = [0, -1, 1, 0.5, -0.0, 2.0, 10**20, True, False, None, "", "x", [], [1.0], {}, {"mean": 1.0}]


def plain_message(doc: Any, definition: str | None = None) -> str | None:
    """What the validation said before the column check: full jsonschema, best_match."""
    target = SCHEMA if definition is None else {"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{definition}"}
    error = validation.best_error(jsonschema.Draft202012Validator(target).iter_errors(doc))
    if error is None:
        return None
    return f"<t>: {field_path(error.absolute_path)}: {validation._describe(error)}"


def new_message(doc: Any, definition: str | None = None) -> str | None:
    try:
        validation.validate(doc, "<t>", ReadLimits(), definition)
    except InputError as exc:
        return str(exc)
    return None


def base_documents() -> list[tuple[dict[str, Any], str | None]]:
    routing = read_document(INSTANCES / "routing" / "tiered-5-alexnet.toml")
    routing["job"]["profile"] = read_document(INSTANCES / "profiles" / "measured" / "alexnet.toml")
    robust = read_document(INSTANCES / "robust" / "alexnet-3dev.toml")
    robust["robust"]["devices"][1]["profile"] = copy.deepcopy(routing["job"]["profile"])
    return [(routing, None), (robust, None), (routing["job"]["profile"], "profile")]


BASES = base_documents()


def places(doc: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``doc``, the root included."""
    out = [at]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += places(value, (*at, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += places(value, (*at, i))
    return out


def mutate(doc: Any, place: tuple[Any, ...], how: str, value: Any) -> None:
    parent = doc
    for step in place[:-1]:
        parent = parent[step]
    key = place[-1]
    if how == "delete" and isinstance(parent, dict):
        del parent[key]
    elif how == "add" and isinstance(parent[key], dict):
        parent[key]["extra_field"] = value
    else:
        parent[key] = value


@settings(derandomize=True, max_examples=400, deadline=None)
@given(
    base=st.integers(0, len(BASES) - 1),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10**6), st.sampled_from(["set", "delete", "add"]), st.sampled_from(ODD_VALUES)
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_column_check_agrees_with_jsonschema(base, edits) -> None:
    """Same verdict and the same message as a full jsonschema run, on mutated documents."""
    original, definition = BASES[base]
    doc = copy.deepcopy(original)
    for pick, how, value in edits:
        spots = places(doc)[1:]
        mutate(doc, spots[pick % len(spots)], how, copy.deepcopy(value))
    assert new_message(doc, definition) == plain_message(doc, definition)


def test_column_check_settles_valid_documents_without_jsonschema(monkeypatch) -> None:
    for doc, definition in BASES:
        assert (
            ColumnCheck(SCHEMA)
            .valid(SCHEMA if definition is None else SCHEMA["$defs"][definition], [doc])
            .all()
        )

    def no_jsonschema(*args: Any) -> Any:
        raise AssertionError("jsonschema ran on a valid document")

    monkeypatch.setattr(validation, "_errors", no_jsonschema)
    big = copy.deepcopy(LINE_DOC)
    big["network"]["links"] += [{"src": "dev", "dst": "edge", "rate": 1.0 + i} for i in range(5000)]
    validation.validate(big, "<t>", ReadLimits())


def test_jsonschema_visits_only_rejected_elements() -> None:
    doc = copy.deepcopy(LINE_DOC)
    links = doc["network"]["links"]
    links += [{"src": "a", "dst": "b", "rate": 1.0} for _ in range(10)]
    links[7]["rate"] = -1.0
    links[9]["rate"] = "fast"
    items = SCHEMA["$defs"]["network"]["properties"]["links"]["items"]
    check = ColumnCheck(SCHEMA)
    assert not check.valid(SCHEMA, [doc]).all()
    assert check.rejected[id(links), id(items)] == [7, 9]
    paths = [list(e.absolute_path) for e in validation._errors(SCHEMA, doc, check.rejected)]
    assert paths == [["network", "links", 7, "rate"], ["network", "links", 9, "rate"]]
    told_to_skip = {(id(links), id(items)): []}
    assert list(validation._errors(SCHEMA, doc, told_to_skip)) == []


def test_unsupported_keywords_fall_back_to_jsonschema(monkeypatch) -> None:
    with pytest.raises(Unsupported, match="pattern"):
        ColumnCheck({}).valid({"type": "string", "pattern": "^a"}, ["b"])
    assert ColumnCheck({}).valid({"type": "number", "x-unit": "s"}, [1.0, "a"]).tolist() == [True, False]

    def unsupported(self: ColumnCheck, schema: Any, values: list[Any]) -> Any:
        raise Unsupported("pretend")

    monkeypatch.setattr(ColumnCheck, "valid", unsupported)
    doc = copy.deepcopy(LINE_DOC)
    doc["network"]["links"][1]["rate"] = -5.0
    assert new_message(doc) == "<t>: network.links[1].rate: expected a number > 0, got -5.0"


@pytest.mark.parametrize("bound", [0, 1, 0.5, -(2**53)])
@pytest.mark.parametrize("keyword", ["minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"])
def test_column_bounds_are_exact_at_the_edges(keyword, bound) -> None:
    numbers = [0, 0.0, -0.0, 1, 0.5, 5e-324, -5e-324, 2**53 + 1, -(2**53) - 1, -(2**60), math.nan, math.inf]
    for values in (numbers, [*numbers, 10**400, True, "1"]):  # the numpy path, then one by one
        schema = {keyword: bound}
        expected = [not list(jsonschema.Draft202012Validator(schema).iter_errors(v)) for v in values]
        assert ColumnCheck({}).valid(schema, values).tolist() == expected
