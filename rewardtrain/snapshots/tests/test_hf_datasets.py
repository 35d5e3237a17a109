"""An exported pairwise snapshot loads with Hugging Face `datasets` in the shape TRL's trainers take."""

import pytest

from labeling.tests.factories import add_member
from rewardtrain.snapshots.services import snapshot_build, snapshot_create, snapshot_dir
from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project

datasets = pytest.importorskip("datasets")

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshots():
    project, tasks = ranking_project(20)
    labeler = add_member(project)
    for task in tasks:
        ids = candidate_ids(task)
        rank(task, labeler, [[ids[2]], [ids[0], ids[1]], [ids[3]]])
    built = {}
    for form in ("standard", "conversational"):
        created = snapshot_create(
            project=project,
            user=None,
            settings_data={"kind": "pairwise", "format": form, "validation_fraction": 0.2},
        )
        built[form] = snapshot_build(snapshot_id=created.pk)
    return built


def _load(kind: str, directory, cache):
    # `datasets` refuses an empty JSONL file, so a build stores no empty validation split.
    files = {
        split: str(directory / f"{split}.{kind}")
        for split in ("train", "validation")
        if (directory / f"{split}.jsonl").exists()
    }
    return datasets.load_dataset(
        "json" if kind == "jsonl" else "parquet", data_files=files, cache_dir=str(cache)
    )


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_standard_pairs_are_strings(snapshots, kind, tmp_path):
    ds = _load(kind, snapshot_dir(snapshots["standard"]), tmp_path / "hf")
    train = ds["train"]
    assert sum(split.num_rows for split in ds.values()) == 20 * 5 and train.num_rows
    for column in ("prompt", "chosen", "rejected"):
        assert train.features[column].dtype == "string"
    assert train.features["margin"].dtype in ("float64", "double")
    assert isinstance(train[0]["chosen"], str) and train[0]["prompt"].startswith("Question")


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_conversational_pairs_are_message_lists(snapshots, kind, tmp_path):
    ds = _load(kind, snapshot_dir(snapshots["conversational"]), tmp_path / "hf")
    row = ds["train"][0]
    for column in ("prompt", "chosen", "rejected"):
        value = row[column]
        assert isinstance(value, list) and all(set(m) == {"role", "content"} for m in value)
        assert all(isinstance(m["content"], str) for m in value)
    assert row["prompt"][-1]["role"] == "user"
    assert [m["role"] for m in row["chosen"]] == ["assistant"] and [m["role"] for m in row["rejected"]] == [
        "assistant"
    ]
    # TRL recognises conversational data by a list of {"role", "content"} dicts in the prompt.
    assert {"prompt_id", "chosen_id", "rejected_id", "labeler_id", "guideline_version"} <= set(
        ds["train"].column_names
    )


def test_trl_sees_the_formats_it_expects(snapshots, tmp_path):
    data_utils = pytest.importorskip("trl.data_utils")
    standard = _load("parquet", snapshot_dir(snapshots["standard"]), tmp_path / "hf")["train"][0]
    conversational = _load("jsonl", snapshot_dir(snapshots["conversational"]), tmp_path / "hf")["train"][0]
    assert not data_utils.is_conversational(standard)
    assert data_utils.is_conversational(conversational)
