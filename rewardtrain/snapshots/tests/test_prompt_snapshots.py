"""The `prompts` snapshot: every prompt of the project as TRL's prompt-only conversational record, split by
prompt like the other kinds, loadable with Hugging Face `datasets` (what an RL run trains on)."""

import json

import pytest

from labeling.models import Prompt, PromptSource
from labeling.services.errors import ValidationFailed
from rewardtrain.pairs import split_of
from rewardtrain.snapshots.models import SnapshotKind, SnapshotStatus
from rewardtrain.snapshots.services import snapshot_build, snapshot_create, snapshot_dir
from rewardtrain.tests.helpers import ranking_project

pytestmark = pytest.mark.django_db


def _build(project, **settings):
    snapshot = snapshot_create(project=project, user=None, settings_data={"kind": "prompts", **settings})
    built = snapshot_build(snapshot_id=snapshot.pk)
    assert built.status == SnapshotStatus.READY, built.error
    return built


def _rows(snapshot, split):
    path = snapshot_dir(snapshot) / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def project():
    project, _ = ranking_project(12)
    # Prompts with no task, from the other sources, are exported too; another project's are not.
    Prompt.objects.create(
        project=project,
        external_id="written",
        source=PromptSource.LABELER,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "A prompt a labeler wrote."},
        ],
    )
    Prompt.objects.create(
        project=project,
        external_id="api",
        source=PromptSource.API,
        messages=[{"role": "user", "content": "From the API."}],
        metadata={"note": "not exported"},
    )
    ranking_project(2)
    return project


def test_every_prompt_of_the_project_once_split_by_prompt(project):
    snapshot = _build(project, validation_fraction=0.3, seed=3)
    train, validation = _rows(snapshot, "train"), _rows(snapshot, "validation")
    prompts = list(Prompt.objects.filter(project=project).order_by("id"))
    assert sorted(r["prompt_id"] for r in train + validation) == [p.pk for p in prompts]
    assert train and validation
    for split, rows in (("train", train), ("validation", validation)):
        assert all(split_of(r["prompt_id"], 3, 0.3) == split for r in rows)
        assert [r["prompt_id"] for r in rows] == sorted(r["prompt_id"] for r in rows)
    by_id = {r["prompt_id"]: r for r in train + validation}
    written = next(p for p in prompts if p.external_id == "written")
    assert by_id[written.pk] == {"prompt": written.messages, "prompt_id": written.pk}
    assert all(list(r) == ["prompt", "prompt_id"] for r in by_id.values())  # no metadata, no answers

    manifest = snapshot.manifest
    assert manifest["kind"] == SnapshotKind.PROMPTS
    assert manifest["splits"]["train"]["prompts"] == manifest["splits"]["train"]["records"] == len(train)
    assert manifest["records"] == len(prompts)
    assert manifest["schema"] == [
        {"name": "prompt", "type": "list<item: struct<role: string, content: string>>"},
        {"name": "prompt_id", "type": "int64"},
    ]
    assert {"train.jsonl", "train.parquet", "validation.jsonl", "validation.parquet"} == set(
        manifest["files"]
    )


def test_annotation_filters_are_refused_by_name(project):
    with pytest.raises(ValidationFailed) as caught:
        snapshot_create(
            project=project,
            user=None,
            settings_data={"kind": "prompts", "labelers": [1], "include_gold": True, "exclude_flags": ["x"]},
        )
    assert {e.field for e in caught.value.errors} == {"labelers", "include_gold", "exclude_flags"}
    assert "every prompt" in caught.value.errors[0].message
    # Their empty values (what a form sends) are accepted.
    assert _build(project, labelers=None, exclude_flags=[], include_gold=False).manifest["records"] == 14


@pytest.mark.parametrize("extension", ["jsonl", "parquet"])
def test_datasets_and_trl_read_it_as_prompt_only_conversations(project, extension, tmp_path):
    datasets = pytest.importorskip("datasets")
    snapshot = _build(project, validation_fraction=0.3)
    folder = snapshot_dir(snapshot)
    files = {s: str(folder / f"{s}.{extension}") for s in ("train", "validation")}
    ds = datasets.load_dataset(
        "json" if extension == "jsonl" else "parquet", data_files=files, cache_dir=str(tmp_path / "hf")
    )
    assert ds["train"].column_names == ["prompt", "prompt_id"]
    assert ds["train"].num_rows + ds["validation"].num_rows == 14
    row = ds["train"][0]
    assert row["prompt"][-1]["role"] == "user" and isinstance(row["prompt_id"], int)
    data_utils = pytest.importorskip("trl.data_utils")
    assert data_utils.is_conversational(row)
