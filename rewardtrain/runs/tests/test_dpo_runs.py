"""DPO as the third run kind: created, executed, cancelled and resumed by the same machinery as SFT and RM runs."""

import pytest
from rest_framework.test import APIClient

from labeling.services.errors import ServiceError
from labeling.tests.factories import make_project, make_user
from rewardtrain.jobs import HEARTBEAT_STALE
from rewardtrain.runs import services
from rewardtrain.runs.artifacts import registered_model_locate
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunMetric, RunStatus, TrainingRun
from rewardtrain.runs.selectors import run_lineage
from rewardtrain.runs.tests.roots import rooted
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus
from rewardtrain.snapshots.services import snapshot_dir
from rewardtrain.tests.helpers import store_snapshot_files
from rewardtrain.training.tests.helpers import CORPUS, planted_pairwise_records, write_jsonl
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer


@pytest.fixture
def setup(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    admin = make_user(is_staff=True)
    project = make_project(admin=admin)
    snapshot = Snapshot.objects.create(
        project=project, version=1, kind=SnapshotKind.PAIRWISE, status=SnapshotStatus.READY
    )
    folder = snapshot_dir(snapshot)
    write_jsonl(folder / "train.jsonl", planted_pairwise_records(16, seed=1))
    write_jsonl(folder / "validation.jsonl", planted_pairwise_records(4, seed=2))
    store_snapshot_files(snapshot, folder)
    build_tiny_model_and_tokenizer(tmp_path / "sft", corpus=CORPUS)
    sft = services.registered_model_create(
        project=project, user=admin, name="sft", kind=ModelKind.SFT, **rooted(tmp_path / "sft")
    )
    return project, admin, snapshot, sft


def _dpo(setup, **hyperparams):
    project, admin, snapshot, sft = setup
    return services.training_run_create(
        project=project,
        user=admin,
        kind="dpo",
        snapshot_id=snapshot.pk,
        base_model_id=sft.pk,
        hyperparams=hyperparams,
    )


@pytest.mark.django_db
def test_dpo_run_trains_and_registers_a_policy(setup):
    run = _dpo(setup, max_steps=3, batch_size=4, lr=1e-3, beta=0.5)
    done = services.training_run_execute(run_id=run.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.step == 3 and RunMetric.objects.filter(run=run, kind="step").count() == 3
    step = RunMetric.objects.filter(run=run, kind="step").last().values
    assert {"loss", "accuracy", "reward_margin", "chosen_reward", "rejected_reward"} <= set(step)
    assert "val_reward_margin" in done.final_metrics
    policy = RegisteredModel.objects.get(produced_by=run)
    assert policy.kind == ModelKind.POLICY and policy.name == f"dpo-run-{run.pk}"
    assert run_lineage(TrainingRun.objects.get(pk=run.pk))["base_model"]["name"] == "sft"
    from rewardtrain.training import load_model_and_tokenizer

    load_model_and_tokenizer(registered_model_locate(policy).path)  # a causal LM the sampling code can load


@pytest.mark.django_db
def test_dpo_run_cancelled_then_resumed_from_its_checkpoint(setup, monkeypatch):
    run = _dpo(setup, max_steps=4, batch_size=4, lr=1e-3)
    original = services._Recorder.__call__

    def cancel_at_step_two(self, event):
        original(self, event)
        if event.kind == "step" and event.step == 2:
            TrainingRun.objects.filter(pk=self.run.pk).update(cancel_requested=True)

    monkeypatch.setattr(services._Recorder, "__call__", cancel_at_step_two)
    done = services.training_run_execute(run_id=run.pk, worker="a")
    assert done.status == RunStatus.CANCELLED and done.step == 2
    assert not RegisteredModel.objects.filter(produced_by=run).exists()
    monkeypatch.setattr(services._Recorder, "__call__", original)

    # As if the worker had died after that checkpoint: the row is running with a stale heartbeat.
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        cancel_requested=False,
        heartbeat_at=run.created_at - HEARTBEAT_STALE,
    )
    done = services.training_run_execute(run_id=run.pk, worker="b")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.attempts == 2 and done.step == 4
    starts = list(RunMetric.objects.filter(run=run, kind="start").values_list("step", flat=True))
    assert starts == [0, 2]  # the second attempt picked up at step 2
    assert RegisteredModel.objects.get(produced_by=run).kind == ModelKind.POLICY


@pytest.mark.django_db
def test_dpo_requests_are_checked(setup):
    project, admin, snapshot, sft = setup
    rm = RegisteredModel.objects.create(
        project=project, name="rm", kind=ModelKind.RM, source=sft.source, root=sft.root, path=sft.path
    )
    with pytest.raises(ServiceError) as info:
        services.training_run_create(
            project=project, user=admin, kind="dpo", snapshot_id=snapshot.pk, base_model_id=rm.pk
        )
    assert info.value.errors[0].field == "base_model" and "reward model" in info.value.errors[0].message
    with pytest.raises(ServiceError) as info:
        _dpo(setup, ref_model="/etc")  # the reference is always the run's base model
    assert info.value.errors[0].field == "ref_model"
    with pytest.raises(ServiceError) as info:
        _dpo(setup, beta="high")
    assert info.value.errors[0].field == "beta"
    with pytest.raises(ServiceError) as info:
        _dpo(setup, beta=0, label_smoothing=0.5)
    assert {e.field for e in info.value.errors} == {"beta", "label_smoothing"}
    with pytest.raises(ServiceError) as info:
        _dpo(setup, row_tokens=-5, shared_attention="flash")
    assert {e.field for e in info.value.errors} == {"row_tokens", "shared_attention"}
    assert _dpo(setup, prefix_sharing=False, row_tokens=512).hyperparams == {
        "prefix_sharing": False,
        "row_tokens": 512,
    }

    client = APIClient()
    client.force_authenticate(admin)
    created = client.post(
        f"/api/projects/{project.pk}/runs/",
        {
            "kind": "dpo",
            "snapshot": snapshot.pk,
            "base_model": sft.pk,
            "hyperparams": {"beta": 0.2, "max_steps": 1},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["kind"] == "dpo" and created.json()["hyperparams"]["beta"] == 0.2
