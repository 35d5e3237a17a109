"""An admin reads the agreement between two labelers who ranked the same tasks, in a real browser."""

import pytest

from labeling.models import Role
from labeling.services.assignment import assignment_claim_next
from labeling.services.submission import ranking_submit
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, make_user, new_client_id

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_agreement_page_shows_each_labeler_against_the_others(live_server, browser):
    admin = make_user("e2e-agree-admin", is_staff=True)
    project = make_project(admin=admin, redundancy=2)
    import_ranking_tasks(project, 2)
    ann = add_member(project, Role.LABELER, user=make_user("e2e-ann"))
    bob = add_member(project, Role.LABELER, user=make_user("e2e-bob"))
    for labeler, flip in ((ann, False), (bob, True)):
        while (lease := assignment_claim_next(user=labeler, project=project)) is not None:
            ids = sorted(lease.task.task_candidates.values_list("candidate_id", flat=True))
            # Both put the same answer first; Bob reverses the other three: 3 of 6 answer pairs agree.
            order = [ids[0], *(reversed(ids[1:]) if flip else ids[1:])]
            ranking_submit(
                user=labeler, assignment_id=lease.pk, client_id=new_client_id(), tiers=[[i] for i in order]
            )

    page = browser.new_context().new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "pw-" + admin.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    page.goto(f"{live_server.url}/projects/{project.pk}/agreement")
    table = page.get_by_role("table", name="Agreement per labeler")
    table.wait_for()
    assert table.get_by_text("e2e-ann").is_visible() and table.get_by_text("e2e-bob").is_visible()
    assert page.get_by_text("50.0%").first.is_visible()
    page.context.close()


def test_agreement_page_says_why_one_labeler_per_task_never_gives_agreement(live_server, browser):
    admin = make_user("e2e-agree-solo-admin", is_staff=True)
    project = make_project(admin=admin, redundancy=1)
    import_ranking_tasks(project, 1)

    page = browser.new_context().new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "pw-" + admin.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    page.goto(f"{live_server.url}/projects/{project.pk}/agreement")
    empty = page.get_by_role("status", name="Why there is no agreement yet")
    empty.wait_for()
    text = empty.inner_text()
    assert "one labeler per task (redundancy 1)" in text and "can never be measured" in text
    assert "Raise Redundancy to 2 or more" in text and "gold tasks" in text
    page.context.close()
