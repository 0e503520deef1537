"""Strict JSON in, RFC 8785 canonical JSON out.

Everything refkit signs or hashes is serialised with the JSON Canonicalization Scheme
(RFC 8785): sorted keys, no insignificant white space, ECMAScript number formatting, so the
same content always has the same bytes and the same digest.

Everything refkit reads is parsed strictly: duplicate object keys are refused (two parsers
that pick different duplicates see different documents: a classic signature-confusion
trick), as are NaN/Infinity, invalid UTF-8, a byte-order mark, nesting deeper than
:data:`MAX_DEPTH` and documents larger than the caller's limit. Every failure is a
:class:`~refkit.errors.ParseError` naming the source.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterator
from typing import Any

from refkit.errors import InputError, Location, ParseError
from refkit.manifests.constants import MAX_DOCUMENT_BYTES

MAX_DEPTH = 64


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_hook() -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """The object builder of one parse: refuses duplicate keys, and keeps one copy of each
    string value. A manifest repeats the same digests in every entry (60,000 SNP values
    share a handful of input digests); the parser makes a new string for each, so sharing
    them keeps a large document's memory near what its distinct content needs."""
    strings: dict[str, str] = {}

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _DuplicateKey(key)
            out[key] = strings.setdefault(value, value) if type(value) is str else value
        return out

    return build


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed document, iteratively (no recursion limit issues)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def decode_document(data: bytes | str, *, source: str, max_bytes: int) -> str:
    """A document's text: size-limited, UTF-8 without a byte-order mark (JSON and YAML)."""
    if len(data) > max_bytes:
        raise InputError(f"{source}: {len(data)} bytes is more than the limit of {max_bytes}")
    if isinstance(data, str):
        return data
    if data.startswith(b"\xef\xbb\xbf"):
        raise ParseError("starts with a byte-order mark", location=Location(source, 0))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("not valid UTF-8", location=Location(source, exc.start)) from None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (JSON values and frozen models hold no cycles).

    Building a large document allocates millions of objects that all survive; each full
    collection walks every one of them, which makes reading a 60,000-entry manifest grow
    faster than its size. Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def loads_strict(data: bytes | str, *, source: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Parse a JSON document strictly; see the module docstring for what is refused."""
    text = decode_document(data, source=source, max_bytes=max_bytes)
    try:
        with gc_paused():
            value = json.loads(text, object_pairs_hook=_object_hook(), parse_constant=_no_constant)
    except _DuplicateKey as exc:
        raise ParseError(
            f"duplicate JSON key {exc.key!r}",
            location=Location(source),
            hint="a document with repeated keys is ambiguous and is refused",
        ) from None
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})",
            location=Location(source, exc.pos),
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"invalid JSON: {exc}", location=Location(source)) from None
    if _depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise ParseError(f"nested deeper than {MAX_DEPTH} levels", location=Location(source))
    return value


def canonical_dumps(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``value`` (UTF-8).

    Documents made of objects, arrays, strings, integers within I-JSON's exact range,
    booleans and null (everything refkit writes) take a fast path through the C JSON
    encoder: for them RFC 8785 is exactly sorted keys, no white space, ECMAScript string
    escaping (which ``json`` with ``ensure_ascii=False`` matches) and integer digits.
    Anything else (floats, lone surrogates, keys that UTF-16 order would sort differently
    from code-point order, integers beyond 2**53) goes to the reference implementation,
    rfc8785, which raises for what cannot be canonicalised. A property test keeps the two
    paths equal.
    """
    if _fast_path_ok(value):
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    import rfc8785

    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError, TypeError) as exc:
        # rfc8785 raises UnicodeEncodeError for lone surrogates, TypeError for other types
        raise InputError(f"value cannot be canonicalised (RFC 8785): {exc}") from exc


_MAX_EXACT = 2**53 - 1


def _fast_path_ok(value: Any) -> bool:
    """Whether ``value`` only holds what the fast path serialises exactly as RFC 8785."""
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str:
            if not _plain_text(node):
                return False
        elif kind is dict:
            for key, child in node.items():
                if type(key) is not str or not _plain_key(key):
                    return False
                stack.append(child)
        elif kind is list:
            stack.extend(node)
        elif kind is int:
            if not -_MAX_EXACT <= node <= _MAX_EXACT:
                return False
        elif node is not None and kind is not bool:
            return False  # floats, tuples, subclasses: the reference implementation decides
    return True


def _plain_text(text: str) -> bool:
    # Lone surrogates cannot be encoded as UTF-8; the reference implementation refuses them.
    return text.isascii() or not any("\ud800" <= ch <= "\udfff" for ch in text)


def _plain_key(key: str) -> bool:
    # RFC 8785 sorts keys by UTF-16 code units; Python by code points. The two orders agree
    # unless a key holds a character outside the BMP (a surrogate pair in UTF-16).
    return key.isascii() or (_plain_text(key) and all(ch <= "\uffff" for ch in key))


def is_canonical(data: bytes, *, source: str) -> bool:
    """Whether ``data`` is exactly the canonical serialisation of what it encodes."""
    return canonical_dumps(loads_strict(data, source=source)) == data


def require_canonical(data: bytes, *, source: str) -> Any:
    """Parse ``data`` and refuse it unless it is byte-for-byte canonical JSON."""
    value = loads_strict(data, source=source)
    if canonical_dumps(value) != data:
        raise ParseError(
            "not canonical JSON (RFC 8785)",
            location=Location(source),
            hint="produce it with `refkit manifest build`, which writes the canonical form",
        )
    return value
