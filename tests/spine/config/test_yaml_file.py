"""Hardened YAML: every refusal is one ``ConfigError`` naming where; random documents never hang the loaders."""

from __future__ import annotations

import shutil
import signal
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spine.config import load_config, parse_yaml, read_yaml_file
from spine.config.loader import SHIPPED_CONFIG_DIR
from spine.core.errors import ConfigError, SpineError
from spine.sweep.spec import load_sweep_spec


def test_a_key_written_twice_is_refused_naming_both_lines():
    with pytest.raises(
        ConfigError, match=r"^f line 3: risk is written twice \(first at line 1\); expected each key once"
    ):
        parse_yaml("risk:\n  a: 1\nrisk:\n  a: 2\n", "f")


def test_a_key_written_twice_in_a_nested_mapping_names_its_key_path():
    with pytest.raises(ConfigError, match=r"line 3: risk\.max_notional is written twice"):
        parse_yaml("risk:\n  max_notional: 1\n  max_notional: 2\n", "f")


@pytest.mark.parametrize("value", [".inf", "-.inf", ".NaN", "+.Inf"])
def test_a_non_finite_number_is_refused_naming_its_key_path(value):
    with pytest.raises(ConfigError, match=rf"^f line 2: risk\.max_notional = \{value}: expected a finite number$"):
        parse_yaml(f"risk:\n  max_notional: {value}\n", "f")


def test_a_string_that_reads_inf_is_a_string_not_a_number():
    assert parse_yaml("name: '.inf'\n", "f") == {"name": ".inf"}


def test_an_alias_bomb_is_refused_before_it_is_expanded():
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="aliases expand to more than 10,000 values"):
        parse_yaml("\n".join(lines), "f")
    assert time.perf_counter() - started < 1.0


def test_nesting_past_the_limit_is_refused_without_recursing_deep():
    with pytest.raises(ConfigError, match="nested more than 32 levels"):
        parse_yaml("a: " + "[" * 100_000 + "]" * 100_000, "f")


def test_a_python_tag_is_refused_as_not_plain_data():
    with pytest.raises(ConfigError, match=r"^f: not valid YAML at line 1, column 4: .*expected plain YAML data$"):
        parse_yaml("a: !!python/object/apply:os.system [echo]\n", "f")


def test_a_file_that_is_a_folder_is_named_as_one(tmp_path):
    with pytest.raises(ConfigError, match="sweep file a folder"):
        read_yaml_file(tmp_path, "sweep file")


def test_an_empty_config_file_is_said_and_every_default_applies(tmp_path, caplog):
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG_DIR, folder)
    (folder / "config.yaml").write_text("# nothing here\n")
    with caplog.at_level("WARNING", logger="spine.config.loader"):
        config = load_config(folder)
    assert config.broker.mode == "disabled" and config.risk.max_notional == 0
    assert [r.getMessage() for r in caplog.records] == [
        f"note: {folder / 'config.yaml'} is empty: every default of it applies "
        "(broker.mode disabled, zero limits: trading disabled)"
    ]


@pytest.mark.parametrize("text", ["1e400", "'inf'", "Infinity"])
def test_text_that_becomes_a_non_finite_number_is_refused_after_validation(tmp_path, text):
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG_DIR, folder)
    body = (folder / "config.yaml").read_text().replace("max_notional: 50000", f"max_notional: {text}")
    (folder / "config.yaml").write_text(body)
    with pytest.raises(
        ConfigError, match=r"config\.yaml: backtest\.risk\.max_notional = -?inf: expected a finite number"
    ):
        load_config(folder)


def test_a_set_value_of_inf_is_refused_naming_the_assignment(tmp_path):
    with pytest.raises(ConfigError, match=r"risk\.max_notional = inf: expected a finite number"):
        load_config(None, overrides={"risk.max_notional": float("inf")})


# --- random documents: never a hang, never anything but Spine's own error ------------------

TOKENS = [*"[]{}:,-&*!|>'\"#%@`?\n\t ab01.e+", "!!", "<<", "&a ", "*a", ".inf", "---", "  ", "\n- "]
YAMLISH = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


def _document(leaf) -> st.SearchStrategy:
    return st.recursive(
        leaf,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=25,
    )


LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
STRUCTURED = _document(LEAVES).map(lambda d: yaml.safe_dump(d, default_flow_style=None))
KEYED = st.dictionaries(
    st.sampled_from(
        ["strategy.take_profit_atr", "risk", "backtest", "search", "trials", "walk_forward", "objective", "x"]
    ),
    _document(LEAVES),
    max_size=4,
).map(lambda d: yaml.safe_dump(d, default_flow_style=None))
DOCUMENTS = YAMLISH | STRUCTURED | KEYED | st.binary(max_size=120).map(lambda b: b.decode("latin-1"))


class _Hung(Exception):
    pass


def _watchdog(signum, frame):  # pragma: no cover - only on a hang
    raise _Hung("a loader took longer than 5 s")


def _loads_in_time(load, text: str) -> None:
    """``load(text)`` returns or raises a SpineError, within 2 s (a watchdog ends a hang at 5 s)."""
    previous = signal.signal(signal.SIGALRM, _watchdog)
    signal.alarm(5)
    started = time.perf_counter()
    try:
        load(text)
    except SpineError:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert time.perf_counter() - started < 2.0


def test_random_documents_never_hang_the_loaders_nor_raise_anything_but_spines_error(tmp_path, caplog):
    caplog.set_level("ERROR", logger="spine.config.loader")  # an empty document's note, many times over
    config = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG_DIR, config)
    sweep = tmp_path / "sweep.yaml"

    def through_config(text: str) -> None:
        (config / "config.yaml").write_text(text, encoding="utf-8", errors="surrogateescape")
        load_config(config)

    def through_sweep(text: str) -> None:
        sweep.write_text(text, encoding="utf-8", errors="surrogateescape")
        load_sweep_spec(sweep)

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(DOCUMENTS)
    def check(text: str) -> None:
        _loads_in_time(lambda t: parse_yaml(t, "f"), text)
        _loads_in_time(through_config, text)
        _loads_in_time(through_sweep, text)

    check()
