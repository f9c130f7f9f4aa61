"""Tune callbacks of the sweep driver: MLflow kept current (a child run per trial, live epoch metrics),
and one progress line per finished or stopped trial.

A tracking server that stops answering must not stop the sweep: every MLflow write is queued, sent
in order, and kept (with one line saying so) while the server is unreachable, then sent when it
answers again, at the latest when the experiment ends.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ray import tune

from kdssm.report import SCORE_KEYS, first_line
from kdssm.tracking import SweepTracker, is_outage
from kdssm.train import rundir

from .run_view import EPOCH_METRICS, run_metrics, run_name

OPTUNA_TRIAL = "optuna.trial_number"  # the MLflow tag of a trial run: its number in the sweep's Optuna study
RETRY_S = 20.0  # while MLflow is away, how often the queued records are tried again


class MlflowTrials(tune.Callback):
    """Holds only names and paths (Tune pickles callbacks with the experiment); the client is made on use."""

    def __init__(
        self, uri: str, experiment: str, sweep_dir: str, trials_dir: str, datasets: list[dict] = (), links=None
    ):
        """datasets: tracking.dataset_record dicts (with a "context") of the columns every trial uses;
        links: the searcher's study.StudyLinks (each run tagged with its Optuna trial number, and its run
        id told back)."""
        self.uri, self.experiment, self.sweep_dir, self.trials_dir = uri, experiment, sweep_dir, trials_dir
        self.datasets = list(datasets)
        self.links = links
        self._tracker: SweepTracker | None = None
        self._runs: dict[str, str] = {}
        self._steps: dict[str, int] = {}  # run id -> last epoch logged (a resumed trial repeats none)
        self._pending: list = []  # writes not yet accepted by the server, oldest first
        self._down_since: float | None = None
        self._last_try = 0.0

    def __getstate__(self):
        return {
            **self.__dict__,
            "_tracker": None,
            "_runs": {},
            "_steps": {},
            "_pending": [],
            "_down_since": None,
            "_last_try": 0.0,
        }

    def send(self, write=None) -> bool:
        """Queue write (a no-argument callable) and send what is queued, in order; False while unreachable.

        While the server is away it is tried again at most every RETRY_S (a try costs at most MLflow's
        request timeout, tracking.HTTP_DEFAULTS), so the Tune loop, and every trial with it, keeps going.
        A write the server refuses is dropped with one line; the ones after it still go."""
        if write is not None:
            self._pending.append(write)
        if self._down_since is not None and time.monotonic() - self._last_try < RETRY_S:
            return False
        while self._pending:
            self._last_try = time.monotonic()
            try:
                self._pending[0]()
            except Exception as err:
                if not is_outage(err):
                    print(f"[sweep] MLflow refused a trial record ({type(err).__name__}: {first_line(err)}); skipped")
                    self._pending.pop(0)
                    continue
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    print(
                        f"[sweep] MLflow {self.uri} unreachable ({type(err).__name__}); trial records are kept "
                        "and sent when it answers",
                        flush=True,
                    )
                self._tracker = None  # a fresh client when it is back
                return False
            self._pending.pop(0)
        if self._down_since is not None:
            print(
                f"[sweep] MLflow answers again after {time.monotonic() - self._down_since:.0f} s; kept records sent",
                flush=True,
            )
            self._down_since = None
        return True

    def on_experiment_end(self, trials, **info):
        deadline = time.monotonic() + 600
        while not self.send() and time.monotonic() < deadline:
            time.sleep(5)

    @property
    def tracker(self) -> SweepTracker:
        if self._tracker is None:
            self._tracker = SweepTracker(self.uri, self.experiment, Path(self.sweep_dir))
        return self._tracker

    def run_of(self, trial) -> str:
        if trial.trial_id not in self._runs:
            params = {k: v for k, v in trial.config.items() if not k.startswith("_")}
            run_id = self.tracker.trial(trial.trial_id, params, f"student {trial.trial_id} (training)")
            self.tracker.log_datasets(run_id, self.datasets)
            if self.links is not None:
                self.links.runs[trial.trial_id] = run_id
                if trial.trial_id in self.links.numbers:
                    self.tracker.client.set_tag(run_id, OPTUNA_TRIAL, str(self.links.numbers[trial.trial_id]))
            self._steps[run_id] = self.tracker.last_step(run_id, "val_nmse_db")
            self._runs[trial.trial_id] = run_id
        return self._runs[trial.trial_id]

    def on_trial_start(self, iteration, trials, trial, **info):
        self.send(lambda: self.run_of(trial))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result.get("final") or "epochs_done" not in result:
            return
        metrics = {k: result[k] for k in EPOCH_METRICS if isinstance(result.get(k), (int, float))}
        self.send(lambda: self.log_epoch(trial, int(result["epochs_done"]), metrics))

    def log_epoch(self, trial, step: int, metrics: dict) -> None:
        run_id = self.run_of(trial)
        if step <= self._steps.get(run_id, 0):  # logged before the sweep was resumed
            return
        self.tracker.log_metrics(run_id, metrics, step=step)
        self._steps[run_id] = step

    def on_trial_complete(self, iteration, trials, trial, **info):
        folder = Path(self.trials_dir) / trial.trial_id
        path = folder / rundir.SUMMARY_FILE
        summary = json.loads(path.read_text()) if path.is_file() else None
        stopped = bool(summary and summary.get("stopped_early"))
        metrics = run_metrics(summary) if summary else None
        name = run_name("student", summary["model"], summary["params"]) if summary else None
        self.send(lambda: self.tracker.finish_trial(self.run_of(trial), folder, metrics, stopped, name))

    def on_trial_error(self, iteration, trials, trial, **info):
        folder = Path(self.trials_dir) / trial.trial_id
        self.send(lambda: self.tracker.finish_trial(self.run_of(trial), folder, None, stopped=False))


class ProgressLines(tune.Callback):
    def __init__(self, total: int, trials_dir: str):
        self.total, self.trials_dir, self.ended = total, trials_dir, 0

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.ended += 1
        path = Path(self.trials_dir) / trial.trial_id / rundir.SUMMARY_FILE
        if not path.is_file():
            print(f"[sweep] {self.ended}/{self.total} {trial.trial_id}: ended without a result", flush=True)
            return
        s = json.loads(path.read_text())
        how = (
            f"stopped early after {s['training']['epochs']} epochs (dominated at its rung)"
            if s.get("stopped_early")
            else f"{s['training']['epochs']} epochs"
        )
        print(
            f"[sweep] {self.ended}/{self.total} {trial.trial_id}: {s['params']:,} params, test accuracy "
            f"{s['accuracy']:.4f}, retention {s.get('retention', float('nan')):.4f}; {how}",
            flush=True,
        )

    def on_trial_error(self, iteration, trials, trial, **info):
        self.ended += 1
        print(f"[sweep] {self.ended}/{self.total} {trial.trial_id}: failed; see {trial.path}", flush=True)


def trial_metrics(summary: dict) -> dict:
    """What pareto.json and the registry keep of a student's summary.json: the kept model's validation
    figures (val_*, which choose the front) and its test figures (which report it)."""
    keep = (*SCORE_KEYS, "macs_per_column", "latency_vs_filter", "filter_ms_per_column", "retention", "param_reduction")
    out = {f"val_{k}": v for k, v in summary.get("validation", {}).items()}
    out.update({k: summary[k] for k in keep if k in summary})
    teacher_latency = summary.get("teacher", {}).get("latency_ms_per_column")
    if teacher_latency and summary.get("latency_ms_per_column"):
        out["speedup"] = teacher_latency / summary["latency_ms_per_column"]  # measured side by side in one process
    return out
