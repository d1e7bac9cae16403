"""HttpClient: headers, retries, Retry-After, validator cache, SEC 403, circuit breaker, redaction, faults."""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from finance_assets.lib.http import (
    HttpClient,
    HttpStatusError,
    RetriesExhausted,
    SecAccessDenied,
    SourceUnavailable,
    redact,
)
from finance_assets.lib.limiter import RateLimitTimeout, SourceLimiter
from finance_assets.lib.retry import parse_retry_after
from finance_assets_tests.fault_injection import DEFAULT_FAULTS, FaultInjectingTransport

CONTACT_EMAIL = "ops.team@acme-research.example"
USER_AGENT = f"Acme Research {CONTACT_EMAIL}"
API_KEY = "AVKEY9F3Q2ZZ"


def realdata_dir() -> Path:
    env = os.environ.get("FINANCE_ASSETS_REALDATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "realdata"


class Server:
    """A scripted origin: answers requests in order from `script`, then with `default`; records requests."""

    def __init__(
        self,
        *script: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response],
        default: Callable[[httpx.Request], httpx.Response] | None = None,
    ):
        self.script = list(script)
        self.default = default or (lambda request: httpx.Response(200, json={"ok": True}))
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # a copy: the cache layer sends its conditional headers on the caller's request object, then restores it
        self.requests.append(httpx.Request(request.method, request.url, headers=request.headers))
        step = self.script.pop(0) if self.script else self.default
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def make_client(server: Server | httpx.BaseTransport, sleeps: list[float] | None = None, **kwargs) -> HttpClient:
    transport = server.transport if isinstance(server, Server) else server
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    return HttpClient(user_agent=USER_AGENT, transport=transport, sleep=sleep, **kwargs)


def truncated_response(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Length": "100"}, content=b'{"ok": tr')


# ----------------------------------------------------------------------------------------- headers


def test_every_request_carries_user_agent_and_accept_encoding():
    server = Server()
    with make_client(server) as client:
        client.get("https://data.sec.gov/submissions/CIK0000320193.json", source="sec", headers={"X-Extra": "1"})
    sent = server.requests[0].headers
    assert sent["User-Agent"] == USER_AGENT
    assert sent["Accept-Encoding"] == "gzip, deflate"
    assert sent["X-Extra"] == "1"


@pytest.mark.parametrize("user_agent", ["", "   "])
def test_empty_user_agent_is_refused(user_agent):
    with pytest.raises(ValueError, match="user_agent"):
        HttpClient(user_agent=user_agent)


def test_gzip_body_measured_against_compressed_content_length_is_not_truncated():
    payload = json.dumps({"rows": list(range(2000))}).encode()
    compressed = gzip.compress(payload)

    def gzip_origin(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"Content-Encoding": "gzip", "Content-Length": str(len(compressed))},
            stream=httpx.ByteStream(compressed),
        )

    with make_client(Server(default=gzip_origin)) as client:
        response = client.get("https://example.test/big.json", source="sec")
        assert response.content == payload
        assert client.stats["attempts"] == 1


# ----------------------------------------------------------------------------------------- retries


def raising(error_type: type[httpx.TransportError], message: str) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        raise error_type(message, request=request)

    return respond


