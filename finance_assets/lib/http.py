"""The one HTTP choke point: every request the project makes goes through `HttpClient.get`.

One place enforces the rules the data sources need:
- the shared per-source rate limit, taken before every attempt, retries included;
- retries for 429/5xx, timeouts, resets and truncated bodies, run by the one `RetryPolicy`
  (`lib/retry.py`, on tenacity: jittered exponential backoff, Retry-After honoured and capped),
  which `DownloadingHttpClient.download` shares;
- validator caching (ETag / Last-Modified → 304) on hishel, so an unchanged file costs one
  conditional request;
- SEC's 403 answer turned into an explanation of its fair-access rule;
- a circuit breaker per source;
- redacted logs and errors, and counters for run metadata.
The transports that inject faults for the reliability tests are test code
(`finance_assets_tests/fault_injection.py`); the client never knows they are there.

The cache is hishel's RFC 9111 state machine (`hishel.httpx.CacheClient`, checked against hishel
2.0.0) over `ResponseOnlyStorage`, a hishel storage that keeps three rules of this project:
1. No secret on disk. hishel hands a storage the whole request (URL with its query, headers with
   the contact e-mail of the User-Agent); this storage writes only the response's headers and body,
   in a file named by the SHA-256 of the URL (an `httpx` request hook makes the URL each request's
   cache key, redirects included). `reliability/test_secrets.py` scans every file a run writes.
2. Revalidate every time. hishel would treat a response with Last-Modified and no Cache-Control /
   Expires (what SEC and the price sources send) as heuristically fresh for up to a week, and no
   `CacheOptions` switch turns that off; the storage hands every stored response back marked
   `Cache-Control: no-cache`, which RFC 9111 (5.2.2.4) says must be validated before each reuse, so
   every call asks the origin (a conditional request; 304 → the stored body). Nothing is added to
   the request that goes to the origin.
3. Never store a cut body. hishel stores a body while it streams through; this storage writes it
   only once complete, and only when its length equals Content-Length, so a body cut short without
   a transport error (what `_is_truncated` catches and retries) is never served later.
Only 200 answers that carry an ETag or Last-Modified are stored; `use_cache=False` requests and
`DownloadingHttpClient.download` (which keeps its own validators next to the file) go around it.
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
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, quote_plus

import hishel
import httpx
from hishel.httpx import CacheClient, CacheTransport

from finance_assets.lib.limiter import SourceLimiter
from finance_assets.lib.retry import Retryable, RetryPolicy

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REDACTED = "***"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Query parameters whose value is a credential: apikey, api_key, api-key, token, access_token, key, ...
_SECRET_PARAM = re.compile(r"(?i)(?<![\w-])([\w-]*(?:api[_-]?key|token|key)=)[^&#\s\"'<>]*")
# Response headers not stored: they describe the transfer or the session, not the content.
_UNCACHED_HEADERS = frozenset({"transfer-encoding", "connection", "keep-alive", "set-cookie", "x-cache"})
_VALIDATORS = ("etag", "last-modified")
# A private cache (this machine's runs), RFC 9111 otherwise; revalidation is forced by the storage.
CACHE_OPTIONS = hishel.CacheOptions(shared=False, allow_stale=False)
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


def _served_after_304(response: httpx.Response) -> bool:
    """hishel answered with the stored body after the origin's 304."""
    status = response.extensions.get("caching")
    return bool(status and status["from_cache"])


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


class ResponseOnlyStorage(hishel.BaseStorage):
    """A hishel storage of complete 200 responses, one file per URL: a JSON header line, then the body.

    The file is `<sha256(url)[:2]>/<sha256(url)>.http` and holds the response's headers and its body
    as received (still Content-Encoded), nothing of the request; the cache key hishel passes is the
    URL (`_key_by_url`). Files are replaced atomically, so concurrent writers never leave a body
    paired with the wrong ETag. See the module docstring for why each rule is here.
    """

    def __init__(self, directory: str | Path):
        super().__init__()
        self.directory = Path(directory)
        self._paths: dict[uuid.UUID, Path] = {}  # entry ids handed to hishel -> their files
        self._lock = threading.Lock()

    def _path(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode()).hexdigest()
        return self.directory / digest[:2] / f"{digest}.http"

    def _entry(self, url: str, path: Path, response: hishel.Response) -> hishel.Entry:
        entry_id = uuid.uuid5(uuid.NAMESPACE_URL, url)
        with self._lock:
            self._paths[entry_id] = path
        # only the method and URL: hishel matches entries on them, and the request's headers may hold secrets
        return hishel.Entry(entry_id, hishel.Request("GET", url), response)

    def get_entries(self, key: str) -> list[hishel.Entry]:
        path = self._path(key)
        try:
            headers, body = _read_cache_file(path)
        except (OSError, ValueError):
            return []
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != len(body):
            return []  # damaged on disk: ask the origin again
        cache_control = headers.get("cache-control")
        if cache_control is None or "no-cache" not in cache_control.lower():
            headers["cache-control"] = "no-cache"  # revalidate before every reuse (rule 2)
        return [self._entry(key, path, hishel.Response(200, headers, iter([body])))]

    def create_entry(
        self,
        request: hishel.Request,
        response: hishel.Response,
        key: str,
        *,
        ttl: float | None = None,
        tti: float | None = None,
    ) -> hishel.Entry:
        path = self._path(key)
        stream = response.stream
        storable = response.status_code == 200 and any(name in response.headers for name in _VALIDATORS)
        if storable and isinstance(stream, Iterator):
            stream = self._store_when_complete(stream, path, response.headers)
        return self._entry(key, path, hishel.Response(response.status_code, response.headers, stream))

    def _store_when_complete(self, chunks: Iterator[bytes], path: Path, headers: hishel.Headers) -> Iterator[bytes]:
        """Yields the body on to the client; writes it only after the last chunk, if it is all there."""
        body = bytearray()
        for chunk in chunks:
            body += chunk
            yield chunk
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) != len(body)):
            return  # cut short (rule 3): the client sees it too and retries
        try:
            _write_cache_file(path, headers, bytes(body))
        except OSError as exc:  # a cache that cannot write must not fail the request
            logging.getLogger("finance_assets.http").warning("HTTP cache: could not store %s: %s", path.name, exc)

    def update_headers(self, id: uuid.UUID, headers: hishel.Headers) -> None:
        """After a 304: the body is rewritten with the new headers only when a validator changed."""
        with self._lock:
            path = self._paths.get(id)
        if path is None:
            return
        try:
            stored, body = _read_cache_file(path)
            if all(headers.get(name) in (None, stored.get(name)) for name in _VALIDATORS):
                return
            _write_cache_file(path, headers, body)
        except (OSError, ValueError):
            return

    def remove_entry(self, id: uuid.UUID) -> None:
        with self._lock:
            path = self._paths.pop(id, None)
        if path is not None:
            path.unlink(missing_ok=True)


