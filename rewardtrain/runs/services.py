"""Registering models and running training jobs (SFT, reward model, DPO, RL against a reward model).

A run's state lives in its row. A worker claims the row before it trains, so a message delivered twice (a
Redis visibility timeout, a re-queue after a worker died) never trains twice at once; a run whose worker
died is claimed again once its heartbeat is stale and resumes from its last checkpoint, on any host: each
checkpoint and the final model are published to the store as they are written (`rewardtrain/staging.py`).
"""

import dataclasses
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotate import storage
from annotate.jobs import enqueue_on_commit, send
from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import Project
from labeling.services.errors import FieldError, conflict, invalid
from rewardtrain import staging
from rewardtrain.jobs import claim_job, job_failure, job_keepalive, request_cancel, stale_job_ids
from rewardtrain.runs.artifacts import (
    ModelRef,
    model_locate,
    model_ref_check,
    normalize_relpath,
    registered_model_locate,
)
from rewardtrain.runs.devices import TooFewGpus, worker_gpus
from rewardtrain.runs.models import (
    ModelKind,
    ModelSource,
    RegisteredModel,
    RunKind,
    RunMetric,
    RunStatus,
    TrainingRun,
)
from rewardtrain.runs.options import (
    APP_DEFAULTS,
    BASE_MODEL_KINDS,
    CONFIGS,
    RESERVED_PARAMS,
    REWARD_MODEL_KINDS,
    SNAPSHOT_KINDS,
)
from rewardtrain.snapshots.models import Snapshot, SnapshotStatus
from rewardtrain.staging import snapshot_stage
from rewardtrain.training.config import range_errors
from rewardtrain.training.launch import TorchrunJob
from rewardtrain.training.progress import ProgressEvent

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 2.0
# What a successful run registers.
PRODUCES = {
    RunKind.SFT: ModelKind.SFT,
    RunKind.RM: ModelKind.RM,
    RunKind.DPO: ModelKind.POLICY,
    RunKind.RL: ModelKind.POLICY,
}
DEFAULT_SAVE_EVERY = 50
MAX_GPUS = 64


@transaction.atomic
def registered_model_create(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    name: str,
    kind: str,
    path: str,
    gguf_file: str = "",
    root: str = "",
) -> RegisteredModel:
    """Register a base, SFT, reward or policy model: a hub name (`owner/name`, no `root`), or a directory
    relative to one of the operator's model roots (`root` names it). Never a host path: see `artifacts`."""
    if kind not in ModelKind.values:
        raise invalid("Invalid model", FieldError(f"must be one of {', '.join(ModelKind.values)}", "kind"))
    if root:
        ref = ModelRef(source=ModelSource.ROOT, root=root, path=normalize_relpath(path), gguf_file=gguf_file)
    else:
        ref = ModelRef(source=ModelSource.HUB, path=path.strip(), gguf_file=gguf_file)
    if ref.source == ModelSource.ROOT:
        model_locate(ref)  # it must exist now (and is checked again whenever a worker loads it)
    else:
        errors = model_ref_check(ref)  # a hub model is fetched (or found in the cache) when first used
        if errors:
            raise invalid("Invalid model", *errors)
    if RegisteredModel.objects.filter(project=project, name=name).exists():
        raise conflict(f"A model named '{name}' is already registered in this project.")
    model = RegisteredModel.objects.create(
        project=project,
        name=name,
        kind=kind,
        source=ref.source,
        root=ref.root,
        path=ref.path,
        gguf_file=gguf_file,
        created_by=user,
    )
    audit_record(
        AuditAction.MODEL_REGISTER,
        project=project,
        actor=user,
        target=model,
        details={"name": name, "kind": kind, "reference": str(ref), "gguf_file": gguf_file},
    )
    return model


