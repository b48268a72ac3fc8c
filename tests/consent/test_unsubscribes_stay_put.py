"""No sequence of imports, API writes (live or with a captured time) and system events re-grants a purpose the
customer withdrew later: whatever arrives late, the snapshot's consent is newer than every withdrawal."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from apps.catalog.models import Notice
from apps.catalog.selectors import current_notice_version
from apps.consent.entries import entries
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Choice, Provenance
from apps.consent.selectors import ledger_breaks, replayed_snapshot_fields
from apps.consent.services import publish_legacy_notice_version, publish_notice_version, record_choices
from tests.factories import CustomerFactory, NoticeVersionFactory

PURPOSES = ["channel:email", "channel:push", "topic:news"]
VALUES = {"topic:news": {"channels": ["email"]}}
WORDING = {
    "en": dict.fromkeys(("what_we_ask", "what_you_get", "what_we_do", "what_we_never_do"), "Old form.")
}


class UnsubscribesStayPut(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.clock = time_machine.travel("2026-01-01 09:00Z", tick=False)
        self.traveller = self.clock.start()
        self.customer = CustomerFactory()
        self.legacy = {
            purpose: publish_legacy_notice_version(purpose=purpose, source="esp", texts=WORDING).pk
            for purpose in PURPOSES
        }

    def teardown(self):
        self.clock.stop()
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def _record(self, purpose, state, source, version, captured_at=None):
        value = VALUES.get(purpose) if state == "given" else None
        record_choices(
            customer=self.customer,
            choices=[Choice(purpose, state, version, value)],
            provenance=Provenance(
                source=source,
                actor={"web": "customer", "api": "api:crm", "import": "import:esp"}[source],
                captured_at=captured_at,
            ),
        )

    @rule(purpose=st.sampled_from(PURPOSES), state=st.sampled_from(["given", "withdrawn", "refused"]))
    def customer_chooses_on_the_page(self, purpose, state):
        self._record(purpose, state, "web", current_notice_version(purpose).pk)

    @rule(
        purpose=st.sampled_from(PURPOSES),
        state=st.sampled_from(["given", "requested", "withdrawn"]),
        hours_ago=st.integers(0, 24 * 60),
    )
    def an_import_arrives(self, purpose, state, hours_ago):
        self._record(
            purpose, state, "import", self.legacy[purpose], timezone.now() - timedelta(hours=hours_ago)
        )

    @rule(
        purpose=st.sampled_from(PURPOSES),
        state=st.sampled_from(["given", "withdrawn"]),
        hours_ago=st.one_of(st.none(), st.integers(0, 24 * 60)),
    )
    def an_api_client_writes(self, purpose, state, hours_ago):
        captured_at = None if hours_ago is None else timezone.now() - timedelta(hours=hours_ago)
        self._record(purpose, state, "api", current_notice_version(purpose).pk, captured_at)

    @rule(purpose=st.sampled_from(PURPOSES), material=st.booleans())
    def the_brand_publishes_a_notice(self, purpose, material):
        publish_notice_version(
            version=NoticeVersionFactory(notice=Notice.objects.get(purpose=purpose), material=material)
        )

    @rule(hours=st.integers(1, 24 * 30))
    def time_passes(self, hours):
        self.traveller.shift(timedelta(hours=hours))

    @invariant()
    def consent_in_the_snapshot_is_newer_than_every_withdrawal(self):
        snapshot = Snapshot.objects.filter(customer=self.customer).first()
        for purpose, entry in entries(snapshot.choices if snapshot else {}).items():
            if not entry.holds:
                continue
            took_effect = entry.effective_at
            events = list(ConsentEvent.objects.filter(customer=self.customer, purpose=purpose))
            for event in events:
                if event.state not in ("withdrawn", "refused"):
                    continue
                if entry.captured_at is None:  # recorded live: it wins a tie with an earlier event
                    later = (event.effective_at, event.sequence) > (took_effect, entry.sequence)
                else:
                    later = event.effective_at > took_effect or (
                        event.effective_at == took_effect and not _regranted_live(events, event)
                    )
                assert not later, (purpose, event.sequence, event.effective_at, took_effect)

    @invariant()
    def withdrawn_purposes_are_not_allowed(self):
        snapshot = Snapshot.objects.filter(customer=self.customer).first()
        if snapshot is None or snapshot.document is None:
            return
        for code in ("email", "push"):
            entry = snapshot.choices.get(f"channel:{code}")
            if entry is None or entry["state"] != "given":
                assert snapshot.document.body["channels"][code]["allowed"] is False

    @invariant()
    def the_snapshot_is_a_replay_and_the_chain_verifies(self):
        snapshot = Snapshot.objects.filter(customer=self.customer).first()
        if snapshot is not None:
            assert snapshot.choices == replayed_snapshot_fields(self.customer.pk)["choices"]
        assert list(ledger_breaks()) == []


def _regranted_live(events: list[ConsentEvent], withdrawal: ConsentEvent) -> bool:
    """The customer's own newer choice undid the withdrawal at the same instant: consent recorded live after it.
    A choice captured at that instant may then stand in its place (the clock in this test does not tick)."""
    return any(
        event.sequence > withdrawal.sequence
        and event.captured_at is None
        and event.effective_at == withdrawal.effective_at
        and event.state in ("given", "requested")
        for event in events
    )


@pytest.mark.django_db
def test_no_sequence_of_doors_re_grants_a_purpose_the_customer_withdrew_later(catalog):
    run_state_machine_as_test(
        UnsubscribesStayPut,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
