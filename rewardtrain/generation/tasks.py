"""Celery entry points for generation jobs. Sampling goes to the `gpu` queue (the `rewardtrain.tasks.gpu_*`
route); the names keep the `rewardtrain.tasks.` prefix, so that routes and messages already queued still match."""

from celery import shared_task

from rewardtrain.generation.services import generation_job_execute, generation_jobs_requeue_stale


@shared_task(name="rewardtrain.tasks.gpu_generate", bind=True, acks_late=True, reject_on_worker_lost=True)
def gpu_generate(self, job_id: int) -> str | None:
    """Sample a generation job's answers (the `gpu` queue: the `rewardtrain.tasks.gpu_*` route)."""
    job = generation_job_execute(job_id=job_id, worker=self.request.hostname or "worker")
    return None if job is None else job.status


@shared_task(name="rewardtrain.tasks.requeue_stale_generation_jobs")
def requeue_stale_generation_jobs() -> list[int]:
    return generation_jobs_requeue_stale()
