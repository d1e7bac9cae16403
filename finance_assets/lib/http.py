"""The one HTTP choke point: every request the project makes goes through `HttpClient.get`.

One place enforces the rules the data sources need:
- the shared per-source rate limit, taken before every attempt, retries included;
- retries for 429/5xx, timeouts, resets and truncated bodies, run by the one `RetryPolicy`
  (`lib/retry.py`, on tenacity: jittered exponential backoff, Retry-After honoured and capped),
  which `DownloadingHttpClient.download` shares;
- validator caching (ETag / Last-Modified → 304), so an unchanged file costs one conditional request;
- SEC's 403 answer turned into an explanation of its fair-access rule;
- a circuit breaker per source;
- redacted logs and errors, and counters for run metadata.
The transports that inject faults for the reliability tests are test code
(`finance_assets_tests/fault_injection.py`); the client never knows they are there.

Why the validator cache is hand-written and not hishel (checked against hishel 2.0.0, the current
release): hishel cannot keep three semantics this cache has and the tests require.
1. Secrets on disk. hishel's storages pack the *request* into every entry (its URL, query
   included, and its headers), so API keys in query strings and the contact e-mail in the
   User-Agent would be written into the cache database; `reliability/test_secrets.py` scans every
   file a run writes, the cache included. Here the file name is a SHA-256 of the URL and only the
   response's headers and body are stored.
2. Revalidate every time. In RFC 9111 mode hishel treats a response with Last-Modified but no
   Cache-Control/Expires (what SEC and the price sources send) as heuristically fresh for up to a
   week and serves it without asking the origin; `CacheOptions` has no switch to turn heuristics
   off, and its non-RFC mode never revalidates at all. The only per-request override, a
   `Cache-Control: no-cache` request header, would also be sent to the origin and its CDN.
   `test_validator_round_trip_returns_cached_body_on_304[last_modified]` needs the changed body.
3. Never store a cut body. hishel stores the body while it streams through, without checking
   Content-Length; a body cut short without a transport error (what `_is_truncated` catches and
   the "truncated" fault injects) would be stored and later served on 304. Here a body is stored
   only after it passed that check.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, quote_plus

import httpx

from finance_assets.lib.limiter import SourceLimiter
from finance_assets.lib.retry import Retryable
from finance_assets.lib.retry import RetryPolicy as RetryPolicy  # re-exported for callers
from finance_assets.lib.retry import parse_retry_after as parse_retry_after  # re-exported for callers

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REDACTED = "***"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Query parameters whose value is a credential: apikey, api_key, api-key, token, access_token, key, ...
_SECRET_PARAM = re.compile(r"(?i)(?<![\w-])([\w-]*(?:api[_-]?key|token|key)=)[^&#\s\"'<>]*")
# Response headers not worth caching: they describe the transfer, not the content.
_UNCACHED_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive", "set-cookie", "x-cache"}
)
_NO_BODY_STATUSES = frozenset({204, 304})

T = TypeVar("T")


class _DropHttpxRequestLines(logging.Filter):
    """httpx logs every full URL at INFO, API keys included; `HttpClient` logs a redacted line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


logging.getLogger("httpx").addFilter(_DropHttpxRequestLines())


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (raw or URL-encoded) and every credential-like query value replaced by ***."""
    variants = {
        variant
        for secret in secrets
        if secret and secret.strip()
        for variant in (secret, quote(secret, safe=""), quote(secret), quote_plus(secret))
    }
    for variant in sorted(variants, key=len, reverse=True):  # longest first: a secret may contain another
        text = text.replace(variant, REDACTED)
    return _SECRET_PARAM.sub(rf"\g<1>{REDACTED}", text)


class HttpError(RuntimeError):
    """Base of the client's errors. `url` is already redacted, so messages are safe to log."""

    def __init__(self, message: str, *, source: str, url: str, status_code: int | None = None):
        super().__init__(message)
        self.source = source
        self.url = url
        self.status_code = status_code


class HttpStatusError(HttpError):
    """A 4xx (or non-retryable 5xx) answer: the request itself is wrong, so it is not retried."""


class SecAccessDenied(HttpError):
    """SEC EDGAR answered 403: an undeclared User-Agent or too many requests per second."""


class RetriesExhausted(HttpError):
    """Every attempt failed with a transient error (429/5xx, timeout, reset, truncated body)."""


class SourceUnavailable(HttpError):
    """The source's circuit is open after repeated failures; the call was not attempted."""


class _TruncatedBody(Exception):
    pass


