"""The Celery app. Two queues: `default` (imports, snapshots, housekeeping) and `gpu` (training, sampling)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotate.settings")

app = Celery("annotate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("gpu"))
app.conf.task_default_queue = "default"
app.autodiscover_tasks()
