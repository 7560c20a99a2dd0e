"""The generated reference pages (CLI, config keys, run folder, input formats) match the code."""

from __future__ import annotations

import importlib.util
import typing
from pathlib import Path

from pydantic import BaseModel

from spine.config import models

REPO_ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_reference", REPO_ROOT / "docs" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        yield f"{prefix}{name}", field
        for kind in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from _fields(kind, f"{prefix}{name}.")


def test_generated_pages_are_current() -> None:
    stale = [str(path.relative_to(REPO_ROOT)) for path in _generator().stale_pages()]
    assert stale == [], "run: python docs/gen_reference.py"


def test_every_config_key_has_a_description() -> None:
    files = (models.TradingConfigFile, models.StrategyParamsFile, models.EnvelopeFile, models.SectorsFile)
    undescribed = [key for model in files for key, field in _fields(model) if not field.description]
    assert undescribed == []


def test_cli_reference_names_every_command_and_option() -> None:
    import typer

    from spine.cli import app

    page = _generator().cli_page()
    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="spine")
    options = 0
    for name in root.list_commands(ctx):
        _, command, _ = root.resolve_command(ctx, [name])
        assert f"## `spine {name}`" in page
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                options += 1
                section = page.split(f"## `spine {name}`", 1)[1].split("\n## ", 1)[0]
                assert f"`{param.opts[0]}`" in section, (name, param.opts[0])
    assert options >= 40  # backtest, paper, gateway, sweep ... each have several
