"""Generation jobs through the services and the Celery task, on a tiny local model and a local HTTP server."""

import pytest
from django.db.models import Count
from django.utils import timezone

from labeling.models import Candidate, CandidateSource, Prompt, Task, TaskCandidate, TaskKind, TaskStatus
from labeling.services.assignment import assignment_claim_next
from labeling.services.errors import ServiceError
from labeling.services.reviews import demonstration_review
from labeling.services.submission import demonstration_submit
from labeling.tests.factories import add_member, new_client_id
from rewardtrain.generation import services
from rewardtrain.generation.models import GenerationItem, GenerationJob
from rewardtrain.generation.tests.helpers import project_with_prompts, register
from rewardtrain.generation.tests.openai_server import Script, dead_url, openai_server
from rewardtrain.jobs import HEARTBEAT_STALE
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunStatus

pytestmark = pytest.mark.django_db

FAST = {"max_new_tokens": 6, "seed": 1, "batch_size": 2}


def _job(project, admin, model, **kwargs) -> GenerationJob:
    kwargs.setdefault("prompts", "no_ranking_task")
    kwargs["settings"] = {**FAST, **kwargs.get("settings", {})}
    return services.generation_job_create(project=project, user=admin, model_id=model.pk, **kwargs)


def _assert_k_distinct_candidates_and_one_task_per_prompt(job: GenerationJob, k: int) -> None:
    prompts = Prompt.objects.filter(pk__in=job.prompt_ids)
    for prompt in prompts:
        items = GenerationItem.objects.filter(job=job, prompt=prompt).select_related("candidate")
        texts = [i.candidate.text for i in items]
        assert sorted(i.sample_index for i in items) == list(range(k))
        assert len(set(texts)) == k and all(t.strip() for t in texts)
        tasks = Task.objects.filter(prompt=prompt, kind=TaskKind.RANKING)
        assert tasks.count() == 1
        task = tasks.get()
        assert task.status == TaskStatus.OPEN and task.required_annotations == job.project.redundancy
        assert set(TaskCandidate.objects.filter(task=task).values_list("candidate_id", flat=True)) == {
            i.candidate_id for i in items
        }
        assert sorted(TaskCandidate.objects.filter(task=task).values_list("position", flat=True)) == list(
            range(k)
        )


def test_a_local_job_creates_k_distinct_candidates_per_prompt_and_their_ranking_tasks(tiny_dir):
    project, admin = project_with_prompts(5)
    model = register(project, admin, tiny_dir)
    job = _job(project, admin, model)
    assert job.status == RunStatus.QUEUED and job.prompts_total == 5 and job.settings["k"] == 4
    done = services.generation_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert (done.prompts_done, done.prompts_skipped, done.attempts) == (5, 0, 1)
    _assert_k_distinct_candidates_and_one_task_per_prompt(done, 4)
    candidate = Candidate.objects.filter(generation_item__job=job).first()
    assert candidate.source == CandidateSource.MODEL and candidate.model_name == "tiny"
    assert candidate.sampling["temperature"] == 1.0 and candidate.sampling["max_new_tokens"] == 6
    assert candidate.sampling["job"] == job.pk and candidate.sampling["backend"] == "local"
    # The same message delivered again does nothing: the job is finished.
    assert services.generation_job_execute(job_id=job.pk, worker="again") is None
    assert Candidate.objects.count() == 20


def test_the_celery_task_runs_the_job_queued_on_commit(
    tiny_dir, eager_celery, django_capture_on_commit_callbacks
):
    project, admin = project_with_prompts(2)
    model = register(project, admin, tiny_dir)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = _job(project, admin, model)
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == RunStatus.SUCCEEDED and job.prompts_done == 2 and job.worker


def test_the_task_is_routed_to_the_gpu_queue():
    from annotate.celery import app

    assert app.amqp.router.route({}, "rewardtrain.tasks.gpu_generate")["queue"].name == "gpu"


def test_cancelling_and_resuming_creates_no_duplicates(tiny_dir, monkeypatch):
    project, admin = project_with_prompts(5)
    model = register(project, admin, tiny_dir)
    job = _job(project, admin, model, settings={"batch_size": 2})
    store = services._store_prompt

    def store_then_cancel(job_, prompt, answers):
        stored = store(job_, prompt, answers)
        services.generation_job_cancel(job=job_)  # an admin cancels while the first batch is stored
        return stored

    monkeypatch.setattr(services, "_store_prompt", store_then_cancel)
    cancelled = services.generation_job_execute(job_id=job.pk, worker="test")
    monkeypatch.undo()
    assert cancelled.status == RunStatus.CANCELLED and cancelled.prompts_done == 2  # stopped after one batch
    assert GenerationItem.objects.filter(job=job).count() == 8

    with pytest.raises(ServiceError, match="already cancelled"):
        services.generation_job_cancel(job=cancelled)
    resumed = services.generation_job_resume(job=cancelled)
    assert resumed.status == RunStatus.QUEUED and not resumed.cancel_requested
    done = services.generation_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED and done.prompts_done == 5 and done.attempts == 2
    _assert_k_distinct_candidates_and_one_task_per_prompt(done, 4)
    assert Candidate.objects.count() == 20 and Task.objects.filter(kind=TaskKind.RANKING).count() == 5
    per_prompt = GenerationItem.objects.values("prompt").annotate(n=Count("id"))
    assert {row["n"] for row in per_prompt} == {4}

    with pytest.raises(ServiceError, match="only a cancelled or failed job"):
        services.generation_job_resume(job=done)


