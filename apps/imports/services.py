"""Import a platform's export through the one write path: every row's changes go to ``record_choices``, with
the time the customer made them, the source's legacy notice version and the file and row as evidence.

Rows are worked in batches, one transaction each, and each row in its own savepoint, so a rejected row writes
nothing. A row is imported once per content (``ImportRow``: source id and content hash), so running the same file
again, or again after an interruption, changes nothing twice. A dry run does all the same work in a transaction
that is rolled back, so it reports exactly what the real run would.
"""

import csv
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.catalog.models import NoticeVersion
from apps.catalog.purposes import topic_purpose
from apps.catalog.selectors import catalog_rules
from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, Provenance, State
from apps.consent.services import (
    Change,
    change_identity,
    evidence_hash,
    mark_address_undeliverable,
    record_changes_in_bulk,
    record_choices,
)
from apps.consent.tasks import send_email_confirmations
from apps.customers.models import Customer
from apps.customers.services import clean_phone, create_customers

from .formats import FORMATS, SourceRow, count_rows, read_rows
from .mapping import RowProblem, TopicMap, load_topic_map
from .models import ImportRow, ImportRun
from .selectors import progress_key

# The purposes each format can write; each needs the source's legacy notice before a row is read.
FORMAT_PURPOSES = {
    "mailchimp": ("channel:email",),
    "klaviyo": ("channel:email",),
    "braze": ("channel:email", "channel:push"),
    "shopify": ("channel:email", "channel:sms"),
    "ndjson": (),
}
# How long a run's progress stays readable in the cache after its last batch (a finished run keeps its summary).
PROGRESS_SECONDS = 24 * 3600


@dataclass
class Summary:
    rows: int = 0
    customers_created: int = 0
    customers_matched: int = 0
    events: Counter = field(default_factory=Counter)
    history_only_rows: int = 0
    no_consent_rows: int = 0
    already_imported_rows: int = 0
    undeliverable: int = 0
    confirmations_requested: int = 0
    rejected: Counter = field(default_factory=Counter)
    run_id: int | None = None
    rejected_file: str = ""

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "customers_created": self.customers_created,
            "customers_matched": self.customers_matched,
            "events": {str(state): count for state, count in sorted(self.events.items())},
            "history_only_rows": self.history_only_rows,
            "no_consent_rows": self.no_consent_rows,
            "already_imported_rows": self.already_imported_rows,
            "undeliverable": self.undeliverable,
            "confirmations_requested": self.confirmations_requested,
            "rejected": dict(sorted(self.rejected.items())),
        }


def legacy_versions(source: str) -> dict[str, int]:
    """The source's legacy notice versions by purpose."""
    return dict(
        NoticeVersion.objects.filter(legacy_source=source, published_at__isnull=False).values_list(
            "notice__purpose", "id"
        )
    )


def import_consents(
    *,
    path: str,
    fmt: str,
    source: str,
    map_path: str | None = None,
    dry_run: bool = False,
    exported_at: datetime | None = None,
    batch_size: int = 500,
    bulk: bool = True,
    run: ImportRun | None = None,
) -> Summary:
    """Import the file; returns what it did (or, with ``dry_run``, what it would do: nothing is kept).

    Raises ``ValidationError`` before reading any row if the format, mapping file or legacy notices are wrong.
    ``bulk`` (the default) records each batch with ``record_changes_in_bulk``; without it every row goes through
    ``record_choices`` on its own. Both leave the same ledger, snapshots and documents. ``run`` is a run
    ``start_import`` created (the console's); without it the run is created here (and a dry run's not kept).
    After every batch the summary so far is in the cache for ``selectors.run_progress``.
    """
    topic_map, versions = check_import(fmt=fmt, source=source, map_path=map_path, exported_at=exported_at)
    file = Path(path)
    summary = Summary()
    rejected_path = file.with_name(file.name + ".rejected" + (".csv" if file.suffix == ".csv" else ".ndjson"))
    with transaction.atomic():
        if run is None:
            run = ImportRun.objects.create(
                source=source,
                format=fmt,
                file_name=file.name,
                file_sha256=_sha256(file),
                started_at=timezone.now(),
            )
        summary.run_id = run.pk
        # A dry run keeps the run row only inside its rolled-back transaction; a real run commits it first.
        if dry_run:
            job = _Job(run, versions, summary, dry_run, bulk, None)
            _work(job, read_rows(file, fmt, topic_map, exported_at), batch_size)
            transaction.set_rollback(True)
    if dry_run:
        # A run the console started outlives the rollback: its page shows what the real run would do.
        ImportRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), summary=summary.as_dict())
        return summary
    with _RejectedFile(rejected_path) as rejected:
        job = _Job(run, versions, summary, dry_run, bulk, rejected)
        _work(job, read_rows(file, fmt, topic_map, exported_at), batch_size)
    summary.rejected_file = str(rejected_path) if rejected.count else ""
    ImportRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), summary=summary.as_dict())
    return summary


