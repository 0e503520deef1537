"""The dm-verity hash tree of any image: bit-identical to ``veritysetup format``.

What is computed (cryptsetup ``lib/verity/verity_hash.c`` and ``verity.c``, read for facts;
the kernel's dm-verity format):

* The data area is the first ``data_blocks`` blocks of ``data_block_size`` bytes of the
  image. By default ``data_blocks`` is the image size divided by the block size, rounded
  down: a trailing partial block is not covered (as veritysetup does). An image smaller
  than one block is refused (veritysetup fails with "Hash area overflow" or "too small").
* Every data block gives one digest: format (hash type) 1 hashes ``salt || block``, format
  0 (Chrome OS) ``block || salt``. Digests are packed into hash blocks of
  ``hash_block_size``: ``2 ** floor(log2(hash_block_size / digest_size))`` digests a
  block; format 1 pads each digest with zeros to the next power of two, format 0 does not;
  the rest of a hash block is zero. Each level's blocks are hashed the same way into the
  next level, until one block remains; the root hash is the digest of that block (or of
  the only data block when there is one: then there is no tree at all).
* On the hash device the levels are stored top level first, the level over the data last.
  The hash area starts at ``hash_offset`` with a 512-byte superblock (unless it is
  omitted); the first tree block is at the first multiple of ``hash_block_size`` at or
  after ``hash_offset + 512``. ``hash_offset`` must be a multiple of 512; in the same file
  as the data it must not be below the end of the data area.
* Superblock (:func:`superblock`, little-endian, 512 bytes): ``verity\\0\\0`` (8), version
  u32 = 1, hash type u32, UUID 16 (RFC 4122 byte order), algorithm name 32 (lower case,
  NUL padded), data block size u32, hash block size u32, data blocks u64, salt size u16,
  6 bytes padding, salt 256 (zero padded), 168 bytes padding.

Speed: the level over the data is nearly all the work. It is split into byte ranges of
whole hash blocks and hashed in worker *processes* (:func:`refkit.hashing.map_ordered`
with ``processes=True``): one digest a 4 KiB block is too short a call for hashlib to run
threads in parallel. Each worker memory-maps the image and returns its range's packed
digests; the parent writes them in order and hashes the upper levels as their blocks fill.
Memory is bounded: no level is held whole, only the tasks in flight and one partial block
per level.

Nothing here prints or decides where output goes: callers pass an open file to write the
hash area into (:class:`TreeWriter`), or none to compute the root alone.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Protocol

from refkit.errors import InputError, Location, ParseError, input_os_error
from refkit.hashing import WorkerDied, map_ordered

if TYPE_CHECKING:
    from uuid import UUID

    from refkit.verification import Result

#: The superblock's size and signature (cryptsetup ``struct verity_sb``).
SUPERBLOCK_SIZE: Final = 512
SIGNATURE: Final = b"verity\0\0"
MAX_SALT: Final = 256
MAX_LEVELS: Final = 63
#: The UUID used when none is given: deterministic images carry the nil UUID.
NIL_UUID: Final = "00000000-0000-0000-0000-000000000000"

# struct verity_sb: signature 8s, version I, hash_type I, uuid 16s, algorithm 32s,
# data_block_size I, hash_block_size I, data_blocks Q, salt_size H, pad 6x, salt 256s,
# pad 168x (packed, little-endian).
_SB = struct.Struct("<8sII16s32sIIQH6x256s168x")
assert _SB.size == SUPERBLOCK_SIZE

#: Hash names as veritysetup (the kernel crypto API) spells them -> hashlib's names.
ALGORITHMS: Final[dict[str, str]] = {
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha3-256": "sha3_256",
    "sha3-384": "sha3_384",
    "sha3-512": "sha3_512",
    "blake2b-512": "blake2b",
    "blake2s-256": "blake2s",
}

#: Map a task's range with its pages in place: faulting 4 KiB pages in one at a time costs
#: a third of the hashing time.
_POPULATE: Final = getattr(mmap, "MAP_POPULATE", 0)

#: Data bytes a worker hashes per task (whole hash blocks' worth of data blocks).
TASK_BYTES: Final = 16 << 20


def block_size_ok(size: int) -> bool:
    """veritysetup's rule: a power of two from 512 bytes to 512 KiB."""
    return 512 <= size <= 512 * 1024 and size & (size - 1) == 0


