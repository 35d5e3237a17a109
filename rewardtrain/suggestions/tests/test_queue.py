"""A suggestion request sends `rewardtrain.tasks.gpu_suggest` by name through the real broker (Redis, under this
test run's key prefix) to the `gpu` queue; no worker runs here, so the message waits there to be read back."""

import pytest
from rest_framework.test import APIClient

from annotate.celery import app
from annotate.metrics import queue_depths
from labeling.models import Suggestion
from labeling.tests.factories import add_member, import_prompt_tasks, make_project
from rewardtrain.runs.models import ModelKind, RegisteredModel


@pytest.fixture
def empty_queues():
    app.control.purge()
    yield
    app.control.purge()


@pytest.mark.django_db
def test_a_request_is_queued_on_the_gpu_queue_once(empty_queues, django_capture_on_commit_callbacks):
    project = make_project()
    import_prompt_tasks(project, 1)
    RegisteredModel.objects.create(project=project, name="sft", kind=ModelKind.SFT, path="org/sft")
    labeler = APIClient()
    labeler.force_authenticate(add_member(project))
    assignment_id = labeler.post(f"/api/projects/{project.pk}/assignments/next/").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        asked = labeler.post(f"/api/assignments/{assignment_id}/suggestion/")
    assert asked.status_code == 202, asked.json()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = labeler.post(f"/api/assignments/{assignment_id}/suggestion/")
    assert again.status_code == 200 and again.json()["id"] == asked.json()["id"] and not callbacks
    assert queue_depths() == {"default": 0, "gpu": 1}

    with app.connection_for_read() as connection:
        message = connection.SimpleQueue("gpu", no_ack=True).get(timeout=5)
    assert message.headers["task"] == "rewardtrain.tasks.gpu_suggest"
    assert message.payload[0] == [Suggestion.objects.get().pk]
