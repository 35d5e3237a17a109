"""Every ranking action reachable with the mouse alone, and again with the keyboard alone, in a real browser.

Three ranking tasks each time: the first is ranked with a tie, rated and flagged, the second skipped, the third
marked cannot be ranked; the test then checks what the database stored. The page counts the key presses (mouse
run) or pointer presses (keyboard run) it sees, and both must be zero. Along the way: the answers are a listbox
of options with `aria-selected` and focus that follows the selection, rank changes are announced in a live
region, dialogs keep focus inside and give it back, a fixed validation error goes away, the selected answer is
scrolled into view, and the progress line counts down.
"""

import json

import pytest

from labeling.models import Assignment, AssignmentStatus, Ranking, Role
from labeling.services.blind import public_ids
from labeling.services.imports import import_file
from labeling.tests.factories import add_member, make_project, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Long enough answers that the last one starts below the fold of a short window.
LONG = "\n\n".join(f"Paragraph {i} of a long answer." for i in range(25))
COUNT_INPUT = """
window.__keys = 0; window.__pointer = 0;
addEventListener('keydown', (e) => { if (e.isTrusted) window.__keys++; }, true);
addEventListener('pointerdown', (e) => { if (e.isTrusted) window.__pointer++; }, true);
"""


def _world(name: str) -> dict:
    admin = make_user(f"{name}-admin", is_staff=True)
    project = make_project(admin=admin, k_answers=4, allow_ties=True, redundancy=1)
    labeler = add_member(project, Role.LABELER, user=make_user(f"{name}-labeler"))
    items = [
        {
            "external_id": f"m{i}",
            "prompt": f"Question {i}?",
            "answers": [f"{LONG}\n\nEnd {i}{x}." for x in "abcd"],
        }
        for i in range(3)
    ]
    data = "\n".join(json.dumps(item) for item in items).encode()
    import_file(project=project, user=admin, data=data, kind="ranking_items")
    return {"project": project, "labeler": labeler}


def _open_workspace(browser, base: str, username: str, project_id: int, height: int = 1000):
    context = browser.new_context(viewport={"width": 1400, "height": height})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-" + username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    page.goto(f"{base}/projects/{project_id}/work")
    page.wait_for_selector(".answers [role=option]")
    page.evaluate(COUNT_INPUT)  # after signing in: only the workspace's own inputs are counted
    return context, page, dialogs


def _shown(page, labeler) -> tuple[Assignment, dict[int, int]]:
    """The assignment on screen and its answers: database id → the id the page shows, in display order."""
    lease_id = int(page.locator(".workspace").get_attribute("data-assignment"))
    lease = Assignment.objects.get(pk=lease_id, user=labeler)
    ids = lease.task.task_candidates.values_list("candidate_id", flat=True)
    return lease, public_ids(lease.pk, ids)


def _next_task(page, after: Assignment) -> None:
    page.wait_for_function(
        f"() => {{ const w = document.querySelector('.workspace'); "
        f"return !w || w.dataset.assignment !== '{after.pk}'; }}"
    )


def _expect_live(page, text: str) -> None:
    """Wait until the live region says `text` (it is updated just after the change it announces)."""
    page.wait_for_function(
        "t => document.querySelector('[data-testid=ranking-live]').textContent === t", arg=text, timeout=5000
    )


def _check_listbox(page, selected: int) -> None:
    listbox = page.locator("[role=listbox]")
    assert listbox.count() == 1
    options = listbox.locator("[role=option]")
    assert options.count() == 4
    states = options.evaluate_all("els => els.map(e => [e.getAttribute('aria-selected'), e.tabIndex])")
    assert states == [["true", 0] if i == selected else ["false", -1] for i in range(4)]


def _focused_attr(page, attr: str) -> str | None:
    return page.evaluate(f"document.activeElement && document.activeElement.getAttribute('{attr}')")


def _expect_focus(page, attr: str, value: str) -> None:
    """Wait until the focused element has `attr` = `value` (focus follows the selection after it renders)."""
    page.wait_for_function(
        "([a, v]) => document.activeElement && document.activeElement.getAttribute(a) === v",
        arg=[attr, value],
        timeout=5000,
    )


