"""What the brand may ask: channels, topics, option sets, and the notices that explain each purpose.

A *purpose* is one thing a customer answers, named by a key: ``channel:email``, ``topic:new-arrivals``,
``frequency``, ``location`` or ``personalization``. Every purpose has one notice; every answer pins the notice
version that was on screen.
"""

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .purposes import channel_purpose, profile_purpose, topic_purpose


def translated(texts: dict[str, str], language: str) -> str:
    """The text in ``language``, falling back to English, then to any language there is."""
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


class Channel(models.Model):
    code = models.SlugField(max_length=20, unique=True)
    label = models.JSONField(help_text='Per language, e.g. {"en": "Email", "de": "E-Mail"}.')
    double_opt_in = models.BooleanField(
        default=False, help_text="Consent counts only once the customer confirmed the address."
    )
    supports_quiet_hours = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.code

    @property
    def purpose(self) -> str:
        return channel_purpose(self.code)


class WideningChangeError(ValidationError):
    """A catalog change that would let Candor reach customers further than they allowed, without their consent.

    Narrowing changes (a required topic made optional, a topic or channel removed) are fine: the next document
    of each customer follows them. Widening ones are refused here, for every door, not in one form.
    """


class Topic(models.Model):
    class Kind(models.TextChoices):
        MARKETING = "marketing", "Marketing: only for customers who opt in"
        TRANSACTIONAL = "transactional", "Transactional (e.g. order updates): may be required"

    slug = models.SlugField(max_length=50, unique=True)
    label = models.JSONField(help_text="Per language.")
    kind = models.CharField(
        max_length=13, choices=Kind.choices, default=Kind.MARKETING, help_text="Fixed at creation."
    )
    channels = models.ManyToManyField(
        Channel, related_name="topics", help_text="Channels this topic may use."
    )
    required = models.BooleanField(
        default=False,
        help_text="Shown but cannot be switched off (e.g. order updates). Only a transactional topic, and only "
        "from its creation: it can later be made optional, never required again.",
    )
    required_reason = models.JSONField(
        default=dict, blank=True, help_text="Per language: why it is required."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.slug

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.refuse_widening()
        super().save(*args, **kwargs)

    @property
    def purpose(self) -> str:
        return topic_purpose(self.slug)

    def clean(self) -> None:
        self.refuse_widening()

    def refuse_widening(self, *, channels: Iterable[Channel] | None = None) -> None:
        """Raise ``WideningChangeError`` if this change would reach customers who refused the topic.

        A required topic reaches every customer on its channels whatever they chose, so only a transactional
        topic may be required, only from its creation, and its channels are fixed then (pass the new
        ``channels`` when they change; a new topic's are set right after it is created).
        """
        if self.required and self.kind != self.Kind.TRANSACTIONAL:
            raise WideningChangeError({"required": "Only a transactional topic can be required."})
        before = type(self).objects.filter(pk=self.pk).values("kind", "required").first() if self.pk else None
        if before is None:
            return
        if before["kind"] != self.kind:
            raise WideningChangeError({"kind": "A topic's kind is fixed at creation."})
        if self.required and not before["required"]:
            raise WideningChangeError(
                {
                    "required": "An optional topic cannot become required: customers who refused it would get "
                    "it. Create a new transactional topic instead."
                }
            )
        if channels is not None and self.required:
            added = {channel.pk for channel in channels} - set(self.channels.values_list("pk", flat=True))
            if added:
                raise WideningChangeError(
                    {"channels": "A required topic's channels are fixed at creation; it can only lose some."}
                )


class Option(models.Model):
    """One choice in an option set: a frequency, a location precision or a personalization depth."""

    class Set(models.TextChoices):
        FREQUENCY = "frequency", "Frequency"
        LOCATION = "location", "Location precision"
        PERSONALIZATION = "personalization", "Personalization depth"

    set = models.CharField(max_length=20, choices=Set.choices)
    code = models.SlugField(max_length=20)
    label = models.JSONField(help_text="Per language.")
    description = models.JSONField(default=dict, blank=True, help_text="Per language: what it means for you.")
    rank = models.PositiveSmallIntegerField(help_text="Order within the set, from least to most.")
    is_default = models.BooleanField(default=False, help_text="What applies until the customer chooses.")

    class Meta:
        ordering = ["set", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["set", "code"], name="option_code_unique_in_set"),
            models.UniqueConstraint(
                fields=["set"], condition=models.Q(is_default=True), name="option_one_default_per_set"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.set}:{self.code}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.refuse_widening()
        super().save(*args, **kwargs)

    # Sets whose default goes into the permission document of every customer who has not chosen.
    LEAST_IS_DEFAULT = (Set.PERSONALIZATION, Set.LOCATION)

    def clean(self) -> None:
        self.refuse_widening()

    def refuse_widening(self) -> None:
        """The default depth of personalization and location sharing is the least one: a higher default would
        widen every customer who never chose, without their consent."""
        if not (self.is_default and self.set in self.LEAST_IS_DEFAULT):
            return
        if type(self).objects.filter(set=self.set, rank__lt=self.rank).exclude(pk=self.pk).exists():
            raise WideningChangeError(
                {"is_default": f"The default {self.get_set_display().lower()} must be the least of its set."}
            )


class BenefitKind(models.Model):
    """What a customer gets in one message, in a few words ("back in stock in your size"): senders name it when
    they report a message, and the customer's page counts what they received for what they shared."""

    code = models.SlugField(max_length=50, unique=True)
    label = models.JSONField(help_text='Per language, e.g. {"en": "back in stock in your size"}.')
    unit_one = models.JSONField(help_text='Per language, one of them: {"en": "alert", "de": "Hinweis"}.')
    unit_other = models.JSONField(help_text='Per language, several: {"en": "alerts", "de": "Hinweise"}.')
    purpose = models.CharField(
        max_length=80,
        blank=True,
        help_text="What the customer shared to get it (e.g. location); blank: the message's topic.",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Notice(models.Model):
    purpose = models.CharField(max_length=80, unique=True)
    title = models.JSONField(help_text="Per language.")
    honours_gpc = models.BooleanField(
        default=False, help_text="A browser's Global Privacy Control signal switches this purpose off."
    )

    class Meta:
        ordering = ["purpose"]

    def __str__(self) -> str:
        return self.purpose


class PublishedVersionError(ValidationError):
    pass


class NoticeVersion(models.Model):
    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    material = models.BooleanField(
        default=False, help_text="Publishing it asks everyone again: consents under older versions lapse."
    )
    change_summary = models.JSONField(default=dict, blank=True, help_text="Per language: what changed.")
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    text_hash = models.CharField(max_length=64, blank=True, editable=False)
    legacy_source = models.CharField(
        max_length=40,
        blank=True,
        help_text="For consent captured before Candor: the source system whose sign-up wording this version "
        "holds (number 0, never shown as the current version).",
    )
    experimental = models.BooleanField(
        default=False,
        editable=False,
        help_text="A variant of an experiment (apps/experiments): valid to answer under once published, shown "
        "only to the customers assigned to it, never the purpose's current version (a winner is published anew).",
    )

    class Meta:
        ordering = ["notice", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "number"],
                condition=models.Q(legacy_source=""),
                name="notice_version_unique",
            ),
            models.UniqueConstraint(
                fields=["notice", "legacy_source"],
                condition=~models.Q(legacy_source=""),
                name="legacy_notice_version_unique",
            ),
        ]
        indexes = [models.Index(fields=["notice", "published_at"], name="notice_version_published")]

    def __str__(self) -> str:
        if self.legacy_source:
            return f"{self.notice.purpose} legacy ({self.legacy_source})"
        return f"{self.notice.purpose} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk and type(self).objects.filter(pk=self.pk, published_at__isnull=False).exists():
            raise PublishedVersionError(f"{self} is published and cannot change; write a new version.")
        super().save(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def texts_by_language(self) -> dict[str, "NoticeText"]:
        return {text.language: text for text in self.texts.all()}

    def compute_text_hash(self) -> str:
        body = {text.language: text.canonical() for text in self.texts.order_by("language")}
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def mark_published(self) -> None:
        if not self.texts.filter(language="en").exists():
            raise ValidationError(f"{self} needs at least its English text before it can be published.")
        self.text_hash = self.compute_text_hash()
        self.published_at = timezone.now()
        super().save(update_fields=["text_hash", "published_at"])


class NoticeText(models.Model):
    """The wording of one notice version in one language: what we ask, what you get, what we do, never do, and
    optionally an example of what you get."""

    # What every notice says.
    TEXT_FIELDS = ("what_we_ask", "what_you_get", "what_we_do", "what_we_never_do")
    # Everything the customer reads: the parts, and the example when there is one.
    WORDING_FIELDS = (*TEXT_FIELDS, "example")

    version = models.ForeignKey(NoticeVersion, on_delete=models.PROTECT, related_name="texts")
    language = models.CharField(max_length=10)
    what_we_ask = models.TextField()
    what_you_get = models.TextField()
    what_we_do = models.TextField()
    what_we_never_do = models.TextField()
    example = models.TextField(
        blank=True,
        help_text="Optional: a concrete instance of what you get, e.g. “Your size 38 of the Linen Shirt is back "
        "— 2 left”. Part of the value exchange and of the wording's hash.",
    )

    class Meta:
        ordering = ["language"]
        constraints = [
            models.UniqueConstraint(fields=["version", "language"], name="notice_text_one_per_language")
        ]

    def __str__(self) -> str:
        return f"{self.version} [{self.language}]"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.version.is_published:
            raise PublishedVersionError(f"{self.version} is published; its wording cannot change.")
        super().save(*args, **kwargs)

    def canonical(self) -> dict[str, str]:
        """The words its version's text hash covers: the four parts, and the example only when there is one, so
        the versions published before notices had examples keep the hash they were published with."""
        words = {field: getattr(self, field) for field in self.TEXT_FIELDS}
        if self.example:
            words["example"] = self.example
        return words


def languages_missing_an_example(examples: dict[str, str]) -> list[str]:
    """Of ``{language: example}``, the languages without one while another language has one: a notice says the
    same in every language, so an example is given in all of them or in none."""
    if not any(example.strip() for example in examples.values()):
        return []
    return [language for language, example in examples.items() if not example.strip()]


class CatalogRevision(models.Model):
    """One row whose token the database replaces on every write to a catalog table (migration 0002's triggers).

    The write path reads the token under its lock and reuses the catalog it cached for that token, so a busy
    write path does not re-read a catalog that changes a few times a year, yet sees a change at once.
    A random token, unlike a counter, cannot come back after a rolled-back change.
    """

    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return self.token


class Question(models.Model):
    """Something the brand asks the customer about themselves (zero-party data): interests, a size, a store.

    Its purpose is ``profile:<code>``: the question's notice says what is asked and what the customer gets for
    the answer (the value exchange), and each of its notice versions has one ``QuestionVersion`` with the answer
    options, so an answer pins the exact wording and options the customer saw.
    """

    class Kind(models.TextChoices):
        ONE = "one", "One answer (a size, a store, a birthday month)"
        MANY = "many", "Several answers (interests)"

    code = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.ONE)
    serves = models.JSONField(
        default=list,
        blank=True,
        help_text='The purposes the answer is used for, e.g. ["topic:new-arrivals"]; shown to the customer.',
    )
    may_send_downstream = models.BooleanField(
        default=False,
        help_text="Destinations configured with profile receive the answer (at depth interests or deeper).",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.code

    @property
    def purpose(self) -> str:
        return profile_purpose(self.code)


class QuestionVersion(models.Model):
    """The answer options of one version of a question, beside its notice version (which holds the wording).

    Published with the notice version and immutable from then on, like its texts."""

    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="versions")
    notice_version = models.OneToOneField(
        NoticeVersion, on_delete=models.PROTECT, related_name="question_version"
    )
    options = models.JSONField(
        help_text='In order: [{"code": "m", "label": {"en": "M", "de": "M"}}, …]; English is required.'
    )

    class Meta:
        ordering = ["question", "-notice_version__number"]

    def __str__(self) -> str:
        return f"{self.question} options ({self.notice_version})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        published = NoticeVersion.objects.filter(pk=self.notice_version_id, published_at__isnull=False)
        if published.exists():
            raise PublishedVersionError(
                f"{self.notice_version} is published; its answer options cannot change."
            )
        super().save(*args, **kwargs)

    def clean(self) -> None:
        problems = option_problems(self.options)
        if problems:
            raise ValidationError({"options": problems})
        if not self.notice_version_id:
            return
        if self.notice_version.notice.purpose != self.question.purpose:
            raise ValidationError(
                {"notice_version": f"Pick a version of the {self.question.purpose} notice."}
            )
        before = type(self).objects.filter(pk=self.pk).values_list("notice_version_id", "options").first()
        if self.notice_version.is_published and before != (self.notice_version_id, self.options):
            raise ValidationError(
                {
                    "notice_version": f"{self.notice_version} is published; write a new version for new options."
                }
            )


def option_problems(options: Any) -> list[str]:
    """What is wrong with a question version's options (an empty list when nothing is)."""
    if not isinstance(options, list) or not options:
        return ["Give at least one answer option."]
    problems, codes = [], []
    for option in options:
        if not isinstance(option, dict) or not isinstance(option.get("label"), dict):
            problems.append('Each option is {"code": …, "label": {"en": …, "de": …}}.')
            continue
        code = option.get("code")
        if not isinstance(code, str) or not code or len(code) > 40 or not code.replace("-", "").isalnum():
            problems.append(f"Option code {code!r}: letters, digits and - only, up to 40.")
        codes.append(code)
        if not str(option["label"].get("en", "")).strip():
            problems.append(f"Option {code!r} needs an English label.")
    if len(set(codes)) != len(codes):
        problems.append("Two options share a code.")
    return problems
