"""``spine dashboard``: a bad flag is one line and exit 2, before anything listens."""

from __future__ import annotations

import pytest

CASES = [
    (["--port", "70000"], "--port 70000", "1 to 65535"),
    (["--port", "-1"], "--port -1", "0 for any free port"),
    (["--port", "abc"], "--port abc", "TCP port"),
    (["--host", ""], "--host ''", "host name"),
    (["--state", "missing"], "--state missing: no such folder", "state folder"),
    (["--state", "{file}"], "is a file", "state folder"),
    (["--runs", "missing"], "--runs missing", "folder of run folders"),
]


@pytest.mark.parametrize(("flags", "where", "expected"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_bad_flag_is_one_line_and_exit_2_before_anything_listens(refuses, tmp_path, flags, where, expected):
    afile = tmp_path / "afile"
    afile.write_text("")
    state = tmp_path / "state"
    state.mkdir()
    given = {
        "--state": str(state),
        **dict(zip(flags[::2], [f.replace("{file}", str(afile)) for f in flags[1::2]], strict=True)),
    }
    refuses(["dashboard", *(x for pair in given.items() for x in pair)], where, expected)
