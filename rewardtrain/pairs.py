"""Pure functions from rankings to training examples: pairs, majority pairs, aggregated tiers, the split.

No Django here, so the rules are tested on hand-worked examples alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

Tiers = Sequence[Sequence[int]]

TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)


@dataclass(frozen=True)
class Pair:
    chosen: int
    rejected: int
    margin: int  # tier gap: 1 for neighbouring tiers


def tier_pairs(tiers: Tiers) -> list[tuple[int, int, int]]:
    """Every (better, worse, margin) across tiers, best pairs first; tied answers give no pair.

    K answers in K tiers give C(K, 2) pairs. The margin is the gap between the two tiers' positions. Plain
    tuples: the pairwise export makes hundreds of thousands of them.
    """
    return [
        (better, worse, j - i)
        for i, j in combinations(range(len(tiers)), 2)
        for better in tiers[i]
        for worse in tiers[j]
    ]


def pairs_from_tiers(tiers: Tiers) -> list[Pair]:
    """`tier_pairs` as `Pair`s."""
    return [Pair(*pair) for pair in tier_pairs(tiers)]


def tier_of(tiers: Tiers) -> dict[int, int]:
    """Candidate id -> index of its tier (0 is best)."""
    return {cid: i for i, tier in enumerate(tiers) for cid in tier}


@dataclass(frozen=True)
class MajorityPair:
    chosen: int
    rejected: int
    margin: float  # mean tier gap among the labelers who agree
    votes: int
    labelers: int


def majority_pairs(rankings: Sequence[Tiers]) -> list[MajorityPair]:
    """Pairs that a strict majority of the rankings of one task order the same way.

    A labeler who ties the two answers, or who did not place one of them, counts against both orders, so a pair
    is kept only when more than half of all the task's rankings put the same answer first. Ordered by the
    answers' first appearance in the first ranking, so the output is deterministic.
    """
    n = len(rankings)
    if n == 0:
        return []
    positions = [tier_of(t) for t in rankings]
    order: list[int] = []
    for tiers in rankings:
        for tier in tiers:
            order.extend(c for c in tier if c not in order)
    out: list[MajorityPair] = []
    for a, b in combinations(order, 2):
        gaps_a, gaps_b = [], []
        for pos in positions:
            if a in pos and b in pos and pos[a] != pos[b]:
                (gaps_a if pos[a] < pos[b] else gaps_b).append(abs(pos[a] - pos[b]))
        for chosen, rejected, gaps in ((a, b, gaps_a), (b, a, gaps_b)):
            if len(gaps) * 2 > n:
                out.append(MajorityPair(chosen, rejected, sum(gaps) / len(gaps), len(gaps), n))
    return out


def aggregate_tiers(rankings: Sequence[Tiers]) -> list[list[int]]:
    """One ranking from several: answers ordered by their mean tier position; equal means are tied.

    Answers missing from a ranking are left out of that ranking's mean. Ties inside a tier keep the order of
    first appearance.
    """
    sums: dict[int, list[int]] = {}
    for tiers in rankings:
        for cid, pos in tier_of(tiers).items():
            sums.setdefault(cid, [0, 0])
            sums[cid][0] += pos
            sums[cid][1] += 1
    # Compare means exactly as fractions (total * other count) to avoid float ties going astray.
    means = {cid: (total, count) for cid, (total, count) in sums.items()}
    order = sorted(means, key=lambda c: means[c][0] / means[c][1])
    out: list[list[int]] = []
    for cid in order:
        if out:
            prev = out[-1][0]
            if means[prev][0] * means[cid][1] == means[cid][0] * means[prev][1]:
                out[-1].append(cid)
                continue
        out.append([cid])
    return out


def split_of(prompt_id: int | str, seed: int, validation_fraction: float) -> str:
    """The split a prompt falls in: a hash of (seed, prompt id), so every pair of one prompt goes together."""
    digest = hashlib.sha256(f"{seed}:{prompt_id}".encode()).digest()
    return VALIDATION if int.from_bytes(digest[:8], "big") / 2**64 < validation_fraction else TRAIN
