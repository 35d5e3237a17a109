"""How often a reward model agrees with human rankings it has not seen: the signal that it is time to retrain.

Each ranking's tiers give every (better, worse) pair across tiers (tied answers give none). A pair counts
when the reward model has stored scores (`CandidateScore`) for both answers; it agrees when the better answer
scores higher, and an exact tie in score counts as half. Rankings made after the model was trained (its run's
`finished_at`, or its registration time) are data it cannot have been trained on.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from labeling.models import Ranking
from rewardtrain.runs.models import CandidateScore, ModelKind, RegisteredModel

RETRAIN_BELOW_ACCURACY = 0.6
MIN_PAIRS_FOR_ACCURACY = 20
# New rankings worth a retrain: at least this many, and at least this share of those made before the model.
RETRAIN_NEW_RANKINGS = 50
RETRAIN_NEW_SHARE = 0.5


@dataclass
class Agreement:
    accuracy: float | None
    pairs: int
    rankings: int
    unscored_pairs: int


def tier_pairs(tiers: list[list[int]]) -> Iterable[tuple[int, int]]:
    """(better, worse) candidate ids across tiers, best tier first."""
    for i, upper in enumerate(tiers):
        for lower in tiers[i + 1 :]:
            for better in upper:
                for worse in lower:
                    yield better, worse


def pairwise_agreement(rankings: Iterable[list[list[int]]], scores: dict[int, float]) -> Agreement:
    """Agreement of `scores` (candidate id -> reward) with rankings given as tiers."""
    agree, pairs, counted, unscored = 0.0, 0, 0, 0
    for tiers in rankings:
        before = pairs
        for better, worse in tier_pairs(tiers):
            if better not in scores or worse not in scores:
                unscored += 1
                continue
            pairs += 1
            diff = scores[better] - scores[worse]
            agree += 1.0 if diff > 0 else 0.5 if diff == 0 else 0.0
        counted += pairs > before
    return Agreement(agree / pairs if pairs else None, pairs, counted, unscored)


def trained_at(model: RegisteredModel) -> datetime:
    run = model.produced_by
    return run.finished_at if run is not None and run.finished_at else model.created_at


def scores_of(model: RegisteredModel) -> dict[int, float]:
    rows = CandidateScore.objects.filter(reward_model=model).values_list("candidate_id", "score")
    return dict(rows.iterator(chunk_size=5000))


def agreement_on(model: RegisteredModel, rankings: QuerySet[Ranking]) -> Agreement:
    tiers = rankings.filter(unrankable=False).values_list("tiers", flat=True)
    return pairwise_agreement(tiers.iterator(chunk_size=2000), scores_of(model))


def rm_agreement(model: RegisteredModel) -> dict[str, Any]:
    """The model's agreement with the project's rankings made after it was trained, and whether to retrain."""
    since = trained_at(model)
    project_rankings = Ranking.objects.filter(task__project_id=model.project_id, unrankable=False)
    new = project_rankings.filter(created_at__gt=since)
    result = agreement_on(model, new)
    new_count, before_count = new.count(), project_rankings.filter(created_at__lte=since).count()
    reasons = []
    if (
        result.accuracy is not None
        and result.pairs >= MIN_PAIRS_FOR_ACCURACY
        and result.accuracy < RETRAIN_BELOW_ACCURACY
    ):
        reasons.append(
            f"agrees with only {result.accuracy:.0%} of {result.pairs} new human comparisons "
            f"(below {RETRAIN_BELOW_ACCURACY:.0%})"
        )
    if new_count >= max(RETRAIN_NEW_RANKINGS, RETRAIN_NEW_SHARE * before_count):
        reasons.append(f"{new_count} rankings arrived since it was trained ({before_count} before)")
    return {
        "reward_model": {"id": model.pk, "name": model.name},
        "since": since,
        "accuracy": result.accuracy,
        "pairs": result.pairs,
        "rankings": result.rankings,
        "unscored_pairs": result.unscored_pairs,
        "new_rankings": new_count,
        "rankings_before": before_count,
        "retrain": bool(reasons),
        "reasons": reasons,
    }


def project_rm_agreement(project_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """The agreement of the project's newest reward models, newest first."""
    models = RegisteredModel.objects.filter(project_id=project_id, kind=ModelKind.RM).select_related(
        "produced_by"
    )
    return [rm_agreement(m) for m in models.order_by("-created_at", "-id")[:limit]]
