"""Reviews and completion counts: nobody reviews their own work; a task's count is always what its annotations
say (after submit, revise, accept, reject and lease expiry); revisions cannot pile `seconds_spent` past the cap."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.models import Assignment, Demonstration, Dialogue, Review, ReviewStatus, Role, Task, TaskStatus
from labeling.services.assignment import assignment_claim_next, leases_expire
from labeling.services.dialogues import dialogue_tasks_open
from labeling.services.submission import MAX_SECONDS_SPENT, assignment_submit
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, new_client_id

pytestmark = pytest.mark.django_db

CONVERSATION = [
    {"role": "user", "content": "Plan a day in Lisbon."},
    {"role": "assistant", "content": "Tram 28, then Belém."},
]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def demonstrate(project, user, text: str = "An answer.") -> Demonstration:
    lease = assignment_claim_next(user=user, project=project)
    assert lease is not None and lease.task.kind == "demonstration"
    result = assignment_submit(user=user, assignment_id=lease.pk, client_id=new_client_id(), text=text)
    return result.annotation


@pytest.fixture
def project():
    project = make_project(redundancy=1, dialogue_tasks_enabled=True)
    import_prompt_tasks(project, 1)
    return project


def test_a_reviewer_cannot_review_their_own_demonstration(project):
    reviewer = add_member(project, Role.REVIEWER)
    own = demonstrate(project, reviewer)
    for decision, comment in (("accept", ""), ("reject", "Not good.")):
        got = client_for(reviewer).post(
            f"/api/demonstrations/{own.pk}/review/", {"decision": decision, "comment": comment}, format="json"
        )
        assert got.status_code == 403, got.content
        assert got.json()["code"] == "own_work"
    own.refresh_from_db()
    assert own.review_status == ReviewStatus.PENDING and not Review.objects.exists()
    # The project's admin is not above the rule either; another reviewer may review it.
    admin = project.memberships.get(role=Role.ADMIN).user
    other = add_member(project, Role.REVIEWER)
    got = client_for(other).post(
        f"/api/demonstrations/{own.pk}/review/", {"decision": "accept"}, format="json"
    )
    assert got.status_code == 201, got.content
    import_prompt_tasks(project, 1, prefix="admin")
    admins = demonstrate(project, admin)
    got = client_for(admin).post(f"/api/demonstrations/{admins.pk}/review/", {"decision": "accept"})
    assert got.status_code == 403 and got.json()["code"] == "own_work"


def test_a_reviewer_cannot_review_their_own_dialogue(project):
    reviewer = add_member(project, Role.REVIEWER)
    (task,) = dialogue_tasks_open(project=project, count=1)
    lease = Assignment.objects.get(pk=_claim_kind(project, reviewer, "dialogue"))
    assignment_submit(user=reviewer, assignment_id=lease.pk, client_id=new_client_id(), messages=CONVERSATION)
    dialogue = Dialogue.objects.get(task=task)
    got = client_for(reviewer).post(f"/api/dialogues/{dialogue.pk}/review/", {"decision": "accept"})
    assert got.status_code == 403 and got.json()["code"] == "own_work"
    dialogue.refresh_from_db()
    assert dialogue.review_status == ReviewStatus.PENDING and not Review.objects.exists()


def _claim_kind(project, user, kind: str) -> int:
    """Claim until a task of `kind` comes up (skipping others) and return its assignment id."""
    from labeling.services.assignment import assignment_skip

    for _ in range(10):
        lease = assignment_claim_next(user=user, project=project)
        assert lease is not None
        if lease.task.kind == kind:
            return lease.pk
        assignment_skip(user=user, assignment=lease, reason="not now")
    raise AssertionError(f"no {kind} task")


def test_reject_then_revise_then_accept_counts_the_demonstration_once(project):
    """Finding 6: the task must not stay at 0 and collect annotations it does not need."""
    labeler, reviewer = add_member(project), add_member(project, Role.REVIEWER)
    demo = demonstrate(project, labeler)
    task = Task.objects.get(pk=demo.task_id)
    assert (task.completed_count, task.status) == (1, TaskStatus.COMPLETE)
    reviewing = client_for(reviewer)
    url = f"/api/demonstrations/{demo.pk}/review/"
    assert reviewing.post(url, {"decision": "reject", "comment": "Too short."}).status_code == 201
    task.refresh_from_db()
    assert (task.completed_count, task.status) == (0, TaskStatus.OPEN)
    revised = client_for(labeler).post(
        f"/api/assignments/{demo.assignment_id}/revise/",
        {"client_id": new_client_id(), "text": "A longer, better answer.", "seconds_spent": 30},
        format="json",
    )
    assert revised.status_code == 200, revised.content
    task.refresh_from_db()
    # Pending again, so it counts again (as a fresh submission does): the task is complete.
    assert (task.completed_count, task.status) == (1, TaskStatus.COMPLETE)
    assert reviewing.post(url, {"decision": "accept"}).status_code == 201
    task.refresh_from_db()
    assert (task.completed_count, task.status) == (1, TaskStatus.COMPLETE)
    # Nobody else is served the task: it has the one annotation it needs.
    assert assignment_claim_next(user=add_member(project), project=project) is None


def test_the_count_is_recomputed_from_the_annotations(project):
    from labeling.services.completion import task_recount

    labeler = add_member(project)
    demo = demonstrate(project, labeler)
    # A count that drifted (an old bug, a manual edit) is put right by the next recount.
    Task.objects.filter(pk=demo.task_id).update(completed_count=7, status=TaskStatus.OPEN)
    assert task_recount(Task.objects.get(pk=demo.task_id)) == (1, TaskStatus.COMPLETE)
    Demonstration.objects.filter(pk=demo.pk).update(review_status=ReviewStatus.REJECTED)
    assert task_recount(Task.objects.get(pk=demo.task_id)) == (0, TaskStatus.OPEN)
    # A closed task stays closed whatever its count.
    Task.objects.filter(pk=demo.task_id).update(status=TaskStatus.CLOSED)
    assert task_recount(Task.objects.get(pk=demo.task_id)) == (0, TaskStatus.CLOSED)


def test_lease_expiry_recounts_the_tasks_it_touches(project):
    labeler, late = add_member(project), add_member(project)
    demo = demonstrate(project, labeler)
    Task.objects.filter(pk=demo.task_id).update(completed_count=0, status=TaskStatus.OPEN)
    lease = Assignment.objects.create(
        task_id=demo.task_id,
        user=late,
        leased_at=timezone.now() - timedelta(hours=2),
        expires_at=timezone.now() - timedelta(hours=1),
    )
    assert leases_expire() == 1
    lease.refresh_from_db()
    task = Task.objects.get(pk=demo.task_id)
    assert lease.status == "expired" and (task.completed_count, task.status) == (1, TaskStatus.COMPLETE)


def test_revisions_cannot_pile_seconds_spent_past_the_cap():
    """Finding 9: each revision's seconds are within the cap, but their sum must be too."""
    project = make_project(redundancy=2)
    import_prompt_tasks(project, 1)
    labeler = add_member(project)
    demo = demonstrate(project, labeler)
    client = client_for(labeler)
    url = f"/api/assignments/{demo.assignment_id}/revise/"
    body = {"client_id": new_client_id(), "text": "Revised.", "seconds_spent": MAX_SECONDS_SPENT - 10}
    assert client.post(url, body, format="json").status_code == 200
    over = client.post(
        url, {"client_id": new_client_id(), "text": "Again.", "seconds_spent": 60}, format="json"
    )
    assert over.status_code == 400, over.content
    assert over.json()["errors"][0]["field"] == "seconds_spent"
    demo.refresh_from_db()
    assert demo.seconds_spent <= MAX_SECONDS_SPENT and demo.text == "Revised."
    # What still fits is taken.
    assert (
        client.post(
            url, {"client_id": new_client_id(), "text": "Last.", "seconds_spent": 10}, format="json"
        ).status_code
        == 200
    )
    demo.refresh_from_db()
    assert demo.seconds_spent == MAX_SECONDS_SPENT
