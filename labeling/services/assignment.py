"""Handing out work: leases on tasks, claimed with `SELECT … FOR UPDATE SKIP LOCKED`."""

import random
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.models import (
    Assignment,
    AssignmentStatus,
    Guideline,
    Project,
    Task,
    TaskKind,
    TaskStatus,
)
from labeling.services.errors import FieldError, conflict, invalid

# How many locked-but-full tasks one claim steps over before giving up; only matters under heavy contention.
MAX_CLAIM_ATTEMPTS = 16
MAX_SKIP_REASON = 500
# Live leases one labeler may hold in a project: the task they work on, and one prefetched (see `prefetch`).
MAX_LIVE_LEASES = 2


def _active_leases(task_ref, now: datetime):
    return Assignment.objects.filter(task=task_ref, status=AssignmentStatus.ACTIVE, expires_at__gt=now)


def _claim_from_pool(
    user: AbstractBaseUser,
    project: Project,
    *,
    gold: bool,
    now: datetime,
    skip_locked: bool,
    exclude_tasks: Sequence[int] = (),
) -> Assignment | None:
    done_by_user = Assignment.objects.filter(
        user=user, task__project=project, status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED]
    ).values("task_id")
    active = Subquery(
        _active_leases(OuterRef("pk"), now).values("task").annotate(n=Count("id")).values("n")[:1]
    )
    current_guideline = Guideline.objects.filter(project=project).order_by("-version").values("id")[:1]
    tasks = Task.objects.filter(project=project, status=TaskStatus.OPEN, is_gold=gold)
    if exclude_tasks:  # the tasks the labeler holds a live lease on (a prefetch leases a different one)
        tasks = tasks.exclude(pk__in=exclude_tasks)
    if not project.prompt_tasks_enabled:
        tasks = tasks.exclude(kind=TaskKind.PROMPT)
    with_room = (
        tasks.exclude(pk__in=done_by_user)
        .alias(active=Coalesce(active, 0))
        .filter(required_annotations__gt=F("completed_count") + F("active"))
    )
    queue = (
        with_room.annotate(guideline_id=Subquery(current_guideline))
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
                # After waiting for a row lock, PostgreSQL re-checks a row that a submission updated meanwhile
                # (completed_count + 1) against the statement's older view of the leases (that submission's
                # lease still live), and drops a task that has room. A fresh statement sees both: look again
                # while one says some task has room (bounded by MAX_CLAIM_ATTEMPTS, like stepping over).
                if skip_locked or not with_room.exclude(pk__in=stepped_over).exists():
                    return None
                continue
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


def _live_leases_of(user: AbstractBaseUser, project: Project, now: datetime) -> list[Assignment]:
    """The labeler's unexpired leases in the project, oldest first (at most the two a prefetch allows)."""
    return list(
        Assignment.objects.filter(
            user=user, task__project=project, status=AssignmentStatus.ACTIVE, expires_at__gt=now
        )
        .select_related("task__prompt")
        .order_by("leased_at", "id")[:MAX_LIVE_LEASES]
    )


def _held_answer(held: list[Assignment], prefetch: bool) -> Assignment | None:
    """The lease to hand back without claiming: the current one (oldest), or for a prefetch the extra one."""
    if prefetch:
        return held[1] if len(held) >= MAX_LIVE_LEASES else None
    return held[0] if held else None


def _lock_labeler(user: AbstractBaseUser) -> None:
    """Serialize one labeler's claims (two tabs, a prefetch racing a reload), so that the count of their live
    leases read next stays true until this transaction commits. FOR NO KEY UPDATE: rows that merely reference
    the user (their annotations, other leases) never wait on it, so a concurrent submission cannot deadlock."""
    list(
        get_user_model()
        .objects.filter(pk=user.pk)
        .select_for_update(no_key=connection.features.has_select_for_no_key_update)
        .values_list("pk", flat=True)
    )


def assignment_claim_next(
    *,
    user: AbstractBaseUser,
    project: Project,
    rng: random.Random | None = None,
    prefetch: bool = False,
) -> Assignment | None:
    """The labeler's next task in a project, as a lease; None when no work is left for them.

    A labeler with an unexpired lease in the project gets that one back (a reload never loses the task); with
    two (see `prefetch`), the older one: the task they are working on.
    Otherwise: open tasks that still need annotations and that this labeler has not submitted or skipped, by
    priority then age; gold tasks are served at the project's gold rate while any are open. Prompt-writing
    tasks are served only while the project has `prompt_tasks_enabled`.

    `prefetch=True` asks for the task after the current one, so a client can show it at once after a submit:
    with two live leases it returns the newer (the extra lease, not a third); with one it leases one more task
    (never the one already held); with none it leases like a plain call. So a labeler never holds more than
    MAX_LIVE_LEASES live leases in a project, and every claim still goes through the same SKIP LOCKED queue and
    exact re-check under the task's row lock: a prefetched lease counts against the task's redundancy like any.
    """
    now = timezone.now()
    gold_first = project.gold_rate > 0 and (rng or random).random() < project.gold_rate
    pools = (True, False) if gold_first else (False, True)
    # First skip tasks other claimers hold (fast, no waiting). Then, since a task that needs several labelers can
    # be held by one claimer while it still has room, wait for the locks in turn; in a new transaction, so that
    # no task lock taken in the first is held while waiting (no deadlock). Each starts by locking the labeler
    # and re-reading their live leases: a claim of theirs that committed in between is seen, never doubled.
    for skip_locked in (True, False):
        with transaction.atomic():
            _lock_labeler(user)
            held = _live_leases_of(user, project, now)
            found = _held_answer(held, prefetch)
            if found is not None:
                return found
            for gold in pools:
                assignment = _claim_from_pool(
                    user,
                    project,
                    gold=gold,
                    now=now,
                    skip_locked=skip_locked,
                    exclude_tasks=[a.task_id for a in held],
                )
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
