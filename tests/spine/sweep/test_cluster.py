"""The local cluster's settings reach its workers: no retry of a lost trial, no statistical profiler."""

from __future__ import annotations

from spine.sweep.cluster import LOCAL_CLUSTER_SETTINGS, open_client


def settings_seen() -> dict:
    import dask

    return {key: dask.config.get(key) for key in ("distributed.worker.profile.enabled",)}


def test_local_workers_run_trials_without_dasks_statistical_profiler():
    assert LOCAL_CLUSTER_SETTINGS["distributed.worker.profile.enabled"] is False
    with open_client(None, 2) as client:
        seen = client.run(settings_seen)
        profiling = client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks)
    assert len(seen) == 2 and all(s == {"distributed.worker.profile.enabled": False} for s in seen.values())
    assert not any(profiling.values())
