"""What the run form is told and refused: base models by kind (a reward model is no start for SFT or DPO), the
typed hyper-parameters with their defaults, and a warning when a run's snapshot has no validation records."""

import dataclasses

import pytest
from rest_framework.test import APIClient

from labeling.models import Role
from labeling.services.errors import ServiceError
from labeling.tests.factories import add_member, make_project, make_user
from rewardtrain.runs import services
from rewardtrain.runs.models import ModelKind, RegisteredModel, TrainingRun
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus
from rewardtrain.training.config import DPOConfig, RMConfig

pytestmark = pytest.mark.django_db


def _snapshot(project, version: int, kind: str, validation_records: int) -> Snapshot:
    splits = {
        "train": {"records": 8, "prompts": 4},
        "validation": {"records": validation_records, "prompts": 1},
    }
    return Snapshot.objects.create(
        project=project,
        version=version,
        kind=kind,
        status=SnapshotStatus.READY,
        params={},
        manifest={"splits": splits},
    )


@pytest.fixture
def world():
    admin = make_user(is_staff=True)
    project = make_project(admin=admin)
    models = {
        kind: RegisteredModel.objects.create(project=project, name=f"m-{kind}", kind=kind, path=f"org/{kind}")
        for kind in ModelKind.values
    }
    return {
        "project": project,
        "admin": admin,
        "models": models,
        "sft": _snapshot(project, 1, SnapshotKind.SFT, validation_records=2),
        "pairwise": _snapshot(project, 2, SnapshotKind.PAIRWISE, validation_records=0),
    }


def _create(world, kind: str, snapshot: str, base: str) -> TrainingRun:
    return services.training_run_create(
        project=world["project"],
        user=world["admin"],
        kind=kind,
        snapshot_id=world[snapshot].pk,
        base_model_id=world["models"][base].pk,
    )


@pytest.mark.parametrize(("kind", "snapshot"), [("sft", "sft"), ("dpo", "pairwise")])
def test_a_language_model_run_cannot_start_from_a_reward_model(world, kind, snapshot):
    with pytest.raises(ServiceError) as info:
        _create(world, kind, snapshot, ModelKind.RM)
    (error,) = info.value.errors
    assert error.field == "base_model"
    assert "m-rm" in error.message and "reward model" in error.message and "pick a" in error.message
    assert not TrainingRun.objects.exists()


def test_a_reward_model_may_continue_from_a_reward_model_and_others_start_from_sft(world):
    assert _create(world, "rm", "pairwise", ModelKind.RM).base_model.kind == ModelKind.RM
    assert _create(world, "sft", "sft", ModelKind.SFT).kind == "sft"
    assert _create(world, "dpo", "pairwise", ModelKind.POLICY).kind == "dpo"


def test_the_refusal_reaches_the_form_as_a_field_error(world):
    client = APIClient()
    client.force_authenticate(world["admin"])
    body = {"kind": "sft", "snapshot": world["sft"].pk, "base_model": world["models"][ModelKind.RM].pk}
    response = client.post(f"/api/projects/{world['project'].pk}/runs/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "base_model"
    assert "reward model" in response.json()["errors"][0]["message"]


def test_run_options_list_base_kinds_best_first_and_typed_hyperparams_with_defaults(world):
    client = APIClient()
    client.force_authenticate(world["admin"])
    url = f"/api/projects/{world['project'].pk}/run-options/"
    options = {o["kind"]: o for o in client.get(url).json()}
    assert options["sft"]["base_model_kinds"][0] == "base" and "rm" not in options["sft"]["base_model_kinds"]
    assert options["dpo"]["base_model_kinds"][0] == "sft" and "rm" not in options["dpo"]["base_model_kinds"]
    assert options["rm"]["base_model_kinds"][0] == "sft" and "rm" in options["rm"]["base_model_kinds"]
    assert options["rm"]["snapshot_kinds"] == ["kwise", "pairwise"]
    for kind, config in (("rm", RMConfig), ("dpo", DPOConfig)):
        fields = {f["name"]: f for f in options[kind]["hyperparams"]}
        defaults = {f.name: f.default for f in dataclasses.fields(config)}
        assert all(f["default"] == defaults[name] for name, f in fields.items())
        assert "data" not in fields and "lora_merge" not in fields  # set by the run itself
    rm = {f["name"]: f for f in options["rm"]["hyperparams"]}
    assert rm["lr"]["type"] == "number" and rm["lr"]["common"] and rm["lr"]["default"] == 1e-5
    assert rm["freeze_layers"]["type"] == "integer" and rm["freeze_layers"]["help"].startswith(
        "If > 0, freeze"
    )
    assert rm["prefix_sharing"]["type"] == "boolean" and rm["prefix_sharing"]["default"] is True
    assert (
        rm["warmup_steps"]["nullable"]
        and rm["warmup_steps"]["default"] is None
        and not rm["warmup_steps"]["common"]
    )
    assert [f["name"] for f in options["rm"]["hyperparams"] if f["common"]][:3] == [
        "lr",
        "epochs",
        "max_steps",
    ]
    labeler = add_member(world["project"], Role.LABELER)
    client.force_authenticate(labeler)
    assert client.get(url).status_code == 403


def test_a_run_on_a_snapshot_without_validation_records_says_so(world):
    client = APIClient()
    client.force_authenticate(world["admin"])
    base = f"/api/projects/{world['project'].pk}/runs/"
    body = {"kind": "rm", "snapshot": world["pairwise"].pk, "base_model": world["models"][ModelKind.SFT].pk}
    created = client.post(base, body, format="json").json()
    (warning,) = created["warnings"]
    assert "v2 has no validation records" in warning and "without validation" in warning
    assert client.get(f"{base}{created['id']}/").json()["warnings"] == [warning]
    assert client.get(base).json()[0]["warnings"] == [warning]
    with_validation = _create(world, "sft", "sft", ModelKind.BASE)
    assert client.get(f"{base}{with_validation.pk}/").json()["warnings"] == []
