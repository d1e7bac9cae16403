"""Scale-out on real engines started by the tests on 127.0.0.1 and stopped by PID:

- a Dask scheduler and two workers (the venv's `dask` CLI), used by the CLI in existing-scheduler mode;
- a Redis server shared by 4 limiter processes (the multi-machine rate limit);
- a PostgreSQL server holding the Dagster instance (dagster-postgres).

Each skips cleanly when its server binary is not installed (.ci/run installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from finance_assets.lib.rate_windows import max_in_sliding_window, steady_rate

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout_s: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout_s:g} s")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop(procs: list[subprocess.Popen]) -> None:
    """Terminate our own processes by PID (never by name), then kill what is left."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# ---------------------------------------------------------------------------------------------
# Dask: existing-scheduler mode against a real scheduler and two workers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def dask_cluster(tmp_path) -> Iterator[str]:
    dask_cli = VENV_BIN / "dask"
    if not dask_cli.exists():
        pytest.skip("dask CLI not in the venv")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    log = (tmp_path / "dask.log").open("w")
    scheduler = subprocess.Popen(
        [
            str(dask_cli),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            ":0",
            "--no-show",
        ],
        stdout=log,
        stderr=log,
        env=env,
    )
    procs = [scheduler]
    try:
        wait_for(lambda: port_open(port), 60, "dask scheduler", scheduler)
        # workers import finance_assets from the checkout, whatever their working directory
        worker_env = {**env, "PYTHONPATH": str(REPO)}
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        str(dask_cli),
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--dashboard-address",
                        ":0",
                        "--no-nanny",
                    ],
                    stdout=log,
                    stderr=log,
                    env=worker_env,
                    cwd=str(tmp_path),
                )
            )
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=90)
            worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2 and os.getpid() not in worker_pids
        yield address
    finally:
        try:  # a graceful cluster shutdown is much faster than SIGTERM to each worker
            from distributed import Client

            with Client(address, timeout=10) as client:
                client.shutdown()
        except OSError:
            pass
        stop(procs[::-1])
        log.close()


