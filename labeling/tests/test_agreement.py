import math
import random
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient
from scipy.stats import kendalltau

from labeling.models import Role
from labeling.services.agreement import (
    RankingRow,
    agreement_report,
    agreement_summary,
    competition_ranks,
    kendall_tau_b,
    krippendorff_alpha_ordinal,
    pair_agreement,
    tau_b_tiers,
)
from labeling.tests.factories import add_member, make_user

A = [[1], [2], [3], [4]]
B = [[1], [3], [2], [4]]
C = [[1, 2], [3], [4]]
DAY1 = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY2 = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_competition_ranks_and_pair_agreement_by_hand():
    assert competition_ranks(C) == {1: 0, 2: 0, 3: 2, 4: 3}
    assert pair_agreement(A, B) == (5, 6)  # differ on (2, 3)
    assert pair_agreement(A, C) == (5, 6)  # a tie against a strict order disagrees
    assert pair_agreement(B, C) == (4, 6)
    assert pair_agreement(C, C) == (6, 6)  # a tie against a tie agrees
    assert pair_agreement([[1], [2]], [[3], [4]]) == (0, 0)


def test_tau_b_by_hand():
    assert tau_b_tiers(A, B) == pytest.approx(4 / 6)
    assert tau_b_tiers(A, C) == pytest.approx(5 / math.sqrt(30))
    assert tau_b_tiers(B, C) == pytest.approx(3 / math.sqrt(30))
    assert tau_b_tiers(A, [[1, 2, 3, 4]]) is None


def test_tau_b_matches_scipy_on_random_rankings():
    rng = random.Random(3)
    checked = 0
    for _ in range(500):
        n = rng.randint(2, 9)
        x = [rng.randint(0, rng.randint(1, n)) for _ in range(n)]
        y = [rng.randint(0, rng.randint(1, n)) for _ in range(n)]
        ours, theirs = kendall_tau_b(x, y), kendalltau(x, y).statistic
        if math.isnan(theirs):
            assert ours is None
        else:
            assert ours == pytest.approx(theirs, abs=1e-12)
            checked += 1
    assert checked > 300


def test_krippendorff_alpha_ordinal_reference_and_by_hand():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 coders x 12 units: ordinal 0.815.
    units = [[1, 1, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4], [4, 4, 4, 4]]
    units += [[1, 1, 2, 1], [2, 2, 2, 2], [5, 5, 5], [1, 1], [3]]
    assert krippendorff_alpha_ordinal(units) == pytest.approx(0.8154, abs=1e-4)
    # A, B, C above as competition ranks per answer; worked by hand: 1 - 58 / (3204 / 11).
    assert krippendorff_alpha_ordinal([[0, 0, 0], [1, 2, 0], [2, 1, 2], [3, 3, 3]]) == pytest.approx(
        1 - 58 * 11 / 3204
    )
    assert krippendorff_alpha_ordinal([[1, 1], [1, 1]]) is None
    assert krippendorff_alpha_ordinal([[1]]) is None


def _rows() -> list[RankingRow]:
    gold = [[11], [12], [13], [14]]
    return [
        RankingRow(1, 101, 1, A, DAY1),
        RankingRow(1, 102, 1, B, DAY1),
        RankingRow(1, 103, 2, C, DAY2),
        RankingRow(2, 101, 1, [[11], [12], [14], [13]], DAY1, True, gold),
        RankingRow(2, 102, 1, gold, DAY1, True, gold),
        RankingRow(3, 101, 1, [], DAY1),  # unrankable: counts nowhere
    ]