def test_rank_rate_flag_skip_and_cannot_rank_with_the_mouse_alone(live_server, browser):
    world = _world("mouse")
    project, labeler = world["project"], world["labeler"]
    context, page, dialogs = _open_workspace(browser, live_server.url, "mouse-labeler", project.pk)
    page.wait_for_selector("[data-testid=progress]:has-text('3 of 3 left in this project')")

    lease, shown = _shown(page, labeler)
    a, b, c, d = shown  # database ids of the answers A, B, C, D
    option = lambda cid: page.locator(f"[role=option][data-candidate='{shown[cid]}']")  # noqa: E731
    rank_button = lambda n: page.locator(f"[data-rank-button='{n}']")  # noqa: E731
    _check_listbox(page, 0)
    assert page.locator("[data-rank-button='clear']").is_disabled()  # nothing to clear yet

    # A = 2, then a premature submit: the error says what is missing, and goes away once it is fixed.
    option(a).click()
    rank_button(2).click()
    _expect_live(page, "A: rank 2")
    page.click("button:has-text('Submit ranking')")
    page.wait_for_selector("[role=alert]:has-text('3 answer(s) have no rank yet')")
    option(b).click()
    _check_listbox(page, 1)
    rank_button(1).click()
    page.wait_for_selector("[role=alert]:has-text('2 answer(s) have no rank yet')")
    option(c).click()
    rank_button(2).click()  # a tie with A
    _expect_live(page, "C: rank 2, tied with A")
    option(d).click()
    rank_button(3).click()
    page.locator("[role=alert]").wait_for(state="detached", timeout=5000)  # the fixed error is gone
    assert page.locator(".tiers .tier[data-tier='2'] .chip").all_inner_texts() == ["A", "C"]

    # C rated 5 and flagged from the flag dialog; the dialog's buttons, then focus back on the button that opened it.
    option(c).click()
    assert rank_button(2).get_attribute("aria-pressed") == "true"
    page.click("[data-rate-button='5']")
    assert page.locator("[data-rate-button='5']").get_attribute("aria-pressed") == "true"
    _expect_live(page, "C: rated 5 of 7")
    page.click("button:has-text('Flags')")
    dialog = page.locator("[role=dialog][aria-modal=true]")
    dialog.wait_for()
    dialog.locator("[data-flag='hallucination']").click()
    assert dialog.locator("[data-flag='hallucination']").get_attribute("aria-checked") == "true"
    _expect_live(page, "C: flagged Hallucination")
    dialog.locator("button:has-text('Done')").click()
    assert dialog.count() == 0
    assert page.evaluate("document.activeElement.textContent").startswith("Flags (1)")
    page.click("button:has-text('Submit ranking')")
    _next_task(page, lease)

    ranking = Ranking.objects.get(assignment=lease)
    assert ranking.tiers == [[b], [a, c], [d]]
    assert ranking.ratings == {str(c): 5}
    assert ranking.flags == {str(c): ["hallucination"]}
    assert not ranking.unrankable
    page.wait_for_selector("[data-testid=progress]:has-text('2 of 3 left in this project')")

    # The second task is skipped from its button; the dialog's confirm button waits for a reason.
    lease, _ = _shown(page, labeler)
    page.click("button:has-text('Skip')")
    skip = page.locator("[role=dialog][aria-label='Skip this task']")
    assert skip.locator("button:has-text('Skip task')").is_disabled()
    skip.locator("input[name=skip-reason]").fill("Not my field.")
    skip.locator("button:has-text('Skip task')").click()
    _next_task(page, lease)
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.SKIPPED and lease.skip_reason == "Not my field."

    # The third cannot be ranked; Cancel first closes the dialog without a word to the server.
    lease, _ = _shown(page, labeler)
    page.click("button:has-text('Cannot be ranked')")
    page.locator("[role=dialog] button:has-text('Cancel')").click()
    assert page.locator("[role=dialog]").count() == 0
    page.click("button:has-text('Cannot be ranked')")
    page.locator("input[name=unrankable-reason]").fill("All four answers are the same.")
    page.click("[role=dialog] button:has-text('Mark cannot be ranked')")
    page.wait_for_selector("text=No work left for you here")
    unrankable = Ranking.objects.get(assignment=lease)
    assert unrankable.unrankable and unrankable.unrankable_reason == "All four answers are the same."

    assert page.evaluate("window.__keys") == 0, "the mouse run pressed a key"
    assert dialogs == []
    context.close()


def _in_view(page, cid: int) -> bool:
    return page.evaluate(
        f"() => {{ const r = document.querySelector(\"[data-candidate='{cid}']\").getBoundingClientRect(); "
        "return r.top < innerHeight && r.bottom > 0; }"
    )


