"""The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1), read from DER.

Intel "SGX PCK Certificate and CRL Profile", section 1.5: the extension's value is a
SEQUENCE of SEQUENCE { OID, value } with, under 1.2.840.113741.1.13.1:

- ``.1`` PPID, OCTET STRING (16)
- ``.2`` TCB, SEQUENCE of SEQUENCE { OID, value }: ``.2.1``-``.2.16`` SGX TCB component
  SVNs (INTEGER 0-255), ``.2.17`` PCESVN (INTEGER 0-65535), ``.2.18`` CPUSVN (OCTET STRING 16)
- ``.3`` PCE-ID, OCTET STRING (2)
- ``.4`` FMSPC, OCTET STRING (6)
- ``.5`` SGX type, ENUMERATED (0 standard, 1 scalable, 2 scalable with integrity)
- ``.6`` platform instance ID, OCTET STRING (16), and ``.7`` configuration (platform CA only)

The reader is a small strict DER walker (definite lengths, minimal length encoding not
required, no indefinite forms): every defect is a :class:`~refkit.errors.ParseError` with
the offset inside the extension value and the field, never another exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from refkit.errors import Location, ParseError

SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"

_SEQUENCE, _INTEGER, _OCTET_STRING, _OID, _ENUMERATED = 0x30, 0x02, 0x04, 0x06, 0x0A


@dataclass(frozen=True)
class PckExtension:
    """The platform's TCB as its PCK certificate states it."""

    ppid: bytes
    tcb_components: tuple[int, ...]
    pce_svn: int
    cpu_svn: bytes
    pce_id: bytes
    fmspc: bytes
    sgx_type: int
    platform_instance_id: bytes | None = None


@dataclass(frozen=True)
class _Tlv:
    tag: int
    offset: int
    value: bytes
    value_offset: int


class _Der:
    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.source = source

    def fail(self, offset: int, field: str, message: str) -> ParseError:
        return ParseError(message, location=Location(self.source, offset, field))

    def read(self, offset: int, end: int, field: str) -> _Tlv:
        if offset + 2 > end:
            raise self.fail(offset, field, "truncated DER element")
        tag = self.data[offset]
        if tag & 0x1F == 0x1F:
            raise self.fail(offset, field, "multi-byte DER tags are not used here")
        first = self.data[offset + 1]
        at = offset + 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4:
                raise self.fail(offset + 1, field, "unsupported DER length form")
            if at + count > end:
                raise self.fail(offset + 1, field, "truncated DER length")
            length = int.from_bytes(self.data[at : at + count], "big")
            at += count
        if at + length > end:
            raise self.fail(offset, field, f"DER element of {length} bytes overruns its parent")
        return _Tlv(tag, offset, self.data[at : at + length], at)

    def children(self, parent: _Tlv, field: str) -> list[_Tlv]:
        if parent.tag != _SEQUENCE:
            raise self.fail(parent.offset, field, f"expected a SEQUENCE, found tag {parent.tag:#x}")
        out: list[_Tlv] = []
        at, end = parent.value_offset, parent.value_offset + len(parent.value)
        while at < end:
            tlv = self.read(at, end, field)
            out.append(tlv)
            at = tlv.value_offset + len(tlv.value)
        return out

    def oid(self, tlv: _Tlv, field: str) -> str:
        if tlv.tag != _OID or not tlv.value:
            raise self.fail(tlv.offset, field, "expected an OBJECT IDENTIFIER")
        parts: list[int] = []
        value = 0
        for i, byte in enumerate(tlv.value):
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                if not parts:
                    first = min(value // 40, 2)
                    parts += [first, value - 40 * first]
                else:
                    parts.append(value)
                value = 0
            elif i == len(tlv.value) - 1:
                raise self.fail(tlv.offset, field, "truncated OBJECT IDENTIFIER")
        return ".".join(map(str, parts))

    def integer(self, tlv: _Tlv, field: str, *, tag: int = _INTEGER, hi: int) -> int:
        if tlv.tag != tag or not tlv.value or len(tlv.value) > 3:
            raise self.fail(tlv.offset, field, "expected a small non-negative INTEGER")
        value = int.from_bytes(tlv.value, "big", signed=True)
        if not 0 <= value <= hi:
            raise self.fail(tlv.offset, field, f"value {value} is outside 0..{hi}")
        return value

    def octets(self, tlv: _Tlv, field: str, size: int) -> bytes:
        if tlv.tag != _OCTET_STRING or len(tlv.value) != size:
            raise self.fail(tlv.offset, field, f"expected an OCTET STRING of {size} bytes")
        return tlv.value


def _pairs(der: _Der, parent: _Tlv, field: str) -> dict[str, _Tlv]:
    out: dict[str, _Tlv] = {}
    for item in der.children(parent, field):
        kids = der.children(item, field)
        if len(kids) != 2:
            raise der.fail(item.offset, field, "expected SEQUENCE { OID, value }")
        oid = der.oid(kids[0], field)
        if oid in out:
            raise der.fail(item.offset, field, f"repeated {oid}")
        out[oid] = kids[1]
    return out


def parse_sgx_extension(value: bytes, *, source: str) -> PckExtension:
    """Read the SGX extension's DER value (the extnValue octets)."""
    der = _Der(value, source)
    top = der.read(0, len(value), "sgx-extension")
    if top.value_offset + len(top.value) != len(value):
        raise der.fail(len(top.value), "sgx-extension", "bytes after the extension")
    base = SGX_EXTENSION_OID
    items = _pairs(der, top, "sgx-extension")

    def need(oid: str, name: str) -> _Tlv:
        tlv = items.get(f"{base}.{oid}")
        if tlv is None:
            raise der.fail(0, name, f"the SGX extension has no {name} ({base}.{oid})")
        return tlv

    tcb = _pairs(der, need("2", "tcb"), "tcb")
    components: list[int] = []
    for i in range(1, 17):
        tlv = tcb.get(f"{base}.2.{i}")
        if tlv is None:
            raise der.fail(0, f"tcb.comp{i:02d}", f"missing SGX TCB component {i}")
        components.append(der.integer(tlv, f"tcb.comp{i:02d}", hi=255))
    pce = tcb.get(f"{base}.2.17")
    cpu = tcb.get(f"{base}.2.18")
    if pce is None or cpu is None:
        raise der.fail(0, "tcb", "missing PCESVN or CPUSVN")
    pid = items.get(f"{base}.6")
    return PckExtension(
        ppid=der.octets(need("1", "ppid"), "ppid", 16),
        tcb_components=tuple(components),
        pce_svn=der.integer(pce, "tcb.pcesvn", hi=0xFFFF),
        cpu_svn=der.octets(cpu, "tcb.cpusvn", 16),
        pce_id=der.octets(need("3", "pceid"), "pceid", 2),
        fmspc=der.octets(need("4", "fmspc"), "fmspc", 6),
        sgx_type=der.integer(need("5", "sgx-type"), "sgx-type", tag=_ENUMERATED, hi=255),
        platform_instance_id=(
            None
            if pid is None or pid.tag != _OCTET_STRING
            else der.octets(pid, "platform-instance-id", 16)
        ),
    )
