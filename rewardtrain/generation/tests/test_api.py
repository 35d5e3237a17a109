"""The generation-jobs API: admins only (non-members 404, other roles 403), clear errors, progress, cancel, resume."""

import pytest
from rest_framework.test import APIClient

from labeling.models import Role
from labeling.tests.factories import add_member, make_project, make_user
from rewardtrain.generation import services
from rewardtrain.generation.models import GenerationJob
from rewardtrain.generation.tests.helpers import project_with_prompts, register
from rewardtrain.runs.models import RunStatus

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world(tiny_dir):
    project, admin = project_with_prompts(3)
    model = register(project, admin, tiny_dir)
    return project, admin, model


def test_admin_creates_watches_cancels_and_resumes_a_job(world):
    project, admin, model = world
    client = _client(admin)
    base = f"/api/projects/{project.pk}/generation-jobs/"
    body = {
        "model": model.pk,
        "prompts": "no_ranking_task",
        "limit": 2,
        "settings": {"temperature": 0.9, "top_p": 0.95, "max_new_tokens": 6, "seed": 4},
    }
    created = client.post(base, body, format="json")
    assert created.status_code == 201, created.json()
    job = created.json()
    assert job["status"] == "queued" and job["prompts_total"] == 2 and job["model_name"] == "tiny"
    assert job["settings"]["k"] == 4 and job["settings"]["temperature"] == 0.9
    assert [j["id"] for j in client.get(base).json()] == [job["id"]]

    cancelled = client.post(f"{base}{job['id']}/cancel/").json()
    assert cancelled["status"] == "cancelled" and cancelled["cancel_requested"]
    assert client.post(f"{base}{job['id']}/cancel/").status_code == 409
    resumed = client.post(f"{base}{job['id']}/resume/").json()
    assert resumed["status"] == "queued"
    assert client.post(f"{base}{job['id']}/resume/").status_code == 409

    services.generation_job_execute(job_id=job["id"], worker="test")
    detail = client.get(f"{base}{job['id']}/").json()
    assert detail["status"] == "succeeded", detail["error"]
    assert detail["prompts_done"] == 2 and detail["prompts_skipped"] == 0
    assert client.get(f"{base}999999/").status_code == 404


def test_bad_input_is_refused_with_the_fields_named(world):
    project, admin, model = world
    client = _client(admin)
    base = f"/api/projects/{project.pk}/generation-jobs/"
    r = client.post(base, {"model": model.pk, "settings": {"k": 7, "temperature": 0}}, format="json")
    assert r.status_code == 400
    assert {e["field"] for e in r.json()["errors"]} == {"settings.k", "settings.temperature"}
    r = client.post(
        base, {"model": model.pk, "backend": "openai", "prompts": "no_ranking_task"}, format="json"
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "endpoint"
    r = client.post(base, {"model": 999999, "prompts": "no_ranking_task"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "model"
    r = client.post(base, {"prompts": "everything"}, format="json")
    assert r.status_code == 400
    assert not GenerationJob.objects.exists()


def test_only_project_admins_reach_generation_jobs(world):
    project, admin, model = world
    job = services.generation_job_create(
        project=project, user=admin, model_id=model.pk, prompts="no_ranking_task"
    )
    base = f"/api/projects/{project.pk}/generation-jobs/"
    urls = [("get", base), ("post", base), ("get", f"{base}{job.pk}/")]
    urls += [("post", f"{base}{job.pk}/cancel/"), ("post", f"{base}{job.pk}/resume/")]
    outsider = make_user()
    other_admin = make_user()
    make_project(admin=other_admin)
    for role in (Role.LABELER, Role.REVIEWER):
        member = add_member(project, role=role)
        for method, url in urls:
            assert getattr(_client(member), method)(url, {}, format="json").status_code == 403, (role, url)
    for user in (outsider, other_admin):
        for method, url in urls:
            assert getattr(_client(user), method)(url, {}, format="json").status_code == 404, url
    for method, url in urls:
        assert getattr(APIClient(), method)(url, {}, format="json").status_code in (401, 403), url
    # A job of another project is not found through this one.
    other = make_project(admin=admin)
    assert _client(admin).get(f"/api/projects/{other.pk}/generation-jobs/{job.pk}/").status_code == 404
    assert GenerationJob.objects.get(pk=job.pk).status == RunStatus.QUEUED