def check_import(
    *, fmt: str, source: str, map_path: str | None = None, exported_at: datetime | None = None
) -> tuple[TopicMap, dict[str, int]]:
    """The topic map and the source's legacy notice versions; ``ValidationError`` if the format, the mapping
    file or the legacy notices are wrong (nothing read, nothing written)."""
    rules = catalog_rules()
    topic_map = load_topic_map(map_path, rules)
    versions = legacy_versions(source)
    errors = {}
    if fmt not in FORMATS:
        errors["format"] = f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}."
    needed = {*FORMAT_PURPOSES.get(fmt, ()), *(topic_purpose(slug) for slug, _ in topic_map.topics.values())}
    missing = sorted(p for p in needed if p in rules.noticed_purposes and p not in versions)
    if missing:
        errors["source"] = (
            f"No legacy notice from {source!r} for {', '.join(missing)}: enter what its sign-up form said with "
            f"`python manage.py add_legacy_notice PURPOSE --source {source} …` first."
        )
    if fmt == "braze" and exported_at is None:
        errors["exported_at"] = (
            "Braze exports carry no consent times: give the export's time (--exported-at)."
        )
    if errors:
        raise ValidationError(errors)
    return topic_map, versions


def start_import(
    *,
    path: str,
    fmt: str,
    source: str,
    map_path: str | None = None,
    dry_run: bool = False,
    exported_at: datetime | None = None,
    started_by: str = "",
) -> ImportRun:
    """Check everything a run needs (format, mapping, legacy notices, a file that reads) and create its run, for
    a worker to do with ``tasks.run_import``. ``ValidationError`` and nothing created if anything is wrong."""
    check_import(fmt=fmt, source=source, map_path=map_path, exported_at=exported_at)
    try:
        total = count_rows(path, fmt)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValidationError({"file": f"Cannot read the file as a {fmt} export: {error}"}) from error
    file = Path(path)
    return ImportRun.objects.create(
        source=source,
        format=fmt,
        file_name=file.name,
        file_sha256=_sha256(file),
        started_at=timezone.now(),
        dry_run=dry_run,
        total_rows=total,
        started_by=started_by,
    )


def _report_progress(job: "_Job") -> None:
    """The summary so far, where a page can read it: the cache, because a dry run's writes are never committed."""
    cache.set(progress_key(job.run.pk), job.summary.as_dict(), PROGRESS_SECONDS)


@dataclass
class _Job:
    run: ImportRun
    versions: dict[str, int]
    summary: Summary
    dry_run: bool
    bulk: bool
    rejected: "_RejectedFile | None"
    confirm_ids: list[int] = field(default_factory=list)

    def reject(self, row: SourceRow, problem: str) -> None:
        self.summary.rejected[problem.split(" '")[0].split(" {")[0]] += 1
        if self.rejected is not None:
            self.rejected.write(row, problem)


class _BatchHasBadChange(Exception):
    """A row the core refused in a bulk batch: the batch is redone row by row, which rejects just that row."""


def _work(job: _Job, rows, batch_size: int) -> None:
    while batch := list(islice(rows, batch_size)):
        job.summary.rows += len(batch)
        good = []
        for row in batch:
            if row.problem:
                job.reject(row, row.problem)
            else:
                good.append(row)
        with transaction.atomic():
            if job.bulk:
                try:
                    with transaction.atomic():
                        _import_in_bulk(job, good)
                    _queue_confirmations(job)
                    _report_progress(job)
                    continue
                except _BatchHasBadChange:
                    pass
            for row in good:
                problem = _import_row(job, row)
                if problem:
                    job.reject(row, problem)
        _queue_confirmations(job)
        _report_progress(job)


def _queue_confirmations(job: _Job) -> None:
    """The batch's double opt-in mails go to a worker once the batch has committed (none in a dry run)."""
    ids, job.confirm_ids = job.confirm_ids, []
    if ids and not job.dry_run:
        transaction.on_commit(partial(send_email_confirmations.delay, ids))