def test_dagster_cli_materializes_on_an_existing_dask_cluster(isolated_home, dask_cluster, tmp_path):
    """`dagster asset materialize` with DASK_SCHEDULER_ADDRESS: one run, steps executed by the two workers."""
    import dagster as dg

    from finance_assets.lib.partitions import TICKER
    from finance_assets.lib.warehouse import Warehouse

    with dg.DagsterInstance.get() as instance:  # DAGSTER_HOME from isolated_home
        instance.add_dynamic_partitions(TICKER, ["ACMQ", "BLZQ"])
    env = {
        **os.environ,
        "PYTHONWARNINGS": "ignore",
        "DASK_SCHEDULER_ADDRESS": dask_cluster,
        "FINANCE_ASSETS_EXECUTOR": "dask",
    }
    run = subprocess.run(
        [
            str(VENV_BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "finance_assets.definitions",
            "--select",
            "prices,technicals",
            "--partition",
            "2025-02-01",  # every registered ticker: ACMQ and BLZQ
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        cwd=str(tmp_path),
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    tech = Warehouse(isolated_home / "data" / "warehouse").read("technicals")
    assert set(tech["ticker"]) == {"ACMQ", "BLZQ"} and len(tech) == 2 * 19  # 19 sessions in February 2025

    from distributed import Client

    with Client(dask_cluster, timeout=30) as client:
        worker_pids = set(client.run(os.getpid).values())
    with dg.DagsterInstance.get() as instance:
        (record,) = instance.get_run_records()
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        starts = instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_START)
        step_pids = {entry.dagster_event.pid for entry in starts}
    assert {"prices", "technicals"} <= {entry.step_key for entry in starts}  # and the asset checks' steps
    assert step_pids <= worker_pids  # every step ran in a worker, none in the CLI


# ---------------------------------------------------------------------------------------------
# Redis: one rate limit shared by 4 processes that share nothing else
# ---------------------------------------------------------------------------------------------

SEC_LIMIT = 10
LIMITER_PROCESSES = 4
HAMMER_SECONDS = 3.0

_LIMITER_WORKER = textwrap.dedent("""
    import json, sys, tempfile, time
    from finance_assets.lib.limiter import RedisBackend, SourceLimiter
    # each process has its own state dir: only Redis is shared
    limiter = SourceLimiter(tempfile.mkdtemp(), backend=RedisBackend(sys.argv[1]))
    limiter.acquire("news")                      # connect and load the script before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    started, stamps = time.time(), []
    while time.time() - started < float(sys.argv[2]):
        limiter.acquire("sec")
        stamps.append(time.time())
    print(json.dumps(stamps), flush=True)
""")


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    pytest.importorskip("redis", reason="the redis package (client of the shared limiter) is not installed")
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server not installed (Debian package redis-server; .ci/run installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: port_open(port), 20, "redis-server", proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop([proc])


def test_redis_limiter_shared_by_four_processes(redis_url):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _LIMITER_WORKER, redis_url, str(HAMMER_SECONDS)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(LIMITER_PROCESSES)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        per_process = [json.loads(proc.stdout.readline()) for proc in procs]
    finally:
        stop(procs)
    stamps = np.concatenate(per_process)
    assert all(len(p) > 0 for p in per_process)  # every process got through
    assert max_in_sliding_window(stamps) <= SEC_LIMIT
    assert steady_rate(stamps, SEC_LIMIT) >= 0.95 * SEC_LIMIT


def test_redis_backend_is_chosen_by_env_and_never_shows_the_password(monkeypatch, tmp_path):
    pytest.importorskip("redis")
    from finance_assets.lib.limiter import LimiterBackendUnavailable, RedisBackend, SourceLimiter

    closed_port = free_port()  # nothing listens there
    url = f"redis://limiter:s3cret-pass@127.0.0.1:{closed_port}/0"
    monkeypatch.setenv("FINANCE_ASSETS_LIMITER_REDIS_URL", url)
    limiter = SourceLimiter(tmp_path)
    assert isinstance(limiter._backend, RedisBackend)
    with pytest.raises(LimiterBackendUnavailable) as caught:
        limiter.acquire("sec", timeout=5)
    message = str(caught.value)
    assert f"127.0.0.1:{closed_port}" in message and "FINANCE_ASSETS_LIMITER_REDIS_URL" in message
    assert "s3cret-pass" not in message and "s3cret-pass" not in repr(caught.value)


def test_redis_limiter_times_out_with_the_cap_named(redis_url, tmp_path):
    from finance_assets.lib.limiter import RateLimitTimeout, RedisBackend, SourceLimiter

    limiter = SourceLimiter(tmp_path, rates={"tiny": [(2, 60.0)]}, backend=RedisBackend(redis_url))
    limiter.acquire("tiny")
    limiter.acquire("tiny")
    started = time.monotonic()
    with pytest.raises(RateLimitTimeout, match="2 requests per 1.0 min"):
        limiter.acquire("tiny", timeout=1)
    assert time.monotonic() - started < 1.0  # fails at once: the wait is known to exceed the timeout
    limiter.close()


# ---------------------------------------------------------------------------------------------
# PostgreSQL: the Dagster instance (runs, events, schedules) in a real server
# ---------------------------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


@pytest.fixture
def postgres() -> Iterator[dict]:
    initdb, postgres_bin = _pg_bin("initdb"), _pg_bin("postgres")
    if initdb is None or postgres_bin is None:
        pytest.skip("PostgreSQL server not installed (Debian package postgresql; .ci/run installs it)")
    try:
        import dagster_postgres  # noqa: F401
    except ImportError:
        pytest.skip("dagster-postgres not installed")
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: use the server's own account
        if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            pytest.skip("running as root without a 'postgres' account")
        run_as = ["runuser", "-u", "postgres", "--"]
    # not under pytest's tmp_path: its parents are private to root, and the server runs as 'postgres'
    base = Path(tempfile.mkdtemp(prefix="finance_assets_pg_"))
    server = None
    try:
        if run_as:
            shutil.chown(base, "postgres")
        password_file = base / "pwfile"
        password_file.write_text("dagster-test\n")
        if run_as:
            shutil.chown(password_file, "postgres")
        init = subprocess.run(
            [
                *run_as,
                initdb,
                "-D",
                str(base / "data"),
                "-U",
                "dagster",
                "--pwfile",
                str(password_file),
                "-A",
                "scram-sha-256",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
        )
        assert init.returncode == 0, init.stderr[-2000:]
        port = free_port()
        server = subprocess.Popen(
            [
                *run_as,
                postgres_bin,
                "-D",
                str(base / "data"),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(base),
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: port_open(port), 60, "postgres", server)
        yield {
            "username": "dagster",
            "password": "dagster-test",
            "hostname": "127.0.0.1",
            "db_name": "postgres",
            "port": port,
        }
    finally:
        if server is not None:
            stop([server])
        shutil.rmtree(base, ignore_errors=True)


def test_dagster_instance_on_postgres(postgres, isolated_home, tmp_path, monkeypatch):
    import dagster as dg
    import yaml

    home = tmp_path / "pg_home"
    home.mkdir()
    # the same layout as docker/dagster.yaml: credentials from the environment, never in the file
    deployed = yaml.safe_load((REPO / "docker" / "dagster.yaml").read_text())
    assert deployed["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    config = {"telemetry": {"enabled": False}, "storage": deployed["storage"]}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_PG_USER", postgres["username"])
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", postgres["password"])
    monkeypatch.setenv("DAGSTER_PG_HOST", postgres["hostname"])
    monkeypatch.setenv("DAGSTER_PG_DB", postgres["db_name"])
    monkeypatch.setenv("DAGSTER_PG_PORT", str(postgres["port"]))

    from finance_assets.lib.partitions import TICKER, TICKERS_TAG, month_partitions, tickers_tag

    @dg.asset(partitions_def=month_partitions)
    def trivial() -> None: ...

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        instance.add_dynamic_partitions(TICKER, ["ACMQ", "BLZQ"])
        result = dg.materialize([trivial], instance=instance, partition_key="2025-03-01", tags=tickers_tag(["BLZQ"]))
        assert result.success
    # a second process (another machine in a deployment) sees the same runs, events and partitions
    probe = textwrap.dedent(f"""
        import dagster as dg
        with dg.DagsterInstance.from_config({str(home)!r}) as instance:
            records = instance.get_run_records()
            print(instance.get_dynamic_partitions("ticker"), len(records),
                  sorted(instance.get_materialized_partitions(dg.AssetKey("trivial"))),
                  records[0].dagster_run.tags.get({TICKERS_TAG!r}))
    """)
    seen = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert seen.returncode == 0, seen.stderr[-2000:]
    assert seen.stdout.strip() == "['ACMQ', 'BLZQ'] 1 ['2025-03-01'] BLZQ"  # and the run's tickers tag
