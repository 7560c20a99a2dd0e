"""``spine dashboard``'s flags: bad input is one line and exit code 2, before anything listens."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from spine.cli import app


def run(*args: str):
    return CliRunner().invoke(app, ["dashboard", *args])


def test_a_state_folder_that_does_not_exist_is_refused_naming_it(tmp_path):
    result = run("--state", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert f"--state {tmp_path / 'nope'}: no such folder" in result.output
    assert "Traceback" not in result.output


def test_a_runs_folder_that_does_not_exist_and_a_bad_port_are_refused(tmp_path):
    result = run("--state", str(tmp_path), "--runs", str(tmp_path / "nope"))
    assert (result.exit_code, f"--runs {tmp_path / 'nope'}: no such folder" in result.output) == (2, True)
    result = run("--state", str(tmp_path), "--port", "70000")
    assert (result.exit_code, "--port 70000: expected a TCP port from 1 to 65535, or 0" in result.output) == (2, True)


def test_a_port_in_use_is_one_line_naming_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--state", str(tmp_path), "--port", str(port))
    assert result.exit_code == 2
    assert f"--host 127.0.0.1 --port {port}: cannot listen there" in result.output
