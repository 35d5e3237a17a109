"""A real Celery worker process on the real Redis broker runs a housekeeping task against the test database."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from annotate.celery import app
from annotate.tests.live import process_env, start_worker, stop, wait_until
from labeling.models import Assignment, AssignmentStatus
from labeling.services.assignment import assignment_claim_next
from labeling.tasks import expire_leases
from labeling.tests.factories import add_member, import_ranking_tasks, make_project


def test_queues_and_routes():
    assert {q.name for q in app.conf.task_queues} == {"default", "gpu"}
    assert app.conf.task_default_queue == "default"
    assert app.conf.task_acks_late is True
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert app.amqp.router.route({}, "rewardtrain.tasks.gpu_train_run")["queue"].name == "gpu"
    assert app.amqp.router.route({}, "labeling.tasks.expire_leases")["queue"].name == "default"


@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_expires_leases(tmp_path):
    project = make_project()
    import_ranking_tasks(project, 1)
    lease = assignment_claim_next(user=add_member(project), project=project)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=5))

    app.control.purge()
    log = tmp_path / "worker.log"
    worker = start_worker("default", process_env(), log)
    try:
        expire_leases.delay()
        wait_until(
            lambda: Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.EXPIRED,
            60,
            "the worker did not expire the lease",
            every=0.3,
        )
    finally:
        stop(worker)
    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output
