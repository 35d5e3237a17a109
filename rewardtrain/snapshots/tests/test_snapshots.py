import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from annotate.celery import app
from labeling.models import Task
from labeling.services.errors import ValidationFailed
from labeling.tests.factories import add_member, make_user
from rewardtrain.snapshots.models import SnapshotStatus
from rewardtrain.snapshots.services import snapshot_build, snapshot_create, snapshot_dir
from rewardtrain.tests.helpers import (
    candidate_ids,
    demonstrate,
    demonstration_project,
    rank,
    ranking_project,
)

pytestmark = pytest.mark.django_db


def build(project, **settings):
    snapshot = snapshot_create(project=project, user=None, settings_data=settings)
    assert snapshot.status == SnapshotStatus.QUEUED
    built = snapshot_build(snapshot_id=snapshot.pk)
    assert built.status == SnapshotStatus.READY, built.error
    return built


def records(snapshot, split: str | None = None) -> list[dict]:
    splits = [split] if split else ["train", "validation"]
    out = []
    for name in splits:
        if not snapshot.manifest["splits"][name]["records"]:
            continue  # an empty split is not stored
        with (snapshot_dir(snapshot) / f"{name}.jsonl").open() as fh:
            out += [json.loads(line) for line in fh]
    return out


@pytest.fixture
def world():
    project, tasks = ranking_project(4)
    a, b = add_member(project), add_member(project)
    ids = [candidate_ids(t) for t in tasks]
    # Task 0: a ranks answers 0 > 1 > 2 > 3 strictly, b ties 1 and 2.
    rank(tasks[0], a, [[ids[0][0]], [ids[0][1]], [ids[0][2]], [ids[0][3]]])
    rank(tasks[0], b, [[ids[0][0]], [ids[0][1], ids[0][2]], [ids[0][3]]])
    return {"project": project, "tasks": tasks, "ids": ids, "a": a, "b": b}


def test_pairwise_records_are_exactly_the_cross_tier_pairs(world):
    project, ids, a, b = world["project"], world["ids"][0], world["a"], world["b"]
    snapshot = build(project, kind="pairwise", validation_fraction=0)
    rows = records(snapshot, "train")
    assert len(rows) == 6 + 5
    first = rows[0]
    assert first == {
        "prompt": [{"role": "user", "content": "Question 0?"}],
        "chosen": [{"role": "assistant", "content": "answer 0.0"}],
        "rejected": [{"role": "assistant", "content": "answer 0.1"}],
        "margin": 1.0,
        "prompt_id": world["tasks"][0].prompt_id,
        "task_id": world["tasks"][0].pk,
        "chosen_id": ids[0],
        "rejected_id": ids[1],
        "ranking_id": first["ranking_id"],
        "labeler_id": a.pk,
        "guideline_version": 1,
    }
    a_pairs = [(r["chosen_id"], r["rejected_id"], r["margin"]) for r in rows if r["labeler_id"] == a.pk]
    assert a_pairs == [
        (ids[0], ids[1], 1),
        (ids[0], ids[2], 2),
        (ids[0], ids[3], 3),
        (ids[1], ids[2], 1),
        (ids[1], ids[3], 2),
        (ids[2], ids[3], 1),
    ]
    b_pairs = [(r["chosen_id"], r["rejected_id"], r["margin"]) for r in rows if r["labeler_id"] == b.pk]
    assert b_pairs == [
        (ids[0], ids[1], 1),
        (ids[0], ids[2], 1),
        (ids[0], ids[3], 2),
        (ids[1], ids[3], 1),
        (ids[2], ids[3], 1),
    ]
    manifest = snapshot.manifest
    assert manifest["splits"]["train"]["records"] == 11 and manifest["splits"]["validation"]["records"] == 0
    # The empty validation split is not stored: `datasets.load_dataset` fails on an empty JSONL file.
    assert set(manifest["files"]) == {"train.jsonl", "train.parquet"}
    assert not (snapshot_dir(snapshot) / "validation.jsonl").exists()
    assert {f["name"] for f in manifest["schema"]} >= {"prompt", "chosen", "rejected", "margin", "labeler_id"}
    on_disk = json.loads((snapshot_dir(snapshot) / "manifest.json").read_text())
    assert on_disk["files"] == manifest["files"]
    table = pq.read_table(snapshot_dir(snapshot) / "train.parquet")
    assert table.num_rows == 11 and table.to_pylist() == rows


def test_standard_format_gives_strings_and_majority_keeps_agreed_pairs(world):
    project, ids = world["project"], world["ids"][0]
    rows = records(build(project, kind="pairwise", format="standard", labelers_mode="majority"))
    assert all(isinstance(r[k], str) for r in rows for k in ("prompt", "chosen", "rejected"))
    # Both labelers agree on every pair but (1, 2), which b ties: 5 majority pairs.
    assert sorted((r["chosen_id"], r["rejected_id"]) for r in rows) == sorted(
        [(ids[0], ids[1]), (ids[0], ids[2]), (ids[0], ids[3]), (ids[1], ids[3]), (ids[2], ids[3])]
    )
    by_pair = {(r["chosen_id"], r["rejected_id"]): r for r in rows}
    assert by_pair[(ids[0], ids[3])]["margin"] == 2.5 and by_pair[(ids[0], ids[3])]["votes"] == 2
    assert rows[0]["prompt"] == "Question 0?" and rows[0]["chosen"] == "answer 0.0"


