import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from labeling.models import (
    Assignment,
    AssignmentStatus,
    Demonstration,
    Ranking,
    ReviewStatus,
    Task,
    TaskStatus,
)
from labeling.services.assignment import assignment_claim_next
from labeling.services.errors import ServiceError
from labeling.services.projects import guideline_publish
from labeling.services.reviews import demonstration_review
from labeling.services.submission import demonstration_submit, ranking_submit
from labeling.tests.factories import (
    add_member,
    import_prompt_tasks,
    import_ranking_tasks,
    make_project,
    new_client_id,
)


@pytest.fixture
def leased(db):
    project = make_project(allow_ties=True, redundancy=1)
    import_ranking_tasks(project, 2)
    labeler = add_member(project)
    assignment = assignment_claim_next(user=labeler, project=project)
    ids = list(assignment.task.task_candidates.order_by("position").values_list("candidate_id", flat=True))
    return project, labeler, assignment, ids


def _submit(assignment, **kw):
    kw.setdefault("client_id", new_client_id())
    return ranking_submit(user=assignment.user, assignment_id=assignment.pk, **kw)


def test_ranking_with_tie_ratings_and_flags_is_stored_exactly(leased):
    _, _, assignment, ids = leased
    tiers = [[ids[2]], [ids[0], ids[3]], [ids[1]]]
    result = _submit(
        assignment,
        tiers=tiers,
        ratings={ids[2]: 7, ids[1]: 2},
        flags={ids[1]: ["hallucination"]},
        seconds_spent=42.5,
    )
    stored = Ranking.objects.get(pk=result.annotation.pk)
    assert stored.tiers == tiers
    assert stored.ratings == {str(ids[2]): 7, str(ids[1]): 2}
    assert stored.flags == {str(ids[1]): ["hallucination"]}
    assert stored.seconds_spent == 42.5
    assert stored.guideline.version == 1
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert Task.objects.get(pk=assignment.task_id).status == TaskStatus.COMPLETE


def test_double_submission_with_same_client_id_stores_one(leased):
    _, _, assignment, ids = leased
    client_id = new_client_id()
    first = _submit(assignment, client_id=client_id, tiers=[[i] for i in ids])
    second = _submit(assignment, client_id=client_id, tiers=[[i] for i in ids])
    assert first.created and not second.created
    assert first.annotation.pk == second.annotation.pk
    assert Ranking.objects.count() == 1
    assert Task.objects.get(pk=assignment.task_id).completed_count == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submission_stores_one():
    project = make_project()
    import_ranking_tasks(project, 1)
    labeler = add_member(project)
    assignment = assignment_claim_next(user=labeler, project=project)
    ids = list(assignment.task.task_candidates.values_list("candidate_id", flat=True))
    client_id = new_client_id()
    barrier = threading.Barrier(8)
    results, errors = [], []

    def go():
        try:
            barrier.wait(timeout=10)
            results.append(_submit(assignment, client_id=client_id, tiers=[[i] for i in ids]).created)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(results) == [False] * 7 + [True]
    assert Ranking.objects.count() == 1


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda ids: [[i] for i in ids[:3]], "are missing"),
        (lambda ids: [[ids[0]], [ids[0]], [ids[1]], [ids[2]], [ids[3]]], "placed more than once"),
        (lambda ids: [[i] for i in ids] + [[999999]], "not an answer of this task"),
        (lambda ids: [[ids[0]], [], [ids[1]], [ids[2]], [ids[3]]], "tier 2 must be a non-empty list"),
        (lambda ids: [["x"], [ids[1]], [ids[2]], [ids[3]]], "is not an integer"),
        (lambda ids: "best first", "non-empty list of tiers"),
    ],
)
def test_malformed_rankings_are_refused_with_the_reason(leased, build, message):
    _, _, assignment, ids = leased
    with pytest.raises(ServiceError) as info:
        _submit(assignment, tiers=build(ids))
    assert info.value.status == 400
    assert any(message in e.message for e in info.value.errors), info.value.errors
    assert Ranking.objects.count() == 0
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.ACTIVE


def test_ties_refused_where_not_allowed(db):
    project = make_project(allow_ties=False)
    import_ranking_tasks(project, 1)
    assignment = assignment_claim_next(user=add_member(project), project=project)
    ids = list(assignment.task.task_candidates.values_list("candidate_id", flat=True))
    with pytest.raises(ServiceError) as info:
        _submit(assignment, tiers=[[ids[0], ids[1]], [ids[2]], [ids[3]]])
    assert "does not allow ties" in str(info.value)


def test_unknown_flag_and_bad_rating_are_named(leased):
    _, _, assignment, ids = leased
    with pytest.raises(ServiceError) as info:
        _submit(assignment, tiers=[[i] for i in ids], flags={ids[0]: ["made_up_flag"]}, ratings={ids[1]: 9})
    messages = " | ".join(e.message for e in info.value.errors)
    assert "unknown flag 'made_up_flag'" in messages
    assert "outside the scale 1 to 7" in messages
    with pytest.raises(ServiceError) as info:
        _submit(assignment, tiers=[[i] for i in ids], flags={"12345678": ["hallucination"]})
    assert "not an answer of this task" in str(info.value)


