"""What an SMS reply asks for: a pure function, shared by the Twilio webhook and its table test.

The FCC's TCPA rule (47 C.F.R. § 64.1200(a)(10)) takes revocation "by any reasonable means": the standard
keywords always count, as the whole message or leading it, in any case and with any punctuation, and so does
free text a reasonable person reads as "stop texting me". What no rule reads for sure is not guessed: it goes to
staff. Re-grants are strict (the whole message is START or UNSTOP): a stray "start" must never switch texts on.
"""

import enum
import re
import unicodedata


class Intent(enum.StrEnum):
    STOP = "STOP"
    START = "START"
    HELP = "HELP"
    REVIEW = "REVIEW"  # may be a revocation: staff decide
    OTHER = "OTHER"  # nothing about consent ("thanks", "what time do you open?")


STOP_KEYWORDS = frozenset(
    {
        # Twilio's and the CTIA's defaults, and the words the FCC names.
        "stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out",
        # German.
        "stopp", "abmelden", "abbestellen", "austragen", "beenden", "ende", "kündigen", "widerrufen", "abmeldung",
    }
)  # fmt: skip
START_KEYWORDS = frozenset({"start", "unstop", "starten"})
HELP_KEYWORDS = frozenset({"help", "info", "hilfe"})

# Free text a reasonable person reads as "stop texting me", in English and German.
REVOCATION_PHRASES = re.compile(
    r"\b("
    r"stop (texting|messaging|sending|contacting|spamming)"
    r"|(do not|dont|don t|never) (text|message|contact|sms|send)"
    r"|no (more|further) (texts?|messages?|sms|marketing|promotions?)"
    r"|(take|remove) me (off|from)|opt me out|unsubscribe me|leave me alone"
    r"|kein(e|en)? (sms|nachrichten|werbung|texte)( mehr)?"
    r"|nicht mehr (schreiben|anschreiben|kontaktieren|simsen|texten)"
    r"|(bitte )?(melden sie mich|meldet mich|mich) (ab|austragen)"
    r"|(hört|hoert|hören sie|hoeren sie) auf"
    r")\b"
)
# Words that may mean "stop" but, in a longer text, are not sure enough to act on alone.
DOUBTFUL = re.compile(
    r"\b(stop\w*|stopp\w*|unsubscrib\w*|cancel\w*|quit|revoke|opt ?out|end|remove|block\w*|spam\w*"
    r"|wrong number|who is this|not interested|annoying|enough"
    r"|abmeld\w*|abbestell\w*|austrag\w*|kündig\w*|widerruf\w*|aufhör\w*|falsche nummer|kein interesse"
    r"|wer ist das|nervt?|schluss|genug)\b"
)


def normalized(body: str) -> str:
    """Lower case, punctuation and emoji gone, spaces collapsed: "Stop!!" → "stop", "don't" → "don t"."""
    text = unicodedata.normalize("NFKC", body).casefold()
    text = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in text)
    return " ".join(text.split())


def classify(body: str) -> Intent:
    text = normalized(body)
    if not text:
        return Intent.OTHER
    words = text.split()
    if text in START_KEYWORDS:
        return Intent.START
    leading = {words[0], " ".join(words[:2])}
    if text in STOP_KEYWORDS or leading & STOP_KEYWORDS:
        return Intent.STOP
    if REVOCATION_PHRASES.search(text):
        return Intent.STOP
    if text in HELP_KEYWORDS or (words[0] in HELP_KEYWORDS and len(words) <= 3):
        return Intent.HELP
    if DOUBTFUL.search(text):
        return Intent.REVIEW
    return Intent.OTHER
