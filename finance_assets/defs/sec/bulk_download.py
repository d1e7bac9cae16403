"""Streaming downloads of large files (EDGAR's nightly bulk archives) through the project's HTTP client.

`HttpClient.get` holds a whole body in memory, which is right for JSON documents and wrong for a
5 GB `submissions.zip`. `DownloadingHttpClient` is the same client (limiter, User-Agent, retries
under the client's one `RetryPolicy`, circuit breaker, SEC 403 explanation, redaction, counters)
plus `download()`, which
streams the body to a temporary file next to the destination and renames it into place only when
it is complete and passes `verify`. The response's ETag / Last-Modified are kept in a sidecar file,
so the next call is a conditional request and an unchanged archive is not downloaded twice.
A file lock serializes concurrent downloads of the same destination (Dask workers, parallel runs):
the second caller waits, then gets a cheap 304.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from filelock import FileLock

from finance_assets.lib.http import (
    RETRYABLE_STATUSES,
    HttpClient,
    HttpError,
    HttpStatusError,
    SecAccessDenied,
    _transport_error_kind,
)
from finance_assets.lib.retry import Retryable

STREAM_CHUNK_BYTES = 1 << 20
PROGRESS_EVERY_BYTES = 256 << 20
LOCK_TIMEOUT_S = 6 * 3600.0  # a 5 GB archive on a slow link


@dataclass(frozen=True)
class Download:
    path: Path
    status: str  # "downloaded" | "not-modified"
    bytes: int
    etag: str | None
    last_modified: str | None


class _BadBody(Exception):
    """The body ended before Content-Length, or the finished file failed `verify`: worth a retry."""


def _validators_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".validators.json")


def _load_validators(dest: Path) -> dict:
    if not dest.exists():
        return {}
    try:
        return json.loads(_validators_path(dest).read_text())
    except (OSError, ValueError):
        return {}


def _write_json_atomically(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)


class DownloadingHttpClient(HttpClient):
    """`HttpClient` that can also stream a large file to disk with validator caching."""

    def download(
        self, url: str, dest: str | os.PathLike, *, source: str, verify: Callable[[Path], object] | None = None
    ) -> Download:
        """Fetch `url` into `dest` unless the copy there is still current (304).

        `verify(tmp_path)` runs on the finished file before it replaces `dest` and should raise on
        a bad file; the previous copy is then kept and the download retried. Errors are the
        client's: HttpStatusError, SecAccessDenied, RetriesExhausted (its message names the last
        problem, e.g. a truncated body), SourceUnavailable.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        safe_url = self.redact(url)
        with FileLock(str(dest) + ".lock", timeout=LOCK_TIMEOUT_S):
            return self._guarded(
                source, safe_url, lambda: self._download_with_retries(url, safe_url, dest, source, verify)
            )

    def _download_with_retries(
        self, url: str, safe_url: str, dest: Path, source: str, verify: Callable[[Path], object] | None
    ) -> Download:
        validators = _load_validators(dest)
        extra = {"Accept-Encoding": "identity"}  # archives are compressed already
        if validators.get("etag"):
            extra["If-None-Match"] = validators["etag"]
        if validators.get("last_modified"):
            extra["If-Modified-Since"] = validators["last_modified"]
        headers = self._request_headers(extra)
        attempts = self.retry_policy.attempts

        def attempt(number: int) -> Download:
            self._start_attempt(source)
            started = time.perf_counter()
            try:
                with self._client.stream("GET", url, headers=headers) as response:
                    status = response.status_code
                    self._count_status(source, str(status))
                    self._log_attempt(
                        safe_url,
                        source,
                        number,
                        attempts,
                        str(status),
                        (time.perf_counter() - started) * 1000,
                        "conditional" if validators else "miss",
                        None,
                    )
                    if status == 304 and validators:
                        self._count(source, "cache_hits_304")
                        return Download(
                            dest,
                            "not-modified",
                            dest.stat().st_size,
                            validators.get("etag"),
                            validators.get("last_modified"),
                        )
                    if 200 <= status < 300:
                        return self._save(response, safe_url, dest, source, verify)
                    if status == 403 and source == "sec":
                        raise SecAccessDenied(
                            self._sec_denied_message(safe_url), source=source, url=safe_url, status_code=403
                        )
                    if status not in RETRYABLE_STATUSES:
                        raise HttpStatusError(
                            f"GET {safe_url} (source {source!r}) answered HTTP {status} {response.reason_phrase}",
                            source=source,
                            url=safe_url,
                            status_code=status,
                        )
                    raise Retryable(
                        f"HTTP {status}", status_code=status, retry_after=response.headers.get("Retry-After")
                    )
            except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects) as exc:
                raise HttpError(
                    f"GET {safe_url} (source {source!r}): {self.redact(str(exc))}", source=source, url=safe_url
                ) from None
            except _BadBody as exc:
                raise Retryable(f"{exc}; the previous copy is kept") from None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                kind = _transport_error_kind(exc)
                self._count_status(source, kind)
                self._log_attempt(
                    safe_url, source, number, attempts, kind, (time.perf_counter() - started) * 1000, "off", kind
                )
                raise Retryable(kind) from None

        return self._with_retries(source, safe_url, attempt)

    def _save(
        self, response: httpx.Response, safe_url: str, dest: Path, source: str, verify: Callable[[Path], object] | None
    ) -> Download:
        tmp = dest.with_name(f".tmp-{uuid.uuid4().hex}-{dest.name}")
        written, next_report = 0, PROGRESS_EVERY_BYTES
        try:
            with open(tmp, "wb") as out:
                for chunk in response.iter_bytes(STREAM_CHUNK_BYTES):
                    out.write(chunk)
                    written += len(chunk)
                    if written >= next_report:
                        self._log.info("GET %s source=%s downloading: %d MB", safe_url, source, written >> 20)
                        next_report += PROGRESS_EVERY_BYTES
                out.flush()
                os.fsync(out.fileno())
            declared = response.headers.get("Content-Length")
            encoded = response.headers.get("Content-Encoding", "identity") != "identity"
            received = response.num_bytes_downloaded if encoded else written  # Content-Length counts wire bytes
            if declared is not None and declared.isdigit() and received < int(declared):
                raise _BadBody(f"truncated body ({received:,} of {int(declared):,} bytes)")
            if verify is not None:
                try:
                    verify(tmp)
                except Exception as exc:  # noqa: BLE001 - any verification failure keeps the old copy
                    raise _BadBody(f"downloaded file rejected ({exc})") from None
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        etag, last_modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        validators_file = _validators_path(dest)
        if etag or last_modified:
            _write_json_atomically(validators_file, {"etag": etag, "last_modified": last_modified, "bytes": written})
        else:
            validators_file.unlink(missing_ok=True)
        return Download(dest, "downloaded", written, etag, last_modified)
