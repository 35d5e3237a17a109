"""Human win rates between models ranked side by side, against values worked out by hand (ties, Wilson
intervals, the reward model's prediction), per round and guideline version, in a fixed number of queries."""

import math

import pytest
from rest_framework.test import APIClient

from labeling.models import Candidate, Role, Task
from labeling.tests.factories import add_member
from rewardtrain.runs.models import ModelKind
from rewardtrain.runs.tests.builders import at, generation, model, score
from rewardtrain.runs.win_rates import project_win_rates, sigmoid, wilson_interval
from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project

pytestmark = pytest.mark.django_db


def _written_by(task: Task, policy, sft) -> list[int]:
    """Answers 0 and 1 of the task by the policy, 2 and 3 by the SFT model (as a mixed generation job stores)."""
    ids = candidate_ids(task)
    for cid, m in zip(ids, [policy, policy, sft, sft], strict=True):
        Candidate.objects.filter(pk=cid).update(
            model_name=m.name, sampling={"model": m.pk, "truncated": False}
        )
    return ids


def _loop(n_tasks: int = 5):
    """Two models, two rounds (job 1: tasks 0, 1; job 2: tasks 2, 3), task 4 gold; three rankings that count."""
    project, tasks = ranking_project(n_tasks, k=4)
    labeler = add_member(project)
    sft = model(project, "sft", ModelKind.SFT, created=at(0))
    policy = model(project, "policy", ModelKind.POLICY, created=at(1))  # newer: model A
    for task in tasks:
        _written_by(task, policy, sft)
    generation(project, policy, tasks[:2], at(2))
    generation(project, policy, tasks[2:4], at(3))
    return project, tasks, labeler, sft, policy


def test_wilson_interval_by_hand():
    # p = 5/12, n = 12, z = 1.96: centre (p + z²/2n) / (1 + z²/n), half z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)
    z2 = 1.959963984540054**2
    p, n = 5 / 12, 12
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = math.sqrt(z2) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    assert wilson_interval(5, 12) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(5, 12) == pytest.approx((0.1933, 0.6805), abs=1e-4)
    assert wilson_interval(0, 4) == pytest.approx((0.0, 0.4899), abs=1e-4)  # never below 0
    assert wilson_interval(4, 4)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_win_rates_by_hand_with_ties_rounds_and_guideline_versions():
    project, tasks, labeler, sft, policy = _loop()
    a0, a1, b0, b1 = candidate_ids(tasks[0])  # a: policy, b: sft
    # Ranking 1 (v1): a0 > b0 > a1 > b1: (a0,b0) win, (a0,b1) win, (a1,b0) loss, (a1,b1) win.
    rank(tasks[0], labeler, [[a0], [b0], [a1], [b1]], version=1)
    c0, c1, d0, d1 = candidate_ids(tasks[1])
    # Ranking 2 (v1): {c0, d0} > {c1, d1}: (c0,d0) tie, (c0,d1) win, (c1,d0) loss, (c1,d1) tie.
    rank(tasks[1], labeler, [[c0, d0], [c1, d1]], version=1)
    e0, e1, f0, f1 = candidate_ids(tasks[2])
    # Ranking 3 (v2, round 2): the SFT answers both above: 4 losses.
    rank(tasks[2], labeler, [[f0], [f1], [e0], [e1]], version=2)
    rank(tasks[3], labeler, [], unrankable=True)  # no verdict: left out
    Task.objects.filter(pk=tasks[4].pk).update(is_gold=True)
    g = candidate_ids(tasks[4])
    rank(tasks[4], labeler, [[g[0]], [g[1]], [g[2]], [g[3]]])  # a gold task: left out
    # A reward model scored task 0 only; a newer one scored nothing, so the older one is chosen.
    rm = model(project, "rm-1", ModelKind.RM, created=at(4))
    rm2 = model(project, "rm-2", ModelKind.RM, created=at(5))
    score(rm, [a0, a1, b0, b1], [2.0, 0.0, 1.0, 0.0])

    report = project_win_rates(project.pk)

    assert report["reward_model"] == {"id": rm.pk, "name": "rm-1"}
    [pair] = report["overall"]
    assert pair["model_a"] == {"id": policy.pk, "name": "policy"}
    assert pair["model_b"] == {"id": sft.pk, "name": "sft"}
    # 4 wins, 2 ties, 6 losses over 3 rankings: (4 + 2/2) / 12.
    assert (pair["wins"], pair["ties"], pair["losses"], pair["comparisons"], pair["rankings"]) == (
        4,
        2,
        6,
        12,
        3,
    )
    assert pair["win_rate"] == pytest.approx(5 / 12)
    assert (pair["low"], pair["high"]) == pytest.approx((0.1933, 0.6805), abs=1e-4)
    # Predicted on ranking 1's four comparisons, the only scored ones: sigmoid of 2-1, 2-0, 0-1, 0-0.
    predicted = (sigmoid(1) + sigmoid(2) + sigmoid(-1) + sigmoid(0)) / 4
    assert predicted == pytest.approx((0.731059 + 0.880797 + 0.268941 + 0.5) / 4, abs=1e-6)
    assert pair["rm_win_rate"] == pytest.approx(predicted) and pair["rm_comparisons"] == 4

    v1, v2 = pair["by_guideline"]
    assert (v1["guideline_version"], v1["wins"], v1["ties"], v1["losses"], v1["rankings"]) == (1, 4, 2, 2, 2)
    assert v1["win_rate"] == pytest.approx(5 / 8) and v1["rm_win_rate"] == pytest.approx(predicted)
    assert (v2["guideline_version"], v2["comparisons"], v2["win_rate"]) == (2, 4, 0.0)
    assert (v2["low"], v2["high"]) == pytest.approx((0.0, 0.4899), abs=1e-4)
    assert v2["rm_win_rate"] is None and v2["rm_comparisons"] == 0

    first, second = report["rounds"]
    assert [p["comparisons"] for p in first["pairs"]] == [8] and first["pairs"][0][
        "win_rate"
    ] == pytest.approx(5 / 8)
    assert [p["comparisons"] for p in second["pairs"]] == [4] and second["pairs"][0]["win_rate"] == 0.0

    # Chosen by hand: the reward model that scored nothing predicts nothing, and says so.
    other = project_win_rates(project.pk, reward_model_id=rm2.pk)
    assert other["reward_model"]["name"] == "rm-2" and other["overall"][0]["rm_win_rate"] is None