def test_flags_follow_the_guideline_version(leased):
    project, labeler, assignment, ids = leased
    guideline_publish(
        project=project,
        author=project.created_by,
        body_md="v2",
        flags=[{"key": "too_long", "label": "Too long"}],
    )
    # The lease was handed out under v1, whose flags do not include v2's.
    with pytest.raises(ServiceError) as info:
        _submit(assignment, tiers=[[i] for i in ids], flags={ids[0]: ["too_long"]})
    assert "guideline v1" in str(info.value)
    # A client showing v2 says so, and the ranking is checked against and recorded with v2.
    result = _submit(assignment, tiers=[[i] for i in ids], flags={ids[0]: ["too_long"]}, guideline_version=2)
    assert result.annotation.guideline.version == 2
    # The next lease is handed out under v2.
    nxt = assignment_claim_next(user=labeler, project=project)
    other_ids = list(nxt.task.task_candidates.values_list("candidate_id", flat=True))
    with pytest.raises(ServiceError) as info:
        _submit(nxt, tiers=[[i] for i in other_ids], guideline_version=7)
    assert info.value.errors[0].field == "guideline_version"
    assert _submit(nxt, tiers=[[i] for i in other_ids]).annotation.guideline.version == 2


def test_unrankable_needs_a_reason_and_stores_no_order(leased):
    _, _, assignment, _ = leased
    result = _submit(assignment, unrankable_reason="all four answers are in the wrong language")
    assert result.annotation.unrankable and result.annotation.tiers == []


def test_late_submission_accepted_while_the_task_still_needs_it(leased):
    _, _, assignment, ids = leased
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1), status=AssignmentStatus.EXPIRED
    )
    assert _submit(assignment, tiers=[[i] for i in ids]).created


def test_late_submission_refused_once_someone_else_completed_it(leased):
    project, _, assignment, ids = leased
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    bob = add_member(project)
    taken = assignment_claim_next(user=bob, project=project)
    assert taken.task_id == assignment.task_id
    _submit(taken, tiers=[[i] for i in ids])
    with pytest.raises(ServiceError) as info:
        _submit(assignment, tiers=[[i] for i in ids])
    assert info.value.status == 409 and info.value.code == "lease_expired"
    assert Ranking.objects.count() == 1


def test_submitting_someone_elses_assignment_is_not_found(leased):
    project, _, assignment, ids = leased
    intruder = add_member(project)
    with pytest.raises(ServiceError) as info:
        ranking_submit(
            user=intruder, assignment_id=assignment.pk, client_id=new_client_id(), tiers=[[i] for i in ids]
        )
    assert info.value.status == 404


def test_demonstration_submit_review_reject_reopens(db):
    project = make_project(redundancy=1)
    import_prompt_tasks(project, 1)
    labeler, reviewer = add_member(project), add_member(project, role="reviewer")
    assignment = assignment_claim_next(user=labeler, project=project)
    result = demonstration_submit(
        user=labeler,
        assignment_id=assignment.pk,
        client_id=new_client_id(),
        text="An ideal answer.",
        seconds_spent=30,
    )
    task = Task.objects.get(pk=assignment.task_id)
    assert task.status == TaskStatus.COMPLETE
    with pytest.raises(ServiceError):
        demonstration_review(reviewer=reviewer, demonstration=result.annotation, decision="reject")
    demonstration_review(
        reviewer=reviewer, demonstration=result.annotation, decision="reject", comment="Too short."
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN and task.completed_count == 0
    assert Demonstration.objects.get().review_status == ReviewStatus.REJECTED
    # Someone else gets the reopened task; the first labeler does not get it again.
    assert assignment_claim_next(user=labeler, project=project) is None
    assert assignment_claim_next(user=add_member(project), project=project).task_id == task.pk


def test_empty_demonstration_refused(db):
    project = make_project()
    import_prompt_tasks(project, 1)
    labeler = add_member(project)
    assignment = assignment_claim_next(user=labeler, project=project)
    with pytest.raises(ServiceError) as info:
        demonstration_submit(user=labeler, assignment_id=assignment.pk, client_id=new_client_id(), text="   ")
    assert info.value.errors[0].field == "text"


def test_wrong_kind_is_refused(db):
    project = make_project()
    import_prompt_tasks(project, 1)
    labeler = add_member(project)
    assignment = assignment_claim_next(user=labeler, project=project)
    with pytest.raises(ServiceError) as info:
        ranking_submit(user=labeler, assignment_id=assignment.pk, client_id=new_client_id(), tiers=[[1]])
    assert info.value.code == "wrong_kind"
