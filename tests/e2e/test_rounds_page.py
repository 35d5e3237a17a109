"""A reviewer reads the rounds timeline, and an admin sees the reward model's agreement and the retrain hint on
the dashboard, in a real browser."""

import pytest

from labeling.models import Role
from labeling.tests.factories import add_member, make_user
from rewardtrain.runs import rm_agreement
from rewardtrain.runs.tests.builders import two_rounds
from rewardtrain.tests.helpers import ranking_project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _sign_in(browser, live_server, user):
    page = browser.new_context().new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-" + user.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    return page


def test_rounds_timeline_and_retrain_hint(live_server, browser, monkeypatch):
    project, tasks = ranking_project(5, k=4)
    two_rounds(project, tasks, add_member(project))
    reviewer = add_member(project, Role.REVIEWER, user=make_user("e2e-rounds-reviewer"))

    page = _sign_in(browser, live_server, reviewer)
    page.goto(f"{live_server.url}/projects/{project.pk}/rounds")
    first = page.get_by_role("listitem", name="Round 1")
    first.wait_for()
    assert first.get_by_text("sft-run-1 (sft)").is_visible()
    assert first.get_by_text("2/3 tasks ranked, 2 rankings").is_visible()
    assert first.get_by_text("rm run").first.is_visible() and first.get_by_text("→ dpo-run-3").is_visible()
    second = page.get_by_role("listitem", name="Round 2")
    assert second.get_by_text("rm-run-2: 83 % of 6 pairs").is_visible()
    page.context.close()

    # One new ranking against two before it is enough once the threshold is 1 (the server runs in this process).
    monkeypatch.setattr(rm_agreement, "RETRAIN_NEW_RANKINGS", 1)
    admin = project.memberships.get(role=Role.ADMIN).user
    page = _sign_in(browser, live_server, admin)
    page.goto(f"{live_server.url}/projects/{project.pk}/dashboard")
    card = page.get_by_label("Reward model agreement")
    card.wait_for()
    assert card.get_by_text("rm-run-2").first.is_visible()
    assert card.get_by_role("status").get_by_text("Time to retrain").is_visible()
    card.get_by_role("button", name="Score new candidates").click()
    card.get_by_text("scoring 0/").wait_for()  # a job was queued for the gpu queue
    page.context.close()
