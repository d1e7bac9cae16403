"""The warehouse on an S3-compatible object store: a real S3 server (moto's, in server mode, on a free
loopback port) started by the test, not a mock of the code path. docs/object-storage.md."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from finance_assets.lib import config
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.object_store import ObjectStore, WriteConflict
from finance_assets.lib.warehouse import ObjectStoreWarehouse, Warehouse, ticker_shard
from finance_assets_tests.lib.test_warehouse import ONE_SHARD, _month_frame
from finance_assets_tests.reliability.conftest import MATERIALIZE, NEW_NOW, OLD_NOW, cli

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret-7f3a"}
REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server in a thread of this process, on a free port of 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(monkeypatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


_BUCKETS = iter(range(10_000))


@pytest.fixture
def bucket_url(s3_endpoint, s3_env) -> str:
    """A new empty bucket per test (moto keeps every bucket until the server stops)."""
    url = f"s3://wh-test-{os.getpid()}-{next(_BUCKETS)}/warehouse"
    assert ObjectStore(url, endpoint_url=s3_endpoint, region=REGION).ensure_bucket()
    return url


def _warehouse(url: str, endpoint: str, tmp_path: Path) -> ObjectStoreWarehouse:
    wh = Warehouse(url, endpoint_url=endpoint, region=REGION, local_dir=tmp_path / "catalog")
    assert isinstance(wh, ObjectStoreWarehouse)
    return wh


def _frame(ticker: str, month: str, n: int = 20, offset: float = 0.0) -> pd.DataFrame:
    dates = pd.date_range(month, periods=n, freq="B")
    return pd.DataFrame({"ticker": ticker, "date": dates.date, "close": [offset + i for i in range(n)]})


# --- settings ---------------------------------------------------------------------------------


def test_settings_take_a_warehouse_url_and_never_show_credentials(tmp_path):
    env = {
        "FINANCE_ASSETS_HOME": str(tmp_path),
        "FINANCE_ASSETS_WAREHOUSE_URL": "s3://finance-bucket/team/warehouse/",
        "FINANCE_ASSETS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "FINANCE_ASSETS_S3_REGION": "eu-west-1",
        **CREDENTIALS,
    }
    settings = config.Settings.from_env(env)
    assert settings.warehouse_location == "s3://finance-bucket/team/warehouse"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000" and settings.s3_region == "eu-west-1"
    assert settings.has_s3_credentials
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in repr(settings)
    local = config.Settings.from_env({"FINANCE_ASSETS_HOME": str(tmp_path)})
    assert local.warehouse_location == str(tmp_path / "data" / "warehouse") and not local.warehouse_url

    def error(**changes) -> str:
        with pytest.raises(config.SettingsError) as info:
            config.Settings.from_env({"FINANCE_ASSETS_HOME": str(tmp_path), **changes})
        return str(info.value)

    assert "must not carry credentials" in error(FINANCE_ASSETS_WAREHOUSE_URL="s3://AKIA:hunter2@bucket/x")
    assert "hunter2" not in error(FINANCE_ASSETS_WAREHOUSE_URL="s3://AKIA:hunter2@bucket/x")
    assert "s3://" in error(FINANCE_ASSETS_WAREHOUSE_URL="gs://bucket/x")
    assert "bucket name" in error(FINANCE_ASSETS_WAREHOUSE_URL="s3://No_Such/x")
    assert "key prefix" in error(FINANCE_ASSETS_WAREHOUSE_URL="s3://bucket/../x")
    assert "FINANCE_ASSETS_WAREHOUSE_URL" in error(FINANCE_ASSETS_DATA_DIR="s3://bucket/data")
    assert "must not carry credentials" in error(FINANCE_ASSETS_S3_ENDPOINT_URL="http://key:secret@minio:9000")
    both = {"DASK_SCHEDULER_ADDRESS": "tcp://10.0.0.5:8786", "FINANCE_ASSETS_DASK_ADDRESS": "tcp://10.0.0.6:8786"}
    assert config.Settings.from_env({"FINANCE_ASSETS_HOME": str(tmp_path), **both}).dask_scheduler_address == (
        "tcp://10.0.0.6:8786"
    )
    assert "FINANCE_ASSETS_DASK_ADDRESS" in error(FINANCE_ASSETS_DASK_ADDRESS="http://nope")
    only_key = error(AWS_ACCESS_KEY_ID="AKIAEXAMPLE")
    assert "AWS_SECRET_ACCESS_KEY" in only_key and "AKIAEXAMPLE" not in only_key


# --- the store's guarantees -------------------------------------------------------------------


def test_conditional_writes_refuse_a_stale_etag_and_an_existing_object(bucket_url, s3_endpoint):
    store = ObjectStore(bucket_url, endpoint_url=s3_endpoint, region=REGION)
    assert store.get("a/data.parquet").data is None
    first = store.put("a/data.parquet", b"one", if_absent=True)
    with pytest.raises(WriteConflict):
        store.put("a/data.parquet", b"two", if_absent=True)
    second = store.put("a/data.parquet", b"three", if_match=first)
    with pytest.raises(WriteConflict):  # a writer that read "one" must not overwrite "three"
        store.put("a/data.parquet", b"four", if_match=first)
    got = store.get("a/data.parquet")
    assert got.data == b"three" and got.etag == second
    store.put("ab/data.parquet", b"x")
    assert store.list("a") == ["a/data.parquet"] and store.children() == ["a", "ab"]
    missing = ObjectStore("s3://no-such-bucket-here/x", endpoint_url=s3_endpoint, region=REGION)
    with pytest.raises(FileNotFoundError, match="ensure-bucket"):
        missing.put("a/data.parquet", b"one")


def test_round_trip_catalog_and_the_local_api(bucket_url, s3_endpoint, tmp_path):
    wh = _warehouse(bucket_url, s3_endpoint, tmp_path)
    for t in ("AAA", "BBB"):
        for m in ("2024-01-01", "2024-02-01"):
            wh.write("prices", {"ticker": t, "month": m}, _frame(t, m))
    wh.write("ticker_cik_map", None, pd.DataFrame({"ticker": ["AAA"], "cik": [1]}))
    files = wh.all_files("prices")
    assert ticker_shard("AAA") == ticker_shard("BBB")  # one file per month holds both
    assert files == [
        f"{bucket_url}/prices/month=2024-{m}/shard={ticker_shard('AAA')}/data.parquet" for m in ("01", "02")
    ]
    feb = wh.read_partitions("prices", [{"ticker": "AAA", "month": "2024-02-01"}])
    assert len(feb) == 20 and {str(d)[:7] for d in feb["date"]} == {"2024-02"}
    wh.write("prices", {"ticker": "AAA", "month": "2024-02-01"}, _frame("AAA", "2024-02-01", n=5, offset=50))
    aaa = wh.read("prices", where="ticker = ?", params=["AAA"])
    assert len(aaa) == 25 and aaa["close"].max() == 54
    assert wh.read_latest("ticker_cik_map")["cik"].tolist() == [1]
    assert wh.read_latest("fundamental_snapshots") is None
    assert wh.files("prices", [{"ticker": "AAA", "month": "2024-03-01"}]) == []  # a month never written
    assert len(wh.read_partitions("prices", [{"ticker": "CCC", "month": "2024-01-01"}])) == 0  # in AAA's file
    # the same frames as a local warehouse with the same writes: dtypes and values
    local = Warehouse(tmp_path / "local")
    for t in ("AAA", "BBB"):
        for m in ("2024-01-01", "2024-02-01"):
            local.write("prices", {"ticker": t, "month": m}, _frame(t, m))
    local.write("prices", {"ticker": "AAA", "month": "2024-02-01"}, _frame("AAA", "2024-02-01", n=5, offset=50))
    pd.testing.assert_frame_equal(wh.read("prices"), local.read("prices"))

    for snapshot in (True, False):  # fetched copies, or DuckDB reading the bucket through fsspec
        con = wh.connect(snapshot=snapshot)
        try:
            rows = con.execute("SELECT ticker, count(*) FROM prices GROUP BY ticker ORDER BY ticker").fetchall()
            assert con.execute("SELECT count(*) FROM ticker_cik_map").fetchone() == (1,)
        finally:
            con.close()
        assert rows == [("AAA", 25), ("BBB", 40)]
    with wh.connect() as con:
        folder = Path(con._folder.name)
        assert folder.is_dir()
    assert not folder.exists()  # the snapshot goes with the connection
    assert wh.refresh_catalog() == ["prices", "ticker_cik_map"]
    assert wh.catalog_path.is_file()  # the local catalog file for the duckdb CLI (with httpfs)


def _s3_writer(url: str, endpoint: str, ticker: str, month: str, offset: float, repeats: int) -> None:
    os.environ.update(CREDENTIALS)
    wh = Warehouse(url, endpoint_url=endpoint, region=REGION, local_dir=os.devnull)
    for _ in range(repeats):
        wh.write("prices", {"ticker": ticker, "month": month}, _month_frame(ticker, month, offset))


@pytest.mark.slow
def test_concurrent_writers_of_one_shard_object_lose_nothing(bucket_url, s3_endpoint, tmp_path):
    """Six processes rewrite one month-and-shard object at once (four tickers of the shard, and a fifth
    twice with different content): every commit is conditional, so none overwrites a version it did not read."""
    ctx = mp.get_context("spawn")
    *four, twice = ONE_SHARD
    jobs = [ctx.Process(target=_s3_writer, args=(bucket_url, s3_endpoint, t, "2024-03-01", 0.0, 3)) for t in four]
    jobs += [
        ctx.Process(target=_s3_writer, args=(bucket_url, s3_endpoint, twice, "2024-03-01", off, 3))
        for off in (0.0, 1e6)
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(120)
        assert job.exitcode == 0
    wh = _warehouse(bucket_url, s3_endpoint, tmp_path)
    shared = wh.read("prices")
    assert shared.groupby("ticker").size().to_dict() == dict.fromkeys(ONE_SHARD, 2000)
    last = shared[shared["ticker"] == twice]
    assert (last["close"] - last["close"].iloc[0]).tolist() == list(range(2000))  # one version, not a mix
    assert len(wh.all_files("prices")) == 1


# --- a writer killed mid-write ----------------------------------------------------------------

_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np, pandas as pd
    from finance_assets.lib import object_store
    from finance_assets.lib.warehouse import Warehouse

    url, endpoint, marker = sys.argv[1:4]
    real_upload_part = object_store.ObjectStore._upload_part

    def upload_part_then_hang(self, key, upload, number, chunk):
        part = real_upload_part(self, key, upload, number, chunk)
        if number == 2:  # two parts are on the server; the upload is not complete
            Path(marker).write_text("parts uploaded")
            time.sleep(600)  # killed here
        return part

    object_store.ObjectStore._upload_part = upload_part_then_hang
    wh = Warehouse(url, endpoint_url=endpoint, region="us-east-1", local_dir="/nonexistent")
    wh.store.multipart_threshold = wh.store.part_size = 5 * 1024 * 1024
    rows = 1_500_000  # ~12 MiB of random doubles: three parts
    frame = pd.DataFrame({"id": np.arange(rows), "value": np.random.default_rng(1).random(rows), "version": 2})
    wh.write("big_table", None, frame)
    """
)


