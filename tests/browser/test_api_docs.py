"""The API docs in Chromium: Swagger UI from our own static files, under the site's strict CSP."""

from urllib.parse import urlsplit

from django.urls import reverse
from playwright.sync_api import expect


def test_swagger_ui_renders_from_our_own_files_without_breaking_the_csp(live_server, page):
    errors, hosts, failed = [], set(), []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("requestfailed", lambda request: failed.append(request.url))

    response = page.goto(live_server.url + reverse("api:docs"))

    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Candor API")
    expect(page.get_by_text("/api/v1/catalog", exact=True)).to_be_visible()
    assert hosts == {urlsplit(live_server.url).netloc}
    assert failed == []
    assert errors == []