def test_summary_matches_hand_computed_figures():
    s = agreement_summary(_rows())
    overall = s["overall"]
    assert overall["pairwise_agreement"] == pytest.approx(14 / 18, abs=1e-6)
    assert overall["kendall_tau_b"] == pytest.approx((4 / 6 + 8 / math.sqrt(30)) / 3, abs=1e-6)
    assert overall["krippendorff_alpha"] == pytest.approx(1 - 58 * 11 / 3204, abs=1e-6)
    assert overall["comparisons"] == 3 and overall["tasks_with_several_labelers"] == 1
    assert overall["gold_accuracy"] == pytest.approx(11 / 12, abs=1e-6)
    labelers = {row["user_id"]: row for row in s["labelers"]}
    assert labelers[101]["pairwise_agreement"] == pytest.approx(10 / 12, abs=1e-6)
    assert labelers[101]["kendall_tau_b"] == pytest.approx((4 / 6 + 5 / math.sqrt(30)) / 2, abs=1e-6)
    assert labelers[102]["pairwise_agreement"] == pytest.approx(9 / 12, abs=1e-6)
    assert labelers[103]["pairwise_agreement"] == pytest.approx(9 / 12, abs=1e-6)
    assert (
        labelers[101]["gold_accuracy"] == pytest.approx(5 / 6, abs=1e-6) and labelers[101]["gold_exact"] == 0
    )
    assert labelers[102]["gold_accuracy"] == 1 and labelers[102]["gold_exact"] == 1
    assert labelers[103]["gold_accuracy"] is None and labelers[103]["rankings"] == 1
    versions = {row["guideline_version"]: row for row in s["by_guideline_version"]}
    assert versions[1]["pairwise_agreement"] == pytest.approx(5 / 6, abs=1e-6)
    assert versions[1]["comparisons"] == 1
    assert versions[2]["comparisons"] == 0 and versions[2]["pairwise_agreement"] is None
    trend = {row["day"]: row for row in s["trend"]}
    assert trend["2026-03-01"]["pairwise_agreement"] == pytest.approx(5 / 6, abs=1e-6)
    assert trend["2026-03-02"]["pairwise_agreement"] == pytest.approx(9 / 12, abs=1e-6)
    assert trend["2026-03-02"]["comparisons"] == 2


@pytest.mark.django_db
def test_report_from_the_database_and_its_api():
    from labeling.models import Task
    from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project

    project, tasks = ranking_project(2)
    a, b, c = (add_member(project) for _ in range(3))
    ids = candidate_ids(tasks[0])

    def as_ids(tiers):
        return [[ids[i - 1] for i in tier] for tier in tiers]

    rank(tasks[0], a, as_ids(A), at=DAY1)
    rank(tasks[0], b, as_ids(B), at=DAY1)
    rank(tasks[0], c, as_ids(C), version=2, at=DAY2)
    gold_ids = candidate_ids(tasks[1])
    Task.objects.filter(pk=tasks[1].pk).update(is_gold=True, gold_answer=[[i] for i in gold_ids])
    rank(tasks[1], a, [[gold_ids[1]], [gold_ids[0]], [gold_ids[2]], [gold_ids[3]]])

    report = agreement_report(project=project)
    assert report["overall"]["pairwise_agreement"] == pytest.approx(14 / 18, abs=1e-6)
    assert report["overall"]["krippendorff_alpha"] == pytest.approx(1 - 58 * 11 / 3204, abs=1e-6)
    by_user = {row["user_id"]: row for row in report["labelers"]}
    assert by_user[a.pk]["gold_accuracy"] == pytest.approx(5 / 6, abs=1e-6)
    only_v1 = agreement_report(project=project, guideline_versions=[1])
    assert only_v1["overall"]["comparisons"] == 1

    url = f"/api/projects/{project.pk}/agreement/"
    reviewer = add_member(project, Role.REVIEWER)
    client = APIClient()
    client.force_authenticate(reviewer)
    response = client.get(url + "?guideline_version=1&date_from=2026-03-01")
    assert response.status_code == 200
    assert response.json()["overall"]["pairwise_agreement"] == pytest.approx(5 / 6, abs=1e-6)
    assert set(response.json()) == {"project", "overall", "by_guideline_version", "labelers", "trend"}
    assert client.get(url + "?date_from=yesterday").status_code == 400
    client.force_authenticate(a)
    assert client.get(url).status_code == 403
    client.force_authenticate(make_user())
    assert client.get(url).status_code == 404
    assert APIClient().get(url).status_code in (401, 403)


def test_per_labeler_alpha_covers_the_tasks_they_share():
    rows = [*_rows(), RankingRow(4, 101, 1, A, DAY1), RankingRow(4, 104, 1, A, DAY1)]
    labelers = {row["user_id"]: row for row in agreement_summary(rows)["labelers"]}
    assert labelers[102]["krippendorff_alpha"] == pytest.approx(1 - 58 * 11 / 3204, abs=1e-6)
    assert labelers[104]["krippendorff_alpha"] == 1.0
    # 101 shares task 1 (A, B, C) and task 4 (two identical rankings).
    assert labelers[101]["krippendorff_alpha"] > labelers[102]["krippendorff_alpha"]
