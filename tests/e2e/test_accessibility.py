"""axe-core on every main page of the app, in Chromium against a live server: no serious or critical violation.

axe is loaded from frontend/node_modules (the `axe-core` devDependency) by evaluating its source through the
DevTools protocol, which the page's Content-Security-Policy (`script-src 'self'`, no inline script) does not
govern; an injected `<script>` element would be refused by that policy, and the policy itself stays as it is.
Every rule axe runs by default is checked (WCAG 2.x A/AA and best practices); a failure lists all violations,
the moderate and minor ones too, with the elements they concern.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page

from labeling.models import Role, TaskKind
from labeling.services.assignment import assignment_claim_next, assignment_skip
from labeling.services.dialogues import dialogue_tasks_open
from labeling.services.imports import import_file
from labeling.services.submission import demonstration_submit, dialogue_submit
from labeling.tests.factories import add_member, make_project, make_user, new_client_id
from rewardtrain.generation.models import GenerationJob
from rewardtrain.runs.models import RunStatus
from tests.e2e.axe import axe_report, axe_violations, blocking
from tests.e2e.finished_run import finished_run_with_curve

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CONVERSATION = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is a reward model?"},
    {"role": "assistant", "content": "A model that scores answers."},
    {"role": "user", "content": "Explain **pairwise** training in `two` sentences."},
]
ANSWERS = [
    "Answer **A**: fine, with `inline code`.",
    "Answer B:\n\n```python\nprint('hi')\n```",
    "Answer C: a [link](https://example.org) and a list:\n\n- one\n- two",
    "Answer D.",
]


@dataclass
class World:
    admin: object
    labeler: object
    main: object  # the project of the admin pages, history and review
    ranking: object
    demonstration: object
    dialogue: object


def _labeler_history(project, labeler) -> None:
    """Submitted, skipped and written work of the labeler in `project`, for History, Review and Dashboard."""
    while (lease := assignment_claim_next(user=labeler, project=project)) is not None:
        kind = lease.task.kind
        if kind == TaskKind.RANKING:
            assignment_skip(user=labeler, assignment=lease, reason="I lack the expertise for this topic")
        elif kind == TaskKind.DEMONSTRATION:
            demonstration_submit(
                user=labeler,
                assignment_id=lease.pk,
                client_id=new_client_id(),
                text="A model trained on **human preferences**.",
                seconds_spent=42,
            )
        else:
            messages = [
                {"role": "user", "content": "Plan a day in Kyoto?"},
                {"role": "assistant", "content": "Morning at Fushimi Inari, afternoon in Gion."},
            ]
            dialogue_submit(
                user=labeler, assignment_id=lease.pk, client_id=new_client_id(), messages=messages
            )


def _runs_and_models(project, tmp_path) -> None:
    base = finished_run_with_curve(project, tmp_path).base_model
    GenerationJob.objects.create(
        project=project,
        model=base,
        status=RunStatus.SUCCEEDED,
        settings={"k": 4, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 64, "seed": 0},
        prompts_total=2,
        prompts_done=2,
    )


@pytest.fixture
def world(tmp_path) -> World:
    admin = make_user("a11y-admin")
    labeler = make_user("a11y-labeler")

    main = make_project(admin=admin, k_answers=4, redundancy=1, dialogue_tasks_enabled=True)
    add_member(main, Role.LABELER, user=labeler)
    items = "\n".join(
        json.dumps({"external_id": f"r{i}", "prompt": f"Question {i}?", "answers": ANSWERS}) for i in range(2)
    )
    import_file(project=main, user=admin, data=items.encode(), kind="ranking_items")
    prompts = "\n".join(json.dumps({"external_id": f"d{i}", "messages": CONVERSATION}) for i in range(2))
    import_file(project=main, user=admin, data=prompts.encode(), kind="prompts")
    dialogue_tasks_open(project=main, count=1)
    _labeler_history(main, labeler)
    _runs_and_models(main, tmp_path)

    ranking = make_project(admin=admin, k_answers=4, allow_ties=True)
    add_member(ranking, Role.LABELER, user=labeler)
    import_file(project=ranking, user=admin, data=items.encode(), kind="ranking_items")

    demonstration = make_project(admin=admin)
    add_member(demonstration, Role.LABELER, user=labeler)
    import_file(project=demonstration, user=admin, data=prompts.encode(), kind="prompts")

    dialogue = make_project(admin=admin, dialogue_tasks_enabled=True)
    add_member(dialogue, Role.LABELER, user=labeler)
    dialogue_tasks_open(project=dialogue, count=1)
    return World(admin, labeler, main, ranking, demonstration, dialogue)


def _open_run(page: Page) -> None:
    """Data & runs: open the finished run, so its charts, metrics and lineage are checked too."""
    page.get_by_role("table", name="Training runs").get_by_role("button", name="Open").click()
    page.get_by_label("Lineage").wait_for()


def _open_guideline_and_flags(page: Page) -> None:
    """The ranking workspace with its guideline panel and the flag dialog open, by their keys."""
    page.keyboard.press("g")
    page.wait_for_selector(".guideline-panel")
    page.keyboard.press("f")
    page.wait_for_selector(".flag-picker")


@dataclass
class PageCase:
    user: str | None  # "admin", "labeler", or None (signed out)
    path: Callable[[World], str]
    ready: str  # a selector that shows once the page's content is rendered
    then: Callable[[Page], None] | None = None  # brings the page to the state checked


PAGES = {
    "login": PageCase(None, lambda w: "/", "form.login input[name=username]"),
    "projects": PageCase("admin", lambda w: "/", ".project-list .project >> nth=3"),
    "ranking": PageCase("labeler", lambda w: f"/projects/{w.ranking.pk}/work", ".answers .answer"),
    "ranking with the guideline and a dialog open": PageCase(
        "labeler", lambda w: f"/projects/{w.ranking.pk}/work", ".answers .answer", _open_guideline_and_flags
    ),
    "demonstration": PageCase(
        "labeler", lambda w: f"/projects/{w.demonstration.pk}/work", "textarea[name=demonstration]"
    ),
    "dialogue": PageCase("labeler", lambda w: f"/projects/{w.dialogue.pk}/work", ".dialogue-task textarea"),
    "history": PageCase("labeler", lambda w: "/history", "tr[data-assignment] >> nth=4"),
    "review": PageCase("admin", lambda w: f"/projects/{w.main.pk}/review", "[data-dialogue]"),
    "dashboard": PageCase("admin", lambda w: f"/projects/{w.main.pk}/dashboard", ".dashboard table tbody tr"),
    "guidelines": PageCase(
        "admin", lambda w: f"/projects/{w.main.pk}/guidelines", "table tbody tr[data-version]"
    ),
    "import": PageCase(
        "admin", lambda w: f"/projects/{w.main.pk}/imports", "section[aria-label='File formats'] h2"
    ),
    "data & runs": PageCase(
        "admin",
        lambda w: f"/projects/{w.main.pk}/runs",
        "table[aria-label='Training runs'] tbody tr",
        _open_run,
    ),
    "generation": PageCase(
        "admin", lambda w: f"/projects/{w.main.pk}/generation", "table[aria-label='Generation jobs'] tbody tr"
    ),
}


def _sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-" + username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")


@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_serious_or_critical_axe_violation(name, world, live_server, browser):
    case = PAGES[name]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    if case.user is not None:
        _sign_in(page, live_server.url, getattr(world, case.user).username)
    page.goto(live_server.url + case.path(world))
    page.wait_for_selector(case.ready)
    if case.then is not None:
        case.then(page)
    page.wait_for_load_state("networkidle")

    violations = axe_violations(page)
    context.close()
    assert not blocking(violations), axe_report(name, violations)
    print(axe_report(name, violations))  # the moderate and minor ones, shown with -s
