"""Celery entry point of the lost-job sweeper (beat, every minute)."""

from celery import shared_task

from rewardtrain.lost_jobs.services import jobs_requeue_lost


@shared_task(name="rewardtrain.tasks.requeue_lost_jobs")
def requeue_lost_jobs() -> dict[str, list[int]]:
    """Send again the queued jobs whose message is gone (see `rewardtrain/lost_jobs/services.py`)."""
    return jobs_requeue_lost()
