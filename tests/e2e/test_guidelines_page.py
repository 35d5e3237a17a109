"""Guideline versions in a real browser: an admin publishes, fails a save, opens and compares versions; a labeler
holding a lease made under v1 is told that v2 exists and sees what changed."""

import re

import pytest
from playwright.sync_api import expect

from labeling.models import Role
from labeling.services.assignment import assignment_claim_next
from labeling.services.projects import guideline_publish
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def signed_in_page(browser, live_server, user):
    page = browser.new_context().new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-" + user.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    return page


def test_admin_publishes_fails_a_save_then_opens_and_compares_versions(live_server, browser):
    admin = make_user("e2e-guide-admin", is_staff=True)
    project = make_project(admin=admin)
    page = signed_in_page(browser, live_server, admin)
    page.goto(f"{live_server.url}/projects/{project.pk}/guidelines")
    body = page.locator("textarea[name=body_md]")
    body.wait_for()
    expect(body).to_have_value(re.compile("harmless"))  # prefilled from v1 before it is edited
    body.fill("# Guidelines\n\nRank answers by how honest they are.\n\nKeep it short.")
    page.fill("textarea[name=flags]", "rude | Rude | Insults the user")
    page.get_by_role("button", name="Publish version 2").click()
    status = page.get_by_test_id("guideline-status")
    status.get_by_role("status").get_by_text("Published guideline version 2").wait_for()

    # A failing save: the success banner goes, the error names the field, in the one status area.
    page.fill("input[name=scale_min]", "5")
    page.fill("input[name=scale_max]", "5")
    page.get_by_role("button", name="Publish version 3").click()
    alert = status.get_by_role("alert")
    alert.wait_for()
    assert "rating_scale: min and max must be integers with min < max" in alert.inner_text()
    assert page.get_by_text("Published guideline version 2").count() == 0
    assert page.locator("input[name=scale_max]").get_attribute("aria-invalid") == "true"

    # Open v1, read-only.
    page.get_by_role("button", name="Open v1").click()
    opened = page.get_by_role("region", name="Guideline version 1, read-only")
    opened.get_by_text("Rank answers by how helpful, truthful and harmless they are.").wait_for()
    assert opened.get_by_text("Hallucination").first.is_visible()

    # Compare v1 with v2 (the default pair): the body's line diff with +/- markers, and the changed flags.
    compare = page.get_by_role("region", name="Compare versions")
    compare.locator("select[name=compare_from]").select_option("1")
    compare.locator("select[name=compare_to]").select_option("2")
    diff = compare.locator("pre.diff")
    diff.wait_for()
    text = diff.inner_text()
    assert "- Rank answers by how helpful, truthful and harmless they are." in text
    assert "+ Rank answers by how honest they are." in text and "+ Keep it short." in text
    assert "  # Guidelines" in text
    added = compare.locator(".diff-line[data-kind=added]")
    assert added.count() == 3  # the new line, a blank line and "Keep it short."
    changes = compare.locator(".guideline-changes").inner_text()
    assert "added Flag rude: “Rude”" in changes and "removed Flag hallucination" in changes
    page.context.close()


def test_labeler_with_a_lease_under_v1_is_told_about_v2(live_server, browser):
    admin = make_user("e2e-guide-admin2", is_staff=True)
    project = make_project(admin=admin)
    import_ranking_tasks(project, 2)
    labeler = add_member(project, Role.LABELER, user=make_user("e2e-guide-labeler"))
    lease = assignment_claim_next(user=labeler, project=project)
    assert lease.guideline.version == 1
    guideline_publish(
        project=project,
        author=admin,
        body_md="# Guidelines\n\nRank answers by how honest they are.",
        flags=[{"key": "rude", "label": "Rude", "description": "Insults the user"}],
    )

    page = signed_in_page(browser, live_server, labeler)
    page.goto(f"{live_server.url}/projects/{project.pk}/work")
    notice = page.get_by_test_id("guideline-updated")
    notice.wait_for()
    assert "Guidelines updated to v2" in notice.inner_text() and "stays under v1" in notice.inner_text()
    notice.get_by_role("button", name="open the Guidelines tab to see what changed").click()
    panel = page.get_by_role("complementary", name="Guideline")
    panel.get_by_role("heading", name="What changed in v2").wait_for()
    panel.locator("pre.diff .diff-line[data-kind=added]").first.wait_for()
    assert "+ Rank answers by how honest they are." in panel.locator("pre.diff").inner_text()
    assert "added Flag rude: “Rude”" in panel.locator(".guideline-changes").inner_text()
    # The lease's own version in full: its rating scale and flags with their names.
    assert panel.get_by_text("Overall quality").is_visible()
    assert panel.locator("[data-flag=hallucination]").is_visible()
    page.context.close()
