"""The labeler's history carries the review of their own demonstrations and dialogues, in one query per page."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from labeling.models import Demonstration, Dialogue, Role
from labeling.services.assignment import assignment_claim_next
from labeling.services.dialogues import dialogue_tasks_open
from labeling.services.reviews import demonstration_review, dialogue_review
from labeling.services.submission import assignment_submit
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, new_client_id

pytestmark = pytest.mark.django_db

CONVERSATION = [
    {"role": "user", "content": "Plan a day in Lisbon."},
    {"role": "assistant", "content": "Tram 28, then Belém."},
]


_batches = itertools.count(1)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def write_demonstrations(project, labeler, n: int) -> list[Demonstration]:
    import_prompt_tasks(project, n, prefix=f"p{next(_batches)}")
    for i in range(n):
        lease = assignment_claim_next(user=labeler, project=project)
        assert lease is not None and lease.task.kind == "demonstration"
        assignment_submit(
            user=labeler, assignment_id=lease.pk, client_id=new_client_id(), text=f"Answer {i}."
        )
    return list(Demonstration.objects.filter(user=labeler).order_by("id"))


def history(client) -> dict[int, dict]:
    got = client.get("/api/assignments/")
    assert got.status_code == 200, got.content
    return {row["id"]: row for row in got.json()["results"]}


@pytest.fixture
def world():
    project = make_project(redundancy=1, dialogue_tasks_enabled=True)
    reviewer = add_member(project, Role.REVIEWER)
    alice = add_member(project, Role.LABELER)
    bob = add_member(project, Role.LABELER)
    return project, reviewer, alice, bob


def test_a_rejection_and_its_comment_show_in_the_labelers_own_history_only(world):
    project, reviewer, alice, bob = world
    [demonstration] = write_demonstrations(project, alice, 1)
    demonstration_review(
        reviewer=reviewer, demonstration=demonstration, decision="reject", comment="Too short: say <why>."
    )
    mine = history(client_for(alice))[demonstration.assignment_id]
    assert mine["kind"] == "demonstration" and mine["review_status"] == "rejected"
    review = mine["review"]
    assert review["decision"] == "reject" and review["comment"] == "Too short: say <why>."
    assert review["reviewed_at"] and "reviewer" not in review and "reviewer_id" not in review
    # The rejection reopened the task, so the labeler can revise; once revised it is pending again.
    assert mine["can_revise"] is True
    revised = client_for(alice).post(
        f"/api/assignments/{demonstration.assignment_id}/revise/",
        {"client_id": new_client_id(), "text": "A longer answer, with the why."},
        format="json",
    )
    assert revised.status_code == 200, revised.content
    again = history(client_for(alice))[demonstration.assignment_id]
    assert again["review_status"] == "pending" and again["review"]["comment"] == "Too short: say <why>."
    # Another labeler of the same project sees neither the assignment nor the comment.
    bob_client = client_for(bob)
    assert demonstration.assignment_id not in history(bob_client)
    assert "Too short" not in bob_client.get("/api/assignments/").content.decode()
    assert bob_client.get(f"/api/assignments/{demonstration.assignment_id}/").status_code == 404


def test_dialogues_carry_the_latest_review_and_rankings_none(world):
    project, reviewer, alice, _ = world
    dialogue_tasks_open(project=project, count=1)
    lease = assignment_claim_next(user=alice, project=project)
    assert lease.task.kind == "dialogue"
    assignment_submit(user=alice, assignment_id=lease.pk, client_id=new_client_id(), messages=CONVERSATION)
    dialogue = Dialogue.objects.get(user=alice)
    dialogue_review(reviewer=reviewer, dialogue=dialogue, decision="reject", comment="First look.")
    dialogue_review(reviewer=reviewer, dialogue=dialogue, decision="accept")
    row = history(client_for(alice))[lease.pk]
    assert row["review_status"] == "accepted"
    assert row["review"]["decision"] == "accept" and row["review"]["comment"] == ""
    # Accepting closed the task again (one annotation needed), so it can no longer be revised.
    assert row["can_revise"] is False
    # Work not yet reviewed: a status, no review.
    [pending] = write_demonstrations(project, alice, 1)
    row = history(client_for(alice))[pending.assignment_id]
    assert row["review_status"] == "pending" and row["review"] is None


def test_history_query_count_does_not_grow_with_rows(world):
    project, reviewer, alice, _ = world
    client = client_for(alice)

    def queries_for_history() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            rows = history(client)
        return len(ctx.captured_queries), len(rows)

    first = write_demonstrations(project, alice, 1)
    demonstration_review(reviewer=reviewer, demonstration=first[0], decision="reject", comment="no")
    few, n_few = queries_for_history()
    more = write_demonstrations(project, alice, 6)[1:]
    for i, demonstration in enumerate(more):
        decision = "reject" if i % 2 else "accept"
        demonstration_review(reviewer=reviewer, demonstration=demonstration, decision=decision, comment="c")
    many, n_many = queries_for_history()
    assert (n_few, n_many) == (1, 7)
    assert many == few, f"{few} queries for 1 row, {many} for 7"
