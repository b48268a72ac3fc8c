import pytest

from apps.catalog.models import (
    Channel,
    Notice,
    NoticeText,
    NoticeVersion,
    Option,
    Question,
    QuestionVersion,
    Topic,
)
from apps.catalog.selectors import catalog_revision_token, catalog_rules
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded


def test_every_catalog_write_gives_a_new_revision_token(catalog):
    before = catalog_revision_token()
    Topic.objects.filter(slug="news").update(position=7)
    assert catalog_revision_token() not in (before, None)


# Every table the cached rules are read from (migrations 0003 and 0007 put the triggers on them; a migration that
# makes SQLite rebuild one must put them back).
@pytest.mark.parametrize(
    "model",
    [
        Channel,
        Topic,
        Topic.channels.through,
        Option,
        Notice,
        NoticeVersion,
        NoticeText,
        Question,
        QuestionVersion,
    ],
)
def test_a_write_to_any_catalog_table_gives_a_new_revision_token(questions, model):
    row = model.objects.first()
    before = catalog_revision_token()
    model.objects.filter(pk=row.pk).update(id=row.pk)
    assert catalog_revision_token() not in (before, None)


def test_rules_are_reused_while_the_catalog_is_unchanged(catalog):
    assert catalog_rules() is catalog_rules()


def test_the_write_path_sees_a_catalog_change_at_once(catalog):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )
    Topic.objects.get(slug="news").channels.add(Channel.objects.get(code="sms"))
    recorded = record_choices(
        customer=customer,
        choices=[make_choice("topic:news", value={"channels": ["sms"]})],
        provenance=Provenance(source="web", actor="customer"),
    )
    assert recorded.document.body["channels"]["sms"]["topics"] == ["news"]
