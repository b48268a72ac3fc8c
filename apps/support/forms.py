"""The forms of the console: a change a customer asked for by phone, letter, email or in person; an erasure; an
export to import."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Option, translated
from apps.catalog.purposes import Purpose
from apps.catalog.selectors import catalog_rules
from apps.consent.entries import Choices, entries
from apps.consent.evidence import HOW_ASKED
from apps.consent.models import ConsentEvent
from apps.consent.rules import OPTION_KEYS, Answer, answer_choices, option_value, topic_value
from apps.imports.formats import FORMATS

from .selectors import purpose_titles
from .services import NOTE_MAX_LENGTH

State = ConsentEvent.State
YES, NO = "yes", "no"
ANSWERS = [("", "No change"), (YES, "Yes"), (NO, "No")]


class PurposeGroup:
    def __init__(self, purpose, title, current, fields):
        self.purpose, self.title, self.current, self.fields = purpose, title, current, fields


class ChangeForm(forms.Form):
    """One "Yes / No / No change" per purpose, with the details a "Yes" needs; how the customer asked; a note."""

    how_asked = forms.ChoiceField(
        label="How did the customer ask?", choices=list(HOW_ASKED.items()), widget=forms.RadioSelect
    )
    note = forms.CharField(
        label="Note",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the customer asked for, in your words. Kept beside the ledger, not in it: "
        "erasure blanks it.",
    )

    captured_at = forms.DateTimeField(
        label="When did the customer say it? (optional)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M"],
        help_text="Only if earlier than now, e.g. the date of a letter (UTC). A choice the customer made before a "
        "later one for the same purpose is kept as history and changes nothing.",
    )

    def __init__(self, *args, customer, current: Choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer, self.current = customer, entries(current)
        self.rules = catalog_rules()
        self.versions = {purpose: version.id for purpose, version in self.rules.current_versions().items()}
        titles = purpose_titles()
        options: dict[str, list[tuple[str, str]]] = {}
        for option in Option.objects.all():
            options.setdefault(option.set, []).append((option.code, translated(option.label, "en")))
        self.groups = []
        for purpose in self.rules.purposes():
            if purpose not in self.versions:
                continue
            names = [self._add_fields(purpose, options)]
            names += self._add_detail_fields(purpose, options)
            entry = self.current.get(purpose)
            self.groups.append(
                PurposeGroup(
                    purpose,
                    titles.get(purpose, purpose),
                    dict(State.choices).get(entry.state if entry else "", "Not asked yet"),
                    [self[name] for name in names],
                )
            )

    def _add_fields(self, purpose, options) -> str:
        name = f"{purpose}|answer"
        answers = ANSWERS
        if self.rules.is_required_topic(Purpose.parse(purpose)):
            answers = ANSWERS[:2]
        self.fields[name] = forms.ChoiceField(label="Answer", choices=answers, required=False)
        return name

    def _add_detail_fields(self, purpose, options) -> list[str]:
        entry = self.current.get(purpose)
        value = (entry.value if entry else None) or {}
        topic = self.rules.topic_rule(Purpose.parse(purpose))
        if topic is not None:
            allowed = sorted(topic.channels)
            name = f"{purpose}|channels"
            self.fields[name] = forms.MultipleChoiceField(
                label="By",
                choices=[(code, code) for code in allowed],
                widget=forms.CheckboxSelectMultiple,
                required=False,
                initial=value.get("channels") or allowed,
            )
            return [name]
        if purpose == "frequency":
            self.fields["frequency|digest"] = forms.ChoiceField(
                label="How often",
                choices=options.get("frequency", []),
                required=False,
                initial=value.get("digest"),
            )
            self.fields["frequency|paused_until"] = forms.DateField(
                label="Pause until",
                required=False,
                initial=value.get("paused_until"),
                widget=forms.DateInput(attrs={"type": "date"}),
            )
            self.fields["frequency|weekly_cap"] = forms.IntegerField(
                label="At most per week",
                min_value=1,
                max_value=50,
                required=False,
                initial=value.get("weekly_cap"),
            )
            return ["frequency|digest", "frequency|paused_until", "frequency|weekly_cap"]
        if purpose in ("location", "personalization"):
            key = OPTION_KEYS[purpose]
            choices = [item for item in options.get(purpose, []) if item[0] != "off"]
            self.fields[f"{purpose}|{key}"] = forms.ChoiceField(
                label="Level" if purpose == "location" else "Depth",
                choices=choices,
                required=False,
                initial=value.get(key),
            )
            return [f"{purpose}|{key}"]
        return []

    def clean(self):
        cleaned = super().clean()
        answers = []
        for group in self.groups:
            purpose = group.purpose
            answer = cleaned.get(f"{purpose}|answer")
            if answer == NO:
                answers.append(Answer(purpose, False, self.versions[purpose]))
            elif answer == YES and (value := self._value(purpose, cleaned)) is not False:
                answers.append(Answer(purpose, True, self.versions[purpose], value))
        self.choices = answer_choices(answers, self.current)
        if not self.choices and not self.errors:
            if any(cleaned.get(f"{group.purpose}|answer") for group in self.groups):
                raise forms.ValidationError("Nothing to change: each No is already recorded.")
            raise forms.ValidationError("Choose Yes or No for at least one preference.")
        return cleaned

    def _value(self, purpose, cleaned):
        """The value a "Yes" records, or ``False`` after adding the error that stops it."""
        parsed = Purpose.parse(purpose)
        if parsed.is_channel:
            return None
        if parsed.is_topic:
            channels = cleaned.get(f"{purpose}|channels") or []
            if not channels:
                self.add_error(f"{purpose}|channels", "Tick at least one channel for a Yes.")
                return False
            entry = self.current.get(purpose)
            return topic_value(channels, entry.value_of("frequency") if entry else None)
        if purpose == "frequency":
            entry = self.current.get("frequency")
            kept = dict((entry.value if entry else None) or {})
            paused = cleaned.get("frequency|paused_until")
            kept.update(
                digest=cleaned.get("frequency|digest") or kept.get("digest"),
                paused_until=paused.isoformat() if paused else None,
                weekly_cap=cleaned.get("frequency|weekly_cap"),
            )
            return kept
        return option_value(purpose, cleaned.get(f"{purpose}|{OPTION_KEYS[purpose]}"))


class EraseForm(forms.Form):
    how_asked = ChangeForm.base_fields["how_asked"]
    note = ChangeForm.base_fields["note"]
    confirm = forms.BooleanField(
        label="I checked the requester's identity and this customer's personal data is to be erased for good.",
        required=True,
    )


class ImportForm(forms.Form):
    """A platform's export for ``apps.imports``: what it is, which source's legacy notices it comes under."""

    file = forms.FileField(label="Export file")
    format = forms.ChoiceField(label="Format", choices=[(fmt, fmt) for fmt in FORMATS])
    source = forms.SlugField(
        label="Source",
        max_length=40,
        help_text="The source system's name its legacy notices were entered under, e.g. mailchimp.",
    )
    map = forms.FileField(
        label="Topic mapping (optional)", required=False, help_text="topics.toml: lists and groups to topics."
    )
    exported_at = forms.DateTimeField(
        label="When the export was taken (Braze only)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    dry_run = forms.TypedChoiceField(
        label="Run",
        choices=[
            ("yes", "Dry run: write nothing, report what the import would do"),
            ("no", "Import for real"),
        ],
        coerce=lambda answer: answer == "yes",
        initial="yes",
        widget=forms.RadioSelect,
    )


class ExperimentForm(forms.Form):
    """A new experiment: one purpose, 2 to 4 variants that say in return what the marketer wants to test, each
    optionally with an example of it (the rest of each notice is the purpose's current wording), and the split.
    A is the control."""

    LABELS = "ABCD"

    name = forms.CharField(label=_("Name"), max_length=100)
    purpose = forms.ChoiceField(label=_("Purpose"))

    def __init__(self, *args, purposes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = [(purpose, purpose) for purpose in purposes]
        for label in self.LABELS:
            required = label in "AB"
            self.fields[f"value_en_{label}"] = forms.CharField(
                label=_("Variant %(label)s: what you get (English)") % {"label": label},
                required=required,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            self.fields[f"value_de_{label}"] = forms.CharField(
                label=_("Variant %(label)s: what you get (German)") % {"label": label},
                required=required,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            # Optional; the notice lint wants it in both languages or in neither.
            self.fields[f"example_en_{label}"] = forms.CharField(
                label=_("Variant %(label)s: an example of it (English, optional)") % {"label": label},
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            self.fields[f"example_de_{label}"] = forms.CharField(
                label=_("Variant %(label)s: an example of it (German, optional)") % {"label": label},
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            self.fields[f"weight_{label}"] = forms.IntegerField(
                label=_("Variant %(label)s: share of customers (%%)") % {"label": label},
                required=False,
                min_value=1,
                max_value=99,
            )

    def offers(self) -> list[tuple[dict[str, dict[str, str]], int]]:
        """Per variant given: (language -> what you get and its example, weight); an even split when no weight
        is given. A variant with an example alone is given too, so the lint says what it lacks."""
        data = self.cleaned_data
        given = [
            label
            for label in self.LABELS
            if any(
                data.get(f"{part}_{language}_{label}")
                for part in ("value", "example")
                for language in ("en", "de")
            )
        ]
        even = 100 // len(given)
        return [
            (
                {
                    language: {
                        "what_you_get": data.get(f"value_{language}_{label}", ""),
                        "example": data.get(f"example_{language}_{label}", ""),
                    }
                    for language in ("en", "de")
                },
                data.get(f"weight_{label}") or (even + (100 - even * len(given) if index == 0 else 0)),
            )
            for index, label in enumerate(given)
        ]


class InsightsFilter(forms.Form):
    """What the insights page narrows to: one language or all, everyone or those who answered lately, how many
    weeks back."""

    language = forms.ChoiceField(required=False, choices=[("", _("All languages")), *settings.LANGUAGES])
    population = forms.ChoiceField(
        required=False,
        choices=[("everyone", _("Everyone")), ("asked", _("Answered in the period"))],
    )
    weeks = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[(n, n) for n in (4, 12, 26, 52)]
    )
