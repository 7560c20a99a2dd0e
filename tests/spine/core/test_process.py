"""``spine.core.process``: the collector settings of the ``spine`` script's own process."""

from __future__ import annotations

import gc

import pytest

from spine.core.process import YOUNG_THRESHOLD, collect_less_often, collecting_less_often, skip_exit_collection


@pytest.fixture
def restored_collector():
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    yield
    gc.set_threshold(*threshold)
    if gc.get_freeze_count() != frozen:
        gc.unfreeze()


def test_collect_less_often_raises_only_the_young_threshold(restored_collector):
    _, older, oldest = gc.get_threshold()
    collect_less_often()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, older, oldest)


def test_collect_less_often_still_frees_reference_cycles(restored_collector):
    collect_less_often()

    class Node:
        pass

    node = Node()
    node.self = node
    del node
    assert gc.collect() >= 1


def test_skip_exit_collection_freezes_every_tracked_object(restored_collector):
    skip_exit_collection()
    assert gc.get_freeze_count() > 0


def test_collecting_less_often_raises_the_young_threshold_for_the_block_and_restores_it():
    before = gc.get_threshold()
    with collecting_less_often():
        assert gc.get_threshold() == (max(before[0], YOUNG_THRESHOLD), *before[1:])
    assert gc.get_threshold() == before
