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
from dataclasses import dataclass, field
from datetime import datetime
from itertools import batched
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.catalog.models import NoticeVersion
from apps.catalog.selectors import catalog_rules
from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, State
from apps.consent.services import change_identity, evidence_hash, record_choices, send_email_confirmation
from apps.customers.models import Customer
from apps.customers.services import clean_phone, mark_email_undeliverable

from .formats import FORMATS, SourceRow, read_rows
from .mapping import RowProblem, load_topic_map
from .models import ImportRow, ImportRun

# The purposes each format can write; each needs the source's legacy notice before a row is read.
FORMAT_PURPOSES = {
    "mailchimp": ("channel:email",),
    "klaviyo": ("channel:email",),
    "braze": ("channel:email", "channel:push"),
    "shopify": ("channel:email", "channel:sms"),
    "ndjson": (),
}


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
            "events": dict(sorted(self.events.items())),
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
) -> Summary:
    """Import the file; returns what it did (or, with ``dry_run``, what it would do: nothing is kept).

    Raises ``ValidationError`` before reading any row if the format, mapping file or legacy notices are wrong.
    """
    rules = catalog_rules()
    topic_map = load_topic_map(map_path, rules)
    versions = legacy_versions(source)
    errors = {}
    if fmt not in FORMATS:
        errors["format"] = f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}."
    needed = {*FORMAT_PURPOSES.get(fmt, ()), *(f"topic:{slug}" for slug, _ in topic_map.topics.values())}
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

    file = Path(path)
    summary = Summary()
    rejected_path = file.with_name(file.name + ".rejected" + (".csv" if file.suffix == ".csv" else ".ndjson"))
    with transaction.atomic():
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
            _work(run, file, fmt, topic_map, versions, exported_at, batch_size, summary, dry_run, None)
            transaction.set_rollback(True)
            return summary
    with _RejectedFile(rejected_path) as rejected:
        _work(run, file, fmt, topic_map, versions, exported_at, batch_size, summary, dry_run, rejected)
    summary.rejected_file = str(rejected_path) if rejected.count else ""
    ImportRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), summary=summary.as_dict())
    return summary


def _work(run, file, fmt, topic_map, versions, exported_at, batch_size, summary, dry_run, rejected) -> None:
    for batch in batched(read_rows(file, fmt, topic_map, exported_at), batch_size):
        with transaction.atomic():
            for row in batch:
                summary.rows += 1
                problem = row.problem or _import_row(run, row, versions, summary, dry_run)
                if problem:
                    summary.rejected[problem.split(" '")[0].split(" {")[0]] += 1
                    if rejected is not None:
                        rejected.write(row, problem)


def _import_row(run: ImportRun, row: SourceRow, versions: dict, summary: Summary, dry_run: bool) -> str:
    """Record one row in its own savepoint; returns the problem if it was rejected (and nothing was written)."""
    content_hash = row.content_hash
    if ImportRow.objects.filter(
        source=run.source, source_id=row.source_id, content_hash=content_hash
    ).exists():
        summary.already_imported_rows += 1
        return ""
    counts = Counter()
    try:
        with transaction.atomic():
            customer, created = _customer_for(run, row)
            if row.undeliverable_since and customer.email:
                mark_email_undeliverable(customer=customer, at=row.undeliverable_since)
                counts["undeliverable"] += 1
            applied = history = 0
            # Newest first: the newest choice sets the state; an older one from the same row is then history,
            # and no permission document ever allows what the row's latest state does not.
            for change in sorted(row.changes, key=lambda c: c.captured_at, reverse=True):
                recorded = record_choices(
                    customer=customer,
                    choices=[_choice(wanted, versions) for wanted in change.choices],
                    source=ConsentEvent.Source.IMPORT,
                    actor=f"import:{run.source}",
                    language=customer.locale,
                    evidence={
                        "import_run": run.pk,
                        "file": run.file_name,
                        "row": row.number,
                        **({"reason": change.reason} if change.reason else {}),
                    },
                    ip_address=change.ip_address,
                    captured_at=change.captured_at,
                    confirmation=change.confirmation,
                )
                for event in recorded.events:
                    counts[f"event:{event.state}"] += 1
                history += len(recorded.history_only)
                applied += len(recorded.events) - len(recorded.history_only)
                if recorded.awaits_email_confirmation:
                    counts["confirmations"] += 1
                    if not dry_run:
                        send_email_confirmation(customer, customer.locale)
            outcome = (
                ImportRow.Outcome.APPLIED
                if applied
                else ImportRow.Outcome.HISTORY_ONLY
                if history
                else ImportRow.Outcome.NO_CONSENT
            )
            ImportRow.objects.create(
                run=run,
                row_number=row.number,
                source=run.source,
                source_id=row.source_id,
                content_hash=content_hash,
                customer=customer,
                outcome=outcome,
            )
    except RowProblem as problem:
        return str(problem)
    except ValidationError as error:
        return "; ".join(f"{key}: {' '.join(messages)}" for key, messages in _messages(error))
    summary.customers_created += created
    summary.customers_matched += not created
    summary.undeliverable += counts["undeliverable"]
    summary.confirmations_requested += counts["confirmations"]
    for key, count in counts.items():
        if key.startswith("event:"):
            summary.events[key.removeprefix("event:")] += count
    summary.history_only_rows += outcome == ImportRow.Outcome.HISTORY_ONLY
    summary.no_consent_rows += outcome == ImportRow.Outcome.NO_CONSENT
    return ""


def _messages(error: ValidationError):
    if hasattr(error, "error_dict"):
        return error.message_dict.items()
    return [("row", error.messages)]


def _choice(wanted, versions: dict) -> Choice:
    version = versions.get(wanted.purpose)
    if version is None:
        raise RowProblem(f"no legacy notice for {wanted.purpose} from this source")
    if wanted.state not in (State.GIVEN, State.REQUESTED, State.REFUSED, State.WITHDRAWN):
        raise RowProblem(f"unknown state {wanted.state!r}")
    return Choice(purpose=wanted.purpose, state=wanted.state, notice_version_id=version, value=wanted.value)


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
    if not row.email and not row.phone and not row.external_id:
        raise RowProblem("no email address, phone number or external id")
    phone = row.phone
    try:
        phone = clean_phone(phone) if phone else ""
    except ValidationError:
        if any(w.purpose == "channel:sms" for change in row.changes for w in change.choices):
            raise RowProblem(f"bad phone number {row.phone!r}") from None
        phone = ""  # a number we cannot use does not stop the email consent coming in
    external_id = row.external_id or f"{run.source}:{evidence_hash(row.source_id)[:24]}"
    locale = row.locale if row.locale in Customer.Locale.values else Customer.Locale.EN
    return change_identity(
        external_id=external_id,
        email=row.email,
        phone=phone,
        locale=locale,
        source=ConsentEvent.Source.IMPORT,
        actor=f"import:{run.source}",
    )


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _RejectedFile:
    """The rejected rows beside the input, in its own shape plus the reason, opened at the first rejection."""

    def __init__(self, path: Path):
        self.path, self.count, self._file, self._writer = path, 0, None, None

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