def test_a_stored_prompt_is_never_stored_twice(tiny_dir):
    project, admin = project_with_prompts(1)
    job = _job(project, admin, register(project, admin, tiny_dir))
    prompt = Prompt.objects.get(project=project)
    source = services.job_sources(job)[0]
    answers = [services.Answer(f"a{i}", source) for i in range(4)]
    assert services._store_prompt(job, prompt, answers) is True
    assert services._store_prompt(job, prompt, [services.Answer(f"b{i}", source) for i in range(4)]) is False
    assert Candidate.objects.count() == 4 and Task.objects.filter(kind=TaskKind.RANKING).count() == 1


def test_a_live_worker_keeps_its_job_and_a_dead_one_is_replaced(tiny_dir, eager_celery):
    project, admin = project_with_prompts(1)
    job = _job(project, admin, register(project, admin, tiny_dir))
    GenerationJob.objects.filter(pk=job.pk).update(status=RunStatus.RUNNING, heartbeat_at=timezone.now())
    assert services.generation_job_execute(job_id=job.pk, worker="b") is None  # a live worker holds it
    assert services.generation_jobs_requeue_stale() == []
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - HEARTBEAT_STALE * 2)
    assert services.generation_jobs_requeue_stale() == [job.pk]  # sent again; the task runs here (eager)
    done = GenerationJob.objects.get(pk=job.pk)
    assert done.status == RunStatus.SUCCEEDED and done.attempts == 1 and done.prompts_done == 1


def test_best_of_n_keeps_the_k_answers_with_the_highest_reward(tiny_dir, tiny_rm_dir):
    from rewardtrain.training.inference import score_texts
    from rewardtrain.training.modeling import load_reward_model

    project, admin = project_with_prompts(2)
    model = register(project, admin, tiny_dir)
    rm = register(project, admin, tiny_rm_dir, kind=ModelKind.RM, name="rm")
    job = _job(project, admin, model, settings={"best_of_n": 8}, reward_model_id=rm.pk)
    done = services.generation_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    reward_model, tok = load_reward_model(tiny_rm_dir)
    for prompt in Prompt.objects.filter(project=project):
        # Stored in a random order (see the test below), so read best first here.
        items = sorted(
            GenerationItem.objects.filter(job=job, prompt=prompt).select_related("candidate"),
            key=lambda i: -i.reward,
        )
        rewards = [i.reward for i in items]
        assert len(items) == 4
        fresh = score_texts(reward_model, tok, [prompt.messages] * 4, [i.candidate.text for i in items])
        assert fresh == pytest.approx(rewards, abs=1e-5)
        assert items[0].candidate.sampling["reward"] == pytest.approx(rewards[0])
        assert items[0].candidate.sampling["reward_model"] == "rm"


def test_best_of_n_answers_are_stored_in_an_order_that_does_not_follow_their_reward():
    project, admin = project_with_prompts(8)
    model = RegisteredModel.objects.create(project=project, name="tiny", kind=ModelKind.BASE, path="org/tiny")
    job = _job(project, admin, model)
    rewards = [4.0, 3.0, 2.0, 1.0]
    source = services.job_sources(job)[0]
    id_order_is_reward_order, position_order_is_reward_order = [], []
    for prompt in Prompt.objects.filter(project=project):
        # Best first, as best-of-N ranks them before storage.
        answers = [services.Answer(f"{prompt.pk} answer {r}", source, r) for r in rewards]
        assert services._store_prompt(job, prompt, answers)
        items = list(GenerationItem.objects.filter(job=job, prompt=prompt).select_related("candidate"))
        assert all(i.candidate.sampling["reward"] == i.reward for i in items)
        positions = dict(
            TaskCandidate.objects.filter(task__prompt=prompt).values_list("candidate_id", "position")
        )
        by_id = [i.reward for i in sorted(items, key=lambda i: i.candidate_id)]
        by_position = [i.reward for i in sorted(items, key=lambda i: positions[i.candidate_id])]
        assert sorted(by_id, reverse=True) == rewards
        id_order_is_reward_order.append(by_id == rewards)
        position_order_is_reward_order.append(by_position == rewards)
    # Each is reward order by chance with probability 1/24; all eight of them, practically never.
    assert not all(id_order_is_reward_order), "candidate ids follow the reward order"
    assert not all(position_order_is_reward_order), "positions follow the reward order"


