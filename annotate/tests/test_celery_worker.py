"""A real Celery worker process on the real Redis broker runs a housekeeping task against the test database."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from annotate.celery import app
from labeling.models import Assignment, AssignmentStatus
from labeling.services.assignment import assignment_claim_next
from labeling.tasks import expire_leases
from labeling.tests.factories import add_member, import_ranking_tasks, make_project

ROOT = Path(__file__).resolve().parents[2]


def test_queues_and_routes():
    assert {q.name for q in app.conf.task_queues} == {"default", "gpu"}
    assert app.conf.task_default_queue == "default"
    assert app.conf.task_acks_late is True
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert app.amqp.router.route({}, "rewardtrain.tasks.gpu_train_run")["queue"].name == "gpu"
    assert app.amqp.router.route({}, "labeling.tasks.expire_leases")["queue"].name == "default"


@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_expires_leases():
    project = make_project()
    import_ranking_tasks(project, 1)
    lease = assignment_claim_next(user=add_member(project), project=project)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=5))

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "annotate.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    app.control.purge()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "annotate",
            "worker",
            "-Q",
            "default",
            "--pool",
            "solo",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        expire_leases.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.EXPIRED:
                break
            time.sleep(0.3)
        assert Assignment.objects.get(pk=lease.pk).status == AssignmentStatus.EXPIRED
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    assert "Traceback" not in output, output
