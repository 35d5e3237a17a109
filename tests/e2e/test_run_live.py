"""An admin starts a reward-model run from the typed form and watches its curve grow without a reload; a snapshot
built meanwhile turns from queued to ready on screen, and offers no empty validation file.

The gpu worker's part (training a tiny model) runs in a thread of the test process, held after its third step
until the page has shown those steps, so the test sees the run mid-way, then done. Set ANNOTATE_SCREENSHOTS to a
folder to save the finished run page there (docs/screenshots/run-page.png comes from this test).
"""

import os
import re
from pathlib import Path

import pytest

from labeling.tests.factories import add_member, import_ranking_tasks, make_project, make_user
from rewardtrain.generation.tests.helpers import register
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunStatus, TrainingRun
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus
from rewardtrain.snapshots.services import snapshot_build, snapshot_dir
from rewardtrain.tests.helpers import candidate_ids, rank, store_snapshot_files
from rewardtrain.training.tests.helpers import CORPUS, planted_kwise_records, write_jsonl
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer
from tests.e2e.held_worker import HeldWorker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("model_root"),
]
HOLD_AT_STEP = 3
STEPS = 6


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ANNOTATE_CACHE_DIR = tmp_path / "cache"


def _ready_kwise_snapshot(project) -> Snapshot:
    splits = {"train": {"records": 24, "prompts": 24}, "validation": {"records": 8, "prompts": 8}}
    snapshot = Snapshot.objects.create(
        project=project,
        version=1,
        kind=SnapshotKind.KWISE,
        status=SnapshotStatus.READY,
        params={},
        manifest={"splits": splits},
    )
    folder = snapshot_dir(snapshot)
    folder.mkdir(parents=True)
    write_jsonl(folder / "train.jsonl", planted_kwise_records(24, seed=1))
    write_jsonl(folder / "validation.jsonl", planted_kwise_records(8, seed=2))
    return store_snapshot_files(snapshot, folder)


def test_a_run_started_from_the_form_shows_its_curve_growing_without_a_reload(
    live_server, browser, tmp_path, media, monkeypatch
):
    admin = make_user("e2e-live-admin", is_staff=True)
    project = make_project(admin=admin, k_answers=4)
    import_ranking_tasks(project, 3)  # ranked, so that the snapshot built below has records
    labeler = add_member(project)
    for task in project.tasks.all():
        rank(task, labeler, [[c] for c in candidate_ids(task)])
    _ready_kwise_snapshot(project)
    build_tiny_model_and_tokenizer(tmp_path / "tiny", corpus=CORPUS)
    base = register(project, admin, tmp_path / "tiny", kind=ModelKind.SFT, name="tiny-sft")
    RegisteredModel.objects.create(project=project, name="old-rm", kind=ModelKind.RM, path="org/old-rm")

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "pw-" + admin.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    page.goto(f"{live_server.url}/projects/{project.pk}/runs")

    form = page.get_by_role("region", name="Start a run")
    # An SFT run may not start from a reward model: the option is there, disabled, saying why.
    form.get_by_label("Run kind").select_option("sft")
    refused = form.locator("option", has_text="old-rm")
    assert refused.is_disabled() and "cannot start from a reward model" in refused.inner_text()
    form.get_by_label("Run kind").select_option("rm")
    assert form.get_by_label("lr", exact=True).input_value() == "0.00001"  # the config's default, typed
    assert form.get_by_label("prefix_sharing").is_checked()
    form.get_by_label("Snapshot", exact=True).select_option(label="v1 kwise (24 train)")
    form.get_by_label("Base model").select_option(str(base.pk))
    form.get_by_label("max_steps").fill(str(STEPS))
    form.get_by_label("batch_size").fill("4")
    form.get_by_label("lr", exact=True).fill("0.001")
    form.get_by_label("eval_every").fill("2")
    form.get_by_role("button", name="Start").click()

    card = page.get_by_role("region", name=re.compile(r"^Run \d+$"))
    card.get_by_text("not started").wait_for()
    run = TrainingRun.objects.get(project=project)
    assert run.hyperparams == {
        "lr": 0.001,
        "epochs": 1.0,
        "max_steps": STEPS,
        "batch_size": 4,
        "max_length": 1024,
        "eval_every": 2,
        "lora_r": 0,
        "freeze_layers": 0,
        "prefix_sharing": True,
    }

    worker = HeldWorker(monkeypatch, kind="step", step=HOLD_AT_STEP)
    worker.start(run.pk)
    try:
        _watch(page, project, card, run, worker)
    finally:
        worker.go.set()  # a failed check must not leave the training thread (and its database session) held
        worker.thread.join(300)
    page.context.close()


def _watch(page, project, card, run, worker) -> None:
    assert worker.reached.wait(300), "training never reached the held step"
    # Mid-run, without a reload: three steps on the curve, a validation point at step 2, "running" in the card
    # and in the table alike.
    caption = card.locator("figcaption", has_text="Loss per step")
    caption.get_by_text(f"({HOLD_AT_STEP} points").wait_for()
    assert card.get_by_role("img", name="loss per step").get_attribute("data-points") == str(HOLD_AT_STEP)
    legend = card.get_by_role("img", name="loss per step").locator(".u-legend").inner_text()
    assert "train loss" in legend and "validation loss" in legend
    card.get_by_label("Run status").get_by_text("running").wait_for()
    row = page.get_by_role("row", name=f"Training run {run.pk}")
    row.get_by_text("running").wait_for()

    # A snapshot built meanwhile: queued on screen, then ready, with no empty validation file offered.
    page.get_by_label("Snapshot kind").select_option("kwise")
    page.get_by_role("button", name="Build snapshot").click()
    snap_row = page.get_by_role("row", name="Snapshot v2")
    snap_row.get_by_text("queued").wait_for()
    built = snapshot_build(snapshot_id=Snapshot.objects.get(project=project, version=2).pk)
    assert built.status == SnapshotStatus.READY and built.manifest["splits"]["train"]["records"] > 0
    snap_row.get_by_text("ready").wait_for()
    links = snap_row.get_by_role("link").all_inner_texts()
    splits = built.manifest["splits"]
    offered = [s for s in ("train", "validation") if splits[s]["records"]]
    assert links == [f"{s}.{ext}" for s in offered for ext in ("jsonl", "parquet")] + ["manifest.json"]
    if not splits["validation"]["records"]:  # 3 prompts, 5% for validation: most often none
        snap_row.get_by_text("runs on it train without validation").wait_for()

    done = worker.release()
    assert done.status == RunStatus.SUCCEEDED, done.error
    card.get_by_label("Run status").get_by_text("succeeded").wait_for()
    caption.get_by_text(f"({STEPS} points").wait_for()
    row.get_by_text("succeeded").wait_for()
    assert row.get_by_text(f"{STEPS}/{STEPS} steps").is_visible()
    assert card.get_by_text(f"{STEPS}/{STEPS} steps").is_visible()
    final = card.get_by_role("table", name="Final metrics")
    final.get_by_role("cell", name="val_accuracy", exact=True).wait_for()
    lineage = card.get_by_label("Lineage")
    lineage.get_by_text(f"model rm-run-{run.pk}").wait_for()
    assert "snapshot v1" in lineage.inner_text() and "base model tiny-sft" in lineage.inner_text()
    row.get_by_text(f"rm-run-{run.pk}").wait_for()
    card.get_by_role("img", name="accuracy per step").wait_for()

    if folder := os.environ.get("ANNOTATE_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(Path(folder) / "run-page.png"), full_page=True)
