"""End to end: a labeler writes a whole dialogue with the keyboard, and asks for a suggestion while writing a
demonstration (the `gpu` task is run here in the test process, as no Celery worker runs in these tests)."""

import pytest

from labeling.models import Demonstration, Dialogue, Draft, Role, Suggestion, Task
from labeling.services.dialogues import dialogue_tasks_open
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-" + username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")


def _focused(page, name: str) -> None:
    page.wait_for_function(f"document.activeElement && document.activeElement.name === '{name}'")


def test_a_labeler_writes_a_dialogue_playing_both_roles(live_server, browser):
    admin = make_user("e2e-dlg-admin", is_staff=True)
    project = make_project(admin=admin, redundancy=1, dialogue_tasks_enabled=True)
    add_member(project, Role.LABELER, user=make_user("e2e-dlg-labeler"))
    (task,) = dialogue_tasks_open(project=project, count=1)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, live_server.url, "e2e-dlg-labeler")
    page.goto(f"{live_server.url}/projects/{project.pk}/work")
    page.wait_for_selector(".dialogue-task .keys:has-text('adds the next turn')")

    # Keyboard only: write the user's turn, ctrl+Enter moves to the assistant's, and so on.
    _focused(page, "turn-0")
    page.keyboard.type("Plan a **day** in Kyoto? <img src=x onerror=alert(1)>")
    page.keyboard.press("Control+Enter")
    _focused(page, "turn-1")
    assert page.locator("[data-turn='1'] .role").get_attribute("data-role") == "assistant"
    page.keyboard.type("Morning at Fushimi Inari, afternoon in Gion.")
    page.keyboard.press("Control+Enter")
    _focused(page, "turn-2")
    page.keyboard.type("And if it rains?")
    # Submitting while the user spoke last is refused on screen, naming the turn; nothing is stored.
    page.keyboard.press("Control+Shift+Enter")
    page.wait_for_selector(".error:has-text('Turn 3 is the user')")
    assert not Dialogue.objects.exists()
    page.keyboard.press("Control+Enter")
    _focused(page, "turn-3")
    page.keyboard.type("Visit the Kyoto National Museum.")

    # The preview renders markdown, shows HTML as text; the draft reaches the server.
    page.wait_for_selector(".preview .turn.user strong:has-text('day')")
    assert page.locator(".preview img").count() == 0
    page.wait_for_selector("[data-testid=draft-state]:has-text('saved to the server')")
    assert len(Draft.objects.get().payload["turns"]) == 4

    page.keyboard.press("Control+Shift+Enter")
    page.wait_for_selector("text=No work left for you here")
    dialogue = Dialogue.objects.get()
    assert [m["role"] for m in dialogue.messages] == ["user", "assistant", "user", "assistant"]
    assert dialogue.messages[3]["content"] == "Visit the Kyoto National Museum."
    assert dialogue.guideline.version == 1 and dialogue.seconds_spent > 0 and dialogue.task_id == task.pk
    assert Task.objects.get(pk=task.pk).status == "complete"
    assert not Draft.objects.exists()
    assert dialogs == [], f"a script ran in the page: {dialogs}"
    context.close()


