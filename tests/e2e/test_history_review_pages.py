"""The labeler's history and the reviewer's queue, in a real browser: history rows say what each task was about
and why it was skipped, with one active row though the workspace holds a preloaded next task; the review queue
names the labeler and is worked by keyboard, a rejection confirmed in a dialog and a decision undone."""

import json
import time

import pytest

from labeling.models import Assignment, AssignmentStatus, Demonstration, Review, ReviewStatus, Role
from labeling.services.assignment import assignment_claim_next
from labeling.services.imports import import_file
from labeling.services.submission import assignment_submit
from labeling.tests.factories import add_member, make_project, make_user, new_client_id

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROMPTS = [
    "<b>Bold?</b> Plan a day in Lisbon for a family with two children who like trams, " + "and museums " * 12,
    "Which river runs through Porto?",
    "Name three Portuguese poets.",
]


def import_prompts(project, texts: list[str], prefix: str) -> None:
    data = "\n".join(json.dumps({"external_id": f"{prefix}-{i}", "prompt": t}) for i, t in enumerate(texts))
    import_file(project=project, user=None, data=data.encode(), kind="prompts")


def signed_in(browser, live_server, user):
    page = browser.new_context().new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-" + user.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    return page


def wait_until(check, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_history_shows_snippets_skip_reasons_and_one_active_row(live_server, browser):
    admin = make_user("e2e-hist-admin", is_staff=True)
    project = make_project(admin=admin, redundancy=1)
    labeler = add_member(project, Role.LABELER, user=make_user("e2e-hist-labeler"))
    import_prompts(project, PROMPTS, "h")

    page = signed_in(browser, live_server, labeler)
    page.goto(f"{live_server.url}/projects/{project.pk}/work")
    page.get_by_text("Plan a day in Lisbon").first.wait_for()
    page.get_by_role("button", name="Skip…").click()
    page.fill("input[name=skip-reason]", "I have never been to <i>Lisbon</i>")
    page.get_by_role("button", name="Skip task").click()
    page.get_by_text("Which river runs through Porto?").first.wait_for()
    # The workspace leases the task after this one in the background: two live leases now.
    live = Assignment.objects.filter(user=labeler, status=AssignmentStatus.ACTIVE)
    wait_until(lambda: live.count() == 2)
    on_screen = Assignment.objects.get(user=labeler, task__prompt__messages__0__content=PROMPTS[1])

    page.goto(f"{live_server.url}/history")
    table = page.locator("table.history")
    table.wait_for()
    active = table.locator("tr[data-status=active]")
    assert active.count() == 1
    assert active.get_attribute("data-assignment") == str(on_screen.pk)
    assert "Which river runs through Porto?" in active.inner_text()
    assert "Name three Portuguese poets." not in table.inner_text()  # the preloaded task is not listed
    skipped = table.locator("tr[data-status=skipped]")
    text = skipped.inner_text()
    # The snippet and the reason as text: the tags show, nothing is bold or italic.
    assert "<b>Bold?</b> Plan a day in Lisbon" in text and "…" in text
    assert "I have never been to <i>Lisbon</i>" in text
    assert skipped.locator("b, i").count() == 0
    page.context.close()


def test_review_by_keyboard_with_a_confirmed_rejection_and_an_undo(live_server, browser):
    admin = make_user("e2e-rev-admin", is_staff=True)
    project = make_project(admin=admin, redundancy=1)
    reviewer = add_member(project, Role.REVIEWER, user=make_user("e2e-rev-reviewer"))
    alice = add_member(
        project, Role.LABELER, user=make_user("e2e-rev-alice", first_name="Alice", last_name="Liddell")
    )
    import_prompts(project, PROMPTS[1:], "r")
    for text in ("The Douro.", "Pessoa, Camões, Sophia."):
        lease = assignment_claim_next(user=alice, project=project)
        assignment_submit(user=alice, assignment_id=lease.pk, client_id=new_client_id(), text=text)
    first, second = Demonstration.objects.filter(user=alice).order_by("id")

    page = signed_in(browser, live_server, reviewer)
    page.goto(f"{live_server.url}/projects/{project.pk}/review")
    selected = page.locator(".review-item[aria-current=true]")
    selected.wait_for()
    assert page.locator(".labeler-name").all_inner_texts() == ["Alice Liddell", "Alice Liddell"]
    assert "by user" not in page.locator(".review").inner_text()
    assert selected.get_attribute("data-demonstration") == str(first.pk)

    # j selects the second; a accepts it; u takes that back.
    page.keyboard.press("j")
    wait_until(lambda: selected.get_attribute("data-demonstration") == str(second.pk))
    page.keyboard.press("a")
    page.get_by_role("status").get_by_text(f"Accepted Demonstration {second.pk} by Alice Liddell").wait_for()
    second.refresh_from_db()
    assert second.review_status == ReviewStatus.ACCEPTED
    page.keyboard.press("u")
    page.get_by_role("status").get_by_text("Undid the acceptance").wait_for()
    second.refresh_from_db()
    assert second.review_status == ReviewStatus.PENDING and not Review.objects.exists()
    assert selected.get_attribute("data-demonstration") == str(second.pk)  # back in the queue, still selected

    # r asks for a comment in a dialog; Esc cancels and nothing is decided.
    page.keyboard.press("k")
    wait_until(lambda: selected.get_attribute("data-demonstration") == str(first.pk))
    page.keyboard.press("r")
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert page.evaluate("document.activeElement.name") == "comment"
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    assert not Review.objects.exists()
    # Confirmed with a comment, the rejection is stored.
    page.keyboard.press("r")
    page.keyboard.type("Name the river's source too.")
    page.keyboard.press("Enter")
    page.get_by_role("status").get_by_text(f"Rejected Demonstration {first.pk} by Alice Liddell").wait_for()
    first.refresh_from_db()
    assert first.review_status == ReviewStatus.REJECTED
    assert Review.objects.get().comment == "Name the river's source too."
    assert page.locator(".review-item").count() == 1
    page.context.close()
