"""Warm workers: the trial's modules are loaded on every worker before its first trial."""

from __future__ import annotations

import asyncio
import sys

from spine.sweep.cluster import open_client, worker_start_method
from spine.sweep.warm import TRIAL_MODULES, WarmWorker, import_modules


def test_local_workers_start_with_the_trial_modules_loaded():
    loaded = lambda names: [name for name in names if name in sys.modules]  # a lambda goes to the workers by value
    with open_client(None, 2) as client:
        on_arrival = client.run(loaded, TRIAL_MODULES)
        client.register_plugin(WarmWorker())
        after = client.run(loaded, TRIAL_MODULES)
    assert len(on_arrival) == 2
    if worker_start_method() == "fork":  # forked from the driver, which imported them first
        assert all(names == list(TRIAL_MODULES) for names in on_arrival.values())
    assert all(names == list(TRIAL_MODULES) for names in after.values())


def test_the_warm_plugin_imports_its_modules_when_a_worker_joins():
    sys.modules.pop("colorsys", None)
    asyncio.run(WarmWorker(("colorsys",)).setup(worker=None))
    assert "colorsys" in sys.modules


def test_local_workers_are_forked_on_linux_and_spawned_elsewhere():
    assert worker_start_method("linux") == "fork"
    assert worker_start_method("darwin") == "spawn"
    assert worker_start_method("win32") == "spawn"


def test_a_module_that_cannot_be_imported_is_skipped_not_fatal():
    assert import_modules(("spine.sweep.spec", "spine.sweep.no_such_module")) == ["spine.sweep.spec"]
