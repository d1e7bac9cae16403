"""Selected members of EDGAR-layout bulk archives: same bytes as zipfile, ZIP64, corrupt input, bounded index."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from finance_assets.defs.sec import edgar_bulk
from finance_assets.defs.sec.edgar_bulk import BulkArchive, BulkArchiveError, member_name, scan_members


def _write_archive(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return path


def _companies(n: int) -> dict[str, bytes]:
    members = {
        member_name(cik): json.dumps({"cik": cik, "facts": {"pad": "x" * (cik % 97)}}).encode()
        for cik in range(1, n + 1)
    }
    members["CIK0000000003-submissions-001.json"] = json.dumps({"accessionNumber": []}).encode()
    members["CIK0000000003-submissions-002.json"] = json.dumps({"accessionNumber": ["x"]}).encode()
    members["README.txt"] = b"not a company"
    return members


def test_reads_only_the_requested_companies_with_their_pages(tmp_path):
    members = _companies(50)
    path = _write_archive(tmp_path / "submissions.zip", members)
    with BulkArchive(path, [3, 42]) as archive:
        assert set(archive.members) == {
            "CIK0000000003.json",
            "CIK0000000003-submissions-001.json",
            "CIK0000000003-submissions-002.json",
            "CIK0000000042.json",
        }
        assert archive.entries_scanned == len(members)
        with zipfile.ZipFile(path) as reference:
            for name in archive.members:
                assert archive.read(name) == reference.read(name)
        assert archive.read_json("CIK0000000042.json")["cik"] == 42
        assert archive.read_json(member_name(7)) is None  # present in the file, not requested
        assert archive.read_json(member_name(999)) is None  # not in the file at all
        assert archive.stats()["members_read"] == 5


def test_stored_members_and_a_prefixed_file(tmp_path):
    path = _write_archive(tmp_path / "a.zip", _companies(5), method=zipfile.ZIP_STORED)
    prefixed = tmp_path / "prefixed.zip"
    prefixed.write_bytes(b"#!self-extracting stub\n" * 10 + path.read_bytes())
    for candidate in (path, prefixed):
        with BulkArchive(candidate, [5]) as archive:
            assert archive.read_json(member_name(5))["cik"] == 5


def test_zip64_records_and_extra_fields(tmp_path, monkeypatch):
    # EDGAR's archives exceed 4 GB and 65,535 members; lowering zipfile's limits writes the same ZIP64
    # structures (end records and per-member extra fields) into a small file.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 64)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 3)
    members = _companies(12)
    path = _write_archive(tmp_path / "zip64.zip", members)
    monkeypatch.undo()
    raw = path.read_bytes()
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw  # ZIP64 end record and locator
    with zipfile.ZipFile(path) as reference:
        assert any(info.header_offset > 64 and info.extra for info in reference.infolist())
        with BulkArchive(path, [3, 11, 12]) as archive:
            assert len(archive.members) == 5
            for name in archive.members:
                assert archive.read(name) == reference.read(name)


def test_truncated_or_corrupt_archives_fail_clearly(tmp_path):
    path = _write_archive(tmp_path / "good.zip", _companies(20))
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BulkArchiveError, match="truncated"):
        BulkArchive(truncated, [1])

    with zipfile.ZipFile(path) as reference:
        info = reference.getinfo(member_name(9))
    data = bytearray(path.read_bytes())
    body_at = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[body_at + 2] ^= 0xFF  # flip bits inside the deflate stream
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(bytes(data))
    with BulkArchive(corrupt, [9, 10]) as archive:
        assert archive.read_json(member_name(10))["cik"] == 10  # the others stay readable
        with pytest.raises(BulkArchiveError, match="CIK0000000009.json"):
            archive.read(member_name(9))

    not_zip = tmp_path / "page.zip"
    not_zip.write_text("<html>Request Rate Threshold Exceeded</html>")
    with pytest.raises(BulkArchiveError, match="not a ZIP archive"):
        BulkArchive(not_zip, [1])


def test_member_size_limit_refuses_zip_bombs(tmp_path):
    path = _write_archive(tmp_path / "bomb.zip", {member_name(1): b"0" * 1_000_000})
    with BulkArchive(path, [1], max_member_bytes=10_000) as archive:
        with pytest.raises(BulkArchiveError, match="member limit"):
            archive.read(member_name(1))


def test_index_memory_does_not_grow_with_the_archive(tmp_path):
    # zipfile keeps ~550 bytes per member (measured); the scan keeps only the wanted members and one chunk
    # of the central directory, so its peak is the same for 2,000 or 8,000 members.
    peaks = {}
    for count in (1_500, 6_000):
        path = _write_archive(
            tmp_path / f"many{count}.zip",
            {member_name(cik): b"{}" for cik in range(1, count + 1)},
            method=zipfile.ZIP_STORED,
        )
        tracemalloc.start()
        try:
            found, scanned = scan_members(path, lambda name: name == member_name(1_234), chunk_bytes=1 << 16)
            _, peaks[count] = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert scanned == count and list(found) == [member_name(1_234)]
    assert peaks[6_000] < 1.5 * peaks[1_500]
    assert peaks[6_000] < 6_000 * 550 / 4  # a quarter of what zipfile's index of the same archive holds


def test_member_name_validates_ciks():
    assert member_name(320193) == "CIK0000320193.json"
    for bad in (0, -1, 10**10, "320193", True):
        with pytest.raises(ValueError):
            member_name(bad)


def test_real_companyfacts_round_trip_in_the_bulk_layout(realdata, tmp_path):
    source = realdata / "sec" / "companyfacts" / "CIK0000320193_AAPL.edgarkit.json"
    if not source.exists():
        pytest.skip("AAPL companyfacts not present")
    body = source.read_bytes()
    path = _write_archive(tmp_path / "companyfacts.zip", {"CIK0000320193.json": body, **_companies(30)})
    with BulkArchive(path, [320193]) as archive:
        assert archive.read("CIK0000320193.json") == body
        assert archive.read_json("CIK0000320193.json")["entityName"] == json.loads(body)["entityName"]
    assert edgar_bulk.check_archive(path) == 34
