"""Celery entry points for rewardtrain: thin wrappers that take ids and call services.

Snapshot builds run on the `default` queue; only tasks named `rewardtrain.tasks.gpu_*` go to the `gpu` queue.
"""

from celery import shared_task

from rewardtrain.services.snapshots import snapshot_build as build


@shared_task(name="rewardtrain.tasks.snapshot_build")
def snapshot_build(snapshot_id: int) -> str | None:
    snapshot = build(snapshot_id=snapshot_id)
    return None if snapshot is None else snapshot.status
