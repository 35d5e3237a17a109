"""An admin builds a snapshot, watches a finished run's curves and reads its lineage, in a real browser."""

import pytest

from labeling.tests.factories import make_project, make_user
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunMetric, RunStatus, TrainingRun
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_runs_page_shows_curves_lineage_and_builds_snapshots(live_server, browser, tmp_path):
    admin = make_user("e2e-runs-admin", is_staff=True)
    project = make_project(admin=admin)
    snapshot = Snapshot.objects.create(
        project=project,
        version=1,
        kind=SnapshotKind.KWISE,
        status=SnapshotStatus.READY,
        params={},
        manifest={},
    )
    base = RegisteredModel.objects.create(
        project=project, name="tiny-base", kind=ModelKind.BASE, path=str(tmp_path)
    )
    run = TrainingRun.objects.create(
        project=project,
        kind="rm",
        snapshot=snapshot,
        base_model=base,
        status=RunStatus.SUCCEEDED,
        step=3,
        total_steps=3,
        final_metrics={"val_accuracy": 0.75},
    )
    for step, loss in ((1, 0.7), (2, 0.6), (3, 0.4)):
        RunMetric.objects.create(run=run, kind="step", step=step, values={"loss": loss, "accuracy": 0.5})

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