def _focus_inside_dialog(page) -> bool:
    return page.evaluate("!!document.activeElement.closest('[role=dialog]')")


def test_the_same_with_the_keyboard_alone(live_server, browser):
    world = _world("keys")
    project, labeler = world["project"], world["labeler"]
    # A short window: the answers below the first are out of view until selected.
    context, page, dialogs = _open_workspace(browser, live_server.url, "keys-labeler", project.pk, height=600)
    page.wait_for_selector("[data-testid=progress]:has-text('3 of 3 left in this project')")
    lease, shown = _shown(page, labeler)
    a, b, c, d = shown
    press = page.keyboard.press

    # j to the last answer: it is scrolled into view and has the focus; the listbox says it is selected.
    assert not _in_view(page, shown[d])
    for _ in range(3):
        press("j")
    assert _in_view(page, shown[d])
    _expect_focus(page, "data-candidate", str(shown[d]))
    _check_listbox(page, 3)
    press("Home")
    _expect_focus(page, "data-candidate", str(shown[a]))

    # A = 2 (the selection moves on to B), then a premature Enter: the error, gone once fixed.
    press("2")
    _expect_live(page, "A: rank 2")
    _expect_focus(page, "data-candidate", str(shown[b]))
    press("Enter")
    page.wait_for_selector("[role=alert]:has-text('3 answer(s) have no rank yet')")
    press("1")
    press("2")  # C ties with A
    _expect_live(page, "C: rank 2, tied with A")
    press("3")
    page.locator("[role=alert]").wait_for(state="detached", timeout=5000)  # the fixed error is gone
    _expect_focus(page, "data-candidate", str(shown[d]))

    # C rated 5 and flagged; the flag dialog keeps Tab inside and gives focus back to C when closed.
    press("k")
    _expect_focus(page, "data-candidate", str(shown[c]))
    press("Shift+Digit5")
    _expect_live(page, "C: rated 5 of 7")
    press("f")
    page.wait_for_selector("[role=dialog][aria-modal=true]")
    assert _focus_inside_dialog(page)
    for _ in range(15):  # more than the dialog's 11 flags and its Done button
        press("Tab")
        assert _focus_inside_dialog(page)
    press("Shift+Tab")
    assert _focus_inside_dialog(page)
    press("3")  # the third flag: hallucination
    _expect_live(page, "C: flagged Hallucination")
    press("Escape")
    assert page.locator("[role=dialog]").count() == 0
    _expect_focus(page, "data-candidate", str(shown[c]))
    press("Enter")
    _next_task(page, lease)
    ranking = Ranking.objects.get(assignment=lease)
    assert ranking.tiers == [[b], [a, c], [d]]
    assert ranking.ratings == {str(c): 5}
    assert ranking.flags == {str(c): ["hallucination"]}
    page.wait_for_selector("[data-testid=progress]:has-text('2 of 3 left in this project')")

    # Skip: s, a reason, Enter.
    lease, _ = _shown(page, labeler)
    press("s")
    page.wait_for_selector("[role=dialog][aria-label='Skip this task']")
    _expect_focus(page, "name", "skip-reason")
    page.keyboard.type("Not my field.")
    press("Enter")
    _next_task(page, lease)
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.SKIPPED and lease.skip_reason == "Not my field."

    # Cannot be ranked: u, Esc cancels and returns focus; u again, a reason, Tab to the button, Enter.
    lease, shown = _shown(page, labeler)
    press("j")
    second = str(list(shown.values())[1])
    _expect_focus(page, "data-candidate", second)
    press("u")
    page.wait_for_selector("[role=dialog][aria-label='Cannot be ranked']")
    press("Escape")
    assert page.locator("[role=dialog]").count() == 0
    _expect_focus(page, "data-candidate", second)
    press("u")
    page.keyboard.type("All four answers are the same.")
    press("Tab")
    assert page.evaluate("document.activeElement.textContent").startswith("Mark cannot be ranked")
    press("Enter")
    page.wait_for_selector("text=No work left for you here")
    unrankable = Ranking.objects.get(assignment=lease)
    assert unrankable.unrankable and unrankable.unrankable_reason == "All four answers are the same."

    assert page.evaluate("window.__pointer") == 0, "the keyboard run used the mouse"
    assert dialogs == []
    context.close()
