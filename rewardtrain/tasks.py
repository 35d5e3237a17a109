"""Celery entry points for rewardtrain: thin wrappers that take ids and call services.

Snapshot builds run on the `default` queue; only tasks named `rewardtrain.tasks.gpu_*` go to the `gpu` queue.
"""

from celery import shared_task

from rewardtrain.services.lost_jobs import jobs_requeue_lost
from rewardtrain.services.snapshots import snapshot_build as build
from rewardtrain.services.suggestions import suggestion_execute


@shared_task(name="rewardtrain.tasks.snapshot_build")
def snapshot_build(snapshot_id: int) -> str | None:
    snapshot = build(snapshot_id=snapshot_id)
    return None if snapshot is None else snapshot.status


@shared_task(name="rewardtrain.tasks.gpu_suggest", acks_late=True, reject_on_worker_lost=True)
def gpu_suggest(suggestion_id: int) -> str | None:
    """Sample a labeler's suggestion (the `gpu` queue, by the `rewardtrain.tasks.gpu_*` route)."""
    suggestion = suggestion_execute(suggestion_id=suggestion_id)
    return None if suggestion is None else suggestion.status


@shared_task(name="rewardtrain.tasks.requeue_lost_jobs")
def requeue_lost_jobs() -> dict[str, list[int]]:
    """Beat, every minute: send again the queued jobs whose message is gone (see services/lost_jobs.py)."""
    return jobs_requeue_lost()


@shared_task(name="rewardtrain.tasks.gpu_generate", bind=True, acks_late=True, reject_on_worker_lost=True)
def gpu_generate(self, job_id: int) -> str | None:
    """Sample a generation job's answers (the `gpu` queue: the `rewardtrain.tasks.gpu_*` route)."""
    from rewardtrain.generation.services import generation_job_execute

    job = generation_job_execute(job_id=job_id, worker=self.request.hostname or "worker")
    return None if job is None else job.status


@shared_task(name="rewardtrain.tasks.requeue_stale_generation_jobs")
def requeue_stale_generation_jobs() -> list[int]:
    from rewardtrain.generation.services import generation_jobs_requeue_stale

    return generation_jobs_requeue_stale()
