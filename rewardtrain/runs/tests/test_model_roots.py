"""Models come from the registry: a hub name, a run's own output, or a directory under an operator's model root.

A project admin names a root and types a path relative to it; what leaves the root (an absolute path, `..`, a
symlink, a GGUF file elsewhere) gets the same answer as what does not exist, at registration and again when a
worker loads the model. Labelers never learn which model wrote their suggestion.
"""

import shutil
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from labeling.models import Demonstration, Role, TaskKind
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, make_user, new_client_id
from rewardtrain import model_cache
from rewardtrain.runs import scoring
from rewardtrain.runs.models import CandidateScore, RegisteredModel, RunStatus
from rewardtrain.suggestions import services as suggestions
from rewardtrain.suggestions.tasks import gpu_suggest
from rewardtrain.tests.helpers import ranking_project
from rewardtrain.training.tests.helpers import CORPUS
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A tiny causal LM (`lm`) and a reward model on it (`rm`), saved with save_pretrained; nothing downloaded."""
    from rewardtrain.training.modeling import RewardModel, load_tokenizer

    out = tmp_path_factory.mktemp("built-models")
    build_tiny_model_and_tokenizer(out / "lm", corpus=CORPUS, seed=0)
    RewardModel.from_backbone(str(out / "lm")).save_pretrained(
        out / "rm", tokenizer=load_tokenizer(str(out / "lm"))
    )
    return out


@pytest.fixture
def host(settings, tmp_path, built):
    """The operator's root `shared` with two real models in it; outside it, a model, a GGUF file and the
    media folder of another project (a run's output)."""
    root = tmp_path / "roots" / "shared"
    shutil.copytree(built / "lm", root / "lm")
    shutil.copytree(built / "rm", root / "rm")
    outside = tmp_path / "outside"
    shutil.copytree(built / "rm", outside / "secret-rm")
    shutil.copytree(built / "lm", outside / "lm")
    (outside / "secret.gguf").write_bytes(b"GGUF")
    settings.MEDIA_ROOT = tmp_path / "media"
    other_run = settings.MEDIA_ROOT / "runs" / "999" / "1"
    shutil.copytree(built / "rm", other_run)
    settings.ANNOTATE_MODEL_ROOTS = {"shared": str(root)}
    return {"root": root, "outside": outside, "other_run": other_run}


@pytest.fixture
def admin_api(db):
    """A project admin (not site staff) with a session, and their project."""
    admin = make_user()
    project = make_project(admin=admin)
    client = APIClient()
    client.force_authenticate(admin)
    return project, client


def register(client: APIClient, project, **body):
    return client.post(
        f"/api/projects/{project.pk}/models/", {"name": "m", "kind": "rm", **body}, format="json"
    )


def refusal(response, typed: str) -> tuple:
    """Everything an admin learns from a refusal, with the name they typed taken out."""
    body = response.json()
    messages = tuple(
        (e.get("field"), e["message"].replace(repr(typed), "<typed>")) for e in body.get("errors", [])
    )
    return response.status_code, body.get("code"), body.get("detail"), messages


# --- the operator's setting ---------------------------------------------------------------------------------


def test_roots_are_parsed_and_checked_at_start():
    from annotate.model_roots import parse_model_roots

    assert parse_model_roots(None) == {} and parse_model_roots("  ") == {}
    assert parse_model_roots('{"shared": "/srv/models", "b": "/opt/m/"}') == {
        "shared": "/srv/models",
        "b": "/opt/m",
    }
    assert parse_model_roots("shared=/srv/models, bundled=/opt/x") == {
        "shared": "/srv/models",
        "bundled": "/opt/x",
    }
    for bad in (
        "shared=relative/dir",
        "Bad Name=/x",
        "a=/x,a=/y",
        '{"a": 1}',
        "{not json",
        "noequals",
        '["/x"]',
    ):
        with pytest.raises(ImproperlyConfigured):
            parse_model_roots(bad)


@pytest.mark.django_db
def test_admins_list_root_names_never_host_paths(host, admin_api):
    project, client = admin_api
    got = client.get(f"/api/projects/{project.pk}/model-roots/")
    assert got.status_code == 200 and got.json() == [{"name": "shared"}]
    assert str(host["root"]) not in got.content.decode()
    labeler = APIClient()
    labeler.force_authenticate(add_member(project, Role.LABELER))
    assert labeler.get(f"/api/projects/{project.pk}/model-roots/").status_code == 403


# --- registration --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_host_path_is_refused(host, admin_api):
    project, client = admin_api
    for path in (
        "/etc",
        str(host["outside"] / "secret-rm"),
        str(host["other_run"]),
        str(host["root"] / "rm"),
    ):
        got = register(client, project, path=path)
        assert got.status_code == 400, (path, got.json())
        assert got.json()["errors"][0]["field"] == "path"
        got = register(client, project, root="shared", path=path)
        assert got.status_code == 400 and got.json()["errors"][0]["field"] == "path", got.json()
    assert not RegisteredModel.objects.exists()


@pytest.mark.django_db
def test_dot_dot_and_symlinks_out_of_the_root_are_refused(host, admin_api):
    project, client = admin_api
    (host["root"] / "escape").symlink_to(host["outside"] / "secret-rm")
    (host["root"] / "rm" / "link.gguf").symlink_to(host["outside"] / "secret.gguf")
    hosted = str(host["root"] / "rm")
    got = register(
        client, project, path=hosted, gguf_file="../../../outside/secret.gguf"
    )  # no root: host path
    assert got.status_code == 400, got.json()
    for body in (
        {"path": "../../outside/secret-rm"},
        {"path": "rm/../../../outside/secret-rm"},
        {"path": "escape"},
        {"path": "rm", "gguf_file": "../../../outside/secret.gguf"},
        {"path": "rm", "gguf_file": "link.gguf"},
        {"path": "rm", "gguf_file": str(host["outside"] / "secret.gguf")},
    ):
        got = register(client, project, root="shared", **body)
        assert got.status_code == 400, (body, got.json())
    assert not RegisteredModel.objects.exists()


@pytest.mark.django_db
def test_missing_and_forbidden_paths_get_the_same_answer(host, admin_api):
    project, client = admin_api
    (host["root"] / "escape").symlink_to(host["outside"] / "secret-rm")
    assert (host["root"] / "../../media/runs/999/1").resolve() == host["other_run"].resolve()  # really there
    answers = {
        typed: refusal(register(client, project, root="shared", path=typed), typed)
        for typed in (
            "no-such-model",
            "escape",
            "../../outside/secret-rm",
            "../../media/runs/999/1",
            "../../../etc",
        )
    }
    assert len(set(answers.values())) == 1, answers
    status, code, _, ((field, message),) = answers["escape"]
    assert (status, code, field) == (400, "model_not_found", "path")
    assert message == "no model directory named <typed> under root 'shared'"
    gguf = {
        typed: refusal(register(client, project, root="shared", path="rm", gguf_file=typed), typed)
        for typed in ("missing.gguf", "../../outside/secret.gguf", "../../../outside/secret.gguf")
    }
    assert len(set(gguf.values())) == 1, gguf
    assert next(iter(gguf.values()))[1] == "model_not_found"


@pytest.mark.django_db
def test_hub_names_are_strict(host, admin_api):
    project, client = admin_api
    ok = register(client, project, name="smol", kind="base", path="HuggingFaceTB/SmolLM2-135M-Instruct")
    assert ok.status_code == 201, ok.json()
    assert (
        ok.json()["source"] == "hub" and ok.json()["reference"] == "hub:HuggingFaceTB/SmolLM2-135M-Instruct"
    )
    for path in ("../etc", ".hidden/x", "owner/..", "a/b/c", "owner/na me", "/owner/name", "name"):
        got = register(client, project, name=f"bad{len(path)}", kind="base", path=path)
        assert got.status_code == 400 and got.json()["errors"][0]["field"] == "path", (path, got.json())
    got = register(client, project, name="g", kind="base", path="owner/name", gguf_file="../x.gguf")
    assert got.status_code == 400 and got.json()["errors"][0]["field"] == "gguf_file"


@pytest.mark.django_db
def test_an_unknown_root_names_the_configured_ones(host, admin_api):
    project, client = admin_api
    got = register(client, project, root="elsewhere", path="rm")
    assert got.status_code == 400 and got.json()["errors"][0]["field"] == "root"
    assert (
        "'elsewhere'" in got.json()["errors"][0]["message"] and "shared" in got.json()["errors"][0]["message"]
    )


# --- use: a rooted model loads for real, and is checked again when it does -----------------------------------


@pytest.mark.django_db
def test_a_rooted_reward_model_scores_candidates(host):
    project, _ = ranking_project(2, k=4)
    admin = project.memberships.get(role=Role.ADMIN).user
    client = APIClient()
    client.force_authenticate(admin)
    got = register(client, project, name="rm", kind="rm", root="shared", path="./rm/")
    assert got.status_code == 201, got.json()
    assert (got.json()["source"], got.json()["root"], got.json()["path"]) == ("root", "shared", "rm")
    assert got.json()["reference"] == "root:shared/rm"
    job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=got.json()["id"])
    done = scoring.scoring_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert CandidateScore.objects.filter(reward_model_id=got.json()["id"]).count() == 8


