"""Handing out work: leases on tasks, claimed with `SELECT … FOR UPDATE SKIP LOCKED`."""

import json
import random
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from labeling.models import (
    Assignment,
    AssignmentStatus,
    Project,
    Prompt,
    Task,
    TaskKind,
    TaskStatus,
)
from labeling.services.completion import task_recount
from labeling.services.errors import FieldError, conflict, invalid

# How many locked-but-full tasks one claim steps over before giving up; only matters under heavy contention.
MAX_CLAIM_ATTEMPTS = 16
MAX_SKIP_REASON = 500
# Live leases one labeler may hold in a project: the task they work on, and one prefetched (see `prefetch`).
MAX_LIVE_LEASES = 2


# The claim is the hot path of every labeler (thousands of calls an hour), so its three statements are written in
# SQL: building the equivalent querysets cost more time in the ORM than PostgreSQL spent running them. The SQL is
# plain enough for SQLite (the embedded demo), where the row-locking clauses are left out: SQLite serializes
# writers, so there is nothing to lock against.

_QUEUE_SQL = """
SELECT t.*, p.messages AS prompt_messages,
       (SELECT g.id FROM labeling_guideline g WHERE g.project_id = t.project_id
        ORDER BY g.version DESC LIMIT 1) AS current_guideline_id
FROM labeling_task t LEFT JOIN labeling_prompt p ON p.id = t.prompt_id
WHERE t.project_id = %s AND t.status = %s AND t.is_gold = %s {extra}
  -- NOT EXISTS probes the (task, user) unique index for each task the queue walks past.
  AND NOT EXISTS (SELECT 1 FROM labeling_assignment d
                  WHERE d.task_id = t.id AND d.user_id = %s AND d.status IN (%s, %s))
  AND t.required_annotations > t.completed_count + (
        SELECT count(*) FROM labeling_assignment a
        WHERE a.task_id = t.id AND a.status = %s AND a.expires_at > %s)
ORDER BY t.priority DESC, t.created_at, t.id
LIMIT 1 {lock}
"""

# The lease, written only if the task still has room: run after the task's row lock is taken, this statement's
# fresh snapshot sees every claim of the task that committed before, so a task is never leased beyond its
# redundancy. One row per task and labeler: the labeler's own expired lease on this task is renewed in place.
_LEASE_SQL = """
INSERT INTO labeling_assignment
       (task_id, user_id, status, guideline_id, leased_at, expires_at, finished_at, skip_reason)
SELECT %s, %s, %s, %s, %s, %s, NULL, ''
WHERE %s + (SELECT count(*) FROM labeling_assignment a
            WHERE a.task_id = %s AND a.status = %s AND a.expires_at > %s AND a.user_id <> %s) < %s
ON CONFLICT (task_id, user_id) DO UPDATE SET
       status = excluded.status, guideline_id = excluded.guideline_id, leased_at = excluded.leased_at,
       expires_at = excluded.expires_at, finished_at = NULL
RETURNING id
"""

_LIVE_LEASES_SQL = """
SELECT a.id, a.task_id FROM labeling_assignment a JOIN labeling_task t ON t.id = a.task_id
WHERE a.user_id = %s AND t.project_id = %s AND a.status = %s AND a.expires_at > %s
ORDER BY a.leased_at, a.id LIMIT %s
"""


