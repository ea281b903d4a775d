"""A bounded safe YAML loader: aliases, nesting and integer literals stay within ReadLimits.

PyYAML's composer recurses once per nesting level and builds aliases as shared nodes, so a
small file can stand for a structure of 10⁹ nodes ("billion laughs") or overflow the stack.
This composer counts, while it composes, the nodes every alias adds, how deep the expanded
document becomes and refuses an alias to a node that contains it. Events come from libyaml
when PyYAML was built with it (its own composer is C code with no depth check, so not used),
else from PyYAML's Python parser; neither recurses.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import MarkedYAMLError
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from optsplit.instance.limits import ReadLimits
from optsplit.instance.messages import brief
from optsplit.instance.scan import LongInt

MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlLimitError(MarkedYAMLError):
    """The document is well formed but goes over a ReadLimits cap."""


class BoundedComposer(Composer):
    """Composer that refuses nesting, alias expansion and recursive aliases over the limits."""

    limits: ReadLimits
    peek_event: Any  # from the parser the loader mixes in

    def init_bounds(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.depth = 0  # nesting of the node being composed
        self.deepest = 0  # deepest expanded level reached so far
        self.expanded = 0  # nodes composed, counting each alias as its whole target
        self.alias_nodes = 0  # of which added by aliases
        self.size: dict[str, int] = {}  # anchor → expanded nodes of its subtree
        self.height: dict[str, int] = {}  # anchor → expanded levels of its subtree
        self.open: set[str] = set()  # anchors whose node is still being composed

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            self._expand(event)
            return super().compose_node(parent, index)
        assert isinstance(event, NodeEvent)
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise YamlLimitError(
                problem=self.limits.refuse("max_depth", "nested too deep"), problem_mark=_mark(event)
            )
        anchor, start, outer = event.anchor, self.expanded, self.deepest
        self.expanded += 1
        self.deepest = max(self.deepest, self.depth)
        if anchor is not None:
            self.open.add(anchor)
            self.deepest = self.depth
        node = super().compose_node(parent, index)
        if anchor is not None:
            self.open.discard(anchor)
            self.size[anchor] = self.expanded - start
            self.height[anchor] = self.deepest - self.depth + 1
            self.deepest = max(outer, self.deepest)
        self.depth -= 1
        return node

    def _expand(self, event: AliasEvent) -> None:
        """Account for an alias as if its target were copied here."""
        anchor = event.anchor
        if anchor in self.open:
            raise YamlLimitError(
                problem=f"alias *{anchor} refers to a node that contains it", problem_mark=_mark(event)
            )
        if anchor not in self.size:
            return  # the base composer reports the undefined alias
        self.expanded += self.size[anchor]
        self.alias_nodes += self.size[anchor]
        if self.alias_nodes > self.limits.max_alias_nodes:
            what = f"aliases expand to over {self.alias_nodes} nodes"
            raise YamlLimitError(
                problem=self.limits.refuse("max_alias_nodes", what), problem_mark=_mark(event)
            )
        if self.depth + self.height[anchor] > self.limits.max_depth:
            raise YamlLimitError(
                problem=self.limits.refuse("max_depth", f"alias *{anchor} nests too deep"),
                problem_mark=_mark(event),
            )
        self.deepest = max(self.deepest, self.depth + self.height[anchor])

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        """A mapping, refused if it names a key twice (merge keys `<<` excepted)."""
        node = super().compose_mapping_node(anchor)
        seen: set[tuple[str, str]] = set()
        for key, _ in node.value:
            if isinstance(key, ScalarNode) and key.tag != MERGE_TAG:
                if (key.tag, key.value) in seen:
                    raise ComposerError(
                        "while composing a mapping",
                        node.start_mark,
                        f"found duplicate key {key.value!r}",
                        key.start_mark,
                    )
                seen.add((key.tag, key.value))
        return node


class BoundedConstructor(SafeConstructor):
    """Safe constructor: integer literals over ``max_int_digits`` are left unconverted, and a
    value its tag cannot take (``!!bool x``, ``!!timestamp 2020-02-31``) is a YAML error."""

    limits: ReadLimits

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError) as exc:
            shown = brief(node.value) if isinstance(node, ScalarNode) else f"a {getattr(node, 'id', '')} node"
            problem = f"not a valid {node.tag} value: {shown} ({type(exc).__name__})"
            raise ConstructorError(None, None, problem, node.start_mark) from None

    def construct_yaml_int(self, node: ScalarNode) -> Any:
        text = str(self.construct_scalar(node))
        if len(text) > self.limits.max_int_digits:
            return LongInt(sum(ch.isdigit() for ch in text))
        return int(super().construct_yaml_int(node))


BoundedConstructor.add_constructor("tag:yaml.org,2002:int", BoundedConstructor.construct_yaml_int)  # type: ignore[type-var]


class PythonEvents(Reader, Scanner, Parser):
    """PyYAML's pure-Python event source (used when PyYAML was built without libyaml)."""

    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


class PythonLoader(BoundedComposer, PythonEvents, BoundedConstructor, Resolver):
    """The bounded loader on pure-Python events."""

    def __init__(self, stream: str, limits: ReadLimits):
        PythonEvents.__init__(self, stream)
        Composer.__init__(self)
        BoundedConstructor.__init__(self)
        Resolver.__init__(self)
        self.init_bounds(limits)


try:
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    LOADER: Any = PythonLoader
else:

    class LibyamlLoader(BoundedComposer, CParser, BoundedConstructor, Resolver):
        """The bounded loader on libyaml's events (faster; its parser does not recurse either)."""

        def __init__(self, stream: str, limits: ReadLimits):
            CParser.__init__(self, stream)
            Composer.__init__(self)
            BoundedConstructor.__init__(self)
            Resolver.__init__(self)
            self.init_bounds(limits)

    LOADER = LibyamlLoader


LIBYAML_DEPTH_PROBLEM = "exceeded maximum nesting depth"


def load_yaml(text: str, limits: ReadLimits, loader_class: Any = None) -> Any:
    """Parse one YAML document within ``limits`` (raises yaml.YAMLError).

    libyaml 0.2.6 and newer refuse 1000 nesting levels in their scanner, which may look
    ahead past our ``max_depth``; such a document is re-read by the Python event source,
    so the verdict and its message depend on ``limits`` alone, not on the libyaml build.
    """
    loader_class = loader_class or LOADER
    try:
        return _load_with(loader_class, text, limits)
    except MarkedYAMLError as exc:
        if loader_class is PythonLoader or exc.problem != LIBYAML_DEPTH_PROBLEM:
            raise
    return _load_with(PythonLoader, text, limits)


def _load_with(loader_class: Any, text: str, limits: ReadLimits) -> Any:
    """One document read by one loader class, its resources released."""
    loader = loader_class(text, limits)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def describe(exc: yaml.YAMLError) -> str:
    """A PyYAML error on one line: context, problem, then (line, column)."""
    if not isinstance(exc, MarkedYAMLError):
        return " ".join(str(exc).split())
    words = " ".join(": ".join(part for part in (exc.context, exc.problem) if part).split())
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return words
    if isinstance(exc, YamlLimitError):
        return f"line {mark.line + 1}, column {mark.column + 1}: {words}"
    return f"{words} (line {mark.line + 1}, column {mark.column + 1})"


def _mark(event: Any) -> Any:
    """Where an event starts (libyaml's and PyYAML's marks differ only in type)."""
    return event.start_mark
