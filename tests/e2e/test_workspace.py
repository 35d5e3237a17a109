"""The labeler's workspace and the admin's guideline page, in a real browser against a live server.

A labeler signs in, ranks four answers with the keyboard only (one tie), rates and flags one, and submits; an
answer carrying HTML and script is shown as text and runs nothing; a demonstration draft survives a reload
(from the server, with this browser's storage cleared) and is submitted; an admin publishes a guideline version
and the next annotation records it.
"""

import json
import uuid

import pytest

from labeling.models import Assignment, Demonstration, Draft, Ranking, Role
from labeling.services.blind import public_ids
from labeling.services.imports import import_file
from labeling.tests.factories import add_member, make_project, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"
CONVERSATION = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is a reward model?"},
    {"role": "assistant", "content": "A model that scores answers."},
    {"role": "user", "content": "Explain **pairwise** training in two sentences."},
]


def _ranking_item(external_id: str, answers: list[str]) -> bytes:
    return json.dumps(
        {"external_id": external_id, "prompt": f"Question {external_id}?", "answers": answers}
    ).encode()


@pytest.fixture
def world():
    admin = make_user("e2e-admin", is_staff=True)
    project = make_project(admin=admin, k_answers=4, allow_ties=True, redundancy=1)
    labeler = add_member(project, Role.LABELER, user=make_user("e2e-labeler"))
    answers = ["Answer **A**: fine.", XSS, "Answer C:\n\n```python\nprint('hi')\n```", "Answer D."]
    import_file(project=project, user=admin, data=_ranking_item("r1", answers), kind="ranking_items")
    prompt = json.dumps({"external_id": "d1", "messages": CONVERSATION}).encode()
    import_file(project=project, user=admin, data=prompt, kind="prompts")
    return {"project": project, "admin": admin, "labeler": labeler}


def _sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-" + username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")


