import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from labeling.models import Assignment, AssignmentStatus, Ranking, Task, TaskStatus
from labeling.services.assignment import assignment_claim_next, assignment_skip, leases_expire
from labeling.services.submission import ranking_submit
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, new_client_id


def _rank_all(assignment: Assignment) -> None:
    ids = list(assignment.task.task_candidates.values_list("candidate_id", flat=True))
    ranking_submit(
        user=assignment.user, assignment_id=assignment.pk, client_id=new_client_id(), tiers=[[i] for i in ids]
    )


def _run_concurrently(n: int, target) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=120)
            results[i] = target(i)
        except BaseException as exc:  # report any failure in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_32_concurrent_labelers_never_exceed_redundancy():
    assert connection.vendor == "postgresql"
    project = make_project(redundancy=2)
    import_ranking_tasks(project, 10)
    labelers = [add_member(project) for _ in range(32)]

    claimed = _run_concurrently(32, lambda i: assignment_claim_next(user=labelers[i], project=project))

    got = [a for a in claimed if a is not None]
    # 10 tasks x redundancy 2 = 20 leases to hand out, and no more.
    assert len(got) == 20
    per_task = Counter(a.task_id for a in got)
    assert max(per_task.values()) == 2
    assert len({(a.task_id, a.user_id) for a in got}) == 20


@pytest.mark.django_db(transaction=True)
def test_concurrent_claim_submit_loop_gives_each_task_exactly_its_redundancy():
    project = make_project(redundancy=3)
    import_ranking_tasks(project, 12)
    labelers = [add_member(project) for _ in range(32)]

    def work(i: int) -> list[int]:
        done = []
        while (assignment := assignment_claim_next(user=labelers[i], project=project)) is not None:
            _rank_all(assignment)
            done.append(assignment.task_id)
        return done

    done_lists = _run_concurrently(32, work)

    for done in done_lists:
        assert len(done) == len(set(done)), "a labeler got the same task twice"
    assert Ranking.objects.count() == 36
    assert Counter(Ranking.objects.values_list("task_id", flat=True)) == {t.pk: 3 for t in Task.objects.all()}
    assert set(Task.objects.values_list("status", flat=True)) == {TaskStatus.COMPLETE}


@pytest.mark.django_db
def test_reload_returns_the_same_lease():
    project = make_project()
    import_ranking_tasks(project, 3)
    labeler = add_member(project)
    first = assignment_claim_next(user=labeler, project=project)
    again = assignment_claim_next(user=labeler, project=project)
    assert first.pk == again.pk


@pytest.mark.django_db
def test_expired_lease_is_reassigned():
    project = make_project(redundancy=1)
    import_ranking_tasks(project, 1)
    alice, bob = add_member(project), add_member(project)
    lease = assignment_claim_next(user=alice, project=project)
    assert assignment_claim_next(user=bob, project=project) is None

    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken_over = assignment_claim_next(user=bob, project=project)
    assert taken_over is not None and taken_over.task_id == lease.task_id
    assert leases_expire() == 1
    assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.EXPIRED


@pytest.mark.django_db
def test_priority_then_age_order():
    project = make_project()
    import_ranking_tasks(project, 3)
    tasks = list(Task.objects.order_by("id"))
    Task.objects.filter(pk=tasks[2].pk).update(priority=5)
    labeler = add_member(project)
    order = []
    while (a := assignment_claim_next(user=labeler, project=project)) is not None:
        order.append(a.task_id)
        _rank_all(a)
    assert order == [tasks[2].pk, tasks[0].pk, tasks[1].pk]


@pytest.mark.django_db
def test_skipped_task_is_not_offered_again():
    project = make_project(redundancy=2)
    import_ranking_tasks(project, 1)
    labeler = add_member(project)
    lease = assignment_claim_next(user=labeler, project=project)
    assignment_skip(user=labeler, assignment=lease, reason="answers are in a language I do not read")
    assert assignment_claim_next(user=labeler, project=project) is None
    assert assignment_claim_next(user=add_member(project), project=project).task_id == lease.task_id


@pytest.mark.django_db
def test_gold_tasks_are_served_at_the_gold_rate():
    project = make_project(redundancy=1, gold_rate=0.25)
    import_ranking_tasks(project, 200)
    gold_ids = set(Task.objects.order_by("id").values_list("id", flat=True)[:100])
    Task.objects.filter(pk__in=gold_ids).update(is_gold=True)
    rng = random.Random(7)
    labeler = add_member(project)
    served_gold = 0
    for _ in range(100):
        a = assignment_claim_next(user=labeler, project=project, rng=rng)
        served_gold += a.task_id in gold_ids
        _rank_all(a)
    assert 15 <= served_gold <= 35