def test_two_labelers_on_one_task_count_twice_and_same_model_pairs_never():
    project, tasks, labeler, *_ = _loop(2)
    a0, a1, b0, b1 = candidate_ids(tasks[0])
    rank(tasks[0], labeler, [[a0], [a1], [b0], [b1]])  # a0 > a1 is within one model: not a comparison
    rank(tasks[0], add_member(project), [[b0, b1, a0, a1]])  # all tied: 4 ties
    [pair] = project_win_rates(project.pk)["overall"]
    assert (pair["wins"], pair["ties"], pair["losses"], pair["rankings"]) == (4, 4, 0, 2)
    assert pair["win_rate"] == pytest.approx(6 / 8)


def test_a_fixed_number_of_queries_however_many_rankings(django_assert_max_num_queries):
    for n_tasks in (2, 12):
        project, tasks, labeler, *_ = _loop(n_tasks)
        for task in tasks:
            ids = candidate_ids(task)
            rank(task, labeler, [[i] for i in ids])
        with django_assert_max_num_queries(6):
            report = project_win_rates(project.pk)
        assert report["overall"][0]["rankings"] == n_tasks


def test_the_win_rate_endpoint_is_for_admins_and_names_a_bad_reward_model():
    project, tasks, labeler, *_ = _loop(2)
    a0, a1, b0, b1 = candidate_ids(tasks[0])
    rank(tasks[0], labeler, [[a0], [b0], [a1], [b1]])
    url = f"/api/projects/{project.pk}/win-rates/"
    client = APIClient()
    for role in (Role.LABELER, Role.REVIEWER):
        client.force_authenticate(add_member(project, role))
        assert client.get(url).status_code == 403
    client.force_authenticate(project.memberships.get(role=Role.ADMIN).user)
    body = client.get(url).json()
    assert body["overall"][0]["win_rate"] == pytest.approx(3 / 4) and body["reward_model"] is None
    refused = client.get(url + "?reward_model=999999")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "reward_model"
