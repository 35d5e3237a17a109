"""A job that draws each prompt's K answers from several models (shuffled, blind to labelers), answers cut at the
token limit marked for admins and, neutrally, for labelers, and the tasks a job made listed for admins only."""

import json

import pytest
from rest_framework.test import APIClient

from labeling.models import Candidate, Role, Task, TaskCandidate, TaskKind, TaskStatus
from labeling.tests.factories import add_member, new_client_id
from rewardtrain.generation import services
from rewardtrain.generation.models import GenerationItem, GenerationSource
from rewardtrain.generation.tests.helpers import project_with_prompts, register
from rewardtrain.generation.tests.openai_server import Script, openai_server
from rewardtrain.runs.models import ModelKind, RunStatus
from rewardtrain.training.generate import Drawn, collect_distinct

pytestmark = pytest.mark.django_db

FAST = {"max_new_tokens": 6, "seed": 1, "batch_size": 2}
CHAT = [{"role": "user", "content": "count 3 apple"}]


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _two_models(project, admin, path):
    policy = register(project, admin, path, kind=ModelKind.POLICY, name="policy-zeta")
    sft = register(project, admin, path, kind=ModelKind.SFT, name="sft-omega")
    return policy, sft


def _lease(client, project) -> dict:
    # The prompts' own demonstration tasks are not what these tests look at.
    Task.objects.filter(project=project, kind=TaskKind.DEMONSTRATION).update(status=TaskStatus.CLOSED)
    response = client.post(f"/api/projects/{project.pk}/assignments/next/")
    assert response.status_code == 200, response.content
    assert response.json()["task"]["kind"] == "ranking"
    return response.json()


