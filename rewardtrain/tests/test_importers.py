import gzip
import json
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from labeling.models import Assignment, AssignmentStatus, Ranking, Task, TaskStatus
from labeling.services.errors import ValidationFailed
from labeling.tests.factories import make_project
from rewardtrain.formats.hh_rlhf import split_hh_record
from rewardtrain.importers.preferences import preferences_import
from rewardtrain.snapshots.services import snapshot_build, snapshot_create, snapshot_dir

pytestmark = pytest.mark.django_db

HH_TEST = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "datasets"
    / "hh-rlhf"
    / "harmless-base"
    / "test.jsonl.gz"
)


def jsonl(*objects) -> bytes:
    return "\n".join(json.dumps(o) for o in objects).encode()


def build(project, **settings):
    snapshot = snapshot_create(project=project, user=None, settings_data=settings)
    return snapshot_build(snapshot_id=snapshot.pk)


def exported(snapshot) -> list[dict]:
    with (snapshot_dir(snapshot) / "train.jsonl").open() as fh:
        return [json.loads(line) for line in fh]


@pytest.mark.skipif(not HH_TEST.is_file(), reason=f"the HH-RLHF test split is not at {HH_TEST}")
def test_hh_rlhf_round_trip():
    data = HH_TEST.read_bytes()
    originals = [json.loads(line) for line in gzip.decompress(data).decode().splitlines() if line.strip()]
    assert len(originals) == 2312
    project = make_project()
    started = time.perf_counter()
    result = preferences_import(project=project, data=data, fmt="hh")
    seconds = time.perf_counter() - started
    assert result.records == 2312 and result.rankings_created == 2312
    assert seconds < 30, f"import took {seconds:.1f}s"
    assert Ranking.objects.filter(task__project=project).count() == 2312
    assert all(
        len(t) == 2 and len(t[0]) == 1 and len(t[1]) == 1
        for t in Ranking.objects.values_list("tiers", flat=True)
    )
    user = get_user_model().objects.get(username="import:hh-rlhf")
    assert not user.is_active and not user.has_usable_password()
    assert not Task.objects.filter(project=project).exclude(status=TaskStatus.COMPLETE).exists()
    assert (
        not Assignment.objects.filter(task__project=project)
        .exclude(status=AssignmentStatus.SUBMITTED)
        .exists()
    )

    snapshot = build(project, kind="pairwise", format="conversational", validation_fraction=0)
    rows = exported(snapshot)
    assert len(rows) == 2312
    expected = sorted(
        (json.dumps(r.prompt), r.chosen, r.rejected)
        for r in (split_hh_record(o["chosen"], o["rejected"]) for o in originals)
    )
    got = sorted(
        (json.dumps(r["prompt"]), r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in rows
    )
    assert got == expected
    # Importing the same file again adds nothing.
    again = preferences_import(project=project, data=data, fmt="hh")
    assert again.unchanged == 2312 and again.rankings_created == 0


def test_trl_standard_and_conversational():
    project = make_project()
    data = jsonl(
        {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5"},
        {
            "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "chosen": [{"role": "assistant", "content": "Hello."}],
            "rejected": [{"role": "assistant", "content": "Go away."}],
        },
    )
    assert preferences_import(project=project, data=data, fmt="trl").rankings_created == 2
    rows = exported(build(project, kind="pairwise", format="standard", validation_fraction=0))
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows] == [
        ("What is 2+2?", "4", "5"),
        ("### System:\nBe brief.\n\n### User:\nHi\n\n### Assistant:\n", "Hello.", "Go away."),
    ]


def test_malformed_records_are_reported_by_line_and_nothing_is_written():
    project = make_project()
    data = b"\n".join(
        [
            json.dumps({"prompt": "ok", "chosen": "a", "rejected": "b"}).encode(),
            b"{not json",
            json.dumps({"prompt": "same", "chosen": "a", "rejected": "a"}).encode(),
            json.dumps(
                {"prompt": [{"role": "assistant", "content": "x"}], "chosen": "a", "rejected": "b"}
            ).encode(),
            json.dumps({"prompt": "p", "chosen": 3, "rejected": "b"}).encode(),
        ]
    )
    with pytest.raises(ValidationFailed) as caught:
        preferences_import(project=project, data=data, fmt="trl")
    assert sorted({e.line for e in caught.value.errors}) == [2, 3, 4, 5]
    assert not Ranking.objects.exists()
    with pytest.raises(ValidationFailed) as hh:
        preferences_import(project=project, data=jsonl({"chosen": "no markers", "rejected": "x"}), fmt="hh")
    assert hh.value.errors[0].line == 1


def _oasst_flat() -> list[dict]:
    return [
        {"message_id": "p1", "parent_id": None, "role": "prompter", "text": "Tell a joke", "rank": None},
        {"message_id": "a1", "parent_id": "p1", "role": "assistant", "text": "Joke B", "rank": 1},
        {"message_id": "a2", "parent_id": "p1", "role": "assistant", "text": "Joke A", "rank": 0},
        {"message_id": "a3", "parent_id": "p1", "role": "assistant", "text": "Joke C", "rank": 1},
        {"message_id": "p2", "parent_id": "a2", "role": "prompter", "text": "Another", "rank": 0},
        {"message_id": "a4", "parent_id": "p2", "role": "assistant", "text": "Only one", "rank": None},
    ]


def _tiers_as_texts(project) -> list[list[list[str]]]:
    from labeling.models import Candidate

    out = []
    for ranking in Ranking.objects.filter(task__project=project).order_by("id"):
        texts = dict(Candidate.objects.filter(prompt_id=ranking.task.prompt_id).values_list("id", "text"))
        out.append([[texts[c] for c in tier] for tier in ranking.tiers])
    return out


def test_oasst_flat_and_tree_formats():
    flat = make_project()
    result = preferences_import(project=flat, data=jsonl(*_oasst_flat()), fmt="oasst")
    assert result.rankings_created == 1  # p2 has a single, unranked reply
    assert _tiers_as_texts(flat) == [[["Joke A"], ["Joke B", "Joke C"]]]

    tree = {
        "message_tree_id": "p1",
        "prompt": {
            "message_id": "p1",
            "role": "prompter",
            "text": "Tell a joke",
            "replies": [
                {"message_id": "a1", "role": "assistant", "text": "Joke B", "rank": 1, "replies": []},
                {
                    "message_id": "a2",
                    "role": "assistant",
                    "text": "Joke A",
                    "rank": 0,
                    "replies": [
                        {
                            "message_id": "p2",
                            "role": "prompter",
                            "text": "Another",
                            "replies": [
                                {"message_id": "a5", "role": "assistant", "text": "Two", "rank": 1},
                                {"message_id": "a6", "role": "assistant", "text": "One", "rank": 0},
                            ],
                        }
                    ],
                },
            ],
        },
    }
    nested = make_project()
    assert preferences_import(project=nested, data=jsonl(tree), fmt="oasst").rankings_created == 2
    assert _tiers_as_texts(nested) == [[["Joke A"], ["Joke B"]], [["One"], ["Two"]]]
    prompts = sorted(len(r["prompt"]) for r in exported(build(nested, kind="kwise", validation_fraction=0)))
    assert prompts == [1, 3]  # the second ranking's conversation: prompt, Joke A, Another

    broken = _oasst_flat()
    broken[1]["parent_id"] = "missing"
    broken[3]["role"] = "robot"
    with pytest.raises(ValidationFailed) as caught:
        preferences_import(project=make_project(), data=jsonl(*broken), fmt="oasst")
    assert sorted(e.line for e in caught.value.errors) == [2, 4]


def test_management_command(tmp_path, capsys):
    project = make_project()
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(jsonl({"prompt": "q", "chosen": "good", "rejected": "bad"}))
    call_command("import_preferences", project.slug, str(path), "--format", "trl")
    assert "rankings_created=1" in capsys.readouterr().out
