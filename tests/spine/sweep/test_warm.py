"""Warm workers: the trial's modules are imported on every worker when it joins, before its first trial."""

from __future__ import annotations

import sys

from spine.sweep.cluster import open_client
from spine.sweep.warm import TRIAL_MODULES, WarmWorker, import_modules


def test_a_registered_warm_plugin_imports_the_trial_modules_on_every_worker():
    loaded = lambda names: [name for name in names if name in sys.modules]  # a lambda goes to the workers by value
    with open_client(None, 2) as client:
        before = client.run(loaded, TRIAL_MODULES)
        client.register_plugin(WarmWorker())
        after = client.run(loaded, TRIAL_MODULES)
    assert len(after) == 2
    assert all(names != list(TRIAL_MODULES) for names in before.values())
    assert all(names == list(TRIAL_MODULES) for names in after.values())


def test_a_module_that_cannot_be_imported_is_skipped_not_fatal():
    assert import_modules(("spine.sweep.spec", "spine.sweep.no_such_module")) == ["spine.sweep.spec"]
