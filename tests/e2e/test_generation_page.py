"""An admin starts a generation job from the browser, watches it finish, cancels and resumes another."""

import pytest

from labeling.models import Prompt
from rewardtrain.generation import services
from rewardtrain.generation.models import GenerationJob
from rewardtrain.generation.tests.helpers import project_with_prompts, register
from rewardtrain.runs.models import RunStatus
from rewardtrain.training.tests.helpers import CORPUS
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


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
