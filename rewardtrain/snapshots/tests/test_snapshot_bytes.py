"""The column-wise pairwise build writes the same bytes as the record-at-a-time build it replaced
(`reference_pairwise.py`), on data with ties, flags, several labelers and guideline versions, a gold task, an
unrankable ranking, multi-message conversations and non-ASCII text, over both formats, both labeler modes and
the filters; with batches and row groups small enough that runs, batches and row groups all cut across each
other."""

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from labeling.models import Candidate, Prompt, Task
from labeling.tests.factories import add_member, import_prompt_tasks
from rewardtrain import records, writers
from rewardtrain.pairs import SPLITS
from rewardtrain.params import SnapshotParams
from rewardtrain.snapshots.services import snapshot_build, snapshot_create, snapshot_dir
from rewardtrain.snapshots.tests.reference_pairwise import ReferenceSplitWriter, write_reference_pairwise
from rewardtrain.tests.helpers import candidate_ids, demonstrate, rank, ranking_project

pytestmark = pytest.mark.django_db

DATA_FILES = ("train.jsonl", "train.parquet", "validation.jsonl", "validation.parquet")


@pytest.fixture
def varied(monkeypatch):
    monkeypatch.setattr(writers, "ROW_GROUP_ROWS", 7)
    monkeypatch.setattr(records, "BATCH_ROWS", 3)
    project, tasks = ranking_project(8)
    a, b, c = (add_member(project) for _ in range(3))
    ids = [candidate_ids(t) for t in tasks]
    # Non-ASCII, quotes, backslashes, newlines and a character JSON escapes; a two-turn conversation.
    Prompt.objects.filter(pk=tasks[1].prompt_id).update(
        messages=[{"role": "user", "content": 'Ünïcödé "quoted" \\ back\nslash ☃ 𝄞 \u2028'}]
    )
    Prompt.objects.filter(pk=tasks[2].prompt_id).update(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Explain 量子."},
        ]
    )
    Candidate.objects.filter(pk=ids[1][0]).update(text="Réponse «un» \t tab\u0001 😀")
    Candidate.objects.filter(pk=ids[1][2]).update(text="")
    for i, task in enumerate(tasks):
        strict = [[cid] for cid in ids[i]]
        rank(task, a, strict, flags={ids[i][1]: ["hallucination"]} if i % 3 == 0 else None)
        if i % 2 == 0:  # ties, and a second guideline version, later
            rank(
                task,
                b,
                [[ids[i][0]], [ids[i][1], ids[i][2]], [ids[i][3]]],
                version=2,
                at=datetime(2030, 1, 1, tzinfo=UTC),
            )
        if i % 4 == 0:  # disagrees with a: majority pairs need two of three
            rank(task, c, list(reversed(strict)), flags={ids[i][3]: ["unsafe", "hallucination"]})
    rank(tasks[5], b, [], unrankable=True)
    Task.objects.filter(pk=tasks[7].pk).update(is_gold=True, gold_answer=[[i] for i in ids[7]])
    return {"project": project, "a": a, "b": b, "c": c}


SETTINGS = [
    {},
    {"format": "standard"},
    {"labelers_mode": "majority"},
    {"format": "standard", "labelers_mode": "majority", "exclude_flags": ["hallucination"]},
    {
        "exclude_flags": ["hallucination", "unsafe"],
        "include_gold": True,
        "validation_fraction": 0.5,
        "seed": 3,
    },
    {"format": "standard", "guideline_versions": [2], "validation_fraction": 0.4},
    {"date_to": "2029-12-31", "validation_fraction": 0.5, "seed": 7},
    {"format": "standard", "labelers_mode": "majority", "include_gold": True, "validation_fraction": 0.5},
]


@pytest.mark.parametrize(
    "build_settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default"
)
def test_pairwise_files_are_byte_identical_to_the_record_at_a_time_build(
    varied, build_settings, tmp_path: Path
):
    snapshot = snapshot_build(
        snapshot_id=snapshot_create(
            project=varied["project"], user=None, settings_data={"kind": "pairwise", **build_settings}
        ).pk
    )
    assert snapshot.status == "ready", snapshot.error
    params = SnapshotParams.from_dict(snapshot.params)
    expected = tmp_path / "reference"
    expected.mkdir()
    reference = write_reference_pairwise(snapshot.project_id, params, expected)

    built = snapshot_dir(snapshot)
    for name in DATA_FILES:
        split = name.split(".")[0]
        if split != "train" and reference["splits"][split] == 0:  # an empty split is not stored
            assert not (built / name).exists() and name not in snapshot.manifest["files"]
            continue
        data = (built / name).read_bytes()
        assert data == (expected / name).read_bytes(), name
        assert snapshot.manifest["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert {s: snapshot.manifest["splits"][s]["records"] for s in reference["splits"]} == reference["splits"]
    assert snapshot.manifest["excluded"] == reference["excluded"]


def test_the_varied_data_exercise_what_they_should(varied, tmp_path: Path):
    """The data above reach every case: several row groups and both splits, ties, flagged pairs, the
    conversation template and the text that needs escaping."""
    project = varied["project"]
    params = SnapshotParams.from_dict(
        {"kind": "pairwise", "format": "standard", "validation_fraction": 0.5, "exclude_flags": ["unsafe"]}
    )
    reference = write_reference_pairwise(project.pk, params, tmp_path)
    assert all(n > writers.ROW_GROUP_ROWS for n in reference["splits"].values())
    assert reference["excluded"] == {"flagged_pairs": 3 * 2, "unrankable_rankings": 1}
    text = "".join((tmp_path / f"{s}.jsonl").read_text(encoding="utf-8") for s in ("train", "validation"))
    assert "### User:" in text and "Ünïcödé" in text and "😀" in text and "\\u0001" in text


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("kwise", {}), ("kwise", {"aggregate": True, "exclude_flags": ["unsafe"]}), ("sft", {})],
)
def test_record_at_a_time_kinds_are_written_as_before(varied, kind, extra, tmp_path: Path):
    """The writer's record path (kwise, sft) gives the bytes the old writer gave for the same records."""
    project = varied["project"]
    import_prompt_tasks(project, 4)
    for i, task in enumerate(project.tasks.filter(kind="demonstration").order_by("id")):
        demonstrate(task, varied["a"], f'Démonstration {i} ✓ "quoted"')
    params = SnapshotParams.from_dict({"kind": kind, "validation_fraction": 0.5, **extra})
    schema = writers.kwise_schema(params.aggregate) if kind == "kwise" else writers.sft_schema()
    source = records.kwise_records if kind == "kwise" else records.sft_records
    (tmp_path / "new").mkdir()
    (tmp_path / "old").mkdir()
    new = {s: writers.SplitWriter(tmp_path / "new", s, schema) for s in SPLITS}
    old = {s: ReferenceSplitWriter(tmp_path / "old", s, schema) for s in SPLITS}
    for split, record in source(project.pk, params, set(), records.Excluded()):
        new[split].write(record)
        old[split].write(record)
    counts = {s: (new[s].close()["records"], old[s].close()) for s in SPLITS}
    assert sum(n for n, _ in counts.values()) > 0 and all(n == m for n, m in counts.values())
    for name in DATA_FILES:
        assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "old" / name).read_bytes(), name
