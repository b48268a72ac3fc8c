"""Updated-since pages, the change feed and the NDJSON export."""

import json
import threading
import time
from datetime import timedelta

import psycopg
import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.consent.models import PermissionDocument
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded


# The change feed serves only rows of finished transactions, so its tests commit (on PostgreSQL an ordinary
# test's own open transaction would hold every row back). Any writing transaction still open in the database
# holds the feed back until it ends: feed tests poll until they have what they expect.
# (SQLite's feed needs no such thing, and its append-only triggers refuse the flush of a transactional test.)
feed_test = pytest.mark.django_db(transaction="postgresql" in settings.DATABASES["default"]["ENGINE"])
FEED_PATIENCE_SECONDS = 60


def read_feed(api, expected, cursor=None, limit=100):
    """Poll the change feed from ``cursor`` until ``expected`` changes came (or patience ran out)."""
    seen, deadline = [], time.monotonic() + FEED_PATIENCE_SECONDS
    while len(seen) < expected and time.monotonic() < deadline:
        body = api.get(
            "/api/v1/permissions/changes", {"limit": limit, **({"after": cursor} if cursor else {})}
        ).json()
        seen += [(item["external_id"], item["version"]) for item in body["changes"]]
        cursor = body["next_cursor"]
        if not body["changes"]:
            time.sleep(0.05)
    return seen, cursor


def toggle(customer, state="given"):
    return record_choices(
        customer=customer,
        choices=[make_choice("channel:sms", state)],
        provenance=Provenance(source="web", actor="customer"),
    )


def read_all(api, url, params, items_key, cursor_param):
    seen, cursor = [], None
    while True:
        body = api.get(url, {**params, **({cursor_param: cursor} if cursor else {})}).json()
        seen += [(item["external_id"], item["version"]) for item in body[items_key]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return seen, cursor


def test_updated_since_lists_current_documents_changed_since_the_time(catalog, api):
    old, recent = CustomerFactory(), CustomerFactory()
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        toggle(old)
    toggle(recent)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    body = api.get("/api/v1/permissions", {"updated_since": since}).json()
    assert [item["external_id"] for item in body["results"]] == [recent.external_id]


def test_updated_since_pages_through_every_customer_once(catalog, api):
    customers = [CustomerFactory() for _ in range(7)]
    for customer in customers:
        toggle(customer)
    seen, _ = read_all(
        api, "/api/v1/permissions", {"updated_since": "2000-01-01T00:00:00Z", "limit": 3}, "results", "cursor"
    )
    assert sorted(seen) == sorted((c.external_id, 1) for c in customers)


def test_updated_since_shows_only_the_latest_version_of_a_customer(catalog, api):
    customer = CustomerFactory()
    toggle(customer)
    toggle(customer, "withdrawn")
    body = api.get("/api/v1/permissions", {"updated_since": "2000-01-01T00:00:00Z"}).json()
    assert [(item["external_id"], item["version"]) for item in body["results"]] == [(customer.external_id, 2)]


def test_pages_are_read_by_key_never_by_offset(catalog, api):
    for _ in range(4):
        toggle(CustomerFactory())
    first = api.get("/api/v1/permissions", {"updated_since": "2000-01-01T00:00:00Z", "limit": 2}).json()
    with CaptureQueriesContext(connection) as queries:
        api.get(
            "/api/v1/permissions",
            {"updated_since": "2000-01-01T00:00:00Z", "limit": 2, "cursor": first["next_cursor"]},
        )
        api.get("/api/v1/permissions/changes", {"limit": 2, "after": first["next_cursor"]})
    assert not any("OFFSET" in query["sql"].upper() for query in queries)


def test_a_cursor_this_api_did_not_give_out_is_a_400(catalog, api):
    response = api.get("/api/v1/permissions/changes", {"after": "bm90LWEtY3Vyc29y"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/after"


@feed_test
def test_the_change_feed_lists_every_version_in_order(catalog, api):
    first, second = CustomerFactory(), CustomerFactory()
    toggle(first)
    toggle(second)
    toggle(first, "withdrawn")
    seen, _ = read_feed(api, expected=3, limit=2)
    assert seen == [(first.external_id, 1), (second.external_id, 1), (first.external_id, 2)]


@feed_test
def test_the_change_feed_continues_after_the_stored_cursor(catalog, api):
    customer = CustomerFactory()
    toggle(customer)
    _, cursor = read_feed(api, expected=1)
    toggle(customer, "withdrawn")
    seen, _ = read_feed(api, expected=1, cursor=cursor)
    assert seen == [(customer.external_id, 2)]


@feed_test
def test_an_empty_page_gives_back_the_same_cursor(catalog, api):
    toggle(CustomerFactory())
    _, cursor = read_feed(api, expected=1)
    body = api.get("/api/v1/permissions/changes", {"after": cursor}).json()
    assert (body["changes"], body["next_cursor"]) == ([], cursor)


def test_the_export_streams_one_ndjson_line_per_customer(catalog, api):
    chose, never = CustomerFactory(), CustomerFactory()
    document = toggle(chose).document
    response = api.get("/api/v1/permissions/export")
    assert response["Content-Type"] == "application/x-ndjson"
    assert response.streaming
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [(line["external_id"], line["version"]) for line in lines] == [
        (chose.external_id, 1),
        (never.external_id, 0),
    ]
    assert lines[0]["permissions"] == document.body
    assert lines[1]["permissions"]["channels"]["sms"]["allowed"] is False


def test_the_export_reads_in_chunks_however_many_customers_there_are(catalog, api):
    for _ in range(5):
        toggle(CustomerFactory())
    response = api.get("/api/v1/permissions/export")
    chunks = list(response.streaming_content)
    assert sum(chunk.count(b"\n") for chunk in chunks) == 5
    assert PermissionDocument.objects.count() == 5


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: there, id order is commit order")


@feed_test
def test_a_change_committed_behind_an_open_transaction_waits_for_it(catalog, api, postgresql_only):
    """The open transaction took its id first; serving the later commit now would skip it for good."""
    early, late = CustomerFactory(), CustomerFactory()
    written, release = threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                toggle(early)
                written.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    written.wait(10)
    toggle(late)  # commits first, with the larger transaction id
    held_back = api.get("/api/v1/permissions/changes").json()["changes"]
    release.set()
    thread.join()
    seen, _ = read_feed(api, expected=2)
    assert held_back == []
    assert seen == [(early.external_id, 1), (late.external_id, 1)]


@feed_test
def test_a_write_open_in_another_database_does_not_hold_the_feed_back(catalog, api, postgresql_only):
    """Transaction ids are the server's, but only this database's transactions can write documents."""
    customer = CustomerFactory()
    default = settings.DATABASES["default"]
    elsewhere = psycopg.connect(
        host=default["HOST"], port=default["PORT"], user=default["USER"], dbname="postgres"
    )
    try:
        # Takes a transaction id older than the change below, and holds it.
        elsewhere.execute("SELECT pg_current_xact_id()")
        toggle(customer)
        served = api.get("/api/v1/permissions/changes").json()["changes"]
    finally:
        elsewhere.rollback()
        elsewhere.close()
    assert [(item["external_id"], item["version"]) for item in served] == [(customer.external_id, 1)]