@pytest.mark.django_db
def test_non_member_gets_nothing_from_other_project():
    project, other = make_project(), make_project()
    import_ranking_tasks(other, 2)
    labeler = add_member(project)
    assert assignment_claim_next(user=labeler, project=project) is None


def _live(user) -> list[Assignment]:
    return list(
        Assignment.objects.filter(user=user, status=AssignmentStatus.ACTIVE, expires_at__gt=timezone.now())
    )


@pytest.mark.django_db
def test_prefetch_leases_one_extra_task_and_returns_it_again():
    project = make_project(redundancy=1)
    import_ranking_tasks(project, 4)
    labeler = add_member(project)
    current = assignment_claim_next(user=labeler, project=project)
    extra = assignment_claim_next(user=labeler, project=project, prefetch=True)
    assert extra is not None and extra.task_id != current.task_id
    for _ in range(3):  # repeats give back the same two leases, never a third
        assert assignment_claim_next(user=labeler, project=project, prefetch=True).pk == extra.pk
        assert assignment_claim_next(user=labeler, project=project).pk == current.pk
    assert len(_live(labeler)) == 2

    # Submitting the current task makes the prefetched one current; a new prefetch leases the next task.
    _rank_all(current)
    assert assignment_claim_next(user=labeler, project=project).pk == extra.pk
    third = assignment_claim_next(user=labeler, project=project, prefetch=True)
    assert third.task_id not in (current.task_id, extra.task_id)
    assert {a.pk for a in _live(labeler)} == {extra.pk, third.pk}


@pytest.mark.django_db
def test_prefetch_without_a_lease_claims_like_a_plain_call_and_respects_redundancy():
    project = make_project(redundancy=1)
    import_ranking_tasks(project, 2)
    alice, bob = add_member(project), add_member(project)
    first = assignment_claim_next(user=alice, project=project, prefetch=True)
    assert assignment_claim_next(user=alice, project=project).pk == first.pk
    # Bob's plain claim takes the other task; Alice's prefetch then finds nothing free (redundancy 1).
    assert assignment_claim_next(user=bob, project=project).task_id != first.task_id
    assert assignment_claim_next(user=alice, project=project, prefetch=True) is None
    assert len(_live(alice)) == 1


@pytest.mark.django_db
def test_prefetch_never_renews_the_labelers_own_current_task():
    project = make_project(redundancy=3)
    import_ranking_tasks(project, 1)  # one task with room for three labelers
    labeler = add_member(project)
    current = assignment_claim_next(user=labeler, project=project)
    assert assignment_claim_next(user=labeler, project=project, prefetch=True) is None
    assert Assignment.objects.get(pk=current.pk).leased_at == current.leased_at


@pytest.mark.django_db(transaction=True)
def test_concurrent_prefetching_labelers_hold_at_most_two_leases_and_never_exceed_redundancy():
    project = make_project(redundancy=2)
    import_ranking_tasks(project, 20)
    labelers = [add_member(project) for _ in range(8)]

    def claims(i: int) -> None:
        # Each labeler's calls come from 4 threads at once (tabs, a prefetch racing a reload).
        user = labelers[i // 4]
        for step in range(3):
            assignment_claim_next(user=user, project=project, prefetch=(i + step) % 2 == 0)

    _run_concurrently(32, claims)

    for user in labelers:
        assert 1 <= len(_live(user)) <= 2
    per_task = Counter(
        Assignment.objects.filter(status=AssignmentStatus.ACTIVE).values_list("task_id", flat=True)
    )
    assert max(per_task.values()) <= 2


@pytest.mark.django_db(transaction=True)
def test_prefetching_claim_submit_loop_gives_each_task_exactly_its_redundancy():
    project = make_project(redundancy=3)
    import_ranking_tasks(project, 12)
    labelers = [add_member(project) for _ in range(16)]

    def work(i: int) -> list[int]:
        done = []
        while (assignment := assignment_claim_next(user=labelers[i], project=project)) is not None:
            assignment_claim_next(user=labelers[i], project=project, prefetch=True)
            assert len(_live(labelers[i])) <= 2
            _rank_all(assignment)
            done.append(assignment.task_id)
        return done

    done_lists = _run_concurrently(16, work)

    for done in done_lists:
        assert len(done) == len(set(done)), "a labeler got the same task twice"
    assert Counter(Ranking.objects.values_list("task_id", flat=True)) == {t.pk: 3 for t in Task.objects.all()}
    assert set(Task.objects.values_list("status", flat=True)) == {TaskStatus.COMPLETE}
