"""Streaming archive downloads: validators and 304, truncation retried, a bad file never replaces a good one."""

from __future__ import annotations

import hashlib
import io
import zipfile

import httpx
import pytest

from finance_assets.defs.sec.bulk_download import DownloadingHttpClient
from finance_assets.defs.sec.edgar_bulk import check_archive
from finance_assets.lib.http import HttpClient, RetriesExhausted, SecAccessDenied
from finance_assets.lib.limiter import SourceLimiter
from finance_assets.lib.retry import RetryPolicy

URL = "https://www.sec.gov/Archives/edgar/daily-index/xbrl/companyfacts.zip"
CONTACT = "bulk.ops@research.example"


def _zip(version: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for cik in range(1, 30):
            # A fixed timestamp: the default (now, 2 s resolution) made two builds of one version differ.
            member = zipfile.ZipInfo(f"CIK{cik:010d}.json", date_time=(2025, 6, 2, 6, 0, 0))
            archive.writestr(member, f'{{"cik": {cik}, "version": {version}}}', zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


class Origin:
    """Serves `body` with an ETag, answers If-None-Match with 304, and replays scripted faults first."""

    def __init__(self, body: bytes, faults: list[str] | None = None):
        self.body = body
        self.faults = list(faults or [])
        self.requests: list[httpx.Request] = []

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest() + '"'

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        fault = self.faults.pop(0) if self.faults else None
        if fault == "503":
            return httpx.Response(503, headers={"Retry-After": "0"})
        if fault == "403":
            return httpx.Response(403, text="Your request has been identified as part of a network of automated tools")
        if fault == "truncated":  # the connection drops halfway; Content-Length still announces the whole body
            return httpx.Response(
                200,
                headers={"Content-Length": str(len(self.body)), "ETag": self.etag},
                stream=httpx.ByteStream(self.body[: len(self.body) // 2]),
            )
        if fault == "html":  # a proxy's error page with status 200
            return httpx.Response(200, content=b"<html>maintenance</html>", headers={"ETag": '"html"'})
        if request.headers.get("If-None-Match") == self.etag:
            return httpx.Response(304, headers={"ETag": self.etag})
        return httpx.Response(
            200,
            content=self.body,
            headers={
                "ETag": self.etag,
                "Content-Length": str(len(self.body)),
                "Last-Modified": "Mon, 02 Jun 2025 06:00:00 GMT",
            },
        )


def _client(origin: Origin, tmp_path, **kwargs) -> DownloadingHttpClient:
    return DownloadingHttpClient(
        user_agent=f"Research Desk {CONTACT}",
        transport=httpx.MockTransport(origin),
        limiter=SourceLimiter(tmp_path / "state"),
        sleep=lambda seconds: None,
        cache_dir=tmp_path / "http",
        **kwargs,
    )


def test_downloads_once_then_revalidates_with_304(tmp_path):
    origin = Origin(_zip(1))
    dest = tmp_path / "bulk" / "companyfacts.zip"
    with _client(origin, tmp_path) as client:
        first = client.download(URL, dest, source="sec", verify=check_archive)
        inode, mtime = dest.stat().st_ino, dest.stat().st_mtime_ns
        second = client.download(URL, dest, source="sec", verify=check_archive)
        stats = client.stats
    assert (first.status, second.status) == ("downloaded", "not-modified")
    assert dest.read_bytes() == origin.body and first.bytes == len(origin.body)
    assert (dest.stat().st_ino, dest.stat().st_mtime_ns) == (inode, mtime)  # not rewritten
    assert "If-None-Match" not in origin.requests[0].headers
    assert origin.requests[1].headers["If-None-Match"] == origin.etag
    assert origin.requests[1].headers["If-Modified-Since"] == "Mon, 02 Jun 2025 06:00:00 GMT"
    assert all(CONTACT in r.headers["User-Agent"] for r in origin.requests)
    assert stats["by_source"]["sec"]["cache_hits_304"] == 1 and stats["attempts"] == 2


def test_a_new_nightly_archive_replaces_the_old_one(tmp_path):
    origin = Origin(_zip(1))
    dest = tmp_path / "companyfacts.zip"
    with _client(origin, tmp_path) as client:
        client.download(URL, dest, source="sec")
        origin.body = _zip(2)
        result = client.download(URL, dest, source="sec")
    assert result.status == "downloaded" and dest.read_bytes() == _zip(2)


def test_truncated_body_and_5xx_are_retried(tmp_path):
    origin = Origin(_zip(1), faults=["503", "truncated"])
    dest = tmp_path / "companyfacts.zip"
    with _client(origin, tmp_path) as client:
        result = client.download(URL, dest, source="sec", verify=check_archive)
        assert client.stats["retries"] == 2
    assert result.status == "downloaded" and dest.read_bytes() == origin.body
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]  # no partial files left


def test_a_bad_download_keeps_the_previous_archive(tmp_path):
    origin = Origin(_zip(1))
    dest = tmp_path / "companyfacts.zip"
    with _client(origin, tmp_path) as client:
        client.download(URL, dest, source="sec", verify=check_archive)
        origin.body, origin.faults = _zip(2), ["html"] * 5  # every attempt gets a 200 error page
        with pytest.raises(RetriesExhausted, match="rejected.*not a ZIP archive.*previous copy is kept"):
            client.download(URL, dest, source="sec", verify=check_archive)
    assert dest.read_bytes() == _zip(1)
    assert check_archive(dest) == 29


def test_sec_403_names_the_user_agent_rule_without_the_contact(tmp_path):
    origin = Origin(_zip(1), faults=["403"])
    with _client(origin, tmp_path) as client, pytest.raises(SecAccessDenied) as denied:
        client.download(URL, tmp_path / "companyfacts.zip", source="sec")
    message = str(denied.value)
    assert "User-Agent" in message and "10 requests per second" in message
    assert CONTACT not in message
    assert not (tmp_path / "companyfacts.zip").exists()


def test_get_and_download_run_through_the_one_shared_retry_policy(tmp_path, monkeypatch):
    """One RetryPolicy object runs both retry loops: `get` and `download`, of one client or of two."""
    seen: list[tuple[int, str]] = []
    real_call = RetryPolicy.call

    def spy(self, attempt, **kwargs):
        seen.append((id(self), attempt.__qualname__.split(".")[1]))
        return real_call(self, attempt, **kwargs)

    monkeypatch.setattr(RetryPolicy, "call", spy)
    policy = RetryPolicy(max_retries=2, backoff_base=0.01)
    origin = Origin(_zip(1), faults=["503", "truncated"])
    plain = HttpClient(
        user_agent=f"Research Desk {CONTACT}", transport=httpx.MockTransport(origin), retry_policy=policy
    )
    with _client(origin, tmp_path, retry_policy=policy) as client, plain:
        assert client.download(URL, tmp_path / "companyfacts.zip", source="sec").status == "downloaded"
        assert client.stats["retries"] == 2  # the 503 and the truncated body, under the shared policy
        origin.faults = ["503"]
        assert client.get(URL, source="sec").content == origin.body
        assert plain.get(URL, source="sec").content == origin.body
        assert client.stats["retries"] == 3
    assert seen == [
        (id(policy), "_download_with_retries"),
        (id(policy), "_get_with_retries"),
        (id(policy), "_get_with_retries"),
    ]
