"""An admin starts a generation job from the browser, watches it finish, cancels and resumes another."""

import pytest

from labeling.models import Candidate, Prompt, Role
from labeling.tests.factories import add_member
from rewardtrain.generation import services
from rewardtrain.generation.models import GenerationJob
from rewardtrain.generation.tests.helpers import project_with_prompts, register
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunStatus
from rewardtrain.training.tests.helpers import CORPUS
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("model_root"),
]


def test_generation_page_starts_watches_cancels_and_resumes_jobs(live_server, browser, tmp_path):
    build_tiny_model_and_tokenizer(tmp_path / "tiny", corpus=CORPUS)
    project, admin = project_with_prompts(3)
    model = register(project, admin, tmp_path / "tiny")

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "pw-" + admin.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    page.goto(f"{live_server.url}/projects/{project.pk}/generation")
    page.get_by_label("Model to sample from").select_option(str(model.pk))
    page.get_by_label("Prompts", exact=True).select_option("no_ranking_task")
    page.get_by_label("Max new tokens").fill("6")
    page.get_by_role("button", name="Start generation").click()
    table = page.get_by_role("table", name="Generation jobs")
    table.get_by_text("0/3 prompts").wait_for()
    job = GenerationJob.objects.get(project=project)
    assert job.settings["max_new_tokens"] == 6 and job.settings["k"] == 4

    # The worker's part, run here: the page polls and shows the finished job.
    done = services.generation_job_execute(job_id=job.pk, worker="e2e")
    assert done.status == RunStatus.SUCCEEDED, done.error
    row = page.get_by_role("row", name=f"Generation job {job.pk}")
    row.get_by_text("3/3 prompts").wait_for()
    row.get_by_text("succeeded").wait_for()

    # Every prompt now has its ranking task: a new job over "prompts without one" is refused, saying why.
    page.get_by_role("button", name="Start generation").click()
    page.get_by_text("no prompt of this project matches 'no_ranking_task'").wait_for()

    second = services.generation_job_create(
        project=project,
        user=admin,
        model_id=model.pk,
        prompts="ids",
        prompt_ids=[Prompt.objects.filter(project=project).first().pk],
    )
    page.reload()
    row = page.get_by_role("row", name=f"Generation job {second.pk}")
    row.get_by_role("button", name="Cancel").click()
    row.get_by_role("button", name="Resume").click()
    row.get_by_role("button", name="Cancel").wait_for()
    assert GenerationJob.objects.get(pk=second.pk).status == RunStatus.QUEUED
    page.context.close()


def test_an_admin_picks_an_inference_endpoint_by_name(live_server, browser, settings):
    settings.ANNOTATE_INFERENCE_ENDPOINTS = {
        "vllm": {"base_url": "http://10.9.8.7:8001/v1", "models": ["served-a", "served-b"]}
    }
    settings.ANNOTATE_INFERENCE_ENDPOINTS_FILE = ""
    project, _staff = project_with_prompts(2)
    model = RegisteredModel.objects.create(
        project=project, name="remote", kind=ModelKind.BASE, path="org/remote"
    )
    admin = add_member(project, role=Role.ADMIN)  # a project admin, not site staff

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "pw-" + admin.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    page.goto(f"{live_server.url}/projects/{project.pk}/generation")
    page.get_by_label("Model to sample from").select_option(str(model.pk))
    page.get_by_label("Prompts", exact=True).select_option("no_ranking_task")
    page.get_by_label("Backend").select_option("openai")
    page.get_by_label("Endpoint", exact=True).select_option("vllm")
    page.get_by_label("Served model").select_option("served-b")
    assert "10.9.8.7" not in page.content()  # where the endpoint is stays with the operator
    page.get_by_role("button", name="Start generation").click()
    page.get_by_role("table", name="Generation jobs").get_by_text("via vllm (served-b)").wait_for()
    job = GenerationJob.objects.get(project=project)
    assert (job.backend, job.endpoint, job.endpoint_model) == ("openai", "vllm", "served-b")
    page.context.close()


def test_an_admin_draws_answers_from_two_models_and_opens_the_tasks_a_job_made(
    live_server, browser, tmp_path
):
    build_tiny_model_and_tokenizer(tmp_path / "tiny", corpus=CORPUS)
    project, admin = project_with_prompts(2)
    policy = register(project, admin, tmp_path / "tiny", kind=ModelKind.POLICY, name="policy")
    sft = register(project, admin, tmp_path / "tiny", kind=ModelKind.SFT, name="sft")

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "pw-" + admin.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    page.goto(f"{live_server.url}/projects/{project.pk}/generation")
    page.get_by_label("Model to sample from").select_option(str(policy.pk))
    page.get_by_role("button", name="Add a model").click()
    page.get_by_label("Model 2", exact=True).select_option(str(sft.pk))
    page.get_by_label("Answers from model 1").fill("3")
    page.get_by_text("the answers add up to 5; each prompt needs K=4").wait_for()
    page.get_by_label("Answers from model 2").fill("1")
    page.get_by_label("Prompts", exact=True).select_option("no_ranking_task")
    page.get_by_label("Max new tokens").fill("6")
    page.get_by_role("button", name="Start generation").click()
    table = page.get_by_role("table", name="Generation jobs")
    table.get_by_text("3 from policy + 1 from sft").wait_for()
    job = GenerationJob.objects.get(project=project)
    assert [(s.model_id, s.answers) for s in job.sources.order_by("position")] == [
        (policy.pk, 3),
        (sft.pk, 1),
    ]

    done = services.generation_job_execute(job_id=job.pk, worker="e2e")
    assert done.status == RunStatus.SUCCEEDED, done.error
    # However the tiny model ended its answers, one of them is now one that hit the limit.
    candidate = Candidate.objects.filter(generation_item__job=job).order_by("id").first()
    Candidate.objects.filter(generation_item__job=job).update(sampling={"truncated": False})
    Candidate.objects.filter(pk=candidate.pk).update(sampling={"truncated": True})
    page.reload()
    row = page.get_by_role("row", name=f"Generation job {job.pk}")
    row.get_by_text("1 answer cut off at 6 tokens").wait_for()
    row.get_by_text("2 ranking tasks").click()
    tasks = row.get_by_role("list", name=f"Tasks of job {job.pk}")
    tasks.wait_for()
    links = tasks.get_by_role("link")
    assert links.count() == 2
    href = links.first.get_attribute("href")
    assert href.startswith(f"/api/projects/{project.pk}/rankings/?task=")
    assert tasks.get_by_text("(cut off)").count() == 1
    page.context.close()