FAULTS: dict[str, Callable[[httpx.Request], httpx.Response]] = {
    "429": lambda request: httpx.Response(429),
    "500": lambda request: httpx.Response(500),
    "502": lambda request: httpx.Response(502),
    "503": lambda request: httpx.Response(503),
    "504": lambda request: httpx.Response(504),
    "timeout": raising(httpx.ReadTimeout, "timed out"),
    "connect_error": raising(httpx.ConnectError, "[Errno 111] Connection refused"),
    "reset": raising(httpx.ReadError, "[Errno 104] Connection reset by peer"),
    "truncated": truncated_response,
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_transient_fault_is_retried_until_success(fault):
    sleeps: list[float] = []
    server = Server(FAULTS[fault], FAULTS[fault], default=lambda request: httpx.Response(200, json={"n": 7}))
    with make_client(server, sleeps, backoff_base=0.5) as client:
        response = client.get("https://example.test/x", source="yahoo")
        stats = client.stats
    assert response.json() == {"n": 7}
    assert len(server.requests) == 3
    assert stats["attempts"] == 3 and stats["retries"] == 2 and stats["failures"] == 0
    assert stats["by_status"] == {fault: 2, "200": 1}
    assert stats["by_source"]["yahoo"]["retries"] == 2
    assert len(sleeps) == 2 and stats["backoff_seconds"] == pytest.approx(sum(sleeps), abs=1e-3)


def test_incomplete_read_reported_by_httpx_is_retried_as_truncated():
    incomplete = httpx.RemoteProtocolError(
        "peer closed connection without sending complete message body (incomplete chunked read)"
    )
    with make_client(Server(incomplete)) as client:
        assert client.get("https://example.test/x", source="stooq").json() == {"ok": True}
        assert client.stats["by_status"]["truncated"] == 1


def test_backoff_doubles_with_jitter_and_is_capped_then_retries_exhaust():
    sleeps: list[float] = []
    server = Server(default=lambda request: httpx.Response(503))
    with make_client(server, sleeps, max_retries=4, backoff_base=1.0, max_backoff=5.0) as client:
        with pytest.raises(RetriesExhausted, match="after 5 attempts") as caught:
            client.get("https://example.test/x", source="news")
        stats = client.stats
    assert caught.value.status_code == 503
    assert len(server.requests) == 5 and len(sleeps) == 4
    ceilings = [1.0, 2.0, 4.0, 5.0]  # base * 2**k, capped at max_backoff
    for slept, ceiling in zip(sleeps, ceilings):
        assert ceiling / 2 <= slept <= ceiling
    assert stats["failures"] == 1 and stats["retries"] == 4


def test_retry_after_seconds_is_honoured_and_capped():
    sleeps: list[float] = []
    server = Server(
        httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(503, headers={"Retry-After": "120"})
    )
    with make_client(server, sleeps, max_backoff=30.0) as client:
        assert client.get("https://example.test/x", source="yahoo").status_code == 200
    assert sleeps == [7.0, 30.0]


def test_retry_after_http_date_is_honoured():
    sleeps: list[float] = []
    soon = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20), usegmt=True)
    far = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2), usegmt=True)
    server = Server(
        httpx.Response(503, headers={"Retry-After": soon}), httpx.Response(429, headers={"Retry-After": far})
    )
    with make_client(server, sleeps, max_backoff=60.0) as client:
        client.get("https://example.test/x", source="yahoo")
    assert 17.0 <= sleeps[0] <= 20.0  # whole-second date resolution
    assert sleeps[1] == 60.0


def test_parse_retry_after_forms():
    now = dt.datetime(2025, 1, 6, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("1.5", now) == 1.5
    assert parse_retry_after("Mon, 06 Jan 2025 12:00:42 GMT", now) == 42.0
    assert parse_retry_after("Mon, 06 Jan 2025 11:00:00 GMT", now) == 0.0  # in the past: retry now
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 501])
def test_client_errors_are_not_retried(status):
    sleeps: list[float] = []
    server = Server(default=lambda request: httpx.Response(status))
    with make_client(server, sleeps) as client:
        with pytest.raises(HttpStatusError) as caught:
            client.get("https://example.test/missing", source="yahoo")
        assert client.stats["failures"] == 1
    assert caught.value.status_code == status
    assert len(server.requests) == 1 and sleeps == []


# ----------------------------------------------------------------------------------------- SEC 403


def test_sec_403_explains_fair_access_rule_without_revealing_email():
    server = Server(
        default=lambda request: httpx.Response(403, text="Your Request Originates from an Undeclared Automated Tool")
    )
    with make_client(server) as client:
        with pytest.raises(SecAccessDenied) as caught:
            client.get("https://data.sec.gov/api/xbrl/companyfacts/CIK0000320193.json", source="sec")
    message = str(caught.value)
    assert "User-Agent" in message and "contact e-mail" in message and "company or name" in message
    assert "10 requests per second" in message
    assert CONTACT_EMAIL not in message and CONTACT_EMAIL not in repr(caught.value)
    assert caught.value.status_code == 403
    assert len(server.requests) == 1  # hammering a blocking SEC only prolongs the block


