"""Scoring candidates with a reward model: every candidate scored once, resumable, admins only, never shown to
labelers."""

import json

import pytest
from rest_framework.test import APIClient

from labeling.models import Candidate, CandidateSource, Role
from labeling.services.errors import ServiceError
from labeling.tests.factories import add_member, import_ranking_tasks, make_user
from rewardtrain.runs import scoring
from rewardtrain.runs.models import (
    CandidateScore,
    ModelKind,
    ModelSource,
    RegisteredModel,
    RunStatus,
    ScoringJob,
)
from rewardtrain.runs.tasks import gpu_score_candidates
from rewardtrain.runs.tests.roots import rooted
from rewardtrain.tests.helpers import ranking_project
from rewardtrain.training.tests.helpers import CORPUS
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory):
    """An (untrained) reward model saved the way RM runs save theirs."""
    from rewardtrain.training.modeling import RewardModel, load_tokenizer

    base = tmp_path_factory.mktemp("tiny_base")
    build_tiny_model_and_tokenizer(base, corpus=CORPUS)
    out = tmp_path_factory.mktemp("tiny_rm")
    RewardModel.from_backbone(str(base)).save_pretrained(out, tokenizer=load_tokenizer(str(base)))
    return out


@pytest.fixture
def setup(rm_dir):
    project, _ = ranking_project(5, k=4)
    admin = project.memberships.get(role=Role.ADMIN).user
    rm = RegisteredModel.objects.create(
        project=project, name="rm-1", kind=ModelKind.RM, source=ModelSource.ROOT, **rooted(rm_dir)
    )
    return project, admin, rm


def _project_candidates(project):
    return Candidate.objects.filter(prompt__project=project)


@pytest.mark.django_db
def test_every_candidate_gets_one_score_matching_the_model(setup):
    project, admin, rm = setup
    job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=rm.pk, batch_size=3)
    done = scoring.scoring_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    n = _project_candidates(project).count()
    assert n == 20 and done.total == n and done.scored == n and done.attempts == 1
    assert CandidateScore.objects.filter(reward_model=rm).count() == n
    assert set(CandidateScore.objects.values_list("candidate_id", flat=True)) == set(
        _project_candidates(project).values_list("pk", flat=True)
    )
    # The stored score is the model's reward for (prompt, answer), encoded as in training.
    from rewardtrain.runs.artifacts import registered_model_locate
    from rewardtrain.training import load_reward_model, score_texts

    model, tokenizer = load_reward_model(registered_model_locate(rm).path)
    candidate = _project_candidates(project).select_related("prompt").last()
    expected = score_texts(model, tokenizer, [candidate.prompt.messages], [candidate.text])[0]
    assert CandidateScore.objects.get(candidate=candidate).score == pytest.approx(expected, abs=1e-5)
    # The same message delivered again after the job finished does nothing.
    assert scoring.scoring_job_execute(job_id=job.pk, worker="again") is None


@pytest.mark.django_db
def test_resumed_and_repeated_jobs_create_no_duplicates(setup):
    project, admin, rm = setup
    job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=rm.pk, batch_size=4)
    # A first worker claims the job, stores part of the scores, then dies (its heartbeat goes stale).
    from rewardtrain.jobs import HEARTBEAT_STALE, claim_job

    assert claim_job(ScoringJob, job.pk, "worker-a") is not None
    assert claim_job(ScoringJob, job.pk, "worker-b") is None  # a second delivery while worker-a is alive
    first = list(_project_candidates(project).order_by("pk")[:6])
    CandidateScore.objects.bulk_create(
        [CandidateScore(candidate=c, reward_model=rm, score=123.0) for c in first]
    )
    ScoringJob.objects.filter(pk=job.pk).update(scored=6, heartbeat_at=job.created_at - HEARTBEAT_STALE)
    assert scoring.scoring_jobs_requeue_stale() == [job.pk]
    done = scoring.scoring_job_execute(job_id=job.pk, worker="worker-b")
    assert done.status == RunStatus.SUCCEEDED and done.attempts == 2 and done.worker == "worker-b"
    assert done.scored == 20 and done.total == 20
    assert CandidateScore.objects.filter(reward_model=rm).count() == 20
    assert CandidateScore.objects.filter(reward_model=rm, score=123.0).count() == 6  # kept, not redone

    # New candidates arrive: a second job scores only those.
    import_ranking_tasks(project, 2, prefix="more")
    second = scoring.scoring_job_create(project=project, user=admin, reward_model_id=rm.pk)
    done = scoring.scoring_job_execute(job_id=second.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED and done.total == 8 and done.scored == 8
    assert CandidateScore.objects.filter(reward_model=rm).count() == 28


@pytest.mark.django_db
def test_cancel_and_bad_requests(setup, tmp_path):
    project, admin, rm = setup
    job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=rm.pk)
    with pytest.raises(ServiceError) as info:
        scoring.scoring_job_create(project=project, user=admin, reward_model_id=rm.pk)
    assert info.value.status == 409 and f"Scoring job {job.pk}" in str(info.value)
    assert scoring.scoring_job_cancel(job=job).status == RunStatus.CANCELLED
    assert scoring.scoring_job_execute(job_id=job.pk, worker="test") is None
    assert not CandidateScore.objects.exists()

    sft = RegisteredModel.objects.create(
        project=project, name="sft", kind=ModelKind.SFT, source=ModelSource.ROOT, **rooted(tmp_path)
    )
    with pytest.raises(ServiceError) as info:
        scoring.scoring_job_create(project=project, user=admin, reward_model_id=sft.pk, batch_size=0)
    fields = {e.field: e.message for e in info.value.errors}
    assert "not a reward model" in fields["reward_model"] and "between 1 and" in fields["batch_size"]

    # A model whose files are gone fails and says which; nothing half-written.
    broken = RegisteredModel.objects.create(
        project=project,
        name="gone",
        kind=ModelKind.RM,
        source=ModelSource.ROOT,
        root="pytest",
        path="no/such",
    )
    job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=broken.pk)
    done = scoring.scoring_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.FAILED and "no model directory named 'no/such'" in done.error
    assert not CandidateScore.objects.filter(reward_model=broken).exists()


