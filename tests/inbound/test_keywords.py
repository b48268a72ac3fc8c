import pytest

from apps.inbound.keywords import Intent, classify

CASES = [
    # The standard keywords, whole message, any case and punctuation.
    ("STOP", Intent.STOP),
    ("stop", Intent.STOP),
    ("Stop!!!", Intent.STOP),
    ("  s.t.o.p  ", Intent.OTHER),  # letters apart are not the word
    ("STOPALL", Intent.STOP),
    ("Unsubscribe", Intent.STOP),
    ("cancel", Intent.STOP),
    ("END", Intent.STOP),
    ("quit.", Intent.STOP),
    ("Revoke", Intent.STOP),
    ("opt-out", Intent.STOP),
    ("OPTOUT", Intent.STOP),
    # German.
    ("STOPP", Intent.STOP),
    ("Abmelden", Intent.STOP),
    ("austragen!", Intent.STOP),
    ("Kündigen", Intent.STOP),
    # Leading the message.
    ("Stop please", Intent.STOP),
    ("STOP sending me these", Intent.STOP),
    ("Stopp bitte", Intent.STOP),
    # Free text a reasonable person reads as revocation.
    ("please stop texting me", Intent.STOP),
    ("Don't text me again", Intent.STOP),
    ("no more texts thanks", Intent.STOP),
    ("take me off your list", Intent.STOP),
    ("kein SMS mehr", Intent.STOP),
    ("Bitte keine Nachrichten mehr", Intent.STOP),
    ("nicht mehr anschreiben bitte", Intent.STOP),
    ("Hört auf damit", Intent.STOP),
    # Re-grants only as the whole message.
    ("START", Intent.START),
    ("unstop", Intent.START),
    ("Start?", Intent.START),
    ("start over? no", Intent.OTHER),
    # Help.
    ("HELP", Intent.HELP),
    ("Hilfe", Intent.HELP),
    ("info", Intent.HELP),
    # Ambiguous: not guessed, staff decide.
    ("wrong number", Intent.REVIEW),
    ("I said stop last week", Intent.REVIEW),
    ("who is this?", Intent.REVIEW),
    ("this is getting annoying", Intent.REVIEW),
    ("falsche Nummer", Intent.REVIEW),
    ("not interested", Intent.REVIEW),
    # Nothing about consent.
    ("Thanks!", Intent.OTHER),
    ("What time do you open tomorrow?", Intent.OTHER),
    ("", Intent.OTHER),
    ("👍", Intent.OTHER),
]


@pytest.mark.parametrize(("body", "intent"), CASES)
def test_a_reply_is_read_as_a_reasonable_person_would(body, intent):
    assert classify(body) == intent
