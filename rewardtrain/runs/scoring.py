"""Scoring a project's candidates with a registered reward model (a job on the `gpu` queue).

The job scores, batch by batch, every candidate of the project that this reward model has not scored yet, and
writes each batch in one transaction with an upsert on (candidate, reward model). So a job that is cancelled,
or whose worker dies and that is claimed again (`requeue_stale_scoring_jobs`), picks up where it stopped, and
a second job for the same model only scores what is new. Scores are for admins; labelers never see them.

When the project's selection is `uncertainty`, a job that scored everything then sets the priorities of the
project's open ranking tasks from this model's scores (`selection.ranking_priorities_update`).
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotate.jobs import enqueue_on_commit, send
from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import Candidate, Project
from labeling.services.errors import FieldError, conflict, invalid
from rewardtrain.jobs import claim_job, job_failure, job_keepalive, request_cancel, stale_job_ids
from rewardtrain.runs.artifacts import registered_model_locate
from rewardtrain.runs.models import CandidateScore, ModelKind, RegisteredModel, RunStatus, ScoringJob
from rewardtrain.runs.selection import ranking_priorities_update

FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
MAX_BATCH_SIZE = 512
MAX_LENGTH = 1024


@transaction.atomic
def scoring_job_create(
    *, project: Project, user: AbstractBaseUser | None, reward_model_id: int, batch_size: int = 32
) -> ScoringJob:
    """Queue a job scoring the project's unscored candidates with one of its reward models."""
    # Locked so that two requests cannot both find no job in flight for this model.
    model = RegisteredModel.objects.select_for_update().filter(pk=reward_model_id, project=project).first()
    errors = []
    if model is None:
        errors.append(FieldError("no registered model with this id in this project", "reward_model"))
    elif model.kind != ModelKind.RM:
        errors.append(
            FieldError(f"model '{model.name}' is a {model.kind} model, not a reward model", "reward_model")
        )
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        errors.append(FieldError(f"must be between 1 and {MAX_BATCH_SIZE}", "batch_size"))
    if errors:
        raise invalid("Invalid scoring job", *errors)
    busy = ScoringJob.objects.filter(reward_model=model).exclude(status__in=FINISHED).first()
    if busy is not None:
        raise conflict(f"Scoring job {busy.pk} with model '{model.name}' is already {busy.status}.")
    job = ScoringJob.objects.create(
        project=project, reward_model=model, batch_size=batch_size, created_by=user
    )
    audit_record(
        AuditAction.SCORING_CREATE,
        project=project,
        actor=user,
        target=job,
        details={"reward_model": model.pk},
    )
    enqueue_on_commit("rewardtrain.tasks.gpu_score_candidates", job.pk)
    return job


@transaction.atomic
def scoring_job_cancel(*, job: ScoringJob) -> ScoringJob:
    """A queued job is cancelled at once; a running one stops after its current batch."""
    job = request_cancel(ScoringJob, job.pk, "Scoring job")
    audit_record(AuditAction.SCORING_CANCEL, project=job.project, target=job, details={"status": job.status})
    return job


def unscored_candidates(project_id: int, reward_model_id: int):
    return Candidate.objects.filter(prompt__project_id=project_id).exclude(
        scores__reward_model_id=reward_model_id
    )


def _finish(job: ScoringJob, status: str, **fields: Any) -> ScoringJob:
    ScoringJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now(), **fields)
    return ScoringJob.objects.get(pk=job.pk)


def _device() -> str:
    import torch  # workers only

    return "cuda" if torch.cuda.is_available() else "cpu"


def _score_batches(job: ScoringJob) -> bool:
    """Score until nothing is left (True) or a cancel is asked for (False)."""
    from rewardtrain.training import load_reward_model, score_texts  # torch: workers only

    located = registered_model_locate(job.reward_model)  # checked again now: the root may have changed since
    reward_model, tokenizer = load_reward_model(located.path, device=_device())
    pending = unscored_candidates(job.project_id, job.reward_model_id)
    ScoringJob.objects.filter(pk=job.pk).update(total=job.scored + pending.count())
    after = 0
    while True:
        if ScoringJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
            return False
        # Keyset pagination by id: a candidate that cannot be stored (deleted meanwhile) is not retried forever.
        batch = list(
            pending.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "text", "prompt__messages")[: job.batch_size]
        )
        if not batch:
            return True
        after = batch[-1][0]
        scores = score_texts(
            reward_model,
            tokenizer,
            [messages for _, _, messages in batch],
            [text for _, text, _ in batch],
            batch_size=job.batch_size,
            max_length=MAX_LENGTH,
        )
        with transaction.atomic():
            existing = set(
                Candidate.objects.filter(pk__in=[pk for pk, _, _ in batch]).values_list("pk", flat=True)
            )
            rows = [
                CandidateScore(candidate_id=pk, reward_model_id=job.reward_model_id, score=float(score))
                for (pk, _, _), score in zip(batch, scores, strict=True)
                if pk in existing
            ]
            CandidateScore.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["candidate", "reward_model"],
                update_fields=["score"],
            )
            job.scored += len(rows)
            ScoringJob.objects.filter(pk=job.pk).update(scored=job.scored, heartbeat_at=timezone.now())


def scoring_job_execute(*, job_id: int, worker: str) -> ScoringJob | None:
    """Claim the job and score the project's candidates; None when another worker has it or it is finished."""
    job = claim_job(ScoringJob, job_id, worker)
    if job is None:
        return None
    job = ScoringJob.objects.select_related("reward_model", "project").get(pk=job.pk)
    try:
        with job_keepalive(ScoringJob, job.pk):
            done = _score_batches(job)
            if done:
                ranking_priorities_update(job.project, job.reward_model)
    except Exception as exc:
        return _finish(job, RunStatus.FAILED, **job_failure(exc, f"scoring job {job.pk}"))
    return _finish(job, RunStatus.SUCCEEDED if done else RunStatus.CANCELLED)


def scoring_jobs_requeue_stale() -> list[int]:
    """Queue again the scoring jobs whose worker stopped reporting."""
    stale = stale_job_ids(ScoringJob)
    for job_id in stale:
        send("rewardtrain.tasks.gpu_score_candidates", job_id)
    return stale
