"""Stored XSS: hostile text in every place where user or model text shows, read back on every page that shows
it, in real Chromium. Nothing may run (no dialog, no CSP violation, no element built from the payload) and the
payload must be on screen as text.

The CSP would stop an injected handler from running even if the app built HTML from the text, so the test also
looks for the elements themselves: it checks the escaping, not only the policy behind it. The same visits check
that the app itself raises no CSP violation (it needs no inline script or style element).
"""

import pytest

from labeling.models import Review, Role
from labeling.services.assignment import assignment_claim_next
from labeling.services.imports import import_file
from labeling.services.projects import guideline_publish, project_update
from labeling.services.submission import assignment_submit
from labeling.tests.factories import add_member, make_project, make_user, new_client_id
from rewardtrain.runs.models import RegisteredModel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "<svg/onload=alert(3)>",
    "\"'><iframe src=javascript:alert(4)>",
    "[link](javascript:alert(5))",
]
# One string carrying every payload, tagged with the place it was put in.
HOSTILE = " ".join(PAYLOADS)
SHOWN_AS_TEXT = PAYLOADS[:3]  # what each page must display literally (markdown may turn the others into text
# in other shapes: a link without its javascript: target, an attribute-looking string)

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""
INJECTED = (
    "#root img[src='x'], #root script, #root iframe, #root [onerror], #root [onload], "
    "#root a[href^='javascript:' i]"
)


def hostile(place: str) -> str:
    return f"{HOSTILE} @{place}"


def _rank_all(user, project) -> None:
    while (lease := assignment_claim_next(user=user, project=project)) is not None:
        if lease.task.kind != "ranking":
            break
        ids = sorted(lease.task.task_candidates.values_list("candidate_id", flat=True))
        assignment_submit(
            user=user, assignment_id=lease.pk, client_id=new_client_id(), tiers=[[i] for i in ids]
        )


@pytest.fixture
def world():
    import json

    admin = make_user("xss-admin", is_staff=True)
    project = make_project(admin=admin, redundancy=2, k_answers=4)
    project_update(project=project, name=hostile("project name"))
    guideline_publish(
        project=project,
        author=admin,
        body_md=hostile("guideline body") + "\n\n**bold** and `code`",
        criteria=[hostile("criterion")],
        flags=[{"key": "bad", "label": hostile("flag label")}, {"key": "ok", "label": "Fine"}],
    )
    # A labeler whose username carries the payload (create_user skips the form validators on purpose).
    evil = add_member(project, Role.LABELER, user=make_user("x<img src=x onerror=alert(6)>"))
    bob = add_member(project, Role.LABELER, user=make_user("xss-bob"))
    items = [
        {
            "external_id": f"r{i}",
            "prompt": hostile("prompt"),
            "answers": [hostile(f"answer {j}") for j in range(4)],
        }
        for i in range(2)
    ]
    import_file(
        project=project,
        user=admin,
        data="\n".join(json.dumps(i) for i in items).encode(),
        kind="ranking_items",
    )
    # Bob ranks both tasks, the hostile-named labeler the first one: agreement and dashboard list both names.
    _rank_all(bob, project)
    lease = assignment_claim_next(user=evil, project=project)
    ids = sorted(lease.task.task_candidates.values_list("candidate_id", flat=True))
    assignment_submit(user=evil, assignment_id=lease.pk, client_id=new_client_id(), tiers=[[i] for i in ids])
    # A demonstration with a hostile prompt and answer, waiting for review.
    prompt = {"external_id": "d1", "messages": [{"role": "user", "content": hostile("demonstration prompt")}]}
    import_file(project=project, user=admin, data=json.dumps(prompt).encode(), kind="prompts")
    lease = assignment_claim_next(user=bob, project=project)
    assert lease.task.kind == "demonstration"
    assignment_submit(
        user=bob, assignment_id=lease.pk, client_id=new_client_id(), text=hostile("demonstration text")
    )
    RegisteredModel.objects.create(project=project, name=hostile("model name"), kind="base", path="org/m")
    return {"project": project, "admin": admin, "evil": evil, "bob": bob}