def test_the_task_goes_to_the_gpu_queue_and_acks_late():
    from annotate.celery import app

    assert gpu_score_candidates.name == "rewardtrain.tasks.gpu_score_candidates"
    assert gpu_score_candidates.acks_late and gpu_score_candidates.reject_on_worker_lost
    route = app.amqp.router.route({}, gpu_score_candidates.name)
    assert route["queue"].name == "gpu"


@pytest.mark.django_db
def test_scores_are_for_admins_only(setup):
    project, admin, rm = setup
    reviewer, labeler, outsider = add_member(project, Role.REVIEWER), add_member(project), make_user()
    base = f"/api/projects/{project.pk}"
    for user, expected in ((reviewer, 403), (labeler, 403), (outsider, 404)):
        client = APIClient()
        client.force_authenticate(user)
        assert client.get(f"{base}/scoring-jobs/").status_code == expected
        assert client.post(f"{base}/scoring-jobs/", {"reward_model": rm.pk}).status_code == expected
        assert client.get(f"{base}/scores/?reward_model={rm.pk}").status_code == expected
    for user, expected in ((reviewer, 200), (labeler, 403), (outsider, 404)):
        client = APIClient()
        client.force_authenticate(user)
        assert client.get(f"{base}/rm-agreement/").status_code == expected
        assert client.get(f"{base}/rounds/").status_code == expected

    client = APIClient()
    client.force_authenticate(admin)
    created = client.post(f"{base}/scoring-jobs/", {"reward_model": rm.pk, "batch_size": 8}, format="json")
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    scoring.scoring_job_execute(job_id=job_id, worker="test")
    detail = client.get(f"{base}/scoring-jobs/{job_id}/").json()
    assert (
        detail["status"] == "succeeded" and detail["scored"] == 20 and detail["reward_model_name"] == "rm-1"
    )
    scores = client.get(f"{base}/scores/?reward_model={rm.pk}").json()
    assert len(scores) == 20 and {"candidate", "prompt", "score"} <= set(scores[0])
    task = project.tasks.order_by("pk").first()
    assert len(client.get(f"{base}/scores/?reward_model={rm.pk}&task={task.pk}").json()) == 4
    bad = client.get(f"{base}/scores/")
    assert bad.status_code == 400 and "reward_model" in bad.content.decode()
    assert client.post(f"{base}/scoring-jobs/{job_id}/cancel/").status_code == 409
    models = client.get(f"{base}/rm-agreement/").json()["models"]
    assert models[0]["reward_model"]["name"] == "rm-1"


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.django_db
def test_labeler_payloads_never_carry_scores_model_names_or_sources(setup):
    project, admin, rm = setup
    _project_candidates(project).update(
        source=CandidateSource.MODEL, model_name="secret-policy-7b", sampling={"temperature": 0.7}
    )
    job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=rm.pk)
    scoring.scoring_job_execute(job_id=job.pk, worker="test")
    scores = list(CandidateScore.objects.values_list("score", flat=True))
    assert len(scores) == 20

    labeler = add_member(project)
    client = APIClient()
    client.force_authenticate(labeler)
    leased = client.post(f"/api/projects/{project.pk}/assignments/next/")
    assert leased.status_code == 200, leased.content
    assignment_id = leased.json()["id"]
    payloads = [
        leased,
        client.get(f"/api/assignments/{assignment_id}/"),
        client.get("/api/assignments/"),
        client.post(f"/api/projects/{project.pk}/assignments/next/?prefetch=1"),
    ]
    for response in payloads:
        assert response.status_code == 200, response.content
        body = response.json()
        text = json.dumps(body)
        assert not _keys(body) & {"score", "scores", "reward", "model_name", "source", "sampling"}, text
        assert "secret-policy-7b" not in text and "temperature" not in text and "rm-1" not in text
        assert not any(repr(s) in text for s in scores)
    candidates = leased.json()["task"]["candidates"]
    assert len(candidates) == 4 and all(set(c) == {"id", "text", "truncated"} for c in candidates)