@pytest.mark.slow
def test_a_writer_killed_mid_upload_leaves_the_previous_version(bucket_url, s3_endpoint, tmp_path):
    wh = _warehouse(bucket_url, s3_endpoint, tmp_path)
    wh.store.multipart_threshold = wh.store.part_size = 5 * 1024 * 1024
    rows = 1_500_000
    previous = pd.DataFrame({"id": np.arange(rows), "value": np.random.default_rng(0).random(rows), "version": 1})
    wh.write("big_table", None, previous)  # itself a multipart upload (three parts)
    marker = tmp_path / "marker"
    env = dict(os.environ, **CREDENTIALS, PYTHONWARNINGS="ignore")
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, bucket_url, s3_endpoint, str(marker)], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert writer.poll() is None, writer.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the writer never reached its second part"
            time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait(30)
        writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL
    # readers see the previous complete version, through every read path
    pd.testing.assert_frame_equal(wh.read_latest("big_table"), previous)
    con = wh.connect()
    try:
        assert con.execute("SELECT count(*), min(version), max(version) FROM big_table").fetchone() == (rows, 1, 1)
    finally:
        con.close()
    # the orphaned upload holds parts no reader sees; maintenance deletes them
    assert len(wh.store.incomplete_uploads()) == 1
    assert wh.store.abort_incomplete_uploads(older_than=pd.Timedelta(0).to_pytimedelta()) == 1
    assert wh.store.incomplete_uploads() == []
    pd.testing.assert_frame_equal(wh.read_latest("big_table"), previous)


