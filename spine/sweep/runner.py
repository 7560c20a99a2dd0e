"""``run_sweep``: plan the sweep, start or join a Dask cluster, run the trials, write the folder.

The driver owns the search and the bookkeeping; workers only run ``run_trial`` on a
parameter dict. The data is loaded and validated once in the driver, then scattered to
every worker once (``broadcast=True``): each task carries its parameters and window,
never data or Backtrader objects. At most as many tasks are in flight as the cluster
has threads, so a TPE search (one trial per task) is told each result before it is asked
for the next set. A grid or random search sends its trials in batches (``batch_size``):
a worker runs several trials per task, one after the other, which saves the round trip
through the scheduler and the driver between them. A worker that dies takes its task
with it: a batch's trials are each sent again alone, and a trial whose worker dies while
it runs alone is a "crashed" row.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

from spine.core.errors import InputError
from spine.sweep.cluster import dashboard_available, open_client
from spine.sweep.keep import keep_runs
from spine.sweep.outputs import write_outputs
from spine.sweep.plan import SweepPlan, SweepRequest, plan_sweep
from spine.sweep.results import best_row, outcome_row
from spine.sweep.sweep_folder import SweepFolder, new_sweep_folder, resume_sweep_folder
from spine.sweep.trial import SharedInputs, run_trials, trial_key
from spine.sweep.walk_forward import Fold


@dataclass
class SweepResult:
    folder: Path
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    # wall seconds by phase, for benchmarks: "cluster" (start or join, workers warmed),
    # "scatter" (folder and data, to the first submit), "trials" (first submit to last
    # result), "close" (the cluster), "outputs" (results, heat maps, the folder renamed);
    # "driver_cpu": CPU seconds of this process during "trials" (the driver, and for a
    # LocalCluster its scheduler and nannies, which share the cores with the workers)
    phases: dict[str, float] = field(default_factory=dict)
    kept: list[Path] = field(default_factory=list)  # --keep: the kept trials' full run folders


class SweepProgress(Protocol):
    """What the driver reports while it runs (the CLI draws a rich progress bar)."""

    def info(self, text: str) -> None: ...
    def start(self, total: int, done: int) -> None: ...
    def advance(self, status: str) -> None: ...


class _Quiet:
    def info(self, text: str) -> None:
        pass

    def start(self, total: int, done: int) -> None:
        pass

    def advance(self, status: str) -> None:
        pass


@dataclass
class _Book:
    """Every finished trial of this sweep, by key, in the order they were settled."""

    folder: SweepFolder
    objective: str
    objective_columns: tuple[str, ...]
    previous: dict[str, dict[str, Any]]
    progress: SweepProgress
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    checked_objective: bool = False

    def settle(self, task: dict[str, Any], outcome: dict[str, Any], *, fresh: bool) -> dict[str, Any]:
        row = outcome_row(task, outcome, self.objective_columns)
        if row["status"] == "ok" and not self.checked_objective:
            if not any(column in row for column in self.objective_columns):
                numeric = sorted(k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
                raise InputError(
                    f"objective {self.objective!r} is not a statistic of the run summary; expected one of: {', '.join(numeric)}"
                )
            self.checked_objective = True
        if fresh:
            self.folder.append(task, outcome)
        self.progress.advance(row["status"] if fresh else "resumed")
        self.rows[task["key"]] = row
        self.outcomes[task["key"]] = outcome
        return row


BATCHES_PER_THREAD = 4  # a grid's trials go out in about this many tasks per worker thread
MAX_BATCH = 8


def batch_size(trials: int, threads: int) -> int:
    """Trials per task for ``trials`` fixed trials on ``threads`` worker threads.

    Several per task cut the scheduler round trip between trials; about
    ``BATCHES_PER_THREAD`` tasks per thread keep the workers evenly loaded to the end,
    and at most ``MAX_BATCH`` trials per task bound what one dead worker takes with it.
    """
    return max(1, min(MAX_BATCH, math.ceil(trials / (max(1, threads) * BATCHES_PER_THREAD))))


class _Executor:
    """Keeps the cluster's threads busy with tasks from a source: one task per thread, each of one or more trials.

    A task whose worker died is sent again as one task per trial; a single trial whose
    worker died is a crashed row. A task that never ran because the scattered data died
    with every worker that held it is not its trials' fault: the data is scattered again
    and the task is sent once more.
    """

    def __init__(
        self, client: Any, shared: SharedInputs, book: _Book, *, work: Callable[..., Any] = run_trials
    ) -> None:
        self.client, self.shared, self.book, self.work = client, shared, book, work  # work(shared, tasks) -> outcomes
        self.shared_future = client.scatter(shared, broadcast=True, hash=False)
        self.resent: set[str] = set()
        self.first_submit: float | None = None
        self.last_result: float | None = None
        self.cpu_marks: list[float] = []  # this process's CPU seconds at the first submit and the last result

    def _data(self, *, check: bool = False) -> Any:
        """The scattered data; scattered again if every worker holding it died."""
        lost = self.shared_future.status != "finished" or (
            check and not self.client.who_has(self.shared_future).get(self.shared_future.key)
        )
        if lost:
            self.shared_future.release()
            self.client.wait_for_workers(1, timeout=120)
            self.shared_future = self.client.scatter(self.shared, broadcast=True, hash=False)
        return self.shared_future

    def close(self) -> None:
        self.shared_future.release()

    def slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def _submit(self, batch: list[dict[str, Any]], *, check: bool = False) -> Any:
        if self.first_submit is None:
            self.first_submit, self.cpu_marks = time.perf_counter(), [time.process_time()]
        return self.client.submit(
            self.work,
            self._data(check=check),
            batch,
            key=f"spine-trial-{batch[0]['key']}-{uuid.uuid4().hex[:6]}",
            pure=False,
            retries=0,
        )

    def _next_batch(
        self, tasks: Iterator[dict[str, Any]], size: int, on_row: Callable[..., None] | None
    ) -> list[dict[str, Any]]:
        """Up to ``size`` tasks still to run; those finished in the journal are settled on the way."""
        batch: list[dict[str, Any]] = []
        while len(batch) < size:
            task = next(tasks, None)
            if task is None:
                break
            previous = self.book.previous.get(task["key"])
            if previous is not None:
                row = self.book.settle(task, previous, fresh=False)
                if on_row:
                    on_row(task, row)
                continue
            batch.append(task)
        return batch

    def run(
        self,
        tasks: Iterator[dict[str, Any]],
        on_row: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
        *,
        batch: int = 1,
    ) -> None:
        from distributed import as_completed

        running: dict[Any, list[dict[str, Any]]] = {}
        retry: list[list[dict[str, Any]]] = []  # the trials of a lost batch, one task each
        queue = as_completed()
        exhausted = False
        while True:
            while len(running) < self.slots() and (retry or not exhausted):
                sent = retry.pop(0) if retry else self._next_batch(tasks, batch, on_row)
                if not sent:
                    exhausted = True
                    break
                future = self._submit(sent)
                running[future] = sent
                queue.add(future)
            if not running:
                return
            future = next(queue)
            sent = running.pop(future)
            outcomes = self._outcomes(future, sent)
            self.last_result = time.perf_counter()
            self.cpu_marks[1:] = [time.process_time()]
            if outcomes is None:  # its data was lost before it ran: send it again, once
                self.resent.update(task["key"] for task in sent)
                future = self._submit(sent, check=True)
                running[future] = sent
                queue.add(future)
                continue
            if outcomes == "split":  # its worker died: each trial again, alone
                retry.extend([task] for task in sent)
                continue
            for task, outcome in zip(sent, outcomes, strict=True):
                row = self.book.settle(task, outcome, fresh=True)
                if on_row:
                    on_row(task, row)

    def _outcomes(self, future: Any, sent: list[dict[str, Any]]) -> list[dict[str, Any]] | str | None:
        """The task's outcomes; ``"split"`` to send a lost batch's trials again alone; None to send it again."""
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            if len(sent) > 1:
                return "split"
            return [_crashed(sent[0], f"KilledWorker: worker lost while running the trial ({exc})")]
        except Exception as exc:  # noqa: BLE001 - run_trial catches trial errors, so this is the cluster
            if not all(task["key"] in self.resent for task in sent):
                return None
            if len(sent) > 1:
                return "split"
            return [_crashed(sent[0], f"{type(exc).__name__}: worker lost while running the trial ({exc})")]
        finally:
            future.release()


def _crashed(task: dict[str, Any], error: str) -> dict[str, Any]:
    return {"key": task["key"], "status": "crashed", "error": error, "duration_seconds": None}


def _task(
    plan: SweepPlan, trial: int, params: dict[str, Any], *, fold: Fold | None, phase: str, search: str
) -> dict[str, Any]:
    start = end = None
    if fold is not None:
        start, end = (fold.train_start, fold.train_end) if phase == "train" else (fold.test_start, fold.test_end)
        start, end = start.isoformat(), end.isoformat()
    index = None if fold is None else fold.index
    return {
        "key": trial_key(params, index, phase, start, end, plan.fingerprint),
        "trial": trial,
        "fold": index,
        "phase": phase,
        "start": start,
        "end": end,
        "params": params,
        "search": search,
        "keep_equity": phase == "test",
    }


class _TpeSource:
    """The tasks of one TPE study: the budget left after the journal's trials, told as they finish."""

    def __init__(self, plan: SweepPlan, folder: SweepFolder, book: _Book, fold: Fold | None, phase: str) -> None:
        from spine.sweep.tpe import TpeSearch

        self.plan, self.fold, self.phase = plan, fold, phase
        self.search = TpeSearch(plan.spec, folder.work, f"fold-{fold.index}" if fold is not None else "sweep")
        index = None if fold is None else fold.index
        earlier = [
            (t, o)
            for t, o in folder.records()
            if t.get("search") == "tpe"
            and t.get("fold") == index
            and t.get("phase") == phase
            and o["status"] in ("ok", "error")
        ]
        for task, outcome in earlier:
            book.settle(task, outcome, fresh=False)
        self.budget = max(0, (plan.spec.trials or 0) - len(earlier))

    def tasks(self) -> Iterator[dict[str, Any]]:
        for _ in range(self.budget):
            number, params = self.search.ask()
            yield _task(self.plan, number, params, fold=self.fold, phase=self.phase, search="tpe")

    def tell(self, task: dict[str, Any], row: dict[str, Any]) -> None:
        self.search.tell(task["trial"], row["status"], row.get("objective"))


