"""Recording audit events. Called from inside the services whose actions are audited, so the event is written
in the same transaction as the change it describes: no change without its event, no event for a rolled-back
change."""

from typing import Any

from django.db import models

from labeling.auditlog.context import current_ip, current_user
from labeling.auditlog.models import AuditAction, AuditEvent


def audit_record(
    action: AuditAction | str,
    *,
    project: Any = None,
    actor: Any = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """One event. `actor` defaults to the user of the current request, `ip` to its client address; `target`
    (a model instance) fills `target_type`/`target_id`."""
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target.pk
    if actor is None:
        actor = current_user()
    return AuditEvent.objects.create(
        project=project,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=str(action),
        target_type=target_type,
        target_id=str(target_id)[:150],
        details=details or {},
        ip=ip or current_ip(),
    )
