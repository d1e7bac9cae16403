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


LEFTOVER = """
import json, multiprocessing, multiprocessing.forkserver, os, signal, subprocess, sys, time
from finance_assets.lib import executor

def running(pid):
    # is_alive() asks the server, which is gone; a killed orphan may stay a zombie until its new parent reaps it
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False

def pgid(pid):
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None

def outlive_the_cluster(own_group):
    if own_group:  # as the CLI's warmed workers do (cli._leave_terminal_process_group)
        os.setpgid(0, 0)
        # as Dagster's `tail -F` mirror of a step's output: holds the caller's stdout, outlives its worker
        subprocess.Popen(["sleep", "600"])
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a step that defers signals: multiprocessing's exit terminate() waits
    time.sleep(600)

if __name__ == "__main__":
    executor.start_worker_forkserver([])
    context = multiprocessing.get_context("forkserver")
    # daemonic, as the Nanny starts its workers: at exit multiprocessing terminates and then joins them
    leftovers = [context.Process(target=outlive_the_cluster, args=(own,), daemon=True) for own in (False, True)]
    for leftover in leftovers:
        leftover.start()  # forked by the server, as a worker is
    server = multiprocessing.forkserver._forkserver._forkserver_pid
    deadline = time.monotonic() + 60
    while os.getpgid(leftovers[1].pid) == os.getpgid(server) and time.monotonic() < deadline:
        time.sleep(0.1)  # until the second has left the server's group (its target imports this script first)
    executor.remember_worker_group(os.getpgid(leftovers[1].pid))  # as cli._warm_workers does
    time.sleep(0.5)
    executor.stop_worker_forkserver()
    time.sleep(1)
    group = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and running(int(pid)) and pgid(int(pid)) == leftovers[1].pid]
    print(json.dumps({"leftovers_alive_after_stop": [running(leftover.pid) for leftover in leftovers], "left_in_its_group": group}))
"""


def test_stopping_the_forkserver_ends_a_worker_that_outlived_its_cluster(tmp_path):
    """A worker still running when the command ends (its cluster's close cut short by Ctrl-C) goes with the server,
    in the server's process group or in one of its own: multiprocessing joins a process's children at its exit,
    and the command would wait for it. What a step started in the worker's own group goes too: orphaned, it kept
    the command's output open (the probe's `subprocess.run` below would wait for it to its timeout)."""
    script = tmp_path / "leftover.py"
    script.write_text(LEFTOVER)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "leftovers_alive_after_stop": [False, False],
        "left_in_its_group": [],
    }


def test_a_remembered_group_is_killed_only_within_this_session():
    """A worker's group id is its pid; once the worker is gone the id may be reused by another command's group,
    which is in another session: that one is left alone."""
    import signal

    from finance_assets.lib import executor

    ours = subprocess.Popen(["sleep", "60"], process_group=0)  # a group of its own in this session, as a worker's
    theirs = subprocess.Popen(["sleep", "60"], start_new_session=True)  # another session (a reused pid)
    try:
        executor.remember_worker_group(ours.pid)
        executor.remember_worker_group(theirs.pid)
        executor.stop_worker_forkserver()
        assert ours.wait(timeout=10) == -signal.SIGKILL
        assert theirs.poll() is None
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()
