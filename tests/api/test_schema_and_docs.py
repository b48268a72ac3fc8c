from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

pytestmark = pytest.mark.embedded


class _Page(HTMLParser):
    """What a page loads (script src, link href) and whether it carries inline script or style."""

    def __init__(self):
        super().__init__()
        self.urls, self.inline, self._open = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])
        elif tag in ("script", "style"):
            self._open = tag

    def handle_data(self, data):
        if self._open and data.strip():
            self.inline.append(self._open)

    def handle_endtag(self, tag):
        self._open = None


def test_the_openapi_schema_is_public(db):
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/customers/{external_id}/permissions" in response.json()["paths"]


def test_the_browsable_docs_are_served(db):
    assert APIClient().get("/api/docs/").status_code == 200


def test_the_docs_load_only_our_own_static_files_and_no_inline_code(db):
    response = APIClient().get("/api/docs/")
    page = _Page()
    page.feed(response.content.decode())

    assert page.inline == []
    assert page.urls, "the docs page names its Swagger UI files"
    for url in page.urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{url} is on another host"
        if parts.path.startswith(settings.STATIC_URL):
            assert finders.find(parts.path.removeprefix(settings.STATIC_URL)), url
        else:  # the init script, from the docs view itself
            assert APIClient().get(url).status_code == 200, url


def test_the_docs_init_script_is_javascript_from_our_own_origin(db):
    response = APIClient().get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b'url: "/api/schema/"' in response.content
