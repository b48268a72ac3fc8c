import pytest

from apps.experiments.services import VariantSpec, approve_experiment, create_experiment, start_experiment
from tests.support.conftest import make_staff


def texts(value_en: str, value_de: str, **overrides) -> dict:
    """A full notice in English and German whose value exchange says ``value_en`` / ``value_de``."""
    result = {}
    for language, value in (("en", value_en), ("de", value_de)):
        result[language] = {
            "what_we_ask": f"[{language}] May we send you offers by email?",
            "what_you_get": value,
            "what_we_do": f"[{language}] We email you at most twice a week.",
            "what_we_never_do": f"[{language}] We never sell your address.",
        }
        result[language].update(overrides.get(language, {}))
    return result


def offer(value_en: str, value_de: str, example_en: str = "", example_de: str = "", weight: int = 50):
    """One variant for ``services.variants_from_current``: its value exchange per language, and its share."""
    return (
        {
            "en": {"what_you_get": value_en, "example": example_en},
            "de": {"what_you_get": value_de, "example": example_de},
        },
        weight,
    )


SHORT = texts("Short, urgent news on your topics.", "Kurze, dringende Neuigkeiten zu Ihren Themen.")
STOCK = texts(
    "Back-in-stock alerts in your size, never more than two a week.",
    "Hinweise, wenn Ihre Größe wieder da ist, höchstens zwei pro Woche.",
)


@pytest.fixture
def marketer(db):
    return make_staff("marketing", username="marketer")


@pytest.fixture
def officer(db):
    return make_staff("officer", username="officer")


@pytest.fixture
def experiment(catalog, marketer):
    return create_experiment(
        staff=marketer,
        name="Offers by email",
        purpose="topic:offers",
        variants=[VariantSpec(SHORT, 50), VariantSpec(STOCK, 50)],
    )


def started(experiment, marketer, officer):
    approve_experiment(experiment=experiment, staff=officer)
    start_experiment(experiment=experiment, staff=marketer)
    experiment.refresh_from_db()
    return experiment
