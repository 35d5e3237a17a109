"""Assisted demonstrations: the labeler asks for a suggestion from the project's current SFT model (sampled by the
`gpu` task, here run in-process with a tiny model built from a config), edits it, and the demonstration records
the suggestion and the edit distance measured on the server; exports can leave out lightly-edited answers."""

import json
import random

import pytest
from rest_framework.test import APIClient

from annotate.celery import app
from labeling.models import Demonstration, Role, Suggestion, SuggestionStatus, TaskKind
from labeling.services.edits import edit_distance, levenshtein, levenshtein_two_rows
from labeling.services.errors import ValidationFailed
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, make_user, new_client_id
from rewardtrain import model_cache
from rewardtrain.runs.models import ModelKind
from rewardtrain.runs.services import registered_model_create
from rewardtrain.runs.tests.roots import model_root, rooted  # noqa: F401  (model_root: a fixture)
from rewardtrain.snapshots.services import snapshot_build, snapshot_create, snapshot_dir
from rewardtrain.suggestions import services as suggestions
from rewardtrain.suggestions.tasks import gpu_suggest
from rewardtrain.training.tests.helpers import CORPUS
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    """Two tiny causal LMs saved locally (a base and an 'SFT' one); nothing is downloaded."""
    root = tmp_path_factory.mktemp("suggest-models")
    build_tiny_model_and_tokenizer(root / "base", corpus=CORPUS, seed=0)
    build_tiny_model_and_tokenizer(root / "sft", corpus=CORPUS, seed=1)
    return root


@pytest.fixture
def world(db, monkeypatch, model_root):  # noqa: F811
    project = make_project()
    import_prompt_tasks(project, 3)
    admin = project.memberships.get(role=Role.ADMIN).user
    labeler = add_member(project)
    client = client_for(labeler)
    assignment = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    assert assignment["task"]["kind"] == TaskKind.DEMONSTRATION
    model_cache.clear()
    # Short samples keep the tests quick on a CPU; everything else is as in production.
    monkeypatch.setitem(suggestions.SAMPLING, "max_new_tokens", 24)
    return project, admin, labeler, client, assignment["id"]


