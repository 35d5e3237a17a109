"""An admin starts an RL run from the form (a prompts snapshot, the SFT model, a reward model picked by name) and
watches it without a reload: reward beside KL with its target line, answer length, entropy and clipping, and the
table of sampled answers, shown as text (a prompt's markup is not rendered) and folded when long.

The gpu worker's part (a tiny policy against a tiny reward model trained on the planted "apple" preference) runs
in a thread of the test process, held after step `HOLD_AT_STEP` until the page has shown it. Set
ANNOTATE_SCREENSHOTS to a folder to save the finished page there (docs/screenshots/rl-run-page.png).
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from labeling.models import Prompt
from labeling.tests.factories import make_project, make_user
from rewardtrain.generation.tests.helpers import register
from rewardtrain.runs.models import ModelKind, RunStatus, TrainingRun
from rewardtrain.snapshots.models import SnapshotStatus
from rewardtrain.snapshots.services import snapshot_build, snapshot_create
from rewardtrain.tests.helpers import both_splits_seed
from rewardtrain.training.config import RMConfig
from rewardtrain.training.tests.helpers import CORPUS, planted_kwise_records, write_jsonl
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer
from tests.e2e.axe import axe_report, axe_violations, blocking
from tests.e2e.held_worker import HeldWorker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("model_root"),
]
HOLD_AT_STEP = 2
STEPS = 6
MARKUP = "<b>bold?</b>"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ANNOTATE_CACHE_DIR = tmp_path / "cache"


def _models(project, admin, tmp_path: Path):
    from rewardtrain.training import train_rm

    build_tiny_model_and_tokenizer(tmp_path / "sft", corpus=CORPUS)
    write_jsonl(tmp_path / "rm-data" / "train.jsonl", planted_kwise_records(96, seed=1))
    train_rm(
        RMConfig(
            data=str(tmp_path / "rm-data" / "train.jsonl"),
            model=str(tmp_path / "sft"),
            out=str(tmp_path / "rm"),
            epochs=3,
            batch_size=4,
            lr=2e-3,
        )
    )
    sft = register(project, admin, tmp_path / "sft", kind=ModelKind.SFT, name="tiny-sft")
    rm = register(project, admin, tmp_path / "rm", kind=ModelKind.RM, name="apple-rm")
    return sft, rm


def _prompts(project) -> None:
    words = "tell me which fruit you like and why, in a few words please " * 6
    for i in range(12):
        Prompt.objects.create(
            project=project,
            external_id=f"p{i}",
            messages=[{"role": "user", "content": f"{MARKUP} question {i}: {words}"}],
        )


def test_an_rl_run_shows_reward_against_kl_and_its_sampled_answers(
    live_server, browser, tmp_path, media, monkeypatch
):
    admin = make_user("e2e-rl-admin", is_staff=True)
    project = make_project(admin=admin)
    _prompts(project)
    sft, rm = _models(project, admin, tmp_path)
    settings = {"kind": "prompts", "validation_fraction": 0.25, "seed": both_splits_seed(project, 0.25)}
    snapshot = snapshot_create(project=project, user=admin, settings_data=settings)
    assert snapshot_build(snapshot_id=snapshot.pk).status == SnapshotStatus.READY

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(live_server.url + "/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", "pw-" + admin.username)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    page.goto(f"{live_server.url}/projects/{project.pk}/runs")

    # Prompts snapshots are offered beside the others (the one the run trains on was built above).
    assert "prompts (every prompt, for RL)" in page.get_by_label("Snapshot kind").inner_text()
    page.get_by_role("row", name="Snapshot v1").get_by_text("ready").wait_for()

    form = page.get_by_role("region", name="Start a run")
    form.get_by_label("Run kind").select_option("rl")
    judge = form.get_by_label("Reward model")
    assert judge.locator("option").all_inner_texts() == ["reward model…", "apple-rm (rm)"]
    form.get_by_label("Snapshot", exact=True).select_option(str(snapshot.pk))
    form.get_by_label("Base model").select_option(str(sft.pk))
    form.get_by_role("button", name="Start").click()
    judge_error = "reward_model: an RL run is optimised against a reward model: pick one"
    form.locator(".field-error", has_text=judge_error).wait_for()  # under the picker
    judge.select_option(str(rm.pk))
    for name, value in {
        "max_steps": STEPS,
        "batch_size": 4,
        "lr": 0.003,
        "max_length": 256,
        "samples_per_prompt": 2,
        "kl_target": 1,
        "max_new_tokens": 8,
        "sample_every": 2,
        "eval_every": 2,
    }.items():
        form.get_by_label(name, exact=True).fill(str(value))
    form.get_by_role("button", name="Start").click()
    card = page.get_by_role("region", name=re.compile(r"^Run \d+$"))
    card.get_by_text("not started").wait_for()
    run = TrainingRun.objects.get(project=project)
    assert run.kind == "rl" and run.reward_model_id == rm.pk

    worker = HeldWorker(monkeypatch, kind="samples", step=HOLD_AT_STEP)
    worker.start(run.pk)
    try:
        assert worker.reached.wait(300), "training never reached the held step"
        # Mid-run, without a reload: the curves so far and the answers of step 2.
        card.get_by_role("table", name=f"Answers at step {HOLD_AT_STEP}").wait_for()
        # steps 1 and 2, and the held-out reward before the first step
        expect(card.get_by_role("img", name="reward per step")).to_have_attribute("data-points", "3")
        worker.go.set()
        worker.thread.join(300)
    finally:
        worker.go.set()
        worker.thread.join(300)
    done = worker.result
    assert done is not None and done.status == RunStatus.SUCCEEDED, done and done.error
    card.get_by_label("Run status").get_by_text("succeeded").wait_for()

    group = card.get_by_role("group", name="Reward vs KL")
    expect(group.get_by_role("img", name="reward per step")).to_have_attribute("data-points", str(STEPS + 1))
    kl_legend = group.get_by_role("img", name="KL per step").locator(".u-legend").inner_text()
    assert "train kl" in kl_legend and "validation kl" in kl_legend and "KL target" in kl_legend
    reward_legend = group.get_by_role("img", name="reward per step").locator(".u-legend").inner_text()
    assert "train reward" in reward_legend and "validation reward" in reward_legend
    length = group.get_by_role("img", name="answer length per step")
    assert length.get_attribute("data-points") == str(STEPS + 1)
    for chart in ("entropy per step", "clip fraction per step"):  # training figures only: no point at step 0
        assert group.get_by_role("img", name=chart).get_attribute("data-points") == str(STEPS)

    # The newest answers replace the held ones; older steps stay reachable.
    table = card.get_by_role("table", name=f"Answers at step {STEPS}")
    table.wait_for()
    assert card.get_by_label("Sample step").locator("option").all_inner_texts() == [
        f"latest (step {STEPS})",
        *[f"step {s}" for s in range(STEPS, 0, -2)],
    ]
    rows = table.locator("tbody tr")
    assert rows.count() == 4
    first_prompt = rows.first.locator("td").first
    assert MARKUP in first_prompt.inner_text()  # markup shown as text, never rendered
    assert first_prompt.locator("b").count() == 0
    folded = first_prompt.inner_text()
    assert "…" in folded
    first_prompt.get_by_role("button", name="Show all of prompt 1").click()
    first_prompt.get_by_role("button", name="Fold prompt 1").wait_for()
    assert len(first_prompt.inner_text()) > len(folded) + 50
    card.get_by_label("Sample step").select_option(str(HOLD_AT_STEP))
    card.get_by_role("table", name=f"Answers at step {HOLD_AT_STEP}").wait_for()
    card.get_by_label("Sample step").select_option("")

    lineage = card.get_by_label("Lineage")
    lineage.get_by_text(f"model rl-run-{run.pk}").wait_for()
    assert "reward model apple-rm" in lineage.inner_text() and "base model tiny-sft" in lineage.inner_text()

    # The charts, the answer tables and the fold buttons pass axe as the other pages do.
    violations = axe_violations(page)
    assert not blocking(violations), axe_report("RL run", violations)

    if folder := os.environ.get("ANNOTATE_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        card.scroll_into_view_if_needed()
        card.screenshot(path=str(Path(folder) / "rl-run-page.png"))
    page.context.close()