def test_label_rank_demonstrate_and_publish(world, live_server, browser):
    base, project = live_server.url, world["project"]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    _sign_in(page, base, "e2e-labeler")
    card = page.locator(f"[data-project='{project.pk}']")
    assert card.locator(".open-tasks").inner_text() == "2"
    # While the labeler ranks, the workspace leases the next task in the background (?prefetch=1).
    with page.expect_response(lambda r: "prefetch=1" in r.url) as prefetch:
        card.get_by_text("Start labeling").click()
        page.wait_for_selector(".answers .answer")
    prefetched = prefetch.value.json()
    assert prefetched["task"]["kind"] == "demonstration"

    # Untrusted HTML in an answer is shown literally, and nothing in it runs.
    assert page.get_by_text(XSS, exact=False).first.is_visible()
    assert page.locator(".answers img, .answers script").count() == 0

    # Keyboard only: A=2, B=1, C=2 (a tie with A), D=3; then C rated 5 and flagged "hallucination".
    # The answers in the order shown: by the labeler's blind ids (database ids never reach the page).
    lease = Assignment.objects.get(task__project=project, task__kind="ranking")
    shown = public_ids(lease.pk, lease.task.task_candidates.values_list("candidate_id", flat=True))
    a, b, c, d = shown
    for key in ["2", "1", "2", "3"]:
        page.keyboard.press(key)
    assert page.locator(f"[data-candidate='{shown[a]}'] .rank").inner_text() == "rank 2 (tie)"
    assert page.locator(".tiers .tier[data-tier='2'] .chip").all_inner_texts() == ["A", "C"]
    page.keyboard.press("k")  # from D up to C
    page.keyboard.press("Shift+Digit5")
    page.keyboard.press("f")
    page.wait_for_selector(".flag-picker")
    page.keyboard.press("3")  # the third flag of the default guideline: hallucination
    page.keyboard.press("Escape")
    assert page.locator(f"[data-candidate='{shown[c]}'] .rating").inner_text() == "rated 5/7"
    page.keyboard.press("Enter")

    # The next task (the demonstration, prefetched) shows at once; every turn of the conversation is shown.
    editor = page.wait_for_selector(
        f".workspace[data-assignment='{prefetched['id']}'] textarea[name=demonstration]"
    )
    ranking = Ranking.objects.get()
    assert ranking.tiers == [[b], [a, c], [d]]
    assert ranking.ratings == {str(c): 5}
    assert ranking.flags == {str(c): ["hallucination"]}
    assert ranking.guideline.version == 1 and not ranking.unrankable
    for turn in ("You are a concise assistant.", "What is a reward model?", "A model that scores answers."):
        assert page.get_by_text(turn).is_visible()

    # A draft survives a reload, from the server alone (this browser's storage is cleared first).
    editor.type("Pairwise training shows the model two answers")
    page.wait_for_selector("[data-testid=draft-state]:has-text('saved to the server')")
    assert Draft.objects.get().payload["text"] == "Pairwise training shows the model two answers"
    page.evaluate("localStorage.clear()")
    page.reload()
    page.wait_for_selector("[data-testid=draft-state]:has-text('restored from the server')")
    editor = page.locator("textarea[name=demonstration]")
    assert editor.input_value() == "Pairwise training shows the model two answers"
    editor.press("End")
    editor.type(" and learns which one people prefer.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=No work left for you here")
    demo = Demonstration.objects.get()
    assert demo.text == "Pairwise training shows the model two answers and learns which one people prefer."
    assert demo.guideline.version == 1

    # An admin publishes guideline v2 from the browser.
    admin_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    admin_page = admin_context.new_page()
    admin_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(admin_page, base, "e2e-admin")
    admin_page.goto(f"{base}/projects/{project.pk}/guidelines")
    admin_page.fill("textarea[name=body_md]", "# Version two\n\nPrefer **truthful** answers over long ones.")
    admin_page.wait_for_selector(".preview h3:has-text('Version two')")
    admin_page.click("button:has-text('Publish version 2')")
    admin_page.wait_for_selector("text=Published guideline version 2")
    # Per version, how many annotations were made under it.
    v1 = admin_page.locator("tr[data-version='1']")
    v1.locator("td[data-usage='demonstrations']:has-text('1')").wait_for()
    assert v1.locator("td[data-usage='rankings']").inner_text() == "1"
    assert admin_page.locator("tr[data-version='2'] td[data-usage='rankings']").inner_text() == "0"

    # The admin's other pages: an import refused line by line, the review queue, the dashboard.
    admin_page.click("nav.tabs >> text=Import")
    bad = b'{"external_id": "ok", "prompt": "Fine?", "answers": ["a", "b", "c", "d"]}\n{"external_id": "bad", "prompt": "Two?", "answers": ["a"]}\n'
    admin_page.set_input_files(
        "input[name=file]", {"name": "items.jsonl", "mimeType": "application/json", "buffer": bad}
    )
    admin_page.click("button:has-text('Import')")
    row = admin_page.wait_for_selector(".error table tbody tr")
    assert row.inner_text().split("\t")[0].strip() == "2"
    admin_page.click("nav.tabs >> text=Review")
    admin_page.wait_for_selector(f"[data-demonstration='{demo.pk}']")
    assert (
        admin_page.locator(f"[data-demonstration='{demo.pk}'] .guideline-version").inner_text()
        == "guideline v1"
    )
    admin_page.click(f"[data-demonstration='{demo.pk}'] button:has-text('Accept')")
    admin_page.wait_for_selector("text=No demonstrations are waiting for review.")
    demo.refresh_from_db()
    assert demo.review_status == "accepted"
    admin_page.click("nav.tabs >> text=Dashboard")
    admin_page.wait_for_selector(".dashboard svg")

    # The next annotation records version 2.
    import_file(
        project=project,
        user=world["admin"],
        data=_ranking_item("r2", ["w", "x", "y", "z"]),
        kind="ranking_items",
    )
    page.goto(f"{base}/projects/{project.pk}/work")
    page.wait_for_selector(".answers .answer")
    assert page.get_by_text("guideline v2").is_visible()
    page.keyboard.press("g")
    page.wait_for_selector(".guideline-panel h3:has-text('Version two')")
    for key in ["1", "2", "3", "4", "Enter"]:
        page.keyboard.press(key)
    page.wait_for_selector("text=No work left for you here")
    latest = Ranking.objects.order_by("-id").first()
    assert latest.guideline.version == 2 and len(latest.tiers) == 4

    assert dialogs == [], f"a script ran in the page: {dialogs}"
    assert not Ranking.objects.filter(
        task__prompt__external_id="ok"
    ).exists()  # the refused import stored nothing
    context.close()
    admin_context.close()