def test_split_never_puts_a_prompt_on_both_sides():
    project, tasks = ranking_project(40)
    labelers = [add_member(project) for _ in range(2)]
    for task in tasks:
        ids = candidate_ids(task)
        for labeler in labelers:
            rank(task, labeler, [[i] for i in ids])
    snapshot = build(project, kind="pairwise", validation_fraction=0.3, seed=5)
    train = {r["prompt_id"] for r in records(snapshot, "train")}
    validation = {r["prompt_id"] for r in records(snapshot, "validation")}
    assert train and validation and not train & validation
    assert len(train) + len(validation) == 40
    assert snapshot.manifest["splits"]["validation"]["prompts"] == len(validation)
    other = build(project, kind="pairwise", validation_fraction=0.3, seed=6)
    assert {r["prompt_id"] for r in records(other, "validation")} != validation


def test_two_builds_are_byte_identical(world):
    project = world["project"]
    for task, ids in zip(world["tasks"][1:], world["ids"][1:], strict=True):
        rank(task, world["a"], [[ids[3]], [ids[0], ids[1]], [ids[2]]], flags={ids[2]: ["hallucination"]})
    for kind, extra in (("pairwise", {}), ("kwise", {}), ("pairwise", {"format": "standard"})):
        first = build(project, kind=kind, validation_fraction=0.5, **extra)
        second = build(project, kind=kind, validation_fraction=0.5, **extra)
        assert first.version != second.version
        assert first.manifest["files"] == second.manifest["files"]
        for name in first.manifest["files"]:
            assert (snapshot_dir(first) / name).read_bytes() == (snapshot_dir(second) / name).read_bytes()