def test_a_job_draws_each_prompts_answers_from_two_models_shuffled_and_blind(tiny_dir):
    project, admin = project_with_prompts(6)
    policy, sft = _two_models(project, admin, tiny_dir)
    client = _client(admin)
    base = f"/api/projects/{project.pk}/generation-jobs/"
    body = {
        "models": [{"model": policy.pk, "answers": 2}, {"model": sft.pk, "answers": 2}],
        "prompts": "no_ranking_task",
        "settings": FAST,
    }
    created = client.post(base, body, format="json")
    assert created.status_code == 201, created.json()
    job = created.json()
    assert [(s["model_name"], s["answers"]) for s in job["sources"]] == [("policy-zeta", 2), ("sft-omega", 2)]
    assert job["model"] == policy.pk  # the first model, as single-model clients read it

    done = services.generation_job_execute(job_id=job["id"], worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.prompts_done == 6
    policy_first = []
    for task_id in GenerationItem.objects.filter(job=done).values_list("task_id", flat=True).distinct():
        links = TaskCandidate.objects.filter(task_id=task_id).select_related("candidate").order_by("position")
        by = [(link.candidate.model_name, link.candidate.sampling["model"]) for link in links]
        assert sorted(by) == sorted([("policy-zeta", policy.pk)] * 2 + [("sft-omega", sft.pk)] * 2)
        assert all(isinstance(link.candidate.sampling["truncated"], bool) for link in links)
        policy_first.append([name for name, _ in by[:2]] == ["policy-zeta"] * 2)
    # One arrangement in six puts both policy answers first; six prompts all so: 6**-6.
    assert not all(policy_first), "the stored order follows the models"

    # A labeler sees ids, texts and the neutral cut-off note, nothing about who wrote an answer.
    labeler = _client(add_member(project))
    payload = _lease(labeler, project)
    for candidate in payload["task"]["candidates"]:
        assert set(candidate) == {"id", "text", "truncated"}
    raw = json.dumps(payload)
    assert "zeta" not in raw and "omega" not in raw and "sampling" not in raw and "model" not in raw
    detail = labeler.get(f"/api/assignments/{payload['id']}/").json()
    assert [set(c) for c in detail["task"]["candidates"]] == [{"id", "text", "truncated"}] * 4
    assert "zeta" not in json.dumps(detail) and "omega" not in json.dumps(detail)


def test_mixed_jobs_are_refused_naming_what_is_wrong(tiny_dir, tiny_rm_dir):
    project, admin = project_with_prompts(2)
    policy, sft = _two_models(project, admin, tiny_dir)
    rm = register(project, admin, tiny_rm_dir, kind=ModelKind.RM, name="rm")
    base = f"/api/projects/{project.pk}/generation-jobs/"
    client = _client(admin)

    def refused(**body) -> dict[str, str]:
        r = client.post(base, {"prompts": "no_ranking_task", **body}, format="json")
        assert r.status_code == 400, r.json()
        return {e.get("field"): e["message"] for e in r.json()["errors"]}

    mix = [{"model": policy.pk, "answers": 2}, {"model": sft.pk, "answers": 1}]
    assert "add up to 3" in refused(models=mix)["models"] and "k=4" in refused(models=mix)["models"]
    both = refused(model=policy.pk, models=[{"model": policy.pk, "answers": 4}])
    assert "not both" in both["models"]
    assert "name the model" in refused()["model"]
    twice = [{"model": policy.pk, "answers": 2}, {"model": policy.pk, "answers": 2}]
    assert "listed twice" in refused(models=twice)["models[1].model"]
    judge = [{"model": policy.pk, "answers": 2}, {"model": rm.pk, "answers": 2}]
    assert "is a rm model" in refused(models=judge)["models[1].model"]
    assert "models[0].answers" in refused(models=[{"model": policy.pk, "answers": 0}])
    assert not GenerationSource.objects.exists()


def _endpoint(settings, url: str) -> None:
    settings.ANNOTATE_INFERENCE_ENDPOINTS = {"local": {"base_url": url, "models": ["served-a", "served-b"]}}
    settings.ANNOTATE_INFERENCE_ENDPOINTS_FILE = ""


def test_answers_cut_at_the_token_limit_are_marked_for_admins_and_neutrally_for_labelers(tiny_dir, settings):
    project, admin = project_with_prompts(3)
    policy, sft = _two_models(project, admin, tiny_dir)
    with openai_server(Script(length_every=3)) as (url, script):
        _endpoint(settings, url)
        job = services.generation_job_create(
            project=project,
            user=admin,
            models=[
                {"model": policy.pk, "answers": 3, "endpoint_model": "served-b"},
                {"model": sft.pk, "answers": 1},
            ],
            prompts="no_ranking_task",
            backend="openai",
            endpoint="local",
            settings={"seed": 2},
        )
        done = services.generation_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert {r["body"]["model"] for r in script.requests} == {"served-a", "served-b"}
    served = {c.model_name: c.sampling["endpoint_model"] for c in Candidate.objects.all()}
    assert served == {"policy-zeta": "served-b", "sft-omega": "served-a"}
    # The server numbers its answers and cuts every third: the stored flag follows finish_reason.
    for candidate in Candidate.objects.all():
        number = int(candidate.text.split()[-1])
        assert candidate.sampling["truncated"] is (number % 3 == 0), candidate.text
    cut = Candidate.objects.filter(sampling__truncated=True).count()
    assert cut >= 3

    client = _client(admin)
    base = f"/api/projects/{project.pk}/generation-jobs/"
    [row] = client.get(base).json()
    assert row["truncated_answers"] == cut and row["tasks_made"] == 3
    tasks = client.get(f"{base}{job.pk}/tasks/").json()
    assert len(tasks) == 3 and all(len(t["answers"]) == 4 for t in tasks)
    assert sum(a["truncated"] for t in tasks for a in t["answers"]) == cut
    assert {a["model_name"] for t in tasks for a in t["answers"]} == {"policy-zeta", "sft-omega"}
    assert tasks[0]["prompt_snippet"].startswith("count ") and tasks[0]["status"] == "open"

    member = add_member(project)
    assert _client(member).get(f"{base}{job.pk}/tasks/").status_code == 403
    reviewer = add_member(project, Role.REVIEWER)
    assert _client(reviewer).get(f"{base}{job.pk}/tasks/").status_code == 403

    labeler = _client(member)
    seen = 0
    for _ in range(3):
        payload = _lease(labeler, project)
        by_text = {c.text: c.sampling["truncated"] for c in Candidate.objects.all()}
        for candidate in payload["task"]["candidates"]:
            assert candidate["truncated"] is by_text[candidate["text"]]
            seen += candidate["truncated"]
        ids = [c["id"] for c in payload["task"]["candidates"]]
        submitted = labeler.post(
            f"/api/assignments/{payload['id']}/submit/",
            {"client_id": new_client_id(), "tiers": [[i] for i in ids]},
            format="json",
        )
        assert submitted.status_code == 201, submitted.content
    assert seen == cut


def test_a_local_answer_is_marked_truncated_only_when_no_stop_token_came_within_the_limit(tiny_dir):
    from rewardtrain.training.inference import sample_drawn
    from rewardtrain.training.modeling import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(tiny_dir), device="cpu")
    prompts = [CHAT, [{"role": "user", "content": "count 5 apple"}]]
    short = sample_drawn(model, tok, prompts, n=6, max_new_tokens=4, seed=3)
    long = sample_drawn(model, tok, prompts, n=6, max_new_tokens=64, seed=3)
    # Same seed, same batch: the long run starts with the same tokens. An answer that ended within 4 tokens
    # is the whole answer; one cut at 4 goes on.
    pairs = [
        (s, x) for row_s, row_l in zip(short, long, strict=True) for s, x in zip(row_s, row_l, strict=True)
    ]
    assert any(s.truncated for s, _ in pairs)
    for s, whole in pairs:
        if not s.truncated:
            assert whole.text == s.text and not whole.truncated

    # Through the resample loop, each kept answer keeps its own flag.
    def backend(indices, counts, round_no):
        return [["plain", Drawn("cut", True), Drawn("cut", False), Drawn("whole")] for _ in indices]

    [drawn] = collect_distinct(backend, n_prompts=1, k=3)
    assert drawn.answers == ["plain", "cut", "whole"] and drawn.truncated == [False, True, False]
