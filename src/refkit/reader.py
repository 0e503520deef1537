"""The one strict reader for untrusted JSON and YAML objects, one field at a time.

Every document refkit reads from outside (manifests, trust policies, inputs locks,
measurement JSON, evidence) goes through :class:`Obj`: it wraps one object and its path
(``$.predicate.release``); each getter checks the type of one field and raises
:class:`~refkit.errors.ParseError` naming the full field path when it is wrong. After the
known fields are read, the caller decides what unknown ones mean: :meth:`Obj.rest` keeps
them (informational parts, so they survive a round trip, as python-tuf's metadata API
does) and :meth:`Obj.refuse_rest` refuses them (constraints and refkit-owned formats:
fail closed, docs/decisions/0005).

Invariants: nothing here accepts a bool where an int is asked for (``True`` is an
``int`` in Python, never in our JSON); hex strings are lower case, without ``0x``, of an
exact byte length when one is given; every failure is a ParseError, never another
exception.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

from refkit.errors import Location, NotUnderstood, ParseError
from refkit.times import parse_time

T = TypeVar("T")

_HEX = re.compile(r"[0-9a-f]*")
#: The read-only empty mapping :meth:`Obj.closed` returns (one object, not one per entry).
EMPTY: Mapping[str, Any] = MappingProxyType({})
#: RFC 8785 / I-JSON: integers beyond 2**53 - 1 are not exact in every JSON parser.
MAX_SAFE_INT = 2**53 - 1


def fail(source: str, path: str, message: str, hint: str | None = None) -> ParseError:
    return ParseError(message, location=Location(source, field=path), hint=hint)


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value, so a model never shares mutable state with its input."""
    return copy.deepcopy(value)


def check_hex(value: str, *, source: str, path: str, size: int | None = None) -> str:
    """Refuse anything but lower-case hex of ``size`` bytes (any even length if None)."""
    if not _HEX.fullmatch(value) or len(value) % 2:
        hint = "hex values are lower case, without 0x" if value.lower() != value else None
        raise fail(source, path, "not lower-case hex of whole bytes", hint=hint)
    if size is not None and len(value) != 2 * size:
        raise fail(source, path, f"is {len(value) // 2} bytes, expected {size}")
    return value