def _endpoint(settings, url: str, **extra) -> None:
    """Configure the operator's endpoint `local` at `url`."""
    settings.ANNOTATE_INFERENCE_ENDPOINTS = {"local": {"base_url": url, "models": ["served-model"], **extra}}
    settings.ANNOTATE_INFERENCE_ENDPOINTS_FILE = ""


def test_the_openai_backend_retries_a_503_and_stores_the_answers(tiny_dir, monkeypatch, settings):
    project, admin = project_with_prompts(3)
    model = register(project, admin, tiny_dir)
    monkeypatch.setenv("TEST_GEN_API_KEY", "sk-secret")
    with openai_server(Script(fail_first=1, fail_status=503)) as (url, script):
        _endpoint(settings, url, api_key_env="TEST_GEN_API_KEY")
        job = _job(
            project,
            admin,
            model,
            backend="openai",
            endpoint="local",
            endpoint_model="served-model",
            settings={"max_retries": 2},
        )
        done = services.generation_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    # Requests run concurrently, so the order the replies were recorded in is not fixed.
    assert script.statuses.count(503) == 1 and script.statuses.count(200) == 3
    assert {r["auth"] for r in script.requests} == {"Bearer sk-secret"}
    assert {r["body"]["model"] for r in script.requests} == {"served-model"}
    _assert_k_distinct_candidates_and_one_task_per_prompt(done, 4)
    assert "sk-secret" not in str(GenerationJob.objects.filter(pk=job.pk).values().get())


def test_a_dead_endpoint_fails_the_job_with_a_clear_error_and_it_can_be_resumed(tiny_dir, settings):
    project, admin = project_with_prompts(2)
    model = register(project, admin, tiny_dir)
    _endpoint(settings, dead_url())
    job = _job(project, admin, model, backend="openai", endpoint="local", settings={"max_retries": 1})
    assert job.endpoint_model == "served-model"  # defaults to the endpoint's first model
    failed = services.generation_job_execute(job_id=job.pk, worker="test")
    assert failed.status == RunStatus.FAILED
    assert failed.error == "endpoint 'local': unavailable after 2 attempts: connection refused"
    assert "Traceback" in failed.error_detail
    assert not GenerationItem.objects.exists()
    with openai_server() as (live_url, _script):
        _endpoint(settings, live_url)  # the operator brings it back
        services.generation_job_resume(job=failed)
        done = services.generation_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED and done.prompts_done == 2
    assert done.error == "" and done.error_detail == ""


def test_prompts_with_an_accepted_demonstration_are_selected(tiny_dir):
    project, admin = project_with_prompts(3)
    labeler, reviewer = add_member(project), add_member(project, role="reviewer")
    accepted = []
    for decision in ["accept", "reject", None]:  # accepted, rejected, not reviewed yet
        assignment = assignment_claim_next(user=labeler, project=project)
        result = demonstration_submit(
            user=labeler, assignment_id=assignment.pk, client_id=new_client_id(), text="An answer."
        )
        if decision:
            demonstration_review(
                reviewer=reviewer, demonstration=result.annotation, decision=decision, comment="c"
            )
        if decision == "accept":
            accepted.append(assignment.task.prompt_id)
    job = _job(project, admin, register(project, admin, tiny_dir), prompts="accepted_demonstration")
    assert job.prompt_ids == accepted and len(accepted) == 1


def _error(call) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call()
    return info.value


def test_bad_jobs_are_refused_naming_what_is_wrong(tiny_dir, tiny_rm_dir):
    project, admin = project_with_prompts(2)
    model = register(project, admin, tiny_dir)
    rm = register(project, admin, tiny_rm_dir, kind=ModelKind.RM, name="rm")

    def fields(**kwargs):
        err = _error(lambda: _job(project, admin, kwargs.pop("model", model), **kwargs))
        assert err.status == 400
        return {e.field: e.message for e in err.errors}

    assert "ranks 4 answers" in fields(settings={"k": 5})["settings.k"]
    assert "greedy" in fields(settings={"temperature": 0})["settings.temperature"]
    assert "unknown setting" in fields(settings={"temp": 1})["settings.temp"]
    assert "integer" in fields(settings={"max_new_tokens": 1.5})["settings.max_new_tokens"]
    assert "between" in fields(settings={"top_p": 1.5})["settings.top_p"]
    assert "reward model" in fields(settings={"best_of_n": 8})["reward_model"]
    assert "at least k=4" in fields(settings={"best_of_n": 2}, reward_model_id=rm.pk)["settings.best_of_n"]
    assert "rm model" in fields(model=rm)["model"]
    assert "not rm" in fields(settings={"best_of_n": 8}, reward_model_id=model.pk)["reward_model"]
    assert "no inference endpoint named 'x'" in fields(backend="openai", endpoint="x")["endpoint"]
    assert "only an openai-backend job" in fields(backend="local", endpoint="x")["endpoint"]
    assert "no prompts 999999" in fields(prompts="ids", prompt_ids=[999999])["prompt_ids"]
    assert "no prompt of this project" in fields(prompts="accepted_demonstration")["prompts"]
    assert not GenerationJob.objects.exists()
