"""The write path's statements, written out: ``record_choices`` decides, this module reads and writes the rows.

Every change passes here, so each step is one plain statement that runs on PostgreSQL and on SQLite (the
embedded default): lock, load, append the events, write the document and its outbox row, save the snapshot.
Through the ORM the same work cost about as much again as the database itself (``benchmarks/write_path.py``).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias, TypeVar

import psycopg
from django.db import connection
from django.db.models import Field, Model

from apps.customers.models import Customer

from .models import ConsentEvent, OutboxEntry, PermissionDocument, Snapshot

AnyField: TypeAlias = "Field[Any, Any]"  # a string: Django's Field is generic only in the stubs
Row = dict[str, Any]
M = TypeVar("M", bound=Model)


def written_fields(model: type[Model]) -> tuple[AnyField, ...]:
    """The fields an INSERT of ``model`` writes, in the model's order: every concrete field but those the database
    fills in (the auto primary key, and a column with a database default such as the document's commit_xid)."""
    return tuple(
        field
        for field in model._meta.concrete_fields
        if field is not model._meta.auto_field and not field.has_db_default()
    )


EVENT_FIELDS = written_fields(ConsentEvent)
DOCUMENT_FIELDS = written_fields(PermissionDocument)
OUTBOX_FIELDS = written_fields(OutboxEntry)
SNAPSHOT_FIELDS = written_fields(Snapshot)  # its primary key is the customer: written, never generated
SNAPSHOT_KEY = Snapshot._meta.pk


def _names(fields: Iterable[AnyField]) -> str:
    return ", ".join(str(field.column) for field in fields)


def _selected(alias: str, model: type[Model]) -> str:
    """Every concrete column of ``model`` (table alias ``alias``), each named ``<alias>.<attname>``."""
    return ", ".join(
        f'{alias}.{field.column} AS "{alias}.{field.attname}"' for field in model._meta.concrete_fields
    )


_LOADED = f"""
       (SELECT token FROM catalog_catalogrevision LIMIT 1) AS catalog_token, c.erased_at AS erased_at,
       c.email_undeliverable_at AS email_undeliverable_at, c.inferences_revision AS inferences_revision,
       {_selected("s", Snapshot)}, {_selected("d", PermissionDocument)}
  FROM customers_customer c
  LEFT JOIN consent_snapshot s ON s.customer_id = c.id
  LEFT JOIN consent_permissiondocument d ON d.id = s.document_id
"""  # noqa: S608 (column names from the models)
_LOAD = "SELECT c.id AS customer," + _LOADED + " WHERE c.id = %s"
_LOAD_MANY = "SELECT c.id AS customer," + _LOADED + " WHERE c.id IN ({})"
_INSERT_EVENTS = f"INSERT INTO {ConsentEvent._meta.db_table} ({_names(EVENT_FIELDS)})"
_INSERT_DOCUMENTS = f"INSERT INTO {PermissionDocument._meta.db_table} ({_names(DOCUMENT_FIELDS)})"
_INSERT_OUTBOX = f"INSERT INTO {OutboxEntry._meta.db_table} ({_names(OUTBOX_FIELDS)})"
_INSERT_SNAPSHOT = f"INSERT INTO {Snapshot._meta.db_table} ({_names(SNAPSHOT_FIELDS)})"
_ON_SNAPSHOT_CONFLICT = f"ON CONFLICT ({SNAPSHOT_KEY.column}) DO UPDATE SET " + ", ".join(
    f"{field.column} = excluded.{field.column}" for field in SNAPSHOT_FIELDS if field is not SNAPSHOT_KEY
)
_CHUNK = 1000  # rows per multi-row statement: within both databases' limits on parameters


@dataclass(frozen=True)
class Locked:
    snapshot: Snapshot
    catalog_token: str | None
    erased: bool
    email_undeliverable_at: datetime | None = None  # a deliverability flag the document carries, not consent
    inferences_revision: int = 0  # how often reported inferences changed (the document's profile section)


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
        rows = _named_rows(cursor)
    if not rows:
        raise Customer.DoesNotExist(f"No customer with id {customer_id}.")
    return _locked(rows[0])


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
        rows = {row["customer"]: row for row in _named_rows(cursor)}
    missing = sorted(set(customer_ids) - set(rows))
    if missing:
        raise Customer.DoesNotExist(f"No customer with id {missing[0]}.")
    return {customer_id: _locked(row) for customer_id, row in rows.items()}


def _locked(row: Row) -> Locked:
    erased = row["erased_at"] is not None
    undeliverable = _from_db(
        Customer._meta.get_field("email_undeliverable_at"), row["email_undeliverable_at"]
    )
    if row["s.customer_id"] is None:
        snapshot = Snapshot(customer_id=row["customer"], choices={})
        return Locked(snapshot, row["catalog_token"], erased, undeliverable, row["inferences_revision"])
    snapshot = _instance(Snapshot, "s", row)
    snapshot.document = _instance(PermissionDocument, "d", row) if row["d.id"] is not None else None
    return Locked(snapshot, row["catalog_token"], erased, undeliverable, row["inferences_revision"])


def _instance(model: type[M], alias: str, row: Row) -> M:
    """The ``model`` instance whose columns ``row`` holds under ``<alias>.<attname>``, as the ORM loads it."""
    fields = model._meta.concrete_fields
    return model.from_db(
        connection.alias,
        [field.attname for field in fields],
        [_from_db(field, row[f"{alias}.{field.attname}"]) for field in fields],
    )


def append_events(events: list[ConsentEvent]) -> None:
    """Insert the events in one statement and give each its id."""
    placeholders = "(" + ", ".join(["%s"] * len(EVENT_FIELDS)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_EVENTS + " VALUES " + ", ".join([placeholders] * len(events)) + " RETURNING sequence, id",
            [value for event in events for value in _row(event, EVENT_FIELDS)],
        )
        ids = dict(cursor.fetchall())  # by sequence: neither database promises RETURNING rows in VALUES order
    for event in events:
        event.pk = ids[event.sequence]
        _mark_saved(event)


def append_many_events(events: list[ConsentEvent]) -> None:
    """``append_events`` for many customers' events, giving each its id."""
    rows = _insert_rows(
        _INSERT_EVENTS,
        EVENT_FIELDS,
        [_row(event, EVENT_FIELDS) for event in events],
        "RETURNING customer_id, sequence, id",
    )
    ids = {(customer_id, sequence): pk for customer_id, sequence, pk in rows}
    for event in events:
        event.pk = ids[event.customer_id, event.sequence]
        _mark_saved(event)


def save_many_states(snapshots: list[Snapshot], documents: list[PermissionDocument], now: datetime) -> None:
    """``save_state`` for many customers: the documents with their outbox rows, then every snapshot in one
    upsert. Each snapshot's ``document`` is already its newest document."""
    written = _insert_rows(
        _INSERT_DOCUMENTS,
        DOCUMENT_FIELDS,
        [_row(document, DOCUMENT_FIELDS) for document in documents],
        "RETURNING customer_id, version, id, commit_xid",
    )
    ids = {(customer_id, version): (pk, xid) for customer_id, version, pk, xid in written}
    for document in documents:
        document.pk, document.commit_xid = ids[document.customer_id, document.version]
        _mark_saved(document)
    outbox = [OutboxEntry(document=document, created_at=now) for document in documents]
    _insert_rows(_INSERT_OUTBOX, OUTBOX_FIELDS, [_row(entry, OUTBOX_FIELDS) for entry in outbox])
    for snapshot in snapshots:
        snapshot.updated_at = now
        if snapshot.document is not None:
            snapshot.document_id = snapshot.document.pk  # assigned before the document had its id
    _insert_rows(
        _INSERT_SNAPSHOT,
        SNAPSHOT_FIELDS,
        [_row(snapshot, SNAPSHOT_FIELDS) for snapshot in snapshots],
        _ON_SNAPSHOT_CONFLICT,
    )
    for snapshot in snapshots:
        _mark_saved(snapshot)


def _insert_rows(
    insert: str, fields: tuple[AnyField, ...], rows: list[list[Any]], tail: str = ""
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
        arrays = ", ".join(f"%b::{field.db_type(connection)}[]" for field in fields)
        # A server-binding cursor on Django's connection (same transaction): the arrays travel as parameters,
        # in binary, instead of being quoted into the statement's text as Django's client-side binding does.
        with psycopg.Cursor(_driver_connection()) as cursor:
            cursor.execute(
                f"{insert} SELECT * FROM unnest({arrays}) {tail}",  # noqa: S608 (our constants and placeholders)
                [list(column) for column in zip(*rows, strict=True)],
                binary=True,
            )
            return cursor.fetchall() if tail.startswith("RETURNING") else []
    with connection.cursor() as cursor:
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            values = ", ".join([placeholders] * len(chunk))
            cursor.execute(f"{insert} VALUES {values} {tail}", [v for row in chunk for v in row])
            if tail.startswith("RETURNING"):
                returned.extend(cursor.fetchall())
    return returned


def save_state(
    snapshot: Snapshot, document: PermissionDocument | None, now: datetime, receipt: Model | None = None
) -> None:
    """Write the new permission document and its outbox row (if there is one), then save the snapshot, and save
    ``receipt`` (the row of what caused the change, an inbound report: inserted if new, else updated) if given.

    On PostgreSQL in one statement: document, outbox row and receipt are written by data-modifying CTEs of the
    snapshot's own INSERT or UPDATE, which takes the document's new id from them (each round trip saved was
    several percent of a STOP texted back). SQLite has no such CTEs: there they are one statement each.
    """
    snapshot.updated_at = now
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ctes, params, returned = [], [], []
            document_id = "%s"
            if document is not None:
                outbox, outbox_params = _values(
                    OutboxEntry(created_at=now), OUTBOX_FIELDS, document_id="d.id"
                )
                ctes += [
                    f"d AS ({_INSERT_DOCUMENTS} VALUES ({_marks(DOCUMENT_FIELDS)}) RETURNING id, commit_xid)",
                    f"o AS ({_INSERT_OUTBOX} SELECT {', '.join(outbox)} FROM d)",  # noqa: S608 (our constants)
                ]
                params += [*_row(document, DOCUMENT_FIELDS), *outbox_params]
                document_id = "(SELECT id FROM d)"
                returned += ["(SELECT id FROM d)", "(SELECT commit_xid FROM d)"]
            if receipt is not None:
                write_receipt, receipt_params = _write_one(receipt)
                ctes.append(f"r AS ({write_receipt} RETURNING id)")
                params += receipt_params
                returned.append("(SELECT id FROM r)")
            write, write_params = _snapshot_write(snapshot, document_id)
            cursor.execute(
                (f"WITH {', '.join(ctes)} " if ctes else "")
                + write
                + (f" RETURNING {', '.join(returned)}" if returned else ""),
                [*params, *write_params],
            )
            ids = list(cursor.fetchone()) if returned else []
            if document is not None:
                document.pk, document.commit_xid = ids[:2]
            if receipt is not None:
                receipt.pk = ids[-1]
        else:
            if document is not None:
                cursor.execute(
                    f"{_INSERT_DOCUMENTS} VALUES ({_marks(DOCUMENT_FIELDS)}) RETURNING id, commit_xid",
                    _row(document, DOCUMENT_FIELDS),
                )
                document.pk, document.commit_xid = cursor.fetchone()
                cursor.execute(
                    f"{_INSERT_OUTBOX} VALUES ({_marks(OUTBOX_FIELDS)})",
                    _row(OutboxEntry(document=document, created_at=now), OUTBOX_FIELDS),
                )
                snapshot.document = document
            cursor.execute(*_snapshot_write(snapshot))
            if receipt is not None:
                write_receipt, receipt_params = _write_one(receipt)
                cursor.execute(f"{write_receipt} RETURNING id", receipt_params)
                receipt.pk = cursor.fetchone()[0]
    if document is not None:
        _mark_saved(document)
        snapshot.document = document
    if receipt is not None:
        _mark_saved(receipt)
    _mark_saved(snapshot)


def _write_one(instance: Model) -> tuple[str, list[Any]]:
    """The INSERT of ``instance`` if new, else the UPDATE of every column it writes (without RETURNING), and
    its parameters."""
    fields = written_fields(type(instance))
    table = instance._meta.db_table
    if _is_new(instance):
        return f"INSERT INTO {table} ({_names(fields)}) VALUES ({_marks(fields)})", _row(instance, fields)  # noqa: S608
    columns = ", ".join(f"{field.column} = %s" for field in fields)
    return f"UPDATE {table} SET {columns} WHERE id = %s", [*_row(instance, fields), instance.pk]  # noqa: S608


def _snapshot_write(snapshot: Snapshot, document_id: str = "%s") -> tuple[str, list[Any]]:
    """The snapshot's INSERT (a new one) or UPDATE, with ``document_id`` as the SQL for its document column."""
    if _is_new(snapshot):
        values, params = _values(snapshot, SNAPSHOT_FIELDS, document_id)
        return f"{_INSERT_SNAPSHOT} VALUES ({', '.join(values)})", params
    changed = [field for field in SNAPSHOT_FIELDS if field is not SNAPSHOT_KEY]
    values, params = _values(snapshot, changed, document_id)
    assignments = ", ".join(f"{field.column} = {value}" for field, value in zip(changed, values, strict=True))
    return (
        f"UPDATE {Snapshot._meta.db_table} SET {assignments} WHERE {SNAPSHOT_KEY.column} = %s",  # noqa: S608
        [*params, snapshot.pk],
    )


def _values(
    instance: Model, fields: Sequence[AnyField], document_id: str = "%s"
) -> tuple[list[str], list[Any]]:
    """The SQL value of each of ``fields`` for ``instance`` (a placeholder, but ``document_id`` for the column of
    its document) and the parameters they take."""
    sql, params = [], []
    for field in fields:
        if field.attname == "document_id" and document_id != "%s":
            sql.append(document_id)
        else:
            sql.append("%s")
            params.append(_to_db(field, getattr(instance, field.attname)))
    return sql, params


def _marks(fields: Sequence[AnyField]) -> str:
    return ", ".join(["%s"] * len(fields))


def _named_rows(cursor: Any) -> list[Row]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _row(instance: Model, fields: Sequence[AnyField]) -> list[Any]:
    return [_to_db(field, getattr(instance, field.attname)) for field in fields]


# --- Django's internals, each used here and nowhere else -------------------------------------------------------
# Rows written and read with plain SQL must come out as the ORM's own would: values prepared and converted by
# the fields and the backend, and instances that know they are saved.


def _to_db(field: AnyField, value: Any) -> Any:
    """A value as the ORM sends it for ``field`` on this connection (JSON adapted, datetimes as the backend
    stores them)."""
    return field.get_db_prep_save(value, connection)


def _from_db(field: AnyField, value: Any) -> Any:
    """A column's value as the ORM hands it back: the backend's converters, then the field's (SQLite keeps
    datetimes as text; both backends return JSON as text, which the field decodes)."""
    column = field.get_col(field.model._meta.db_table)
    for convert in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
        value = convert(value, column, connection)
    return value


def _mark_saved(instance: Model) -> None:
    instance._state.adding, instance._state.db = False, connection.alias


def _is_new(instance: Model) -> bool:
    return instance._state.adding


def _driver_connection() -> Any:
    """The psycopg connection under Django's (the same session and transaction)."""
    connection.ensure_connection()
    return connection.connection


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
        return int(cursor.rowcount)
