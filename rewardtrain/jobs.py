"""The claim step shared by background jobs whose state lives in their own row (training runs, generation jobs).

A job row has `status` (queued/running/succeeded/failed/cancelled), `cancel_requested`, `worker`,
`heartbeat_at`, `attempts`, `started_at` and `finished_at`. A worker claims the row under a row lock before it
works, so a message delivered twice never runs the job twice at once; a running job whose heartbeat is stale
(its worker died) may be claimed again.
"""

from datetime import timedelta
from typing import TypeVar

from django.db import models, transaction
from django.utils import timezone

# A running job whose worker has not reported for this long is taken to be dead and may be claimed again.
HEARTBEAT_STALE = timedelta(minutes=10)
FINISHED = ("succeeded", "failed", "cancelled")

J = TypeVar("J", bound=models.Model)


def claim_job(model: type[J], pk: int, worker: str) -> J | None:
    """Mark the job running for `worker` and return it, or None when it must not run now (finished, held by a
    live worker, or cancelled while queued: then it is marked cancelled)."""
    now = timezone.now()
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=pk).first()
        if job is None or job.status in FINISHED:
            return None
        alive = job.heartbeat_at is not None and now - job.heartbeat_at < HEARTBEAT_STALE
        if job.status == "running" and alive:
            return None  # a second delivery while a live worker holds it
        if job.cancel_requested:
            job.status, job.finished_at = "cancelled", now
            job.save(update_fields=["status", "finished_at"])
            return None
        job.status, job.worker, job.heartbeat_at = "running", worker, now
        job.attempts += 1
        job.started_at = job.started_at or now
        job.save(update_fields=["status", "worker", "heartbeat_at", "attempts", "started_at"])
        return job