def _db_time(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _disabled_kinds(project: Project) -> list[str]:
    kinds = [] if project.prompt_tasks_enabled else [TaskKind.PROMPT]
    return kinds if project.dialogue_tasks_enabled else [*kinds, TaskKind.DIALOGUE]


def served_kinds_filter(project: Project) -> Q:
    """Tasks of the kinds the project serves to labelers now (the claim's own rule, for counting them)."""
    kinds = _disabled_kinds(project)
    return ~Q(kind__in=kinds) if kinds else Q()


def queue_query(
    user: AbstractBaseUser,
    project: Project,
    *,
    gold: bool,
    now: datetime,
    lock: str | None,
    exclude_tasks: Sequence[int] = (),
) -> tuple[str, list]:
    """The SQL and parameters of the claim's queue statement (see `_next_in_queue`)."""
    extra, params = "", [project.pk, TaskStatus.OPEN, gold]
    if kinds := _disabled_kinds(project):
        extra += f" AND t.kind NOT IN ({', '.join(['%s'] * len(kinds))})"
        params += kinds
    if exclude_tasks:
        extra += f" AND t.id NOT IN ({', '.join(['%s'] * len(exclude_tasks))})"
        params += list(exclude_tasks)
    params += [
        user.pk,
        AssignmentStatus.SUBMITTED,
        AssignmentStatus.SKIPPED,
        AssignmentStatus.ACTIVE,
        _db_time(now),
    ]
    clause = ""
    if lock and connection.features.has_select_for_update:
        clause = "FOR UPDATE OF t SKIP LOCKED" if lock == "skip" else "FOR UPDATE OF t"
    return _QUEUE_SQL.format(extra=extra, lock=clause), params


def _next_in_queue(
    user: AbstractBaseUser,
    project: Project,
    *,
    gold: bool,
    now: datetime,
    lock: str | None,
    exclude_tasks: Sequence[int],
) -> Task | None:
    """The first task of the queue with room for this labeler (or None), row-locked when `lock` is "skip"
    (SKIP LOCKED: pass over tasks other claimers hold) or "wait" (wait for their locks)."""
    sql, params = queue_query(user, project, gold=gold, now=now, lock=lock, exclude_tasks=exclude_tasks)
    task = next(iter(Task.objects.raw(sql, params)), None)
    if task is not None and task.prompt_id is not None:
        messages = task.prompt_messages
        # Only the conversation is loaded; the prompt's other fields load on access, as with `.only()`.
        if isinstance(messages, str):  # the backends hand JSON columns of raw queries back as text
            messages = json.loads(messages)
        task.prompt = Prompt.from_db(connection.alias, ["id", "messages"], [task.prompt_id, messages])
    return task


def _lease(task: Task, user: AbstractBaseUser, project: Project, now: datetime) -> Assignment | None:
    """Lease the locked task to the labeler if it still has room; None if it has filled up meanwhile."""
    expires_at = now + timedelta(seconds=project.lease_seconds)
    active = AssignmentStatus.ACTIVE
    params = [task.pk, user.pk, active, task.current_guideline_id, _db_time(now), _db_time(expires_at)]
    params += [task.completed_count, task.pk, active, _db_time(now), user.pk, task.required_annotations]
    with connection.cursor() as cursor:
        cursor.execute(_LEASE_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return None
    lease = Assignment(
        pk=row[0],
        task=task,
        user=user,
        status=active,
        guideline_id=task.current_guideline_id,
        leased_at=now,
        expires_at=expires_at,
        finished_at=None,
    )
    lease._state.adding = False
    return lease


def _claim_from_pool(
    user: AbstractBaseUser,
    project: Project,
    *,
    gold: bool,
    now: datetime,
    skip_locked: bool,
    exclude_tasks: Sequence[int] = (),
) -> Assignment | None:
    stepped_over: list[int] = []
    for _ in range(MAX_CLAIM_ATTEMPTS):
        # When waiting for locks, a savepoint per attempt: rolling it back releases the lock on a task we step
        # over, so nobody waits on it. Skipping claimers never wait, so they need none.
        with nullcontext() if skip_locked else transaction.atomic():
            passed = [*exclude_tasks, *stepped_over]
            lock = "skip" if skip_locked else "wait"
            task = _next_in_queue(user, project, gold=gold, now=now, lock=lock, exclude_tasks=passed)
            if task is None:
                # After waiting for a row lock, PostgreSQL re-checks a row that a submission updated meanwhile
                # (completed_count + 1) against the statement's older view of the leases (that submission's
                # lease still live), and drops a task that has room. A fresh statement sees both: look again
                # while one says some task has room (bounded by MAX_CLAIM_ATTEMPTS, like stepping over).
                if skip_locked or not _next_in_queue(
                    user, project, gold=gold, now=now, lock=None, exclude_tasks=passed
                ):
                    return None
                continue
            lease = _lease(task, user, project, now)
            if lease is not None:
                return lease
            stepped_over.append(task.pk)
            if not skip_locked:
                transaction.set_rollback(True)
    return None


def _live_leases_of(user: AbstractBaseUser, project: Project, now: datetime) -> list[tuple[int, int]]:
    """(assignment id, task id) of the labeler's unexpired leases in the project, oldest first (at most the two
    a prefetch allows)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _LIVE_LEASES_SQL, [user.pk, project.pk, AssignmentStatus.ACTIVE, _db_time(now), MAX_LIVE_LEASES]
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


def _held_answer(held: list[tuple[int, int]], prefetch: bool) -> Assignment | None:
    """The lease to hand back without claiming: the current one (oldest), or for a prefetch the extra one."""
    index = MAX_LIVE_LEASES - 1 if prefetch else 0
    if len(held) <= index:
        return None
    return Assignment.objects.select_related("task__prompt").get(pk=held[index][0])


def _lock_labeler(user: AbstractBaseUser) -> None:
    """Serialize one labeler's claims (two tabs, a prefetch racing a reload), so that the count of their live
    leases read next stays true until this transaction commits. FOR NO KEY UPDATE: rows that merely reference
    the user (their annotations, other leases) never wait on it, so a concurrent submission cannot deadlock."""
    if not connection.features.has_select_for_update:
        return
    mode = "NO KEY UPDATE" if connection.features.has_select_for_no_key_update else "UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {get_user_model()._meta.db_table} WHERE id = %s FOR {mode}", [user.pk]
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
    tasks are served only while the project has `prompt_tasks_enabled`, dialogue tasks only while it has
    `dialogue_tasks_enabled`.

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
                    exclude_tasks=[task_id for _, task_id in held],
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
    """Mark leases past their expiry as expired, and recount each task they were on. Claims already ignore
    expired leases; the recount puts right a count that drifted. One short transaction per task, locking the
    task first as submissions do."""
    now = now or timezone.now()
    overdue = Q(status=AssignmentStatus.ACTIVE) & Q(expires_at__lte=now)
    task_ids = sorted(set(Assignment.objects.filter(overdue).values_list("task_id", flat=True)))
    expired = 0
    for task_id in task_ids:
        with transaction.atomic():
            task = Task.objects.select_for_update().only("id", "kind").filter(pk=task_id).first()
            if task is None:
                continue
            expired += Assignment.objects.filter(overdue, task_id=task_id).update(
                status=AssignmentStatus.EXPIRED
            )
            task_recount(task)
    return expired
