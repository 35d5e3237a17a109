"""Claim, cancel and requeue, shared by background jobs whose state lives in their own row (training runs,
generation jobs, scoring jobs; their state fields are `rewardtrain.runs.models.JobState`).

A job row has `status` (queued/running/succeeded/failed/cancelled), `cancel_requested`, `worker`,
`heartbeat_at`, `attempts`, `started_at` and `finished_at`. A worker claims the row under a row lock before it
works, so a message delivered twice never runs the job twice at once; a running job whose heartbeat is stale
(its worker died) may be claimed again.

A failed job keeps two texts: `error`, one line for the people who run jobs (project admins: no traceback, no
server path), and `error_detail`, the traceback, which only site staff are shown (`job_failure`).
"""

import logging
import re
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

from django.db import connection, models, transaction
from django.utils import timezone

from labeling.models import Project
from labeling.services.errors import conflict, not_found

# A running job whose worker has not reported for this long is taken to be dead and may be claimed again.
HEARTBEAT_STALE = timedelta(minutes=10)
KEEPALIVE_EVERY_S = 60.0
FINISHED = ("succeeded", "failed", "cancelled")

J = TypeVar("J", bound=models.Model)
logger = logging.getLogger(__name__)
ERROR_MAX_CHARS = 200
# A word that looks like a host path or a URL: starts with / or ~/, or holds two slashes.
_TOKEN = re.compile(r"""[^\s'"`(),;<>\[\]]+""")


def _redact(word: re.Match) -> str:
    text = word.group(0)
    return "<path>" if text.startswith(("/", "~/")) or text.count("/") >= 2 else text


def error_line(text: str) -> str:
    """`text` as one short line a project admin may read: its first line, paths and URLs left out."""
    first = next((line.strip() for line in str(text).splitlines() if line.strip()), "")
    line = _TOKEN.sub(_redact, first)
    return line if len(line) <= ERROR_MAX_CHARS else line[: ERROR_MAX_CHARS - 1] + "…"


@contextmanager
def job_keepalive(model: type[models.Model], pk: int, every_s: float = KEEPALIVE_EVERY_S) -> Iterator[None]:
    """Keep a claimed job's heartbeat fresh while its worker process runs the block.

    Progress events also beat, but long stretches send none (staging a large model from the object store,
    uploading a checkpoint, a slow first step); without this a live job would look dead after
    `HEARTBEAT_STALE` and be claimed by a second worker. A dead worker's thread dies with it."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every_s):
                model.objects.filter(pk=pk, status="running").update(heartbeat_at=timezone.now())
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"keepalive-{model.__name__}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def split_old_errors(app_label: str, model_name: str):
    """A migration step: rows failed before `error_detail` existed kept the whole traceback (or an exception
    text with paths) in `error`, which project admins read. Move it to `error_detail` and keep one line."""

    def forwards(apps, schema_editor) -> None:
        model = apps.get_model(app_label, model_name)
        for row in model.objects.exclude(error="").filter(error_detail="").only("pk", "error").iterator():
            lines = [line.strip() for line in row.error.splitlines() if line.strip()]
            # A traceback's first line says nothing; its last names the exception.
            last = lines[-1] if lines and lines[0].startswith("Traceback (most recent call last)") else ""
            short = error_line(last or row.error)
            if short != row.error:
                model.objects.filter(pk=row.pk).update(error=short, error_detail=row.error)

    return forwards


def job_failure(
    exc: BaseException, what: str, summary: str | None = None, detail: str | None = None
) -> dict[str, str]:
    """The `error` and `error_detail` fields of a job that failed with `exc`, and the traceback in the worker's log.

    `what` names the job in the log ("training run 7"); `summary` replaces the exception's own first line;
    `detail` replaces the traceback (a child process's own, such as a failed torchrun rank's)."""
    if detail is None:
        logger.exception("%s failed", what, exc_info=exc)
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    else:
        logger.error("%s failed: %s\n%s", what, exc, detail)
    line = error_line(summary if summary is not None else f"{type(exc).__name__}: {exc}")
    return {"error": line, "error_detail": detail}


def job_in_project(rows: models.QuerySet[J], project: Project, pk: int, label: str) -> J:
    """The job `pk` of `project` among `rows`, or a 404 naming it (`label`, e.g. "Scoring job")."""
    job = rows.filter(pk=pk, project=project).first()
    if job is None:
        raise not_found(f"{label} {pk} does not exist in this project.")
    return job


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


def request_cancel(model: type[J], pk: int, label: str) -> J:
    """Ask a job to stop, under a row lock (call it inside a transaction): a queued job is cancelled at once,
    a running one stops at its worker's next check. A finished job is a conflict, named `label` (e.g. "Run")."""
    job = model.objects.select_for_update().get(pk=pk)
    if job.status in FINISHED:
        raise conflict(f"{label} {job.pk} already {job.status}.")
    job.cancel_requested = True
    fields = ["cancel_requested"]
    if job.status == "queued":
        job.status, job.finished_at = "cancelled", timezone.now()
        fields += ["status", "finished_at"]
    job.save(update_fields=fields)
    return job


def stale_job_ids(model: type[models.Model]) -> list[int]:
    """The running jobs whose worker stopped reporting (a host that died never rejects its message), to be
    queued again."""
    stale_before = timezone.now() - HEARTBEAT_STALE
    return list(
        model.objects.filter(status="running", heartbeat_at__lt=stale_before).values_list("pk", flat=True)
    )
