"""Reviewers see who wrote the work by name, and can undo their own decision shortly after, while nothing has
followed it."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.auditlog.models import AuditEvent
from labeling.models import Demonstration, Review, ReviewStatus, Role, Task, TaskStatus
from labeling.services.assignment import assignment_claim_next
from labeling.services.dialogues import dialogue_tasks_open
from labeling.services.errors import ServiceError
from labeling.services.reviews import UNDO_WINDOW, review_undo
from labeling.services.submission import assignment_submit
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, make_user, new_client_id

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world():
    project = make_project(redundancy=1, dialogue_tasks_enabled=True)
    reviewer = add_member(project, Role.REVIEWER)
    alice = add_member(project, Role.LABELER, user=make_user(first_name="Alice", last_name="Liddell"))
    bob = add_member(project, Role.LABELER)
    return project, reviewer, alice, bob


def write_demonstration(project, labeler) -> Demonstration:
    import_prompt_tasks(project, 1, prefix=f"p{labeler.pk}-{Demonstration.objects.count()}")
    lease = assignment_claim_next(user=labeler, project=project)
    assignment_submit(user=labeler, assignment_id=lease.pk, client_id=new_client_id(), text="An answer.")
    return Demonstration.objects.get(assignment=lease)


def decide(reviewer, demonstration, decision: str, comment: str = "") -> int:
    got = client_for(reviewer).post(
        f"/api/demonstrations/{demonstration.pk}/review/",
        {"decision": decision, "comment": comment},
        format="json",
    )
    assert got.status_code == 201, got.content
    return got.json()["id"]


def undo(user, review_id: int):
    return client_for(user).post(f"/api/reviews/{review_id}/undo/")


def test_the_review_queue_names_the_labeler_in_one_query(world, django_assert_max_num_queries):
    project, reviewer, alice, bob = world
    for _ in range(3):
        write_demonstration(project, alice)
    write_demonstration(project, bob)
    dialogue_tasks_open(project=project, count=1)
    lease = assignment_claim_next(user=bob, project=project)
    conversation = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
    assignment_submit(user=bob, assignment_id=lease.pk, client_id=new_client_id(), messages=conversation)
    client = client_for(reviewer)
    client.get(f"/api/projects/{project.pk}/demonstrations/")  # warm the membership lookups
    with django_assert_max_num_queries(4):  # the role check, the page, the count
        got = client.get(f"/api/projects/{project.pk}/demonstrations/?review_status=pending")
    names = [d["user_name"] for d in got.json()["results"]]
    assert names == ["Alice Liddell"] * 3 + [bob.username]
    dialogues = client.get(f"/api/projects/{project.pk}/dialogues/").json()["results"]
    assert [d["user_name"] for d in dialogues] == [bob.username]


def test_undoing_a_rejection_puts_the_work_back_to_pending_and_recounts_the_task(world):
    project, reviewer, alice, _ = world
    demonstration = write_demonstration(project, alice)
    review_id = decide(reviewer, demonstration, "reject", "Too short.")
    task = Task.objects.get(pk=demonstration.task_id)
    assert task.status == TaskStatus.OPEN and task.completed_count == 0

    got = undo(reviewer, review_id)
    assert got.status_code == 200, got.content
    assert got.json() == {"demonstration": demonstration.pk, "dialogue": None, "review_status": "pending"}
    demonstration.refresh_from_db()
    task.refresh_from_db()
    assert demonstration.review_status == ReviewStatus.PENDING
    assert task.status == TaskStatus.COMPLETE and task.completed_count == 1
    assert not Review.objects.exists()
    # The labeler's history no longer shows the rejection; the audit log keeps the decision and its undo.
    [row] = client_for(alice).get("/api/assignments/").json()["results"]
    assert row["review_status"] == "pending" and row["review"] is None
    undone = AuditEvent.objects.filter(action="review").order_by("id").last()
    assert undone.details["undo"] == {"review_id": review_id, "decision": "reject"}
    # Twice is once: the review is gone.
    assert undo(reviewer, review_id).status_code == 404


def test_only_the_reviewer_who_decided_can_undo(world):
    project, reviewer, alice, _ = world
    other_reviewer = add_member(project, Role.REVIEWER)
    admin = project.memberships.get(role=Role.ADMIN).user
    outsider = make_user()
    demonstration = write_demonstration(project, alice)
    review_id = decide(reviewer, demonstration, "accept")

    assert undo(alice, review_id).status_code == 403  # a labeler of the project
    assert undo(outsider, review_id).status_code == 404  # not a member: the review is not there for them
    for someone in (other_reviewer, admin):
        got = undo(someone, review_id)
        assert got.status_code == 403 and got.json()["code"] == "not_your_review"
    demonstration.refresh_from_db()
    assert demonstration.review_status == ReviewStatus.ACCEPTED
    assert undo(reviewer, review_id).status_code == 200


def test_no_undo_once_the_window_has_passed(world):
    project, reviewer, alice, _ = world
    demonstration = write_demonstration(project, alice)
    review = Review.objects.get(pk=decide(reviewer, demonstration, "accept"))
    Review.objects.filter(pk=review.pk).update(
        created_at=timezone.now() - UNDO_WINDOW - timezone.timedelta(seconds=1)
    )
    got = undo(reviewer, review.pk)
    assert got.status_code == 409 and got.json()["code"] == "undo_too_late"
    demonstration.refresh_from_db()
    assert demonstration.review_status == ReviewStatus.ACCEPTED


def test_no_undo_once_the_labeler_revised_or_another_review_followed(world):
    project, reviewer, alice, _ = world
    demonstration = write_demonstration(project, alice)
    first = decide(reviewer, demonstration, "reject", "Say more.")
    revised = client_for(alice).post(
        f"/api/assignments/{demonstration.assignment_id}/revise/",
        {"client_id": new_client_id(), "text": "A longer answer."},
        format="json",
    )
    assert revised.status_code in (200, 201), revised.content
    got = undo(reviewer, first)
    assert got.status_code == 409 and got.json()["code"] == "review_superseded"

    second = decide(reviewer, Demonstration.objects.get(pk=demonstration.pk), "accept")
    assert undo(reviewer, first).json()["code"] == "review_superseded"  # not the latest review any more
    assert undo(reviewer, second).status_code == 200


def test_no_undo_of_a_rejection_once_another_labeler_took_the_reopened_task(world):
    project, reviewer, alice, bob = world
    demonstration = write_demonstration(project, alice)
    review_id = decide(reviewer, demonstration, "reject", "Off topic.")
    taken = assignment_claim_next(user=bob, project=project)
    assert taken.task_id == demonstration.task_id
    got = undo(reviewer, review_id)
    assert got.status_code == 409 and got.json()["code"] == "task_taken_up"
    demonstration.refresh_from_db()
    assert demonstration.review_status == ReviewStatus.REJECTED


def test_the_service_refuses_another_reviewer_too(world):
    project, reviewer, alice, _ = world
    demonstration = write_demonstration(project, alice)
    review = Review.objects.get(pk=decide(reviewer, demonstration, "accept"))
    with pytest.raises(ServiceError) as refused:
        review_undo(reviewer=alice, review=review)
    assert refused.value.code == "not_your_review" and refused.value.status == 403
