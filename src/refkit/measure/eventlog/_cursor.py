"""A bounds-checked little-endian reader whose every failure names the source and offset."""

from __future__ import annotations

from refkit.errors import Location, ParseError


class Cursor:
    """Reads ``data[start:end]`` front to back; ``base`` is added to reported offsets (so a
    cursor over one event's data reports offsets in the whole log)."""

    __slots__ = ("base", "data", "end", "pos", "source")

    def __init__(
        self, data: bytes, *, source: str, base: int = 0, start: int = 0, end: int | None = None
    ) -> None:
        self.data = data
        self.source = source
        self.base = base
        self.pos = start
        self.end = len(data) if end is None else end

    @property
    def offset(self) -> int:
        """The current position as an offset in the whole input."""
        return self.base + self.pos

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def fail(self, message: str, *, field: str | None = None, at: int | None = None) -> ParseError:
        offset = self.offset if at is None else self.base + at
        return ParseError(message, location=Location(self.source, offset, field))

    def take(self, n: int, field: str) -> bytes:
        if n < 0 or n > self.remaining:
            raise self.fail(
                f"truncated: {field} needs {n} bytes, {self.remaining} remain", field=field
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "little")

    def u8(self, field: str) -> int:
        return self.uint(1, field)

    def u16(self, field: str) -> int:
        return self.uint(2, field)

    def u32(self, field: str) -> int:
        return self.uint(4, field)

    def u64(self, field: str) -> int:
        return self.uint(8, field)
