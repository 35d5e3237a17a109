"""API tokens for scripts: random keys, stored as SHA-256 hashes, shown once, revocable, with an optional expiry."""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import ApiToken, Project
from labeling.services.errors import FieldError, invalid

KEY_PREFIX = "ann_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *, user: AbstractBaseUser, name: str, project: Project | None = None, expires_in_days: int | None = 90
) -> tuple[ApiToken, str]:
    """Create a token; returns it and its key, which is never stored or shown again."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise invalid("Invalid token", FieldError("a name of 1 to 100 characters is required", "name"))
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise invalid("Invalid token", FieldError("must be between 1 and 3650 days", "expires_in_days"))
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[:12],
        key_hash=hash_key(key),
        project=project,
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    audit_record(
        AuditAction.TOKEN_CREATE,
        project=project,
        actor=user,
        target=token,
        details={
            "name": name,
            "prefix": token.prefix,
            "expires_at": token.expires_at and token.expires_at.isoformat(),
        },
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            AuditAction.TOKEN_REVOKE,
            project=token.project,
            actor=token.user,
            target=token,
            details={"name": token.name, "prefix": token.prefix},
        )
    return token
