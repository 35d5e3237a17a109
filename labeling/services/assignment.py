"""Handing out work: leases on tasks, claimed with `SELECT … FOR UPDATE SKIP LOCKED`."""

import random
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.models import Assignment, AssignmentStatus, Guideline, Project, Task, TaskStatus
from labeling.services.errors import FieldError, conflict, invalid

# How many locked-but-full tasks one claim steps over before giving up; only matters under heavy contention.
MAX_CLAIM_ATTEMPTS = 16
MAX_SKIP_REASON = 500


def _active_leases(task_ref, now: datetime):
    return Assignment.objects.filter(task=task_ref, status=AssignmentStatus.ACTIVE, expires_at__gt=now)


def _claim_from_pool(
    user: AbstractBaseUser, project: Project, *, gold: bool, now: datetime, skip_locked: bool
) -> Assignment | None:
    done_by_user = Assignment.objects.filter(
        user=user, task__project=project, status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED]
    ).values("task_id")
    active = Subquery(
        _active_leases(OuterRef("pk"), now).values("task").annotate(n=Count("id")).values("n")[:1]
    )
    current_guideline = Guideline.objects.filter(project=project).order_by("-version").values("id")[:1]
    queue = (
        Task.objects.filter(project=project, status=TaskStatus.OPEN, is_gold=gold)
        .exclude(pk__in=done_by_user)
        .alias(active=Coalesce(active, 0))
        .filter(required_annotations__gt=F("completed_count") + F("active"))
        .annotate(guideline_id=Subquery(current_guideline))
        .select_related("prompt")
        .order_by("-priority", "created_at", "id")
        .select_for_update(skip_locked=skip_locked, of=("self",))
    )
    stepped_over: list[int] = []
    for _ in range(MAX_CLAIM_ATTEMPTS):
        # When waiting for locks, a savepoint per attempt: rolling it back releases the lock on a task we step
        # over, so nobody waits on it. Skipping claimers never wait, so they need none.
        with nullcontext() if skip_locked else transaction.atomic():
            task = queue.exclude(pk__in=stepped_over).first()
            if task is None:
                return None
            # Exact re-check under the task's row lock: every claim of this task holds that lock until it
            # commits, so this fresh statement sees all of them, and a task is never leased beyond its redundancy.
            leased = _active_leases(task, now).exclude(user=user).count()
            if task.completed_count + leased >= task.required_annotations:
                stepped_over.append(task.pk)
                if not skip_locked:
                    transaction.set_rollback(True)
                continue
            lease = Assignment(
                task=task,
                user=user,
                status=AssignmentStatus.ACTIVE,
                leased_at=now,
                expires_at=now + timedelta(seconds=project.lease_seconds),
                guideline_id=task.guideline_id,
                finished_at=None,
            )
            # One row per task and labeler: the labeler's own expired lease on this task is renewed in place.
            Assignment.objects.bulk_create(
                [lease],
                update_conflicts=True,
                unique_fields=["task", "user"],
                update_fields=["status", "leased_at", "expires_at", "guideline", "finished_at"],
            )
            if lease.pk is None:  # backends that cannot return ids from an upsert
                lease = Assignment.objects.get(task=task, user=user)
            lease.task = task
            return lease
    return None


def assignment_claim_next(
    *, user: AbstractBaseUser, project: Project, rng: random.Random | None = None
) -> Assignment | None:
    """The labeler's next task in a project, as a lease; None when no work is left for them.

    A labeler with an unexpired lease in the project gets that one back (a reload never loses the task).
    Otherwise: open tasks that still need annotations and that this labeler has not submitted or skipped, by
    priority then age; gold tasks are served at the project's gold rate while any are open.
    """
    now = timezone.now()
    with transaction.atomic():
        current = (
            Assignment.objects.filter(
                user=user, task__project=project, status=AssignmentStatus.ACTIVE, expires_at__gt=now
            )
            .select_related("task__prompt")
            .order_by("leased_at")
            .first()
        )
        if current is not None:
            return current
        gold_first = project.gold_rate > 0 and (rng or random).random() < project.gold_rate
        pools = (True, False) if gold_first else (False, True)
        # First skip tasks other claimers hold (fast, no waiting).
        for gold in pools:
            assignment = _claim_from_pool(user, project, gold=gold, now=now, skip_locked=True)
            if assignment is not None:
                return assignment
    # A task that needs several labelers can be held by one claimer while it still has room, so wait for the
    # locks in turn; in a new transaction, so that no lock taken above is held while waiting (no deadlock).
    with transaction.atomic():
        for gold in pools:
            assignment = _claim_from_pool(user, project, gold=gold, now=now, skip_locked=False)
            if assignment is not None:
                return assignment
    return None


@transaction.atomic
def assignment_skip(*, user: AbstractBaseUser, assignment: Assignment, reason: str) -> Assignment:
    """Give a task back with a reason; the labeler is not offered it again."""
    reason = (reason or "").strip()
    if not reason:
        raise invalid("A skip needs a reason", FieldError("is required", "reason"))
    if len(reason) > MAX_SKIP_REASON:
        raise invalid("Reason too long", FieldError(f"at most {MAX_SKIP_REASON} characters", "reason"))
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk, user=user)
    if assignment.status in (AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED):
        raise conflict(
            f"This assignment is already {assignment.status}.", code=f"already_{assignment.status}"
        )
    assignment.status = AssignmentStatus.SKIPPED
    assignment.skip_reason = reason
    assignment.finished_at = timezone.now()
    assignment.save(update_fields=["status", "skip_reason", "finished_at"])
    return assignment


def leases_expire(*, now: datetime | None = None) -> int:
    """Mark leases past their expiry as expired. Claims already ignore them; this keeps the table tidy."""
    now = now or timezone.now()
    return Assignment.objects.filter(Q(status=AssignmentStatus.ACTIVE) & Q(expires_at__lte=now)).update(
        status=AssignmentStatus.EXPIRED
    )
