"""Operator-configured inference endpoints: a project admin picks one by name and never gives a URL or a variable
name; the worker calls only the configured host, follows no redirect and sends only the key the operator named.

Every network check runs against real local HTTP servers (`openai_server`), which record what they receive."""

import json
import os
import re

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from labeling.models import Role
from labeling.tests.factories import add_member
from rewardtrain.generation import services
from rewardtrain.generation.endpoints import configured_endpoints, endpoint_get, parse_endpoints
from rewardtrain.generation.models import GenerationJob
from rewardtrain.generation.tests.helpers import project_with_prompts
from rewardtrain.generation.tests.openai_server import Script, openai_server
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunStatus

pytestmark = pytest.mark.django_db

OPERATOR_KEY = "sk-operator-key-3f9a1c"
WORKER_SECRET = "postgres://app:db-password-7e21@db.internal:5432/annotate"


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _configure(settings, **endpoints) -> None:
    settings.ANNOTATE_INFERENCE_ENDPOINTS = endpoints
    settings.ANNOTATE_INFERENCE_ENDPOINTS_FILE = ""


def _vllm(url: str, **extra) -> dict:
    return {"base_url": url, "api": "chat", "models": ["served-a", "served-b"], **extra}


@pytest.fixture
def world():
    project, staff = project_with_prompts(3)
    # An endpoint serves the job: the registered model is never loaded here.
    model = RegisteredModel.objects.create(project=project, name="tiny", kind=ModelKind.BASE, path="org/tiny")
    admin = add_member(project, role=Role.ADMIN)  # a project admin who is not site staff
    return project, admin, staff, model


def _post(user, project, **body):
    body = {
        "model": body.pop("model"),
        "prompts": "no_ranking_task",
        "settings": {"max_new_tokens": 6},
        **body,
    }
    return _client(user).post(f"/api/projects/{project.pk}/generation-jobs/", body, format="json")


def test_an_endpoint_that_is_not_configured_is_refused_before_any_network_call(
    world, settings, eager_celery, django_capture_on_commit_callbacks
):
    project, admin, _staff, model = world
    with openai_server() as (url, script):
        _configure(settings, vllm=_vllm(url))
        # The worker would run at once (eager Celery, commit callbacks executed) if a job were created.
        with django_capture_on_commit_callbacks(execute=True):
            unknown = _post(admin, project, model=model.pk, backend="openai", endpoint="elsewhere")
            bad_model = _post(
                admin, project, model=model.pk, backend="openai", endpoint="vllm", endpoint_model="gpt-x"
            )
            missing = _post(admin, project, model=model.pk, backend="openai")
            old_style = _post(admin, project, model=model.pk, backend="openai", endpoint_url=url)
    assert unknown.status_code == 400, unknown.json()
    assert unknown.json()["errors"][0]["field"] == "endpoint"
    assert "elsewhere" in unknown.json()["errors"][0]["message"]
    assert bad_model.status_code == 400
    assert bad_model.json()["errors"][0]["field"] == "endpoint_model"
    assert "served-a" in bad_model.json()["errors"][0]["message"]
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "endpoint"
    assert old_style.status_code == 400 and old_style.json()["errors"][0]["field"] == "endpoint_url"
    assert script.requests == [] and script.raw == []
    assert not GenerationJob.objects.exists()


def test_the_old_url_and_variable_fields_are_refused_by_name(world, settings):
    project, admin, _staff, model = world
    _configure(settings, vllm=_vllm("http://127.0.0.1:9/v1"))
    for field, value in (
        ("endpoint_url", "http://169.254.169.254/latest"),
        ("api_key_env", "DATABASE_URL"),
        ("endpoint_api", "completions"),
    ):
        r = _post(admin, project, model=model.pk, backend="openai", endpoint="vllm", **{field: value})
        assert r.status_code == 400, (field, r.json())
        body = r.json()
        assert body["code"] == "unknown_field"
        assert [e["field"] for e in body["errors"]] == [field]
    assert not GenerationJob.objects.exists()