def test_sec_403_points_out_a_user_agent_without_email():
    server = Server(default=lambda request: httpx.Response(403))
    with HttpClient(user_agent="python-httpx", transport=server.transport, sleep=lambda s: None) as client:
        with pytest.raises(SecAccessDenied, match="contains no e-mail address"):
            client.get("https://www.sec.gov/files/company_tickers.json", source="sec")


# ----------------------------------------------------------------------------------------- cache


class ValidatingOrigin:
    """Serves a mutable body with an ETag and/or Last-Modified, answering 304 to matching validators."""

    def __init__(self, body: bytes, *, etag: bool = True, last_modified: bool = True):
        self.body, self.version = body, 1
        self.use_etag, self.use_last_modified = etag, last_modified
        self.served_bodies = 0

    def update(self, body: bytes) -> None:
        self.body, self.version = body, self.version + 1

    def validators(self) -> dict[str, str]:
        headers = {}
        if self.use_etag:
            headers["ETag"] = f'"v{self.version}"'
        if self.use_last_modified:
            modified = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=self.version)
            headers["Last-Modified"] = email.utils.format_datetime(modified, usegmt=True)
        return headers

    def __call__(self, request: httpx.Request) -> httpx.Response:
        current = self.validators()
        if self.use_etag and request.headers.get("If-None-Match") == current["ETag"]:
            return httpx.Response(304, headers=current)
        if not self.use_etag and request.headers.get("If-Modified-Since") == current.get("Last-Modified"):
            return httpx.Response(304, headers=current)
        self.served_bodies += 1
        return httpx.Response(200, headers={**current, "Content-Type": "application/json"}, content=self.body)


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
def test_validator_round_trip_returns_cached_body_on_304(tmp_path, validator):
    origin = ValidatingOrigin(b'{"v": 1}', etag=validator == "etag", last_modified=validator == "last_modified")
    server = Server(default=origin)
    url = "https://data.sec.gov/submissions/CIK0000320193.json"
    with make_client(server, cache_dir=tmp_path) as client:
        first = client.get(url, source="sec")
        second = client.get(url, source="sec")
        origin.update(b'{"v": 2}')
        third = client.get(url, source="sec")
        fourth = client.get(url, source="sec")
        stats = client.stats

    assert first.headers["X-Cache"] == "MISS" and first.json() == {"v": 1}
    conditional_header = "If-None-Match" if validator == "etag" else "If-Modified-Since"
    assert conditional_header not in server.requests[0].headers
    assert server.requests[1].headers[conditional_header] == (
        '"v1"' if validator == "etag" else origin_validator(1, "Last-Modified")
    )
    assert second.status_code == 200 and second.headers["X-Cache"] == "HIT-304"
    assert second.content == b'{"v": 1}' and second.headers["Content-Type"] == "application/json"
    assert third.headers["X-Cache"] == "MISS" and third.json() == {"v": 2}
    assert fourth.headers["X-Cache"] == "HIT-304" and fourth.json() == {"v": 2}
    assert origin.served_bodies == 2
    assert stats["cache_hits_304"] == 2 and stats["by_status"] == {"200": 2, "304": 2}


def origin_validator(version: int, name: str) -> str:
    origin = ValidatingOrigin(b"", etag=False)
    origin.version = version
    return origin.validators()[name]


def test_cache_key_includes_params_and_use_cache_false_sends_no_validators(tmp_path):
    origin = ValidatingOrigin(b"a,b\n1,2\n")
    server = Server(default=origin)
    with make_client(server, cache_dir=tmp_path) as client:
        client.get("https://stooq.test/q/d/l/", source="stooq", params={"s": "aapl.us"})
        client.get("https://stooq.test/q/d/l/", source="stooq", params={"s": "msft.us"})
        client.get("https://stooq.test/q/d/l/", source="stooq", params={"s": "aapl.us"}, use_cache=False)
        hit = client.get("https://stooq.test/q/d/l/?s=aapl.us", source="stooq")
    assert [("If-None-Match" in request.headers) for request in server.requests] == [False, False, False, True]
    assert hit.headers["X-Cache"] == "HIT-304" and hit.content == b"a,b\n1,2\n"