def ask(client, assignment_id, django_capture_on_commit_callbacks):
    """POST a suggestion request; the queued task is captured on commit, then run here as a gpu worker would."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        got = client.post(f"/api/assignments/{assignment_id}/suggestion/")
    return got, callbacks


@pytest.mark.django_db
def test_without_a_model_the_request_is_refused_clearly(world, django_capture_on_commit_callbacks):
    _project, _admin, _labeler, client, aid = world
    got, callbacks = ask(client, aid, django_capture_on_commit_callbacks)
    assert got.status_code == 409 and got.json()["code"] == "no_model"
    assert "no SFT or base model" in got.json()["detail"]
    assert not callbacks and not Suggestion.objects.exists()


@pytest.mark.django_db
def test_a_suggestion_is_sampled_and_its_edit_distance_recorded(
    world, tiny_dirs, django_capture_on_commit_callbacks
):
    project, admin, _labeler, client, aid = world
    registered_model_create(
        project=project, user=admin, name="tiny-base", kind=ModelKind.BASE, **rooted(tiny_dirs / "base")
    )
    registered_model_create(
        project=project, user=admin, name="tiny-sft", kind=ModelKind.SFT, **rooted(tiny_dirs / "sft")
    )
    got, callbacks = ask(client, aid, django_capture_on_commit_callbacks)
    assert got.status_code == 202, got.json()
    pending = got.json()
    assert pending["status"] == "pending" and "model_name" not in pending  # labelers never see the model
    assert Suggestion.objects.get().model_name == "tiny-sft"  # the SFT model wins over base
    # Asking again while it is pending queues nothing more.
    again, more = ask(client, aid, django_capture_on_commit_callbacks)
    assert again.status_code == 200 and again.json()["id"] == pending["id"] and not more
    assert len(callbacks) == 1
    assert app.amqp.router.route({}, gpu_suggest.name)["queue"].name == "gpu"
    assert gpu_suggest(pending["id"]) == SuggestionStatus.DONE  # the worker's task, run in this process
    assert gpu_suggest(pending["id"]) is None  # a second delivery samples nothing
    polled = client.get(f"/api/assignments/{aid}/suggestion/").json()
    assert polled["status"] == "done" and polled["id"] == pending["id"]
    suggestion = Suggestion.objects.get()
    assert polled["text"] == suggestion.text and suggestion.finished_at is not None

    # The labeler edits it; the server measures the change against its own copy, whatever the client claims.
    edited = suggestion.text + " Edited by hand."
    body = {
        "client_id": new_client_id(),
        "text": edited,
        "suggestion": "a fake suggestion",
        "seconds_spent": 12,
    }
    submitted = client.post(f"/api/assignments/{aid}/submit/", body, format="json")
    assert submitted.status_code == 201, submitted.json()
    demo = Demonstration.objects.get()
    assert demo.suggestion == suggestion.text and demo.suggestion_model == "tiny-sft"
    assert demo.edit_distance == len(" Edited by hand.")
    assert demo.edit_ratio == pytest.approx(len(" Edited by hand.") / len(edited), abs=1e-6)
    assert submitted.json()["edit_distance"] == demo.edit_distance
    # No suggestion once the assignment is submitted.
    late, _ = ask(client, aid, django_capture_on_commit_callbacks)
    assert late.status_code == 409 and late.json()["code"] == "not_active"


@pytest.mark.django_db
def test_only_the_assignee_asks_and_sees(world, tiny_dirs, django_capture_on_commit_callbacks):
    project, admin, _labeler, client, aid = world
    registered_model_create(
        project=project, user=admin, name="tiny", kind=ModelKind.BASE, **rooted(tiny_dirs / "base")
    )
    got, _ = ask(client, aid, django_capture_on_commit_callbacks)
    assert got.status_code == 202
    for other in (client_for(add_member(project)), client_for(admin), client_for(make_user())):
        assert other.get(f"/api/assignments/{aid}/suggestion/").status_code == 404
        assert other.post(f"/api/assignments/{aid}/suggestion/").status_code == 404
    assert APIClient().get(f"/api/assignments/{aid}/suggestion/").status_code in (401, 403)
    assert client.get(f"/api/assignments/{aid}/suggestion/?id=abc").status_code == 400


@pytest.mark.django_db
def test_a_failed_sample_says_why_and_a_suggestion_of_another_task_is_refused(
    world, tmp_path, django_capture_on_commit_callbacks
):
    project, admin, _labeler, client, aid = world
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    registered_model_create(project=project, user=admin, name="broken", kind=ModelKind.SFT, **rooted(empty))
    got, _ = ask(client, aid, django_capture_on_commit_callbacks)
    assert gpu_suggest(got.json()["id"]) == SuggestionStatus.FAILED
    failed = client.get(f"/api/assignments/{aid}/suggestion/").json()
    assert failed["status"] == "failed" and failed["error"]
    # A failed suggestion is no suggestion: the demonstration counts as unassisted.
    body = {"client_id": new_client_id(), "text": "Written alone."}
    assert client.post(f"/api/assignments/{aid}/submit/", body, format="json").status_code == 201
    assert Demonstration.objects.get().edit_distance is None
    # Naming a suggestion that is not a finished one of this assignment is an error naming the field.
    nxt = client.post(f"/api/projects/{project.pk}/assignments/next/").json()["id"]
    body = {"client_id": new_client_id(), "text": "x", "suggestion_id": got.json()["id"]}
    refused = client.post(f"/api/assignments/{nxt}/submit/", body, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "suggestion_id"


@pytest.mark.django_db
def test_loaded_models_are_cached_per_process(world, tiny_dirs, django_capture_on_commit_callbacks):
    project, admin, _labeler, client, aid = world
    registered_model_create(
        project=project, user=admin, name="tiny", kind=ModelKind.SFT, **rooted(tiny_dirs / "sft")
    )
    first, _ = ask(client, aid, django_capture_on_commit_callbacks)
    gpu_suggest(first.json()["id"])
    loaded = model_cache.causal_lm(str((tiny_dirs / "sft").resolve()))
    second, _ = ask(client, aid, django_capture_on_commit_callbacks)
    assert second.status_code == 202 and gpu_suggest(second.json()["id"]) == SuggestionStatus.DONE
    assert model_cache.causal_lm(str((tiny_dirs / "sft").resolve())) is loaded
    assert model_cache.cached_paths() == [(str((tiny_dirs / "sft").resolve()), "")]


@pytest.mark.django_db
def test_exports_carry_suggestion_metadata_and_filter_lightly_edited(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    project, _admin, _labeler, _client, _aid = world
    tasks = list(project.tasks.order_by("id"))
    from rewardtrain.tests.helpers import demonstrate

    writer = make_user()
    untouched = demonstrate(tasks[0], writer, "The suggestion as is.")
    edited = demonstrate(tasks[1], writer, "Mostly rewritten by the labeler.")
    alone = demonstrate(tasks[2], make_user(), "Written without help.")
    for demo, (distance, ratio) in (
        (untouched, edit_distance("The suggestion as is.", untouched.text)),
        (edited, edit_distance("The suggestion as is.", edited.text)),
    ):
        Demonstration.objects.filter(pk=demo.pk).update(
            suggestion="The suggestion as is.",
            suggestion_model="tiny-sft",
            edit_distance=distance,
            edit_ratio=ratio,
        )

    def rows(**settings_data):
        snapshot = snapshot_create(project=project, user=None, settings_data={"kind": "sft", **settings_data})
        snapshot = snapshot_build(snapshot_id=snapshot.pk)
        assert snapshot.status == "ready", snapshot.error
        out = []
        for split in ("train", "validation"):
            path = snapshot_dir(snapshot) / f"{split}.jsonl"  # an empty validation split is not stored
            out += [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        return snapshot, sorted(out, key=lambda r: r["demonstration_id"])

    _, everything = rows()
    assert [r["demonstration_id"] for r in everything] == [untouched.pk, edited.pk, alone.pk]
    meta = everything[0]["metadata"]
    assert meta == {
        "source": "demonstration",
        "assisted": True,
        "suggestion_model": "tiny-sft",
        "suggestion": "The suggestion as is.",
        "edit_distance": 0,
        "edit_ratio": 0.0,
    }
    assert everything[2]["metadata"]["assisted"] is False and everything[2]["metadata"]["edit_ratio"] is None
    snapshot, filtered = rows(min_edit_ratio=0.3)
    assert [r["demonstration_id"] for r in filtered] == [edited.pk, alone.pk]  # unassisted ones are kept
    assert snapshot.manifest["excluded"]["lightly_edited_demonstrations"] == 1
    assert snapshot.manifest["params"]["min_edit_ratio"] == 0.3
    for bad in ({"kind": "sft", "min_edit_ratio": 1.5}, {"kind": "pairwise", "min_edit_ratio": 0.2}):
        with pytest.raises(ValidationFailed) as caught:
            snapshot_create(project=project, user=None, settings_data=bad)
        assert [e.field for e in caught.value.errors] == ["min_edit_ratio"]


def test_edit_distance_matches_the_two_row_programme_and_is_fast():
    rng = random.Random(7)
    for _ in range(500):
        a = "".join(rng.choice("ab c") for _ in range(rng.randrange(0, 90)))
        b = "".join(rng.choice("ab c") for _ in range(rng.randrange(0, 90)))
        assert levenshtein(a, b) == levenshtein_two_rows(a, b), (a, b)
    assert levenshtein("kitten", "sitting") == 3 and levenshtein("", "abc") == 3
    assert edit_distance("same", "same") == (0, 0.0) and edit_distance("", "") == (0, 0.0)
    assert edit_distance("abc", "xyz") == (3, 1.0)
    # Past the cap, the rest counts as written anew (an upper bound), so long texts stay cheap.
    assert edit_distance("a" * 10 + "b" * 5, "a" * 10 + "c" * 8, cap=10) == (8, round(8 / 18, 6))
    long_a = "".join(rng.choice("abcdefghij ") for _ in range(32_000))
    long_b = "".join(rng.choice("abcdefghij ") for _ in range(32_000))
    distance, ratio = edit_distance(long_a, long_b)
    assert 0 < distance <= 32_000 and 0 < ratio <= 1
