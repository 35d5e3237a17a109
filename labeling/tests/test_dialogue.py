"""Dialogue tasks: opened blank or from seed prompts, served only while enabled, validated turn by turn, stored
with guideline version and time, idempotent by client id, revisable, and exported as SFT `messages` records."""

import json

import pytest
from rest_framework.test import APIClient

from labeling.models import Dialogue, Role, Task, TaskKind, TaskStatus
from labeling.services.errors import ValidationFailed
from labeling.services.projects import project_update
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, new_client_id
from rewardtrain.snapshots.services import snapshot_build, snapshot_create, snapshot_dir

pytestmark = pytest.mark.django_db

CONVERSATION = [
    {"role": "system", "content": "You are a terse travel agent."},
    {"role": "user", "content": "I want to see fjords in May."},
    {"role": "assistant", "content": "Try Geiranger; book the ferry early."},
    {"role": "user", "content": "And by train?"},
    {"role": "assistant", "content": "Take the Bergen line, then the Flåm railway."},
]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world():
    project = make_project(redundancy=1, dialogue_tasks_enabled=True)
    admin = project.memberships.get(role=Role.ADMIN).user
    admin_client = client_for(admin)
    labeler = add_member(project, Role.LABELER)
    return project, admin_client, labeler, client_for(labeler)


def open_tasks(admin_client, project, **body):
    return admin_client.post(f"/api/projects/{project.pk}/dialogue-tasks/", body, format="json")


def claim(client, project) -> dict:
    got = client.post(f"/api/projects/{project.pk}/assignments/next/")
    assert got.status_code == 200, got.content
    return got.json()


def test_admin_opens_blank_and_seeded_tasks_and_others_may_not(world):
    project, admin_client, _labeler, labeler_client = world
    got = open_tasks(admin_client, project, count=2)
    assert got.status_code == 201 and [t["kind"] for t in got.json()] == ["dialogue", "dialogue"]
    import_prompt_tasks(project, 1)
    prompt = project.prompts.get()
    seeded = open_tasks(admin_client, project, prompt_ids=[prompt.pk], priority=5)
    assert seeded.status_code == 201 and seeded.json()[0]["prompt"] == prompt.pk
    assert Task.objects.filter(project=project, kind=TaskKind.DIALOGUE).count() == 3
    # Wrong role 403, non-member 404, bad bodies named.
    assert open_tasks(labeler_client, project, count=1).status_code == 403
    assert open_tasks(client_for(make_project().created_by), project, count=1).status_code == 404
    both = open_tasks(admin_client, project, count=1, prompt_ids=[prompt.pk])
    assert both.status_code == 400 and both.json()["errors"][0]["field"] == "count"
    unknown = open_tasks(admin_client, project, prompt_ids=[999_999])
    assert unknown.status_code == 400 and "999999" in unknown.json()["errors"][0]["message"]
    # The seeded task is served first (priority) with its prompt as the opening.
    task = claim(labeler_client, project)["task"]
    assert task["kind"] == "dialogue" and task["messages"] == prompt.messages


def test_served_only_while_enabled(world):
    project, admin_client, _labeler, client = world
    open_tasks(admin_client, project, count=1)
    project_update(project=project, dialogue_tasks_enabled=False)
    assert client.post(f"/api/projects/{project.pk}/assignments/next/").status_code == 204
    project_update(project=project, dialogue_tasks_enabled=True)
    assert claim(client, project)["task"]["kind"] == "dialogue"


