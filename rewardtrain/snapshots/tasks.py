"""Celery entry points for snapshots. Builds run on the `default` queue (no `gpu_` prefix in the name)."""

from celery import shared_task

from rewardtrain.snapshots.services import snapshot_build as build


@shared_task(name="rewardtrain.tasks.snapshot_build")
def snapshot_build(snapshot_id: int) -> str | None:
    snapshot = build(snapshot_id=snapshot_id)
    return None if snapshot is None else snapshot.status
