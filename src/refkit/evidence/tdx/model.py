"""The TDX evidence value: a parsed quote and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

from refkit.evidence.tdx.quote import Quote, looks_like, parse_quote


@dataclass(frozen=True)
class TdxEvidence:
    """A TDX quote as evidence. Frozen; parse with :func:`parse`."""

    quote: Quote
    source: str

    @property
    def debug(self) -> bool:
        """TD_ATTRIBUTES.DEBUG: authentic evidence of a guest the host can inspect."""
        return self.quote.body.debug

    @property
    def report_data(self) -> bytes:
        """The TD's 64-byte REPORTDATA (the caller's nonce or key binding)."""
        return self.quote.body.report_data

    @property
    def kind(self) -> str:
        tdx = "TDX 1.5" if self.quote.body_type == 3 else "TDX 1.0"
        return f"TDX quote v{self.quote.version} ({tdx} body)"


def parse(data: bytes, *, source: str) -> TdxEvidence:
    """Parse a TDX quote v4/v5; :class:`~refkit.errors.ParseError` on any defect."""
    return TdxEvidence(parse_quote(bytes(data), source=source), source)


__all__ = ["TdxEvidence", "looks_like", "parse"]
