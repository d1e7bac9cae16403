"""The CLI's local Dask workers are forked from a forkserver that imported the modules beforehand, in a process
group of its own; the server is gone once the caller stops it."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, multiprocessing.forkserver, os, sys, time
from finance_assets.lib import executor

if __name__ == "__main__":
    executor.start_worker_forkserver(["tabnanny"])  # a module this process never imports
    server = multiprocessing.forkserver._forkserver._forkserver_pid
    with executor.local_cluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        from distributed import Client
        with Client(cluster) as client:
            (worker,) = client.run(lambda: {"preloaded": "tabnanny" in sys.modules, "pgid": os.getpgid(0)}).values()
    server_pgid = os.getpgid(server)
    executor.stop_worker_forkserver()
    try:
        os.kill(server, 0)
        server_alive = True
    except ProcessLookupError:
        server_alive = False
    print(json.dumps({
        "caller_imported_it": "tabnanny" in sys.modules,
        "worker_imported_it": worker["preloaded"],
        "server_in_its_own_group": server_pgid == server != os.getpgid(0),
        "worker_outside_the_callers_group": worker["pgid"] != os.getpgid(0),
        "server_alive_after_stop": server_alive,
    }))
"""


def test_workers_come_from_the_preloaded_forkserver_outside_the_callers_group(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "caller_imported_it": False,
        "worker_imported_it": True,
        "server_in_its_own_group": True,
        "worker_outside_the_callers_group": True,
        "server_alive_after_stop": False,
    }
