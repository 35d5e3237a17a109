"""Hostile bodies and files get a named 4xx, never a 500: the API's JSON parser (depth, size, text), flag
values, drafts, and the import files (JSONL, CSV, preference data)."""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labeling.models import Prompt, Role, TaskKind
from labeling.services.errors import ServiceError
from labeling.services.imports import import_file
from labeling.tests.factories import (
    add_member,
    import_prompt_tasks,
    import_ranking_tasks,
    make_project,
    new_client_id,
)
from rewardtrain.importers.preferences import parse_preferences

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _field(response) -> str | None:
    errors = response.json().get("errors") or [{}]
    return errors[0].get("field")


@pytest.fixture
def ranking_lease():
    project = make_project()
    import_ranking_tasks(project, 2)
    labeler = add_member(project, Role.LABELER)
    client = client_for(labeler)
    body = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    return client, body["id"], [c["id"] for c in body["task"]["candidates"]]


@pytest.fixture
def demonstration_lease():
    project = make_project()
    import_prompt_tasks(project, 2)
    labeler = add_member(project, Role.LABELER)
    client = client_for(labeler)
    body = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    assert body["task"]["kind"] == TaskKind.DEMONSTRATION
    return client, body["id"]


# The pure checker


def test_find_bad_text_names_the_json_path():
    from labeling.services.text import find_bad_text

    assert find_bad_text({"payload": {"notes": "fine", "list": [1, 2.5, None, True]}}) is None
    assert find_bad_text({"payload": {"notes": "a\x00b"}})[0] == "payload.notes"
    bad = find_bad_text({"messages": [{"content": "ok"}, {"content": "ok"}, {"content": "\ud800"}]})
    assert bad[0] == "messages[2].content" and "surrogate" in bad[1]
    assert find_bad_text(["\udfff"])[0] == "[0]"
    assert find_bad_text({"k\x00": 1}) is not None  # keys count too
    assert find_bad_text("\U0001f600 \u2028 \u0085") is None  # a real pair and line separators are fine
    deep: list = []
    node = deep
    for _ in range(50_000):  # far past Python's recursion limit: the walk must not recurse
        node.append([])
        node = node[0]
    bad = find_bad_text(deep, max_depth=32)
    assert bad is not None and bad.code == "too_deep" and bad[0].startswith("[0][0]")


# Finding 7: named 400s instead of 500s


