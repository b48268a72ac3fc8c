"""The notice lint: whether a set of variants are each a valid, informed notice, and differ only in what the
customer gets in return and the example of it (GDPR Art. 4(11), 7(1); EDPB guidelines 03/2022 on deceptive
design).

Pure: it judges what it is given (the purpose's catalog rules, the notice's titles, each variant's texts per
language), so the tests can hand it variants that must fail.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.catalog.models import languages_missing_an_example
from apps.catalog.purposes import Purpose
from apps.catalog.selectors import CatalogRules

MIN_VARIANTS, MAX_VARIANTS = 2, 4
# What every notice says, in this order; the notice's title and the brand's name say who asks.
PARTS = ("what_we_ask", "what_you_get", "what_we_do", "what_we_never_do")
EXAMPLE = "example"  # optional: a concrete instance of what you get
# What the customer gets in return: the promise and its example. Variants may differ here and nowhere else.
VALUE_EXCHANGE = ("what_you_get", EXAMPLE)
# Shown under every notice on the customer's page (templates/preferences/partials/notice.html).
HOW_TO_WITHDRAW = gettext_lazy(
    "You can change or withdraw this at any time on this page, or with the link in every message."
)
MARKUP = ("<", ">")


def part_names() -> dict[str, str]:
    return {
        "what_we_ask": _("What we ask"),
        "what_you_get": _("What you get"),
        "what_we_do": _("What we do"),
        "what_we_never_do": _("What we never do"),
        EXAMPLE: _("For example"),
    }


@dataclass(frozen=True)
class LintResult:
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def labels(count: int) -> str:
    return "ABCD"[:count]


def lint_variants(
    *, purpose: str, rules: CatalogRules, titles: dict[str, str], variants: list[dict[str, dict[str, str]]]
) -> LintResult:
    """Every problem with these variants (each a dict of language -> part -> text), in the staff's language."""
    languages = [code for code, _name in settings.LANGUAGES]
    problems = _controls_problems(purpose, rules)
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        problems.append(_("An experiment has 2 to 4 variants."))
    if not settings.BRAND.get("name", "").strip():
        problems.append(_("Who asks: the brand has no name (BRAND_NAME)."))
    for language in languages:
        if not str(titles.get(language, "")).strip():
            problems.append(_("Who asks: the notice has no title in %(language)s.") % {"language": language})
        if language != "en" and _untranslated(language):
            problems.append(
                _("How to withdraw: the page's sentence is not translated into %(language)s.")
                % {"language": language}
            )
    names = part_names()
    for label, texts in zip(labels(len(variants)), variants, strict=False):
        for language in languages:
            text = texts.get(language) or {}
            for part in (*PARTS, EXAMPLE):
                value = str(text.get(part, ""))
                if not value.strip() and part != EXAMPLE:
                    problems.append(
                        _("Variant %(label)s has no “%(part)s” in %(language)s.")
                        % {"label": label, "part": names[part], "language": language}
                    )
                elif any(mark in value for mark in MARKUP):
                    # Plain text only: a variant cannot bring a control, a link or a pre-ticked box of its own.
                    problems.append(
                        _("Variant %(label)s has markup in “%(part)s” (%(language)s): plain text only.")
                        % {"label": label, "part": names[part], "language": language}
                    )
        problems += _example_problems(label, texts, languages)
    problems += _difference_problems(variants, languages, names)
    return LintResult(problems)


def _said(texts: dict[str, dict[str, str]], language: str, part: str) -> str:
    return str((texts.get(language) or {}).get(part, "")).strip()


def _example_problems(label: str, texts: dict[str, dict[str, str]], languages: list[str]) -> list[str]:
    """An example in one language but not in another: the notices would not say the same in each language."""
    missing = languages_missing_an_example(
        {language: _said(texts, language, EXAMPLE) for language in languages}
    )
    if not missing:
        return []
    return [
        _(
            "Variant %(label)s gives an example in %(given)s but not in %(missing)s: give one in every "
            "language, or in none."
        )
        % {
            "label": label,
            "given": ", ".join(language for language in languages if language not in missing),
            "missing": ", ".join(missing),
        }
    ]


def _untranslated(language: str) -> bool:
    # The sentence's source, whatever language the staff member reads in (a German request activates German).
    with translation.override("en"):
        english = str(HOW_TO_WITHDRAW)
    with translation.override(language):
        return str(HOW_TO_WITHDRAW) == english


def _controls_problems(purpose: str, rules: CatalogRules) -> list[str]:
    """The controls come from the purpose, so they are the same for every variant; they must ask yes or no with
    nothing pre-ticked, and no equally reachable."""
    if purpose not in rules.purposes() or purpose not in rules.noticed_purposes:
        return [_("%(purpose)s is not a purpose with a notice.") % {"purpose": purpose}]
    if purpose == "frequency":
        return [_("Frequency is a setting with a default, not a yes-or-no question: it cannot be tested.")]
    if rules.is_required_topic(Purpose.parse(purpose)):
        return [_("A required topic cannot be switched off: there is no choice to test.")]
    options = rules.options.get(purpose)
    if options and rules.defaults.get(purpose) not in (None, options[0]):
        return [
            _("The default of %(purpose)s is not the least: it would be pre-ticked.") % {"purpose": purpose}
        ]
    return []


def _difference_problems(variants, languages, names) -> list[str]:
    problems = []
    for language in languages:
        # Variants may offer the same with different examples: the example is what is tested then.
        offers = [tuple(_said(texts, language, part) for part in VALUE_EXCHANGE) for texts in variants]
        if len(set(offers)) < len(offers):
            problems.append(
                _("Two variants say the same in “%(part)s” (%(language)s): nothing would be tested.")
                % {"part": names["what_you_get"], "language": language}
            )
        for part in PARTS:
            said = [_said(texts, language, part) for texts in variants]
            if part not in VALUE_EXCHANGE and len(set(said)) > 1:
                problems.append(
                    _(
                        "The variants differ in “%(part)s” (%(language)s): only what you get and its example "
                        "may differ."
                    )
                    % {"part": names[part], "language": language}
                )
    return problems


def value_exchange_only(texts: dict[str, dict[str, str]], current: dict[str, dict[str, str]]) -> bool:
    """Whether ``texts`` differ from ``current`` (both language -> part -> text) in the value exchange alone
    (what you get, the example): publishing them is then not a material change."""
    return set(texts) == set(current) and all(
        _said(texts, language, part) == _said(current, language, part)
        for language in texts
        for part in PARTS
        if part not in VALUE_EXCHANGE
    )
