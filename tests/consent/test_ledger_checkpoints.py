"""Signed checkpoints of every chain's head: removing a customer's newest events does not go unnoticed."""

import hashlib
import hmac
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from apps.consent.checkpoints import MerkleRoot, signed_bytes
from apps.consent.models import CheckpointHead, ConsentEvent, LedgerCheckpoint
from apps.consent.rules import Provenance
from apps.consent.services import LedgerRewound, record_choices, take_ledger_checkpoint
from tests.factories import CustomerFactory, make_choice


def give_and_withdraw(customer):
    for state in ("given", "withdrawn", "given"):
        record_choices(
            customer=customer,
            choices=[make_choice("channel:sms", state)],
            provenance=Provenance(source="web", actor="customer"),
        )


def behind_the_triggers(sql, params):
    """Change the ledger the way only someone with the database owner's rights could: triggers off."""
    if connection.vendor != "postgresql":
        pytest.skip("the tampering test disables PostgreSQL's trigger")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no deferred FK check
        cursor.execute("ALTER TABLE consent_consentevent DISABLE TRIGGER consent_consentevent_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE consent_consentevent ENABLE TRIGGER consent_consentevent_append_only")


@pytest.fixture
def two_chains(catalog):
    customers = [CustomerFactory(), CustomerFactory()]
    for customer in customers:
        give_and_withdraw(customer)
    return customers


def test_removing_a_customers_newest_events_after_a_checkpoint_is_named_by_verify_ledger(two_chains):
    _, customer = two_chains
    take_ledger_checkpoint()
    behind_the_triggers(
        "DELETE FROM consent_consentevent WHERE customer_id = %s AND sequence = 3", [customer.pk]
    )
    call_command(
        "rebuild_snapshots"
    )  # even a snapshot made to agree with the shortened chain does not hide it
    with pytest.raises(
        CommandError,
        match=f"customer {customer.pk}, sequence 3: the chain ends at sequence 2, but checkpoint \\d+ anchored",
    ):
        call_command("verify_ledger")


def test_removing_a_customers_whole_chain_after_a_checkpoint_is_named_by_verify_ledger(two_chains):
    customer, _ = two_chains
    take_ledger_checkpoint()
    behind_the_triggers("DELETE FROM consent_consentevent WHERE customer_id = %s", [customer.pk])
    with pytest.raises(CommandError, match=f"customer {customer.pk}, sequence 3: the chain is gone"):
        call_command("verify_ledger")


def test_a_chain_rewritten_with_fresh_hashes_after_a_checkpoint_is_named_by_verify_ledger(two_chains):
    """SHA-256 chains alone verify after a consistent rewrite; the anchored head does not."""
    customer, _ = two_chains
    take_ledger_checkpoint()
    behind_the_triggers(
        "DELETE FROM consent_consentevent WHERE customer_id = %s AND sequence = 3", [customer.pk]
    )
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )
    with pytest.raises(
        CommandError, match=f"customer {customer.pk}, sequence 3: the event no longer has the hash"
    ):
        call_command("verify_ledger")


def test_a_checkpoint_refuses_to_anchor_a_head_that_went_backwards(two_chains):
    _, customer = two_chains
    take_ledger_checkpoint()
    behind_the_triggers(
        "DELETE FROM consent_consentevent WHERE customer_id = %s AND sequence = 3", [customer.pk]
    )
    call_command("rebuild_snapshots")
    with pytest.raises(LedgerRewound, match=f"customer {customer.pk}: the chain's head is at sequence 2"):
        take_ledger_checkpoint()


def test_an_intact_ledger_verifies_against_its_latest_checkpoint(two_chains, capsys):
    take_ledger_checkpoint()
    record_choices(
        customer=two_chains[0],
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="web", actor="customer"),
    )
    checkpoint = take_ledger_checkpoint()
    call_command("verify_ledger")
    assert f"Every head checkpoint {checkpoint.pk} " in capsys.readouterr().out


def test_a_checkpoint_signed_under_another_key_does_not_verify(two_chains, settings):
    take_ledger_checkpoint()
    settings.LEDGER_CHECKPOINT_KEY = "another-key-" * 5
    with pytest.raises(CommandError, match="the signature does not verify"):
        call_command("verify_ledger")


