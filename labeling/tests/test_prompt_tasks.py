"""Prompt-writing tasks: served only where the project enables them; a written prompt becomes a Prompt with its
own demonstration task; a bad conversation is refused with each problem named; only the assignee submits."""

import pytest
from rest_framework.test import APIClient

from labeling.models import Prompt, PromptSource, Role, Task, TaskKind, WrittenPrompt
from labeling.services.projects import project_update
from labeling.tests.factories import add_member, make_project, new_client_id

pytestmark = pytest.mark.django_db

TWO_TURNS = [
    {"role": "system", "content": "You are a patient maths tutor."},
    {"role": "user", "content": "Why is 0.999… equal to 1?"},
]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def prompt_project():
    project = make_project(redundancy=2, prompt_tasks_enabled=True)
    Task.objects.create(project=project, kind=TaskKind.PROMPT, required_annotations=1)
    labeler = add_member(project, Role.LABELER)
    return project, labeler, client_for(labeler)


def test_prompt_tasks_are_served_only_while_enabled(prompt_project):
    project, _labeler, client = prompt_project
    project_update(project=project, prompt_tasks_enabled=False)
    assert client.post(f"/api/projects/{project.pk}/assignments/next/").status_code == 204
    project_update(project=project, prompt_tasks_enabled=True)
    got = client.post(f"/api/projects/{project.pk}/assignments/next/")
    assert got.status_code == 200 and got.json()["task"]["kind"] == "prompt"
    assert got.json()["task"]["messages"] == []


def test_written_prompt_becomes_a_prompt_with_a_demonstration_task(prompt_project):
    project, labeler, client = prompt_project
    aid = client.post(f"/api/projects/{project.pk}/assignments/next/").json()["id"]
    body = {"client_id": new_client_id(), "seconds_spent": 42.5, "messages": TWO_TURNS}
    got = client.post(f"/api/assignments/{aid}/submit/", body, format="json")
    assert got.status_code == 201, got.json()
    written = WrittenPrompt.objects.get()
    assert written.user == labeler and written.seconds_spent == 42.5 and written.guideline.version == 1
    prompt = Prompt.objects.get(pk=got.json()["prompt"])
    assert prompt == written.prompt and prompt.messages == TWO_TURNS
    assert prompt.source == PromptSource.LABELER and prompt.created_by == labeler
    demo_task = Task.objects.get(prompt=prompt)
    assert demo_task.kind == TaskKind.DEMONSTRATION and demo_task.required_annotations == 2
    # Idempotent by client_id.
    again = client.post(f"/api/assignments/{aid}/submit/", body, format="json")
    assert again.status_code == 200 and WrittenPrompt.objects.count() == 1


@pytest.mark.parametrize(
    "messages, field",
    [
        ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], "messages"),
        ([{"role": "user", "content": "   "}], "messages[0].content"),
        ([{"role": "robot", "content": "beep"}], "messages[0].role"),
        ([], "messages"),
    ],
)
def test_bad_conversations_are_refused_and_nothing_is_stored(prompt_project, messages, field):
    project, _labeler, client = prompt_project
    aid = client.post(f"/api/projects/{project.pk}/assignments/next/").json()["id"]
    got = client.post(
        f"/api/assignments/{aid}/submit/", {"client_id": new_client_id(), "messages": messages}, format="json"
    )
    assert got.status_code == 400
    assert field in [e["field"] for e in got.json()["errors"]]
    assert not WrittenPrompt.objects.exists() and not Prompt.objects.exists()


def test_prompt_draft_and_submit_refused_to_another_member(prompt_project):
    project, _labeler, client = prompt_project
    aid = client.post(f"/api/projects/{project.pk}/assignments/next/").json()["id"]
    draft = {"payload": {"turns": TWO_TURNS, "selected": 1, "savedAt": 1}}
    assert client.put(f"/api/assignments/{aid}/draft/", draft, format="json").status_code == 200
    admin = client_for(add_member(project, Role.ADMIN))
    assert admin.get(f"/api/assignments/{aid}/draft/").status_code == 404
    body = {"client_id": new_client_id(), "messages": TWO_TURNS}
    assert admin.post(f"/api/assignments/{aid}/submit/", body, format="json").status_code == 404
    assert not WrittenPrompt.objects.exists()
