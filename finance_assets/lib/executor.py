"""The Dask executor from dagster-dask, with one fix for the versions we run.

dagster-dask submits each step as `client.submit(query_on_dask_worker, deps, recon_job, dagster_run,
...)`. distributed 2026.x parses task arguments by iterating every tuple it finds, and Dagster 1.13
forbids iterating its `@record` classes (`Exception: Iteration is not allowed on @record
TimeWindowPartitionsDefinition`), so every run of a time-partitioned asset failed under Dask. We pass
the step's arguments inside an opaque holder that dask does not look into; everything else
(clusters, config schema, step ordering, event streaming) is dagster-dask's own code.

The step also runs in the run's asset subset: dagster-dask subsets the job on the worker by op selection
only, so a run launched with an asset selection (`dagster asset materialize --select prices`) planned the
whole asset job there, and an input from an unselected asset with other partitions (prices read the
per-ticker corporate_actions) got the run's month key on the ticker partitions. This is what Dagster's own
step workers do (`dagster api execute_step`).

These changes keep a run's log free of tracebacks and warnings that report nothing wrong:
- the local cluster a run starts is closed when the run ends. dagster-dask leaves it to the interpreter's
  exit, where a nanny sees its worker go, starts a replacement, and the replacement dies unpickling a
  semaphore of the parent that is already gone (`FileNotFoundError` in `SemLock._rebuild`, printed
  with its traceback in `make dev`'s log after every run).
- a step's events come back in the same opaque holder: dask measures every result it keeps
  (`sizeof`), which iterates the list of events, and logged "Sizeof calculation ... failed" three
  times per step.
- a run stopped (Ctrl-C, SIGTERM) while a step's result was being fetched closes the client under that
  fetch: tornado logged the `CommClosedError` of the abandoned fetch with its traceback at ERROR (the
  run itself already ended, as stopped). Those records are dropped; any other tornado error is kept.
- on the workers of the CLI's own cluster, a heartbeat that meets the scheduler's closed connection while
  the CLI closes that cluster (Ctrl-C) is not logged: the worker logged it at ERROR with a traceback into
  the CLI's stderr, after its one-line "interrupted" message. Any other heartbeat failure is kept.

Steps are submitted with a priority: the number of steps downstream of each (`_downstream_counts`).

Speed (docs/measurements.md, adding one ticker): a worker keeps its Dagster instance between steps
(`_instance_of`), and the CLI forks its local cluster's workers from a forkserver that imported the definitions
while the CLI planned (`start_worker_forkserver`; lib/worker_forkserver.py runs in that server last).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.popen_forkserver
import os
import signal
import sys
from collections.abc import Sequence

import dagster as dg
import dask
import dask.distributed
from dagster import _check as check
from dagster._core.errors import raise_execution_interrupts
from dagster._core.events import DagsterEvent
from dagster._core.execution.api import create_execution_plan, execute_plan
from dagster._core.instance import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._serdes import deserialize_value, serialize_value
from dagster._utils import iterate_with_context
from distributed.comm.core import CommClosedError


def _dagster_dask_executor_module():
    """`dagster_dask.executor` without running the package's `__init__` first: it imports `dask.dataframe` and
    `dask.array` for dagster-dask's DataFrame type, 0.9 s of every process's import of the definitions (the
    CLI, each Dask worker, each run) for modules we never use. The package runs its `__init__` when anything
    else is first asked of it (PEP 562 module `__getattr__`), so `from dagster_dask import ...` still works."""
    if "dagster_dask" not in sys.modules:
        spec = importlib.util.find_spec("dagster_dask")
        package = importlib.util.module_from_spec(spec)

        def run_the_package_init(name: str):
            del package.__getattr__
            spec.loader.exec_module(package)
            return getattr(package, name)

        package.__getattr__ = run_the_package_init
        sys.modules["dagster_dask"] = package
    return importlib.import_module("dagster_dask.executor")


_upstream = _dagster_dask_executor_module()
DaskExecutor = _upstream.DaskExecutor
get_dask_resource_requirements = _upstream.get_dask_resource_requirements
_upstream_dask_executor = _upstream.dask_executor

# Dask workers of the local clusters we start do not run the statistical profiler: on Python 3.11.7 its
# sampling thread can deadlock with the garbage collector (cpython gh-106883, fixed in 3.11.9); a demo hung
# for good in the SEC run twice in five tries here. Nothing reads the profiles. (A Nanny copies the dask
# config it was created under to its worker process.)
NO_WORKER_PROFILING = {"distributed.worker.profile.enabled": False}


class _DropClosedCommErrors(logging.Filter):
    """Drops a record logged with a closed comm as its exception whose message starts with `message`."""

    def __init__(self, message: str = ""):
        super().__init__()
        self.message = message

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, CommClosedError) and record.getMessage().startswith(self.message))


logging.getLogger("tornado.application").addFilter(_DropClosedCommErrors())

HEARTBEAT_FAILURE = "Failed to communicate with scheduler during heartbeat"


def drop_heartbeats_to_a_closed_scheduler() -> None:
    """Run on each worker of a cluster whose scheduler lives and dies with the CLI process."""
    worker_log = logging.getLogger("distributed.worker")
    if not any(isinstance(f, _DropClosedCommErrors) for f in worker_log.filters):
        worker_log.addFilter(_DropClosedCommErrors(HEARTBEAT_FAILURE))


def local_cluster(**kwargs) -> dask.distributed.LocalCluster:
    """A local cluster; its worker processes are forked from the worker forkserver when one was started
    (`start_worker_forkserver`), else spawned (dask's default)."""
    settings = dict(NO_WORKER_PROFILING)
    if _forkserver_started:
        settings["distributed.worker.multiprocessing-method"] = "forkserver"
    with dask.config.set(settings):
        return dask.distributed.LocalCluster(**kwargs)


_forkserver_started = False
# process groups of this process's workers that left the server's group (the CLI's warmed workers): ended with it
_worker_groups: set[int] = set()


def remember_worker_group(pgid: int) -> None:
    """A worker's own process group, killed by `stop_worker_forkserver` with everything in it."""
    _worker_groups.add(pgid)


def _sessions_by_group() -> dict[int, set[int]]:
    """Process group -> the sessions of its processes, in one pass over /proc (empty where there is no /proc)."""
    groups: dict[int, set[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):  # a process gone meanwhile
                    groups.setdefault(os.getpgid(int(entry)), set()).add(os.getsid(int(entry)))
    return groups


def start_worker_forkserver(preload: Sequence[str]) -> None:
    """Start now, beside the caller, the process that this process's local Dask workers will be forked from,
    importing `preload` there first. A spawned worker imports the definitions itself (~3.5 s, two workers
    on two cores ~4 s, before a run's first step); a forked one starts with them imported. The CLI starts it
    before its own imports and planning, which it overlaps. A module that fails to import there is imported
    by each worker as before (Python's forkserver skips it); the server ends with this process."""
    global _forkserver_started
    from distributed import utils as distributed_utils

    modules = ["distributed", *preload, "finance_assets.lib.worker_forkserver"]  # the last: see its docstring
    multiprocessing.get_context("forkserver").set_forkserver_preload(modules)
    distributed_utils._forkserver_preload_set = True  # else distributed replaces the list with its own
    multiprocessing.forkserver.ensure_running()
    _forkserver_started = True


def stop_worker_forkserver() -> None:
    """End the forkserver now (once this process's clusters are closed) rather than when it notices this
    process's exit: a server still importing held the caller's output open for seconds after a command that
    ended early (a script reading that output to its end waited for it). With it goes any worker it forked that
    outlived its cluster (a close cut short by Ctrl-C), which this process's exit would otherwise wait for
    (multiprocessing joins its children at exit): killed by pid, and so is every process in the groups of the
    workers that left the server's (`remember_worker_group`): Dagster's `tail -F` mirrors of a step's captured
    output, orphaned when their worker dies, kept the command's stdout and stderr open forever (a pipe reading
    the command's output never ended). Then the server's group (processes it forked that kept its group)."""
    global _forkserver_started
    pid = multiprocessing.forkserver._forkserver._forkserver_pid  # CPython's one server per process
    if _forkserver_started:
        for child in multiprocessing.active_children():
            if isinstance(getattr(child, "_popen", None), multiprocessing.popen_forkserver.Popen):
                child.kill()
                child.join(timeout=10)  # the server reports its exit status
    session, sessions = os.getsid(0), (_sessions_by_group() if _worker_groups else {})
    for group in sorted(_worker_groups):
        # a group is formed within one session: members of another mean its id (a dead worker's pid) was reused
        if sessions.get(group, set()) - {session}:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    _worker_groups.clear()
    if _forkserver_started and pid:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            try:
                os.killpg(pid, signal.SIGKILL)  # its own group once lib/worker_forkserver.py ran in it
            except ProcessLookupError:
                os.kill(pid, signal.SIGKILL)  # still importing, in this process's group
            os.waitpid(pid, 0)
    _forkserver_started = False


class _Opaque:
    """Carries a value past dask's argument parser (it recurses into tuples, lists and dicts only)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


@functools.lru_cache(maxsize=4)
def _instance_of(serialized_ref: str) -> DagsterInstance:
    return DagsterInstance.from_ref(deserialize_value(serialized_ref, InstanceRef))


def _query_on_worker(recon_job, dagster_run, run_config, step_keys, instance_ref, known_state) -> list:
    """dagster_dask.executor.query_on_dask_worker, subsetting the job as the run was (assets and checks too).

    The worker keeps its instance between steps (`_instance_of`): a new one per step cost ~0.3 s of a step's
    ~0.5 s floor (reading the configuration; on the first connection to the run's database, Dagster's schema
    check, which parses every alembic revision file). Measured in docs/measurements.md."""
    instance = _instance_of(serialize_value(instance_ref))
    if dagster_run.asset_selection is not None or dagster_run.asset_check_selection is not None:
        subset_job = recon_job.get_subset(
            asset_selection=dagster_run.asset_selection, asset_check_selection=dagster_run.asset_check_selection
        )
    else:
        subset_job = recon_job.get_subset(op_selection=dagster_run.resolved_op_selection)
    plan = create_execution_plan(
        subset_job, run_config=run_config, step_keys_to_execute=step_keys, known_state=known_state
    )
    return execute_plan(plan, subset_job, instance, dagster_run, run_config=run_config)


def _run_step_on_worker(dependencies, packed: _Opaque) -> _Opaque:
    # `dependencies` only orders the futures (as in dagster-dask)
    return _Opaque(_query_on_worker(*packed.value))


class RecordSafeDaskExecutor(DaskExecutor):
    def execute(self, plan_context, execution_plan):
        check.invariant(plan_context.instance.is_persistent, "Dask execution requires a persistent DagsterInstance")
        job_name = plan_context.job_name
        if self.cluster_type == "existing":
            yield from self._execute_on(self.cluster_configuration["address"], plan_context, execution_plan)
        elif self.cluster_type == "local":
            with local_cluster(**self.build_dict(job_name)) as cluster:
                yield from self._execute_on(cluster, plan_context, execution_plan)
        else:  # yarn, ssh, pbs, ...: dagster-dask's own code path builds those clusters
            yield from super().execute(plan_context, execution_plan)

    def _execute_on(self, cluster, plan_context, execution_plan):
        job_name = plan_context.job_name
        with dask.distributed.Client(cluster) as client:
            futures, by_step = [], {}
            levels = execution_plan.get_steps_to_execute_by_level()
            downstream = _downstream_counts([step for level in levels for step in level])
            for step_level in levels:
                for step in step_level:
                    dependencies = [
                        by_step[key] for step_input in step.step_inputs for key in step_input.dependency_keys
                    ]
                    packed = _Opaque(
                        (
                            plan_context.reconstructable_job,
                            plan_context.dagster_run,
                            plan_context.run_config,
                            [step.key],
                            plan_context.instance.get_ref(),
                            execution_plan.known_state,
                        )
                    )
                    future = client.submit(
                        _run_step_on_worker,
                        dependencies,
                        packed,
                        key=f"{job_name}.{step.key}",
                        resources=get_dask_resource_requirements(step.tags),
                        priority=downstream[step.key],
                    )
                    futures.append(future)
                    by_step[step.key] = future
            completed = dask.distributed.as_completed(futures, with_results=True)
            for _future, result in iterate_with_context(raise_execution_interrupts, completed):
                for step_event in result.value:
                    yield check.inst(step_event, DagsterEvent)


def _downstream_counts(steps) -> dict[str, int]:
    """Each step's number of steps downstream of it: Dask runs a ready step with more waiting on it first,
    so an asset that others read (prices, then technicals) runs before the checks, which nothing reads
    (they had queued ahead of technicals on a two-worker cluster: a one-ticker market run 16 s)."""
    children: dict[str, set[str]] = {step.key: set() for step in steps}
    for step in steps:
        for step_input in step.step_inputs:
            for parent in step_input.dependency_keys:
                if parent in children:
                    children[parent].add(step.key)

    below: dict[str, set[str]] = {}

    def downstream_of(key: str) -> set[str]:
        if key not in below:
            below[key] = set().union(*({child} | downstream_of(child) for child in children[key]))
        return below[key]

    return {key: len(downstream_of(key)) for key in children}


@dg.executor(
    name="dask",
    config_schema=_upstream_dask_executor.config_schema,
    requirements=dg.multiple_process_executor_requirements(),
)
def dask_executor(init_context: dg.InitExecutorContext) -> RecordSafeDaskExecutor:
    ((cluster_type, cluster_configuration),) = init_context.executor_config["cluster"].items()
    return RecordSafeDaskExecutor(cluster_type, cluster_configuration)
