"""Sign-in is throttled: wrong passwords for one username (5 by default) or from one address (20) within the
lockout period lock it out with 429 and Retry-After; the count is in the database, shared by every worker."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from labeling.auditlog.models import AuditAction, AuditEvent
from labeling.tests.factories import make_user

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    # A browser-like client that enforces CSRF, as the real login does.
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    return client.post(
        "/api/auth/login",
        {"username": username, "password": password},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
        REMOTE_ADDR=ip,
    )


def test_lockout_after_five_failures_then_unlock(settings):
    user = make_user("alice")
    client = Client(enforce_csrf_checks=True)
    for _ in range(4):
        assert sign_in(client, "alice", "wrong").status_code == 400
    fifth = sign_in(client, "alice", "wrong")
    assert fifth.status_code == 429
    assert fifth.json()["code"] == "locked_out"
    retry = int(fifth["Retry-After"])
    assert 14 * 60 < retry <= 15 * 60 + 1
    # Locked: even the right password is refused, and with a different case of the name too.
    locked = sign_in(client, "ALICE", "pw-alice")
    assert locked.status_code == 429 and "try again in" in locked.json()["detail"]
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED, target_id="alice").count() == 1
    # Refused attempts are not counted, so the lock ends a lockout period after the fifth failure.
    AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).update(
        created_at=timezone.now() - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1)
    )
    ok = sign_in(client, "alice", "pw-alice")
    assert ok.status_code == 200 and ok.json()["id"] == user.pk
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=user).count() == 1


def test_success_clears_earlier_failures():
    make_user("bob")
    client = Client(enforce_csrf_checks=True)
    for _ in range(4):
        sign_in(client, "bob", "wrong")
    assert sign_in(client, "bob", "pw-bob").status_code == 200
    for _ in range(4):
        assert sign_in(Client(enforce_csrf_checks=True), "bob", "wrong").status_code == 400


def test_one_address_trying_many_usernames_is_locked_out():
    make_user("carol")
    client = Client(enforce_csrf_checks=True)
    statuses = [sign_in(client, f"guess{i}", "wrong", ip="10.9.9.9").status_code for i in range(20)]
    assert statuses[:19] == [400] * 19 and statuses[19] == 429
    # From that address even a real user's right password waits; from another address it works.
    assert sign_in(client, "carol", "pw-carol", ip="10.9.9.9").status_code == 429
    assert sign_in(Client(enforce_csrf_checks=True), "carol", "pw-carol", ip="10.1.1.1").status_code == 200


def test_login_requires_csrf():
    make_user("dave")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/auth/login", {"username": "dave", "password": "pw-dave"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_session_writes_require_csrf_but_token_writes_do_not():
    from labeling.services.tokens import api_token_create

    user = make_user("erin", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    assert sign_in(client, "erin", "pw-erin").status_code == 200
    bare = client.post("/api/projects/", {"name": "No CSRF"}, content_type="application/json")
    assert bare.status_code == 403 and "CSRF" in bare.json()["detail"]
    token = client.cookies["csrftoken"].value
    with_token = client.post(
        "/api/projects/", {"name": "With CSRF"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert with_token.status_code == 201
    # A script's API token is not ambient authority, so it needs no CSRF token.
    _, key = api_token_create(user=user, name="script")
    scripted = Client(enforce_csrf_checks=True).post(
        "/api/projects/",
        {"name": "By token"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert scripted.status_code == 201