def _hyperparams(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """Check hyper-parameters against the training config's fields and coerce them to the field types."""
    fields = {f.name: f for f in dataclasses.fields(CONFIGS[kind]) if f.name not in RESERVED_PARAMS}
    errors, clean = [], {}
    for name, value in given.items():
        field = fields.get(name)
        if field is None:
            errors.append(FieldError(f"unknown hyper-parameter; known: {', '.join(sorted(fields))}", name))
            continue
        default = getattr(CONFIGS[kind], name, None)
        expected = type(default) if default is not None else (int | float | str)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = float(value) if ok else value
        else:
            ok = isinstance(value, expected) and not isinstance(value, bool)
        if not ok:
            errors.append(
                FieldError(
                    f"must be of type {expected.__name__ if isinstance(expected, type) else 'number'}", name
                )
            )
        clean[name] = value
    if not errors:
        errors += [FieldError(message, name) for name, message in range_errors(clean, kind).items()]
    if errors:
        raise invalid("Invalid hyper-parameters", *errors)
    return clean


def _base_refusal(kind: str, base: RegisteredModel) -> str:
    allowed = ", ".join(BASE_MODEL_KINDS[kind])
    what = "a policy" if kind in (RunKind.DPO, RunKind.RL) else "a language model"
    return (
        f"a {kind} run trains {what}: it cannot start from {base.name}, a {ModelKind(base.kind).label.lower()} "
        f"(a {base.kind} model); pick a {allowed} model"
    )


def _reward_model_errors(project: Project, kind: str, reward_model_id: int | None) -> list[FieldError]:
    """An RL run names a registered reward model of its project; other runs name none."""
    kinds = REWARD_MODEL_KINDS.get(kind)
    if not kinds:
        if reward_model_id is None:
            return []
        return [FieldError(f"a {kind} run takes no reward model (only an RL run does)", "reward_model")]
    if reward_model_id is None:
        return [FieldError("an RL run is optimised against a reward model: pick one", "reward_model")]
    model = RegisteredModel.objects.filter(pk=reward_model_id, project=project).first()
    if model is None:
        return [FieldError("no registered model with this id in this project", "reward_model")]
    if model.kind not in kinds:
        label = ModelKind(model.kind).label.lower()
        return [
            FieldError(
                f"'{model.name}' is a {label} (a {model.kind} model), not a reward model: pick an rm model",
                "reward_model",
            )
        ]
    return []


@transaction.atomic
def training_run_create(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    kind: str,
    snapshot_id: int,
    base_model_id: int,
    hyperparams: dict[str, Any] | None = None,
    gpus: int = 1,
    reward_model_id: int | None = None,
) -> TrainingRun:
    """Queue a run on the `gpu` queue. The snapshot must be ready and of a kind this run trains on. `gpus` above
    1 trains under torchrun, one process per GPU, on one worker that has that many. An RL run names the reward
    model (a registered `rm` model of the project) its policy is optimised against."""
    if kind not in RunKind.values:
        raise invalid("Invalid run", FieldError(f"must be one of {', '.join(RunKind.values)}", "kind"))
    snapshot = Snapshot.objects.filter(pk=snapshot_id, project=project).first()
    base = RegisteredModel.objects.filter(pk=base_model_id, project=project).first()
    errors = []
    if snapshot is None:
        errors.append(FieldError("no snapshot with this id in this project", "snapshot"))
    elif snapshot.status != SnapshotStatus.READY:
        errors.append(FieldError(f"snapshot v{snapshot.version} is {snapshot.status}, not ready", "snapshot"))
    elif snapshot.kind not in SNAPSHOT_KINDS[kind]:
        allowed = " or ".join(sorted(SNAPSHOT_KINDS[kind]))
        errors.append(
            FieldError(f"a {kind} run trains on a {allowed} snapshot, not {snapshot.kind}", "snapshot")
        )
    if base is None:
        errors.append(FieldError("no registered model with this id in this project", "base_model"))
    elif base.kind not in BASE_MODEL_KINDS[kind]:
        errors.append(FieldError(_base_refusal(kind, base), "base_model"))
    if isinstance(gpus, bool) or not isinstance(gpus, int) or not 1 <= gpus <= MAX_GPUS:
        errors.append(FieldError(f"must be a whole number of GPUs from 1 to {MAX_GPUS}", "gpus"))
    errors += _reward_model_errors(project, kind, reward_model_id)
    if errors:
        raise invalid("Invalid run", *errors)
    run = TrainingRun.objects.create(
        project=project,
        kind=kind,
        snapshot=snapshot,
        base_model=base,
        reward_model_id=reward_model_id,
        hyperparams=_hyperparams(kind, hyperparams or {}),
        gpus=gpus,
        created_by=user,
    )
    audit_record(
        AuditAction.RUN_CREATE,
        project=project,
        actor=user,
        target=run,
        details={
            "kind": kind,
            "snapshot_id": snapshot.pk,
            "base_model_id": base.pk,
            "reward_model_id": reward_model_id,
            "gpus": gpus,
        },
    )
    enqueue_on_commit("rewardtrain.tasks.gpu_train_run", run.pk)
    return run


@transaction.atomic
def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """Ask a run to stop. A queued run is cancelled at once; a running one stops after its current step."""
    run = request_cancel(TrainingRun, run.pk, "Run")
    audit_record(AuditAction.RUN_CANCEL, project=run.project, target=run, details={"status": run.status})
    return run


def _claim(run_id: int, worker: str) -> TrainingRun | None:
    return claim_job(TrainingRun, run_id, worker)


def _config(run: TrainingRun):
    base = registered_model_locate(run.base_model)  # checked again now: the root may have changed since
    params = {"save_every": DEFAULT_SAVE_EVERY, **APP_DEFAULTS.get(run.kind, {}), **run.hyperparams}
    if run.reward_model is not None:  # located like any registered model: staged from the store, or a root
        params["reward_model"] = registered_model_locate(run.reward_model).path
    return CONFIGS[run.kind](
        data=str(snapshot_stage(run.snapshot)),  # into this worker's cache, from the store
        model=base.path,
        gguf_file=base.gguf_file,
        out=run.output_dir,
        resume="auto",
        **params,
    )


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or infinity (PostgreSQL refuses them); an undefined figure is stored as null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


SAMPLE_TEXT_CHARS = 20_000


def _sample_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An RL step's answers as stored: finite numbers, and texts bounded (a degenerate policy can write long)."""
    clean = []
    for row in rows:
        row = _finite(row)
        for key in ("prompt", "answer"):
            if isinstance(row.get(key), str):
                row[key] = row[key][:SAMPLE_TEXT_CHARS]
        clean.append(row)
    return clean


class _Recorder:
    """Turns training progress into metric rows and the run's live fields, publishes each new checkpoint to the
    store; answers whether to stop."""

    def __init__(self, run: TrainingRun) -> None:
        self.run = run
        self._last_beat = 0.0
        self._published: str | None = None

    def publish_checkpoint(self) -> None:
        """Store the newest complete checkpoint if it is not stored yet. A failure is retried at the next event:
        training goes on, and a run taken up elsewhere resumes from the checkpoint before."""
        try:
            self._published = staging.checkpoint_publish(
                Path(self.run.output_dir), self.run.storage_key, self._published
            )
        except Exception:
            logger.warning("storing a checkpoint of run %s failed", self.run.pk, exc_info=True)

    def __call__(self, event) -> None:
        if event.kind == "samples":  # a table of answers, not figures: its own row, not the live metrics
            rows = _sample_rows(event.samples or [])
            RunMetric.objects.create(run=self.run, kind=event.kind, step=event.step, values={"rows": rows})
            self.publish_checkpoint()
            return
        values = {
            k: v for k, v in event.to_dict().items() if k not in ("kind", "step", "metrics") and v is not None
        }
        values = _finite({**values, **event.metrics})
        if event.kind == "start":
            # A resumed attempt redoes the steps after its checkpoint: drop the rows the dead attempt wrote for
            # them, so every step keeps one row.
            RunMetric.objects.filter(run=self.run, step__gt=event.step).delete()
        RunMetric.objects.create(run=self.run, kind=event.kind, step=event.step, values=values)
        if (
            event.kind == "eval"
            or time.monotonic() - self._last_beat > HEARTBEAT_EVERY_S
            or event.kind == "end"
        ):
            self._last_beat = time.monotonic()
            TrainingRun.objects.filter(pk=self.run.pk).update(
                step=event.step,
                total_steps=event.total_steps,
                last_metrics=values,
                heartbeat_at=timezone.now(),
            )
        self.publish_checkpoint()

    def should_stop(self) -> bool:
        return TrainingRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists()


def _finish(run: TrainingRun, status: str, **fields: Any) -> None:
    TrainingRun.objects.filter(pk=run.pk).update(status=status, finished_at=timezone.now(), **fields)


def _train(run: TrainingRun, recorder: _Recorder):
    """Train in this process (one GPU), or under torchrun as a child process group (several). A run taken up on
    another host first fetches its newest stored checkpoint, which the trainer's `resume="auto"` then finds."""
    if run.gpus > 1 and run.gpus > (has := worker_gpus()):  # before downloading anything
        raise TooFewGpus(f"the run asks for {run.gpus} GPUs; this worker has {has}")
    staging.checkpoint_restore(Path(run.output_dir), run.storage_key)
    config = _config(run)
    if run.gpus == 1:
        from rewardtrain.training import train_dpo, train_rl, train_rm, train_sft  # torch: workers only

        train = {
            RunKind.SFT: train_sft,
            RunKind.RM: train_rm,
            RunKind.DPO: train_dpo,
            RunKind.RL: train_rl,
        }[run.kind]
        return train(config, progress=recorder, should_stop=recorder.should_stop)
    job = TorchrunJob(
        command=run.kind, config=config, nproc=run.gpus, work_dir=Path(run.output_dir) / "torchrun"
    )
    return job.run(on_event=lambda event: recorder(ProgressEvent(**event)), should_stop=recorder.should_stop)


def training_run_execute(*, run_id: int, worker: str) -> TrainingRun | None:
    """Train a claimed run to the end (or until cancelled); register its model on success."""
    run = _claim(run_id, worker)
    if run is None:
        return None
    recorder = _Recorder(run)
    try:
        with job_keepalive(TrainingRun, run.pk):
            result = _train(run, recorder)
            recorder.publish_checkpoint()  # the one a cancel wrote, if the last event came before it
            if not result.stopped_early:
                manifest = staging.model_publish(Path(result.output_dir), run.storage_key)
    except Exception as exc:
        # A torchrun rank's failure carries that rank's own traceback.
        detail = getattr(exc, "rank_traceback", None)
        _finish(run, RunStatus.FAILED, **job_failure(exc, f"training run {run.pk}", detail=detail))
        return TrainingRun.objects.get(pk=run.pk)
    if result.stopped_early:
        _finish(run, RunStatus.CANCELLED, step=result.steps, final_metrics=_finite(result.metrics))
        return TrainingRun.objects.get(pk=run.pk)
    with transaction.atomic():
        _finish(run, RunStatus.SUCCEEDED, step=result.steps, final_metrics=_finite(result.metrics))
        RegisteredModel.objects.create(
            project=run.project,
            name=f"{run.kind}-run-{run.pk}",
            kind=PRODUCES[run.kind],
            source=ModelSource.RUN,  # written here, not typed by an admin: not checked against the roots
            path=manifest,
            produced_by=run,
            created_by=run.created_by,
        )
    if not storage.is_local():
        # Published: the store holds the model and its checkpoints, and a GPU node's disk is its cache.
        shutil.rmtree(run.output_dir, ignore_errors=True)
    return TrainingRun.objects.get(pk=run.pk)


def training_runs_requeue_stale() -> list[int]:
    """Queue again the runs whose worker stopped reporting (a host that died never rejects its message)."""
    stale = stale_job_ids(TrainingRun)
    for run_id in stale:
        send("rewardtrain.tasks.gpu_train_run", run_id)
    return stale