def test_without_cache_dir_nothing_is_cached():
    server = Server(default=ValidatingOrigin(b"{}"))
    with make_client(server) as client:
        client.get("https://example.test/x", source="news")
        client.get("https://example.test/x", source="news")
    assert all("If-None-Match" not in request.headers for request in server.requests)


def test_a_fresh_looking_response_is_still_revalidated_every_time(tmp_path):
    # max-age would let a standard cache answer without asking; this cache always asks (rule 2)
    origin = ValidatingOrigin(b'{"v": 1}')
    server = Server(default=lambda request: _with_headers(origin(request), {"Cache-Control": "max-age=3600"}))
    with make_client(server, cache_dir=tmp_path) as client:
        client.get("https://example.test/x.json", source="news")
        second = client.get("https://example.test/x.json", source="news")
    assert len(server.requests) == 2 and server.requests[1].headers["If-None-Match"] == '"v1"'
    assert second.headers["X-Cache"] == "HIT-304" and second.content == b'{"v": 1}'


def _with_headers(response: httpx.Response, headers: dict[str, str]) -> httpx.Response:
    response.headers.update(headers)
    return response


def test_the_cache_writes_the_response_only_in_a_file_named_by_the_url_hash(tmp_path):
    origin = ValidatingOrigin(b"a,b\n1,2\n")
    url = "https://www.alphavantage.co/query?function=TIME_SERIES_DAILY&symbol=ACMQ"
    with make_client(Server(default=origin), cache_dir=tmp_path, secrets=[API_KEY]) as client:
        client.get(url, source="alphavantage", params={"apikey": API_KEY})
        hit = client.get(url, source="alphavantage", params={"apikey": API_KEY})
    assert hit.headers["X-Cache"] == "HIT-304"
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    full_url = f"{url}&apikey={API_KEY}"
    assert [path.name for path in files] == [hashlib.sha256(full_url.encode()).hexdigest() + ".http"]
    stored = files[0].read_bytes()
    header_line, body = stored.split(b"\n", 1)
    assert body == b"a,b\n1,2\n" and json.loads(header_line)["etag"] == '"v1"'
    for secret in (API_KEY, CONTACT_EMAIL, "alphavantage", "ACMQ"):  # nothing of the request
        assert secret.encode() not in stored


def test_a_body_cut_short_is_never_stored_and_the_retry_stores_the_whole_one(tmp_path):
    origin = ValidatingOrigin(b'{"rows": [1, 2, 3]}')

    def cut(request: httpx.Request) -> httpx.Response:
        whole = origin(request)
        headers = {"ETag": whole.headers["ETag"], "Content-Length": str(len(whole.content))}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(whole.content[:7]))

    server = Server(cut, default=origin)
    url = "https://data.sec.gov/submissions/CIK0000320193.json"
    with make_client(server, cache_dir=tmp_path) as client:
        first = client.get(url, source="sec")
        second = client.get(url, source="sec")
        stats = client.stats
    assert first.json() == {"rows": [1, 2, 3]} and stats["by_status"]["truncated"] == 1
    # the retry after the cut asked unconditionally: the cut body had not been stored
    assert [request.headers.get("If-None-Match") for request in server.requests] == [None, None, '"v1"']
    assert second.headers["X-Cache"] == "HIT-304" and second.content == b'{"rows": [1, 2, 3]}'


