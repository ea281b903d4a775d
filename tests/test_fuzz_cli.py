"""Fuzzing the shipped instances: mutated files load or fail with a one-line InputError, and
the console script exits with a documented code, one line on stderr and no traceback."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import yaml
from conftest import INSTANCES, ROOT
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import optsplit
from optsplit.errors import InputError
from optsplit.instance.loader import read_document

FORMATS = ("toml", "json", "yaml")
PLACEHOLDER = "@@HOSTILE@@"
DEEP = 50_000


def _same(text: str) -> dict[str, str]:
    return dict.fromkeys(FORMATS, text)


# values spelled as each format spells them; they replace one value of a base document
LITERALS: dict[str, dict[str, str]] = {
    "huge int": _same("9" * 5000),
    "long int": _same("9" * 350),
    "nan": {"toml": "nan", "json": "NaN", "yaml": ".nan"},
    "inf": {"toml": "inf", "json": "1e999", "yaml": ".inf"},
    "-inf": {"toml": "-inf", "json": "-1e999", "yaml": "-.inf"},
    "deep list": _same("[" * DEEP + "]" * DEEP),
    "deep table": {
        "toml": "{a = " * DEEP + "1" + "}" * DEEP,
        "json": '{"a": ' * DEEP + "1" + "}" * DEEP,
        "yaml": "{a: " * DEEP + "1" + "}" * DEEP,
    },
    "string": _same('"x"'),
    "empty string": _same('""'),
    "long string": _same('"' + "x" * 100_000 + '"'),
    "newline string": _same('"a\\nb"'),
    "true": _same("true"),
    "zero": _same("0"),
    "negative": _same("-1"),
    "tiny": _same("5e-324"),
    "huge float": _same("1e308"),
    "empty list": _same("[]"),
    "empty table": _same("{}"),
}
# raw text inserted at a byte offset
SNIPPETS = ["[" * 2000, "{", "]", "&a ", "*a ", "<<: ", "\x00", "\\u0000", "9" * 5000, "\n[x]\n", "\ufeff"]


@dataclass(frozen=True)
class Base:
    """One shipped instance rendered in one format, profile paths made absolute."""

    name: str
    fmt: str
    doc: dict[str, Any]
    text: bytes
    solver: str


def render(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "toml":
        return tomli_w.dumps(doc)
    if fmt == "json":
        return json.dumps(doc, indent=1)
    return yaml.safe_dump(doc, sort_keys=False)


def absolute_profiles(doc: dict[str, Any], folder: Path) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    holders = [doc["job"]] if "job" in doc else doc["robust"]["devices"]
    for holder in holders:
        holder["profile"] = str((folder / holder["profile"]).resolve())
    return doc


def make_bases() -> list[Base]:
    routing_file = INSTANCES / "routing" / "tiered-5-alexnet.toml"
    robust_file = INSTANCES / "robust" / "alexnet-3dev.toml"
    routing = absolute_profiles(read_document(routing_file), routing_file.parent)
    inline = copy.deepcopy(routing)
    inline["job"]["profile"] = read_document(inline["job"]["profile"])
    robust = absolute_profiles(read_document(robust_file), robust_file.parent)
    docs = [("routing", routing, "dijkstra"), ("inline", inline, "dijkstra"), ("robust", robust, "all-local")]
    return [
        Base(name, fmt, doc, render(doc, fmt).encode(), solver)
        for name, doc, solver in docs
        for fmt in FORMATS
    ]


BASES = make_bases()


def places(doc: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``doc`` except the root."""
    out = [at] if at else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += places(value, (*at, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += places(value, (*at, i))
    return out


@dataclass(frozen=True)
class Mutant:
    """A base and one change to it: on the bytes, or on one value of the document."""

    base: int
    kind: str  # flip, truncate, insert, value, delete
    where: int  # byte offset or index into places(), reduced modulo the size
    what: Any  # flipped bytes, snippet or literal name

    def text(self) -> bytes:
        base = BASES[self.base]
        data = base.text
        if self.kind == "flip":
            out = bytearray(data)
            for k, byte in enumerate(self.what):
                out[(self.where + 7919 * k) % len(out)] = byte
            return bytes(out)
        if self.kind == "truncate":
            return data[: self.where % len(data)]
        if self.kind == "insert":
            at = self.where % len(data)
            return data[:at] + self.what.encode() + data[at:]
        doc = copy.deepcopy(base.doc)
        spots = places(doc)
        spot = spots[self.where % len(spots)]
        parent = doc
        for step in spot[:-1]:
            parent = parent[step]
        if self.kind == "delete":
            del parent[spot[-1]]
            return render(doc, base.fmt).encode()
        parent[spot[-1]] = PLACEHOLDER
        text = render(doc, base.fmt)
        for quoted in (f'"{PLACEHOLDER}"', f"'{PLACEHOLDER}'"):
            text = text.replace(quoted, LITERALS[self.what][base.fmt])
        return text.encode()


def mutants() -> st.SearchStrategy[Mutant]:
    base = st.integers(0, len(BASES) - 1)
    where = st.integers(0, 10**9)
    byte = st.one_of(st.sampled_from(b"{}[]\"',:=.-+#&*!|<>\\\n \t019eE"), st.integers(0, 255))
    flips = st.lists(byte, min_size=1, max_size=4)
    return st.one_of(
        st.builds(Mutant, base, st.just("flip"), where, flips),
        st.builds(Mutant, base, st.just("truncate"), where, st.none()),
        st.builds(Mutant, base, st.just("insert"), where, st.sampled_from(SNIPPETS)),
        st.builds(Mutant, base, st.just("value"), where, st.sampled_from(sorted(LITERALS))),
        st.builds(Mutant, base, st.just("delete"), where, st.none()),
    )


def written(mutant: Mutant, folder: Path) -> Path:
    path = folder / f"mutant.{BASES[mutant.base].fmt}"
    path.write_bytes(mutant.text())
    return path


@settings(derandomize=True, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutant=mutants())
def test_mutated_files_load_or_raise_a_one_line_input_error(mutant: Mutant) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = written(mutant, Path(folder))
        try:
            optsplit.load(path)
            event("loaded")
        except InputError as exc:
            event(f"refused: {exc.detail.split(':')[0][:40]}")
            message = str(exc)
            assert "\n" not in message and "\r" not in message, message
            assert exc.source is not None and message.startswith(f"{exc.source}: ")
            assert exc.source == str(path) or exc.source.startswith(str(INSTANCES.resolve()))
            assert len(message) < 1000, message


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A valid plan of every base instance, for `optsplit check` on its mutants."""
    folder = tmp_path_factory.mktemp("plans")
    out = {}
    for base in BASES[:: len(FORMATS)]:
        path = folder / f"{base.name}.toml"
        path.write_bytes(base.text)
        result = optsplit.solve(optsplit.load(path), solver=base.solver)
        out[base.name] = folder / f"{base.name}.json"
        out[base.name].write_text(result.to_json())
    return out


def console(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "optsplit.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.mark.slow
@settings(
    derandomize=True,
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutant=mutants(), check=st.booleans())
def test_console_script_on_mutated_files(plans: dict[str, Path], mutant: Mutant, check: bool) -> None:
    base = BASES[mutant.base]
    with tempfile.TemporaryDirectory() as folder:
        path = written(mutant, Path(folder))
        if check:
            done, allowed = console("check", str(path), str(plans[base.name])), {0, 1, 2}
        else:
            done, allowed = console("solve", str(path), "-s", base.solver), {0, 2, 3, 4}
    event(f"{'check' if check else 'solve'} exit {done.returncode}")
    assert done.returncode in allowed, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    if check and done.returncode == 1:  # one line per violation found
        assert lines and all(line.startswith("violation: ") for line in lines), done.stderr
    else:
        assert len(lines) <= 1, done.stderr
    if done.returncode == 2:
        assert done.stderr.startswith("error: ")


# Found by this fuzzing, outside the instance reader (once tracebacks and stderr noise).
EXTREME_VALUES = [
    pytest.param(
        6,
        ("robust", "devices", 0, "server_scale"),
        "huge float",
        id="robust-server_scale-1e308",
    ),
    pytest.param(
        0,
        ("network", "links", 0, "rate"),
        "tiny",
        id="routing-rate-5e-324",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("base", "spot", "literal"), EXTREME_VALUES)
def test_console_script_on_extreme_but_valid_values(tmp_path, base, spot, literal) -> None:
    where = places(BASES[base].doc).index(spot)
    path = written(Mutant(base, "value", where, literal), tmp_path)
    done = console("solve", str(path), "-s", BASES[base].solver)
    assert done.returncode in {0, 2, 3, 4} and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) <= 1, done.stderr
