"""The Dask cluster a sweep runs on: a LocalCluster of processes, or any cluster by address.

Backtrader is pure Python, so each worker is a process with one thread. The local
cluster binds to 127.0.0.1 only. A trial whose worker dies must become one "crashed"
row, not be retried on the next worker until several have died, so the local
scheduler allows no retry of a task whose worker was lost (``allowed-failures: 0``);
an external scheduler keeps its own setting (start it with
``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0`` for the same behaviour).

On Linux the local workers are forked from the driver (Dask's
``distributed.worker.multiprocessing-method: fork``) after the driver has imported what a
trial runs on: a worker starts in a fraction of a second with Backtrader, pandas and the
harness already loaded, where a spawned one starts a fresh interpreter and imports them
again (3-5 s for a 1- or 2-worker cluster on two cores), and a forked worker also closes
in milliseconds. Elsewhere (macOS, Windows: fork is unsafe or absent) workers are spawned
and warmed by ``WarmWorker`` as on an external cluster.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from spine.core.errors import InputError

CONNECT_TIMEOUT_SECONDS = 10
# A local cluster's scheduler and nannies live in the driver's process, on the cores the
# workers need. Dask's default health checks (event-loop ticks every 20 ms, system
# monitor every 0.5 s, each nanny's memory check every 0.1 s) kept an idle 2-worker
# cluster's driver at 5-6% of a core; these intervals bring it near 1.3%. Each worker's
# statistical profiler (a walk of the running trial's stack every 10 ms, for the
# dashboard's profile page) took 4-6% of the trial's CPU and the GIL while it ran.
LOCAL_CLUSTER_SETTINGS = {
    "distributed.scheduler.allowed-failures": 0,  # a trial whose worker died is a crashed row, not retried
    "distributed.admin.tick.interval": "200ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
}


def worker_start_method(platform: str = sys.platform) -> str:
    """How a local worker process starts: forked from the warm driver on Linux, spawned elsewhere."""
    return "fork" if platform.startswith("linux") else "spawn"


def dashboard_available() -> bool:
    """The Dask dashboard needs bokeh, which the sweep extra does not force on anyone."""
    return importlib.util.find_spec("bokeh") is not None


@contextmanager
def open_client(scheduler: str | None, workers: int | None) -> Iterator[object]:
    """A connected ``distributed.Client``; the local cluster (if any) is closed on exit."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is None:
        count = workers if workers is not None else max(1, os.cpu_count() or 1)
        method = worker_start_method()
        if method == "fork":
            from spine.sweep.warm import TRIAL_MODULES, import_modules

            import_modules(TRIAL_MODULES)  # once, here: every forked worker starts with them loaded
        with dask.config.set({**LOCAL_CLUSTER_SETTINGS, "distributed.worker.multiprocessing-method": method}):
            cluster = LocalCluster(
                n_workers=count,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                scheduler_port=0,
                dashboard_address="127.0.0.1:0",  # loopback only; the page itself needs bokeh
                silence_logs=logging.ERROR,
            )
            try:
                with Client(cluster) as client:
                    yield client
            finally:
                cluster.close()
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"--scheduler {scheduler}: cannot connect ({exc}); expected the address of a running Dask scheduler, like tcp://127.0.0.1:8786"
        ) from None
    try:
        wanted = workers or 1  # a cluster without workers would hold the sweep forever
        try:
            client.wait_for_workers(wanted, timeout=CONNECT_TIMEOUT_SECONDS)
        except TimeoutError:
            have = len(client.scheduler_info().get("workers", {}))
            raise InputError(
                f"--scheduler {scheduler}: only {have} worker(s) joined within {CONNECT_TIMEOUT_SECONDS} s; expected at least {wanted} (--workers)"
            ) from None
        yield client
    finally:
        client.close()
