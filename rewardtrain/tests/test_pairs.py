from itertools import combinations

from rewardtrain.pairs import (
    TRAIN,
    VALIDATION,
    Pair,
    aggregate_tiers,
    majority_pairs,
    pairs_from_tiers,
    split_of,
)


def test_pairs_without_ties_are_all_c_k_2_with_rank_gaps():
    assert pairs_from_tiers([[3], [1], [4], [2]]) == [
        Pair(3, 1, 1),
        Pair(3, 4, 2),
        Pair(3, 2, 3),
        Pair(1, 4, 1),
        Pair(1, 2, 2),
        Pair(4, 2, 1),
    ]
    for k in range(2, 10):
        assert len(pairs_from_tiers([[i] for i in range(k)])) == k * (k - 1) // 2


def test_tied_answers_make_no_pair():
    # A > {B, C} > D: five pairs, none between B and C.
    assert pairs_from_tiers([[10], [20, 30], [40]]) == [
        Pair(10, 20, 1),
        Pair(10, 30, 1),
        Pair(10, 40, 2),
        Pair(20, 40, 1),
        Pair(30, 40, 1),
    ]
    assert pairs_from_tiers([[1, 2, 3]]) == []
    assert pairs_from_tiers([[1, 2], [3, 4]]) == [Pair(1, 3, 1), Pair(1, 4, 1), Pair(2, 3, 1), Pair(2, 4, 1)]
    assert pairs_from_tiers([]) == []


def test_majority_pairs_need_more_than_half_of_the_labelers():
    a = [[1], [2], [3]]
    b = [[1], [3], [2]]
    c = [[2, 1], [3]]  # ties 1 and 2
    pairs = {(p.chosen, p.rejected): p for p in majority_pairs([a, b, c])}
    # 1>2: a, b (c ties) -> 2 of 3; 1>3: all three; 2>3: a, c -> 2 of 3; 3>2: b only.
    assert set(pairs) == {(1, 2), (1, 3), (2, 3)}
    assert pairs[(1, 3)].votes == 3 and pairs[(1, 3)].margin == (2 + 1 + 1) / 3
    assert pairs[(1, 2)].votes == 2 and pairs[(1, 2)].labelers == 3
    # Two labelers who disagree: no majority either way.
    assert majority_pairs([[[1], [2]], [[2], [1]]]) == []
    # One labeler: their pairs.
    assert [(p.chosen, p.rejected) for p in majority_pairs([[[5], [6, 7]]])] == [(5, 6), (5, 7)]


def test_aggregate_tiers_by_mean_position():
    assert aggregate_tiers([[[1], [2], [3]], [[2], [1], [3]]]) == [[1, 2], [3]]
    assert aggregate_tiers([[[1], [2], [3]], [[1], [3], [2]], [[1], [2], [3]]]) == [[1], [2], [3]]
    assert aggregate_tiers([[[1], [2, 3]]]) == [[1], [2, 3]]


def test_split_is_by_prompt_reproducible_and_near_the_fraction():
    splits = [split_of(pid, 7, 0.2) for pid in range(5000)]
    assert splits == [split_of(pid, 7, 0.2) for pid in range(5000)]
    share = splits.count(VALIDATION) / len(splits)
    assert 0.17 < share < 0.23
    assert {split_of(pid, 0, 0.0) for pid in range(100)} == {TRAIN}
    other_seed = [split_of(pid, 8, 0.2) for pid in range(5000)]
    assert other_seed != splits
    assert all(a == b for a, b in combinations([split_of(42, 7, 0.2)] * 3, 2))
