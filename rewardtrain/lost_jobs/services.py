"""Sending again the jobs whose message is gone: never sent (the broker was down when the job was created),
lost with a broker restarted without persistence, or held by a worker that died (a snapshot build).

A job is sent again only while its queue is empty, so a queue that is merely slow (a long training run ahead)
never fills up with repeats; a repeat that does reach a worker is harmless, as each job claims its row first.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from annotate.jobs import enqueue
from annotate.metrics import queue_depths
from rewardtrain.generation.models import GenerationJob
from rewardtrain.runs.models import RunStatus, ScoringJob, TrainingRun
from rewardtrain.snapshots.models import Snapshot, SnapshotStatus
from rewardtrain.snapshots.services import STALE_BUILD_SECONDS

logger = logging.getLogger(__name__)


def jobs_requeue_lost(*, older_than_s: float | None = None) -> dict[str, list[int]]:
    """Send again queued snapshot builds, training runs, scoring and generation jobs older than `older_than_s`
    (default `JOBS_REQUEUE_AFTER_SECONDS`) whose queue is empty, and snapshot builds whose worker went silent.
    Returns the ids sent, by job kind; nothing when the broker is down (the next sweep tries again)."""
    age = settings.JOBS_REQUEUE_AFTER_SECONDS if older_than_s is None else older_than_s
    now = timezone.now()
    before = now - timedelta(seconds=age)
    sent: dict[str, list[int]] = {
        "snapshot_build": [],
        "training_run": [],
        "scoring_job": [],
        "generation_job": [],
    }
    try:
        depths = queue_depths()
    except Exception as exc:
        logger.warning("broker unavailable (%s); lost jobs are sent on a later sweep", type(exc).__name__)
        return sent
    if depths.get("default", 0) == 0:
        snapshots = Snapshot.objects.filter(
            Q(status=SnapshotStatus.QUEUED, created_at__lt=before)
            | Q(status=SnapshotStatus.BUILDING, started_at__lt=now - timedelta(seconds=STALE_BUILD_SECONDS))
        ).order_by("pk")
        for pk in snapshots.values_list("pk", flat=True):
            if enqueue("rewardtrain.tasks.snapshot_build", pk):
                sent["snapshot_build"].append(pk)
    if depths.get("gpu", 0) == 0:
        gpu_jobs = [
            ("training_run", TrainingRun, "rewardtrain.tasks.gpu_train_run"),
            ("scoring_job", ScoringJob, "rewardtrain.tasks.gpu_score_candidates"),
            ("generation_job", GenerationJob, "rewardtrain.tasks.gpu_generate"),
        ]
        for kind, model, task_name in gpu_jobs:
            queued = model.objects.filter(
                status=RunStatus.QUEUED, cancel_requested=False, created_at__lt=before
            )
            for pk in queued.order_by("pk").values_list("pk", flat=True):
                if enqueue(task_name, pk):
                    sent[kind].append(pk)
    return sent