def _import_row(job: _Job, row: SourceRow) -> str:
    """Record one row in its own savepoint; returns the problem if it was rejected (and nothing was written)."""
    run = job.run
    if ImportRow.objects.filter(
        source=run.source, source_id=row.source_id, content_hash=row.content_hash
    ).exists():
        job.summary.already_imported_rows += 1
        return ""
    try:
        with transaction.atomic():
            customer, created = _customer_for(run, row)
            recorded = [_record(customer, change) for change in _changes(job, row, customer)]
            tally = _Tally(job, row, customer, created, recorded)
            ImportRow.objects.create(**tally.import_row())
    except RowProblem as problem:
        return str(problem)
    except ValidationError as error:
        return _problem(error)
    tally.add_to(job)
    return ""


def _import_in_bulk(job: _Job, rows: list[SourceRow]) -> None:
    """One batch with set-based statements: the customers looked up and created together, every row's changes
    recorded by ``record_changes_in_bulk``, the import rows inserted together. Raises ``_BatchHasBadChange``
    (the caller rolls the batch back) if the core refuses any row."""
    run = job.run
    done = set(
        ImportRow.objects.filter(
            source=run.source, content_hash__in=[row.content_hash for row in rows]
        ).values_list("source_id", "content_hash")
    )
    fresh, already = [], 0
    for row in rows:
        if (row.source_id, row.content_hash) in done:
            already += 1
        else:
            done.add((row.source_id, row.content_hash))
            fresh.append(row)
    try:
        customers = _customers_in_bulk(run, fresh)
        plans = [(row, *customers[row.number], _changes(job, row, customers[row.number][0])) for row in fresh]
    except (RowProblem, ValidationError):
        raise _BatchHasBadChange from None
    results = record_changes_in_bulk(groups=[changes for *_, changes in plans])
    if any(isinstance(result, ValidationError) for result in results):
        raise _BatchHasBadChange
    tallies = [
        _Tally(job, row, customer, created, recorded)
        for (row, customer, created, _), recorded in zip(plans, results, strict=True)
    ]
    ImportRow.objects.bulk_create([ImportRow(**tally.import_row()) for tally in tallies])
    job.summary.already_imported_rows += already
    for tally in tallies:
        tally.add_to(job)


def _customers_in_bulk(run: ImportRun, rows: list[SourceRow]) -> dict[int, tuple[Customer, bool]]:
    """Per row number, its customer and whether the import creates them: matched as ``_customer_for`` matches,
    and the new ones created together, the first of several rows for one new customer creating them."""
    by_external_id = {
        c.external_id: c
        for c in Customer.objects.filter(external_id__in=[r.external_id for r in rows if r.external_id])
    }
    by_email: dict[str, Customer] = {}
    for customer in Customer.objects.filter(
        email__in=[r.email for r in rows if r.email and not r.external_id], erased_at__isnull=True
    ).order_by("-pk"):
        by_email[customer.email] = customer  # the lowest id wins, as in .order_by("pk").first()
    found: dict[int, tuple[Customer, bool]] = {}
    new: dict[tuple, dict] = {}  # identities to create, by what rows match them on, in file order
    first_row: dict[tuple, int] = {}
    pending: dict[int, tuple] = {}
    for row in rows:
        customer = by_external_id.get(row.external_id) if row.external_id else by_email.get(row.email)
        if customer is not None:
            found[row.number] = (customer, False)
            continue
        key = ("external_id", row.external_id) if row.external_id else ("email", row.email)
        if key not in new:
            new[key], first_row[key] = _new_identity(run, row), row.number
        pending[row.number] = key
    created = dict(zip(new, create_customers(identities=list(new.values())), strict=True))
    for number, key in pending.items():
        found[number] = (created[key], first_row[key] == number)
    return found


def _problem(error: ValidationError) -> str:
    items = error.message_dict.items() if hasattr(error, "error_dict") else [("row", error.messages)]
    return "; ".join(f"{key}: {' '.join(messages)}" for key, messages in items)


def _changes(job: _Job, row: SourceRow, customer: Customer) -> list[Change]:
    """The row's changes as the core takes them, newest first: the newest choice sets the state, and an older one
    from the same row is then history, so no permission document ever allows what the row's latest state does
    not. Each carries the source's legacy notice versions and the run and row as evidence."""
    run = job.run
    return [
        Change(
            customer_id=customer.pk,
            choices=[_choice(wanted, job.versions) for wanted in change.choices],
            provenance=Provenance(
                source=ConsentEvent.Source.IMPORT,
                actor=f"import:{run.source}",
                evidence={"import_run": run.pk, "row": row.number},
                captured_at=change.captured_at,
            ),
            language=customer.locale,
            # The export's own words (an unsubscribe reason) are free text: an erasable note, not evidence.
            note=change.reason or None,
            ip_address=change.ip_address,
            confirmation=change.confirmation,
        )
        for change in sorted(row.changes, key=lambda c: c.captured_at, reverse=True)
    ]


