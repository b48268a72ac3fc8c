"""The notice lint: variants that must fail, each for its own reason, and a pair that passes."""

import pytest
from django.utils import translation

from apps.catalog.selectors import catalog_rules
from apps.experiments.lint import lint_variants, value_exchange_only

from .conftest import SHORT, STOCK, texts

LINEN = {
    "en": {"example": "“Your Linen Shirt in size 38 is back — 2 left.”"},
    "de": {"example": "„Ihr Leinenhemd in Größe 38 ist wieder da — noch 2.“"},
}

TITLES = {"en": "Offers", "de": "Angebote"}


def lint(variants, purpose="topic:offers", titles=TITLES):
    return lint_variants(purpose=purpose, rules=catalog_rules(), titles=titles, variants=variants)


def test_two_full_notices_differing_in_what_you_get_pass(catalog):
    assert lint([SHORT, STOCK]).problems == []


def test_a_variant_without_german_fails(catalog):
    english_only = {"en": STOCK["en"]}
    result = lint([SHORT, english_only])
    assert not result.passed
    assert "Variant B has no “What we ask” in de." in result.problems


@pytest.mark.parametrize("part", ["what_we_ask", "what_you_get", "what_we_do", "what_we_never_do"])
def test_a_variant_missing_a_required_part_fails(catalog, part):
    broken = texts("Alerts in your size.", "Hinweise in Ihrer Größe.", de={part: "  "})
    assert any(
        "Variant B has no" in problem and "in de" in problem for problem in lint([SHORT, broken]).problems
    )


def test_a_notice_without_a_german_title_fails_who_asks(catalog):
    assert (
        "Who asks: the notice has no title in de." in lint([SHORT, STOCK], titles={"en": "Offers"}).problems
    )


def test_variants_that_differ_in_what_we_do_fail(catalog):
    wider = texts(
        STOCK["en"]["what_you_get"], STOCK["de"]["what_you_get"], en={"what_we_do": "We text you daily."}
    )
    assert (
        "The variants differ in “What we do” (en): only what you get and its example may differ."
        in lint([SHORT, wider]).problems
    )


def test_variants_that_differ_in_their_examples_as_well_pass(catalog):
    with_example = texts(STOCK["en"]["what_you_get"], STOCK["de"]["what_you_get"], **LINEN)
    assert lint([SHORT, with_example]).problems == []


def test_variants_that_offer_the_same_with_and_without_an_example_pass(catalog):
    with_example = texts(SHORT["en"]["what_you_get"], SHORT["de"]["what_you_get"], **LINEN)
    assert lint([SHORT, with_example]).problems == []


def test_an_example_in_english_alone_fails(catalog):
    english_only = texts(STOCK["en"]["what_you_get"], STOCK["de"]["what_you_get"], en=LINEN["en"])
    assert lint([SHORT, english_only]).problems == [
        "Variant B gives an example in en but not in de: give one in every language, or in none."
    ]


def test_an_example_in_german_alone_fails_in_the_officers_german(catalog):
    german_only = texts(STOCK["en"]["what_you_get"], STOCK["de"]["what_you_get"], de=LINEN["de"])
    with translation.override("de"):
        problems = lint([german_only, SHORT]).problems
    assert problems == [
        "Variante A gibt ein Beispiel in de, aber nicht in en: Geben Sie es in jeder Sprache an oder in keiner."
    ]


def test_an_example_with_markup_fails(catalog):
    linked = texts(
        STOCK["en"]["what_you_get"],
        STOCK["de"]["what_you_get"],
        en={"example": '<a href="https://example.com">See one</a>'},
        de={"example": "Ein Beispiel."},
    )
    assert "Variant B has markup in “For example” (en): plain text only." in lint([SHORT, linked]).problems


def test_variants_that_offer_the_same_fail(catalog):
    assert any("Two variants say the same" in problem for problem in lint([SHORT, SHORT]).problems)


def test_a_variant_with_its_own_pre_ticked_box_fails(catalog):
    ticked = texts('<input type="checkbox" checked> Yes please', "Ja bitte")
    assert "Variant B has markup in “What you get” (en): plain text only." in lint([SHORT, ticked]).problems


def test_a_required_topic_cannot_be_tested(catalog):
    assert (
        "A required topic cannot be switched off: there is no choice to test."
        in lint([SHORT, STOCK], purpose="topic:orders").problems
    )


def test_frequency_cannot_be_tested(catalog):
    assert any(
        "Frequency is a setting" in problem for problem in lint([SHORT, STOCK], purpose="frequency").problems
    )


def test_a_purpose_whose_default_is_not_the_least_fails_as_pre_ticked(catalog):
    rules = catalog_rules()
    ticked = rules.__class__(**{**rules.__dict__, "defaults": {**rules.defaults, "location": "city"}})
    result = lint_variants(purpose="location", rules=ticked, titles=TITLES, variants=[SHORT, STOCK])
    assert "The default of location is not the least: it would be pre-ticked." in result.problems


@pytest.mark.parametrize("count", [1, 5])
def test_one_or_five_variants_fail(catalog, count):
    variants = [texts(f"Offer {n}", f"Angebot {n}") for n in range(count)]
    assert "An experiment has 2 to 4 variants." in lint(variants).problems


def test_a_brand_without_a_name_fails_who_asks(catalog, settings):
    settings.BRAND = {**settings.BRAND, "name": ""}
    assert "Who asks: the brand has no name (BRAND_NAME)." in lint([SHORT, STOCK]).problems


def test_a_language_without_the_withdrawal_sentence_fails(catalog, settings):
    settings.LANGUAGES = [*settings.LANGUAGES, ("fr", "Français")]
    result = lint([SHORT, STOCK])
    assert "How to withdraw: the page's sentence is not translated into fr." in result.problems
    assert "How to withdraw: the page's sentence is not translated into de." not in result.problems


def test_full_notices_pass_for_a_privacy_officer_reading_in_german(catalog):
    with translation.override("de"):
        assert lint([SHORT, STOCK]).problems == []


def test_only_the_value_exchange_differing_is_not_material():
    assert value_exchange_only(STOCK, SHORT)
    assert not value_exchange_only(texts("x", "y", de={"what_we_do": "Anders."}), SHORT)


def test_a_different_example_is_part_of_the_value_exchange_and_not_material():
    assert value_exchange_only(
        texts(SHORT["en"]["what_you_get"], SHORT["de"]["what_you_get"], **LINEN), SHORT
    )
    assert value_exchange_only(
        texts(STOCK["en"]["what_you_get"], STOCK["de"]["what_you_get"], **LINEN), SHORT
    )
