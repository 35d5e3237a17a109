"""The Content-Security-Policy (no inline script anywhere) leaves every page working in Chromium: the browser
app, the API docs (Swagger UI from drf-spectacular's split view) and the Django admin raise no violation."""

import pytest

from labeling.tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile));
"""


def test_pages_work_under_the_csp(live_server, browser):
    make_user("csp-admin", is_staff=True, is_superuser=True)
    context = browser.new_context()
    context.add_init_script(WATCH)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto(live_server.url + "/")
    page.fill("input[name=username]", "csp-admin")
    page.fill("input[name=password]", "pw-csp-admin")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your projects")
    assert page.evaluate("window.__violations") == []

    page.goto(live_server.url + "/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.locator(".opblock").count() > 20
    assert page.evaluate("window.__violations") == []

    page.goto(live_server.url + "/admin/")
    page.wait_for_selector("#site-name")
    assert page.locator("a[href='/admin/auditlog/auditevent/']").count() >= 1
    page.goto(live_server.url + "/admin/auditlog/auditevent/")
    page.wait_for_selector("#result_list, .paginator")
    assert page.evaluate("window.__violations") == []
    assert console == [], console
    context.close()
