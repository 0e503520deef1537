"""Strict, safe loading of the YAML authoring form.

YAML is for people to write; what refkit signs is canonical JSON. So the YAML refkit
reads is the JSON data model spelled in YAML, and nothing more. Refused, each with a
:class:`~refkit.errors.ParseError` that names the source and line:

- explicit tags (``!!python/object``, ``!!binary``, ``!custom``, even ``!!str``): safe
  loading alone would still construct some of them, and none has a JSON meaning;
- anchors, aliases and merge keys (``&a``, ``*a``, ``<<``): they make a small file expand
  into a huge document ("billion laughs") and hide what a reviewer reads;
- duplicate mapping keys (PyYAML silently keeps the last one), non-string keys;
- strings holding NUL or lone surrogates (double-quoted escapes ``"\0"``, ``"\ud800"``):
  no path holds NUL and UTF-8 cannot encode a lone surrogate;
- directives (``%YAML``, ``%TAG``): the typing rule below is refkit's, whatever they say;
- more than one document, documents larger than :data:`MAX_YAML_BYTES`, nesting deeper than
  :data:`MAX_DEPTH`, invalid UTF-8 or a byte-order mark.

Implicit typing follows JSON, not YAML 1.1: only ``true``/``false`` are booleans (``on``,
``yes``, ``no`` stay strings, so ``ccMode: on`` means the string "on"), only decimal and
``0x`` hexadecimal integers are numbers, there are no floats (``version: 1.2`` is the string
"1.2") and no timestamps (times stay the RFC 3339 strings the model parses).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, DocumentStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from refkit.errors import Location, ParseError
from refkit.manifests.canonical import decode_document

#: Largest YAML authoring file refkit reads. A release with hundreds of shapes is < 1 MiB.
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64


class _Refused(yaml.YAMLError):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Resolver(BaseResolver):
    """JSON-like implicit types only (see the module docstring)."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:-?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"),
    list("-0123456789"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|)$"), ["~", "n", ""]
)


class _StrictComposer(Composer):
    """Refuses anchors, aliases and explicit tags before any node is built."""

    _depth = 0

    def compose_document(self) -> Node | None:
        # The parser has consumed the directives; DocumentStartEvent kept what they said.
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, DocumentStartEvent) and (event.version or event.tags):
            raise _Refused("directives (%YAML, %TAG) are not allowed", event.start_mark)
        return super().compose_document()

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, AliasEvent):
            raise _Refused("aliases (*name) are not allowed", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(f"anchors (&{anchor}) are not allowed", event.start_mark)
        tag = getattr(event, "tag", None)
        if isinstance(event, ScalarEvent | CollectionStartEvent) and tag is not None:
            raise _Refused(f"tags ({tag}) are not allowed", event.start_mark)
        if isinstance(event, ScalarEvent) and not _encodable(event.value):
            raise _Refused("a string holds NUL or a lone surrogate escape", event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        return node


def _encodable(value: str) -> bool:
    # Double-quoted escapes ("\0", "\ud800") give what no path holds (NUL: open() raises
    # ValueError) and what UTF-8 cannot encode (lone surrogates).
    return "\0" not in value and not any("\ud800" <= ch <= "\udfff" for ch in value)


class _StrictConstructor(SafeConstructor):
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused("merge keys (<<) are not allowed", key_node.start_mark)
            if key_node.tag == "tag:yaml.org,2002:str" and key_node.value == "<<":
                raise _Refused("merge keys (<<) are not allowed", key_node.start_mark)
            if key_node.tag != "tag:yaml.org,2002:str":
                raise _Refused(
                    f"mapping key {key_node.value!r} is not a string (quote it)",
                    key_node.start_mark,
                )
            if key_node.value in seen:
                raise _Refused(f"duplicate key {key_node.value!r}", key_node.start_mark)
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=True)


class _StrictLoader(Reader, Scanner, Parser, _StrictComposer, _StrictConstructor, _Resolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _StrictComposer.__init__(self)
        _StrictConstructor.__init__(self)
        _Resolver.__init__(self)


def _where(source: str, mark: Any) -> Location:
    index = getattr(mark, "index", None)
    return Location(source, offset=index if isinstance(index, int) else None)


def _line(mark: Any) -> str:
    if mark is None:
        return ""
    return f" (line {mark.line + 1} column {mark.column + 1})"


def load_yaml(data: bytes | str, *, source: str, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Parse one YAML document strictly into JSON-compatible Python values."""
    text = decode_document(data, source=source, max_bytes=max_bytes)
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)  # the reader already checks characters here
        return loader.get_single_data()
    except _Refused as exc:
        raise ParseError(
            f"{exc.message}{_line(exc.mark)}",
            location=_where(source, exc.mark),
            hint="write plain YAML: no tags, anchors, aliases or repeated keys",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ParseError(
            f"invalid YAML: {problem}{_line(mark)}", location=_where(source, mark)
        ) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}", location=Location(source)) from None
    except RecursionError:
        raise ParseError("nested too deeply", location=Location(source)) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # e.g. an integer literal too long to convert: a user mistake, not a bug
        raise ParseError(f"invalid YAML value: {exc}", location=Location(source)) from None
    finally:
        if loader is not None:
            loader.dispose()
