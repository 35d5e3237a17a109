"""A finished reward-model run with a three-point curve, written straight to the tables, for pages that show one."""

from pathlib import Path

from rewardtrain.runs.models import ModelKind, RegisteredModel, RunMetric, RunStatus, TrainingRun
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus


def finished_run_with_curve(project, model_dir: Path) -> TrainingRun:
    """An `rm` run (K-wise snapshot v1, base model `tiny-base` at `model_dir`) with loss 0.7, 0.6, 0.4."""
    snapshot = Snapshot.objects.create(
        project=project,
        version=1,
        kind=SnapshotKind.KWISE,
        status=SnapshotStatus.READY,
        params={},
        manifest={},
    )
    base = RegisteredModel.objects.create(
        project=project, name="tiny-base", kind=ModelKind.BASE, path=str(model_dir)
    )
    run = TrainingRun.objects.create(
        project=project,
        kind="rm",
        snapshot=snapshot,
        base_model=base,
        status=RunStatus.SUCCEEDED,
        step=3,
        total_steps=3,
        final_metrics={"val_accuracy": 0.75},
    )
    for step, loss in ((1, 0.7), (2, 0.6), (3, 0.4)):
        RunMetric.objects.create(run=run, kind="step", step=step, values={"loss": loss, "accuracy": 0.5})
    return run