@pytest.mark.parametrize("value", [[["harmful"]], [{}], [1], "harmful", [None]])
def test_flag_values_must_be_lists_of_strings(ranking_lease, value):
    client, aid, ids = ranking_lease
    response = client.post(
        f"/api/assignments/{aid}/submit/",
        {"client_id": new_client_id(), "tiers": [[i] for i in ids], "flags": {str(ids[0]): value}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert _field(response).startswith("flags.")


def test_deeply_nested_body_to_anonymous_login_is_a_named_400():
    for depth in (100_000, 40):
        response = Client().post("/api/auth/login", _deep(depth), content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "too_deep"
        assert "32" in response.json()["detail"]


def test_deeply_nested_submit_is_a_named_400(ranking_lease):
    client, aid, _ids = ranking_lease
    for depth in (5000, 40):  # past Python's recursion limit, and past ours only
        body = json.dumps({"client_id": new_client_id(), "tiers": "DEEP"}).replace('"DEEP"', _deep(depth))
        response = client.post(f"/api/assignments/{aid}/submit/", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["code"] == "too_deep"
    assert _field(response).startswith("tiers[0][0]")  # where it went past the limit


def test_malformed_json_is_a_named_400():
    response = Client().post("/api/auth/login", '{"username": ', content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_json"
    response = Client().post("/api/auth/login", b'{"username": "\xff"}', content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"payload": {"notes": "a\\u0000b"}}', "payload.notes"),
        ('{"payload": {"notes": "\\ud800"}}', "payload.notes"),
        ('{"payload": {"turns": [{"content": "ok"}, {"content": "x\\udc00y"}]}}', "payload.turns[1].content"),
    ],
)
def test_draft_with_nul_or_lone_surrogate_names_the_field(demonstration_lease, raw, field):
    client, aid = demonstration_lease
    response = client.put(f"/api/assignments/{aid}/draft/", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_text"
    assert _field(response) == field


def test_draft_service_holds_to_the_same_rules(demonstration_lease):
    from labeling.models import Assignment
    from labeling.services.drafts import draft_save

    _client, aid = demonstration_lease
    assignment = Assignment.objects.get(pk=aid)
    with pytest.raises(ServiceError) as info:
        draft_save(user=assignment.user, assignment=assignment, payload={"turns": [{"content": "\x00"}]})
    assert info.value.errors[0].field == "payload.turns[0].content"
    nested: dict = {}
    node = nested
    for _ in range(40):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(ServiceError) as info:
        draft_save(user=assignment.user, assignment=assignment, payload=nested)
    assert info.value.code == "too_deep"


def test_revise_and_login_text_is_checked_too(demonstration_lease):
    client, aid = demonstration_lease
    raw = '{"client_id": "%s", "text": "fine", "messages": [{"role": "user", "content": "\\ud83d"}]}'
    response = client.post(
        f"/api/assignments/{aid}/revise/", raw % new_client_id(), content_type="application/json"
    )
    assert response.status_code == 400 and _field(response) == "messages[0].content"
    response = Client().post(
        "/api/auth/login", '{"username": "\\u0000", "password": "x"}', content_type="application/json"
    )
    assert response.status_code == 400 and _field(response) == "username"


def _jsonl(*records: dict) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"external_id": "a", "prompt": "x\x00y"}, "prompt"),
        ({"external_id": "a", "prompt": "x\ud800y"}, "prompt"),
        ({"external_id": "a", "prompt": "fine", "metadata": {"note": "\udc00"}}, "metadata.note"),
    ],
)
def test_import_refuses_nul_and_lone_surrogates_naming_line_and_field(record, field):
    project = make_project()
    good = {"external_id": "ok", "prompt": "fine"}
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data=_jsonl(good, record), kind="prompts")
    error = info.value.errors[0]
    assert (error.line, error.field) == (2, field)
    assert Prompt.objects.count() == 0


def test_import_refuses_deep_nesting_by_line():
    project = make_project()
    deep = json.dumps({"external_id": "a", "prompt": "x", "metadata": {"n": "DEEP"}}).replace(
        '"DEEP"', _deep(5000)
    )
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data=deep.encode(), kind="prompts")
    assert info.value.errors[0].line == 1 and "deep" in info.value.errors[0].message


def test_import_refuses_an_overlong_model_name():
    project = make_project()
    answers = [{"text": f"answer {i}", "model": "m" * 301} for i in range(project.k_answers)]
    with pytest.raises(ServiceError) as info:
        import_file(
            project=project,
            user=None,
            data=_jsonl({"external_id": "a", "prompt": "x", "answers": answers}),
            kind="ranking_items",
        )
    assert info.value.errors[0].field == "answers[0].model"


def test_import_refuses_a_priority_the_column_cannot_hold():
    # Before: bulk_create on PostgreSQL stored 2**40 + 7 as 7 (the low 32 bits), silently.
    project = make_project()
    with pytest.raises(ServiceError) as info:
        import_file(
            project=project,
            user=None,
            data=_jsonl({"external_id": "a", "prompt": "x", "priority": 2**40}),
            kind="prompts",
        )
    assert info.value.errors[0].field == "priority"


def test_csv_import_refuses_nul_past_the_binary_sniff():
    project = make_project()
    rows = ["external_id,prompt"] + [f"id{i},{'x' * 100}" for i in range(700)] + ["late,a\x00b"]
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data="\n".join(rows).encode(), kind="prompts", fmt="csv")
    error = info.value.errors[0]
    assert (error.line, error.field) == (702, "prompt")