def test_a_redirect_target_is_cached_under_its_own_url(tmp_path):
    origin = ValidatingOrigin(b'{"v": 1}')

    def moved(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old.json":
            return httpx.Response(301, headers={"Location": "https://example.test/new.json"})
        return origin(request)

    server = Server(default=moved)
    with make_client(server, cache_dir=tmp_path) as client:
        client.get("https://example.test/old.json", source="news")
        second = client.get("https://example.test/old.json", source="news")
    assert [(request.url.path, request.headers.get("If-None-Match")) for request in server.requests] == [
        ("/old.json", None),
        ("/new.json", None),
        ("/old.json", None),
        ("/new.json", '"v1"'),
    ]
    assert second.headers["X-Cache"] == "HIT-304" and second.json() == {"v": 1}


def test_a_304_that_matches_no_stored_body_is_asked_again_unconditionally(tmp_path):
    origin = ValidatingOrigin(b'{"v": 1}')
    url = "https://example.test/x.json"
    server = Server(default=origin)
    with make_client(server, cache_dir=tmp_path) as client:
        client.get(url, source="news")
        # the origin answers 304 with another strong ETag than the one stored: nothing to serve
        server.script = [httpx.Response(304, headers={"ETag": '"other"'})]
        again = client.get(url, source="news")
    assert again.headers["X-Cache"] == "MISS" and again.json() == {"v": 1}
    assert [request.headers.get("If-None-Match") for request in server.requests] == [None, '"v1"', None]


# ----------------------------------------------------------------------------------------- circuit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_circuit_opens_after_consecutive_failures_and_spares_other_sources():
    def origin(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503) if request.url.host == "down.test" else httpx.Response(200, json={"up": True})

    server, clock = Server(default=origin), FakeClock()
    with make_client(server, max_retries=1, circuit_threshold=3, circuit_cooldown=60.0, clock=clock) as client:
        for _ in range(3):
            with pytest.raises(RetriesExhausted):
                client.get("https://down.test/a", source="yahoo")
        touched = len(server.requests)
        assert touched == 6

        with pytest.raises(SourceUnavailable, match="'yahoo'"):
            client.get("https://down.test/a", source="yahoo")
        assert len(server.requests) == touched  # failed fast, no network

        assert client.get("https://up.test/b", source="stooq").json() == {"up": True}

        clock.now += 61  # cooldown over: one probe goes out, fails, and re-opens the circuit at once
        with pytest.raises(RetriesExhausted):
            client.get("https://down.test/a", source="yahoo")
        with pytest.raises(SourceUnavailable):
            client.get("https://down.test/a", source="yahoo")

        clock.now += 61
        assert client.get("https://up.test/a", source="yahoo").status_code == 200  # probe succeeds: closed
        assert client.get("https://up.test/a", source="yahoo").status_code == 200
        stats = client.stats
    assert stats["by_source"]["yahoo"]["circuit_rejections"] == 2
    assert stats["by_source"]["yahoo"]["failures"] == 6
    assert stats["by_source"]["stooq"]["failures"] == 0


def test_client_errors_do_not_open_the_circuit():
    server = Server(default=lambda request: httpx.Response(404))
    with make_client(server, circuit_threshold=2) as client:
        for _ in range(4):
            with pytest.raises(HttpStatusError):
                client.get("https://example.test/none", source="sec")
    assert len(server.requests) == 4


# ----------------------------------------------------------------------------------------- secrets


def test_secrets_never_reach_logs_or_errors(caplog):
    caplog.set_level(logging.DEBUG, logger="finance_assets")  # the CLI tests, in-process, quiet it to WARNING
    responses = Server(
        httpx.Response(503),
        httpx.Response(200, json={"Meta Data": {}}),  # retried, then fine
        httpx.Response(404),
        httpx.ReadTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(403),
    )
    errors: list[BaseException] = []
    with make_client(responses, max_retries=1, secrets=[API_KEY]) as client:
        client.get("https://av.test/query", source="alphavantage", params={"function": "X", "apikey": API_KEY})
        for url, source in [
            (f"https://av.test/query?api_key={API_KEY}", "alphavantage"),
            (f"https://av.test/path/{API_KEY}?token=abc123", "alphavantage"),
            (f"https://data.sec.gov/x?contact={CONTACT_EMAIL}", "sec"),
        ]:
            with pytest.raises(Exception) as caught:
                client.get(url, source=source)
            errors.append(caught.value)

    assert [type(error) for error in errors] == [HttpStatusError, RetriesExhausted, SecAccessDenied]
    our_lines = [record for record in caplog.records if record.name == "finance_assets.http"]
    assert len(our_lines) == 6  # one line per attempt
    assert all("elapsed_ms=" in record.getMessage() and "cache=" in record.getMessage() for record in our_lines)
    texts = [caplog.text] + [str(error) for error in errors] + [repr(error) for error in errors]
    for text in texts:
        for secret in (API_KEY, CONTACT_EMAIL, "ops.team%40acme-research.example", "abc123"):
            assert secret not in text
    assert "apikey=***" in caplog.text and "***" in str(errors[1])


def test_redact_handles_raw_encoded_and_named_query_secrets():
    text = (
        "GET https://x.test/q?apikey=K1&api_key=K2&API-KEY=K3&token=T&key=K4&s=AAPL "
        "contact=a%40b.example mail=a@b.example pw=hunter2!"
    )
    cleaned = redact(text, ["a@b.example", "hunter2!"])
    for secret in ("K1", "K2", "K3", "=T", "K4", "a@b.example", "a%40b.example", "hunter2"):
        assert secret not in cleaned
    assert "s=AAPL" in cleaned and "apikey=***" in cleaned


# ----------------------------------------------------------------------------------------- limiter


def test_limiter_is_taken_before_every_attempt_including_retries(tmp_path):
    limiter = SourceLimiter(tmp_path, rates={"sec": [(3, 600.0)]})
    server = Server(httpx.Response(500))
    with make_client(server, limiter=limiter, limiter_timeout=0.0) as client:
        client.get("https://data.sec.gov/a.json", source="sec")  # two attempts → two slots
        client.get("https://data.sec.gov/b.json", source="sec")  # third slot
        with pytest.raises(RateLimitTimeout, match="3 requests per 10.0 min"):
            client.get("https://data.sec.gov/c.json", source="sec")
    assert len(server.requests) == 3  # the refused call never reached the network
    limiter.close()


# ----------------------------------------------------------------------------------------- faults


def numbered_origin(request: httpx.Request) -> httpx.Response:
    n = int(request.url.params["n"])
    return httpx.Response(200, json={"n": n, "square": n * n})


def test_fault_injection_at_20_percent_all_requests_succeed_via_retries():
    faulty = FaultInjectingTransport(httpx.MockTransport(numbered_origin), failure_rate=0.2, seed=7)
    with make_client(faulty) as client:
        bodies = [client.get("https://example.test/n", source="yahoo", params={"n": n}).json() for n in range(200)]
        stats = client.stats
    assert bodies == [{"n": n, "square": n * n} for n in range(200)]
    injected = sum(faulty.injected.values())
    assert set(faulty.injected) == set(DEFAULT_FAULTS)
    assert stats["retries"] == injected and stats["attempts"] == faulty.requests == 200 + injected
    assert 0.12 < injected / faulty.requests < 0.28
    assert stats["failures"] == 0 and stats["by_status"]["200"] == 200
    assert stats["by_status"]["truncated"] == faulty.injected["truncated"]


@pytest.mark.realdata
def test_real_sec_companyfacts_survives_gzip_faults_and_revalidates(tmp_path):
    path = realdata_dir() / "sec" / "companyfacts" / "CIK0000320193_AAPL.edgarkit.json"
    if not path.exists():
        pytest.skip(f"real data not available at {path}")
    raw = path.read_bytes()
    compressed = gzip.compress(raw)  # SEC serves its JSON gzip-encoded

    def sec_origin(request: httpx.Request) -> httpx.Response:
        if request.headers.get("If-None-Match") == '"aapl-1"':
            return httpx.Response(304, headers={"ETag": '"aapl-1"'})
        return httpx.Response(
            200,
            headers={
                "Content-Encoding": "gzip",
                "Content-Length": str(len(compressed)),
                "ETag": '"aapl-1"',
                "Content-Type": "application/json",
            },
            stream=httpx.ByteStream(compressed),
        )

    faulty = FaultInjectingTransport(
        httpx.MockTransport(sec_origin), failure_rate=0.5, seed=11, faults=("truncated", "reset")
    )
    url = "https://data.sec.gov/api/xbrl/companyfacts/CIK0000320193.json"
    with make_client(faulty, cache_dir=tmp_path, max_retries=8) as client:
        first = client.get(url, source="sec")
        second = client.get(url, source="sec")
        stats = client.stats
    assert first.content == raw and first.json()["entityName"] == json.loads(raw)["entityName"]
    assert second.headers["X-Cache"] == "HIT-304" and second.content == raw
    assert stats["retries"] == sum(faulty.injected.values())
