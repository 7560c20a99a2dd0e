"""``spine rehearse`` against ``spine backtest`` on the same window: simulated days per second and the ratio.

Both routes run as a user runs them (``python -m spine.cli backtest|rehearse``), each in a
fresh interpreter, on one config opened for paper as the parity tests open it (the
backtest under the same top-level limits), interleaved run by run and reversed every
other repetition. The figures are the routes' own simulation times from ``summary.json``
(``elapsed_seconds``: ``cerebro.run()``; for a rehearsal that includes every lockstep
barrier with the simulator), the process's wall and CPU time beside them.

Windows (``--window``, repeatable):

- ``sample``: the whole bundled sample (734 trading days) with its VIX.
- ``sample-year``: the bundled sample's first year of trading.
- ``real``: NVDA, ORCL and YHOO from ``../shared/data`` for 2008-2010 (3 years) with the
  daily VIX, and a signal file made here (one signal per ticker every 6 days). Its config
  also sets the kill switch's and the breaker's thresholds past what these years reach
  (``KEEPS_TRADING``), so it sends orders in all three years, not only until the first latch.

``--before DIR`` also runs the rehearsal of another tree (``git archive <commit> | tar -x -C
DIR``), interleaved; ``--keep DIR`` keeps every run folder, so ``orders.csv``, ``fills.csv``,
``equity.csv`` and ``events.csv`` can be compared between trees and runs.

    python benchmarks/bench_rehearse.py [--window sample] [--repeat 3] [--before DIR] [--keep DIR]

A benchmark, not a test: it prints the medians and the load average and exits 0 whether
or not the 10x target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent.parent
SHARED = HERE.parent / "shared" / "data"
TARGET_RATIO = 10.0
PAPER = {  # the envelope opened for paper, as tests/spine/routes/test_rehearse_parity.py opens it
    "broker.mode": "paper",
    "broker.execution_enabled": True,
    "compliance.research_only_override": True,
    "risk.max_notional": 50_000,
    "risk.max_daily_loss": 10_000,
    "risk.max_sector_exposure": 0.6,
    "risk.max_positions": 10,
    "risk.max_price_deviation_pct": 0.1,
    "risk.max_orders_per_minute": 60,
    "backtest.risk": None,
    "backtest.max_drawdown_pct": -0.15,
    "kill_switch.max_drawdown_pct": 0.15,
}
# The real window also keeps trading through 2008-2010: with the limits above, the 1-day drawdown breaker
# latches in January 2008 and the VIX kill switch in September 2008, and every later signal is refused
# (HALTED), so the window would time a rehearsal that sends orders on 2 of its 758 days. Every safety
# component still runs; only its thresholds are set past what these three years reach.
KEEPS_TRADING = {
    "config.yaml": {"kill_switch.vix_threshold": 100.0, "kill_switch.max_drawdown_pct": 0.9,
                    "backtest.max_drawdown_pct": -0.9},
    "strategy_params.yaml": {"circuit_breaker.max_1d_drawdown_pct": 0.5},
}  # fmt: skip


@dataclass(frozen=True)
class Window:
    name: str
    data: tuple[Path, ...]
    signals: Path
    vix: Path
    start: str
    end: str | None
    config: dict[str, dict[str, object]] | None = None  # overrides per config file, on top of PAPER


def paper_config(folder: Path, overrides: dict[str, dict[str, object]] | None = None) -> Path:
    """The shipped config with the envelope opened for paper (a key set to None is removed), then ``overrides``.

    ``overrides`` maps a file of the config folder to its dotted keys and values.
    """
    shutil.copytree(HERE / "config", folder)
    files: dict[str, dict[str, object]] = {"config.yaml": dict(PAPER)}
    for name, values in (overrides or {}).items():
        files[name] = {**files.get(name, {}), **values}
    for name, values in files.items():
        path = folder / name
        body = yaml.safe_load(path.read_text()) or {}
        for dotted, value in values.items():
            *parents, leaf = dotted.split(".")
            node = body
            for key in parents:
                node = node.setdefault(key, {})
            if value is None:
                node.pop(leaf, None)
            else:
                node[leaf] = value
        path.write_text(yaml.safe_dump(body, sort_keys=False))
    return folder


def real_signals(path: Path, start: str, end: str, shared: Path = SHARED) -> Path:
    """One signal per ticker every 6 trading days, alternating sides, a third propagated."""
    import csv

    rows = []
    for ticker, other, name in (("NVDA", "ORCL", "nvda-1999-2014.csv"), ("ORCL", "YHOO", "orcl-1995-2014.csv"),
                                ("YHOO", "NVDA", "yhoo-1996-2014.csv")):  # fmt: skip
        with (shared / name).open() as handle:
            days = [r["Date"] for r in csv.DictReader(handle) if start <= r["Date"] <= end]
        for n, day in enumerate(days[::6]):
            side = "BUY" if (n // 2) % 2 == 0 else "SELL"
            kind = "propagated" if n % 3 == 0 else "direct"
            weight = 0.0 if n % 5 == 4 else 0.2
            rows.append(f"{day},{ticker},{weight},{side},{kind},{other if kind == 'propagated' else ticker}")
    path.write_text("datetime,ticker,weight,direction,source_type,source_ticker\n" + "\n".join(sorted(rows)) + "\n")
    return path


def windows(scratch: Path, shared: Path = SHARED) -> dict[str, Window]:
    sample = HERE / "data" / "sample"
    out = {
        "sample": Window(
            "sample", (sample / "prices",), sample / "signals.csv", sample / "vix.csv", "2021-01-26", None
        ),
        "sample-year": Window(
            "sample-year", (sample / "prices",), sample / "signals.csv", sample / "vix.csv", "2021-01-26", "2021-12-31"
        ),  # fmt: skip
    }
    if shared.is_dir():
        files = tuple(shared / n for n in ("nvda-1999-2014.csv", "orcl-1995-2014.csv", "yhoo-1996-2014.csv"))
        signals = real_signals(scratch / "real-signals.csv", "2008-01-02", "2010-12-31", shared)
        out["real"] = Window(
            "real", files, signals, shared / "vix-daily.csv", "2008-01-02", "2010-12-31", KEEPS_TRADING
        )
    return out


def route_args(route: str, window: Window, config: Path, out: Path) -> list[str]:
    args = [route, "--config", str(config), "--signals", str(window.signals), "--vix", str(window.vix)]
    for path in window.data:
        args += ["--data", str(path)]
    args += ["--start", window.start, "--out", str(out)]
    if window.end is not None:
        args += ["--end", window.end]
    return args


@dataclass(frozen=True)
class Run:
    elapsed: float  # summary.json elapsed_seconds: the simulation
    wall: float
    cpu: float
    days: int
    folder: Path


def run_once(tree: Path, route: str, window: Window, config: Path, out: Path) -> Run:
    env = child_env()
    env["PYTHONPATH"] = str(tree)
    out.mkdir(parents=True, exist_ok=True)
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "spine.cli", *route_args(route, window, config, out)], cwd=tree,
                          env=env, capture_output=True, text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    if done.returncode != 0 or not folders:
        raise RuntimeError(f"spine {route} on {tree} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    folder = folders[-1]
    summary = json.loads((folder / "summary.json").read_text())
    with (folder / "equity.csv").open() as handle:
        days = sum(1 for _ in handle) - 1
    return Run(float(summary["elapsed_seconds"]), wall, cpu, days, folder)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_env() -> dict[str, str]:
    """This process's environment for a route's child, writing bytecode as a user's run would."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", action="append", choices=["sample", "sample-year", "real"],
                        help="window(s) to run (default: sample and real)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each variant")
    parser.add_argument("--before", type=Path, help="another tree whose rehearsal runs interleaved ('rehearse-before')")
    parser.add_argument("--keep", type=Path, help="keep every run folder under this folder")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the real price files (default: ../shared/data)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-rehearse-") as tmp:
        scratch = Path(args.keep) if args.keep else Path(tmp)
        scratch.mkdir(parents=True, exist_ok=True)
        known = windows(scratch, args.shared)
        chosen = args.window or [w for w in ("sample", "real") if w in known]
        if "real" in chosen and "real" not in known:
            parser.error(f"--window real needs the real price files; {args.shared} is not a folder (--shared DIR)")
        variants = [("backtest", HERE, "backtest"), ("rehearse", HERE, "rehearse")]
        if args.before is not None:
            variants.append(("rehearse-before", args.before.resolve(), "rehearse"))
        print(f"load average at start: {load_average()}", flush=True)
        for name in chosen:
            window = known[name]
            folder = scratch / f"config-{name}"  # kept with --keep: the runs' config beside their folders
            config = folder if folder.exists() else paper_config(folder, window.config)
            runs: dict[str, list[Run]] = {label: [] for label, _, _ in variants}
            for k in range(args.repeat):
                order = variants if k % 2 == 0 else variants[::-1]
                for label, tree, route in order:
                    run = run_once(tree, route, window, config, scratch / name / f"{label}-{k}")
                    runs[label].append(run)
                    print(f"  {name} {label} #{k}: simulation {run.elapsed:.2f} s, process {run.wall:.2f} s wall "
                          f"{run.cpu:.2f} s CPU, {run.days} days (load {load_average()})", flush=True)  # fmt: skip
            base = statistics.median(r.elapsed for r in runs["backtest"])
            print(f"\n{name}: {runs['backtest'][0].days} days, medians of {args.repeat}")
            print(f"  {'variant':<16} {'simulation s':>12} {'days/s':>8} {'ratio':>7} {'wall s':>8} {'CPU s':>7}")
            for label, _, _ in variants:
                sim = statistics.median(r.elapsed for r in runs[label])
                days = runs[label][0].days
                wall = statistics.median(r.wall for r in runs[label])
                cpu = statistics.median(r.cpu for r in runs[label])
                print(f"  {label:<16} {sim:>12.2f} {days / sim:>8.1f} {sim / base:>6.1f}x {wall:>8.2f} {cpu:>7.2f}")
            ratio = statistics.median(r.elapsed for r in runs["rehearse"]) / base
            verdict = "met" if ratio <= TARGET_RATIO else "missed"
            print(f"  rehearsal / backtest simulation: {ratio:.1f}x (target <= {TARGET_RATIO:g}x: {verdict})\n")
        print(f"load average at end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