def _record(customer: Customer, change: Change):
    arguments = {f.name: getattr(change, f.name) for f in fields(change) if f.name != "customer_id"}
    return record_choices(customer=customer, **arguments)


def _choice(wanted, versions: dict) -> Choice:
    version = versions.get(wanted.purpose)
    if version is None:
        raise RowProblem(f"no legacy notice for {wanted.purpose} from this source")
    if wanted.state not in (State.GIVEN, State.REQUESTED, State.REFUSED, State.WITHDRAWN):
        raise RowProblem(f"unknown state {wanted.state!r}")
    return Choice(purpose=wanted.purpose, state=wanted.state, notice_version_id=version, value=wanted.value)


class _Tally:
    """What one imported row did, added to the summary (and its confirmation mail sent) once it is written."""

    def __init__(self, job: _Job, row: SourceRow, customer: Customer, created: bool, recorded: Any):
        self.row, self.customer, self.created = row, customer, created
        self.events = Counter(event.state for r in recorded for event in r.events)
        self.history = sum(len(r.history_only) for r in recorded)
        self.applied = sum(len(r.events) for r in recorded) - self.history
        self.confirm = any(r.awaits_email_confirmation for r in recorded)
        self.undeliverable = row.undeliverable and bool(customer.email)
        if self.undeliverable:
            # A deliverability flag, not consent: it reaches the permission document, never the ledger.
            mark_address_undeliverable(customer=customer, at=row.undeliverable_since or job.run.started_at)
        self.outcome = (
            ImportRow.Outcome.APPLIED
            if self.applied
            else ImportRow.Outcome.HISTORY_ONLY
            if self.history
            else ImportRow.Outcome.NO_CONSENT
        )
        self.run = job.run

    def import_row(self) -> dict:
        return {
            "run": self.run,
            "row_number": self.row.number,
            "source": self.run.source,
            "source_id": self.row.source_id,
            "content_hash": self.row.content_hash,
            "customer": self.customer,
            "outcome": self.outcome,
        }

    def add_to(self, job: _Job) -> None:
        summary = job.summary
        summary.customers_created += self.created
        summary.customers_matched += not self.created
        summary.events.update(self.events)
        summary.undeliverable += self.undeliverable
        summary.confirmations_requested += self.confirm
        summary.history_only_rows += self.outcome == ImportRow.Outcome.HISTORY_ONLY
        summary.no_consent_rows += self.outcome == ImportRow.Outcome.NO_CONSENT
        if self.confirm:
            job.confirm_ids.append(self.customer.pk)


def _customer_for(run: ImportRun, row: SourceRow) -> tuple[Customer, bool]:
    """The customer by external id (when the source has the brand's id), else by email address, else a new one
    keyed by the source and a keyed hash of its id (an email address is not a pseudonymous key)."""
    customer = None
    if row.external_id:
        customer = Customer.objects.filter(external_id=row.external_id).first()
    elif row.email:
        customer = Customer.objects.filter(email=row.email, erased_at__isnull=True).order_by("pk").first()
    if customer is not None:
        return customer, False
    return change_identity(
        **_new_identity(run, row), source=ConsentEvent.Source.IMPORT, actor=f"import:{run.source}"
    )


def _new_identity(run: ImportRun, row: SourceRow) -> dict:
    if not row.email and not row.phone and not row.external_id:
        raise RowProblem("no email address, phone number or external id")
    phone = row.phone
    try:
        phone = clean_phone(phone) if phone else ""
    except ValidationError:
        if any(w.purpose == "channel:sms" for change in row.changes for w in change.choices):
            raise RowProblem(f"bad phone number {row.phone!r}") from None
        phone = ""  # a number we cannot use does not stop the email consent coming in
    return {
        "external_id": row.external_id or f"{run.source}:{evidence_hash(row.source_id)[:24]}",
        "email": row.email,
        "phone": phone,
        "locale": row.locale if row.locale in Customer.Locale.values else Customer.Locale.EN,
    }


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _RejectedFile:
    """The rejected rows beside the input, in its own shape plus the reason, opened at the first rejection."""

    def __init__(self, path: Path):
        self.path, self.count = path, 0
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._file:
            self._file.close()

    def write(self, row: SourceRow, problem: str) -> None:
        self.count += 1
        if self._file is None:
            self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed in __exit__)
        if self.path.suffix == ".csv":
            if self._writer is None:
                self._writer = csv.DictWriter(self._file, [*row.raw, "reason"], extrasaction="ignore")
                self._writer.writeheader()
            self._writer.writerow({**row.raw, "reason": problem})
        else:
            line = {"row": row.number, "reason": problem, "record": row.raw}
            self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