@pytest.mark.django_db
def test_a_symlink_swapped_in_after_registration_is_refused_when_loaded(host):
    project, _ = ranking_project(1, k=4)
    admin = project.memberships.get(role=Role.ADMIN).user
    client = APIClient()
    client.force_authenticate(admin)
    got = register(client, project, name="rm", kind="rm", root="shared", path="rm")
    assert got.status_code == 201, got.json()
    shutil.rmtree(host["root"] / "rm")
    (host["root"] / "rm").symlink_to(host["outside"] / "secret-rm")  # a loadable model, outside the root
    job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=got.json()["id"])
    done = scoring.scoring_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.FAILED
    assert "no model directory named 'rm' under root 'shared'" in done.error
    assert not CandidateScore.objects.exists()


@pytest.fixture
def labeler_world(host, db, monkeypatch):
    project = make_project()
    import_prompt_tasks(project, 2)
    admin = project.memberships.get(role=Role.ADMIN).user
    labeler = APIClient()
    labeler.force_authenticate(add_member(project))
    assignment = labeler.post(f"/api/projects/{project.pk}/assignments/next/").json()
    assert assignment["task"]["kind"] == TaskKind.DEMONSTRATION
    model_cache.clear()
    monkeypatch.setitem(suggestions.SAMPLING, "max_new_tokens", 8)
    admin_client = APIClient()
    admin_client.force_authenticate(admin)
    return project, admin_client, labeler, assignment["id"]