def parse_salt(text: str) -> bytes:
    """A salt as veritysetup takes it: hex digits, or ``-`` for none. Raises InputError."""
    if text == "-":
        return b""
    try:
        salt = bytes.fromhex(text)
    except ValueError:
        raise InputError(f"salt {text[:80]!r} is not hex digits (use - for no salt)") from None
    if len(salt) > MAX_SALT:
        raise InputError(f"salt is {len(salt)} bytes; at most {MAX_SALT} are allowed")
    return salt


def salt_text(salt: bytes) -> str:
    """The salt as veritysetup prints it: hex, or ``-`` when there is none."""
    return salt.hex() if salt else "-"


def parse_uuid(text: str) -> UUID:
    from uuid import UUID  # imported when needed: uuid loads platform, start-up counts

    try:
        return UUID(text)
    except ValueError:
        raise InputError(f"{text[:60]!r} is not a UUID") from None


@dataclass(frozen=True)
class VerityParams:
    """Every parameter that changes a verity root hash or hash area."""

    salt: bytes = b""
    algorithm: str = "sha256"
    data_block_size: int = 4096
    hash_block_size: int = 4096
    hash_type: int = 1

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise InputError(
                f"hash algorithm {self.algorithm[:40]!r} is not supported; "
                f"use one of {', '.join(ALGORITHMS)}"
            )
        for what, size in (("data", self.data_block_size), ("hash", self.hash_block_size)):
            if not block_size_ok(size):
                raise InputError(
                    f"{what} block size {size} is not a power of two from 512 to 524288"
                )
        if self.hash_type not in (0, 1):
            raise InputError(f"verity format {self.hash_type} is not 0 or 1")
        if len(self.salt) > MAX_SALT:
            raise InputError(f"salt is {len(self.salt)} bytes; at most {MAX_SALT} are allowed")

    @property
    def digest_size(self) -> int:
        return hashlib.new(ALGORITHMS[self.algorithm]).digest_size

    @property
    def entry_size(self) -> int:
        """Bytes one digest takes in a hash block: padded to a power of two in format 1."""
        size = self.digest_size
        return 1 << (size - 1).bit_length() if self.hash_type == 1 else size

    @property
    def per_block(self) -> int:
        """Digests per hash block: the largest power of two that fits."""
        return 1 << ((self.hash_block_size // self.digest_size).bit_length() - 1)


@dataclass(frozen=True)
class Level:
    """One tree level on the hash device: its first block (in hash blocks from the start of
    the hash file) and its number of blocks. Level 0 hashes the data."""

    start: int
    blocks: int


@dataclass(frozen=True)
class Layout:
    """Where a tree goes: the superblock at ``hash_offset``, the levels after it."""

    params: VerityParams
    data_blocks: int
    hash_offset: int
    superblock: bool
    levels: tuple[Level, ...]

    @property
    def tree_start(self) -> int:
        """Byte offset of the first tree block in the hash file."""
        return self.first_block * self.params.hash_block_size

    @property
    def first_block(self) -> int:
        hbs = self.params.hash_block_size
        if not self.superblock:
            return self.hash_offset // hbs
        return (self.hash_offset + SUPERBLOCK_SIZE + hbs - 1) // hbs

    @property
    def hash_blocks(self) -> int:
        """Tree blocks (what veritysetup prints as "Hash blocks")."""
        return sum(level.blocks for level in self.levels)

    @property
    def end(self) -> int:
        """Byte offset where the hash area ends: the hash file's size after format."""
        return (self.first_block + self.hash_blocks) * self.params.hash_block_size

    @property
    def size(self) -> int:
        """Bytes of the hash area, superblock and padding included."""
        return self.end - self.hash_offset


def plan(
    params: VerityParams,
    data_blocks: int,
    *,
    hash_offset: int = 0,
    superblock: bool = True,
    same_file: bool = False,
) -> Layout:
    """The layout veritysetup gives these parameters (``hash_levels`` in cryptsetup).

    ``same_file``: the hash area is appended to the data's own file, so it must start at or
    after the end of the data area. Raises InputError for what veritysetup refuses.
    """
    if data_blocks < 1:
        raise InputError("a verity tree needs at least one data block")
    if hash_offset < 0 or hash_offset % 512:
        raise InputError(f"hash offset {hash_offset} is not a multiple of 512")
    if same_file and data_blocks * params.data_block_size > hash_offset:
        raise InputError(
            f"the data area ({data_blocks} blocks of {params.data_block_size} bytes) "
            f"overlaps the hash area at offset {hash_offset}"
        )
    bits = params.per_block.bit_length() - 1
    count = 0
    while bits * count < 64 and (data_blocks - 1) >> (bits * count):
        count += 1
    if count > MAX_LEVELS:  # pragma: no cover - needs more than 2**64 blocks
        raise InputError("hash area overflow")
    layout = Layout(params, data_blocks, hash_offset, superblock, ())
    position = layout.first_block
    # top level first on the device: walk down from it, then list them bottom up
    top_down: list[Level] = []
    for i in range(count - 1, -1, -1):
        shift = (i + 1) * bits
        size = (data_blocks + (1 << shift) - 1) >> shift
        top_down.append(Level(position, size))
        position += size
    return Layout(params, data_blocks, hash_offset, superblock, tuple(reversed(top_down)))


def superblock(layout: Layout, uuid: str = NIL_UUID) -> bytes:
    """The 512-byte superblock veritysetup writes for ``layout`` with this UUID."""
    p = layout.params
    return _SB.pack(
        SIGNATURE,
        1,
        p.hash_type,
        parse_uuid(uuid).bytes,
        p.algorithm.lower().encode("ascii"),
        p.data_block_size,
        p.hash_block_size,
        layout.data_blocks,
        len(p.salt),
        p.salt,
    )


@dataclass(frozen=True)
class Superblock:
    """A parsed superblock: the parameters, the data blocks and the UUID."""

    params: VerityParams
    data_blocks: int
    uuid: str


def read_superblock(data: bytes, *, source: str, offset: int = 0) -> Superblock | None:
    """Parse a superblock; None when ``data`` does not start with the signature.

    A block that has the signature but is not a valid version 1 superblock is a
    ParseError naming ``source`` and the field's offset (``offset`` is where ``data``
    starts in the source).
    """
    if len(data) < len(SIGNATURE) or data[: len(SIGNATURE)] != SIGNATURE:
        return None
    if len(data) < SUPERBLOCK_SIZE:
        raise ParseError(
            f"verity superblock is cut short ({len(data)} of {SUPERBLOCK_SIZE} bytes)",
            location=Location(source, offset),
        )
    (_sig, version, hash_type, raw_uuid, raw_alg, dbs, hbs, blocks, salt_size, salt) = (
        _SB.unpack_from(data)
    )

    def fail(field_offset: int, name: str, message: str) -> ParseError:
        return ParseError(message, location=Location(source, offset + field_offset, name))

    if version != 1:
        raise fail(8, "version", f"unsupported verity superblock version {version}")
    if hash_type > 1:
        raise fail(12, "hash_type", f"unsupported verity hash type {hash_type}")
    name = raw_alg.split(b"\0", 1)[0]
    try:
        algorithm = name.decode("ascii")
    except UnicodeDecodeError:
        raise fail(32, "algorithm", "hash algorithm name is not ASCII") from None
    if algorithm not in ALGORITHMS:
        raise fail(32, "algorithm", f"hash algorithm {algorithm[:32]!r} is not supported")
    if not (block_size_ok(dbs) and block_size_ok(hbs)):
        raise fail(64, "block_size", f"unsupported block sizes {dbs}/{hbs}")
    if salt_size > MAX_SALT:
        raise fail(80, "salt_size", f"salt size {salt_size} is more than {MAX_SALT}")
    if blocks < 1:
        raise fail(72, "data_blocks", "no data blocks")
    params = VerityParams(
        salt=salt[:salt_size],
        algorithm=algorithm,
        data_block_size=dbs,
        hash_block_size=hbs,
        hash_type=hash_type,
    )
    from uuid import UUID

    return Superblock(params, blocks, str(UUID(bytes=raw_uuid)))


# ---------------------------------------------------------------------------------------
# Hashing


def _digest_blocks(
    view: memoryview | bytes, params: VerityParams, count: int, block_size: int
) -> bytes:
    """Packed hash-block entries of ``count`` consecutive blocks of ``view``."""
    salt = params.salt
    base = hashlib.new(ALGORITHMS[params.algorithm])
    pad = b"\0" * (params.entry_size - params.digest_size)
    out = bytearray()
    if params.hash_type == 1:
        base.update(salt)
        copy = base.copy
        for start in range(0, count * block_size, block_size):
            h = copy()
            h.update(view[start : start + block_size])
            out += h.digest()
            if pad:
                out += pad
    else:
        for start in range(0, count * block_size, block_size):
            h = base.copy()
            h.update(view[start : start + block_size])
            h.update(salt)
            out += h.digest()
    return bytes(out)


def _one_digest(data: bytes | memoryview, params: VerityParams) -> bytes:
    h = hashlib.new(ALGORITHMS[params.algorithm])
    if params.hash_type == 1:
        h.update(params.salt)
        h.update(data)
    else:
        h.update(data)
        h.update(params.salt)
    return h.digest()


@dataclass(frozen=True)
class _Task:
    path: str
    params: VerityParams
    first: int
    count: int


def _leaf_task(task: _Task) -> bytes:
    """A worker's share of level 0: the entries of blocks [first, first + count)."""
    bs = task.params.data_block_size
    with open(task.path, "rb") as fh:
        start = task.first * bs
        length = task.count * bs
        # mmap offsets must be page aligned: map from the page below and skip the rest.
        aligned = start - start % mmap.ALLOCATIONGRANULARITY
        with mmap.mmap(
            fh.fileno(),
            length + start - aligned,
            flags=mmap.MAP_SHARED | _POPULATE,
            prot=mmap.PROT_READ,
            offset=aligned,
        ) as mapped:
            view = memoryview(mapped)
            try:
                return _digest_blocks(view[start - aligned :], task.params, task.count, bs)
            finally:
                view.release()


class TreeSink(Protocol):
    """Where the hash area's blocks go: ``put(offset, data)`` at a byte offset of the
    hash file. Blocks come in no particular order of offsets."""

    def put(self, offset: int, data: bytes) -> None: ...


class TreeWriter:
    """Writes the hash area into an open, seekable, writable file."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle

    def put(self, offset: int, data: bytes) -> None:
        self.handle.seek(offset)
        self.handle.write(data)


class TreeComparer:
    """Compares the hash area with an existing one; remembers the first difference."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.first_difference: int | None = None

    def put(self, offset: int, data: bytes) -> None:
        self.handle.seek(offset)
        got = self.handle.read(len(data))
        if got != data:
            at = next(
                (offset + i for i, (a, b) in enumerate(zip(got, data, strict=False)) if a != b),
                offset + len(got),
            )
            if self.first_difference is None or at < self.first_difference:
                self.first_difference = at


@dataclass
class _LevelState:
    level: Level
    buffer: bytearray = field(default_factory=bytearray)
    emitted: int = 0


class _Builder:
    """Takes level-0 entries in order; fills and hashes the upper levels as it goes."""

    def __init__(self, layout: Layout, sink: TreeSink | None) -> None:
        self.layout = layout
        self.sink = sink
        self.params = layout.params
        self.states = [_LevelState(level) for level in layout.levels]
        self.root: bytes | None = None
        self._hbs = self.params.hash_block_size
        self._fill = self.params.per_block * self.params.entry_size
        self._pad = b"\0" * (self.params.entry_size - self.params.digest_size)

    def entries(self, level: int, data: bytes) -> None:
        state = self.states[level]
        state.buffer += data
        while len(state.buffer) >= self._fill:
            block = bytes(state.buffer[: self._fill])
            del state.buffer[: self._fill]
            self._emit(level, block)

    def _emit(self, level: int, entries: bytes) -> None:
        state = self.states[level]
        block = entries + b"\0" * (self._hbs - len(entries))
        if self.sink is not None:
            self.sink.put((state.level.start + state.emitted) * self._hbs, block)
        state.emitted += 1
        digest = _one_digest(block, self.params)
        if level + 1 < len(self.states):
            self.entries(level + 1, digest + self._pad)
        else:
            if self.root is not None:  # pragma: no cover - the layout makes it one block
                raise AssertionError("top level has more than one block")
            self.root = digest

    def finish(self) -> bytes:
        for level, state in enumerate(self.states):
            if state.buffer:
                self._emit(level, bytes(state.buffer))
                state.buffer.clear()
            if state.emitted != state.level.blocks:  # pragma: no cover - invariant
                raise AssertionError(f"level {level}: {state.emitted} blocks")
        assert self.root is not None
        return self.root


def image_blocks(path: str | os.PathLike[str], block_size: int, *, what: str = "image") -> int:
    """Whole blocks in the file at ``path``: its size divided by ``block_size``, rounded
    down. Refuses a file smaller than one block, as veritysetup does."""
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise input_os_error(exc, path, what=what) from exc
    if size < block_size:
        raise InputError(
            f"{what} {os.fspath(path)} is {size} bytes, less than one data block "
            f"({block_size} bytes): there is nothing to protect"
        )
    return size // block_size


def compute(
    path: str | os.PathLike[str],
    layout: Layout,
    *,
    sink: TreeSink | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    task_bytes: int = TASK_BYTES,
) -> bytes:
    """The root hash of ``layout.data_blocks`` data blocks of the file at ``path``; with
    ``sink``, every tree block goes there (at hash-file offsets; the superblock is the
    caller's: :func:`superblock`). ``progress`` is called with each task's data bytes
    (increments, as :func:`refkit.weights.digest.digest_model` reports them).
    ``task_bytes`` is the data one worker task hashes (rounded to whole hash blocks)."""
    p = layout.params
    bs = p.data_block_size
    src = os.fspath(path)
    try:
        size = os.stat(src).st_size
    except OSError as exc:
        raise input_os_error(exc, src, what="image") from exc
    if layout.data_blocks * bs > size:
        raise InputError(
            f"image {src} has {size // bs} data blocks of {bs} bytes, "
            f"fewer than the {layout.data_blocks} to protect"
        )
    if not layout.levels:  # one data block: the root is its digest, there is no tree
        with open(src, "rb") as fh:
            return _one_digest(fh.read(bs), p)
    builder = _Builder(layout, sink)
    step = _task_blocks(p, task_bytes)
    tasks = _tasks(src, p, layout.data_blocks, step)
    results: Iterable[bytes]
    if layout.data_blocks <= step or workers == 1:
        results = map(_leaf_task, tasks)  # no process start-up for small images
    else:
        results = map_ordered(_leaf_task, tasks, workers=workers, processes=True)
    try:
        for entries in results:
            builder.entries(0, entries)
            if progress is not None:
                progress(len(entries) // p.entry_size * bs)
    except OSError as exc:
        raise input_os_error(exc, src, what="image") from exc
    except WorkerDied:
        # A worker maps the image: one truncated under it dies of SIGBUS.
        raise InputError(
            f"image {src}: a hashing worker died (was the image truncated while it was read?)",
            hint="measure an image only when nothing writes to it",
        ) from None
    return builder.finish()


def _task_blocks(params: VerityParams, size: int) -> int:
    """Data blocks per task: ``size`` bytes rounded down to whole hash blocks (at least
    one), so that every task but the last fills whole level-0 hash blocks."""
    return max(1, size // params.data_block_size // params.per_block) * params.per_block


def _tasks(path: str, params: VerityParams, data_blocks: int, step: int) -> Iterator[_Task]:
    for first in range(0, data_blocks, step):
        yield _Task(path, params, first, min(step, data_blocks - first))


def write_hash_area(
    path: str | os.PathLike[str],
    layout: Layout,
    handle: BinaryIO,
    *,
    uuid: str = NIL_UUID,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    task_bytes: int = TASK_BYTES,
) -> bytes:
    """Write the hash area of the data in ``path`` into ``handle`` (a seekable file open
    for writing, the hash file: the image itself when the tree is appended) as
    ``veritysetup format`` does: the superblock with ``uuid`` at ``layout.hash_offset``
    (unless the layout has none), zeros to the first tree block, the tree. Returns the
    root hash. Bytes of ``handle`` before ``layout.hash_offset`` are not touched."""
    writer = TreeWriter(handle)
    head = superblock(layout, uuid) if layout.superblock else b""
    start = layout.hash_offset
    writer.put(start, head + b"\0" * (layout.tree_start - start - len(head)))
    root = compute(
        path, layout, sink=writer, workers=workers, progress=progress, task_bytes=task_bytes
    )
    if not layout.levels and layout.end > layout.tree_start:  # pragma: no cover - invariant
        raise AssertionError("a tree without levels has no blocks")
    return root


# ---------------------------------------------------------------------------------------
# Measuring an image, and checking a tree stored with it


@dataclass(frozen=True)
class Measurement:
    """A verity root computed from an image, with what was checked on the way.

    ``stored`` names the hash file whose stored tree was compared (None when the root was
    only computed); ``results`` holds the checks made (none when nothing was compared).
    """

    image: str
    layout: Layout
    root: bytes
    stored: str | None
    uuid: str | None
    results: tuple[Result, ...]

    def to_json(self) -> dict[str, Any]:
        p = self.layout.params
        return {
            "image": self.image,
            "verityRoot": self.root.hex(),
            "hashAlgorithm": p.algorithm,
            "formatVersion": p.hash_type,
            "salt": salt_text(p.salt),
            "dataBlockSize": p.data_block_size,
            "hashBlockSize": p.hash_block_size,
            "dataBlocks": self.layout.data_blocks,
            "hashBlocks": self.layout.hash_blocks,
            "hashFile": self.stored,
            "hashOffset": self.layout.hash_offset if self.stored is not None else None,
            "uuid": self.uuid,
        }


def _read_at(path: str, offset: int, size: int, *, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(size)
    except OSError as exc:
        raise input_os_error(exc, path, what=what) from exc


def measure(
    image: str | os.PathLike[str],
    *,
    salt: bytes | None = None,
    algorithm: str | None = None,
    data_block_size: int | None = None,
    hash_block_size: int | None = None,
    data_blocks: int | None = None,
    hash_offset: int | None = None,
    hash_file: str | os.PathLike[str] | None = None,
    expected_root: bytes | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Measurement:
    """The verity root of ``image``; checks a stored tree when there is one.

    A stored tree is looked for when ``hash_file`` (superblock at ``hash_offset``, default
    0) or ``hash_offset`` (in the image itself) is given: its superblock gives the
    parameters, any parameter also given here must agree with it, and the stored tree is
    compared with the computed one. Otherwise the root is computed from the parameters
    (the salt is then required: a root without its salt means nothing). ``expected_root``
    is compared with the root. Malformed input raises; a difference is a failed result.
    """
    from refkit.verification import Result  # only measuring with checks needs it

    src = os.fspath(image)
    stored_in: str | None = None
    if hash_file is not None:
        stored_in = os.fspath(hash_file)
    elif hash_offset is not None:
        stored_in = src
    offset = hash_offset or 0
    results: list[Result] = []
    uuid: str | None = None
    given = {
        "salt": None if salt is None else salt_text(salt),
        "algorithm": algorithm,
        "data block size": data_block_size,
        "hash block size": hash_block_size,
        "data blocks": data_blocks,
    }
    if stored_in is not None:
        if offset < 0 or offset % 512:
            raise InputError(f"hash offset {offset} is not a multiple of 512")
        head = _read_at(stored_in, offset, SUPERBLOCK_SIZE, what="hash file")
        sb = read_superblock(head, source=stored_in, offset=offset)
        if sb is None:
            raise InputError(
                f"{stored_in} has no verity superblock at offset {offset}",
                hint="give the offset the tree was written at, or omit it to compute the "
                "root from the data alone",
            )
        uuid = sb.uuid
        params = sb.params
        blocks = sb.data_blocks
        found = {
            "salt": salt_text(params.salt),
            "algorithm": params.algorithm,
            "data block size": params.data_block_size,
            "hash block size": params.hash_block_size,
            "data blocks": blocks,
        }
        for name, want in given.items():
            if want is not None and want != found[name]:
                results.append(
                    Result.of(
                        "verity.params.mismatch",
                        f"the superblock's {name} differs from the one given",
                        check="verity superblock",
                        subject=f"{stored_in}@{offset}",
                        expected=str(want),
                        actual=str(found[name]),
                    )
                )
        layout = plan(
            params,
            blocks,
            hash_offset=offset,
            same_file=os.path.abspath(stored_in) == os.path.abspath(src),
        )
        try:
            with open(stored_in, "rb") as fh:
                comparer = TreeComparer(fh)
                root = compute(src, layout, sink=comparer, workers=workers, progress=progress)
        except OSError as exc:
            raise input_os_error(exc, stored_in, what="hash file") from exc
        if comparer.first_difference is None:
            results.append(
                Result.of(
                    "verity.tree.match",
                    f"{layout.hash_blocks} hash blocks equal those computed from "
                    f"{blocks} data blocks",
                    check="verity hash tree",
                    subject=stored_in,
                )
            )
        else:
            results.append(
                Result.of(
                    "verity.tree.mismatch",
                    f"the stored tree differs from the computed one at byte "
                    f"{comparer.first_difference} of {stored_in}",
                    check="verity hash tree",
                    subject=stored_in,
                )
            )
    else:
        if salt is None:
            raise InputError(
                "the salt is needed to compute a verity root (hex digits, or - for none)",
                hint="Privatemode's disks use 00; veritysetup prints the salt it used",
            )
        params = VerityParams(
            salt=salt,
            algorithm=algorithm or "sha256",
            data_block_size=data_block_size or 4096,
            hash_block_size=hash_block_size or 4096,
        )
        blocks = (
            data_blocks if data_blocks is not None else image_blocks(src, params.data_block_size)
        )
        layout = plan(params, blocks)
        root = compute(src, layout, workers=workers, progress=progress)
    if expected_root is not None:
        if expected_root == root:
            results.append(
                Result.of(
                    "verity.root.match",
                    "the verity root equals the expected one",
                    check="verity root",
                    subject=src,
                    expected=expected_root.hex(),
                    actual=root.hex(),
                )
            )
        else:
            results.append(
                Result.of(
                    "verity.root.mismatch",
                    "the verity root differs from the expected one",
                    check="verity root",
                    subject=src,
                    expected=expected_root.hex(),
                    actual=root.hex(),
                )
            )
    return Measurement(src, layout, root, stored_in, uuid, tuple(results))
