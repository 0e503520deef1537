"""SPDM 1.1 GET_MEASUREMENTS request and MEASUREMENTS response, as NVIDIA GPUs and
NVSwitches return them, parsed into frozen values.

Layout (DMTF DSP0274 1.1.0, section 10.11; NVIDIA's opaque data as its verifiers read it):

- request (37 bytes): version 0x11, code 0xE0, param1 (bit 0: signature requested), param2
  (0xFF: all blocks), 32-byte nonce, slot id.
- response: version 0x11, code 0x60, param1, param2, NumberOfBlocks (u8),
  MeasurementRecordLength (u24 LE), the record, 32-byte responder nonce, OpaqueLength
  (u16 LE), opaque data, signature (96 bytes: P-384 r || s, big-endian).
- record: blocks of index (u8), measurement specification (u8, 1 = DMTF), size (u16 LE),
  then the DMTF measurement: value type (u8), value size (u16 LE), value.
- opaque data: TLVs of type (u16 LE), length (u16 LE), value.

Invariants: every length is checked against what remains before it is used; the blocks
must fill the record exactly and their count must equal NumberOfBlocks; TLVs must fill the
opaque data exactly. Every failure is a :class:`~refkit.errors.ParseError` naming the
source and the byte offset in the whole evidence (request || response), never another
exception.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property, partial
from types import MappingProxyType
from typing import NamedTuple

from refkit.errors import Location, ParseError

SPDM_VERSION_1_1 = 0x11
GET_MEASUREMENTS = 0xE0
MEASUREMENTS = 0x60
REQUEST_SIZE = 37
NONCE_SIZE = 32
SIGNATURE_SIZE = 96  # ECDSA P-384 r || s
DMTF_SPEC = 1

# Opaque data TLV types (NVIDIA).
OPAQUE_DRIVER_VERSION = 3
OPAQUE_VBIOS_VERSION = 6
OPAQUE_NVDEC0_STATUS = 11
OPAQUE_MSRSCNT = 12
OPAQUE_CHIP_SKU = 15
OPAQUE_PROJECT = 17
OPAQUE_PROJECT_SKU = 18
OPAQUE_FWID = 20
OPAQUE_SWITCH_PDI = 22
OPAQUE_OPAQUE_DATA_VERSION = 34
OPAQUE_FEATURE_FLAG = 36

NVDEC_ENABLED = 0xAA
NVDEC_DISABLED = 0x55

#: Names of the opaque types :func:`opaque_show` prints (others appear as ``type-N``).
OPAQUE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        1: "cert-issuer-name",
        2: "cert-authority-key-identifier",
        3: "driver-version",
        4: "gpu-info",
        5: "sku",
        6: "vbios-version",
        7: "manufacturer-id",
        8: "tamper-detection",
        9: "smc",
        10: "vpr",
        11: "nvdec0-status",
        12: "msrscnt",
        13: "cprinfo",
        14: "board-id",
        15: "chip-sku",
        16: "chip-sku-mod",
        17: "project",
        18: "project-sku",
        19: "project-sku-mod",
        20: "fwid",
        21: "protected-pcie-status",
        22: "switch-pdi",
        23: "floorswept-ports",
        24: "position-id",
        25: "lock-switch-status",
        26: "gpu-pdis",
        32: "gpu-lock-switch-status",
        34: "opaque-data-version",
        36: "feature-flag",
    }
)


def _fail(source: str, offset: int, field: str, message: str) -> ParseError:
    return ParseError(message, location=Location(source, offset=offset, field=field))


class MeasurementBlock(NamedTuple):
    """One measurement block (DSP0274 table 45 and the DMTF measurement, table 47): the
    fields in wire order; ``number`` is the block's 1-based index. A named tuple:
    immutable, and cheap to build 64 times per report."""

    number: int
    spec: int
    size: int
    value_type: int
    value_size: int
    value: bytes


class OpaqueField(NamedTuple):
    """One opaque-data TLV (a named tuple, like the blocks)."""

    type: int
    value: bytes
    offset: int


@dataclass(frozen=True)
class SpdmMeasurements:
    """A parsed request || response pair.

    ``signed`` is what the device key signs (request || response without the signature).
    """

    request_param1: int
    request_param2: int
    nonce: bytes
    slot: int
    response_param1: int
    response_param2: int
    #: NumberOfBlocks.
    block_count: int
    #: The measurement record, checked by :func:`parse`; :attr:`values` and
    #: :attr:`blocks` read it on first use (a comparison remembered for the same record
    #: needs neither).
    record: bytes = dataclasses.field(repr=False)
    responder_nonce: bytes
    opaque: tuple[OpaqueField, ...]
    #: TLV type → value of its first TLV.
    fields: Mapping[int, bytes]
    signature: bytes
    signed: bytes

    @cached_property
    def values(self) -> Mapping[int, bytes]:
        """Block number → value, in record order (what comparisons read)."""
        return record_values(self.record, self.block_count, source="measurement record")

    @cached_property
    def blocks(self) -> tuple[MeasurementBlock, ...]:
        """Every block, field by field."""
        return parse_record(self.record, self.block_count, source="measurement record")

    def field(self, type_: int) -> bytes | None:
        """The value of the first opaque TLV of ``type_``, or None."""
        return self.fields.get(type_)

    def block(self, index: int) -> MeasurementBlock | None:
        for b in self.blocks:
            if b.number == index:
                return b
        return None


_TLV_HEADER = struct.Struct("<HH")
_new_field = partial(tuple.__new__, OpaqueField)


def parse_tlvs(data: bytes, *, source: str, base: int = 0) -> tuple[OpaqueField, ...]:
    """The TLV list of opaque data; ``base`` is the offset of ``data`` in the evidence."""
    out: list[OpaqueField] = []
    pos = 0
    end = len(data)
    while pos < end:
        if end - pos < 4:
            raise _fail(source, base + pos, "opaque data", "truncated TLV header")
        type_, length = _TLV_HEADER.unpack_from(data, pos)
        start = pos + 4
        stop = start + length
        if stop > end:
            raise _fail(
                source,
                base + pos,
                f"opaque TLV type {type_}",
                f"length {length} overruns the opaque data ({end - start} bytes left)",
            )
        out.append(_new_field((type_, data[start:stop], base + pos)))
        pos = stop
    return tuple(out)


# The common case: every block a 48-byte DMTF digest (GPUs and NVSwitches).
_UNIFORM = struct.Struct("<BBHBH48s")
_new_block = partial(tuple.__new__, MeasurementBlock)


def _is_uniform(record: bytes, count: int) -> bool:
    """Whether the record is ``count`` well-formed 48-byte digest blocks (else the general
    parser finds and names the problem). The header columns are checked as strided slices
    of the record (index, spec 1, size 51 LE, type, value size 48 LE), in C."""
    step = _UNIFORM.size
    if not count or len(record) != count * step:
        return False
    numbers = record[0::step]
    return not (
        record[1::step] != bytes([DMTF_SPEC]) * count
        or record[2::step] != b"\x33" * count
        or record[3::step] != b"\x00" * count
        or record[5::step] != b"\x30" * count
        or record[6::step] != b"\x00" * count
        or 0 in numbers
        or len(set(numbers)) != count
    )


def _uniform(record: bytes, count: int) -> tuple[MeasurementBlock, ...] | None:
    """The blocks of a uniform record (:func:`_is_uniform`), else None."""
    if not _is_uniform(record, count):
        return None
    return tuple(map(_new_block, _UNIFORM.iter_unpack(record)))


@cache
def _uniform_values(count: int) -> struct.Struct:
    """The 48-byte values of ``count`` uniform blocks, in one unpack."""
    return struct.Struct("<" + "7x48s" * count)


def check_record(record: bytes, count: int, *, source: str, base: int = 0) -> None:
    """Raise the :class:`~refkit.errors.ParseError` :func:`parse_record` would, without
    building the blocks of a uniform record."""
    if not _is_uniform(record, count):
        parse_record_general(record, count, source=source, base=base)


def record_values(record: bytes, count: int, *, source: str, base: int = 0) -> Mapping[int, bytes]:
    """Block number → value of a record holding exactly ``count`` blocks, without building
    the blocks when the record is uniform (the common case, a third of a parse)."""
    if _is_uniform(record, count):
        values = _uniform_values(count).unpack(record)
        return MappingProxyType(dict(zip(record[0 :: _UNIFORM.size], values, strict=True)))
    blocks = parse_record_general(record, count, source=source, base=base)
    return MappingProxyType({b.number: b.value for b in blocks})


def parse_record(
    record: bytes, count: int, *, source: str, base: int = 0
) -> tuple[MeasurementBlock, ...]:
    """The measurement blocks of a record holding exactly ``count`` of them."""
    fast = _uniform(record, count)
    return (
        fast if fast is not None else parse_record_general(record, count, source=source, base=base)
    )


def parse_record_general(
    record: bytes, count: int, *, source: str, base: int = 0
) -> tuple[MeasurementBlock, ...]:
    """:func:`parse_record` block by block (any sizes); names the first problem."""
    blocks: list[MeasurementBlock] = []
    pos = 0
    seen: set[int] = set()
    end = len(record)
    while pos < end:
        at = base + pos
        if end - pos < 7:
            if end - pos < 4:
                raise _fail(source, at, "measurement record", "truncated block header")
            index, spec, size = struct.unpack_from("<BBH", record, pos)
            if size > end - pos - 4:
                raise _fail(source, at, f"block {index}", f"size {size} overruns the record")
            raise _fail(source, at + 4, f"block {index}", "DMTF measurement shorter than 3")
        index, spec, size, value_type, value_size = struct.unpack_from("<BBHBH", record, pos)
        if size > end - pos - 4:
            raise _fail(source, at, f"block {index}", f"size {size} overruns the record")
        if spec != DMTF_SPEC:
            raise _fail(source, at + 1, f"block {index}", f"measurement specification {spec}")
        if size < 3:
            raise _fail(source, at + 4, f"block {index}", "DMTF measurement shorter than 3")
        if value_size != size - 3:
            raise _fail(
                source,
                at + 5,
                f"block {index}",
                f"DMTF value size {value_size} disagrees with block size {size}",
            )
        if index == 0 or index in seen:
            raise _fail(source, at, f"block {index}", "index 0 or repeated")
        seen.add(index)
        blocks.append(
            MeasurementBlock(
                index, spec, size, value_type, value_size, record[pos + 7 : pos + 4 + size]
            )
        )
        pos += 4 + size
    if len(blocks) != count:
        raise _fail(
            source,
            base,
            "NumberOfBlocks",
            f"says {count} blocks, the record holds {len(blocks)}",
        )
    return tuple(blocks)


def parse(data: bytes, *, source: str) -> SpdmMeasurements:
    """Parse request || response (the bytes of one GPU or NVSwitch report)."""
    if len(data) < REQUEST_SIZE:
        raise _fail(source, 0, "request", f"{len(data)} bytes, shorter than a request (37)")
    version, code, p1, p2 = data[0], data[1], data[2], data[3]
    if version != SPDM_VERSION_1_1:
        raise _fail(source, 0, "request version", f"SPDM version {version:#04x}, expected 0x11")
    if code != GET_MEASUREMENTS:
        raise _fail(source, 1, "request code", f"{code:#04x} is not GET_MEASUREMENTS (0xe0)")
    if not p1 & 1:
        raise _fail(source, 2, "request param1", "no signature was requested")
    nonce = data[4:36]
    slot = data[36]
    r = REQUEST_SIZE
    fixed = 8
    if len(data) < r + fixed:
        raise _fail(source, r, "response", "truncated response header")
    if data[r] != SPDM_VERSION_1_1:
        raise _fail(source, r, "response version", f"SPDM version {data[r]:#04x}")
    if data[r + 1] != MEASUREMENTS:
        raise _fail(source, r + 1, "response code", f"{data[r + 1]:#04x} is not MEASUREMENTS")
    rp1, rp2, count = data[r + 2], data[r + 3], data[r + 4]
    record_len = int.from_bytes(data[r + 5 : r + 8], "little")
    pos = r + fixed
    if record_len > len(data) - pos:
        raise _fail(source, r + 5, "MeasurementRecordLength", f"{record_len} overruns the data")
    record = data[pos : pos + record_len]
    check_record(record, count, source=source, base=pos)
    pos += record_len
    if len(data) - pos < NONCE_SIZE + 2:
        raise _fail(source, pos, "responder nonce", "truncated")
    responder_nonce = data[pos : pos + NONCE_SIZE]
    pos += NONCE_SIZE
    opaque_len = int.from_bytes(data[pos : pos + 2], "little")
    pos += 2
    if opaque_len > len(data) - pos:
        raise _fail(source, pos - 2, "OpaqueLength", f"{opaque_len} overruns the data")
    opaque = parse_tlvs(data[pos : pos + opaque_len], source=source, base=pos)
    pos += opaque_len
    rest = len(data) - pos
    if rest != SIGNATURE_SIZE:
        raise _fail(source, pos, "signature", f"{rest} bytes, expected {SIGNATURE_SIZE}")
    return SpdmMeasurements(
        request_param1=p1,
        request_param2=p2,
        nonce=nonce,
        slot=slot,
        response_param1=rp1,
        response_param2=rp2,
        block_count=count,
        record=record,
        responder_nonce=responder_nonce,
        opaque=opaque,
        fields=MappingProxyType({f.type: f.value for f in reversed(opaque)}),
        signature=data[pos:],
        signed=data[:pos],
    )


def text(value: bytes | None) -> str | None:
    """An ASCII opaque value without its NUL padding (None stays None)."""
    if value is None:
        return None
    return value.split(b"\0", 1)[0].decode("ascii", "replace")


def vbios_version(value: bytes | None) -> str | None:
    """The VBIOS version: a GPU's 8 bytes b0..b7 printed b3.b2.b1.b0.b4 in hex; an
    NVSwitch's ASCII text."""
    if value is None:
        return None
    if len(value) == 8 and b"." not in value:
        b = value
        return f"{b[3]:02X}.{b[2]:02X}.{b[1]:02X}.{b[0]:02X}.{b[4]:02X}"
    return text(value)