def _ask(labeler, aid, capture):
    with capture(execute=False):
        return labeler.post(f"/api/assignments/{aid}/suggestion/")


@pytest.mark.django_db
def test_a_suggestion_comes_from_the_rooted_model_and_never_names_it(
    labeler_world, django_capture_on_commit_callbacks
):
    project, admin, labeler, aid = labeler_world
    got = register(admin, project, name="secret-sft-v7", kind="sft", root="shared", path="lm")
    assert got.status_code == 201, got.json()
    asked = _ask(labeler, aid, django_capture_on_commit_callbacks)
    assert asked.status_code == 202
    assert gpu_suggest(asked.json()["id"]) == "done"
    polled = labeler.get(f"/api/assignments/{aid}/suggestion/")
    assert polled.json()["status"] == "done" and polled.json()["text"] is not None
    for response in (asked, polled):
        assert "model_name" not in response.json() and "secret-sft-v7" not in response.content.decode()
    body = {
        "client_id": new_client_id(),
        "text": polled.json()["text"] + " edited",
        "suggestion_id": asked.json()["id"],
    }
    submitted = labeler.post(f"/api/assignments/{aid}/submit/", body, format="json")
    assert submitted.status_code == 201, submitted.json()
    mine = labeler.get(f"/api/assignments/{aid}/annotation/")
    for response in (submitted, mine):
        assert "secret-sft-v7" not in response.content.decode(), response.json()
    # Admins keep the model with the demonstration.
    assert Demonstration.objects.get().suggestion_model == "secret-sft-v7"
    listed = admin.get(f"/api/projects/{project.pk}/demonstrations/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["suggestion_model"] == "secret-sft-v7"


@pytest.mark.django_db
def test_a_suggestion_from_a_swapped_model_fails_without_naming_it(
    host, labeler_world, django_capture_on_commit_callbacks
):
    project, admin, labeler, aid = labeler_world
    got = register(admin, project, name="secret-sft-v7", kind="sft", root="shared", path="lm")
    assert got.status_code == 201, got.json()
    shutil.rmtree(host["root"] / "lm")
    (host["root"] / "lm").symlink_to(host["outside"] / "lm")  # a loadable model, outside the root
    asked = _ask(labeler, aid, django_capture_on_commit_callbacks)
    assert gpu_suggest(asked.json()["id"]) == "failed"
    polled = labeler.get(f"/api/assignments/{aid}/suggestion/")
    assert polled.json()["status"] == "failed" and polled.json()["error"]
    text = polled.content.decode()
    assert "secret-sft-v7" not in text and "shared" not in text and "/" not in polled.json()["error"]


@pytest.mark.django_db
def test_site_staff_cannot_type_a_model_reference_in_the_django_admin(host, client):
    staff = make_user(is_staff=True, is_superuser=True)
    project = make_project(admin=staff)
    model = RegisteredModel.objects.create(project=project, name="m", kind="base", path="org/m")
    client.force_login(staff)
    assert client.get("/admin/runs/registeredmodel/add/").status_code == 403
    page = client.get(f"/admin/runs/registeredmodel/{model.pk}/change/")
    assert page.status_code == 200 and 'name="path"' not in page.content.decode()
    assert 'name="source"' not in page.content.decode()
