"""Dashboard and labeler figures computed in SQL agree with the same figures taken in Python."""

from datetime import timedelta
from statistics import median

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labeling.annotation_stats import annotations_per_hour, labeler_figures, median_seconds_by_user
from labeling.models import Demonstration, Ranking
from labeling.selectors import labeler_stats, project_dashboard
from labeling.services.assignment import assignment_claim_next
from labeling.services.submission import assignment_submit
from labeling.tests.factories import (
    add_member,
    import_prompt_tasks,
    import_ranking_tasks,
    make_project,
    new_client_id,
)


def _work(project, user, seconds: list[float]) -> None:
    for spent in seconds:
        lease = assignment_claim_next(user=user, project=project)
        work = (
            {"tiers": [[c] for c in lease.task.task_candidates.values_list("candidate_id", flat=True)]}
            if lease.task.kind == "ranking"
            else {"text": "An answer."}
        )
        assignment_submit(
            user=user, assignment_id=lease.pk, client_id=new_client_id(), seconds_spent=spent, **work
        )


@pytest.mark.django_db
def test_medians_counts_and_hours_over_all_kinds():
    project = make_project(redundancy=2)
    import_ranking_tasks(project, 3)
    import_prompt_tasks(project, 3)
    a, b = add_member(project), add_member(project)
    _work(project, a, [10, 40, 25, 7.5])  # rankings first (priority equal: oldest first), then demonstrations
    _work(project, b, [3, 90, 12])
    Ranking.objects.filter(user=b).update(created_at=timezone.now() - timedelta(days=3))

    expected = {
        user.pk: median(
            list(Ranking.objects.filter(user=user).values_list("seconds_spent", flat=True))
            + list(Demonstration.objects.filter(user=user).values_list("seconds_spent", flat=True))
        )
        for user in (a, b)
    }
    assert median_seconds_by_user(project.pk) == pytest.approx(expected)
    today = timezone.now() - timedelta(hours=1)
    recent_b = Demonstration.objects.filter(user=b).count()
    assert labeler_figures(b.pk, project.pk, today) == (recent_b, 3, pytest.approx(expected[b.pk]))
    assert labeler_figures(a.pk, project.pk, today) == (4, 4, pytest.approx(17.5))
    hours = annotations_per_hour(project.pk, timezone.now() - timedelta(hours=2))
    assert sum(hours.values()) == 4 + recent_b

    stats = labeler_stats(a, project)
    assert (stats["submitted_total"], stats["median_seconds"]) == (4, 17.5)
    # The labeler's figures: the two grouped queries and the progress count, whatever the number of annotations
    # or kinds.
    with CaptureQueriesContext(connection) as queries:
        labeler_stats(b, project)
    assert len(queries) == 3
    board = project_dashboard(project, hours=72)
    by_user = {row["user_id"]: row for row in board["labelers"]}
    assert by_user[b.pk]["median_seconds"] == round(expected[b.pk], 1)
    assert sum(h["count"] for h in board["annotations_per_hour"]) == 4 + recent_b  # 3 days ago is out
