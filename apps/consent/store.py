"""The write path's statements, written out: ``record_choices`` decides, this module reads and writes the rows.

Every change passes here, so each step is one plain statement that runs on PostgreSQL and on SQLite (the
embedded default): lock, load, append the events, write the document and its outbox row, save the snapshot.
Through the ORM the same work cost about as much again as the database itself (``benchmarks/write_path.py``).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection

from apps.customers.models import Customer

from .models import ConsentEvent, PermissionDocument, Snapshot

_LOADED = """
       (SELECT token FROM catalog_catalogrevision LIMIT 1), c.erased_at, c.email_undeliverable_at,
       s.customer_id, s.choices, s.last_sequence, s.last_hash, s.next_expiry_at, s.updated_at,
       d.id, d.version, d.body, d.derived_from, d.created_at, d.commit_xid
  FROM customers_customer c
  LEFT JOIN consent_snapshot s ON s.customer_id = c.id
  LEFT JOIN consent_permissiondocument d ON d.id = s.document_id
"""
_LOAD = "SELECT" + _LOADED + " WHERE c.id = %s"
_LOAD_MANY = "SELECT c.id," + _LOADED + " WHERE c.id IN ({})"
_INSERT_EVENTS = (
    "INSERT INTO consent_consentevent (customer_id, sequence, purpose, state, value, notice_version_id, "
    "language, source, actor, evidence, recorded_at, captured_at, expires_at, prev_hash, hash) VALUES "
)
_EVENT_PLACEHOLDERS = "(" + ", ".join(["%s"] * 15) + ")"
_EVENT_TYPES = (
    "bigint", "integer", "text", "text", "jsonb", "bigint", "text", "text", "text", "jsonb",
    "timestamptz", "timestamptz", "timestamptz", "text", "text",
)  # fmt: skip
_INSERT_DOCUMENTS = (
    "INSERT INTO consent_permissiondocument (customer_id, version, body, derived_from, created_at)"
)
_INSERT_OUTBOX = "INSERT INTO consent_outboxentry (document_id, created_at)"
_UPSERT_SNAPSHOTS = (
    "INSERT INTO consent_snapshot "
    "(choices, last_sequence, last_hash, next_expiry_at, document_id, updated_at, customer_id)"
)
_ON_SNAPSHOT_CONFLICT = (
    "ON CONFLICT (customer_id) DO UPDATE SET choices = excluded.choices, last_sequence = excluded.last_sequence, "
    "last_hash = excluded.last_hash, next_expiry_at = excluded.next_expiry_at, "
    "document_id = excluded.document_id, updated_at = excluded.updated_at"
)
_CHUNK = 1000  # rows per multi-row statement: within both databases' limits on parameters


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
    return _locked(customer_id, row)


def lock_customers(customer_ids: list[int]) -> dict[int, Locked]:
    """``lock_customer`` for many customers at once: locked in id order (so two batches cannot deadlock), then
    loaded in one statement."""
    if not customer_ids:
        return {}
    marks = ", ".join(["%s"] * len(customer_ids))
    with connection.cursor() as cursor:
        if connection.features.has_select_for_update:
            cursor.execute(
                f"SELECT id FROM customers_customer WHERE id IN ({marks}) ORDER BY id FOR UPDATE",  # noqa: S608
                customer_ids,
            )
        cursor.execute(_LOAD_MANY.format(marks), customer_ids)
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    missing = sorted(set(customer_ids) - set(rows))
    if missing:
        raise Customer.DoesNotExist(f"No customer with id {missing[0]}.")
    return {customer_id: _locked(customer_id, row) for customer_id, row in rows.items()}


def _locked(customer_id: int, row: Sequence[Any]) -> Locked:
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


def append_many_events(events: list[ConsentEvent]) -> None:
    """``append_events`` for many customers' events, giving each its id."""
    rows = _insert_rows(
        _INSERT_EVENTS.removesuffix(" VALUES "),
        _EVENT_TYPES,
        [_event_row(event) for event in events],
        "RETURNING customer_id, sequence, id",
    )
    ids = {(customer_id, sequence): pk for customer_id, sequence, pk in rows}
    for event in events:
        event.pk = ids[event.customer_id, event.sequence]
        event._state.adding, event._state.db = False, connection.alias


