"""Celery entry points for runs and scoring jobs. Training and scoring go to the `gpu` queue (the
`rewardtrain.tasks.gpu_*` route); the names keep the `rewardtrain.tasks.` prefix whatever module holds them."""

from celery import current_task, shared_task

from rewardtrain.runs.scoring import scoring_job_execute, scoring_jobs_requeue_stale
from rewardtrain.runs.services import training_run_execute, training_runs_requeue_stale


@shared_task(name="rewardtrain.tasks.gpu_train_run", acks_late=True, reject_on_worker_lost=True)
def gpu_train_run(run_id: int) -> None:
    training_run_execute(run_id=run_id, worker=current_task.request.hostname or "worker")


@shared_task(name="rewardtrain.tasks.requeue_stale_runs")
def requeue_stale_runs() -> list[int]:
    return training_runs_requeue_stale()


@shared_task(name="rewardtrain.tasks.gpu_score_candidates", acks_late=True, reject_on_worker_lost=True)
def gpu_score_candidates(job_id: int) -> None:
    scoring_job_execute(job_id=job_id, worker=current_task.request.hostname or "worker")


@shared_task(name="rewardtrain.tasks.requeue_stale_scoring_jobs")
def requeue_stale_scoring_jobs() -> list[int]:
    return scoring_jobs_requeue_stale()