def test_the_worker_sends_only_the_variable_the_operator_named(world, settings, monkeypatch):
    project, admin, _staff, model = world
    monkeypatch.setenv("ANNOTATE_TEST_DATABASE_URL", WORKER_SECRET)
    monkeypatch.setenv("ANNOTATE_TEST_VLLM_KEY", OPERATOR_KEY)
    with openai_server() as (url, script):
        _configure(settings, vllm=_vllm(url, api_key_env="ANNOTATE_TEST_VLLM_KEY"))
        # A hostile project admin names the secret they want: refused, nothing is sent.
        hostile = _post(
            admin,
            project,
            model=model.pk,
            backend="openai",
            endpoint="vllm",
            api_key_env="ANNOTATE_TEST_DATABASE_URL",
        )
        assert hostile.status_code == 400 and script.raw == []
        created = _post(admin, project, model=model.pk, backend="openai", endpoint="vllm")
        assert created.status_code == 201, created.json()
        job = created.json()
        assert job["endpoint"] == "vllm" and job["endpoint_model"] == "served-a"
        done = services.generation_job_execute(job_id=job["id"], worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert script.requests and {r["auth"] for r in script.requests} == {f"Bearer {OPERATOR_KEY}"}
    assert {r["body"]["model"] for r in script.requests} == {"served-a"}
    received = "\n".join(script.raw)
    assert WORKER_SECRET not in received
    # The endpoint's own address (in the Host header) is the operator's to send; an environment value that
    # happens to be part of it (PGHOST=127.0.0.1) is no leak.
    leaked = [
        name
        for name, value in os.environ.items()
        if name != "ANNOTATE_TEST_VLLM_KEY" and len(value) >= 8 and value in received and value not in url
    ]
    assert leaked == [], f"values of {leaked} reached the endpoint"
    assert OPERATOR_KEY not in json.dumps(
        GenerationJob.objects.filter(pk=done.pk).values().get(), default=str
    )


def test_a_redirect_is_not_followed_and_the_error_names_the_status_in_one_line(world, settings, monkeypatch):
    project, admin, _staff, model = world
    monkeypatch.setenv("ANNOTATE_TEST_VLLM_KEY", OPERATOR_KEY)
    with openai_server() as (inner_url, inner), openai_server() as (outer_url, outer):
        outer.redirect_to = inner_url.removesuffix("/v1")
        _configure(settings, vllm=_vllm(outer_url, api_key_env="ANNOTATE_TEST_VLLM_KEY"))
        created = _post(admin, project, model=model.pk, backend="openai", endpoint="vllm")
        assert created.status_code == 201, created.json()
        done = services.generation_job_execute(job_id=created.json()["id"], worker="test")
    assert done.status == RunStatus.FAILED
    assert outer.statuses and set(outer.statuses) == {302}
    assert inner.requests == [] and inner.raw == []
    error = done.error
    assert "\n" not in error and "302" in error and "vllm" in error, error
    assert outer_url not in error and "Traceback" not in error


def test_a_job_whose_endpoint_is_no_longer_configured_fails_with_a_short_error(world, settings):
    project, admin, _staff, model = world
    with openai_server() as (url, script):
        _configure(settings, vllm=_vllm(url))
        created = _post(admin, project, model=model.pk, backend="openai", endpoint="vllm")
        assert created.status_code == 201
        _configure(settings)  # the operator removes it before the worker runs the job
        done = services.generation_job_execute(job_id=created.json()["id"], worker="test")
    assert done.status == RunStatus.FAILED and script.raw == []
    assert done.error == "endpoint 'vllm' is not configured on this worker"


def test_job_errors_are_one_line_for_project_admins_and_the_traceback_is_for_site_staff(world, settings):
    project, admin, staff, model = world
    reason = "model 'served-a' is not loaded\n  File \"/srv/vllm/engine.py\", line 12\n" + "x" * 500
    with openai_server(Script(fail_first=100, fail_status=400, fail_message=reason)) as (url, _script):
        _configure(settings, vllm=_vllm(url))
        created = _post(admin, project, model=model.pk, backend="openai", endpoint="vllm")
        done = services.generation_job_execute(job_id=created.json()["id"], worker="test")
    assert done.status == RunStatus.FAILED
    path = f"/api/projects/{project.pk}/generation-jobs/{done.pk}/"
    seen = _client(admin).get(path).json()
    error = seen["error"]
    assert error.startswith("endpoint 'vllm': HTTP 400: model 'served-a' is not loaded"), error
    assert "\n" not in error and "Traceback" not in error and len(error) <= 200
    assert not re.search(r"/\w+/", error) and ".py" not in error and url not in error
    assert seen["error_detail"] is None
    listed = _client(admin).get(f"/api/projects/{project.pk}/generation-jobs/").json()
    assert listed[0]["error_detail"] is None
    detail = _client(staff).get(path).json()["error_detail"]
    assert "Traceback" in detail and "EndpointError" in detail


def test_project_admins_list_endpoints_by_name_and_only_site_staff_see_urls(world, settings):
    project, admin, staff, _model = world
    _configure(
        settings,
        vllm=_vllm("http://10.0.0.5:8001/v1", api_key_env="VLLM_KEY"),
        llamacpp={"base_url": "http://10.0.0.6:8080/v1", "api": "completions", "models": ["smol"]},
    )
    path = f"/api/projects/{project.pk}/inference-endpoints/"
    rows = _client(admin).get(path).json()
    assert rows == [
        {
            "name": "llamacpp",
            "api": "completions",
            "models": ["smol"],
            "default_model": "smol",
            "base_url": None,
        },
        {
            "name": "vllm",
            "api": "chat",
            "models": ["served-a", "served-b"],
            "default_model": "served-a",
            "base_url": None,
        },
    ]
    assert "VLLM_KEY" not in json.dumps(rows) and "10.0.0" not in json.dumps(rows)
    by_staff = {row["name"]: row["base_url"] for row in _client(staff).get(path).json()}
    assert by_staff == {"llamacpp": "http://10.0.0.6:8080/v1", "vllm": "http://10.0.0.5:8001/v1"}
    for role in (Role.LABELER, Role.REVIEWER):
        assert _client(add_member(project, role=role)).get(path).status_code == 403


def test_the_configuration_is_validated_naming_the_entry_and_the_field(settings, tmp_path):
    good = {"vllm": {"base_url": "http://h:8001/v1", "api": "chat", "models": ["m"], "api_key_env": "K"}}
    endpoints = parse_endpoints(good, "ANNOTATE_INFERENCE_ENDPOINTS")
    assert endpoints["vllm"].models == ("m",) and endpoints["vllm"].timeout == 30.0
    bad = {
        "base_url": {"base_url": "ftp://h/v1"},
        "api": {"api": "embeddings"},
        "models": {"models": []},
        "api_key_env": {"api_key_env": "sk-live-123"},
        "timeout": {"timeout": 0},
        "color": {"color": "red"},
    }
    for field, change in bad.items():
        with pytest.raises(ImproperlyConfigured, match=rf"'vllm'.*{field}"):
            parse_endpoints({"vllm": {**good["vllm"], **change}}, "ANNOTATE_INFERENCE_ENDPOINTS")
    with pytest.raises(ImproperlyConfigured, match="not valid JSON"):
        parse_endpoints("{nope", "ANNOTATE_INFERENCE_ENDPOINTS")
    config = tmp_path / "endpoints.json"
    config.write_text(json.dumps(good))
    settings.ANNOTATE_INFERENCE_ENDPOINTS, settings.ANNOTATE_INFERENCE_ENDPOINTS_FILE = "", str(config)
    assert list(configured_endpoints()) == ["vllm"] and endpoint_get("vllm").api_key_env == "K"
    assert endpoint_get("other") is None
    settings.ANNOTATE_INFERENCE_ENDPOINTS = json.dumps(good)
    with pytest.raises(ImproperlyConfigured, match="not both"):
        configured_endpoints()
    # Checked when the app starts: a bad configuration stops the web process and the workers.
    settings.ANNOTATE_INFERENCE_ENDPOINTS_FILE = ""
    settings.ANNOTATE_INFERENCE_ENDPOINTS = {"vllm": {"base_url": "http://h/v1", "models": []}}
    with pytest.raises(ImproperlyConfigured, match="'vllm', field 'models'"):
        apps.get_app_config("generation").ready()
