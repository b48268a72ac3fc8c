import factory
from django.utils import timezone

from apps.api.models import ApiClient, IdempotencyRecord
from apps.catalog.models import Channel, Notice, NoticeText, NoticeVersion, Option, Topic
from apps.catalog.selectors import current_notice_version
from apps.consent.rules import Choice, Provenance
from apps.consent.services import Recorded, record_choices
from apps.customers.models import Customer


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"cust-{n:05d}")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    phone = factory.Sequence(lambda n: f"+4915100{n:05d}")
    # Verified, as texts need (the SMS verification's own tests pass None).
    phone_verified_at = factory.LazyAttribute(lambda o: timezone.now() if o.phone else None)
    name = factory.Faker("name")
    locale = "en"


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"channel{n}")
    label = factory.LazyAttribute(lambda o: {"en": o.code.title(), "de": o.code.title()})


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ["slug"]
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"topic-{n}")
    label = factory.LazyAttribute(lambda o: {"en": o.slug, "de": o.slug})
    required = False
    # Only a transactional topic may be required (Topic.refuse_widening).
    kind = factory.LazyAttribute(lambda o: "transactional" if o.required else "marketing")

    @factory.post_generation
    def channels(self, create, extracted, **kwargs):
        if extracted:
            self.channels.set(extracted)


class OptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Option
        django_get_or_create = ["set", "code"]

    label = factory.LazyAttribute(lambda o: {"en": o.code, "de": o.code})
    rank = factory.Sequence(int)


class NoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notice
        django_get_or_create = ["purpose"]

    title = factory.LazyAttribute(lambda o: {"en": o.purpose, "de": o.purpose})


class NoticeVersionFactory(factory.django.DjangoModelFactory):
    """An unpublished version with English and German texts; publish it through the consent service.

    ``texts__example="…"`` gives both texts an example ("[en] …", "[de] …")."""

    class Meta:
        model = NoticeVersion
        skip_postgeneration_save = True

    notice = factory.SubFactory(NoticeFactory)
    number = factory.LazyAttribute(lambda o: o.notice.versions.count() + 1)

    @factory.post_generation
    def texts(self, create, extracted, **kwargs):
        for language in ("en", "de"):
            NoticeText.objects.create(
                version=self,
                language=language,
                what_we_ask=f"[{language}] May we? ({self.notice.purpose} v{self.number})",
                what_you_get=f"[{language}] What you get.",
                what_we_do=f"[{language}] What we do.",
                what_we_never_do=f"[{language}] What we never do.",
                example=f"[{language}] {kwargs['example']}" if kwargs.get("example") else "",
            )


class ApiClientFactory(factory.django.DjangoModelFactory):
    """A client row only; for a key that authenticates, use ``apps.api.services.api_client_create``."""

    class Meta:
        model = ApiClient

    name = factory.Sequence(lambda n: f"client-{n}")
    key_prefix = "cnd_"
    key_hash = factory.Sequence(lambda n: f"{n:064x}")
    scopes = factory.LazyFunction(lambda: list(ApiClient.Scope.values))


class IdempotencyRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdempotencyRecord

    client = factory.SubFactory(ApiClientFactory)
    key = factory.Sequence(lambda n: f"key-{n}")
    request_fingerprint = factory.Sequence(lambda n: f"{n:064x}")
    status_code = 201
    response_body = factory.LazyFunction(dict)


def make_choice(purpose, state="given", value=None, **kwargs):
    """A choice under the purpose's current notice version."""
    return Choice(
        purpose=purpose,
        state=state,
        notice_version_id=current_notice_version(purpose).pk,
        value=value,
        **kwargs,
    )


# An inference as the brand's systems report it (PUT …/inferences, ``report_inferences``).
RUNNER = {
    "code": "runner",
    "label": {"en": "Runs often", "de": "Läuft oft"},
    "source": "purchases",
    "purpose": "personalization",
}


def tell(customer, question: str, *codes: str) -> Recorded:
    """The customer answers a profile question on their page."""
    return record_choices(
        customer=customer,
        choices=[make_choice(f"profile:{question}", value={"answer": list(codes)})],
        provenance=Provenance(source="web", actor="customer"),
    )


def set_depth(customer, depth: str) -> Recorded:
    """The customer picks a personalization depth on their page ("none" withdraws it)."""
    choice = (
        make_choice("personalization", "withdrawn")
        if depth == "none"
        else make_choice("personalization", value={"depth": depth})
    )
    return record_choices(
        customer=customer, choices=[choice], provenance=Provenance(source="web", actor="customer")
    )
