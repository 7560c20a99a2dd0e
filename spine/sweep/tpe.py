"""Bayesian search with Optuna's TPE sampler, ask/tell in the driver.

Optuna never runs a trial itself: the driver asks it for a parameter set, sends that
dict to a Dask worker like any other trial, and tells it the objective when the
outcome comes back. The study lives in a journal file inside the sweep folder
(``optuna.journal``, Optuna's ``JournalStorage`` with a file backend), so an
interrupted sweep resumes with the history it had.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spine.sweep.spec import Range, SweepSpec

STORAGE_FILE = "optuna.journal"


class TpeSearch:
    """One Optuna study (per walk-forward fold) that hands out parameter dicts."""

    def __init__(self, spec: SweepSpec, folder: Path, study_name: str) -> None:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.spec = spec
        self._optuna = optuna
        storage = JournalStorage(JournalFileBackend(str(folder / STORAGE_FILE)))
        self.study = optuna.create_study(
            study_name=study_name,
            storage=storage,
            direction=spec.direction,
            sampler=optuna.samplers.TPESampler(seed=spec.seed),
            load_if_exists=True,
        )
        self._pending: dict[str, Any] = {}
        # trials asked before the driver was killed and never told: close them as failed
        for trial in self.study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)

    def ask(self) -> tuple[int, dict[str, Any]]:
        """A new trial number and its parameter dict."""
        trial = self.study.ask()
        params: dict[str, Any] = {}
        for name, value in self.spec.parameters.items():
            if isinstance(value, Range):
                if value.is_int:
                    params[name] = trial.suggest_int(name, int(value.low), int(value.high), log=value.log)
                else:
                    params[name] = trial.suggest_float(name, float(value.low), float(value.high), log=value.log)
            else:
                index = trial.suggest_categorical(f"{name}#index", list(range(len(value))))
                params[name] = value[index]
        self._pending[str(trial.number)] = trial
        return trial.number, params

    def tell(self, number: int, status: str, objective: float | None) -> None:
        trial = self._pending.pop(str(number), None)
        if trial is None:
            return
        trial.set_user_attr("spine_status", status)
        if status == "ok" and objective is not None:
            self.study.tell(trial, objective)
        else:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
