"""RL as a run kind: a prompts snapshot of the project, a policy optimised against a registered reward model (one
trained on the planted "apple" preference), created through the API, executed, cancelled and resumed by the same
machinery as the other runs; the policy is registered with its lineage and samples a generation job."""

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from labeling.services.errors import ServiceError
from rewardtrain.generation import services as generation
from rewardtrain.generation.tests.helpers import project_with_prompts, register
from rewardtrain.jobs import HEARTBEAT_STALE
from rewardtrain.runs import services
from rewardtrain.runs.models import ModelKind, ModelSource, RegisteredModel, RunMetric, RunStatus, TrainingRun
from rewardtrain.snapshots.models import SnapshotStatus
from rewardtrain.snapshots.services import snapshot_build, snapshot_create
from rewardtrain.tests.helpers import both_splits_seed, store_snapshot_files
from rewardtrain.training.config import RMConfig
from rewardtrain.training.tests.helpers import CORPUS, planted_kwise_records, write_jsonl
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

pytestmark = pytest.mark.django_db
FAST = {"max_new_tokens": 8, "batch_size": 4, "samples_per_prompt": 2, "lr": 3e-3, "forward_batch_size": 8}


@pytest.fixture(scope="session")
def tiny_sft(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rl_sft")
    build_tiny_model_and_tokenizer(path, corpus=CORPUS)
    return path


@pytest.fixture(scope="session")
def planted_rm(tiny_sft: Path, tmp_path_factory) -> Path:
    """A reward model that prefers answers mentioning "apple" (trained on the planted rankings)."""
    from rewardtrain.training import train_rm

    root = tmp_path_factory.mktemp("rl_planted_rm")
    write_jsonl(root / "train.jsonl", planted_kwise_records(96, seed=1))
    config = RMConfig(
        data=str(root / "train.jsonl"),
        model=str(tiny_sft),
        out=str(root / "rm"),
        epochs=3,
        batch_size=4,
        lr=2e-3,
    )
    train_rm(config)
    return root / "rm"


@pytest.fixture
def world(settings, tmp_path, tiny_sft, planted_rm):
    settings.MEDIA_ROOT = tmp_path / "media"
    project, admin = project_with_prompts(12)
    created = snapshot_create(
        project=project,
        user=admin,
        settings_data={
            "kind": "prompts",
            "validation_fraction": 0.25,
            "seed": both_splits_seed(project, 0.25),
        },
    )
    snapshot = snapshot_build(snapshot_id=created.pk)
    assert snapshot.status == SnapshotStatus.READY, snapshot.error
    sft = register(project, admin, tiny_sft, kind=ModelKind.SFT, name="sft")
    rm = register(project, admin, planted_rm, kind=ModelKind.RM, name="planted-rm")
    return {"project": project, "admin": admin, "snapshot": snapshot, "sft": sft, "rm": rm}


def _rl(world, reward_model=None, **hyperparams) -> TrainingRun:
    return services.training_run_create(
        project=world["project"],
        user=world["admin"],
        kind="rl",
        snapshot_id=world["snapshot"].pk,
        base_model_id=world["sft"].pk,
        reward_model_id=(reward_model or world["rm"]).pk,
        hyperparams={**FAST, **hyperparams},
    )


def _client(world) -> APIClient:
    client = APIClient()
    client.force_authenticate(world["admin"])
    return client


def test_rl_run_records_reward_kl_and_samples_then_its_policy_samples_a_generation_job(world):
    client, project = _client(world), world["project"]
    created = client.post(
        f"/api/projects/{project.pk}/runs/",
        {
            "kind": "rl",
            "snapshot": world["snapshot"].pk,
            "base_model": world["sft"].pk,
            "reward_model": world["rm"].pk,
            "hyperparams": {**FAST, "max_steps": 4, "eval_every": 2, "sample_every": 2, "kl_target": 2.0},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["reward_model"] == world["rm"].pk
    run_id = created.json()["id"]
    done = services.training_run_execute(run_id=run_id, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.step == 4

    steps = RunMetric.objects.filter(run_id=run_id, kind="step").order_by("step")
    assert [m.step for m in steps] == [1, 2, 3, 4]
    for key in ("reward", "kl", "answer_length", "entropy", "clip_frac", "kl_coef", "samples_per_s"):
        assert all(isinstance(m.values[key], float) for m in steps), key
    assert steps[0].values["kl"] == pytest.approx(0.0, abs=1e-6)  # sampled from the reference itself
    evals = RunMetric.objects.filter(run_id=run_id, kind="eval").order_by("step")
    assert [m.step for m in evals] == [0, 2] and "val_reward" in evals[0].values
    assert {"val_reward", "val_kl", "val_answer_length", "train_reward"} <= set(done.final_metrics)

    detail = client.get(f"/api/projects/{project.pk}/runs/{run_id}/").json()
    assert {m["kind"] for m in detail["metrics"]} == {"start", "eval", "step", "end"}  # no answer tables
    tables = client.get(f"/api/projects/{project.pk}/runs/{run_id}/samples/").json()
    assert [t["step"] for t in tables] == [2, 4]
    row = tables[0]["rows"][0]
    assert {"prompt", "answer", "reward", "kl", "length", "ended", "prompt_id"} <= set(row)
    assert row["prompt"].startswith("user: count") and isinstance(row["reward"], float)
    newer = client.get(f"/api/projects/{project.pk}/runs/{run_id}/samples/?after={tables[0]['id']}").json()
    assert [t["step"] for t in newer] == [4]

    policy = RegisteredModel.objects.get(produced_by_id=run_id)
    assert policy.kind == ModelKind.POLICY and policy.name == f"rl-run-{run_id}"
    assert policy.source == ModelSource.RUN
    lineage = client.get(f"/api/projects/{project.pk}/runs/{run_id}/lineage/").json()
    assert lineage["model"]["name"] == policy.name and lineage["base_model"]["name"] == "sft"
    assert lineage["reward_model"] == {"id": world["rm"].pk, "name": "planted-rm", "path": world["rm"].path}
    assert lineage["snapshot"]["kind"] == "prompts"

    job = generation.generation_job_create(
        project=project,
        user=world["admin"],
        model_id=policy.pk,
        prompts="no_ranking_task",
        limit=2,
        settings={"max_new_tokens": 6, "seed": 1, "batch_size": 2},
    )
    sampled = generation.generation_job_execute(job_id=job.pk, worker="test")
    assert sampled.status == RunStatus.SUCCEEDED, sampled.error
    assert sampled.prompts_done == 2
    assert project.tasks.filter(kind="ranking").count() == 2


def test_a_cancelled_rl_run_resumes_from_its_checkpoint(world, monkeypatch):
    run = _rl(world, max_steps=4, sample_every=1, eval_every=0)
    original = services._Recorder.__call__

    def cancel_at_step_two(self, event):
        original(self, event)
        if event.kind == "step" and event.step == 2:
            TrainingRun.objects.filter(pk=self.run.pk).update(cancel_requested=True)

    monkeypatch.setattr(services._Recorder, "__call__", cancel_at_step_two)
    done = services.training_run_execute(run_id=run.pk, worker="a")
    assert done.status == RunStatus.CANCELLED and done.step == 2  # stopped within one step
    assert not RegisteredModel.objects.filter(produced_by=run).exists()
    monkeypatch.setattr(services._Recorder, "__call__", original)

    # As if the worker had died after that checkpoint: the row is running with a stale heartbeat.
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, cancel_requested=False, heartbeat_at=run.created_at - HEARTBEAT_STALE
    )
    done = services.training_run_execute(run_id=run.pk, worker="b")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.attempts == 2 and done.step == 4
    starts = RunMetric.objects.filter(run=run, kind="start").values_list("step", flat=True)
    assert list(starts) == [0, 2]
    tables = RunMetric.objects.filter(run=run, kind="samples").values_list("step", flat=True)
    assert sorted(tables) == [1, 2, 3, 4]  # one table a step, none twice
    assert RegisteredModel.objects.get(produced_by=run).kind == ModelKind.POLICY


def test_a_reward_model_produced_by_a_run_is_staged_from_the_store(world, tmp_path):
    """The reward model is located like any registered model: here the stored output of an RM run."""
    project, admin = world["project"], world["admin"]
    kwise = snapshot_create(project=project, user=admin, settings_data={"kind": "kwise"})
    kwise.status = SnapshotStatus.READY
    kwise.save(update_fields=["status"])
    folder = tmp_path / "kwise"
    write_jsonl(folder / "train.jsonl", planted_kwise_records(8, seed=3))
    store_snapshot_files(kwise, folder)
    rm_run = services.training_run_create(
        project=project,
        user=admin,
        kind="rm",
        snapshot_id=kwise.pk,
        base_model_id=world["sft"].pk,
        hyperparams={"max_steps": 1, "batch_size": 2},
    )
    assert services.training_run_execute(run_id=rm_run.pk, worker="test").status == RunStatus.SUCCEEDED
    stored_rm = RegisteredModel.objects.get(produced_by=rm_run)
    assert stored_rm.source == ModelSource.RUN and stored_rm.kind == ModelKind.RM
    done = services.training_run_execute(run_id=_rl(world, stored_rm, max_steps=1).pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error


def test_rl_requests_are_checked_and_the_form_is_told_what_to_offer(world):
    project, admin = world["project"], world["admin"]

    def refused(**kwargs) -> dict[str, str]:
        args = {
            "project": project,
            "user": admin,
            "kind": "rl",
            "snapshot_id": world["snapshot"].pk,
            "base_model_id": world["sft"].pk,
            "reward_model_id": world["rm"].pk,
        }
        with pytest.raises(ServiceError) as info:
            services.training_run_create(**{**args, **kwargs})
        return {e.field: e.message for e in info.value.errors}

    assert "pick one" in refused(reward_model_id=None)["reward_model"]
    not_rm = refused(reward_model_id=world["sft"].pk)["reward_model"]
    assert "'sft'" in not_rm and "not a reward model" in not_rm
    other_project, _ = project_with_prompts(1)
    foreign = RegisteredModel.objects.create(project=other_project, name="x", kind=ModelKind.RM, path="org/x")
    assert "no registered model" in refused(reward_model_id=foreign.pk)["reward_model"]
    assert "reward model" in refused(base_model_id=world["rm"].pk)["base_model"]  # no policy from an RM
    errors = refused(hyperparams={"lora_r": 4, "gradient_checkpointing": True, "samples_per_prompt": 1})
    assert set(errors) == {"lora_r", "gradient_checkpointing", "samples_per_prompt"}
    assert "unknown" in refused(hyperparams={"reward_model": "/etc"})["reward_model"]  # never a typed path
    dpo = refused(kind="dpo", reward_model_id=world["rm"].pk)
    assert set(dpo) == {"snapshot", "reward_model"} and "only an RL run" in dpo["reward_model"]

    options = _client(world).get(f"/api/projects/{project.pk}/run-options/").json()
    rl = next(o for o in options if o["kind"] == "rl")
    assert rl["label"] == "RL policy (RLOO/GRPO)" and rl["snapshot_kinds"] == ["prompts"]
    assert rl["base_model_kinds"] == ["sft", "policy", "base"] and rl["reward_model_kinds"] == ["rm"]
    fields = {f["name"]: f for f in rl["hyperparams"]}
    assert "reward_model" not in fields and "ref_model" not in fields
    assert fields["kl_coef"]["default"] == 0.05 and fields["kl_coef"]["common"]
    assert fields["sample_every"]["default"] == 10  # the app's default: answers are shown
    assert "k - 1" in fields["samples_per_prompt"]["help"]
    assert not fields["lora_r"]["common"]
    assert all(o["reward_model_kinds"] == [] for o in options if o["kind"] != "rl")


@pytest.mark.slow
def test_an_rl_run_on_two_processes_trains_under_torchrun(world, settings, monkeypatch):
    """Two CPU ranks over gloo, as a worker told it has 2 GPUs: the same events reach the run's rows."""
    settings.ANNOTATE_WORKER_GPUS = 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run = services.training_run_create(
        project=world["project"],
        user=world["admin"],
        kind="rl",
        snapshot_id=world["snapshot"].pk,
        base_model_id=world["sft"].pk,
        reward_model_id=world["rm"].pk,
        hyperparams={**FAST, "max_steps": 2, "batch_size": 2, "sample_every": 1, "bf16": False},
        gpus=2,
    )
    done = services.training_run_execute(run_id=run.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    start = RunMetric.objects.get(run=run, kind="start").values
    assert start["world_size"] == 2 and start["samples_per_step"] == 2 * 2 * 2
    assert list(RunMetric.objects.filter(run=run, kind="samples").values_list("step", flat=True)) == [1, 2]
    assert RegisteredModel.objects.get(produced_by=run).kind == ModelKind.POLICY
