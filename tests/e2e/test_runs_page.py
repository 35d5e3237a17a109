"""An admin builds a snapshot, watches a finished run's curves and reads its lineage, in a real browser."""

import pytest

from labeling.tests.factories import make_project, make_user
from rewardtrain.snapshots.models import Snapshot
from tests.e2e.finished_run import finished_run_with_curve

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_runs_page_shows_curves_lineage_and_builds_snapshots(live_server, browser, tmp_path):
    admin = make_user("e2e-runs-admin", is_staff=True)
    project = make_project(admin=admin)
    finished_run_with_curve(project, tmp_path)

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "pw-" + admin.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    page.goto(f"{live_server.url}/projects/{project.pk}/runs")
    runs = page.get_by_role("table", name="Training runs")
    runs.wait_for()
    runs.get_by_text("0.750").wait_for()
    runs.get_by_role("button", name="Open").click()
    page.get_by_role("img", name="loss per step").wait_for()
    assert "snapshot v1" in page.get_by_label("Lineage").inner_text()
    page.get_by_role("button", name="Build snapshot").click()
    page.get_by_role("table", name="Snapshots").get_by_text("v2").wait_for()
    assert Snapshot.objects.filter(project=project, version=2).exists()
    page.context.close()
