"""Sign-in is throttled: after 5 wrong passwords for one username from one address, that pair waits (30 s,
doubling with each further failure, at most the lockout period), and 20 from one address within the lockout
period lock the address out; 429 with Retry-After. The count is in the database, shared by every worker."""

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
    assert settings.LOGIN_DELAY_BASE_SECONDS - 2 < retry <= settings.LOGIN_DELAY_BASE_SECONDS + 1
    # Locked: even the right password is refused, and with a different case of the name too.
    locked = sign_in(client, "ALICE", "pw-alice")
    assert locked.status_code == 429 and "try again in" in locked.json()["detail"]
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED, target_id="alice").count() == 1
    # Refused attempts are not counted, so the wait ends its length after the fifth failure.
    AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).update(
        created_at=timezone.now() - timedelta(seconds=retry + 1)
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


# --- Lockout without denial of service (issue 11, findings 4 and 14) ---


def admin_sign_in(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    client.get("/admin/login/", REMOTE_ADDR=ip)
    return client.post(
        "/admin/login/?next=/admin/",
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
        REMOTE_ADDR=ip,
    )


def test_the_django_admin_login_goes_through_the_same_lockout():
    """Finding 4: /admin/login/ used to try passwords without limit."""
    make_user("root", is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    for _ in range(5):
        failed = admin_sign_in(client, "root", "wrong")
        assert failed.status_code == 200 and "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, target_id="root").count() == 5
    # Locked: the right password is not even checked, and the page says no more than for a wrong one.
    locked = admin_sign_in(client, "root", "pw-root")
    assert locked.status_code == 200 and "_auth_user_id" not in client.session
    wrong = admin_sign_in(Client(enforce_csrf_checks=True), "nobody", "wrong", ip="10.7.7.7")
    assert _form_errors(locked) == _form_errors(wrong) != ""
    # One count for both doors: the API refuses the same pair too.
    assert sign_in(Client(enforce_csrf_checks=True), "root", "pw-root").status_code == 429
    # From another address the admin signs in at once.
    ok = admin_sign_in(Client(enforce_csrf_checks=True), "root", "pw-root", ip="10.2.2.2")
    assert ok.status_code == 302 and ok["Location"] == "/admin/"
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, target_id="root", ip="10.2.2.2").exists()


def _form_errors(response) -> str:
    import re

    return " ".join(re.findall(r'<p class="errornote">\s*(.*?)\s*</p>', response.content.decode(), re.S))


def test_an_attackers_failures_do_not_lock_the_user_out_from_elsewhere():
    """Finding 14: five wrong passwords used to lock the account for everyone for 15 minutes."""
    user = make_user("victim")
    attacker = Client(enforce_csrf_checks=True)
    statuses = [sign_in(attacker, "victim", "guess", ip="203.0.113.66").status_code for _ in range(6)]
    assert statuses == [400] * 4 + [429, 429]
    ok = sign_in(Client(enforce_csrf_checks=True), "victim", "pw-victim", ip="198.51.100.7")
    assert ok.status_code == 200 and ok.json()["id"] == user.pk


def test_the_delay_for_one_username_and_address_doubles_up_to_a_cap(settings):
    settings.LOGIN_DELAY_BASE_SECONDS = 30
    settings.LOGIN_LOCKOUT_SECONDS = 100
    make_user("frank")
    client = Client(enforce_csrf_checks=True)
    for _ in range(4):
        assert sign_in(client, "frank", "wrong").status_code == 400
    waits = []
    for _ in range(4):
        locked = sign_in(client, "frank", "wrong")
        assert locked.status_code == 429 and locked.json()["code"] == "locked_out"
        waits.append(int(locked["Retry-After"]))
        # While locked nothing is counted; once the wait is over, the next failure doubles it.
        assert sign_in(client, "frank", "pw-frank").status_code == 429
        AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).update(
            created_at=timezone.now() - timedelta(seconds=waits[-1] + 1)
        )
    assert [w // 10 for w in waits] == [3, 6, 10, 10]
    assert sign_in(client, "frank", "pw-frank").status_code == 200


def test_site_staff_unlock_a_username_and_it_is_audited():
    user = make_user("grace")
    staff = make_user("ops", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    for _ in range(5):
        sign_in(client, "grace", "wrong", ip="10.3.3.3")
    assert sign_in(client, "grace", "pw-grace", ip="10.3.3.3").status_code == 429

    from rest_framework.test import APIClient

    labeler = APIClient()
    labeler.force_authenticate(user)
    assert labeler.post("/api/auth/unlock", {"username": "grace"}, format="json").status_code == 403
    ops = APIClient()
    ops.force_authenticate(staff)
    bad = ops.post("/api/auth/unlock", {}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "username"
    bad_ip = ops.post("/api/auth/unlock", {"ip": "not-an-ip"}, format="json")
    assert bad_ip.status_code == 400 and bad_ip.json()["errors"][0]["field"] == "ip"
    done = ops.post("/api/auth/unlock", {"username": "GRACE"}, format="json")
    assert done.status_code == 200, done.content
    event = AuditEvent.objects.get(action="auth.unlock")
    assert (event.actor, event.target_type, event.target_id) == (staff, "username", "grace")
    assert sign_in(client, "grace", "pw-grace", ip="10.3.3.3").status_code == 200


def test_site_staff_unlock_an_address():
    make_user("heidi")
    staff = make_user("ops2", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    for i in range(20):
        sign_in(client, f"guess{i}", "wrong", ip="10.4.4.4")
    assert sign_in(client, "heidi", "pw-heidi", ip="10.4.4.4").status_code == 429
    from rest_framework.test import APIClient

    ops = APIClient()
    ops.force_authenticate(staff)
    assert ops.post("/api/auth/unlock", {"ip": "10.4.4.4"}, format="json").status_code == 200
    assert sign_in(client, "heidi", "pw-heidi", ip="10.4.4.4").status_code == 200


def test_behind_a_trusted_proxy_each_client_has_its_own_address(settings):
    """Finding 14: behind a reverse proxy every user used to share the proxy's address."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    make_user("ivan")
    client = Client(enforce_csrf_checks=True)

    def through_proxy(password: str, client_address: str):
        token = client.get("/api/auth/csrf").json()["csrf_token"]
        return client.post(
            "/api/auth/login",
            {"username": "ivan", "password": password},
            content_type="application/json",
            HTTP_X_CSRFTOKEN=token,
            REMOTE_ADDR="10.0.0.2",
            # What the client sent first, then what the proxy appended: the client's real address.
            HTTP_X_FORWARDED_FOR=f"1.2.3.4, {client_address}",
        )

    for _ in range(5):
        through_proxy("wrong", "203.0.113.9")
    assert through_proxy("pw-ivan", "203.0.113.9").status_code == 429
    assert through_proxy("pw-ivan", "198.51.100.20").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, ip="198.51.100.20").exists()
    assert not AuditEvent.objects.filter(ip__in=["10.0.0.2", "1.2.3.4"]).exists()


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("10.0.0.2", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.7", "203.0.113.9"),  # two proxies: right-most untrusted
        ("198.51.100.1", "203.0.113.9", "198.51.100.1"),  # not from a trusted proxy: the header is ignored
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "garbage, 203.0.113.9", "203.0.113.9"),
        ("10.0.0.2", "203.0.113.9, garbage", "10.0.0.2"),  # unparsable where the proxy writes: the proxy
        ("10.0.0.2", "203.0.113.9:4711", "203.0.113.9"),
        ("10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
        ("10.0.0.2", "10.0.0.3, 10.0.0.4", "10.0.0.3"),  # all trusted: the furthest one
    ],
)
def test_client_address_from_x_forwarded_for(settings, remote, forwarded, expected):
    from django.test import RequestFactory

    from labeling.auditlog.context import client_ip

    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "::1"]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
    settings.TRUSTED_PROXIES = []
    assert client_ip(request) == remote


def test_the_django_admin_action_unlocks_the_selected_usernames():
    make_user("judy")
    staff = make_user("root2", is_staff=True, is_superuser=True)
    for _ in range(5):
        sign_in(Client(enforce_csrf_checks=True), "judy", "wrong", ip="10.5.5.5")
    assert sign_in(Client(enforce_csrf_checks=True), "judy", "pw-judy", ip="10.5.5.5").status_code == 429
    admin = Client()
    admin.force_login(staff)
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, target_id="judy")
    done = admin.post(
        "/admin/auditlog/auditevent/",
        {"action": "unlock_signin", "_selected_action": [e.pk for e in failures]},
    )
    assert done.status_code == 302
    assert AuditEvent.objects.get(action=AuditAction.LOGIN_UNLOCK).actor == staff
    assert sign_in(Client(enforce_csrf_checks=True), "judy", "pw-judy", ip="10.5.5.5").status_code == 200