class Obj:
    """One JSON object under validation."""

    def __init__(self, value: Any, *, source: str, path: str, lenient: bool = False) -> None:
        if not isinstance(value, dict):
            raise fail(source, path, f"expected an object, found {type_name(value)}")
        self.value: dict[str, Any] = value
        self.source = source
        self.path = path
        #: Read for display only: :meth:`closed` keeps unknown fields instead of refusing.
        self.lenient = lenient
        self._seen: set[str] = set()

    def child(self, value: Any, path: str) -> Obj:
        """An object found below this one (same source and reading mode)."""
        return Obj(value, source=self.source, path=path, lenient=self.lenient)

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def fail(self, key: str | None, message: str, hint: str | None = None) -> ParseError:
        return fail(self.source, self.at(key) if key else self.path, message, hint)

    def raw(self, key: str, required: bool = False) -> Any:
        """The field's value unchecked (None if absent), marked as known."""
        self._seen.add(key)
        if key not in self.value:
            if required:
                raise self.fail(key, "is required")
            return None
        return self.value[key]

    def _typed(self, key: str, required: bool, kind: type[T], what: str) -> T | None:
        value = self.raw(key, required)
        if value is None and key in self.value:
            raise self.fail(key, f"expected {what}, found null")
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            hint = None
            if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
                hint = "quote it: a hex value made only of digits reads as a number in YAML"
            raise self.fail(key, f"expected {what}, found {type_name(value)}", hint)
        return value

    def text(self, key: str, *, pattern: re.Pattern[str] | None = None) -> str:
        value = self._typed(key, True, str, "a string")
        assert value is not None
        return self._check_str(key, value, pattern)

    def opt_text(self, key: str, *, pattern: re.Pattern[str] | None = None) -> str | None:
        value = self._typed(key, False, str, "a string")
        return None if value is None else self._check_str(key, value, pattern)

    def _check_str(self, key: str, value: str, pattern: re.Pattern[str] | None) -> str:
        if value == "" and pattern is None:
            raise self.fail(key, "must not be empty")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(key, f"{value[:80]!r} does not match {pattern.pattern}")
        return value

    def integer(self, key: str, *, lo: int = 0, hi: int = MAX_SAFE_INT) -> int:
        value = self.opt_integer(key, lo=lo, hi=hi, required=True)
        assert value is not None
        return value

    def opt_integer(
        self, key: str, *, lo: int = 0, hi: int = MAX_SAFE_INT, required: bool = False
    ) -> int | None:
        value = self._typed(key, required, int, "an integer")
        if value is not None and not lo <= value <= hi:
            raise self.fail(key, f"{int_text(value)} is out of range [{lo}, {hi}]")
        return value

    def hex(self, key: str, size: int | None = None) -> str:
        value = self._typed(key, True, str, "a hex string")
        assert value is not None
        return check_hex(value, source=self.source, path=self.at(key), size=size)

    def opt_hex(self, key: str, size: int | None = None) -> str | None:
        value = self._typed(key, False, str, "a hex string")
        if value is None:
            return None
        return check_hex(value, source=self.source, path=self.at(key), size=size)

    def time(self, key: str) -> datetime:
        return parse_time(self.text(key), source=self.source, path=self.at(key))

    def opt_time(self, key: str) -> datetime | None:
        text = self.opt_text(key)
        return None if text is None else parse_time(text, source=self.source, path=self.at(key))

    def obj(self, key: str) -> Obj:
        return self.child(self.raw(key, True), self.at(key))

    def opt_obj(self, key: str) -> Obj | None:
        value = self.raw(key, False)
        if value is None and key not in self.value:
            return None
        return self.child(value, self.at(key))

    def objs(
        self, key: str, item: Callable[[Obj], T], *, required: bool = False, min_items: int = 0
    ) -> tuple[T, ...] | None:
        """A list of objects, each read by ``item`` from its own :class:`Obj`."""
        return self.opt_items(
            key, lambda v, p: item(self.child(v, p)), required=required, min_items=min_items
        )

    def items(
        self, key: str, item: Callable[[Any, str], T], *, min_items: int = 0
    ) -> tuple[T, ...]:
        value = self.opt_items(key, item, required=True, min_items=min_items)
        assert value is not None
        return value

    def opt_items(
        self,
        key: str,
        item: Callable[[Any, str], T],
        *,
        required: bool = False,
        min_items: int = 0,
    ) -> tuple[T, ...] | None:
        value = self.raw(key, required)
        if value is None and key not in self.value:
            return None
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, found {type_name(value)}")
        if len(value) < min_items:
            raise self.fail(key, f"needs at least {min_items} item(s)")
        return tuple(item(v, f"{self.at(key)}[{i}]") for i, v in enumerate(value))

    def text_list(
        self, key: str, *, pattern: re.Pattern[str] | None = None
    ) -> tuple[str, ...] | None:
        def one(v: Any, path: str) -> str:
            if not isinstance(v, str) or v == "":
                raise fail(self.source, path, f"expected a non-empty string, found {type_name(v)}")
            if pattern is not None and not pattern.fullmatch(v):
                raise fail(self.source, path, f"{v[:80]!r} does not match {pattern.pattern}")
            return v

        return self.opt_items(key, one)

    def hex_list(self, key: str, size: int) -> tuple[str, ...] | None:
        def one(v: Any, path: str) -> str:
            if not isinstance(v, str):
                raise fail(self.source, path, f"expected a hex string, found {type_name(v)}")
            return check_hex(v, source=self.source, path=path, size=size)

        return self.opt_items(key, one)

    def refuse_rest(self, *, code: str | None = None, hint: str | None = None) -> None:
        """Refuse the fields nobody asked for (call after reading every known field).

        With ``code`` the refusal is :class:`~refkit.errors.NotUnderstood` (fail closed:
        a constraint this version does not know), else a plain ParseError (a typo in a
        file refkit owns the format of). Names every unknown field at once, sorted.
        """
        unknown = sorted(k for k in self.value if k not in self._seen)
        if not unknown:
            return
        names = ", ".join(repr(k[:64]) for k in unknown[:8]) + (" ..." if len(unknown) > 8 else "")
        what = "unknown field" if len(unknown) == 1 else "unknown fields"
        where = Location(self.source, field=self.at(unknown[0]) if len(unknown) == 1 else self.path)
        if code is None:
            raise ParseError(f"{what} {names}", location=where, hint=hint)
        raise NotUnderstood(
            f"{what} {names}: this refkit does not know what it requires",
            location=where,
            code=code,
            hint=hint or "use a refkit release that understands this document",
        )

    def closed(self, *, code: str) -> Mapping[str, Any]:
        """End of a constraint: refuse unknown fields (:meth:`refuse_rest` with ``code``).

        A lenient reader (display only: ``manifest show``/``diff``) keeps them instead, so
        they can be shown; it never decides anything from them. Returns the (read-only)
        fields kept: one shared empty mapping when there are none.
        """
        if self.lenient:
            return self.rest() or EMPTY
        self.refuse_rest(code=code)
        return EMPTY

    def rest(self) -> dict[str, Any]:
        """The fields nobody asked for: kept verbatim so they survive a round trip."""
        return {k: json_copy(v) for k, v in self.value.items() if k not in self._seen}


#: Integers with more bits than this are described by their size, not printed: Python
#: refuses to turn an int of more than 4,300 digits into text, and nobody reads them.
_PRINTABLE_BITS = 256


def int_text(value: int) -> str:
    """An integer for a message: itself if short, else its approximate number of digits."""
    if value.bit_length() <= _PRINTABLE_BITS:
        return str(value)
    digits = int(value.bit_length() * 0.30103) + 1
    return f"{'-' if value < 0 else ''}an integer of about {digits} digits"


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``out[key]`` unless ``value`` is None (absent optional fields stay absent)."""
    if value is not None:
        out[key] = value


def merged(known: dict[str, Any], unrecognized: Mapping[str, Any]) -> dict[str, Any]:
    """Known fields plus the unrecognized ones (known fields win; they cannot collide)."""
    out = {k: json_copy(v) for k, v in unrecognized.items()}
    out.update(known)
    return out
