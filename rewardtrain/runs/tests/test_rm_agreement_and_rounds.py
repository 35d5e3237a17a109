"""The reward model's agreement with new human rankings, and the rounds timeline, against hand-computed values."""

import pytest
from rest_framework.test import APIClient

from labeling.models import Role
from labeling.tests.factories import add_member
from rewardtrain.runs import rm_agreement
from rewardtrain.runs.models import ModelKind, RunKind
from rewardtrain.runs.rm_agreement import pairwise_agreement, project_rm_agreement
from rewardtrain.runs.rounds import project_rounds
from rewardtrain.runs.tests.builders import at, finished_run, model, score, snapshot, two_rounds
from rewardtrain.snapshots.models import SnapshotKind
from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project


def test_pairwise_agreement_by_hand():
    scores = {1: 3.0, 2: 2.0, 3: 1.0, 4: 0.0, 5: 0.0, 6: 1.0, 7: 1.0, 8: 2.0}
    # 5 pairs, all agree | 6 pairs: 0 + 0 + 0 + tie (0.5) + 0 + 0 | 1 pair with no score for 9
    result = pairwise_agreement([[[1], [2, 3], [4]], [[5], [6], [7], [8]], [[1], [9]]], scores)
    assert (result.pairs, result.rankings, result.unscored_pairs) == (11, 2, 1)
    assert result.accuracy == pytest.approx(5.5 / 11)
    assert pairwise_agreement([[[1, 2, 3]]], scores).accuracy is None  # all tied: no pair


@pytest.mark.django_db
def test_rm_agreement_counts_only_rankings_made_after_training(monkeypatch):
    project, tasks = ranking_project(4, k=4)
    labeler = add_member(project)
    base = model(project, "base", ModelKind.BASE)
    snap = snapshot(project, 1, SnapshotKind.KWISE, at(1))
    rm = model(project, "rm-run-1", ModelKind.RM, run=finished_run(project, RunKind.RM, snap, base, at(2)))
    a, b, c, d = candidate_ids(tasks[0])
    e, f, g, h = candidate_ids(tasks[1])
    score(rm, [a, b, c, d, e, f, g, h], [3.0, 2.0, 1.0, 0.0, 0.0, 1.0, 1.0, 2.0])
    rank(tasks[0], labeler, [[a], [b, c], [d]], at=at(3))  # 5 pairs, 5 agree
    rank(tasks[1], labeler, [[e], [f], [g], [h]], at=at(3))  # 6 pairs, 0.5 agree (f, g tied in score)
    rank(tasks[2], labeler, [[x] for x in candidate_ids(tasks[2])], at=at(3))  # 6 pairs, no scores
    rank(tasks[3], labeler, [], unrankable=True, at=at(3))  # no pairs
    other = add_member(project)
    rank(tasks[0], other, [[d], [c], [b], [a]], at=at(1.5))  # before training: not counted

    result = project_rm_agreement(project.pk)[0]
    assert result["reward_model"] == {"id": rm.pk, "name": "rm-run-1"} and result["since"] == at(2)
    assert result["accuracy"] == pytest.approx(0.5)
    assert (result["pairs"], result["rankings"], result["unscored_pairs"]) == (11, 2, 6)
    assert (result["new_rankings"], result["rankings_before"]) == (3, 1)
    assert result["retrain"] is False and result["reasons"] == []

    # With lower thresholds both reasons to retrain show up.
    monkeypatch.setattr(rm_agreement, "MIN_PAIRS_FOR_ACCURACY", 10)
    monkeypatch.setattr(rm_agreement, "RETRAIN_NEW_RANKINGS", 3)
    result = project_rm_agreement(project.pk)[0]
    assert result["retrain"] is True and len(result["reasons"]) == 2
    assert "50% of 11" in result["reasons"][0] and "3 rankings arrived" in result["reasons"][1]


@pytest.mark.django_db
def test_rounds_timeline():
    """Round 1: sft-run-1 samples 3 tasks, 2 get ranked, snapshot v2 -> rm-run-2. Round 2: rm-run-2 judges it."""
    project, tasks = ranking_project(5, k=4)
    loop = two_rounds(project, tasks, add_member(project))
    sft_run, job1, job2 = loop["sft_run"], loop["jobs"][0], loop["jobs"][1]

    rounds = project_rounds(project.pk)
    assert [r["number"] for r in rounds] == [1, 2]
    first, second = rounds
    assert first["sampling"]["model"]["name"] == "sft-run-1"
    assert first["sampling"]["run"]["id"] == sft_run.pk and first["sampling"]["snapshot"]["version"] == 1
    assert first["generation_job"]["id"] == job1.pk
    assert (first["tasks"], first["ranked_tasks"], first["rankings"]) == (3, 2, 2)
    assert [s["version"] for s in first["snapshots"]] == [2]
    runs = first["snapshots"][0]["runs"]
    assert [(r["kind"], r["model"]["name"]) for r in runs] == [("rm", "rm-run-2"), ("dpo", "dpo-run-3")]
    assert first["reward_model"] is None  # no reward model existed when round 1 was ranked

    assert second["generation_job"]["id"] == job2.pk
    assert (second["tasks"], second["ranked_tasks"], second["rankings"]) == (2, 1, 1)
    assert second["snapshots"] == []
    assert second["reward_model"]["name"] == "rm-run-2"
    assert second["reward_model"]["accuracy"] == pytest.approx(5 / 6) and second["reward_model"]["pairs"] == 6

    reviewer = add_member(project, Role.REVIEWER)
    client = APIClient()
    client.force_authenticate(reviewer)
    body = client.get(f"/api/projects/{project.pk}/rounds/").json()
    assert [r["number"] for r in body["rounds"]] == [1, 2]