# --- end to end: the demo backfill through the Dask executor onto the S3 server -----------------


@contextlib.contextmanager
def _existing_dask_cluster(env: dict, tmp_path: Path) -> Iterator[str]:
    """A Dask scheduler and two single-threaded workers started from the venv's `dask` CLI (the
    "existing cluster" of a deployment); yields its address."""
    import socket

    from distributed import Client

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask_cli = str(Path(sys.executable).parent / "dask")
    log = (tmp_path / "dask.log").open("w")
    common = ["--dashboard-address", ":0"]
    procs = [
        subprocess.Popen(
            [dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), *common, "--no-show"],
            stdout=log,
            stderr=log,
            env=env,
        )
    ]
    try:
        time.sleep(1)
        for _ in range(2):
            worker = [dask_cli, "worker", address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1"]
            procs.append(subprocess.Popen([*worker, *common, "--no-nanny"], stdout=log, stderr=log, env=env))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        with contextlib.suppress(OSError), Client(address, timeout=10) as client:
            client.shutdown()
        for proc in procs[::-1]:
            if proc.poll() is None:
                proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(20)
            if proc.poll() is None:
                proc.kill()
        log.close()


@pytest.mark.slow
def test_demo_backfill_through_dask_onto_the_object_store(isolated_home, bucket_url, s3_endpoint, tmp_path):
    """Three holdings and the benchmark, one month, every asset, on an existing Dask cluster
    (FINANCE_ASSETS_DASK_ADDRESS) whose two workers write the bucket; then the report, `catalog` and a
    catalog query read it back. Every step ran in a worker, nothing lands in the local warehouse
    folder, and no credential appears in the output."""
    import dagster as dg

    data = isolated_home / "data"
    (data / "portfolio.csv").write_text(
        "ticker,shares,cost_basis,currency\nACMQ,100,50,USD\nBLZQ,20,300,USD\nCRXQ,300,30,USD\n"
    )
    env = dict(
        os.environ,
        **CREDENTIALS,
        PYTHONWARNINGS="ignore",
        FINANCE_ASSETS_WAREHOUSE_URL=bucket_url,
        FINANCE_ASSETS_S3_ENDPOINT_URL=s3_endpoint,
        FINANCE_ASSETS_S3_REGION=REGION,
        FINANCE_ASSETS_EXECUTOR="dask",
        FINANCE_ASSETS_HTTP_BACKOFF="0.01",
        FINANCE_ASSETS_DEMO_RATES="*=1000",  # the demo answers offline: no wait for the live limits
        # the demo's own history start (the suite pins 2016): the filing documents of 2025-26, not ten years
        FINANCE_ASSETS_HISTORY_START="2025-01-01",
    )
    for name in ("DASK_SCHEDULER_ADDRESS", "FINANCE_ASSETS_FAULT_RATE", "FINANCE_ASSETS_OUTAGE_HOSTS"):
        env.pop(name, None)
    with _existing_dask_cluster(env, tmp_path) as address:
        _demo_backfill_and_read_back(
            {**env, "FINANCE_ASSETS_DASK_ADDRESS": address}, data, bucket_url, s3_endpoint, tmp_path
        )
        from distributed import Client

        with Client(address, timeout=30) as client:
            worker_pids = set(client.run(os.getpid).values())
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        step_pids = {
            entry.dagster_event.pid
            for record in instance.get_run_records()
            for entry in instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_START)
        }
    assert len(worker_pids) == 2 and step_pids and step_pids <= worker_pids  # every step ran in a worker


