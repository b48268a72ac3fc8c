"""Reads for the API: permission documents (current, at a time, updated since, as a change feed, as an export),
consent history, the catalog and API clients. Every list is keyset-paginated; nothing pages by OFFSET.
"""

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, Prefetch, Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from apps.catalog.models import Channel, Notice, NoticeVersion, Option, Topic
from apps.catalog.purposes import topic_purpose
from apps.catalog.selectors import catalog_rules
from apps.consent.documents import PermissionBody
from apps.consent.models import ConsentEvent, PermissionDocument, Snapshot
from apps.consent.rules import derive_permissions
from apps.consent.selectors import permission_document_at
from apps.customers import links
from apps.customers.models import Customer, Inference

from .models import ApiClient

MAX_EXTERNAL_ID_LENGTH: int = Customer._meta.get_field("external_id").max_length  # type: ignore[assignment]


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


# Clients by key hash, kept in this process for API_KEY_CACHE_SECONDS: a key check costs no query on most
# requests. Revoking clears this process's entry at once; other processes notice within that time.
_clients_by_key: dict[str, tuple[float, ApiClient]] = {}


def api_client_by_key(raw_key: str) -> ApiClient | None:
    digest = hash_key(raw_key)
    cached = _clients_by_key.get(digest)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    client = ApiClient.objects.filter(key_hash=digest).first()
    if client is not None and settings.API_KEY_CACHE_SECONDS:
        _clients_by_key[digest] = (time.monotonic() + settings.API_KEY_CACHE_SECONDS, client)
    return client


def forget_api_client(client: ApiClient) -> None:
    _clients_by_key.pop(client.key_hash, None)


def _could_be_external_id(external_id: str) -> bool:
    # A NUL byte or an over-long id cannot name a customer (and PostgreSQL refuses NUL in a query).
    return "\x00" not in external_id and len(external_id) <= MAX_EXTERNAL_ID_LENGTH


def customer_by_external_id(external_id: str) -> Customer | None:
    if not _could_be_external_id(external_id):
        return None
    return Customer.objects.filter(external_id=external_id).first()


def customer_inferences(customer: Customer) -> list[dict]:
    return [
        {
            "code": item.code,
            "label": item.label,
            "source": item.source,
            "purpose": item.purpose,
            "removed": item.removal or None,
        }
        for item in Inference.objects.filter(customer=customer).order_by("code")
    ]


@dataclass(frozen=True)
class CurrentPermissions:
    external_id: str
    version: int
    updated_at: datetime | None
    permissions: PermissionBody

    @property
    def etag(self) -> str:
        if self.version:
            return f'"v{self.version}"'
        # Version 0 is the default before any choice; it follows the catalog, so its tag follows the body.
        digest = json.dumps(self.permissions, sort_keys=True).encode()
        return f'"v0-{hash_key(digest.decode())[:16]}"'


def default_permissions() -> PermissionBody:
    """What a customer who has chosen nothing allows: nothing beyond the catalog's defaults."""
    return derive_permissions({}, catalog_rules(), timezone.now())


# The hottest read of the API (an ESP asks before every send): one statement, written out once instead of
# compiled by the ORM on every request.
CURRENT_PERMISSIONS_SQL = (
    "SELECT d.version, d.created_at, d.body FROM customers_customer c "
    "LEFT JOIN consent_snapshot s ON s.customer_id = c.id "
    "LEFT JOIN consent_permissiondocument d ON d.id = s.document_id "
    "WHERE c.external_id = %s"
)


def current_permissions(external_id: str) -> CurrentPermissions | None:
    """The customer's current permission document (the snapshot's); version 0 if they never chose; None if
    there is no such customer."""
    if not _could_be_external_id(external_id):
        return None
    with connection.cursor() as cursor:
        cursor.execute(CURRENT_PERMISSIONS_SQL, [external_id])
        row = cursor.fetchone()
    if row is None:
        return None
    version, updated_at, body = row
    if version is None:
        return CurrentPermissions(external_id, 0, None, default_permissions())
    body_field = PermissionDocument._meta.get_field("body")
    updated_at = updated_at if isinstance(updated_at, datetime) else _from_db_datetime(updated_at)
    return CurrentPermissions(
        external_id,
        version,
        updated_at,
        body_field.from_db_value(body, None, connection),  # type: ignore[arg-type]
    )


def _from_db_datetime(value) -> datetime:
    """SQLite hands a raw cursor its timestamps as text."""
    return PermissionDocument._meta.get_field("created_at").to_python(value)


@dataclass(frozen=True)
class PermissionsAt:
    external_id: str
    at: datetime
    permissions: PermissionBody
    derived_from: list[int]


def permissions_at(customer: Customer, at: datetime) -> PermissionsAt:
    answer = permission_document_at(customer, at)
    return PermissionsAt(customer.external_id, answer.at, answer.body, answer.derived_from)


# Cursors are opaque to clients: base64 of a small JSON list.