def _is_truncated(response: httpx.Response) -> bool:
    """Fewer body bytes arrived than Content-Length announced (a cut connection that went unnoticed)."""
    declared = response.headers.get("Content-Length")
    if declared is None or response.status_code in _NO_BODY_STATUSES or response.request.method == "HEAD":
        return False
    try:
        expected = int(declared)
    except ValueError:
        return False
    received = response.num_bytes_downloaded
    if received == 0 and response.headers.get("Content-Encoding", "identity") == "identity":
        # Responses built in memory (mock transports) are read before httpx starts counting raw bytes.
        received = len(response.content)
    return received < expected


def _transport_error_kind(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, (_TruncatedBody, httpx.DecodingError)):
        return "truncated"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "truncated" if "incomplete" in str(exc) or "complete message body" in str(exc) else "protocol_error"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return "reset"
    return "transport_error"


# ----------------------------------------------------------------------------------------- cache


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    headers: dict[str, str]

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


class ValidatorCache:
    """Bodies and their validators on disk, one file per URL: a JSON header line, then the raw body.

    Each file is replaced atomically, so concurrent writers never leave a body paired with the
    wrong ETag.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    @staticmethod
    def key(url: str) -> str:
        return hashlib.sha256(url.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.http"

    def load(self, key: str) -> CachedResponse | None:
        try:
            raw = self._path(key).read_bytes()
            header_line, body = raw.split(b"\n", 1)
            headers = json.loads(header_line)
        except (OSError, ValueError):
            return None
        return CachedResponse(body, headers)

    def store(self, key: str, body: bytes, headers: httpx.Headers) -> None:
        kept = {name.lower(): value for name, value in headers.items() if name.lower() not in _UNCACHED_HEADERS}
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(json.dumps(kept).encode() + b"\n" + body)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


# ------------------------------------------------------------------------------ stats and circuit


@dataclass
class _Counters:
    requests: int = 0
    attempts: int = 0
    retries: int = 0
    cache_hits_304: int = 0
    failures: int = 0
    circuit_rejections: int = 0
    backoff_seconds: float = 0.0
    by_status: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "attempts": self.attempts,
            "retries": self.retries,
            "cache_hits_304": self.cache_hits_304,
            "failures": self.failures,
            "circuit_rejections": self.circuit_rejections,
            "by_status": dict(self.by_status),
            "backoff_seconds": round(self.backoff_seconds, 3),
        }


@dataclass
class _Circuit:
    consecutive_failures: int = 0
    open_until: float | None = None


# ----------------------------------------------------------------------------------------- client


class HttpClient:
    """Rate-limited, retrying, caching GET client; the only HTTP path in the project.

    A call "fails" for the circuit breaker when the source did not serve it: RetriesExhausted or
    SecAccessDenied. A 404 or other 4xx means the source works, and resets the failure count.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        limiter: SourceLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        cache_dir: str | Path | None = None,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        secrets: Sequence[str] = (),
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        circuit_threshold: int = 5,
        circuit_cooldown: float = 60.0,
        limiter_timeout: float | None = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not user_agent or not user_agent.strip():
            raise ValueError("user_agent must be a non-empty string (SEC requires 'Company Name contact@e-mail')")
        if max_retries < 0 or circuit_threshold < 1:
            raise ValueError("max_retries must be >= 0 and circuit_threshold >= 1")
        self.user_agent = user_agent.strip()
        self.limiter = limiter
        # One policy object runs every retry loop of this client, `download` included.
        self.retry_policy = retry_policy or RetryPolicy(max_retries, backoff_base, max_backoff)
        self.circuit_threshold = circuit_threshold
        self.circuit_cooldown = circuit_cooldown
        self.limiter_timeout = limiter_timeout
        self._secrets = tuple(secrets) + tuple(_EMAIL.findall(self.user_agent))
        self._log = logger or logging.getLogger("finance_assets.http")
        self._sleep = sleep
        self._clock = clock
        self._cache = ValidatorCache(cache_dir) if cache_dir is not None else None
        self._client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)
        self._lock = threading.Lock()
        self._totals = _Counters()
        self._per_source: dict[str, _Counters] = {}
        self._circuits: dict[str, _Circuit] = {}

    # ------------------------------------------------------------------ public API

    def get(
        self, url: str, *, source: str, params: dict | None = None, headers: dict | None = None, use_cache: bool = True
    ) -> httpx.Response:
        """GET `url` for `source`: a complete 2xx response, or the cached body marked `X-Cache: HIT-304`.

        Raises HttpStatusError (4xx), SecAccessDenied, RetriesExhausted, SourceUnavailable (open
        circuit), or the limiter's RateLimitTimeout when no slot frees within `limiter_timeout`.
        """
        full_url = str(httpx.URL(url).copy_merge_params(params or {}))
        safe_url = self.redact(full_url)
        return self._guarded(
            source, safe_url, lambda: self._get_with_retries(full_url, safe_url, source, headers or {}, use_cache)
        )

    def _guarded(self, source: str, safe_url: str, call: Callable[[], T]) -> T:
        """One logical request: counted, refused while the source's circuit is open, outcome recorded.

        Only an exhausted retry budget or an SEC block counts against the circuit; another 4xx means
        the source is up.
        """
        self._count(source, "requests")
        try:
            self._check_circuit(source, safe_url)
            result = call()
        except (RetriesExhausted, SecAccessDenied):
            self._count(source, "failures")
            self._record_outcome(source, failed=True)
            raise
        except HttpError:
            self._count(source, "failures")
            raise
        self._record_outcome(source, failed=False)
        return result

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    @property
    def backoff_base(self) -> float:
        return self.retry_policy.backoff_base

    @property
    def max_backoff(self) -> float:
        return self.retry_policy.max_backoff

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    @property
    def stats(self) -> dict:
        """Counters for run metadata: totals plus the same counters `by_source`."""
        with self._lock:
            totals = self._totals.as_dict()
            totals["by_source"] = {source: counters.as_dict() for source, counters in sorted(self._per_source.items())}
        return totals

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ retries

    def _with_retries(self, source: str, safe_url: str, attempt: Callable[[int], T]) -> T:
        """`attempt(n)` under the client's `RetryPolicy`: each retry counted, its wait slept and
        counted; RetriesExhausted (naming the last problem) when the attempts run out."""

        def on_retry(failure: Retryable, delay: float) -> None:
            self._count(source, "retries")
            self._count(source, "backoff_seconds", delay)

        try:
            return self.retry_policy.call(attempt, sleep=self._sleep, on_retry=on_retry)
        except Retryable as last:
            raise RetriesExhausted(
                f"GET {safe_url} (source {source!r}) failed after {self.retry_policy.attempts} attempts; "
                f"last error: {last.problem}",
                source=source,
                url=safe_url,
                status_code=last.status_code,
            ) from None

    def _start_attempt(self, source: str) -> None:
        """Every attempt, retries included, takes a slot of the source's shared rate limit."""
        if self.limiter is not None:
            self.limiter.acquire(source, timeout=self.limiter_timeout)
        self._count(source, "attempts")

    def _get_with_retries(
        self, full_url: str, safe_url: str, source: str, extra_headers: dict, use_cache: bool
    ) -> httpx.Response:
        cache_key = ValidatorCache.key(full_url)
        caching = use_cache and self._cache is not None
        cached = self._cache.load(cache_key) if caching else None
        request_headers = self._request_headers(extra_headers, cached)
        attempts = self.retry_policy.attempts

        def attempt(number: int) -> httpx.Response:
            self._start_attempt(source)
            started = time.perf_counter()
            response, problem = self._attempt(full_url, request_headers, safe_url, source)
            elapsed_ms = (time.perf_counter() - started) * 1000
            status = problem or str(response.status_code)
            self._count_status(source, status)
            cache_outcome = self._cache_outcome(caching, cached, response if problem is None else None)
            self._log_attempt(safe_url, source, number, attempts, status, elapsed_ms, cache_outcome, problem)
            if problem is not None:
                raise Retryable(problem)
            result = self._handle_response(response, safe_url, source, cache_key if caching else None, cached)
            if result is None:
                raise Retryable(
                    f"HTTP {response.status_code}",
                    status_code=response.status_code,
                    retry_after=response.headers.get("Retry-After"),
                )
            return result

        return self._with_retries(source, safe_url, attempt)

    def _attempt(
        self, full_url: str, request_headers: dict[str, str], safe_url: str, source: str
    ) -> tuple[httpx.Response | None, str | None]:
        """One request: (response, None), or (None, kind of transient failure)."""
        try:
            response = self._client.get(full_url, headers=request_headers)
            if _is_truncated(response):
                raise _TruncatedBody()
            return response, None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects) as exc:
            # Retrying cannot fix a malformed URL or a redirect loop.
            raise HttpError(
                f"GET {safe_url} (source {source!r}): {self.redact(str(exc))}", source=source, url=safe_url
            ) from None
        except (httpx.TransportError, httpx.DecodingError, _TruncatedBody) as exc:
            return None, _transport_error_kind(exc)

    def _handle_response(
        self, response: httpx.Response, safe_url: str, source: str, cache_key: str | None, cached: CachedResponse | None
    ) -> httpx.Response | None:
        """The final response, None when the status deserves a retry, or raises a non-retryable error."""
        status = response.status_code
        if status == 304 and cached is not None:
            self._count(source, "cache_hits_304")
            if cache_key is not None and self._cache is not None and self._validators_changed(response, cached):
                self._cache.store(cache_key, cached.body, httpx.Headers({**cached.headers, **response.headers}))
            return httpx.Response(
                200, headers={**cached.headers, "X-Cache": "HIT-304"}, content=cached.body, request=response.request
            )
        if 200 <= status < 300:
            if (
                cache_key is not None
                and self._cache is not None
                and ("ETag" in response.headers or "Last-Modified" in response.headers)
            ):
                self._cache.store(cache_key, response.content, response.headers)
            response.headers["X-Cache"] = "MISS"
            return response
        if status in RETRYABLE_STATUSES:
            return None
        if status == 403 and source == "sec":
            raise SecAccessDenied(self._sec_denied_message(safe_url), source=source, url=safe_url, status_code=403)
        raise HttpStatusError(
            f"GET {safe_url} (source {source!r}) answered HTTP {status} {response.reason_phrase}",
            source=source,
            url=safe_url,
            status_code=status,
        )

    @staticmethod
    def _validators_changed(response: httpx.Response, cached: CachedResponse) -> bool:
        return any(
            response.headers.get(name) not in (None, cached.headers.get(name)) for name in ("etag", "last-modified")
        )

    def _request_headers(self, extra_headers: dict, cached: CachedResponse | None) -> dict[str, str]:
        request_headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate", **extra_headers}
        if cached is not None:
            if cached.etag:
                request_headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                request_headers["If-Modified-Since"] = cached.last_modified
        return request_headers

    def _sec_denied_message(self, safe_url: str) -> str:
        message = (
            f"SEC EDGAR refused GET {safe_url} with 403 Forbidden. SEC's fair-access rule: every request "
            "must carry a User-Agent declaring your company or name and a contact e-mail address "
            "(e.g. 'Example Corp admin@example.com'), and all of your processes and machines together may "
            "make at most 10 requests per second. Set SEC_USER_AGENT accordingly and stay under the "
            "limit; SEC lifts the block after about 10 minutes of compliant traffic."
        )
        if not _EMAIL.search(self.user_agent):
            message += " The configured User-Agent contains no e-mail address."
        return message

    # ------------------------------------------------------------------ circuit breaker

    def _check_circuit(self, source: str, safe_url: str) -> None:
        with self._lock:
            circuit = self._circuits.get(source)
            open_until = circuit.open_until if circuit else None
        if open_until is not None and self._clock() < open_until:
            self._count(source, "circuit_rejections")
            raise SourceUnavailable(
                f"source {source!r} is unavailable after {self.circuit_threshold} consecutive failed calls; "
                f"not requesting {safe_url} for another {open_until - self._clock():.0f} s",
                source=source,
                url=safe_url,
            )

    def _record_outcome(self, source: str, *, failed: bool) -> None:
        with self._lock:
            circuit = self._circuits.setdefault(source, _Circuit())
            if not failed:
                circuit.consecutive_failures, circuit.open_until = 0, None
                return
            circuit.consecutive_failures += 1
            if circuit.consecutive_failures >= self.circuit_threshold:
                # Also re-opens at once when the single probe after a cooldown fails.
                circuit.open_until = self._clock() + self.circuit_cooldown

    # ------------------------------------------------------------------ bookkeeping

    def _count(self, source: str, name: str, amount: float = 1) -> None:
        with self._lock:
            for counters in (self._totals, self._per_source.setdefault(source, _Counters())):
                setattr(counters, name, getattr(counters, name) + amount)

    def _count_status(self, source: str, status: str) -> None:
        with self._lock:
            for counters in (self._totals, self._per_source.setdefault(source, _Counters())):
                counters.by_status[status] += 1

    @staticmethod
    def _cache_outcome(caching: bool, cached: CachedResponse | None, response: httpx.Response | None) -> str:
        if not caching:
            return "off"
        if cached is None:
            return "miss"
        if response is None:
            return "conditional"
        return "hit-304" if response.status_code == 304 else "changed"

    def _log_attempt(
        self,
        safe_url: str,
        source: str,
        attempt: int,
        attempts: int,
        status: str,
        elapsed_ms: float,
        cache_outcome: str,
        problem: str | None,
    ) -> None:
        transient = problem is not None or (status.isdigit() and int(status) in RETRYABLE_STATUSES)
        self._log.log(
            logging.WARNING if transient else logging.INFO,
            "GET %s source=%s status=%s elapsed_ms=%.0f attempt=%d/%d cache=%s",
            safe_url,
            source,
            status,
            elapsed_ms,
            attempt,
            attempts,
            cache_outcome,
        )