def _demo_backfill_and_read_back(env: dict, data: Path, bucket_url: str, s3_endpoint: str, tmp_path: Path) -> None:
    reg = cli(["register"], env)
    assert reg.returncode == 0, reg.stdout + reg.stderr
    run = cli(["backfill", "--start", "2025-02", "--end", "2025-02"], env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "dask scheduler: tcp://127.0.0.1:" in run.stdout and "done:" in run.stdout

    wh = _warehouse(bucket_url, s3_endpoint, tmp_path)
    prices = wh.read("prices")
    sessions_feb_2025 = 19
    assert set(prices["ticker"]) == {"ACMQ", "BLZQ", "CRXQ", "DEMOIDX"}
    assert len(prices) == 4 * sessions_feb_2025 and not prices.duplicated(["ticker", "date"]).any()
    assert len(wh.all_files("prices")) == 4  # one object per month and ticker shard (4 shards here)
    report = wh.read("portfolio_report")
    assert len(report) == len(pd.bdate_range("2025-02-01", "2025-02-28"))
    assert not (data / "warehouse" / "prices").exists()  # the bucket is the warehouse

    shown = cli(["report"], env)
    assert shown.returncode == 0 and "latest.html" in shown.stdout, shown.stdout + shown.stderr
    catalog = cli(["catalog"], env)
    assert catalog.returncode == 0, catalog.stdout + catalog.stderr
    assert "prices" in catalog.stdout and "portfolio_report" in catalog.stdout
    con = wh.connect()
    try:
        tickers, bars = con.execute("SELECT count(DISTINCT ticker), count(*) FROM prices").fetchone()
        days = con.execute("SELECT count(*) FROM portfolio_report").fetchone()[0]
        techs = con.execute("SELECT count(*) FROM technicals WHERE ticker = 'ACMQ'").fetchone()[0]
    finally:
        con.close()
    assert (tickers, bars, days, techs) == (4, 4 * sessions_feb_2025, len(report), sessions_feb_2025)
    for output in (reg, run, shown, catalog):
        assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in output.stdout + output.stderr


# --- the compose deployment's S3 server -------------------------------------------------------


def test_compose_runs_the_s3_server_and_the_demo_against_it():
    import yaml

    repo = Path(__file__).resolve().parents[2]
    services = yaml.safe_load((repo / "docker" / "docker-compose.yml").read_text())["services"]
    s3, bucket, demo = services["s3"], services["s3-bucket"], services["demo"]
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / s3["command"][0]).exists()  # moto_server, from the locked test extra
    port = s3["command"][s3["command"].index("-p") + 1]
    for name in ("dask-worker", "user_code", "webserver", "daemon", "demo", "s3-bucket"):
        env = services[name]["environment"]
        assert env["FINANCE_ASSETS_WAREHOUSE_URL"].endswith("s3://finance-assets/warehouse}"), name
        assert env["FINANCE_ASSETS_S3_ENDPOINT_URL"].endswith(f"http://s3:{port}}}"), name
    assert bucket["command"][-3:] == ["-m", "finance_assets.lib.object_store", "ensure-bucket"]
    for name in ("dask-worker", "user_code", "demo"):
        assert services[name]["depends_on"]["s3-bucket"] == {"condition": "service_completed_successfully"}
    assert demo["command"][:2] == ["finance-assets", "demo"]


