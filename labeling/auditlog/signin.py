"""Sign-in throttling that an attacker cannot turn against the users it protects.

Failures are counted per (username, address): a few are free, then each further attempt of that pair waits twice
as long as the last (LOGIN_DELAY_BASE_SECONDS, doubling, at most LOGIN_LOCKOUT_SECONDS). So someone guessing a
user's password from one address slows down exponentially, while the user, from their own address, is never
locked out by it. A coarse per-address limit (LOGIN_MAX_FAILURES_PER_IP within LOGIN_LOCKOUT_SECONDS) stops one
address from spraying many usernames. The address is `client_ip` (X-Forwarded-For only from TRUSTED_PROXIES).

While a pair or an address waits, the password is not checked and nothing is recorded, so a wait always ends.
A successful sign-in of the pair clears its failures; site staff can unlock a username (every address) or an
address (`signin_unlock`, audited). The API login and the Django admin both go through `ThrottledModelBackend`.

Failures are audit events in the database rather than counters in a cache: the count is then shared by every
gunicorn worker and host with no extra service, survives restarts, and the same rows are the audit trail. The
queries use the indexes on (action, target_id, created_at) and (action, ip, created_at).
"""

import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from ipaddress import ip_address

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Q
from django.utils import timezone

from labeling.auditlog.models import AuditAction, AuditEvent
from labeling.auditlog.services import audit_record
from labeling.services.errors import FieldError, invalid

USERNAME, ADDRESS = "username", "address"


@dataclass(frozen=True)
class Limits:
    free_failures: int
    delay_base: float
    longest_wait: timedelta
    memory: timedelta
    per_ip: int


def limits() -> Limits:
    return Limits(
        free_failures=getattr(settings, "LOGIN_FREE_FAILURES", 5),
        delay_base=getattr(settings, "LOGIN_DELAY_BASE_SECONDS", 30),
        longest_wait=timedelta(seconds=getattr(settings, "LOGIN_LOCKOUT_SECONDS", 15 * 60)),
        memory=timedelta(seconds=getattr(settings, "LOGIN_FAILURE_MEMORY_SECONDS", 24 * 3600)),
        per_ip=getattr(settings, "LOGIN_MAX_FAILURES_PER_IP", 20),
    )


def _key(username: str) -> str:
    # Usernames differing only in case count as one, so case games do not multiply the attempts.
    return username.strip().lower()[:150]


def _pair_delay(failures: int, lim: Limits) -> timedelta | None:
    """How long the pair waits after its latest failure, given how many it has; None while still free."""
    if failures < lim.free_failures:
        return None
    doublings = min(failures - lim.free_failures, 40)
    return min(timedelta(seconds=lim.delay_base * 2**doublings), lim.longest_wait)


def _clear_points(key: str, ip: str | None) -> dict[str, datetime | None]:
    """The latest events that wipe earlier failures: the pair's last sign-in, and staff unlocks of the username
    and of the address. One query."""
    kinds = {
        "signed_in": Q(action=AuditAction.LOGIN, target_id=key) & (Q(ip=ip) if ip else Q(ip__isnull=True)),
        "user_unlocked": Q(action=AuditAction.LOGIN_UNLOCK, target_type=USERNAME, target_id=key),
    }
    if ip:
        kinds["ip_unlocked"] = Q(action=AuditAction.LOGIN_UNLOCK, target_type=ADDRESS, target_id=ip)
    rows = AuditEvent.objects.filter(reduce(operator.or_, kinds.values()))
    return rows.aggregate(**{name: Max("created_at", filter=where) for name, where in kinds.items()})


def signin_retry_after(*, username: str, ip: str | None) -> int | None:
    """Seconds until this username may try again from this address, or None when it may try now."""
    now = timezone.now()
    lim = limits()
    key = _key(username)
    cleared = _clear_points(key, ip)
    failed = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
    ends: list[datetime] = []
    since = max(t for t in (now - lim.memory, *cleared.values()) if t is not None)
    pair = failed.filter(target_id=key, created_at__gte=since)
    pair = pair.filter(ip=ip) if ip else pair.filter(ip__isnull=True)
    counted = pair.aggregate(n=Count("id"), last=Max("created_at"))
    delay = _pair_delay(counted["n"], lim)
    if delay is not None:
        ends.append(counted["last"] + delay)
    if ip:
        since = max(t for t in (now - lim.longest_wait, cleared.get("ip_unlocked")) if t is not None)
        recent = failed.filter(ip=ip, created_at__gte=since).order_by("-created_at")
        times = list(recent.values_list("created_at", flat=True)[: lim.per_ip])
        if len(times) >= lim.per_ip:
            ends.append(times[0] + lim.longest_wait)
    ends = [end for end in ends if end > now]
    if not ends:
        return None
    return max(1, int((max(ends) - now).total_seconds()) + 1)


def signin_failed(*, username: str, ip: str | None) -> int | None:
    """Record a failed password; returns the seconds of the wait it started, if it started one (recorded as
    `auth.login_locked`; attempts refused while waiting are not recorded, so the wait ends)."""
    audit_record(AuditAction.LOGIN_FAILED, target_type=USERNAME, target_id=_key(username), ip=ip)
    retry_after = signin_retry_after(username=username, ip=ip)
    if retry_after is not None:
        audit_record(
            AuditAction.LOGIN_LOCKED,
            target_type=USERNAME,
            target_id=_key(username),
            details={"retry_after": retry_after},
            ip=ip,
        )
    return retry_after


def signin_succeeded(*, user: AbstractBaseUser, ip: str | None) -> None:
    audit_record(
        AuditAction.LOGIN, actor=user, target_type=USERNAME, target_id=_key(user.get_username()), ip=ip
    )


def signin_unlock(
    *, actor: AbstractBaseUser, username: str | None = None, ip: str | None = None
) -> list[str]:
    """Site staff lift the waits of a username (from every address) and/or of an address (for every
    username). Each is an audit event, which is also what clears the earlier failures. Returns what was
    unlocked, as "username:…" / "address:…"."""
    username, ip = (username or "").strip(), (ip or "").strip()
    if not username and not ip:
        raise invalid("Nothing to unlock", FieldError("give a username, an ip, or both", "username"))
    if ip:
        try:
            ip = str(ip_address(ip))
        except ValueError:
            raise invalid("Nothing unlocked", FieldError(f"{ip!r} is not an IP address", "ip")) from None
    done = []
    if username:
        audit_record(AuditAction.LOGIN_UNLOCK, actor=actor, target_type=USERNAME, target_id=_key(username))
        done.append(f"{USERNAME}:{_key(username)}")
    if ip:
        audit_record(AuditAction.LOGIN_UNLOCK, actor=actor, target_type=ADDRESS, target_id=ip)
        done.append(f"{ADDRESS}:{ip}")
    return done
