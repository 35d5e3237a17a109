"""Celery entry points for the labeling app: thin wrappers that call services."""

from celery import shared_task

from labeling.services.assignment import leases_expire


@shared_task(name="labeling.tasks.expire_leases")
def expire_leases() -> int:
    return leases_expire()
