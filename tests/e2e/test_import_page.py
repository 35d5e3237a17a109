"""The Import page in a real browser: format help with example files, a refusal said once, aligned radios."""

import json

import pytest

from labeling.models import Task
from labeling.tests.factories import make_project, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw-" + username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")


def test_import_page_offers_an_example_file_that_imports(live_server, browser, tmp_path):
    admin = make_user("e2e-import-admin", is_staff=True)
    project = make_project(admin=admin, k_answers=5)
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    _sign_in(page, live_server.url, admin.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/imports")

    # The example follows the project's K and downloads without a server round trip.
    help_ = page.get_by_role("region", name="File formats")
    help_.locator("h2:has-text('exactly 5 answers')").wait_for()
    with page.expect_download() as info:
        help_.locator("[data-example='ranking-jsonl'] a").first.click()
    download = info.value
    assert download.suggested_filename == "ranking_items.jsonl"
    path = tmp_path / "items.jsonl"
    download.save_as(path)
    assert all(len(json.loads(line)["answers"]) == 5 for line in path.read_text().splitlines())

    # Choosing prompts as CSV shows the CSV example; every format is listed, HH, TRL and oasst1 included.
    page.select_option("select[name=kind]", "prompts")
    page.select_option("select[name=format]", "csv")
    help_.locator("h2:has-text('Prompts, CSV')").wait_for()
    assert "external_id,prompt,system,priority" in help_.locator("pre.example").first.inner_text()
    help_.locator("summary").click()
    for title in ("Anthropic HH-RLHF", "TRL preference pairs", "OpenAssistant oasst1"):
        assert help_.locator(f"h3:has-text('{title}')").is_visible()

    # The downloaded example imports as it is.
    page.select_option("select[name=kind]", "ranking_items")
    page.select_option("select[name=format]", "jsonl")
    page.set_input_files("input[name=file]", str(path))
    page.click("button:has-text('Import')")
    page.wait_for_selector(".notice:has-text('Imported')")
    assert Task.objects.filter(project=project).count() == 2
    context.close()


def test_import_refusal_is_said_once_and_radios_sit_by_their_labels(live_server, browser):
    admin = make_user("e2e-import-bad-admin", is_staff=True)
    project = make_project(admin=admin)
    page = browser.new_context().new_page()
    _sign_in(page, live_server.url, admin.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/imports")

    bad = b'{"external_id": "bad", "prompt": "Two?", "answers": ["a"]}\n'
    page.set_input_files(
        "input[name=file]", {"name": "items.jsonl", "mimeType": "application/json", "buffer": bad}
    )
    page.click("button:has-text('Import')")
    alert = page.locator(".error[role=alert]")
    alert.locator("table tbody tr").first.wait_for()
    assert alert.inner_text().lower().count("nothing was imported") == 1
    assert alert.locator("table tbody tr").count() == 1

    # Each radio button is next to its label's text, not stretched across the line.
    form = page.locator("form[aria-label='Open dialogue tasks']")
    for label in ("blank", "from selected prompts"):
        box = form.locator(f"label:has-text('{label}')").bounding_box()
        radio = form.locator(f"label:has-text('{label}') input[type=radio]").bounding_box()
        assert radio["width"] < 30 and box["width"] < 250, (label, radio, box)
        assert abs((radio["y"] + radio["height"] / 2) - (box["y"] + box["height"] / 2)) < 8
    page.context.close()