def test_filters_do_what_they_say(world):
    project, tasks, ids, a, b = (world[k] for k in ("project", "tasks", "ids", "a", "b"))
    c = add_member(project)
    # c ranks task 0 the other way round (disagrees with a and b) under guideline v2, later, flagging answer 3.
    rank(
        tasks[0],
        c,
        [[ids[0][3]], [ids[0][2]], [ids[0][1]], [ids[0][0]]],
        version=2,
        flags={ids[0][3]: ["hallucination"]},
        at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    rank(tasks[1], a, [], unrankable=True)
    Task.objects.filter(pk=tasks[2].pk).update(is_gold=True, gold_answer=[[i] for i in ids[2]])
    rank(tasks[2], b, [[i] for i in ids[2]])

    def labelers(snapshot):
        return sorted({r["labeler_id"] for r in records(snapshot)})

    everything = build(project, kind="pairwise")
    assert labelers(everything) == sorted([a.pk, b.pk, c.pk])
    assert everything.manifest["excluded"]["unrankable_rankings"] == 1
    assert not {r["task_id"] for r in records(everything)} & {tasks[2].pk}  # gold out by default
    with_gold = build(project, kind="pairwise", include_gold=True)
    assert tasks[2].pk in {r["task_id"] for r in records(with_gold)}

    assert labelers(build(project, kind="pairwise", guideline_versions=[2])) == [c.pk]
    assert labelers(build(project, kind="pairwise", labelers=[a.pk])) == [a.pk]
    assert labelers(build(project, kind="pairwise", date_from="2029-12-31")) == [c.pk]
    assert labelers(build(project, kind="pairwise", date_to="2029-12-31")) == sorted([a.pk, b.pk])

    flagged = build(project, kind="pairwise", labelers=[c.pk], exclude_flags=["hallucination"])
    assert all(r["chosen_id"] != ids[0][3] for r in records(flagged))
    assert len(records(flagged)) == 3 and flagged.manifest["excluded"]["flagged_pairs"] == 3

    # Agreement: a-b 5/6, a-c 0/6, b-c 0/6 (c reverses a strict order; b's tie disagrees with c's order).
    agreed = build(project, kind="pairwise", min_agreement=0.3)
    assert labelers(agreed) == sorted([a.pk, b.pk])
    assert [row["user_id"] for row in agreed.manifest["excluded_labelers"]] == [c.pk]
    gold_ok = build(project, kind="pairwise", min_gold_accuracy=0.9, include_gold=True)
    assert b.pk in labelers(gold_ok)  # b is right on gold; a and c have no gold figure and are kept
    rank(tasks[2], a, [[i] for i in reversed(ids[2])])
    assert a.pk not in labelers(build(project, kind="pairwise", min_gold_accuracy=0.5))


def test_kwise_raw_and_aggregated(world):
    project, ids, a = world["project"], world["ids"][0], world["a"]
    raw = records(build(project, kind="kwise", validation_fraction=0))
    assert len(raw) == 2
    assert raw[0]["candidates"] == [
        {"id": ids[0], "text": "answer 0.0", "tier": 0},
        {"id": ids[1], "text": "answer 0.1", "tier": 1},
        {"id": ids[2], "text": "answer 0.2", "tier": 2},
        {"id": ids[3], "text": "answer 0.3", "tier": 3},
    ]
    assert raw[0]["labeler_id"] == a.pk and raw[0]["prompt"] == [{"role": "user", "content": "Question 0?"}]
    assert [c["tier"] for c in raw[1]["candidates"]] == [0, 1, 1, 2]
    aggregated = records(build(project, kind="kwise", aggregate=True, validation_fraction=0))
    assert len(aggregated) == 1 and aggregated[0]["labelers"] == 2
    # Mean positions: 0, 1, 1.5, 2.5 (b's tiers 0, 1, 1, 2 against a's 0, 1, 2, 3).
    assert [(c["id"], c["tier"]) for c in aggregated[0]["candidates"]] == [
        (ids[0], 0),
        (ids[1], 1),
        (ids[2], 2),
        (ids[3], 3),
    ]


def test_sft_counts_accepted_and_pending_but_never_rejected():
    project, tasks = demonstration_project(3)
    labeler = add_member(project)
    demonstrate(tasks[0], labeler, "Accepted answer.", "accepted")
    demonstrate(tasks[1], labeler, "Pending answer.", "pending")
    demonstrate(tasks[2], labeler, "Rejected answer.", "rejected")
    snapshot = build(project, kind="sft", validation_fraction=0)
    rows = records(snapshot)
    assert [r["messages"][-1]["content"] for r in rows] == ["Accepted answer.", "Pending answer."]
    assert rows[0]["messages"] == [
        {"role": "user", "content": "Write about 0."},
        {"role": "assistant", "content": "Accepted answer."},
    ]
    assert snapshot.manifest["excluded"]["rejected_demonstrations"] == 1
    only_accepted = records(build(project, kind="sft", sft_statuses=["accepted"]))
    assert [r["review_status"] for r in only_accepted] == ["accepted"]


def test_bad_settings_are_named(world):
    with pytest.raises(ValidationFailed) as caught:
        snapshot_create(
            project=world["project"],
            user=make_user(),
            settings_data={"kind": "triples", "min_agreement": 2, "date_from": "soon", "colour": "red"},
        )
    fields = {e.field for e in caught.value.errors}
    assert fields == {"kind", "min_agreement", "date_from", "colour"}


def test_a_failed_build_says_why_and_leaves_no_files(world, monkeypatch):
    from rewardtrain.snapshots import services as snapshots

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")
        yield

    monkeypatch.setitem(snapshots._SOURCES, "pairwise", boom)
    snapshot = snapshot_create(project=world["project"], user=None, settings_data={"kind": "pairwise"})
    failed = snapshot_build(snapshot_id=snapshot.pk)
    assert failed.status == SnapshotStatus.FAILED and "disk on fire" in failed.error
    assert not snapshot_dir(failed).exists()
    assert not list(Path(snapshot_dir(failed)).parent.glob("*"))
    assert snapshot_build(snapshot_id=snapshot.pk) is None  # only queued snapshots are built


def test_the_build_task_runs_on_the_default_queue(world, eager_celery, django_capture_on_commit_callbacks):
    assert app.amqp.router.route({}, "rewardtrain.tasks.snapshot_build")["queue"].name == "default"
    with django_capture_on_commit_callbacks(execute=True):
        snapshot = snapshot_create(project=world["project"], user=None, settings_data={"kind": "kwise"})
    snapshot.refresh_from_db()
    assert snapshot.status == SnapshotStatus.READY


def test_sparse_tasks_are_read_by_id():
    project, tasks = ranking_project(10)
    labeler = add_member(project)
    for task in (tasks[0], tasks[9]):
        rank(task, labeler, [[i] for i in candidate_ids(task)])
    rows = records(build(project, kind="pairwise", format="standard"))
    assert len(rows) == 12
    assert {r["prompt"] for r in rows} == {"Question 0?", "Question 9?"}
    assert all(r["chosen"].startswith(r["prompt"].replace("Question ", "answer ")[:-1]) for r in rows)


def test_a_stale_build_is_taken_over(world):
    from datetime import timedelta

    from django.utils import timezone

    from rewardtrain.snapshots.models import Snapshot

    snapshot = snapshot_create(project=world["project"], user=None, settings_data={"kind": "pairwise"})
    Snapshot.objects.filter(pk=snapshot.pk).update(status=SnapshotStatus.BUILDING, started_at=timezone.now())
    assert snapshot_build(snapshot_id=snapshot.pk) is None  # a live build is left alone
    Snapshot.objects.filter(pk=snapshot.pk).update(started_at=timezone.now() - timedelta(hours=3))
    assert snapshot_build(snapshot_id=snapshot.pk).status == SnapshotStatus.READY
