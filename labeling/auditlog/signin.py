"""Sign-in throttling: too many failed passwords for one username, or from one address, lock sign-in out.

Failures are audit events in the database rather than counters in a cache: the count is then shared by every
gunicorn worker and host with no extra service (a per-process cache would multiply the limit by the number of
workers), survives restarts, and the same rows are the audit trail. The queries use an index on (action, key,
time) and look at a 15-minute window only.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from labeling.auditlog.models import AuditAction, AuditEvent
from labeling.auditlog.services import audit_record


@dataclass(frozen=True)
class Limits:
    per_username: int
    per_ip: int
    window: timedelta


def limits() -> Limits:
    return Limits(
        per_username=getattr(settings, "LOGIN_MAX_FAILURES_PER_USERNAME", 5),
        per_ip=getattr(settings, "LOGIN_MAX_FAILURES_PER_IP", 20),
        window=timedelta(seconds=getattr(settings, "LOGIN_LOCKOUT_SECONDS", 15 * 60)),
    )


def _key(username: str) -> str:
    # Usernames differing only in case count as one, so case games do not multiply the attempts.
    return username.strip().lower()[:150]


def _locked_until(failures, limit: int, since):
    """When the lock on these failures ends, or None: `limit` failures within the window lock for a window
    after the last of them (failures are not recorded while locked, so a lock always ends)."""
    recent = (
        failures.filter(created_at__gte=since).order_by("-created_at").values_list("created_at", flat=True)
    )
    times = list(recent[:limit])
    if len(times) < limit:
        return None
    return times[0] + limits().window


def signin_retry_after(*, username: str, ip: str | None) -> int | None:
    """Seconds until this username (or address) may try again, or None when it may try now."""
    now = timezone.now()
    lim = limits()
    since = now - lim.window
    failed = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
    # A successful sign-in of the username clears its earlier failures.
    last_ok = AuditEvent.objects.filter(action=AuditAction.LOGIN, target_id=_key(username)).aggregate(
        t=Max("created_at")
    )["t"]
    ends = [
        _locked_until(failed.filter(target_id=_key(username)), lim.per_username, max(since, last_ok or since))
    ]
    if ip:
        ends.append(_locked_until(failed.filter(ip=ip), lim.per_ip, since))
    ends = [end for end in ends if end is not None and end > now]
    if not ends:
        return None
    return max(1, int((max(ends) - now).total_seconds()) + 1)


def signin_failed(*, username: str, ip: str | None) -> int | None:
    """Record a failed password; returns the seconds of the lockout it started, if it started one (recorded
    once as `auth.login_locked`; attempts refused while locked are not recorded, so the lock ends)."""
    audit_record(AuditAction.LOGIN_FAILED, target_type="username", target_id=_key(username), ip=ip)
    retry_after = signin_retry_after(username=username, ip=ip)
    if retry_after is not None:
        audit_record(
            AuditAction.LOGIN_LOCKED,
            target_type="username",
            target_id=_key(username),
            details={"retry_after": retry_after},
            ip=ip,
        )
    return retry_after


def signin_succeeded(*, user, ip: str | None) -> None:
    audit_record(
        AuditAction.LOGIN, actor=user, target_type="username", target_id=_key(user.get_username()), ip=ip
    )