def test_ensure_bucket_command_creates_the_configured_bucket(s3_endpoint, s3_env, tmp_path):
    url = f"s3://ensure-{os.getpid()}/wh"
    env = dict(
        os.environ,
        **CREDENTIALS,
        FINANCE_ASSETS_HOME=str(tmp_path),
        FINANCE_ASSETS_WAREHOUSE_URL=url,
        FINANCE_ASSETS_S3_ENDPOINT_URL=s3_endpoint,
        FINANCE_ASSETS_S3_REGION=REGION,
    )
    command = [sys.executable, "-m", "finance_assets.lib.object_store", "ensure-bucket"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and "created" in first.stdout, first.stdout + first.stderr
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "exists" in again.stdout, again.stdout + again.stderr


_MONTHS = dg.MonthlyPartitionsDefinition(start_date="2024-01-01")


@dg.asset(partitions_def=_MONTHS)
def bars(context) -> pd.DataFrame:
    return _frame("AAA", context.partition_key)


@dg.asset(partitions_def=_MONTHS)
def doubled(bars: pd.DataFrame) -> pd.DataFrame:
    return bars.assign(close=bars["close"] * 2)


def test_io_manager_writes_and_loads_the_bucket_with_the_runs_endpoint(bucket_url, s3_endpoint, monkeypatch):
    # this process's settings name no S3 server: the endpoint must come from the IO manager's config
    monkeypatch.delenv("FINANCE_ASSETS_S3_ENDPOINT_URL", raising=False)
    io_manager = ParquetWarehouseIOManager(base_path=bucket_url, s3_endpoint_url=s3_endpoint, s3_region=REGION)
    with dg.instance_for_test() as instance:
        for month in ("2024-01-01", "2024-02-01"):
            resources = {"io_manager": io_manager}
            assert dg.materialize([bars, doubled], partition_key=month, instance=instance, resources=resources).success
        event = instance.get_latest_materialization_event(dg.AssetKey("doubled"))
        metadata = event.asset_materialization.metadata
    assert metadata["warehouse_path"].value == f"{bucket_url}/doubled"
    assert all(CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in str(v.value) for v in metadata.values())
    wh = Warehouse(bucket_url, endpoint_url=s3_endpoint, region=REGION)
    assert wh.read("doubled")["close"].tolist() == [2 * i for i in range(20)] * 2


def _dask_write(url: str, endpoint: str, month: str) -> int:
    os.environ.update(CREDENTIALS)
    wh = Warehouse(url, endpoint_url=endpoint, region=REGION, local_dir=os.devnull)
    for _ in range(2):
        wh.write("prices", {"ticker": "DASK", "month": month}, _month_frame("DASK", month, 0.0))
    return os.getpid()


@pytest.mark.slow
def test_two_dask_workers_write_one_yearly_object_and_lose_nothing(bucket_url, s3_endpoint, tmp_path):
    from distributed import Client, LocalCluster

    months = [f"2024-{m:02d}-01" for m in range(1, 9)]
    with (
        LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        workers = sorted(client.scheduler_info()["workers"])
        futures = [
            client.submit(_dask_write, bucket_url, s3_endpoint, month, workers=[workers[i % 2]], pure=False)
            for i, month in enumerate(months)
        ]
        pids = client.gather(futures)
    assert len(set(pids)) == 2  # both worker processes wrote
    year = _warehouse(bucket_url, s3_endpoint, tmp_path).read("prices", where="ticker = ?", params=["DASK"])
    assert len(year) == len(months) * 2000 and not year.duplicated(["date", "slot"]).any()


# --- a Dagster run killed mid-write ------------------------------------------------------------

_STOPS_AT_PUT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from finance_assets.lib import object_store

    asset, nth = os.environ["STOP_AT_PUT"].split(":")
    marker = Path(os.environ["STOP_MARKER"])
    real_put = object_store.ObjectStore.put
    seen = []

    def put(self, rel, data, **kwargs):
        if rel.startswith(asset + "/"):
            seen.append(rel)
            if len(seen) == int(nth):  # the new bytes are built; the PUT never completes
                marker.write_text(self.url_of(rel))
                while True:
                    time.sleep(1)
        return real_put(self, rel, data, **kwargs)

    object_store.ObjectStore.put = put
    from dagster._cli import main
    sys.argv = ["dagster", *sys.argv[1:]]
    sys.exit(main())
    """
)


def _months(prices: pd.DataFrame) -> dict[tuple[str, str], int]:
    months = pd.to_datetime(prices["date"]).dt.strftime("%Y-%m")
    return prices.groupby([prices["ticker"], months]).size().to_dict()


@pytest.mark.slow
def test_a_run_killed_mid_write_leaves_readers_the_previous_complete_version(
    isolated_home, bucket_url, s3_endpoint, tmp_path
):
    """A range run of prices and technicals (2 tickers x Feb-Mar 2025) is re-materialized as of a later
    day and SIGKILLed after three of its four prices objects (a file per month and ticker shard) are
    committed and before the fourth, March's second shard: readers see March's first shard in its new
    version and its second in the previous one, each whole; the re-run is exact."""
    import dagster as dg

    from finance_assets.demo import source as demo

    env = dict(
        os.environ,
        **CREDENTIALS,
        PYTHONWARNINGS="ignore",
        FINANCE_ASSETS_EXECUTOR="in_process",
        FINANCE_ASSETS_HTTP_BACKOFF="0.01",
        FINANCE_ASSETS_WAREHOUSE_URL=bucket_url,
        FINANCE_ASSETS_S3_ENDPOINT_URL=s3_endpoint,
        FINANCE_ASSETS_S3_REGION=REGION,
    )
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        instance.add_dynamic_partitions("ticker", ["ACMQ", "BLZQ"])
    dagster = [str(Path(sys.executable).parent / "dagster"), *MATERIALIZE]
    first = subprocess.run(dagster, env={**env, "FINANCE_ASSETS_AS_OF": OLD_NOW}, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]

    sessions = pd.Index(demo.demo_sessions().date)

    def between(a: str, b: str) -> int:
        return int(((sessions >= pd.Timestamp(a).date()) & (sessions <= pd.Timestamp(b).date())).sum())

    old = {
        (t, m): n
        for t in ("ACMQ", "BLZQ")
        for m, n in (("2025-02", between("2025-02-01", "2025-02-28")), ("2025-03", between("2025-03-01", "2025-03-14")))
    }
    new = {**old, **{(t, "2025-03"): between("2025-03-01", "2025-03-31") for t in ("ACMQ", "BLZQ")}}
    wh = _warehouse(bucket_url, s3_endpoint, tmp_path)
    assert _months(wh.read("prices")) == old

    marker = tmp_path / "stopped"
    proc = subprocess.Popen(
        [sys.executable, "-c", _STOPS_AT_PUT, *MATERIALIZE],
        env={**env, "FINANCE_ASSETS_AS_OF": NEW_NOW, "STOP_AT_PUT": "prices:4", "STOP_MARKER": str(marker)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before its second prices write"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    stopped = marker.read_text()
    files = wh.all_files("prices")
    assert len(files) == 4 and stopped in files and ticker_shard("ACMQ") != ticker_shard("BLZQ")
    assert "/month=2025-03/" in stopped
    for url in files:  # each object whole: the committed one new, the one being written still the old
        counts = _months(wh.read_files([url]))
        assert counts == {k: (old if url == stopped else new)[k] for k in counts}, url
    with wh.connect() as con:
        assert con.execute("SELECT count(*) FROM prices").fetchone()[0] == len(wh.read("prices"))

    again = subprocess.run(dagster, env={**env, "FINANCE_ASSETS_AS_OF": NEW_NOW}, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    prices = wh.read("prices")
    assert _months(prices) == new and not prices.duplicated(["ticker", "date"]).any()
