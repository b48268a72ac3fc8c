"""After any sequence of choices, withdrawals, notice publications and expiries, the projections agree with
the ledger: the snapshot is a replay, every chain verifies, and the point-in-time answer at each event's time
is the permission document that was current then."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from apps.catalog.models import Notice
from apps.consent.models import ConsentEvent, PermissionDocument, Snapshot
from apps.consent.rules import Provenance
from apps.consent.selectors import ledger_breaks, permission_document_at, replayed_snapshot_fields
from apps.consent.services import expire_consents, publish_notice_version, record_choices
from apps.customers.models import Customer
from tests.factories import CustomerFactory, NoticeVersionFactory, make_choice

CUSTOMERS = 2
PURPOSES = [
    "channel:email",
    "channel:sms",
    "channel:push",
    "topic:news",
    "topic:offers",
    "frequency",
    "location",
]
TOPIC_CHANNELS = {"topic:news": ["email", "push"], "topic:offers": ["email", "sms"]}


@st.composite
def given_values(draw, purpose):
    if purpose in TOPIC_CHANNELS:
        channels = draw(st.lists(st.sampled_from(TOPIC_CHANNELS[purpose]), min_size=1, unique=True))
        return {"channels": channels}
    if purpose == "frequency":
        return {"digest": draw(st.sampled_from(["daily", "weekly"])), "weekly_cap": draw(st.integers(1, 5))}
    if purpose == "location":
        return {"level": draw(st.sampled_from(["country", "city", "precise"]))}
    return None


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.clock = time_machine.travel("2026-01-01 09:00Z", tick=False)
        self.traveller = self.clock.start()
        self.customers = [CustomerFactory() for _ in range(CUSTOMERS)]

    def teardown(self):
        try:
            self.check_point_in_time_answers()
        finally:
            self.clock.stop()
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)

    @rule(
        data=st.data(),
        who=st.integers(0, CUSTOMERS - 1),
        purpose=st.sampled_from(PURPOSES),
        state=st.sampled_from(["given", "given", "refused", "withdrawn"]),
        time_boxed=st.booleans(),
        source=st.sampled_from(["web", "email_link", "api"]),
    )
    def choose(self, data, who, purpose, state, time_boxed, source):
        value = data.draw(given_values(purpose)) if state == "given" else None
        expires_at = None
        if state == "given" and purpose == "location" and time_boxed:
            expires_at = timezone.now() + timedelta(days=data.draw(st.integers(1, 10)))
        record_choices(
            customer=self.customers[who],
            choices=[make_choice(purpose, state, value=value, expires_at=expires_at)],
            provenance=Provenance(source=source, actor="customer"),
        )

    @rule(purpose=st.sampled_from(PURPOSES), material=st.booleans())
    def publish(self, purpose, material):
        notice = Notice.objects.get(purpose=purpose)
        publish_notice_version(version=NoticeVersionFactory(notice=notice, material=material))

    @rule(days=st.integers(0, 12), minutes=st.integers(1, 600))
    def time_passes(self, days, minutes):
        self.traveller.shift(timedelta(days=days, minutes=minutes))

    @rule()
    def expiry_task_runs(self):
        expire_consents()

    @invariant()
    def snapshots_are_replays_of_the_ledger(self):
        for snapshot in Snapshot.objects.all():
            replayed = replayed_snapshot_fields(snapshot.customer_id)
            assert snapshot.choices == replayed["choices"]
            assert (snapshot.last_sequence, snapshot.last_hash) == (
                replayed["last_sequence"],
                replayed["last_hash"],
            )

    @invariant()
    def every_chain_verifies_with_contiguous_sequences(self):
        assert list(ledger_breaks()) == []

    def check_point_in_time_answers(self):
        for customer in Customer.objects.all():
            times = (
                ConsentEvent.objects.filter(customer=customer)
                .values_list("recorded_at", flat=True)
                .distinct()
            )
            for at in times:
                current_then = (
                    PermissionDocument.objects.filter(customer=customer, created_at__lte=at)
                    .order_by("version")
                    .last()
                )
                assert permission_document_at(customer, at).body == current_then.body, at


@pytest.mark.django_db
def test_projections_always_agree_with_the_ledger(catalog):
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
