"""``OrderIdSource``: the nextValidId handed out, from the engine's next free id, rolled back or pinned."""

from __future__ import annotations

from spine.gateway.order_ids import OrderIdSource


def test_the_next_valid_id_is_the_engines_next_free_id() -> None:
    assert OrderIdSource(lambda: 17).next_valid_id() == 17


def test_a_rollback_lowers_the_next_valid_id_until_an_order_arrives() -> None:
    ids = OrderIdSource(lambda: 17)
    ids.roll_back(5)
    assert (ids.next_valid_id(), ids.rollback) == (12, 5)
    ids.order_arrived()
    assert (ids.next_valid_id(), ids.rollback) == (17, 0)


def test_the_next_valid_id_is_never_below_one() -> None:
    ids = OrderIdSource(lambda: 3)
    ids.roll_back(10)
    assert ids.next_valid_id() == 1


def test_a_pinned_id_is_handed_out_until_unpinned() -> None:
    ids = OrderIdSource(lambda: 40)
    ids.pin(1)
    ids.order_arrived()
    assert ids.next_valid_id() == 1
    ids.pin(None)
    assert ids.next_valid_id() == 40
