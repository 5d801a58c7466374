"""15.3 An Optuna study that tunes the 15.1 Lightning run, live.

1. ``optuna.create_study`` on a SQLite file (a temporary one per run; its bytes are the download),
   a seeded TPE sampler and a ``MedianPruner``;
2. each trial samples lr, channels, dropout and batch size, and trains the Lightning CNN;
3. after every epoch a ``pl.Callback`` reports val_acc to the trial (``trial.report``) and asks
   ``trial.should_prune()``: a trial below the median of earlier trials at the same epoch stops early;
4. the finished study is copied into memory so ``optuna.visualization`` can draw it after the file is gone.

**beyond**: the best and the worst trial's models stay, so Captum (15.2) can show what each looks at.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field

from torch import nn

from core.errors import Emit, HeroError, check_range
from core.lessons import trainer
from core.lessons.ch15_ecosystem import PRESETS
from core.lessons.ch15_ecosystem.lightning_run import LitSettings, digits_split, train_lightning

# Trials × epochs a study may ask for, per device kind: past this a visitor would wait many minutes.
MAX_TRIAL_EPOCHS = {"cpu": 80, "mps": 160, "cuda": 400}


@dataclass
class StudySettings:
    n_trials: int = 8
    epochs: int = 4               # per trial; the pruner judges each trial after every epoch
    seed: int = 0                 # the sampler's seed, and every trial's weights and batch order
    lr_range: tuple[float, float] = (1e-4, 3e-2)       # sampled on a log scale
    channels: tuple[int, ...] = (4, 8, 16, 32)
    dropout_max: float = 0.5
    batch_sizes: tuple[int, ...] = (16, 32, 64)
    startup_trials: int = 2       # MedianPruner: no pruning until this many trials have finished
    device: str = "cpu"


@dataclass
class StudyResult:
    settings: dict
    trials: list[dict] = field(default_factory=list)   # number, state, value, params, curve, seconds
    storage: bytes = b""                                # the study's SQLite file
    study: object = None                                # an in-memory optuna.Study (for the figures)
    models: dict[int, nn.Module] = field(default_factory=dict)   # trial number → model (best and worst)
    best: int | None = None
    worst: int | None = None
    seconds: float = 0.0


def check_budget(s: StudySettings) -> int:
    """trials × epochs, or ``HeroError("ch15.budget")`` when this device would take too long."""
    check_range("n_trials", s.n_trials, 1, 200)
    check_range("epochs", s.epochs, 1, 100)
    kind = s.device.split(":")[0]
    limit = MAX_TRIAL_EPOCHS.get(kind, MAX_TRIAL_EPOCHS["cpu"])
    budget = s.n_trials * s.epochs
    if budget > limit:
        raise HeroError("ch15.budget", trials=s.n_trials, epochs=s.epochs, budget=budget, limit=limit,
                        device=kind)
    return budget


def pruning_callback(trial, emit: Emit):
    """A ``pl.Callback``: report val_acc per epoch to the trial, stop the Trainer when told to prune."""
    import pytorch_lightning as pl

    class ReportAndPrune(pl.Callback):
        pruned = False

        def on_validation_end(self, trainer, pl_module):
            epoch, acc = trainer.current_epoch, pl_module.val_metrics["val_acc"]
            trial.report(acc, step=epoch)
            emit({"kind": "trial_epoch", "trial": trial.number, "epoch": epoch, "val_acc": acc})
            if trial.should_prune():
                self.pruned = True
                trainer.should_stop = True

    return ReportAndPrune()


def suggest(trial, s: StudySettings) -> LitSettings:
    """One point of the search space, as the Lightning run's settings."""
    return LitSettings(epochs=s.epochs, seed=s.seed, device=s.device,
                       lr=trial.suggest_float("lr", *s.lr_range, log=True),
                       channels=trial.suggest_categorical("channels", list(s.channels)),
                       dropout=trial.suggest_float("dropout", 0.0, s.dropout_max),
                       batch_size=trial.suggest_categorical("batch_size", list(s.batch_sizes)))