class Browser:
    """One signed-in page that records dialogs, console CSP errors and CSP violation events."""

    def __init__(self, browser, base: str, username: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.base = base
        self.dialogs: list[str] = []
        self.console: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on(
            "console",
            lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None,
        )
        self.page.goto(base + "/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", "pw-" + username)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("text=Your projects")

    def check(self, places: list[str], *, expect_text: bool = True) -> int:
        """Assert the page is clean; returns the payload-by-place combinations checked."""
        page = self.page
        for place in places:
            page.get_by_text(f"@{place}", exact=False).filter(visible=True).first.wait_for(timeout=10_000)
        text = page.inner_text("#root")
        if expect_text:
            for place in places:
                for payload in SHOWN_AS_TEXT:
                    assert f"{payload}" in text, f"{payload!r} of {place} not shown as text on {page.url}"
        assert page.locator(INJECTED).count() == 0, f"markup from a payload on {page.url}"
        assert self.dialogs == [], f"a payload ran on {page.url}: {self.dialogs}"
        assert page.evaluate("window.__violations") == [], page.evaluate("window.__violations")
        assert self.console == [], self.console
        return len(places) * len(PAYLOADS)

    def visit(self, path: str, places: list[str], **kw) -> int:
        self.page.goto(self.base + path)
        return self.check(places, **kw)


def test_hostile_text_is_shown_as_text_everywhere(world, live_server, browser):
    pid = world["project"].pk
    combos = 0

    labeler = Browser(browser, live_server.url, world["evil"].username)
    combos += labeler.check(["project name"])
    labeler.page.locator(f"[data-project='{pid}']").get_by_text("Start labeling").click()
    labeler.page.wait_for_selector(".answers .answer")
    combos += labeler.check(["prompt", "answer 0", "answer 1", "answer 2", "answer 3"])
    labeler.page.keyboard.press("g")  # the guideline beside the task
    combos += labeler.check(["guideline body"])
    labeler.page.keyboard.press("g")
    labeler.page.locator(".answers .answer").first.click()
    for _ in range(3):  # the flag picker (a key press can land while the page re-renders after the prefetch)
        labeler.page.keyboard.press("f")
        if labeler.page.locator(".flag-picker").is_visible():
            break
        labeler.page.wait_for_timeout(300)
    picker = labeler.page.locator(".flag-picker").inner_text()
    assert "@flag label" in picker and all(p in picker for p in SHOWN_AS_TEXT), picker
    combos += labeler.check([]) + len(PAYLOADS)
    combos += labeler.visit(f"/projects/{pid}/guidelines", ["guideline body", "criterion"])
    combos += labeler.visit("/history", [], expect_text=False)
    labeler.context.close()

    admin = Browser(browser, live_server.url, world["admin"].username)
    combos += admin.visit(f"/projects/{pid}/review", ["demonstration prompt", "demonstration text"])
    # A reviewer's comment, typed and sent (rejecting the demonstration, confirmed in its dialog).
    admin.page.get_by_role("button", name="Reject…").first.click()
    admin.page.get_by_role("dialog").get_by_placeholder("Comment").fill(hostile("review comment"))
    combos += admin.check([]) + len(PAYLOADS)
    admin.page.get_by_role("button", name="Reject and reopen the task").click()
    admin.page.wait_for_timeout(500)
    combos += admin.check([], expect_text=False)
    evil_name = world["evil"].username
    for tab in ("dashboard", "members", "agreement"):
        admin.page.goto(f"{live_server.url}/projects/{pid}/{tab}")
        admin.page.get_by_text(evil_name, exact=False).first.wait_for(timeout=10_000)
        assert evil_name in admin.page.inner_text("#root")
        combos += admin.check([]) + 1
    # Model names are the options of the run form's model picker (text, never markup).
    admin.page.goto(f"{live_server.url}/projects/{pid}/runs")
    option = admin.page.locator("option", has_text="@model name").first
    option.wait_for(state="attached", timeout=10_000)
    assert all(p in option.inner_text() for p in SHOWN_AS_TEXT)
    combos += admin.check([]) + len(PAYLOADS)
    combos += admin.visit(f"/projects/{pid}/guidelines", ["guideline body", "criterion"])
    # The admin's editor holds the flags as plain text in a textarea.
    assert "@flag label" in admin.page.locator("textarea[name=flags]").input_value()
    combos += admin.check([]) + len(PAYLOADS)
    combos += admin.visit(f"/projects/{pid}/audit", ["project name"], expect_text=False)
    combos += admin.visit(f"/projects/{pid}/settings", [], expect_text=False)
    admin.context.close()
    assert Review.objects.filter(decision="reject", comment=hostile("review comment")).exists()

    # The labeler whose demonstration was rejected reads the comment on their history, as text.
    author = Browser(browser, live_server.url, world["bob"].username)
    combos += author.visit("/history", ["review comment"])
    rejected = author.page.locator("tr", has=author.page.locator(".badge.review-rejected"))
    assert rejected.count() == 1 and "@review comment" in rejected.locator(".review-comment").inner_text()
    assert rejected.get_by_role("link", name="Revise").count() == 1  # the rejection reopened its task
    author.context.close()
    print(f"\nstored XSS: {combos} payload x place combinations, none ran")
    assert combos >= 80
