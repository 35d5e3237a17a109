"""The Celery app. Two queues: `default` (imports, snapshots, housekeeping) and `gpu` (training, sampling)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from celery.worker.control import inspect_command
from kombu import Queue

from annotate.logging import task_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotate.settings")

app = Celery("annotate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("gpu"))
app.conf.task_default_queue = "default"
# The worker imports the tasks.py of every installed app and of rewardtrain's sub-packages that are not Django apps
# (their models belong to the `rewardtrain` app). Services queue tasks by name and never import these modules.
app.autodiscover_tasks()
app.autodiscover_tasks(["rewardtrain.snapshots", "rewardtrain.suggestions", "rewardtrain.lost_jobs"])


@inspect_command()
def gpus(state) -> dict:
    """`celery inspect gpus`: how many processes this worker may start for one training run (`/readyz` shows it
    for each gpu worker; a run asking for more is refused by the worker that takes it)."""
    from rewardtrain.runs.devices import worker_gpus

    return {"gpus": worker_gpus()}


@task_prerun.connect
def _log_task_id(task_id: str | None = None, **_: object) -> None:
    """Log lines written while a task runs carry its id (annotate/logging.py)."""
    task_id_var.set(task_id)


@task_postrun.connect
def _forget_task_id(**_: object) -> None:
    task_id_var.set(None)
