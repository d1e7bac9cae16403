"""Read selected members of EDGAR's nightly bulk archives without loading their index.

`companyfacts.zip` (~19k members, ~1.4 GB) and `submissions.zip` (~900k members, several GB) hold one
`CIK##########.json` per company (submissions also `CIK##########-submissions-NNN.json` pages).
`zipfile.ZipFile` builds a `ZipInfo` for every member up front: measured here at ~550 bytes per
member (200,000 members: 110 MB), i.e. ~0.5 GB for submissions.zip before a single member is read.
`BulkArchive` instead streams the central directory in fixed-size chunks and keeps only the members
a run asks for, then inflates them one at a time, so memory is bounded by the chunk size plus the
largest requested member (capped by `max_member_bytes`). ZIP64 archives (> 4 GB or > 65,535
members, as EDGAR's are) are supported; stored and deflated members are the methods EDGAR uses.

Pure file reading: no network, no Dagster.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # central directory file header
_CENTRAL_SIG = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # local file header
_LOCAL_SIG = b"PK\x03\x04"
_ZIP64_EXTRA_ID = 0x0001
_MAX_COMMENT = 0xFFFF
_STORED, _DEFLATED = 0, 8
_ENCRYPTED_FLAG = 0x1
_UTF8_FLAG = 0x800

CHUNK_BYTES = 8 << 20  # central directory read size, and the inflate step
DEFAULT_MAX_MEMBER_BYTES = 1 << 30  # the largest companyfacts member is ~100 MB; refuse zip bombs

SUBMISSIONS_MEMBER = re.compile(r"^CIK(\d{10})(?:-submissions-\d{3})?\.json$")


class BulkArchiveError(ValueError):
    """The file is not a readable ZIP archive, or a member is corrupt or unsupported."""


@dataclass(frozen=True)
class ZipMember:
    name: str
    header_offset: int  # where its local header starts, already corrected for any prefix
    compressed_size: int
    size: int
    method: int
    crc: int


def member_name(cik: int) -> str:
    """EDGAR's member name for a company: `CIK0000320193.json`."""
    if not isinstance(cik, int) or isinstance(cik, bool) or not 0 < cik < 10**10:
        raise ValueError(f"CIK must be a positive integer below 10**10, got {cik!r}")
    return f"CIK{cik:010d}.json"


