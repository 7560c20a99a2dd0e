"""Every single-bit flip of the latch pages of a state database: how many keep the latch, how many refuse.

Builds a state folder whose breaker is tripped and whose kill switch is active, then, for
each of the two latch pages (the breaker's and the kill switch's table pages) and every
bit of every byte, writes the flipped database beside the untouched marker and opens it
as a session would (``StateStore.open_folder``). Counts three outcomes: still latched,
refused (``SafetyError``), opened unlatched (must be 0). Prints the counts and exits 0;
``tests/spine/safety/test_state_marker.py`` runs a stratified subset of the same flips.

    python benchmarks/latch_bit_flips.py [--stride 1] [--scratch /dev/shm]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from spine.core.errors import SafetyError
from spine.safety.state_marker import MARKER_FILE
from spine.safety.state_store import STATE_FILE, StateStore


def latched_state(folder: Path) -> Path:
    with StateStore.in_folder(folder) as store:
        store.record_nav("2023-04-21", 100.0)
        store.trip_breaker("2023-04-24", "drawdown", "1-day drawdown -6.67%")
        store.set_kill_switch("2023-04-24", "manual", "fat finger")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=1, help="flip every bit of every N-th byte (1 = all)")
    parser.add_argument("--scratch", default="/dev/shm" if Path("/dev/shm").is_dir() else None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(dir=args.scratch, prefix="spine-latch-flips-"))
    try:
        source = latched_state(root / "source")
        data = (source / STATE_FILE).read_bytes()
        marker = (source / MARKER_FILE).read_bytes()
        with sqlite3.connect(source / STATE_FILE) as conn:
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            pages = dict(
                conn.execute("SELECT name, rootpage FROM sqlite_master WHERE name IN ('breaker', 'kill_switch')")
            )
        conn.close()
        work = root / "work"
        work.mkdir()
        started = time.perf_counter()
        for name, page in sorted(pages.items()):
            counts = {"latched": 0, "refused": 0, "unlatched": 0, "other error": 0}
            start = (page - 1) * size
            for offset in range(start, start + size, args.stride):
                for bit in range(8):
                    flipped = bytearray(data)
                    flipped[offset] ^= 1 << bit
                    (work / STATE_FILE).write_bytes(flipped)
                    (work / MARKER_FILE).write_bytes(marker)
                    for leftover in work.glob(f"{STATE_FILE}-*"):
                        leftover.unlink()
                    try:
                        with StateStore.open_folder(work, create=False) as store:
                            latched = store.breaker_latch().tripped and store.kill_switch().active
                    except SafetyError:
                        counts["refused"] += 1
                        continue
                    except Exception as exc:  # noqa: BLE001 - counted: a traceback is a defect too
                        counts["other error"] += 1
                        print(f"{name} offset {offset} bit {bit}: {exc.__class__.__name__}: {exc}")
                        continue
                    counts["latched" if latched else "unlatched"] += 1
                    if not latched:
                        print(f"UNLATCHED: {name} page, file offset {offset} bit {bit}")
            total = sum(counts.values())
            print(f"{name} page {page}: {total} flips: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        print(f"{time.perf_counter() - started:.1f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
