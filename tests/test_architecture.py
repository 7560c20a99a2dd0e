"""The shape of the tree: every module imports alone, every test file collects alone, no import circle, public names in ``__all__``."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = ("spine", "brokers", "analyzers", "strategies")
# the names the README documents, by the module a user imports them from
PUBLIC_NAMES = {
    "strategies": ("SignalStrategy", "LiquiditySizer", "RiskManager", "LiveSignal"),
    "brokers": ("SimBroker", "IBBroker", "GatedBroker", "RiskGate"),
    "analyzers": ("CircuitBreaker", "DrawdownBreaker", "KillSwitch", "RunRecorder"),
    "spine.config": ("load_config", "SpineConfig"),
    "spine.ib": ("AccountMonitor", "OrderDispatcher"),
    "spine.cli": ("main", "app"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(p) for root in ROOTS for p in (REPO / root).rglob("*.py") if p.name != "__main__.py")
PACKAGES = sorted(_module_name(p) for root in ROOTS for p in (REPO / root).rglob("__init__.py"))
TEST_FILES = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").rglob("test_*.py"))


def _run_all(commands: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every command in its own fresh interpreter, as many at once as there are cores."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONDONTWRITEBYTECODE": "1"}

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(commands, pool.map(run, commands.values()), strict=True))


@cache
def _imports_alone() -> dict[str, subprocess.CompletedProcess[str]]:
    return _run_all({module: [sys.executable, "-c", f"import {module}"] for module in MODULES})


# Collecting a test file costs mostly the third-party imports (pandas, Backtrader, ib_async...). A
# parent that has imported those, and nothing of this repository, forks one child per test file:
# each child imports the repository's modules and the test file afresh, as a lone collection does.
_COLLECT_EACH_ALONE = """
import json, os, sys, tempfile
os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the plugins are not what a test file needs to collect
import backtrader, ib_async, matplotlib, numpy, pandas, pydantic, pytest, typer, yaml
results = {}
for path in sys.argv[1:]:
    log = tempfile.TemporaryFile(mode="w+")
    pid = os.fork()
    if pid == 0:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        os._exit(int(pytest.main(["--collect-only", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", path])))
    _, status = os.waitpid(pid, 0)
    log.seek(0)
    results[path] = [os.waitstatus_to_exitcode(status), log.read()[-2000:]]
print(json.dumps(results))
"""


@cache
def _collections_alone() -> dict[str, tuple[int, str]]:
    cores = os.cpu_count() or 2
    shares = {f"share {n}": [sys.executable, "-c", _COLLECT_EACH_ALONE, *TEST_FILES[n::cores]] for n in range(cores)}
    results: dict[str, tuple[int, str]] = {}
    for share, done in _run_all(shares).items():
        assert done.returncode == 0, f"{share}: {done.stderr[-2000:]}"
        results.update({path: (code, log) for path, (code, log) in json.loads(done.stdout.splitlines()[-1]).items()})
    return results


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    done = _imports_alone()[module]
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("path", TEST_FILES)
def test_test_file_collects_alone(path: str) -> None:
    code, log = _collections_alone()[path]
    assert code == 0, log


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_another_that_imports_it_back() -> None:
    """Counted over every import: module level, inside functions and under ``TYPE_CHECKING`` alike."""
    graph = grimp.build_graph(*ROOTS, exclude_type_checking_imports=False)
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    # a module importing a sibling also runs its package's __init__, which is not a circle of modules
    parents = {module: {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)} for module in edges}
    edges = {module: targets - parents[module] for module, targets in edges.items()}
    assert _cycles(edges) == []


def test_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(("module", "names"), sorted(PUBLIC_NAMES.items()))
def test_documented_names_import_and_are_public(module: str, names: tuple[str, ...]) -> None:
    public = importlib.import_module(module).__all__
    assert [name for name in names if name not in public] == []


@pytest.mark.parametrize("package", PACKAGES)
def test_package_declares_a_sorted_all_of_names_it_holds(package: str) -> None:
    module = importlib.import_module(package)
    public = getattr(module, "__all__", None)
    assert public is not None, f"{package} has no __all__"
    assert list(public) == sorted(public, key=lambda name: (not name.isupper(), not name[:1].isupper(), name))
    assert [name for name in public if not hasattr(module, name)] == []


@pytest.mark.parametrize("package", PACKAGES)
def test_package_docstring_maps_its_modules(package: str) -> None:
    module = importlib.import_module(package)
    folder = Path(module.__file__).parent
    children = sorted(
        p.stem if p.is_file() else p.name
        for p in folder.iterdir()
        if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").is_file()
    )
    doc = module.__doc__ or ""
    assert [child for child in children if child not in doc] == []