def encode_cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str, types: tuple) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError
        return [kind(value) for kind, value in zip(types, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError) as error:
        raise ValidationError({field: "Not a cursor this API gave out."}) from error


def _timestamp(value) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive")
    # In UTC now: the database adapter would convert it later, and a time at the edge of the calendar
    # (0001-01-01 east of UTC) overflows there, where it answered 500.
    return parsed.astimezone(UTC)


def _bigint(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError("not a bigint")
    return value


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None
    has_more: bool


def permissions_updated_since(*, since: datetime, cursor: str | None, limit: int) -> Page:
    """Current documents of customers whose permissions changed at or after ``since``, oldest change first.

    Keyset-paginated on (document time, document id): every page is an index range scan, however deep.
    A customer whose permissions change again while a client pages moves to the end (and is seen again).
    For an exact, exactly-once stream use the change feed.
    """
    snapshots = Snapshot.objects.filter(document__created_at__gte=since)
    if cursor:
        after_time, after_id = decode_cursor(cursor, "cursor", (_timestamp, _bigint))
        snapshots = snapshots.filter(document__created_at__gte=after_time).filter(
            Q(document__created_at__gt=after_time) | Q(document_id__gt=after_id)
        )
    rows = list(
        snapshots.select_related("customer", "document")
        .only("customer__external_id", "document__version", "document__created_at", "document__body")
        .order_by("document__created_at", "document_id")[: limit + 1]
    )
    items = [
        CurrentPermissions(
            row.customer.external_id, row.document.version, row.document.created_at, row.document.body
        )
        for row in rows[:limit]
    ]
    has_more = len(rows) > limit
    last = rows[limit - 1] if has_more else (rows[-1] if rows else None)
    next_cursor = encode_cursor(last.document.created_at.isoformat(), last.document_id) if last else cursor
    return Page(items=items, next_cursor=next_cursor, has_more=has_more)


@dataclass(frozen=True)
class PermissionChange:
    external_id: str
    version: int
    updated_at: datetime
    permissions: dict


# The snapshot's xmin, leaving out transactions known to run in another database: transaction ids are shared by
# the whole server, but only this database's transactions can write documents, so a long write elsewhere (a
# migration, a bulk load) need not hold the feed back. Only a transaction that pg_stat_activity shows running
# in another database is left out: one that ended meanwhile, or whose database the role may not see (without
# pg_read_all_stats, another role's backend_xid reads NULL), or a prepared one, still counts, so the horizon can
# only be lower than the exact one, never past a row still to come. backend_xid is the 32-bit form of the xid8.
FEED_HORIZON = (
    "(SELECT coalesce((SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x "
    "WHERE mod(x::text::bigint, 4294967296) NOT IN (SELECT backend_xid::text::bigint FROM pg_stat_activity "
    "WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())), "
    "pg_snapshot_xmax(s)::text::bigint) FROM pg_current_snapshot() AS s)"
)


def permission_changes(*, after: str | None, limit: int) -> Page:
    """Every permission-document version after the cursor, in one fixed order, each exactly once.

    PostgreSQL assigns ids (and transaction ids) before commit, so a row with a smaller id can commit after a
    reader has passed it. Rows are therefore served in (writing transaction id, id) order, and only rows whose
    transaction id is below the reader's snapshot xmin (``FEED_HORIZON``: transactions of other databases left
    out): every transaction that could still add a row before that point has finished, so nothing can later
    appear behind the cursor. Within one customer the order
    is version order, because the write path takes the transaction id under the customer's row lock.
    On SQLite writers are serialised, so id order is commit order.
    """
    documents = PermissionDocument.objects.all()
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        documents = documents.filter(commit_xid__lt=RawSQL(FEED_HORIZON, []))  # noqa: S611 (a constant)
        if after:
            after_xid, after_id = decode_cursor(after, "after", (_bigint, _bigint))
            # A row comparison, so that the (commit_xid, id) index starts right at the cursor even when many
            # rows share one transaction (a bulk import).
            documents = documents.filter(
                RawSQL(
                    '("consent_permissiondocument"."commit_xid", "consent_permissiondocument"."id") > (%s, %s)',
                    [after_xid, after_id],
                    output_field=BooleanField(),
                )
            )
        documents = documents.order_by("commit_xid", "id")
    else:
        if after:
            _, after_id = decode_cursor(after, "after", (_bigint, _bigint))
            documents = documents.filter(id__gt=after_id)
        documents = documents.order_by("id")
    rows = list(
        documents.select_related("customer").only(
            "customer__external_id", "version", "created_at", "body", "commit_xid"
        )[: limit + 1]
    )
    page = rows[:limit]
    items = [
        PermissionChange(row.customer.external_id, row.version, row.created_at, row.body) for row in page
    ]
    if page:
        last = page[-1]
        next_cursor = encode_cursor(last.commit_xid or 0, last.id)
    else:
        next_cursor = after or encode_cursor(0, 0)
    return Page(items=items, next_cursor=next_cursor, has_more=len(rows) > limit)


def permission_export_chunks(*, chunk_size: int = 2000) -> Iterator[str]:
    """Every customer's current permission document as NDJSON, in chunks of lines.

    Read through a server-side cursor (``iterator``), so memory stays bounded at any size; the document body
    comes out of the database as JSON text and is not parsed and re-encoded here.
    """
    default = json.dumps(default_permissions(), separators=(",", ":"))
    rows = (
        Customer.objects.order_by("id")
        .values_list(
            "external_id",
            "consent_snapshot__document__version",
            "consent_snapshot__document__created_at",
            Cast("consent_snapshot__document__body", TextField()),
        )
        .iterator(chunk_size=chunk_size)
    )
    lines = []
    for external_id, version, created_at, body in rows:
        lines.append(
            f'{{"external_id":{json.dumps(external_id)},"version":{version or 0},'
            f'"updated_at":{json.dumps(created_at.isoformat()) if created_at else "null"},'
            f'"permissions":{body or default}}}\n'
        )
        if len(lines) >= chunk_size:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def consent_history(*, customer: Customer, after: int, limit: int) -> Page:
    """The customer's ledger events after a sequence number, in order; evidence and hashes stay inside."""
    events = list(
        ConsentEvent.objects.filter(customer=customer, sequence__gt=after)
        .order_by("sequence")
        .only(
            "sequence",
            "purpose",
            "state",
            "value",
            "notice_version_id",
            "language",
            "source",
            "actor",
            "recorded_at",
            "captured_at",
            "expires_at",
        )[: limit + 1]
    )
    page = events[:limit]
    return Page(
        items=page,
        next_cursor=str(page[-1].sequence) if page else str(after),
        has_more=len(events) > limit,
    )


@dataclass(frozen=True)
class Catalog:
    channels: list
    topics: list
    options: list
    notices: list


def catalog() -> Catalog:
    """The whole catalog in six queries; each notice carries its current published version and texts."""
    published = (
        NoticeVersion.objects.filter(published_at__isnull=False).order_by("-number").prefetch_related("texts")
    )
    notices = list(
        Notice.objects.prefetch_related(Prefetch("versions", queryset=published, to_attr="published"))
    )
    for notice in notices:
        notice.current_version = notice.published[0] if notice.published else None  # type: ignore[attr-defined]
    return Catalog(
        channels=list(Channel.objects.all()),
        topics=list(Topic.objects.prefetch_related("channels")),
        options=list(Option.objects.all()),
        notices=notices,
    )


# --- for senders: per-message links -----------------------------------------------------------------------------


class MessageLinks(NamedTuple):
    """A named tuple, not a dataclass: a batch makes a thousand."""

    external_id: str
    page_url: str
    page_expires_at: datetime
    unsubscribe_url: str | None
    unsubscribe_expires_at: datetime | None
    headers: dict[str, str] | None


def message_links(recipients: list[dict]) -> list[MessageLinks]:
    """Per recipient (``external_id``, optional ``topic`` and ``channel``), the links a message carries.

    The preference-page link, and for email the RFC 8058 one-click unsubscribe URL and headers, scoped to the
    topic if one is given (else to email as a whole), all made by ``apps.customers.links``. Raises
    ``ValidationError`` keyed ``<index>/external_id`` for an unknown or erased customer.
    """
    # Plain rows, not model instances: all a link needs is the id and the link key.
    customers = {
        external_id: (pk, erased_at, link_key)
        for external_id, pk, erased_at, link_key in Customer.objects.filter(
            external_id__in={recipient["external_id"] for recipient in recipients}
        ).values_list("external_id", "id", "erased_at", "link_key")
    }
    problems = {
        f"{index}/external_id": ["No customer with this external id."]
        for index, recipient in enumerate(recipients)
        if recipient["external_id"] not in customers or customers[recipient["external_id"]][1]
    }
    if problems:
        raise ValidationError(problems)
    now = timezone.now()
    page_expires = now + timedelta(seconds=links.max_age(links.PAGE))
    unsubscribe_expires = now + timedelta(seconds=links.max_age(links.UNSUBSCRIBE))
    answers = []
    batch = links.BatchLinks()
    for recipient in recipients:
        external_id = recipient["external_id"]
        customer_id, _, link_key = customers[external_id]
        by_email = recipient.get("channel", "email") == "email"
        scope = topic_purpose(recipient["topic"]) if recipient.get("topic") else "channel:email"
        unsubscribe_url = batch.unsubscribe_url(customer_id, scope) if by_email else None
        answers.append(
            MessageLinks(
                external_id=external_id,
                page_url=batch.page_url(customer_id, link_key),
                page_expires_at=page_expires,
                unsubscribe_url=unsubscribe_url,
                unsubscribe_expires_at=unsubscribe_expires if by_email else None,
                headers=links.unsubscribe_headers_for(unsubscribe_url).as_dict() if unsubscribe_url else None,
            )
        )
    return answers
