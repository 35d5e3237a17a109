"""A round whose answers came from two models: the labeler ranks them blind (an answer cut at the length limit
carries a neutral note, no model name), and the admin reads the human win rate with its interval, beside the
reward model's prediction, on the Rounds page. Set ANNOTATE_SCREENSHOTS to a folder to save the page there
(docs/screenshots/rounds-win-rate.png)."""

import os
from pathlib import Path

import pytest

from labeling.models import Candidate, Role
from labeling.tests.factories import add_member, make_user
from rewardtrain.generation.models import GenerationJob
from rewardtrain.runs.models import ModelKind
from rewardtrain.runs.tests.builders import at, generation, model, score
from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _sign_in(browser, live_server, user):
    page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-" + user.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    return page


def test_the_rounds_page_shows_the_human_win_rate_between_two_models(live_server, browser):
    project, tasks = ranking_project(9, k=4)
    sft = model(project, "sft-1", ModelKind.SFT, created=at(0))
    policy = model(project, "policy-2", ModelKind.POLICY, created=at(1))
    for task in tasks:
        for cid, m in zip(candidate_ids(task), [policy, policy, sft, sft], strict=True):
            Candidate.objects.filter(pk=cid).update(
                model_name=m.name, sampling={"model": m.pk, "truncated": False}
            )
    job = generation(project, policy, tasks, at(2))
    GenerationJob.objects.filter(pk=job.pk).update(
        prompts_done=len(tasks), started_at=at(2), finished_at=at(2.1)
    )
    labeler = add_member(project, user=make_user("e2e-winrate-labeler"))
    # The first task's first policy answer hit the length limit.
    cut = candidate_ids(tasks[0])[0]
    Candidate.objects.filter(pk=cut).update(sampling={"model": policy.pk, "truncated": True})

    page = _sign_in(browser, live_server, labeler)
    page.goto(f"{live_server.url}/projects/{project.pk}/work")
    page.wait_for_selector(".answers .answer")
    notes = page.locator(".answers .badge.cut-off")
    assert notes.count() == 1 and notes.inner_text() == "answer was cut off (length limit)"
    shown = page.locator(".answers").inner_text()
    assert "policy" not in shown and "sft" not in shown
    page.context.close()

    # Eight rankings by another labeler (the workspace has preloaded this one's next task): the policy's two
    # answers on top in six (under guideline v1 then v2), below in two.
    ranker = add_member(project)
    for i, task in enumerate(tasks[1:]):
        p0, p1, s0, s1 = candidate_ids(task)
        tiers = [[p0], [p1], [s0], [s1]] if i < 6 else [[s0], [s1], [p0], [p1]]
        rank(task, ranker, tiers, version=1 if i < 4 else 2, at=at(3))
    rm = model(project, "rm-3", ModelKind.RM, created=at(4))
    for task in tasks[1:]:
        score(rm, candidate_ids(task), [1.0, 0.5, 0.0, 0.2])

    admin = project.memberships.get(role=Role.ADMIN).user
    page = _sign_in(browser, live_server, admin)
    page.goto(f"{live_server.url}/projects/{project.pk}/rounds")
    overall = page.get_by_role("table", name="Win rates, all rounds")
    overall.wait_for()
    row = overall.get_by_role("row", name="policy-2 vs sft-1", exact=True)
    # 24 wins of 32 comparisons: 75%, Wilson 95% interval 58% to 87%.
    assert row.locator("td.rate").inner_text() == "75% (58\u201387%)"  # an en dash
    assert row.get_by_text("32 comparisons in 8 rankings").is_visible()
    assert row.locator(".interval-bar").is_visible()
    v1 = overall.get_by_role("row", name="policy-2 vs sft-1, guideline v1")
    assert v1.locator("td.rate").inner_text().startswith("100%")
    page.get_by_text("Reward model predictions: rm-3").wait_for()
    first = page.get_by_role("listitem", name="Round 1")
    assert first.get_by_role("table", name="Win rates, round 1").is_visible()
    if folder := os.environ.get("ANNOTATE_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / "rounds-win-rate.png"), full_page=True)
    page.context.close()
