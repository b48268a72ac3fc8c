"""Real Chromium (Debian's, driven by Playwright) against pytest-django's live server."""

import os

import pytest
from django.core.cache import cache
from playwright.sync_api import sync_playwright

from apps.catalog.models import NoticeVersion
from apps.consent.services import publish_notice_version
from apps.demo.catalog import load_demo_catalog

# Playwright's sync API runs an event loop in this thread; the ORM calls in the tests are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)  # a first page load can be slow on a busy 2-core CI machine
    yield page
    context.close()


@pytest.fixture
def demo_catalog(transactional_db):
    """The Candor Outfitters catalog (English and German), every notice's first version published."""
    load_demo_catalog()
    for version in NoticeVersion.objects.filter(published_at__isnull=True):
        publish_notice_version(version=version)


@pytest.fixture(autouse=True)
def _sms_to_memory(settings):
    from apps.preferences import sms

    settings.SMS_BACKEND = "apps.preferences.sms.LocmemSmsBackend"
    sms.outbox.clear()
    cache.clear()  # codes and rate-limit counters live in the cache (this run's own Redis database)


def open_section(page, name):
    """Sections start folded to their summary: open one the way a customer does, by its summary."""
    if page.locator(f"#{name} > details:not([open])").count():
        page.locator(f"#{name} > details > summary").click()


def new_context_page(browser, *, width=1280, javascript=True):
    context = browser.new_context(viewport={"width": width, "height": 800}, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(30_000)  # a first page load can be slow on a busy 2-core CI machine
    return page
