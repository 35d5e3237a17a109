"""What a row of the labeler's history says: what the task was about, why it was skipped, and one active row
per project (the task on screen, never the preloaded next one)."""

import json

import pytest
from rest_framework.test import APIClient

from labeling.models import Assignment, AssignmentStatus, Role
from labeling.services.assignment import assignment_claim_next, assignment_skip
from labeling.services.conversations import conversation_snippet
from labeling.services.dialogues import dialogue_tasks_open
from labeling.services.imports import import_file
from labeling.services.submission import assignment_submit
from labeling.tests.factories import add_member, make_project, new_client_id

pytestmark = pytest.mark.django_db

LONG = "Explain, step by step and with care, " + "why the sky looks blue at noon and red at dusk; " * 6


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def rows(client, query: str = "") -> list[dict]:
    got = client.get("/api/assignments/" + query)
    assert got.status_code == 200, got.content
    return got.json()["results"]


def import_prompts(project, texts: list[str], prefix: str = "p") -> None:
    data = "\n".join(json.dumps({"external_id": f"{prefix}-{i}", "prompt": t}) for i, t in enumerate(texts))
    import_file(project=project, user=None, data=data.encode(), kind="prompts")


@pytest.fixture
def project():
    return make_project(redundancy=1)


def test_a_row_names_its_task_by_a_snippet_and_a_skip_by_its_reason(project):
    labeler = add_member(project, Role.LABELER)
    import_prompts(project, [LONG, "<b>Short</b> one?"])
    first = assignment_claim_next(user=labeler, project=project)
    assignment_submit(user=labeler, assignment_id=first.pk, client_id=new_client_id(), text="Rayleigh.")
    second = assignment_claim_next(user=labeler, project=project)
    assignment_skip(user=labeler, assignment=second, reason="I do not know HTML")

    by_id = {r["id"]: r for r in rows(client_for(labeler))}
    done, skipped = by_id[first.pk], by_id[second.pk]
    assert done["snippet"] == conversation_snippet([{"role": "user", "content": LONG}])
    assert len(done["snippet"]) == 120 and done["snippet"].endswith("…")
    assert done["snippet"].startswith("Explain, step by step")
    assert done["skip_reason"] is None and done["status"] == "submitted"
    # The text as written (the page shows it as text, never as HTML).
    assert skipped["snippet"] == "<b>Short</b> one?"
    assert skipped["skip_reason"] == "I do not know HTML" and skipped["status"] == "skipped"
    assert done["kind"] == "demonstration" and done["project_name"] == project.name


def test_the_preloaded_next_task_is_no_second_active_row(project):
    labeler = add_member(project, Role.LABELER)
    import_prompts(project, ["One?", "Two?", "Three?"])
    current = assignment_claim_next(user=labeler, project=project)
    preloaded = assignment_claim_next(user=labeler, project=project, prefetch=True)
    assert preloaded.pk != current.pk
    client = client_for(labeler)

    active = [r for r in rows(client) if r["status"] == "active"]
    assert [r["id"] for r in active] == [current.pk]
    assert [r["id"] for r in rows(client, "?status=active")] == [current.pk]
    # Once the current task is done, the preloaded one is what the workspace shows: now it is the active row.
    assignment_submit(user=labeler, assignment_id=current.pk, client_id=new_client_id(), text="1.")
    active = [r["id"] for r in rows(client) if r["status"] == "active"]
    assert active == [preloaded.pk]


def test_a_lapsed_lease_reads_expired_before_the_sweep(project):
    labeler = add_member(project, Role.LABELER)
    import_prompts(project, ["One?"])
    lease = assignment_claim_next(user=labeler, project=project)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=lease.leased_at)
    [row] = rows(client_for(labeler))
    assert row["status"] == "expired"
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.ACTIVE


def test_a_dialogue_written_from_scratch_is_named_by_its_first_user_turn():
    project = make_project(redundancy=1, dialogue_tasks_enabled=True)
    labeler = add_member(project, Role.LABELER)
    dialogue_tasks_open(project=project, count=1)
    lease = assignment_claim_next(user=labeler, project=project)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Plan a day\nin Lisbon."},
        {"role": "assistant", "content": "Tram 28."},
    ]
    assignment_submit(user=labeler, assignment_id=lease.pk, client_id=new_client_id(), messages=messages)
    [row] = rows(client_for(labeler))
    assert row["kind"] == "dialogue" and row["snippet"] == "Plan a day in Lisbon."


def test_history_is_one_query_whatever_its_length(project, django_assert_max_num_queries):
    labeler = add_member(project, Role.LABELER)
    import_prompts(project, [f"Prompt {i}?" for i in range(8)])
    for i in range(6):
        lease = assignment_claim_next(user=labeler, project=project)
        if i % 2:
            assignment_skip(user=labeler, assignment=lease, reason=f"reason {i}")
        else:
            assignment_submit(user=labeler, assignment_id=lease.pk, client_id=new_client_id(), text="x")
    assignment_claim_next(user=labeler, project=project)
    assignment_claim_next(user=labeler, project=project, prefetch=True)
    client = client_for(labeler)
    client.get("/api/assignments/")  # session and auth caches warm
    # The page of rows and the pagination count; nothing per row.
    with django_assert_max_num_queries(2):
        got = rows(client)
    assert len(got) == 7


def test_conversation_snippet_is_one_line_of_the_first_user_turn():
    assert (
        conversation_snippet([{"role": "system", "content": "sys"}, {"role": "user", "content": " a\n\n b "}])
        == "a b"
    )
    assert conversation_snippet([{"role": "assistant", "content": "only"}]) == "only"
    assert conversation_snippet(None) == "" and conversation_snippet([]) == ""
    assert conversation_snippet([{"role": "user", "content": "x" * 200}], limit=10) == "x" * 9 + "…"