def test_a_dialogue_is_stored_with_version_and_time_and_is_idempotent(world):
    project, admin_client, labeler, client = world
    open_tasks(admin_client, project, count=1)
    assignment = claim(client, project)
    body = {"client_id": new_client_id(), "seconds_spent": 95.5, "messages": CONVERSATION}
    got = client.post(f"/api/assignments/{assignment['id']}/submit/", body, format="json")
    assert got.status_code == 201, got.json()
    dialogue = Dialogue.objects.get()
    assert dialogue.messages == CONVERSATION and dialogue.user == labeler
    assert dialogue.seconds_spent == 95.5 and dialogue.guideline.version == 1
    assert got.json()["guideline_version"] == 1 and got.json()["messages"] == CONVERSATION
    assert Task.objects.get(pk=dialogue.task_id).status == TaskStatus.COMPLETE
    again = client.post(f"/api/assignments/{assignment['id']}/submit/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == dialogue.pk and Dialogue.objects.count() == 1
    # The labeler reads it back; reviewers list it.
    mine = client.get(f"/api/assignments/{assignment['id']}/annotation/")
    assert mine.status_code == 200 and mine.json()["messages"] == CONVERSATION
    listed = admin_client.get(f"/api/projects/{project.pk}/dialogues/").json()
    items = listed["results"] if isinstance(listed, dict) else listed
    assert [d["id"] for d in items] == [dialogue.pk]
    assert client.get(f"/api/projects/{project.pk}/dialogues/").status_code == 403


@pytest.mark.parametrize(
    ("messages", "field", "words"),
    [
        ([], "messages", "non-empty"),
        ([{"role": "assistant", "content": "Hi"}], "messages[0].role", "turn 1 must be the user's"),
        (CONVERSATION[:4], "messages", "turn 4 is the user's"),
        (
            [CONVERSATION[1], {"role": "user", "content": "again"}],
            "messages[1].role",
            "turn 2 must be the assistant's",
        ),
        ([CONVERSATION[1], {"role": "assistant", "content": "  "}], "messages[1].content", "turn 2"),
        ([CONVERSATION[0], CONVERSATION[1]], "messages", "ends with the assistant"),
        ([CONVERSATION[1], {"role": "assistant", "content": "x" * 32_001}], "messages[1].content", "32001"),
        (
            [CONVERSATION[1], {"role": "assistant", "content": "ok", "name": "x"}],
            "messages[1]",
            "unknown keys",
        ),
    ],
)
def test_bad_dialogues_are_refused_naming_the_turn_and_nothing_is_stored(world, messages, field, words):
    project, admin_client, _labeler, client = world
    open_tasks(admin_client, project, count=1)
    assignment = claim(client, project)
    body = {"client_id": new_client_id(), "messages": messages}
    got = client.post(f"/api/assignments/{assignment['id']}/submit/", body, format="json")
    assert got.status_code == 400, got.json()
    errors = got.json()["errors"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors
    assert Dialogue.objects.count() == 0
    assert Task.objects.get(pk=assignment["task"]["id"]).completed_count == 0


def test_a_submitted_dialogue_can_be_revised_while_open():
    project = make_project(redundancy=2, dialogue_tasks_enabled=True)
    admin_client = client_for(project.memberships.get(role=Role.ADMIN).user)
    client = client_for(add_member(project))
    open_tasks(admin_client, project, count=1)
    aid = claim(client, project)["id"]
    client.post(
        f"/api/assignments/{aid}/submit/",
        {"client_id": new_client_id(), "messages": CONVERSATION[1:3]},
        format="json",
    )
    revised = client.post(
        f"/api/assignments/{aid}/revise/",
        {"client_id": new_client_id(), "messages": CONVERSATION},
        format="json",
    )
    assert revised.status_code == 200, revised.json()
    assert Dialogue.objects.get().messages == CONVERSATION
    bad = client.post(
        f"/api/assignments/{aid}/revise/",
        {"client_id": new_client_id(), "messages": CONVERSATION[:2]},
        format="json",
    )
    assert bad.status_code == 400 and Dialogue.objects.get().messages == CONVERSATION


def test_dialogues_export_as_multi_turn_sft_messages(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    project, admin_client, labeler, client = world
    import_prompt_tasks(project, 1)  # one demonstration task as well
    prompt = project.prompts.get()
    open_tasks(admin_client, project, count=1)
    open_tasks(admin_client, project, prompt_ids=[prompt.pk])
    for _ in range(3):
        assignment = claim(client, project)
        kind = assignment["task"]["kind"]
        work = {"text": "A demonstration."} if kind == "demonstration" else {"messages": CONVERSATION}
        if assignment["task"]["messages"] and kind == "dialogue":
            work = {"messages": [*assignment["task"]["messages"], {"role": "assistant", "content": "Sure."}]}
        body = {"client_id": new_client_id(), **work}
        assert (
            client.post(f"/api/assignments/{assignment['id']}/submit/", body, format="json").status_code
            == 201
        )

    def build():
        snapshot = snapshot_create(
            project=project, user=None, settings_data={"kind": "sft", "validation_fraction": 0}
        )
        snapshot = snapshot_build(snapshot_id=snapshot.pk)
        assert snapshot.status == "ready", snapshot.error
        return snapshot

    snapshot = build()
    lines = (snapshot_dir(snapshot) / "train.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["metadata"]["source"] for r in rows] == ["demonstration", "dialogue", "dialogue"]
    blank = next(r for r in rows if r["dialogue_id"] and r["prompt_id"] is None)
    assert blank["messages"] == CONVERSATION  # the whole conversation, system turn first, 5 turns
    assert blank["demonstration_id"] is None and blank["labeler_id"] == labeler.pk
    assert blank["guideline_version"] == 1 and blank["review_status"] == "pending"
    seeded = next(r for r in rows if r["dialogue_id"] and r["prompt_id"] == prompt.pk)
    assert seeded["messages"] == [*prompt.messages, {"role": "assistant", "content": "Sure."}]
    assert snapshot.manifest["records"] == 3
    # Parquet holds the same records; a rebuild is byte-identical.
    import pyarrow.parquet as pq

    table = pq.read_table(snapshot_dir(snapshot) / "train.parquet")
    assert table.column("messages").to_pylist()[1:] == [r["messages"] for r in rows[1:]]
    again = build()
    assert again.manifest["files"] == snapshot.manifest["files"]


def test_the_open_service_checks_its_arguments(world):
    from labeling.services.dialogues import dialogue_tasks_open

    project = world[0]
    with pytest.raises(ValidationFailed) as caught:
        dialogue_tasks_open(project=project, count=0)
    assert caught.value.errors[0].field == "count"
    with pytest.raises(ValidationFailed):
        dialogue_tasks_open(project=project)


def test_a_priority_the_column_cannot_hold_is_a_named_400(world):
    """PostgreSQL's bulk insert kept only the low 32 bits: 2**40 + 7 was stored as 7."""
    project, admin_client, _labeler, _client = world
    for priority in (2**40 + 7, -(2**31) - 1):
        got = open_tasks(admin_client, project, count=1, priority=priority)
        assert got.status_code == 400 and got.json()["errors"][0]["field"] == "priority", got.content
    assert not Task.objects.filter(project=project).exists()
    assert open_tasks(admin_client, project, count=1, priority=2**31 - 1).status_code == 201
    assert Task.objects.get(project=project).priority == 2**31 - 1
