"""A non-editable install finds the shipped config and the bundled sample.

The package is built into a wheel and installed, without dependencies, into a fresh
venv whose only other packages are the test venv's (a ``.pth`` line), so no index is
needed and it takes seconds. ``spine check`` and ``spine backtest`` then run from an
unrelated directory, so nothing can come from the source checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("setup.cfg", "pyproject.toml", "README.md", "spine", "strategies", "brokers", "analyzers", "config")


def _pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        capture_output=True,
        text=True,
    )


def test_a_wheel_installed_into_a_fresh_venv_runs_check_and_backtest_from_an_unrelated_directory(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in SHIPPED:
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, source / name)
    shutil.copytree(REPO / "data" / "sample", source / "data" / "sample")
    for cache in source.rglob("__pycache__"):
        shutil.rmtree(cache)
    _pip(
        Path(sys.executable), "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheels"), str(source)
    )
    wheel = next((tmp_path / "wheels").glob("spine-*.whl"))

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    target = Path(sysconfig.get_paths(vars={"base": str(env), "platbase": str(env)})["purelib"])
    (target / "test_venv_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = env / "bin" / "python"
    _pip(python, "install", "--no-deps", "--no-index", str(wheel))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = subprocess.run(
        [str(env / "bin" / "spine"), "check"], check=False, cwd=elsewhere, capture_output=True, text=True
    )
    assert check.stdout.splitlines()[0] == "route: disabled", check.stderr
    run = subprocess.run(
        [str(env / "bin" / "spine"), "backtest", "--end", "2021-06-30"],
        check=False,
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    run_dir = elsewhere / run.stdout.strip().splitlines()[-1]
    assert (run_dir / "orders.csv").is_file() and (run_dir / "config" / "sectors.yaml").is_file()
    where = subprocess.run(
        [str(python), "-c", "import spine; print(spine.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(REPO) not in where.stdout