def _train_or_full(
    plan: SweepPlan, folder: SweepFolder, book: _Book, executor: _Executor, fold: Fold | None
) -> list[dict[str, Any]]:
    """Run one search (the whole sweep, or one fold's in-sample part); return its rows."""
    phase = "full" if fold is None else "train"
    if plan.spec.search == "tpe":
        source = _TpeSource(plan, folder, book, fold, phase)
        executor.run(source.tasks(), on_row=source.tell)
    else:
        tasks = [_task(plan, n, params, fold=fold, phase=phase, search=plan.spec.search) for n, params in enumerate(plan.points)]  # fmt: skip
        pending = sum(1 for task in tasks if task["key"] not in book.previous)
        executor.run(iter(tasks), batch=batch_size(pending, executor.slots()))
    index = None if fold is None else fold.index
    return [r for r in book.rows.values() if r["phase"] == phase and r["fold"] == index]


def _total(plan: SweepPlan) -> int:
    per_search = plan.spec.trials if plan.spec.search == "tpe" else len(plan.points)
    per_search = per_search or 0
    return per_search if not plan.folds else len(plan.folds) * (per_search + 1)


def run_sweep(request: SweepRequest, *, progress: SweepProgress | None = None) -> SweepResult:
    """Run the sweep and return its finished folder, rows and summary.

    Input is checked, and the cluster reached, before the sweep folder is made: bad input
    or an unreachable scheduler leaves nothing behind.
    """
    progress = progress or _Quiet()
    plan = plan_sweep(request)
    for line in start_notices(plan, request):
        progress.info(line)
    resumed = resume_sweep_folder(request.resume) if request.resume is not None else None
    started = time.perf_counter()
    with open_client(request.scheduler, request.workers) as client:
        from spine.sweep.warm import WarmWorker

        client.register_plugin(WarmWorker())  # every worker, and any that joins later, imports the trial's modules now
        warmed = time.perf_counter()
        where = (
            request.scheduler
            or f"LocalCluster of {len(client.nthreads())} worker processes, 1 thread each, at {client.scheduler.address}"
        )
        progress.info(f"cluster: {where}")
        if dashboard_available() and getattr(client, "dashboard_link", None):
            progress.info(f"dashboard: {client.dashboard_link}")
        folder = resumed or new_sweep_folder(request.out_dir, request.name)
        progress.info(f"sweep folder (in progress): {folder.work}")
        book = _Book(
            folder=folder,
            objective=plan.spec.objective,
            objective_columns=plan.spec.objective_columns,
            previous=folder.done(),
            progress=progress,
        )
        if book.previous:
            progress.info(f"resuming: {len(book.previous)} finished trial(s) in the journal are not run again")
        try:
            (folder.work / "sweep.yaml").write_text(request.spec_path.read_text(encoding="utf-8"), encoding="utf-8")
            progress.start(_total(plan), 0)
            executor = _Executor(client, plan.shared, book)
            if not plan.folds:
                _train_or_full(plan, folder, book, executor, None)
            else:
                tests = []
                for fold in plan.folds:
                    best = best_row(
                        _train_or_full(plan, folder, book, executor, fold), maximize=plan.spec.direction == "maximize"
                    )
                    if best is not None:  # out of sample runs only what the in-sample search chose
                        params = {name: best[name] for name in plan.spec.names}
                        tests.append(
                            _task(plan, best["trial"], params, fold=fold, phase="test", search=plan.spec.search)
                        )
                executor.run(iter(tests))
            executor.close()
        except InputError:
            folder.discard()
            raise
    closed = time.perf_counter()
    rows = list(book.rows.values())
    summary = write_outputs(
        folder.work, rows, book.outcomes, plan=plan, request=request, duration_seconds=time.perf_counter() - started
    )
    finished = folder.finish()
    kept = keep_runs(finished, rows, plan.shared, plan.spec.names, keep=request.keep,
                     maximize=plan.spec.direction == "maximize", benchmark=request.benchmark, say=progress.info)  # fmt: skip
    marks = (
        started,
        warmed,
        executor.first_submit or warmed,
        executor.last_result or warmed,
        closed,
        time.perf_counter(),
    )
    phases = {
        name: round(end - begin, 3)
        for name, (begin, end) in zip(
            ("cluster", "scatter", "trials", "close", "outputs"), pairwise(marks), strict=True
        )
    }
    phases["driver_cpu"] = round(executor.cpu_marks[-1] - executor.cpu_marks[0], 3) if executor.cpu_marks else 0.0
    return SweepResult(folder=finished, rows=rows, summary=summary, phases=phases, kept=kept)


def start_notices(plan: SweepPlan, request: SweepRequest) -> list[str]:
    """The lines a backtest prints before it runs, for the sweep's base data: a VIX trigger that is off."""
    from spine.routes.backtest import BacktestRequest, vix_fix, vix_trigger_status

    inputs = plan.shared.inputs
    status = vix_trigger_status(plan.shared.config, inputs, inputs.vix_path)
    if not status.startswith("off: no VIX"):
        return []
    fix = vix_fix(BacktestRequest(config=plan.shared.config, data=request.data), inputs.vix_path)
    return [f"warning: VIX kill-switch trigger is {status} in every trial; {fix}"]
