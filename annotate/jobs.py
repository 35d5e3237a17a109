"""Sending background jobs without letting the broker's health decide the fate of a web request.

Every job's state is a row of ours (`queued` until a worker claims it), and the message only carries its id. So
a message that cannot be sent (broker down) is logged and left for the `requeue_lost_jobs` sweeper, which sends
again any job still queued after a while; the request that created the job has already committed and succeeds.

Jobs are sent by task name (`rewardtrain.tasks.gpu_generate`), so a service never imports a task module: the
settings' routes pick the queue by name. Where the task is registered (a worker, or a test that runs tasks
eagerly) the signature goes through the task's own `apply_async`; elsewhere through `send_task`.
"""

import logging
from typing import Any

from django.db import transaction

from annotate.celery import app

logger = logging.getLogger(__name__)
QUICK_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


def send(task_name: str, *args: Any) -> None:
    """Send one message now with the broker's default retries; raises when the broker cannot take it."""
    app.signature(task_name, args=args).apply_async()


def enqueue(task_name: str, *args: Any) -> bool:
    """Send one message now; False (logged) when the broker cannot take it."""
    try:
        # One quick reconnect (a pooled connection gone stale after a broker restart), then give up: a request
        # must not wait on a broker that is down; the sweeper sends the job later.
        app.signature(task_name, args=args).apply_async(retry=True, retry_policy=QUICK_RETRY)
    except Exception as exc:
        logger.warning(
            "could not queue %s%r (%s: %s); the job stays queued and is sent again once the broker is back",
            task_name,
            args,
            type(exc).__name__,
            exc,
            extra={"job": task_name},
        )
        return False
    return True


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    """Send the job's message once the transaction that created its row has committed."""
    transaction.on_commit(lambda: enqueue(task_name, *args))
