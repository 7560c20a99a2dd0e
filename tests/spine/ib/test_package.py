"""``spine.ib``'s public surface: what it exports, where the exceptions come from, what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import spine.ib
from spine.core import errors


def test_the_public_surface_is_sorted_and_every_name_is_there() -> None:
    assert spine.ib.__all__ == sorted(spine.ib.__all__)
    for name in spine.ib.__all__:
        assert getattr(spine.ib, name) is not None, name


def test_the_exported_exceptions_are_the_ones_of_the_one_tree() -> None:
    exported = [getattr(spine.ib, name) for name in spine.ib.__all__]
    for error in (cls for cls in exported if isinstance(cls, type) and issubclass(cls, Exception)):
        assert getattr(errors, error.__name__) is error


def test_the_exceptions_stay_importable_from_the_modules_that_raise_them() -> None:
    from spine.ib.account_monitor import AccountUnavailable
    from spine.ib.session import SessionNotRunning
    from spine.ib.translation import OrderRefError
    from spine.ib.worker import ClientIdInUse, ConnectFailed, FetchFailed, Refused

    assert (AccountUnavailable, SessionNotRunning, OrderRefError) == (
        errors.AccountUnavailable,
        errors.SessionNotRunning,
        errors.OrderRefError,
    )
    assert (ClientIdInUse, ConnectFailed, FetchFailed, Refused) == (
        errors.ClientIdInUse,
        errors.ConnectFailed,
        errors.FetchFailed,
        errors.Refused,
    )


def test_importing_the_package_leaves_ib_async_unimported() -> None:
    code = "import sys, spine.ib; print('ib_async' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
