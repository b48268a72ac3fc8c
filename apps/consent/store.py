"""The write path's statements, written out: ``record_choices`` decides, this module reads and writes the rows.

Every change passes here, so each step is one plain statement that runs on PostgreSQL and on SQLite (the
embedded default): lock, load, append the events, write the document and its outbox row, save the snapshot.
Through the ORM the same work cost about as much again as the database itself (``benchmarks/write_path.py``).
"""

import json
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from apps.customers.models import Customer

from .models import ConsentEvent, PermissionDocument, Snapshot

_LOAD = """
SELECT (SELECT token FROM catalog_catalogrevision LIMIT 1), c.erased_at, c.email_undeliverable_at,
       s.customer_id, s.choices, s.last_sequence, s.last_hash, s.next_expiry_at, s.updated_at,
       d.id, d.version, d.body, d.derived_from, d.created_at, d.commit_xid
  FROM customers_customer c
  LEFT JOIN consent_snapshot s ON s.customer_id = c.id
  LEFT JOIN consent_permissiondocument d ON d.id = s.document_id
 WHERE c.id = %s
"""
_INSERT_EVENTS = (
    "INSERT INTO consent_consentevent (customer_id, sequence, purpose, state, value, notice_version_id, "
    "language, source, actor, evidence, recorded_at, captured_at, expires_at, prev_hash, hash) VALUES "
)
_EVENT_PLACEHOLDERS = "(" + ", ".join(["%s"] * 15) + ")"


@dataclass(frozen=True)
class Locked:
    snapshot: Snapshot
    catalog_token: str | None
    erased: bool
    email_undeliverable_at: datetime | None = None  # a deliverability flag the document carries, not consent


def lock_customer(customer_id: int) -> Locked:
    """Lock the customer's row, then load their snapshot, its current document and the catalog revision.

    Two statements on purpose: under READ COMMITTED, rows joined to a row that was waited for are the ones
    from before the wait, so a snapshot read in the locking statement could be stale; the second statement
    starts once the lock is held. SQLite has no row locks: its IMMEDIATE transactions take the database's
    write lock at BEGIN instead (config/settings).
    """
    with connection.cursor() as cursor:
        if connection.features.has_select_for_update:
            cursor.execute("SELECT 1 FROM customers_customer WHERE id = %s FOR UPDATE", [customer_id])
        cursor.execute(_LOAD, [customer_id])
        row = cursor.fetchone()
    if row is None:
        raise Customer.DoesNotExist(f"No customer with id {customer_id}.")
    token, erased_at, undeliverable, snapshot_customer, choices, last_sequence, last_hash, next_expiry_at = (
        row[:8]
    )
    updated_at = row[8]
    undeliverable = _datetime(undeliverable)
    if snapshot_customer is None:
        snapshot = Snapshot(customer_id=customer_id, choices={})
        return Locked(snapshot, token, erased_at is not None, undeliverable)
    snapshot = Snapshot.from_db(
        connection.alias,
        ["customer_id", "choices", "last_sequence", "last_hash", "next_expiry_at", "updated_at"],
        [
            customer_id,
            _json(choices),
            last_sequence,
            last_hash,
            _datetime(next_expiry_at),
            _datetime(updated_at),
        ],
    )
    document_id, version, body, derived_from, created_at, commit_xid = row[9:]
    snapshot.document = (
        PermissionDocument.from_db(
            connection.alias,
            ["id", "customer_id", "version", "body", "derived_from", "created_at", "commit_xid"],
            [
                document_id,
                customer_id,
                version,
                _json(body),
                _json(derived_from),
                _datetime(created_at),
                commit_xid,
            ],
        )
        if document_id
        else None
    )
    return Locked(snapshot, token, erased_at is not None, undeliverable)


def append_events(events: list[ConsentEvent]) -> None:
    """Insert the events in one statement and give each its id."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_EVENTS + ", ".join([_EVENT_PLACEHOLDERS] * len(events)) + " RETURNING sequence, id",
            [value for event in events for value in _event_row(event)],
        )
        ids = dict(cursor.fetchall())  # by sequence: neither database promises RETURNING rows in VALUES order
    for event in events:
        event.pk = ids[event.sequence]
        event._state.adding, event._state.db = False, connection.alias


def save_state(snapshot: Snapshot, document: PermissionDocument | None, now: datetime) -> None:
    """Write the new permission document and its outbox row (if there is one), then save the snapshot."""
    with connection.cursor() as cursor:
        if document is not None:
            cursor.execute(
                "INSERT INTO consent_permissiondocument (customer_id, version, body, derived_from, created_at) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id, commit_xid",
                [
                    document.customer_id,
                    document.version,
                    _to_json(document.body),
                    _to_json(document.derived_from),
                    _to_datetime(document.created_at),
                ],
            )
            document.pk, document.commit_xid = cursor.fetchone()
            document._state.adding, document._state.db = False, connection.alias
            cursor.execute(
                "INSERT INTO consent_outboxentry (document_id, created_at) VALUES (%s, %s)",
                [document.pk, _to_datetime(now)],
            )
            snapshot.document = document
        snapshot.updated_at = now
        fields = [
            _to_json(snapshot.choices),
            snapshot.last_sequence,
            snapshot.last_hash,
            _to_datetime(snapshot.next_expiry_at),
            snapshot.document_id,
            _to_datetime(now),
            snapshot.customer_id,
        ]
        if snapshot._state.adding:
            cursor.execute(
                "INSERT INTO consent_snapshot "
                "(choices, last_sequence, last_hash, next_expiry_at, document_id, updated_at, customer_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                fields,
            )
            snapshot._state.adding, snapshot._state.db = False, connection.alias
        else:
            cursor.execute(
                "UPDATE consent_snapshot SET choices = %s, last_sequence = %s, last_hash = %s, "
                "next_expiry_at = %s, document_id = %s, updated_at = %s WHERE customer_id = %s",
                fields,
            )


def _event_row(event: ConsentEvent) -> list:
    return [
        event.customer_id,
        event.sequence,
        event.purpose,
        event.state,
        None if event.value is None else _to_json(event.value),
        event.notice_version_id,
        event.language,
        event.source,
        event.actor,
        _to_json(event.evidence),
        _to_datetime(event.recorded_at),
        _to_datetime(event.captured_at),
        _to_datetime(event.expires_at),
        event.prev_hash,
        event.hash,
    ]


def _to_json(value):
    return connection.ops.adapt_json_value(value, None)


def _to_datetime(value):
    return connection.ops.adapt_datetimefield_value(value)


def _json(value):
    """Django reads JSON columns as text on both backends and decodes them in the field; so do we."""
    return json.loads(value) if isinstance(value, str) else value


def _datetime(value):
    """PostgreSQL returns aware datetimes; SQLite keeps text, which its backend turns into UTC datetimes."""
    if isinstance(value, str):
        return connection.ops.convert_datetimefield_value(value, None, connection)
    return value
