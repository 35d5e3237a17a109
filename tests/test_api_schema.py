"""The OpenAPI schema is the contract the browser app's types are generated from (frontend/src/api/schema.d.ts).

* every operation declares a typed 2xx body (no free-form object), except file downloads and empty answers;
* every operation answers 4xx with the shared `Error` component, and the API really answers that shape to
  DRF's own refusals (authentication, permission, not found, parse, method, media type, throttle);
* the endpoints whose bodies are built by hand (dicts from selectors and services) answer what they declare:
  real responses are validated against their operation's schema.
"""

import json
import uuid

import pytest
from django.http import Http404
from django.test import RequestFactory
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from openapi_schema_validator import OAS30Validator
from rest_framework import exceptions
from rest_framework.test import APIClient

from labeling.api.errors import exception_handler, server_error
from labeling.models import Role
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, make_user
from rewardtrain.runs.models import RunMetric
from rewardtrain.runs.tests.builders import two_rounds
from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project

FILE_TYPES = ("application/octet-stream",)
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def spec() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _component(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _free_form(spec: dict, schema: dict | None) -> bool:
    """A body a client can know nothing about: missing, `{}`, or an object without properties."""
    if not schema:
        return True
    schema = _component(spec, schema)
    if "oneOf" in schema or "allOf" in schema or "anyOf" in schema:
        parts = schema.get("oneOf") or schema.get("allOf") or schema.get("anyOf")
        return any(_free_form(spec, part) for part in parts)
    if schema.get("type") == "array":
        return _free_form(spec, schema.get("items"))
    if schema.get("type") == "object":
        return not schema.get("properties")
    return "type" not in schema


def test_schema_has_the_operations(spec):
    assert sum(1 for _ in _operations(spec)) >= 50


def test_every_2xx_body_is_typed(spec):
    untyped = []
    for path, method, operation in _operations(spec):
        for code, response in operation["responses"].items():
            if not str(code).startswith("2") or code == "204":
                continue
            content = response.get("content")
            if not content:
                untyped.append(f"{method.upper()} {path} {code}: no body declared")
                continue
            for media_type, body in content.items():
                if media_type in FILE_TYPES:
                    continue
                if _free_form(spec, body.get("schema")):
                    untyped.append(f"{method.upper()} {path} {code} {media_type}: free-form")
    assert not untyped, "operations without a typed response:\n" + "\n".join(untyped)


def test_every_operation_answers_errors_with_the_error_component(spec):
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"detail", "code", "errors"}
    missing = []
    for path, method, operation in _operations(spec):
        for code, response in operation["responses"].items():
            if str(code).startswith("4"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                if ref != "#/components/schemas/Error":
                    missing.append(f"{method.upper()} {path} {code}: {ref}")
        if "4XX" not in operation["responses"]:
            missing.append(f"{method.upper()} {path}: no 4XX")
    assert not missing, "\n".join(missing)


def _nullable_refs(schema):
    """OpenAPI 3.0 says `{allOf: [$ref], nullable: true}` for a nullable nested object (openapi-typescript
    reads it as `T | null`); the validator checks the `$ref` alone, so spell the null out for it."""
    if isinstance(schema, list):
        return [_nullable_refs(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _nullable_refs(value) for key, value in schema.items()}
    if out.get("nullable") and "allOf" in out:
        return {"anyOf": [{"enum": [None]}, {"allOf": out.pop("allOf")}]}
    return out


def _validate(spec: dict, schema: dict, body) -> None:
    """Validate a body against a schema of the spec; `$ref`s resolve against the spec's components."""
    OAS30Validator(_nullable_refs({**schema, "components": spec["components"]})).validate(body)


def assert_matches(spec: dict, response, path: str, method: str = "get") -> None:
    """The response's JSON is what the operation declares for its status code (or its 4XX)."""
    responses = spec["paths"][path][method]["responses"]
    declared = responses.get(str(response.status_code)) or responses[f"{str(response.status_code)[0]}XX"]
    schema = declared["content"]["application/json"]["schema"]
    _validate(spec, schema, response.json())


def assert_error(spec: dict, response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    _validate(spec, {"$ref": "#/components/schemas/Error"}, body)
    assert body["code"] == code, body


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_drf_refusals_answer_the_error_shape(spec):
    project = make_project()
    admin = add_member(project, Role.ADMIN)
    runs = f"/api/projects/{project.pk}/runs/"

    assert_error(spec, APIClient().get(runs), 401, "not_authenticated")
    assert_error(spec, client_for(add_member(project)).get(runs), 403, "permission_denied")
    client = client_for(admin)
    empty = client.post(runs, {}, format="json")
    assert_error(spec, empty, 400, "invalid")
    assert {e["field"] for e in empty.json()["errors"]} >= {"kind", "snapshot", "base_model"}
    assert_error(spec, client.get(f"{runs}999999/"), 404, "not_found")
    assert_error(spec, client.post(runs, "{not json", content_type="application/json"), 400, "invalid_json")
    assert_error(spec, client.delete(runs), 405, "method_not_allowed")
    assert_error(spec, client.post(runs, "x", content_type="text/csv"), 415, "unsupported_media_type")
    assert_error(spec, client.get(runs, HTTP_ACCEPT="text/csv"), 406, "not_acceptable")
    bad_token = APIClient().get(runs, HTTP_AUTHORIZATION="Token not-a-token")
    assert_error(spec, bad_token, bad_token.status_code, "authentication_failed")
    assert_error(spec, client.get("/api/assignments/999999/draft/"), 404, "not_found")


def test_django_level_refusals_under_the_api_answer_the_error_shape(spec, client):
    assert_error(spec, client.get("/api/no-such-route/"), 404, "not_found")
    assert_error(spec, client.get("/api/projects/not-a-number/"), 404, "not_found")
    crash = server_error(RequestFactory().get("/api/projects/"))
    assert crash.status_code == 500
    _validate(spec, {"$ref": "#/components/schemas/Error"}, json.loads(crash.content))


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (exceptions.Throttled(wait=7), 429, "throttled"),
        (Http404("No such thing."), 404, "not_found"),
        (exceptions.PermissionDenied("Not yours.", code="scoped_token"), 403, "scoped_token"),
        (exceptions.APIException({"a": ["wrong"]}), 500, "error"),
    ],
)
def test_exception_handler_shapes_every_api_exception(spec, exc, status, code):
    response = exception_handler(exc, {})
    assert response.status_code == status
    _validate(spec, {"$ref": "#/components/schemas/Error"}, response.data)
    assert response.data["code"] == code
    if status == 429:
        assert response["Retry-After"] == "7" and "7 seconds" in response.data["detail"]


@pytest.mark.django_db
def test_hand_built_report_bodies_match_their_schema(spec):
    """Dashboard, agreement, rm-agreement, rounds, run detail and lineage: dicts built by selectors."""
    project, tasks = ranking_project(5, k=4)
    admin = add_member(project, Role.ADMIN)
    labeler, other = add_member(project), add_member(project)
    loop = two_rounds(project, tasks, labeler)
    ids = candidate_ids(tasks[0])
    rank(tasks[0], other, [[ids[1]], [ids[0]], [ids[2], ids[3]]])
    run = loop["rm"].produced_by
    RunMetric.objects.create(run=run, kind="train", step=1, values={"loss": 0.5})
    client = client_for(admin)
    base = "/api/projects/{project_id}/"
    checks = {
        "dashboard/": None,
        "agreement/": None,
        "rm-agreement/": None,
        "rounds/": None,
        "runs/{run_id}/": run.pk,
        "runs/{run_id}/lineage/": run.pk,
    }
    for tail, run_id in checks.items():
        url = (base + tail).format(project_id=project.pk, run_id=run_id)
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        assert_matches(spec, response, base + tail)
    rounds = client.get(f"/api/projects/{project.pk}/rounds/").json()["rounds"]
    assert rounds[0]["snapshots"] and rounds[1]["reward_model"]  # the nested shapes were there to check
    assert client.get(f"/api/projects/{project.pk}/agreement/").json()["labelers"]


@pytest.mark.django_db
def test_submit_annotation_and_revise_bodies_match_their_schema(spec):
    project = make_project(redundancy=2)  # the tasks stay open after one submission: they can be revised
    import_prompt_tasks(project, 1)
    project_r, _tasks = ranking_project(1, k=4, redundancy=2)
    for proj, body_of in (
        (project, lambda a: {"text": "An answer."}),
        (project_r, lambda a: {"tiers": [[c["id"]] for c in a["task"]["candidates"]]}),
    ):
        client = client_for(add_member(proj, Role.LABELER, user=make_user()))
        lease = client.post(f"/api/projects/{proj.pk}/assignments/next/").json()
        aid = lease["id"]
        body = {"client_id": str(uuid.uuid4()), **body_of(lease)}
        submitted = client.post(f"/api/assignments/{aid}/submit/", body, format="json")
        assert submitted.status_code == 201, submitted.content
        assert_matches(spec, submitted, "/api/assignments/{assignment_id}/submit/", "post")
        again = client.post(f"/api/assignments/{aid}/submit/", body, format="json")
        assert again.status_code == 200
        assert_matches(spec, again, "/api/assignments/{assignment_id}/submit/", "post")
        mine = client.get(f"/api/assignments/{aid}/annotation/")
        assert mine.status_code == 200 and mine.json()["task_open"] is True
        assert_matches(spec, mine, "/api/assignments/{assignment_id}/annotation/")
        revised = client.post(
            f"/api/assignments/{aid}/revise/", {**body, "client_id": str(uuid.uuid4())}, format="json"
        )
        assert revised.status_code == 200, revised.content
        assert_matches(spec, revised, "/api/assignments/{assignment_id}/revise/", "post")