def run_study(s: StudySettings, stop_event: threading.Event | None = None, emit: Emit | None = None) -> StudyResult:
    """Run the study; emits ``trial_epoch``, ``trial`` and ``progress`` events. Stop ends it after the
    running trial's epoch (that trial counts as pruned)."""
    import optuna
    emit = emit or (lambda event: None)
    budget = check_budget(s)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    split = digits_split(LitSettings(seed=s.seed))
    folder = tempfile.mkdtemp(prefix="ch15_optuna_")
    started = time.perf_counter()
    result = StudyResult(settings=asdict(s))
    done_epochs = [0]
    models: dict[int, tuple[float, nn.Module]] = {}
    try:
        path = os.path.join(folder, "study.db")
        study = optuna.create_study(study_name="ch15_digits", storage=f"sqlite:///{path}", direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=s.seed),
                                    pruner=optuna.pruners.MedianPruner(n_startup_trials=s.startup_trials,
                                                                       n_warmup_steps=1))

        def on_event(event: dict) -> None:
            if event["kind"] == "trial_epoch":
                done_epochs[0] += 1
                emit(event)
                emit({"kind": "progress", "done": min(done_epochs[0], budget), "total": budget,
                      "text": f"trial {event['trial']} · epoch {event['epoch'] + 1}"})

        def objective(trial) -> float:
            ls = suggest(trial, s)
            pruner = pruning_callback(trial, on_event)
            run = train_lightning(ls, stop_event, None, split=split, callbacks=(pruner,))
            trial.set_user_attr("curve", [h["val_acc"] for h in run.history])
            value = float(run.end.get("val_acc", 0.0))
            models[trial.number] = (value, run.model)
            if pruner.pruned or (stop_event is not None and stop_event.is_set()):
                done_epochs[0] += s.epochs - len(run.history)      # the epochs it will never run
                raise optuna.TrialPruned()
            return value

        def after_trial(study, frozen) -> None:
            row = {"number": frozen.number, "state": frozen.state.name.lower(), "value": frozen.value,
                   "params": dict(frozen.params), "curve": frozen.user_attrs.get("curve", []),
                   "seconds": (frozen.duration.total_seconds() if frozen.duration else 0.0)}
            if row["value"] is None and frozen.intermediate_values:   # pruned: its last reported value
                row["last"] = frozen.intermediate_values[max(frozen.intermediate_values)]
            result.trials.append(row)
            emit({"kind": "trial", **row})
            if stop_event is not None and stop_event.is_set():
                study.stop()

        study.optimize(objective, n_trials=s.n_trials, callbacks=[after_trial], catch=())
        # 4. into memory, so the figures outlive the temporary file; the file itself is the download
        memory = optuna.storages.InMemoryStorage()
        optuna.copy_study(from_study_name="ch15_digits", from_storage=study._storage, to_storage=memory)
        result.study = optuna.load_study(study_name="ch15_digits", storage=memory)
        study._storage.remove_session() if hasattr(study._storage, "remove_session") else None
        with open(path, "rb") as f:
            result.storage = f.read()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    complete = [t for t in result.trials if t["state"] == "complete"]
    ranked = sorted(complete or [t for t in result.trials if t["number"] in models],
                    key=lambda t: t["value"] if t["value"] is not None else t.get("last", 0.0))
    if ranked:
        result.best, result.worst = ranked[-1]["number"], ranked[0]["number"]
        result.models = {n: models[n][1] for n in {result.best, result.worst} if n in models}
    result.seconds = time.perf_counter() - started
    return result


def figures(study) -> dict:
    """``optuna.visualization`` plotly figures; a figure Optuna cannot draw yet (too few finished
    trials for importances or a contour) is left out, with the reason."""
    from optuna import visualization as vis
    out: dict = {}
    makers = {"history": vis.plot_optimization_history, "parallel": vis.plot_parallel_coordinate,
              "importance": vis.plot_param_importances, "intermediate": vis.plot_intermediate_values,
              "contour": lambda st: vis.plot_contour(st, params=["lr", "dropout"])}
    for name, make in makers.items():
        try:
            out[name] = make(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            out[name] = None
            out[f"{name}_why"] = str(err)
    return out


def trials_per_minute(result: StudyResult) -> float:
    return 60.0 * len(result.trials) / max(result.seconds, 1e-9)


@trainer("ch15_optuna")
def _check_study(device: str, preset: str) -> dict:
    P = PRESETS[preset]
    r = run_study(StudySettings(n_trials=P["trials"], epochs=P["trial_epochs"], device=device))
    return {"trials": len(r.trials), "best_acc": max((t["value"] or 0.0) for t in r.trials)}