def _read_cache_file(path: Path) -> tuple[hishel.Headers, bytes]:
    header_line, body = path.read_bytes().split(b"\n", 1)
    return hishel.Headers(json.loads(header_line)), body


def _write_cache_file(path: Path, headers: hishel.Headers, body: bytes) -> None:
    kept = {name: headers.get_list(name) for name in headers if name not in _UNCACHED_HEADERS}
    kept = {name: values[0] if len(values) == 1 else values for name, values in kept.items() if values}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(json.dumps(kept).encode() + b"\n" + body)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _key_by_url(request: httpx.Request) -> None:
    """httpx request hook (every hop of a redirect too): the URL is the request's cache key."""
    request.extensions = {**request.extensions, "caching": {"key": str(request.url)}}


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
        # `_client` sends uncached (use_cache=False, downloads); `_caching_client` puts hishel in front
        # of the same transport (hishel's CacheClient also wraps proxy transports from the environment).
        self._client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)
        self._caching_client: httpx.Client | None = None
        if cache_dir is not None:
            storage = ResponseOnlyStorage(cache_dir)
            self._caching_client = CacheClient(
                storage=storage,
                rfc=CACHE_OPTIONS,
                transport=CacheTransport(transport, storage, CACHE_OPTIONS) if transport is not None else None,
                timeout=timeout,
                follow_redirects=True,
                event_hooks={"request": [_key_by_url]},
            )
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
        if self._caching_client is not None:
            self._caching_client.close()

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
        caching = use_cache and self._caching_client is not None
        client = self._caching_client if caching else self._client
        request_headers = self._request_headers(extra_headers)
        attempts = self.retry_policy.attempts

        def attempt(number: int) -> httpx.Response:
            self._start_attempt(source)
            started = time.perf_counter()
            response, problem = self._attempt(client, full_url, request_headers, safe_url, source)
            elapsed_ms = (time.perf_counter() - started) * 1000
            hit = response is not None and _served_after_304(response)
            status = problem or ("304" if hit else str(response.status_code))
            self._count_status(source, status)
            cache_outcome = self._cache_outcome(caching, response)
            self._log_attempt(safe_url, source, number, attempts, status, elapsed_ms, cache_outcome, problem)
            if problem is not None:
                raise Retryable(problem)
            result = self._handle_response(response, safe_url, source, hit)
            if result is None:
                raise Retryable(
                    f"HTTP {response.status_code}",
                    status_code=response.status_code,
                    retry_after=response.headers.get("Retry-After"),
                )
            return result

        return self._with_retries(source, safe_url, attempt)

    def _attempt(
        self, client: httpx.Client, full_url: str, request_headers: dict[str, str], safe_url: str, source: str
    ) -> tuple[httpx.Response | None, str | None]:
        """One request: (response, None), or (None, kind of transient failure)."""
        try:
            response = client.get(full_url, headers=request_headers)
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
        self, response: httpx.Response, safe_url: str, source: str, hit: bool
    ) -> httpx.Response | None:
        """The final response, None when the status deserves a retry, or raises a non-retryable error.

        A bare 304 means no stored body matched the origin's validators (hishel has dropped the entry):
        the retry asks again, unconditionally.
        """
        status = response.status_code
        if 200 <= status < 300:
            if hit:
                self._count(source, "cache_hits_304")
            response.headers["X-Cache"] = "HIT-304" if hit else "MISS"
            return response
        if status in RETRYABLE_STATUSES or status == 304:
            return None
        if status == 403 and source == "sec":
            raise SecAccessDenied(self._sec_denied_message(safe_url), source=source, url=safe_url, status_code=403)
        raise HttpStatusError(
            f"GET {safe_url} (source {source!r}) answered HTTP {status} {response.reason_phrase}",
            source=source,
            url=safe_url,
            status_code=status,
        )

    def _request_headers(self, extra_headers: dict) -> dict[str, str]:
        return {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate", **extra_headers}

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
    def _cache_outcome(caching: bool, response: httpx.Response | None) -> str:
        """off (not cached), miss (nothing stored), hit-304 (stored body still current), changed
        (revalidated, a new body came), or unknown (the attempt failed before an answer)."""
        if not caching:
            return "off"
        status = response.extensions.get("caching") if response is not None else None
        if status is None:
            return "unknown"
        if not status["revalidated"]:
            return "miss"
        return "hit-304" if status["from_cache"] else "changed"

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
