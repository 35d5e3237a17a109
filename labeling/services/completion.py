"""A task's completion count and status, derived from its stored annotations in one place.

A task counts its annotations of its own kind: every ranking and written prompt, and every demonstration and
dialogue that is not rejected (pending counts, as a fresh submission does; gold tasks count the same way). The
status follows: complete once the count reaches `required_annotations`, open below it; a closed task stays
closed. Submit, revise, review and lease expiry all call `task_recount` instead of adding or subtracting, so no
sequence of them (reject, revise, accept, …) can leave the count out of step with the facts.

A ranking task that becomes complete while its labelers disagree may need one annotation more and open again
(projects with `selection = uncertainty`; see `redundancy`).
"""

from django.db import connection

from labeling.models import (
    Demonstration,
    Dialogue,
    Ranking,
    ReviewStatus,
    Task,
    TaskKind,
    TaskStatus,
    WrittenPrompt,
)
from labeling.services.redundancy import disagreement_redundancy_raise

_COUNTED: dict[str, tuple[str, str]] = {
    TaskKind.RANKING: (Ranking._meta.db_table, ""),
    TaskKind.PROMPT: (WrittenPrompt._meta.db_table, ""),
    TaskKind.DEMONSTRATION: (
        Demonstration._meta.db_table,
        f" AND a.review_status <> '{ReviewStatus.REJECTED.value}'",
    ),
    TaskKind.DIALOGUE: (Dialogue._meta.db_table, f" AND a.review_status <> '{ReviewStatus.REJECTED.value}'"),
}
_TASK = Task._meta.db_table
# One statement per kind, on the hot path of every submission: no read-modify-write round trip, and one count
# of the kind's own table (one probe of its task index). UPDATE … FROM: PostgreSQL, and SQLite 3.33+.
_RECOUNT_SQL = {
    kind: f"""
UPDATE {_TASK} SET completed_count = c.n,
       status = CASE WHEN status = %s THEN status WHEN c.n >= required_annotations THEN %s ELSE %s END
FROM (SELECT count(*) AS n FROM {table} a WHERE a.task_id = %s{extra}) AS c
WHERE {_TASK}.id = %s
RETURNING completed_count, status
"""
    for kind, (table, extra) in _COUNTED.items()
}


def task_recount(task: Task) -> tuple[int, str]:
    """Recompute the task's `completed_count` and status from its annotations; returns both (and sets them on
    `task`). Needs only the task's id and kind.

    Call it holding the task's row lock (every writer of a task's annotations takes it first), so the count
    read here cannot miss an annotation committed meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute(
            _RECOUNT_SQL[task.kind],
            [TaskStatus.CLOSED, TaskStatus.COMPLETE, TaskStatus.OPEN, task.pk, task.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Task.DoesNotExist(f"Task {task.pk} does not exist.")
    task.completed_count, task.status = row
    if task.kind == TaskKind.RANKING and task.status == TaskStatus.COMPLETE:
        disagreement_redundancy_raise(task)
    return task.completed_count, task.status
