"""Uncertainty-driven selection on the labeling side: the claim serves the stored priorities, its queue query stays
an index scan, disagreeing labelers get one more labeler up to the cap, and the settings are checked."""

import json
import random

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.models import Role, Selection, Task, TaskKind, TaskStatus
from labeling.services.assignment import assignment_claim_next, queue_query
from labeling.services.errors import ServiceError
from labeling.services.projects import project_update
from labeling.services.redundancy import rankings_agreement
from labeling.services.submission import ranking_submit
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, new_client_id


def _submit(assignment, order: list[int] | None = None) -> None:
    """Rank the task's answers in candidate-id order, or in the given order of their positions (0 = lowest id)."""
    ids = sorted(assignment.task.task_candidates.values_list("candidate_id", flat=True))
    order = order if order is not None else list(range(len(ids)))
    ranking_submit(
        user=assignment.user,
        assignment_id=assignment.pk,
        client_id=new_client_id(),
        tiers=[[ids[i]] for i in order],
    )


@pytest.mark.django_db
def test_under_uncertainty_the_claim_serves_tasks_in_the_stored_priority_order():
    project = make_project(selection=Selection.UNCERTAINTY)
    import_ranking_tasks(project, 12)
    tasks = list(project.tasks.order_by("id"))
    rng = random.Random(3)
    for task in tasks:  # as a scoring job leaves them: some ties, broken by age then id
        task.priority = rng.choice([0, 250_000, 500_000, 999_999])
    Task.objects.bulk_update(tasks, ["priority"])
    expected = [t.pk for t in sorted(tasks, key=lambda t: (-t.priority, t.created_at, t.pk))]

    labeler = add_member(project)
    served = []
    while (lease := assignment_claim_next(user=labeler, project=project)) is not None:
        served.append(lease.task_id)
        _submit(lease)
    assert served == expected


def _plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.django_db
def test_the_claims_queue_query_is_an_index_scan_on_the_task_queue_index():
    assert connection.vendor == "postgresql"
    project = make_project(selection=Selection.UNCERTAINTY, redundancy=2)
    other = make_project()
    now = timezone.now()
    rng = random.Random(1)
    rows = []
    for target, n in ((project, 4000), (other, 2000)):
        for i in range(n):
            status = TaskStatus.COMPLETE if i % 3 == 0 else TaskStatus.OPEN
            rows.append(
                Task(
                    project=target,
                    kind=TaskKind.RANKING,
                    priority=rng.randrange(1_000_000),
                    required_annotations=2,
                    status=status,
                    is_gold=i % 50 == 0,
                )
            )
    Task.objects.bulk_create(rows, batch_size=2000)
    labeler = add_member(project)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labeling_task")
        cursor.execute("ANALYZE labeling_assignment")
        for gold in (False, True):
            sql, params = queue_query(
                labeler, project, gold=gold, now=now, lock="skip", exclude_tasks=[rows[1].pk]
            )
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            raw = cursor.fetchone()[0]
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            nodes = list(_plan_nodes(plan))
            on_tasks = [n for n in nodes if n.get("Relation Name") == "labeling_task"]
            assert [(n["Node Type"], n.get("Index Name")) for n in on_tasks] == [
                ("Index Scan", "task_queue_idx")
            ], json.dumps(plan, indent=1)
            assert not any(n["Node Type"] in ("Sort", "Incremental Sort") for n in nodes), json.dumps(plan)
            assert not any(
                n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "labeling_task" for n in nodes
            )


def test_rankings_agreement_pools_answer_pairs():
    assert rankings_agreement([[[1], [2], [3], [4]]]) is None
    assert rankings_agreement([[[1], [2], [3], [4]], [[1], [2], [3], [4]]]) == 1.0
    assert rankings_agreement([[[1], [2], [3], [4]], [[4], [3], [2], [1]]]) == 0.0
    # One swapped pair of six; a third ranking equal to the first: (5 + 6 + 5) / 18.
    a, b = [[1], [2], [3], [4]], [[2], [1], [3], [4]]
    assert rankings_agreement([a, b, a]) == pytest.approx(16 / 18)


