"""Wall time of a warm ``make demo`` and of ``spine --help`` / ``spine check``, each in a fresh interpreter.

Each command runs as ``make demo`` runs it (the ``spine`` entry point, ``spine.cli:main``),
here as ``python -m spine.cli ...`` with ``PYTHONPATH`` set to the checkout under test, so
``--before DIR`` (e.g. ``git archive <commit> | tar -x -C DIR``) times the older code with
the same interpreter and libraries, interleaved with this checkout: the two trees alternate
run by run, so a load change on this shared machine hits both alike. One untimed warm-up
run of each command comes first (byte-compiles the tree into ``__pycache__`` even when
``PYTHONDONTWRITEBYTECODE`` is set, and fills the page cache: "warm", as a second ``make demo``).

    python benchmarks/bench_demo.py [--repeat 5] [--before DIR] [--commands backtest help check]

A benchmark, not a test: it prints the medians, the min-max and the load average, and
exits 0 whether or not a target is met.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
TARGETS_S = {"backtest": 3.0, "help": 0.4, "check": 0.4}  # warm demo <= 3 s wall; --help and check < 0.4 s CPU
DEMO_CPU_TARGET_S = 2.5  # warm demo <= 2.5 s CPU


def command_args(command: str, out_dir: Path) -> list[str]:
    """The ``spine`` arguments of one timed command (the demo's run folder goes to ``out_dir``)."""
    return {"backtest": ["backtest", "--out", str(out_dir)], "help": ["--help"]}.get(command, [command])


def time_once(tree: Path, command: str, out_dir: Path) -> tuple[float, float]:
    """Seconds of wall and of CPU time (user + system) for one ``spine <command>`` in a fresh interpreter on ``tree``'s code."""
    env = {
        key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"
    }  # warm: byte-code cached, as after `make demo` once
    env["PYTHONPATH"] = str(tree)
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "spine.cli", *command_args(command, out_dir)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # `spine check` exits 1 when trading is blocked (the shipped config)
        raise RuntimeError(f"spine {command} on {tree} failed (exit {done.returncode}):\n{done.stderr}")
    return elapsed, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


Timings = dict[tuple[str, str], list[tuple[float, float]]]  # (tree, command) -> [(wall s, CPU s)]


def measure(trees: dict[str, Path], commands: list[str], repeat: int, scratch: Path) -> Timings:
    """``repeat`` timed runs of every (tree, command), interleaved, after one warm-up of each."""
    times: Timings = {(label, command): [] for label in trees for command in commands}
    for round_ in range(repeat + 1):
        for command in commands:
            for label, tree in trees.items():
                measured = time_once(tree, command, scratch / f"{label}-{round_}")
                if round_:  # round 0 is the warm-up
                    times[(label, command)].append(measured)
    return times


def report(times: Timings, trees: dict[str, Path], commands: list[str], loads: tuple[str, str]) -> str:
    labels = list(trees)
    lines = [f"load average (1, 5, 15 min) at start {loads[0]}, at end {loads[1]}", ""]
    lines.append(
        "| command | " + " | ".join(f"{label}: wall median (min-max), CPU median" for label in labels) + " | target |"
    )
    lines.append("|---|" + "---|" * len(labels) + "---|")
    for command in commands:
        cells = []
        for label in labels:
            walls = [wall for wall, _ in times[(label, command)]]
            cpu = statistics.median(cpu for _, cpu in times[(label, command)])
            cells.append(f"{statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}), CPU {cpu:.2f} s")
        wall = statistics.median(w for w, _ in times[(labels[0], command)])
        cpu = statistics.median(c for _, c in times[(labels[0], command)])
        if command == "backtest":
            ok = wall <= TARGETS_S[command] and cpu <= DEMO_CPU_TARGET_S
            target = f"<= {TARGETS_S[command]:g} s wall (idle machine), <= {DEMO_CPU_TARGET_S:g} s CPU"
        else:
            ok, target = cpu < TARGETS_S[command], f"< {TARGETS_S[command]:g} s CPU"
        lines.append(
            f"| `spine {' '.join(command_args(command, Path('DIR'))).replace(' --out DIR', '')}` | "
            + " | ".join(cells)
            + f" | {target}: {'met' if ok else 'missed'} |"
        )
    return "\n".join(lines)


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each command per tree (after one warm-up)")
    parser.add_argument(
        "--before", type=Path, default=None, help="another checkout (the code before a change), interleaved"
    )
    parser.add_argument(
        "--commands", nargs="+", default=list(TARGETS_S), choices=list(TARGETS_S), help="which commands to time"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    trees = {"this checkout": HERE}
    if args.before is not None:
        if not ((args.before / "spine" / "cli.py").is_file() or (args.before / "spine" / "cli").is_dir()):
            parser.error(f"--before {args.before}: no spine/cli there")
        trees["before"] = args.before.resolve()
    start_load = _load()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as scratch:
        times = measure(trees, args.commands, args.repeat, Path(scratch))
    print(report(times, trees, args.commands, (start_load, _load())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