def test_expired_lease_is_explained_and_past_work_can_be_revised(live_server, browser):
    from datetime import timedelta

    from django.utils import timezone

    from labeling.models import AnnotationRevision
    from labeling.services.assignment import assignment_claim_next
    from labeling.services.submission import assignment_submit

    admin = make_user("e2e-admin2", is_staff=True)
    project = make_project(admin=admin, k_answers=4, redundancy=2)
    labeler = add_member(project, Role.LABELER, user=make_user("e2e-labeler2"))
    others = [add_member(project, Role.LABELER) for _ in range(2)]
    import_file(
        project=project, user=admin, data=_ranking_item("x1", ["a", "b", "c", "d"]), kind="ranking_items"
    )
    prompt = json.dumps({"external_id": "d2", "prompt": "Say hello."}).encode()
    import_file(project=project, user=admin, data=prompt, kind="prompts")
    import_file(
        project=project, user=admin, data=_ranking_item("x2", ["e", "f", "g", "h"]), kind="ranking_items"
    )

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _sign_in(page, live_server.url, "e2e-labeler2")
    with page.expect_response(lambda r: "prefetch=1" in r.url):  # the next task is leased in the background
        page.goto(f"{live_server.url}/projects/{project.pk}/work")
        page.wait_for_selector(".answers .answer")
    for key in ["1", "2", "3", "4"]:
        page.keyboard.press(key)

    # Meanwhile the lease runs out and two others complete the task: the submit is refused and explained.
    mine = Assignment.objects.get(user=labeler, task__prompt__external_id="x1")
    Assignment.objects.filter(pk=mine.pk).update(expires_at=timezone.now() - timedelta(seconds=5))
    ids = list(mine.task.task_candidates.order_by("position").values_list("candidate_id", flat=True))
    for other in others:
        leased = assignment_claim_next(user=other, project=project)
        assignment_submit(
            user=other, assignment_id=leased.pk, client_id=uuid.uuid4(), tiers=[[i] for i in ids]
        )
    page.keyboard.press("Enter")
    page.wait_for_selector(".lost:has-text('This work was not stored')")
    assert "expired" in page.locator(".lost").inner_text()
    first_shown = min(public_ids(mine.pk, ids).values())
    assert (
        page.locator(f"[data-candidate='{first_shown}'] .rank").inner_text() == "rank 1"
    )  # the work stays on screen

    # Next task: a demonstration, submitted, then revised from the history while its task is open.
    page.keyboard.press("n")
    editor = page.wait_for_selector("textarea[name=demonstration]")
    editor.type("Hello!")
    page.keyboard.press("Control+Enter")

    # The last task cannot be ranked: `u`, a reason, Enter.
    page.wait_for_selector(".answers .answer")
    page.keyboard.press("u")
    page.keyboard.type("All four answers are empty letters.")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=No work left for you here")
    unrankable = Ranking.objects.get(user=labeler)
    assert unrankable.unrankable and unrankable.unrankable_reason == "All four answers are empty letters."
    assert unrankable.tiers == []
    page.click("text=My history")
    page.click("tr:has-text('demonstration') a:has-text('Revise')")
    editor = page.wait_for_selector("textarea[name=demonstration]")
    assert editor.input_value() == "Hello!"
    editor.fill("Hello there!")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=My past contributions")
    assert Demonstration.objects.get().text == "Hello there!"
    assert AnnotationRevision.objects.get().previous["text"] == "Hello!"
    context.close()


def test_admin_enables_prompt_tasks_and_a_labeler_writes_a_prompt(live_server, browser):
    from labeling.models import Prompt, PromptSource, Task, WrittenPrompt

    admin = make_user("e2e-admin3", is_staff=True)
    project = make_project(admin=admin, k_answers=4, redundancy=1)
    add_member(project, Role.LABELER, user=make_user("e2e-labeler3"))
    task = Task.objects.create(kind="prompt", project=project, required_annotations=1)
    system = "You are a patient maths tutor."
    question = "Why is **0.999…** equal to 1? <img src=x onerror=alert(1)>"

    # The admin enables prompt-writing tasks in the project's settings.
    admin_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    admin_page = admin_context.new_page()
    _sign_in(admin_page, live_server.url, "e2e-admin3")
    admin_page.goto(f"{live_server.url}/projects/{project.pk}/settings")
    admin_page.check("input[name=prompt_tasks_enabled]")
    admin_page.click("button:has-text('Save settings')")
    admin_page.wait_for_selector("text=Saved.")
    project.refresh_from_db()
    assert project.prompt_tasks_enabled

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, live_server.url, "e2e-labeler3")
    page.goto(f"{live_server.url}/projects/{project.pk}/work")
    page.wait_for_selector(".prompt-task .keys:has-text('adds a turn')")  # the shortcuts are on screen

    # Keyboard only: the first turn has the caret; write it, leave it, make it the system turn, add a user turn.
    page.wait_for_function("document.activeElement && document.activeElement.name === 'turn-0'")
    page.keyboard.type(system)
    page.keyboard.press("Escape")
    page.keyboard.press("t")
    assert page.locator("select[name=role-0]").input_value() == "system"
    page.keyboard.press("a")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'turn-1'")
    assert page.locator("[data-turn='1'] .role").get_attribute("data-role") == "user"
    page.keyboard.type(question)

    # The preview renders markdown and shows HTML as text; the draft reaches the server.
    page.wait_for_selector(".preview .turn.user strong:has-text('0.999…')")
    assert page.locator(".preview img").count() == 0
    page.wait_for_selector("[data-testid=draft-state]:has-text('saved to the server')")
    assert Draft.objects.get().payload["turns"][1]["content"] == question

    page.keyboard.press("Control+Enter")
    # The next task is the demonstration of the prompt just written, with both turns shown.
    page.wait_for_selector("textarea[name=demonstration]")
    assert page.locator(".conversation .turn.system").inner_text().endswith(system)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    written = WrittenPrompt.objects.get()
    assert written.task_id == task.pk and written.guideline.version == 1
    prompt = Prompt.objects.get(source=PromptSource.LABELER)
    assert written.prompt == prompt and prompt.messages == messages
    demo_task = Task.objects.get(prompt=prompt)
    assert demo_task.kind == "demonstration" and demo_task.status == "open"
    task.refresh_from_db()
    assert task.status == "complete"
    assert not Draft.objects.filter(assignment__task=task).exists()
    assert dialogs == [], f"a script ran in the page: {dialogs}"
    context.close()
    admin_context.close()