@pytest.mark.django_db
def test_disagreement_raises_redundancy_up_to_the_cap_and_no_further():
    project = make_project(selection=Selection.UNCERTAINTY, redundancy=2, max_redundancy=3)
    import_ranking_tasks(project, 2)
    disputed, settled = project.tasks.order_by("id")
    labelers = [add_member(project) for _ in range(4)]

    def claim(user, task):
        lease = assignment_claim_next(user=user, project=project)
        assert lease is not None and lease.task_id == task.pk
        return lease

    # Two labelers agree on `settled` except for one pair (5 of 6 pairs): it completes at 2.
    Task.objects.filter(pk=settled.pk).update(priority=10)
    _submit(claim(labelers[0], settled), [0, 1, 2, 3])
    _submit(claim(labelers[1], settled), [1, 0, 2, 3])
    settled.refresh_from_db()
    assert (settled.required_annotations, settled.completed_count, settled.status) == (
        2,
        2,
        TaskStatus.COMPLETE,
    )

    # Two labelers rank `disputed` in opposite orders: it needs a third labeler and opens again.
    _submit(claim(labelers[0], disputed), [0, 1, 2, 3])
    disputed.refresh_from_db()
    assert (disputed.required_annotations, disputed.status) == (2, TaskStatus.OPEN)
    _submit(claim(labelers[1], disputed), [3, 2, 1, 0])
    disputed.refresh_from_db()
    assert (disputed.required_annotations, disputed.completed_count, disputed.status) == (
        3,
        2,
        TaskStatus.OPEN,
    )

    # The third labeler gets it; the three still disagree, but 3 is the cap: complete, and no fourth.
    _submit(claim(labelers[2], disputed), [1, 3, 0, 2])
    disputed.refresh_from_db()
    assert (disputed.required_annotations, disputed.completed_count, disputed.status) == (
        3,
        3,
        TaskStatus.COMPLETE,
    )
    assert assignment_claim_next(user=labelers[3], project=project) is None


@pytest.mark.django_db
def test_uniform_selection_and_no_cap_change_nothing():
    for settings in (
        {"selection": Selection.UNIFORM, "max_redundancy": 3},
        {"selection": Selection.UNCERTAINTY},
    ):
        project = make_project(redundancy=2, **settings)
        import_ranking_tasks(project, 1)
        task = project.tasks.get()
        Task.objects.filter(pk=task.pk).update(priority=42)
        for labeler, order in ((add_member(project), [0, 1, 2, 3]), (add_member(project), [3, 2, 1, 0])):
            _submit(assignment_claim_next(user=labeler, project=project), order)
        task.refresh_from_db()
        assert (task.required_annotations, task.status, task.priority) == (2, TaskStatus.COMPLETE, 42)


@pytest.mark.django_db
def test_gold_tasks_never_get_extra_labelers():
    project = make_project(selection=Selection.UNCERTAINTY, redundancy=2, max_redundancy=4)
    import_ranking_tasks(project, 1)
    Task.objects.filter(project=project).update(is_gold=True)
    task = project.tasks.get()
    project.gold_rate = 1.0
    project.save(update_fields=["gold_rate"])
    for order in ([0, 1, 2, 3], [3, 2, 1, 0]):
        _submit(assignment_claim_next(user=add_member(project), project=project), order)
    task.refresh_from_db()
    assert (task.required_annotations, task.status) == (2, TaskStatus.COMPLETE)


@pytest.mark.django_db
def test_selection_settings_are_checked():
    project = make_project(redundancy=2)
    assert (project.selection, project.max_redundancy) == (Selection.UNIFORM, None)
    with pytest.raises(ServiceError) as info:
        project_update(project=project, max_redundancy=1)
    assert [e.field for e in info.value.errors] == ["max_redundancy"]
    assert "between the labelers per task (2) and 20" in info.value.errors[0].message
    project_update(project=project, selection=Selection.UNCERTAINTY, max_redundancy=3)
    # Raising the labelers per task above the cap is refused too, naming the cap.
    with pytest.raises(ServiceError) as info:
        project_update(project=project, redundancy=4)
    assert [e.field for e in info.value.errors] == ["max_redundancy"]
    project_update(project=project, redundancy=4, max_redundancy=None)

    admin = project.memberships.get(role=Role.ADMIN).user
    client = APIClient()
    client.force_authenticate(admin)
    url = f"/api/projects/{project.pk}/"
    bad = client.patch(url, {"selection": "random", "max_redundancy": 99}, format="json")
    assert bad.status_code == 400
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"selection", "max_redundancy"}
    bad = client.patch(url, {"max_redundancy": 3}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "max_redundancy"
    ok = client.patch(url, {"selection": "uncertainty", "max_redundancy": 6}, format="json")
    assert ok.status_code == 200, ok.json()
    assert (ok.json()["selection"], ok.json()["max_redundancy"]) == ("uncertainty", 6)
    assert client.get(url).json()["selection"] == "uncertainty"
