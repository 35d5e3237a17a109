"""One more labeler for a ranking task whose labelers disagree (projects with `selection = uncertainty`).

When a non-gold ranking task reaches its required annotations, the pooled pairwise agreement of its rankings
(see `agreement.pair_agreement`: every answer pair of every two rankings, ties agreeing only with ties) is
compared with DISAGREEMENT_THRESHOLD. Below it, and while `required_annotations` is under the project's
`max_redundancy`, the task needs one annotation more and opens again, so the claim serves it to another
labeler. Each time it fills up it is judged again, never beyond the cap. Unrankable rankings count nowhere.
"""

from collections.abc import Sequence
from itertools import combinations

from django.db import connection

from labeling.models import Project, Ranking, Selection, Task, TaskStatus
from labeling.services.agreement import Tiers, pair_agreement

# Two rankings of 4 answers that differ on one pair of 6 agree at 0.83; on two pairs, 0.67.
DISAGREEMENT_THRESHOLD = 0.75

_SETTINGS_SQL = f"""
SELECT t.required_annotations, t.is_gold, p.selection, p.max_redundancy
FROM {Task._meta.db_table} t JOIN {Project._meta.db_table} p ON p.id = t.project_id WHERE t.id = %s
"""
_RAISE_SQL = f"""
UPDATE {Task._meta.db_table} SET required_annotations = required_annotations + 1, status = %s
WHERE id = %s AND status = %s AND required_annotations < %s
RETURNING required_annotations, status
"""


def rankings_agreement(rankings: Sequence[Tiers]) -> float | None:
    """Pooled pairwise agreement of a task's rankings; None when fewer than two rank any answer pair."""
    agree = pairs = 0
    for a, b in combinations(rankings, 2):
        x, n = pair_agreement(a, b)
        agree, pairs = agree + x, pairs + n
    return agree / pairs if pairs else None


def disagreement_redundancy_raise(task: Task) -> bool:
    """Raise a complete ranking task's `required_annotations` by one (reopening it) if its labelers disagree and
    its project allows more (see the module doc). Returns whether it did; updates `task`.

    Call it holding the task's row lock, after `task_recount` found the task complete."""
    with connection.cursor() as cursor:
        cursor.execute(_SETTINGS_SQL, [task.pk])
        required, is_gold, selection, cap = cursor.fetchone()
    if selection != Selection.UNCERTAINTY or is_gold or cap is None or required >= cap:
        return False
    tiers = (
        Ranking.objects.filter(task_id=task.pk, unrankable=False)
        .order_by("id")
        .values_list("tiers", flat=True)
    )
    agreement = rankings_agreement(list(tiers))
    if agreement is None or agreement >= DISAGREEMENT_THRESHOLD:
        return False
    with connection.cursor() as cursor:
        cursor.execute(_RAISE_SQL, [TaskStatus.OPEN, task.pk, TaskStatus.COMPLETE, cap])
        row = cursor.fetchone()
    if row is None:
        return False
    task.required_annotations, task.status = row
    return True
