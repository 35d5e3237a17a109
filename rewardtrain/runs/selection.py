"""Uncertainty-driven selection: after a scoring job, the open ranking tasks the reward model cannot order are
served first.

Under a project's `selection = uncertainty`, the scoring job owns `Task.priority` of the project's open,
non-gold ranking tasks: it overwrites it (an imported priority included) with a number computed from the
candidates' scores, so the claim (one indexed query by priority) serves the most informative rankings first.
Prompt, demonstration and dialogue tasks, gold tasks and finished tasks keep theirs; `uniform` touches nothing.

How unsure the model is of a task, in [0, 1]:

* **Pairwise uncertainty** of the current model: the mean over the task's answer pairs of 4·p·(1 - p) with
  p = sigmoid(s_i - s_j). The reward model is trained as a Bradley-Terry model, so p is its own probability
  that answer i is preferred to j, and p·(1 - p) is the variance of that comparison's outcome (1 when the
  scores are equal, towards 0 as the gap grows). A ranking of K answers trains on all K(K-1)/2 pairs, so the
  mean over all pairs (not only the smallest adjacent gap) measures how much a ranking of this task can still
  teach the model; it also changes smoothly with the scores.
* **Disagreement between checkpoints**, when an earlier reward model of the project has scored the same
  answers: the share of answer pairs the two models order differently (a tie in either counts half). Two
  checkpoints that disagree mark a task the data has not settled. The task's uncertainty is then the mean of
  the two figures.

The priority is round(uncertainty · PRIORITY_SCALE): monotone, and within a 32-bit integer. Tasks with a
candidate the model has not scored keep their priority.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations

from labeling.models import Project, Selection, Task, TaskCandidate, TaskKind, TaskStatus
from rewardtrain.runs.models import CandidateScore, ModelKind, RegisteredModel

PRIORITY_SCALE = 1_000_000
UPDATE_BATCH = 1000


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def pairwise_uncertainty(scores: Sequence[float]) -> float:
    """Mean of 4·p·(1 - p) over the answer pairs, p = sigmoid(s_i - s_j): 1 when the model cannot tell any
    two answers apart, near 0 when every gap is large."""
    pairs = list(combinations(scores, 2))
    if not pairs:
        return 0.0
    return sum(4 * _sigmoid(a - b) * (1 - _sigmoid(a - b)) for a, b in pairs) / len(pairs)


def discordance(current: Sequence[float], previous: Sequence[float]) -> float:
    """Share of answer pairs two models order differently; a pair either model ties counts half."""
    pairs = list(combinations(range(len(current)), 2))
    if not pairs:
        return 0.0
    total = 0.0
    for i, j in pairs:
        product = (current[i] - current[j]) * (previous[i] - previous[j])
        total += 1.0 if product < 0 else 0.5 if product == 0 else 0.0
    return total / len(pairs)


def task_uncertainty(current: Sequence[float], previous: Sequence[float] | None = None) -> float:
    unsure = pairwise_uncertainty(current)
    if previous is None:
        return unsure
    return (unsure + discordance(current, previous)) / 2


def uncertainty_priority(uncertainty: float) -> int:
    return round(min(1.0, max(0.0, uncertainty)) * PRIORITY_SCALE)


def previous_reward_model(model: RegisteredModel) -> RegisteredModel | None:
    """The project's latest reward model registered before `model` that has scored anything."""
    return (
        RegisteredModel.objects.filter(project_id=model.project_id, kind=ModelKind.RM, pk__lt=model.pk)
        .filter(scores__isnull=False)
        .distinct()
        .order_by("-pk")
        .first()
    )


def ranking_priorities_update(project: Project, model: RegisteredModel) -> int:
    """Set the priority of the project's open ranking tasks from `model`'s scores (see the module doc); returns
    how many tasks were updated. Does nothing unless the project's selection is `uncertainty`."""
    if project.selection != Selection.UNCERTAINTY:
        return 0
    previous = previous_reward_model(model)
    answers: dict[int, list[int]] = defaultdict(list)
    links = TaskCandidate.objects.filter(
        task__project_id=project.pk,
        task__kind=TaskKind.RANKING,
        task__status=TaskStatus.OPEN,
        task__is_gold=False,
    ).order_by("task_id", "position")
    for task_id, candidate_id in links.values_list("task_id", "candidate_id").iterator(chunk_size=5000):
        answers[task_id].append(candidate_id)
    models = [model.pk] if previous is None else [model.pk, previous.pk]
    scores: dict[int, dict[int, float]] = {pk: {} for pk in models}
    rows = CandidateScore.objects.filter(
        reward_model_id__in=models, candidate__prompt__project_id=project.pk
    ).values_list("reward_model_id", "candidate_id", "score")
    for model_id, candidate_id, score in rows.iterator(chunk_size=5000):
        scores[model_id][candidate_id] = score

    current_scores, previous_scores = scores[model.pk], scores[previous.pk] if previous else {}
    updates = []
    for task_id, candidate_ids in answers.items():
        if not all(c in current_scores for c in candidate_ids):
            continue
        current = [current_scores[c] for c in candidate_ids]
        earlier = None
        if previous is not None and all(c in previous_scores for c in candidate_ids):
            earlier = [previous_scores[c] for c in candidate_ids]
        updates.append(Task(pk=task_id, priority=uncertainty_priority(task_uncertainty(current, earlier))))
    Task.objects.bulk_update(updates, ["priority"], batch_size=UPDATE_BATCH)
    return len(updates)