def test_a_checkpoint_stores_only_the_heads_that_moved_since_the_last(two_chains):
    first = take_ledger_checkpoint()
    unchanged = take_ledger_checkpoint()
    record_choices(
        customer=two_chains[0],
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="web", actor="customer"),
    )
    moved = take_ledger_checkpoint()
    assert [CheckpointHead.objects.filter(checkpoint=c).count() for c in (first, unchanged, moved)] == [
        2,
        0,
        1,
    ]
    assert unchanged.root == first.root != moved.root
    assert (moved.customers, moved.events) == (2, 7)


@pytest.mark.embedded
def test_checkpoints_are_append_only_in_the_database(two_chains):
    checkpoint = take_ledger_checkpoint()
    for statement in (
        "UPDATE consent_ledgercheckpoint SET root = 'x' WHERE id = %s",
        "DELETE FROM consent_checkpointhead WHERE checkpoint_id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [checkpoint.pk])


@pytest.mark.embedded
def test_the_exported_checkpoint_can_be_checked_with_the_key_and_its_heads_alone(
    two_chains, settings, capsys
):
    call_command("ledger_checkpoint", "--heads")
    exported = json.loads(capsys.readouterr().out)
    message = signed_bytes(
        taken_at=LedgerCheckpoint.objects.get().taken_at,
        customers=exported["customers"],
        events=exported["events"],
        root=exported["root"],
    )
    expected = hmac.new(settings.LEDGER_CHECKPOINT_KEY.encode(), message, hashlib.sha256).hexdigest()
    assert exported["signature"] == expected
    last_events = {c.pk: ConsentEvent.objects.filter(customer=c).latest("sequence") for c in two_chains}
    assert exported["heads"] == [
        {"customer": pk, "sequence": event.sequence, "hash": event.hash}
        for pk, event in sorted(last_events.items())
    ]
    assert exported["root"] == rfc6962_root(
        [f"{h['customer']}:{h['sequence']}:{h['hash']}".encode() for h in exported["heads"]]
    )


@pytest.mark.embedded
def test_the_command_prints_the_latest_checkpoint_without_taking_another(two_chains, capsys):
    checkpoint = take_ledger_checkpoint()
    call_command("ledger_checkpoint", "--latest")
    assert json.loads(capsys.readouterr().out)["checkpoint"] == checkpoint.pk
    assert LedgerCheckpoint.objects.count() == 1


def test_celery_beat_takes_a_checkpoint_periodically(settings):
    [entry] = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith("take_ledger_checkpoint")
    ]
    assert entry["schedule"] == settings.LEDGER_CHECKPOINT_SECONDS


def rfc6962_root(leaves: list[bytes]) -> str:
    """RFC 6962 section 2.1, written as the RFC states it (recursively), to check the folding one against."""

    def tree_hash(items):
        if not items:
            return hashlib.sha256(b"").digest()
        if len(items) == 1:
            return hashlib.sha256(b"\x00" + items[0]).digest()
        split = 1 << ((len(items) - 1).bit_length() - 1)
        return hashlib.sha256(b"\x01" + tree_hash(items[:split]) + tree_hash(items[split:])).digest()

    return tree_hash(leaves).hex()


@given(st.lists(st.binary(max_size=8), max_size=40))
def test_the_folded_merkle_root_is_rfc_6962s(leaves):
    tree = MerkleRoot()
    for leaf in leaves:
        tree.add(leaf)
    assert tree.hexdigest() == rfc6962_root(leaves)


@pytest.mark.django_db(transaction=True)
def test_the_periodic_task_takes_a_checkpoint_in_a_transaction_of_its_own(catalog):
    from apps.consent.tasks import take_ledger_checkpoint as task

    give_and_withdraw(CustomerFactory())
    checkpoint = LedgerCheckpoint.objects.get(pk=task())
    assert (checkpoint.customers, checkpoint.events) == (1, 3)


def test_every_reader_of_ledger_breaks_sees_a_removed_tail_too(two_chains):
    """The support console's ledger check and the proof export read ``ledger_breaks``, as verify_ledger does."""
    from apps.consent.selectors import ledger_breaks

    first, customer = two_chains
    take_ledger_checkpoint()
    behind_the_triggers(
        "DELETE FROM consent_consentevent WHERE customer_id = %s AND sequence = 3", [customer.pk]
    )
    assert [found.customer_id for found in ledger_breaks(customer_ids=[customer.pk])] == [customer.pk]
    assert list(ledger_breaks(customer_ids=[first.pk])) == []
