"""The one exception tree: each class under the reaction it needs, and still caught where it always was."""

from __future__ import annotations

import pytest

from spine.core import errors
from spine.core.errors import (
    AccountUnavailable,
    BrokerError,
    ClientIdInUse,
    ConnectFailed,
    FetchFailed,
    InputError,
    NotSentError,
    OrderRefError,
    Refused,
    SafetyError,
    SessionNotRunning,
    SpineError,
    TemporaryBrokerError,
)


@pytest.mark.parametrize(
    ("error", "reaction"),
    [(Refused, SafetyError), (OrderRefError, NotSentError), (SessionNotRunning, NotSentError),
     (AccountUnavailable, TemporaryBrokerError), (ConnectFailed, TemporaryBrokerError),
     (ClientIdInUse, TemporaryBrokerError), (FetchFailed, TemporaryBrokerError)],
)  # fmt: skip
def test_each_ib_error_sits_under_the_reaction_it_needs(error: type[Exception], reaction: type[Exception]) -> None:
    assert issubclass(error, reaction) and issubclass(error, SpineError)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [(Refused, RuntimeError), (OrderRefError, ValueError), (SessionNotRunning, RuntimeError),
     (AccountUnavailable, RuntimeError), (ConnectFailed, ConnectionError), (ClientIdInUse, ConnectionError),
     (FetchFailed, RuntimeError)],
)  # fmt: skip
def test_each_ib_error_is_still_caught_by_its_builtin_base(error: type[Exception], builtin: type[Exception]) -> None:
    with pytest.raises(builtin, match="^why$"):
        raise error("why")


@pytest.mark.parametrize(
    "error", [OrderRefError, SessionNotRunning, AccountUnavailable, ConnectFailed, ClientIdInUse, FetchFailed]
)
def test_no_ib_error_is_caught_as_bad_input_a_refusal_or_a_run_ending_broker_error(error: type[Exception]) -> None:
    assert not issubclass(error, (InputError, SafetyError, BrokerError))


def test_a_refused_paper_check_is_a_safety_refusal_and_never_retried() -> None:
    assert not issubclass(Refused, (TemporaryBrokerError, ConnectFailed, InputError, BrokerError))


def test_the_reactions_are_separate_branches() -> None:
    branches = [InputError, SafetyError, BrokerError, NotSentError, TemporaryBrokerError]
    for branch in branches:
        assert branch.__bases__ == (SpineError,)
        assert not any(issubclass(branch, other) for other in branches if other is not branch)


def test_every_class_in_the_public_surface_is_drawn_in_the_tree() -> None:
    tree = errors.__doc__ or ""
    assert errors.__all__ == sorted(errors.__all__)
    for name in errors.__all__:
        assert f" {name} " in tree, name