@pytest.mark.parametrize(
    "line",
    [
        {"chosen": "\n\nHuman: hi\x00\n\nAssistant: a", "rejected": "\n\nHuman: hi\x00\n\nAssistant: b"},
        {"chosen": "\n\nHuman: hi\n\nAssistant: \ud800", "rejected": "\n\nHuman: hi\n\nAssistant: b"},
    ],
)
def test_preference_import_refuses_bad_text(line):
    with pytest.raises(ServiceError) as info:
        parse_preferences(_jsonl(line), "hh")
    assert info.value.errors[0].line == 1 and info.value.errors[0].field in ("chosen", "rejected")


def test_preference_import_refuses_deep_nesting():
    data = (
        json.dumps({"prompt": "q", "chosen": "a", "rejected": "DEEP"}).replace('"DEEP"', _deep(5000)).encode()
    )
    with pytest.raises(ServiceError) as info:
        parse_preferences(data, "trl")
    assert info.value.errors[0].line == 1


# Finding 10: lines split only on \n


def test_jsonl_keeps_unicode_line_separators_inside_strings():
    project = make_project()
    lines = [
        json.dumps({"external_id": "a", "prompt": "one\u2028two"}, ensure_ascii=False),
        json.dumps({"external_id": "b", "prompt": "three\u0085four\u2029five\x1c"}, ensure_ascii=False),
        "{broken",
    ]
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data="\r\n".join(lines).encode(), kind="prompts")
    assert [(e.line, e.field) for e in info.value.errors] == [(3, None)]
    result = import_file(project=project, user=None, data="\r\n".join(lines[:2]).encode(), kind="prompts")
    assert result.prompts_created == 2
    assert Prompt.objects.get(external_id="a").messages[0]["content"] == "one\u2028two"
    # Old Mac line ends (a bare CR) end lines too: no JSON string holds a raw CR.
    cr_only = "\r".join(json.dumps({"external_id": e, "prompt": "p"}) for e in ("c", "d")).encode()
    assert import_file(project=project, user=None, data=cr_only, kind="prompts").prompts_created == 2


# Finding 13: limits in the API's error shape, and stated as set


def test_body_over_the_request_limit_is_a_json_413(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"username": "x" * (1024 * 1024), "password": "y"})
    response = Client().post("/api/auth/login", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "too_large" and "1 MiB" in response.json()["detail"]
    form = {"username": "x" * (1024 * 1024), "password": "y"}
    csrf_checked = Client(enforce_csrf_checks=True)
    csrf_checked.get(
        "/api/auth/csrf"
    )  # with its cookie set, the CSRF check reads the form before the view does
    for client in (Client(), csrf_checked):
        response = client.post("/api/auth/login", form)
        assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_import_limit_is_reported_as_configured(settings):
    settings.IMPORT_MAX_BYTES = 20 * 1024 * 1024
    project = make_project()
    with pytest.raises(ServiceError) as info:
        import_file(project=project, user=None, data=b"x" * (settings.IMPORT_MAX_BYTES + 1), kind="prompts")
    assert "20 MiB" in info.value.message and "21.0" not in info.value.message
    with pytest.raises(ServiceError) as info:
        parse_preferences(b"x" * (settings.IMPORT_MAX_BYTES + 1), "hh")
    assert "20 MiB" in info.value.message


def test_import_limit_over_http_is_reported_as_configured(settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.IMPORT_MAX_BYTES = 1024 * 1024
    project = make_project()
    admin = project.memberships.get(role=Role.ADMIN).user
    upload = SimpleUploadedFile("big.jsonl", b"x" * (settings.IMPORT_MAX_BYTES + 1))
    response = client_for(admin).post(
        f"/api/projects/{project.pk}/imports/", {"file": upload, "kind": "prompts"}, format="multipart"
    )
    assert response.status_code == 400 and response.json()["code"] == "too_large"
    assert "1 MiB" in response.json()["detail"] and "1.0 MB" not in response.json()["detail"]
