"""``spine paper``: every bad flag or file is one line and exit 2, before any folder is made or a socket opened."""

from __future__ import annotations

from pathlib import Path

import pytest

PAPER = {
    "broker.mode": "paper",
    "broker.execution_enabled": True,
    "compliance.research_only_override": True,
    "risk.max_notional": 50_000,
    "risk.max_daily_loss": 10_000,
    "risk.max_sector_exposure": 0.6,
    "risk.max_positions": 10,
}
HEADER = "datetime,ticker,weight,direction,source_type,source_ticker\n"


@pytest.fixture
def paper_inputs(make_config_dir, tmp_path: Path) -> dict[str, Path]:
    signals = tmp_path / "signals.csv"
    signals.write_text(HEADER + "2023-11-17,ALPH,0.05,BUY,direct,\n")
    afile = tmp_path / "afile"
    afile.write_text("")
    return {"config": make_config_dir({"config.yaml": PAPER}), "signals": signals, "afile": afile}


CASES = [
    (["--port", "-1"], "--port -1", "1 to 65535"),
    (["--port", "70000"], "--port 70000", "1 to 65535"),
    (["--port", "0"], "--port 0", "1 to 65535"),
    (["--port", "abc"], "--port abc", "TCP port"),
    (["--client-id", "-1"], "--client-id -1", "2147483647"),
    (["--client-id", "2147483648"], "--client-id 2147483648", "int32"),
    (["--duration", "nan"], "--duration nan", "finite number of seconds"),
    (["--duration", "inf"], "--duration inf", "finite number of seconds"),
    (["--duration", "-5"], "--duration -5", "above 0"),
    (["--duration", "0"], "--duration 0", "above 0"),
    (["--host", ""], "--host ''", "host name or IP address"),
    (["--host", "a\nb"], "--host", "host name or IP address"),
    (["--until", "2023-13-40"], "--until '2023-13-40'", "YYYY-MM-DD"),
    (["--state", "{afile}"], "--state", "is a file"),
    (["--out", "{afile}"], "--out", "is a file"),
    (["--signals", "missing.csv"], "missing.csv", ""),
    (["--config", "nowhere"], "nowhere", "config folder not found"),
]


@pytest.mark.parametrize(("flags", "where", "expected"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_bad_flag_is_one_line_and_exit_2_and_leaves_no_state_folder(refuses, paper_inputs, flags, where, expected):
    given = {"--config": paper_inputs["config"], "--signals": paper_inputs["signals"]}
    flags = [f.replace("{afile}", str(paper_inputs["afile"])) for f in flags]
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        given[flag] = value
    args = ["paper", "--once", "--state", "st", "--out", "out", *(x for pair in given.items() for x in pair)]
    refuses(args, where, expected)


def test_paper_without_signals_is_refused_before_anything_is_made(refuses, paper_inputs):
    refuses(["paper", "--once", "--config", paper_inputs["config"], "--state", "st", "--out", "out"], "--signals")


def test_a_refused_session_removes_the_state_folder_it_created_and_keeps_one_that_existed(
    make_config_dir, paper_inputs, tmp_path
):
    from typer.testing import CliRunner

    from spine.cli import app
    from spine.gateway import GatewaySettings, GatewayThread

    other_account = make_config_dir(
        {"config.yaml": PAPER, "trading_config.yaml": {"trading.execution.paper_account": "DU9999999"}}
    )
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("kept\n")
    prices = Path(__file__).resolve().parents[3] / "data" / "sample" / "prices"
    with GatewayThread(GatewaySettings(data=(prices,), port=0, start="2023-11-17")) as gw:
        for state in (tmp_path / "fresh", existing):
            args = ["paper", "--once", "--config", other_account, "--signals", paper_inputs["signals"], "--state", state,
                    "--out", tmp_path / "out", "--port", gw.port]  # fmt: skip
            result = CliRunner().invoke(app, [str(a) for a in args])
            assert result.exit_code == 2, result.output
            assert "is not managed by this login" in result.output
    assert not (tmp_path / "fresh").exists()
    assert (existing / "notes.txt").read_text() == "kept\n"
    assert not (tmp_path / "out").exists()


def test_a_state_folder_another_session_holds_is_never_removed_after_a_failed_start(tmp_path):
    from spine.cli.paper import _remove_unused_state
    from spine.safety.state_lock import StateLock

    state = tmp_path / "state"  # made by a session that started at the same moment and holds its lock
    with StateLock.hold(state, "spine paper"):
        _remove_unused_state(state, True)
        assert (state / "session.lock").is_file()
    _remove_unused_state(state, True)  # once nobody holds it and it records nothing, it goes
    assert not state.exists()


def test_a_damaged_journal_in_an_existing_state_folder_is_refused_and_nothing_is_made_beside_it(paper_inputs, tmp_path):
    from typer.testing import CliRunner

    from spine.cli import app

    state = tmp_path / "state"
    state.mkdir()
    (state / "ib_journal.sqlite3").write_bytes(b"not a database at all" * 64)
    args = ["paper", "--once", "--config", paper_inputs["config"], "--signals", paper_inputs["signals"],
            "--state", state, "--out", tmp_path / "out"]  # fmt: skip
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "ib_journal.sqlite3" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in state.iterdir()) == ["ib_journal.sqlite3"]
    assert not (tmp_path / "out").exists()
