"""Uncertainty-driven selection: the scoring job sets the open ranking tasks' priorities from the scores."""

import math

import pytest

from labeling.models import Role, Selection, Task, TaskKind, TaskStatus
from labeling.services.assignment import assignment_claim_next
from labeling.tests.factories import add_member, import_prompt_tasks
from rewardtrain.runs import scoring
from rewardtrain.runs.models import ModelKind, ModelSource, RegisteredModel, RunStatus
from rewardtrain.runs.selection import (
    PRIORITY_SCALE,
    discordance,
    pairwise_uncertainty,
    task_uncertainty,
    uncertainty_priority,
)
from rewardtrain.runs.tests.builders import score
from rewardtrain.runs.tests.roots import rooted
from rewardtrain.tests.helpers import candidate_ids, ranking_project
from rewardtrain.training.tests.helpers import CORPUS
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer


def test_pairwise_uncertainty_and_discordance_by_hand():
    assert pairwise_uncertainty([0.0, 0.0, 0.0]) == 1.0
    p = 1 / (1 + math.exp(-2.0))
    assert pairwise_uncertainty([2.0, 0.0]) == pytest.approx(4 * p * (1 - p))
    # Mean over the three pairs: gaps 1, 1 and 2.
    q1, q2 = 1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(-2.0))
    assert pairwise_uncertainty([0.0, 1.0, 2.0]) == pytest.approx((8 * q1 * (1 - q1) + 4 * q2 * (1 - q2)) / 3)
    assert pairwise_uncertainty([0.0, 100.0]) < 1e-6
    # Six pairs: (0, 1) swapped, (2, 3) tied by the earlier model (half), the rest agree.
    assert discordance([0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 2.0, 2.0]) == pytest.approx(1.5 / 6)
    assert task_uncertainty([0.0, 0.0], [0.0, 1.0]) == pytest.approx((1.0 + 0.5) / 2)
    assert [uncertainty_priority(u) for u in (0.0, 0.5, 1.0, 1.7)] == [
        0,
        500_000,
        PRIORITY_SCALE,
        PRIORITY_SCALE,
    ]
    assert PRIORITY_SCALE < 2**31


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory):
    from rewardtrain.training.modeling import RewardModel, load_tokenizer

    base = tmp_path_factory.mktemp("tiny_base")
    build_tiny_model_and_tokenizer(base, corpus=CORPUS)
    out = tmp_path_factory.mktemp("tiny_rm")
    RewardModel.from_backbone(str(base)).save_pretrained(out, tokenizer=load_tokenizer(str(base)))
    return out


# Hand-made scores of each ranking task's four answers: how unsure a model is of them decides the order.
SCORES = {
    0: [0.0, 5.0, 10.0, 15.0],  # well separated: served last
    1: [0.0, 0.1, 0.2, 0.3],  # nearly tied: served first
    2: [0.0, 1.0, 2.0, 3.0],
    3: [0.0, 0.5, 1.0, 1.5],
}


def _project(rm_dir, selection):
    project, tasks = ranking_project(6, k=4, selection=selection)
    import_prompt_tasks(project, 1)
    demonstration = project.tasks.get(kind=TaskKind.DEMONSTRATION)
    Task.objects.filter(pk=demonstration.pk).update(priority=7)
    Task.objects.filter(pk=tasks[0].pk).update(
        priority=123_456_789
    )  # imported: overwritten under uncertainty
    Task.objects.filter(pk=tasks[4].pk).update(is_gold=True, priority=5)  # gold: keeps its priority
    Task.objects.filter(pk=tasks[5].pk).update(status=TaskStatus.COMPLETE, priority=3)  # finished: keeps it
    rm = RegisteredModel.objects.create(
        project=project, name="rm-1", kind=ModelKind.RM, source=ModelSource.ROOT, **rooted(rm_dir)
    )
    for i, task in enumerate(tasks):
        score(rm, candidate_ids(task), SCORES.get(i, [1.0, 2.0, 3.0, 4.0]))
    return project, tasks, rm, demonstration


def _run_job(project, rm):
    admin = project.memberships.get(role=Role.ADMIN).user
    job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=rm.pk)
    done = scoring.scoring_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.scored == 0  # every answer had its hand-made score already


def _priorities(tasks):
    return [Task.objects.get(pk=t.pk).priority for t in tasks]


@pytest.mark.django_db
def test_the_scoring_job_sets_priorities_from_the_scores_and_the_claim_follows_them(rm_dir):
    project, tasks, rm, demonstration = _project(rm_dir, Selection.UNCERTAINTY)
    _run_job(project, rm)
    expected = [uncertainty_priority(pairwise_uncertainty(SCORES[i])) for i in range(4)]
    assert _priorities(tasks) == [*expected, 5, 3]
    assert expected[1] > expected[3] > expected[2] > expected[0]
    assert Task.objects.get(pk=demonstration.pk).priority == 7

    # Labelers are served the most uncertain task first (the demonstration task's 7 is below them all).
    served = [assignment_claim_next(user=add_member(project), project=project).task_id for _ in range(5)]
    assert served == [tasks[1].pk, tasks[3].pk, tasks[2].pk, tasks[0].pk, demonstration.pk]


@pytest.mark.django_db
def test_a_second_checkpoint_that_disagrees_raises_the_priority(rm_dir):
    project, tasks, _, _ = _project(rm_dir, Selection.UNCERTAINTY)
    later = RegisteredModel.objects.create(
        project=project, name="rm-2", kind=ModelKind.RM, source=ModelSource.ROOT, **rooted(rm_dir)
    )
    # The later model is sure of every task (gaps of 3) and orders the answers as the earlier one (rm-1) did,
    # except task 1's, which it orders the other way round: task 1 comes first on the disagreement alone.
    for i, task in enumerate(tasks):
        score(later, candidate_ids(task), [9.0, 6.0, 3.0, 0.0] if i == 1 else [0.0, 3.0, 6.0, 9.0])
    _run_job(project, later)
    sure = pairwise_uncertainty([0.0, 3.0, 6.0, 9.0])
    assert _priorities(tasks[:4]) == [
        uncertainty_priority((sure + 0.0) / 2),
        uncertainty_priority((sure + 1.0) / 2),
        uncertainty_priority((sure + 0.0) / 2),
        uncertainty_priority((sure + 0.0) / 2),
    ]


@pytest.mark.django_db
def test_uniform_selection_leaves_priorities_alone(rm_dir):
    project, tasks, rm, demonstration = _project(rm_dir, Selection.UNIFORM)
    before = _priorities(tasks)
    _run_job(project, rm)
    assert _priorities(tasks) == before == [123_456_789, 0, 0, 0, 5, 3]
    assert Task.objects.get(pk=demonstration.pk).priority == 7