def _end_records(fh, file_size: int) -> tuple[int, int, int, int]:
    """(member count, central directory size, recorded offset, prefix bytes before the archive)."""
    tail_size = min(file_size, _EOCD.size + _MAX_COMMENT)
    fh.seek(file_size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(_EOCD_SIG)
    while at >= 0 and at + _EOCD.size > len(tail):
        at = tail.rfind(_EOCD_SIG, 0, at)
    if at < 0:
        raise BulkArchiveError("not a ZIP archive (no end-of-central-directory record); the download may be truncated")
    eocd_pos = file_size - tail_size + at
    _, _, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    locator_pos = eocd_pos - _ZIP64_LOCATOR.size
    if locator_pos >= 0:
        fh.seek(locator_pos)
        locator = fh.read(_ZIP64_LOCATOR.size)
        if locator[:4] == _ZIP64_LOCATOR_SIG:
            record_pos = locator_pos - _ZIP64_EOCD.size
            fh.seek(record_pos)
            record = fh.read(_ZIP64_EOCD.size)
            if len(record) != _ZIP64_EOCD.size or record[:4] != _ZIP64_EOCD_SIG:
                raise BulkArchiveError("ZIP64 end-of-central-directory record is missing or corrupt")
            _, _, _, _, _, _, _, count, cd_size, cd_offset = _ZIP64_EOCD.unpack(record)
            return count, cd_size, cd_offset, record_pos - cd_size - cd_offset
    return count, cd_size, cd_offset, eocd_pos - cd_size - cd_offset


def _zip64_values(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    """Sizes/offset from the ZIP64 extra field where the 32-bit fields hold 0xFFFFFFFF."""
    pos = 0
    while pos + 4 <= len(extra):
        block_id, block_len = struct.unpack_from("<HH", extra, pos)
        if block_id == _ZIP64_EXTRA_ID:
            values = list(struct.unpack_from(f"<{block_len // 8}Q", extra, pos + 4))
            if size == 0xFFFFFFFF:
                size = values.pop(0)
            if compressed == 0xFFFFFFFF:
                compressed = values.pop(0)
            if offset == 0xFFFFFFFF:
                offset = values.pop(0)
            return size, compressed, offset
        pos += 4 + block_len
    return size, compressed, offset


def scan_members(
    path: str | os.PathLike,
    wanted: Callable[[str], bool],
    *,
    name_prefixes: frozenset[bytes] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> tuple[dict[str, ZipMember], int]:
    """Members whose name satisfies `wanted`, and the number of central directory entries scanned.

    The central directory is read `chunk_bytes` at a time; only the wanted members are kept.
    `name_prefixes` (all of one length) skips other names before decoding them: the fast path
    for archives of ~900k members.
    """
    prefix_len = len(next(iter(name_prefixes))) if name_prefixes else 0
    path = Path(path)
    file_size = path.stat().st_size
    found: dict[str, ZipMember] = {}
    with open(path, "rb") as fh:
        count, cd_size, cd_offset, prefix = _end_records(fh, file_size)
        if prefix < 0 or cd_offset + prefix + cd_size > file_size:
            raise BulkArchiveError("central directory lies outside the file; the archive is truncated")
        fh.seek(cd_offset + prefix)
        remaining, buffer, pos, scanned = cd_size, b"", 0, 0

        def refill(needed: int) -> bool:
            """Make `needed` unread bytes available (reading a chunk or more); False at the directory's end."""
            nonlocal remaining, buffer, pos
            if len(buffer) - pos >= needed:
                return True
            chunk = fh.read(min(max(chunk_bytes, needed), remaining)) if remaining > 0 else b""
            remaining -= len(chunk)
            buffer, pos = buffer[pos:] + chunk, 0
            return len(buffer) >= needed

        while scanned < count:
            if len(buffer) - pos < _CENTRAL.size and not refill(_CENTRAL.size):
                break
            (
                signature,
                _,
                _,
                _,
                _,
                flags,
                method,
                _,
                _,
                crc,
                compressed,
                size,
                name_len,
                extra_len,
                comment_len,
                _,
                _,
                _,
                offset,
            ) = _CENTRAL.unpack_from(buffer, pos)
            if signature != _CENTRAL_SIG:
                raise BulkArchiveError(f"central directory entry {scanned} is corrupt (bad signature)")
            entry_len = _CENTRAL.size + name_len + extra_len + comment_len
            if len(buffer) - pos < entry_len and not refill(entry_len):
                raise BulkArchiveError(f"central directory entry {scanned} runs past the directory's end")
            end = pos + entry_len
            raw_name = buffer[pos + _CENTRAL.size : pos + _CENTRAL.size + name_len]
            if name_prefixes is not None and raw_name[:prefix_len] not in name_prefixes:
                pos, scanned = end, scanned + 1
                continue
            name = raw_name.decode("utf-8" if flags & _UTF8_FLAG else "cp437")
            if wanted(name):
                extra = buffer[pos + _CENTRAL.size + name_len : pos + _CENTRAL.size + name_len + extra_len]
                size, compressed, offset = _zip64_values(extra, size, compressed, offset)
                if flags & _ENCRYPTED_FLAG:
                    raise BulkArchiveError(f"{name}: encrypted members are not supported")
                found[name] = ZipMember(name, offset + prefix, compressed, size, method, crc)
            pos = end
            scanned += 1
    if scanned != count:
        raise BulkArchiveError(f"central directory lists {count} members but only {scanned} could be read")
    return found, scanned


def read_member(fh, member: ZipMember, max_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> bytes:
    """The member's bytes, inflated and CRC-checked."""
    if member.size > max_bytes:
        raise BulkArchiveError(f"{member.name}: {member.size:,} bytes exceeds the {max_bytes:,}-byte member limit")
    if member.method not in (_STORED, _DEFLATED):
        raise BulkArchiveError(
            f"{member.name}: compression method {member.method} is not supported "
            "(EDGAR archives use stored or deflated members)"
        )
    fh.seek(member.header_offset)
    header = fh.read(_LOCAL.size)
    if len(header) != _LOCAL.size or header[:4] != _LOCAL_SIG:
        raise BulkArchiveError(f"{member.name}: local header not found at offset {member.header_offset}")
    name_len, extra_len = _LOCAL.unpack(header)[-2:]
    fh.seek(member.header_offset + _LOCAL.size + name_len + extra_len)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if member.method == _DEFLATED else None
    parts, remaining, produced, crc = [], member.compressed_size, 0, 0
    while remaining > 0:
        chunk = fh.read(min(CHUNK_BYTES, remaining))
        if not chunk:
            raise BulkArchiveError(f"{member.name}: archive ends inside the member (truncated download)")
        remaining -= len(chunk)
        try:
            data = inflater.decompress(chunk, max_bytes + 1 - produced) if inflater else chunk
        except zlib.error as exc:
            raise BulkArchiveError(f"{member.name}: corrupt deflate stream ({exc})") from None
        produced += len(data)
        if produced > max_bytes:
            raise BulkArchiveError(f"{member.name}: inflates beyond the {max_bytes:,}-byte member limit")
        crc = zlib.crc32(data, crc)
        parts.append(data)
    if inflater is not None:
        tail = inflater.flush()
        crc, produced = zlib.crc32(tail, crc), produced + len(tail)
        parts.append(tail)
    if produced != member.size or crc != member.crc:
        raise BulkArchiveError(f"{member.name}: CRC or size mismatch (corrupt archive)")
    return b"".join(parts)


class BulkArchive:
    """Selected members of one EDGAR bulk archive, read one at a time.

    `BulkArchive(path, ciks=[320193, ...])` indexes the companies' members (their main file and, in
    submissions.zip, their `-submissions-NNN` pages); `read_json(name)` returns one member parsed,
    or None when the archive has no such member (a company filed after the nightly build, or has
    no XBRL facts).
    """

    def __init__(self, path: str | os.PathLike, ciks: Iterable[int], max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES):
        self.path = Path(path)
        self.max_member_bytes = max_member_bytes
        wanted_ciks = {int(cik) for cik in ciks}

        prefixes = frozenset(member_name(cik)[:-5].encode() for cik in wanted_ciks)  # b"CIK0000320193"

        def wanted(name: str) -> bool:
            match = SUBMISSIONS_MEMBER.match(name)
            return match is not None and int(match.group(1)) in wanted_ciks

        self.members, self.entries_scanned = scan_members(self.path, wanted, name_prefixes=prefixes)
        self.members_read = 0
        self.bytes_inflated = 0
        self._fh = open(self.path, "rb")

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def read(self, name: str) -> bytes | None:
        member = self.members.get(name)
        if member is None:
            return None
        data = read_member(self._fh, member, self.max_member_bytes)
        self.members_read += 1
        self.bytes_inflated += len(data)
        return data

    def read_json(self, name: str) -> dict | None:
        data = self.read(name)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise BulkArchiveError(f"{name}: not valid JSON ({exc})") from None

    def stats(self) -> dict:
        return {
            "archive": self.path.name,
            "entries_scanned": self.entries_scanned,
            "members_indexed": len(self.members),
            "members_read": self.members_read,
            "bytes_inflated": self.bytes_inflated,
        }

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> BulkArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_archive(path: str | os.PathLike) -> int:
    """Number of members if `path` ends with a readable central directory (a complete download)."""
    _, scanned = scan_members(path, lambda name: False)
    return scanned