def save_many_states(snapshots: list[Snapshot], documents: list[PermissionDocument], now: datetime) -> None:
    """``save_state`` for many customers: the documents with their outbox rows, then every snapshot in one
    upsert. Each snapshot's ``document`` is already its newest document."""
    written = _insert_rows(
        _INSERT_DOCUMENTS,
        ("bigint", "integer", "jsonb", "jsonb", "timestamptz"),
        [
            (d.customer_id, d.version, _to_json(d.body), _to_json(d.derived_from), _to_datetime(d.created_at))
            for d in documents
        ],
        "RETURNING customer_id, version, id, commit_xid",
    )
    ids = {(customer_id, version): (pk, xid) for customer_id, version, pk, xid in written}
    for document in documents:
        document.pk, document.commit_xid = ids[document.customer_id, document.version]
        document._state.adding, document._state.db = False, connection.alias
    _insert_rows(_INSERT_OUTBOX, ("bigint", "timestamptz"), [(d.pk, _to_datetime(now)) for d in documents])
    _insert_rows(
        _UPSERT_SNAPSHOTS,
        ("jsonb", "integer", "text", "timestamptz", "bigint", "timestamptz", "bigint"),
        [
            (
                _to_json(snapshot.choices),
                snapshot.last_sequence,
                snapshot.last_hash,
                _to_datetime(snapshot.next_expiry_at),
                snapshot.document.pk if snapshot.document else None,
                _to_datetime(now),
                snapshot.customer_id,
            )
            for snapshot in snapshots
        ],
        _ON_SNAPSHOT_CONFLICT,
    )
    for snapshot in snapshots:
        snapshot.updated_at = now
        snapshot._state.adding, snapshot._state.db = False, connection.alias


def _insert_rows(
    insert: str, types: tuple[str, ...], rows: Sequence[Sequence[Any]], tail: str = ""
) -> list[tuple[Any, ...]]:
    """Insert many rows in few statements; returns what ``tail``'s RETURNING returns.

    On PostgreSQL one statement whose parameters are one array per column (``unnest``): a fixed text that
    psycopg prepares once, where a VALUES list of thousands of placeholders costs more to convert than the
    database needs to insert it. On SQLite, multi-row VALUES in chunks within its parameter limit.
    """
    if not rows:
        return []
    returned = []
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{kind}[]" for kind in types)
        # A server-binding cursor on Django's connection (same transaction): the arrays travel as parameters,
        # in binary, instead of being quoted into the statement's text as Django's client-side binding does.
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(
                f"{insert} SELECT * FROM unnest({arrays}) {tail}",  # noqa: S608 (our constants and placeholders)
                [list(column) for column in zip(*rows, strict=True)],
                binary=True,
            )
            return cursor.fetchall() if tail.startswith("RETURNING") else []
    with connection.cursor() as cursor:
        placeholders = "(" + ", ".join(["%s"] * len(types)) + ")"
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            values = ", ".join([placeholders] * len(chunk))
            cursor.execute(f"{insert} VALUES {values} {tail}", [v for row in chunk for v in row])
            if tail.startswith("RETURNING"):
                returned.extend(cursor.fetchall())
    return returned


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


def _event_row(event: ConsentEvent) -> list[Any]:
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


def _to_json(value: Any) -> Any:
    return connection.ops.adapt_json_value(value, None)


def _to_datetime(value: datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _json(value: Any) -> Any:
    """Django reads JSON columns as text on both backends and decodes them in the field; so do we."""
    return json.loads(value) if isinstance(value, str) else value


def _datetime(value: Any) -> Any:
    """PostgreSQL returns aware datetimes; SQLite keeps text, which its backend turns into UTC datetimes."""
    if isinstance(value, str):
        return connection.ops.convert_datetimefield_value(value, None, connection)  # type: ignore[attr-defined]
    return value


# Any fixed number: the key of the advisory lock that lets one ledger checkpoint run at a time.
_CHECKPOINT_LOCK = 0x6C656467


def lock_checkpoints(*, own_transaction: bool) -> None:
    """One checkpoint at a time, reading one committed state of the ledger in every statement.

    PostgreSQL: REPEATABLE READ (when the checkpoint has its transaction to itself, as in the task and the
    command) and an advisory lock. SQLite's IMMEDIATE transactions hold the database's write lock already.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if own_transaction:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHECKPOINT_LOCK])


def store_moved_heads(checkpoint_id: int) -> int:
    """Keep every chain head no earlier checkpoint anchored, under this checkpoint; returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            # The unique (customer, sequence) index skips what is anchored already: an anti-join planned while
            # the table was empty scanned it once per row, rows this statement adds included (quadratic).
            "INSERT INTO consent_checkpointhead (checkpoint_id, customer_id, sequence, hash) "
            "SELECT %s, s.customer_id, s.last_sequence, s.last_hash FROM consent_snapshot s "
            "WHERE s.last_sequence > 0 ON CONFLICT (customer_id, sequence) DO NOTHING",
            [checkpoint_id],
        )
        moved: int = cursor.rowcount
        return moved