@pytest.mark.usefixtures("model_root")
def test_a_labeler_asks_for_a_suggestion_and_edits_it(live_server, browser, tmp_path, monkeypatch):
    from rewardtrain.runs.models import ModelKind
    from rewardtrain.runs.services import registered_model_create
    from rewardtrain.runs.tests.roots import rooted
    from rewardtrain.suggestions import services as suggestions
    from rewardtrain.suggestions.tasks import gpu_suggest
    from rewardtrain.training.tests.helpers import CORPUS
    from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

    monkeypatch.setitem(suggestions.SAMPLING, "max_new_tokens", 16)
    admin = make_user("e2e-sug-admin", is_staff=True)
    project = make_project(admin=admin, redundancy=1)
    import_prompt_tasks(project, 1)
    add_member(project, Role.LABELER, user=make_user("e2e-sug-labeler"))
    build_tiny_model_and_tokenizer(tmp_path / "sft", corpus=CORPUS)
    registered_model_create(
        project=project, user=admin, name="tiny-sft", kind=ModelKind.SFT, **rooted(tmp_path / "sft")
    )

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _sign_in(page, live_server.url, "e2e-sug-labeler")
    page.goto(f"{live_server.url}/projects/{project.pk}/work")
    page.wait_for_selector("textarea[name=demonstration]")
    page.wait_for_selector("button:has-text('Suggest')")
    _focused(page, "demonstration")
    page.keyboard.press("Control+.")
    page.wait_for_selector("[data-testid=suggestion-state]:has-text('Asking the model')")
    page.wait_for_selector("button:has-text('Suggesting…')")
    suggestion = Suggestion.objects.get()
    assert gpu_suggest(suggestion.pk) == "done"  # what the gpu worker would do
    page.wait_for_selector("[data-testid=suggestion-state]:has-text('Suggestion inserted')", timeout=15000)
    assert "tiny-sft" not in page.content()  # labelers never learn which model wrote it
    suggestion.refresh_from_db()
    editor = page.locator("textarea[name=demonstration]")
    assert editor.input_value() == suggestion.text
    page.keyboard.type(" My edit.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=No work left for you here")
    demo = Demonstration.objects.get()
    assert demo.text == suggestion.text + " My edit."
    assert demo.suggestion == suggestion.text and demo.suggestion_model == "tiny-sft"
    assert demo.edit_distance == len(" My edit.")
    context.close()


def test_an_admin_opens_dialogue_tasks_and_a_reviewer_rejects_a_dialogue(live_server, browser):
    from rest_framework.test import APIClient

    from labeling.tests.factories import new_client_id

    admin = make_user("e2e-dlr-admin", is_staff=True)
    project = make_project(admin=admin, redundancy=1, dialogue_tasks_enabled=True)
    labeler = add_member(project, Role.LABELER, user=make_user("e2e-dlr-labeler"))
    import_prompt_tasks(project, 2)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, live_server.url, "e2e-dlr-admin")

    # The open-tasks form: a bad count is explained before sending; then one task per selected prompt.
    page.goto(f"{live_server.url}/projects/{project.pk}/imports")
    form = page.locator("form[aria-label='Open dialogue tasks']")
    form.locator("input[name=count]").fill("0")
    form.locator("button[type=submit]").click()
    form.locator("[role=alert]:has-text('Count must be')").wait_for()
    form.locator("text=from selected prompts").click()
    first_prompt = project.prompts.order_by("id").first()
    form.locator(f"input[data-prompt='{first_prompt.pk}']").check()
    form.locator("input[name=priority]").fill("3")
    form.locator("button[type=submit]").click()
    form.locator("[role=status]:has-text('Opened 1 dialogue task, seeded with its prompt')").wait_for()
    task = Task.objects.get(kind="dialogue")
    assert task.prompt_id == first_prompt.pk and task.priority == 3

    # A labeler writes it (through the API); the reviewer sees the whole conversation, HTML as text.
    client = APIClient()
    client.force_authenticate(labeler)
    assignment = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    assert assignment["task"]["id"] == task.pk
    messages = [
        *first_prompt.messages,
        {"role": "assistant", "content": "Sure: <img src=x onerror=alert(1)> **bold**"},
    ]
    body = {"client_id": new_client_id(), "messages": messages}
    assert client.post(f"/api/assignments/{assignment['id']}/submit/", body, format="json").status_code == 201
    dialogue = Dialogue.objects.get()
    page.goto(f"{live_server.url}/projects/{project.pk}/review")
    card = page.locator(f"[data-dialogue='{dialogue.pk}']")
    card.locator(".turn.assistant strong:has-text('bold')").wait_for()
    assert card.locator("img").count() == 0 and card.locator(".turn").count() == len(messages)
    card.locator("button:has-text('Reject')").click()
    page.get_by_role("dialog").locator("input").fill("The answer dodges the question.")
    page.get_by_role("button", name="Reject and reopen the task").click()
    page.wait_for_selector("text=No dialogues are waiting for review.")
    dialogue.refresh_from_db()
    assert dialogue.review_status == "rejected" and Task.objects.get(pk=task.pk).status == "open"
    assert dialogue.reviews.get().comment == "The answer dodges the question."
    assert dialogs == [], f"a script ran in the page: {dialogs}"
    context.close()
