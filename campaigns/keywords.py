"""What a reply asks for: opt out, opt back in, or help."""

from __future__ import annotations

import enum
import string
import unicodedata
from dataclasses import dataclass

from django.conf import settings


class Intent(enum.StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


@dataclass(frozen=True)
class Keyword:
    intent: Intent
    word: str  # as the sender wrote it, normalised (upper case, no accents)


def fold(text: str) -> str:
    """Upper case, accents taken off, surrounding spaces and punctuation
    stripped: "  Arrêt! " and "ARRET" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.strip(string.whitespace + string.punctuation + "¡¿«»“”‘’…").upper()


def _words(setting: list[str]) -> set[str]:
    return {fold(word) for word in setting if fold(word)}


def classify(text: str, keyword: str = "") -> Keyword | None:
    """The keyword a reply is, if any. ``keyword`` is the provider's own
    reading of it, where it gives one. An opt-out keyword counts as the
    first word of a reply; opt-in and help keywords only as the whole of it."""
    whole = fold(keyword or text or "")
    if not whole:
        return None
    first = fold(whole.split(maxsplit=1)[0])
    if first in _words(settings.STOP_KEYWORDS) | _words(settings.STOP_KEYWORDS_LOCAL):
        return Keyword(Intent.STOP, first)
    if whole in _words(settings.START_KEYWORDS):
        return Keyword(Intent.START, whole)
    if whole in _words(settings.HELP_KEYWORDS):
        return Keyword(Intent.HELP, whole)
    return None


def reply_text(intent: Intent, options: dict) -> str:
    """The confirmation to send for ``intent`` ("": none): nothing when the
    account sends none (option keyword_replies "off"), else the account's own
    text where it set one (options reply_stop, reply_start, reply_help), else
    the site's (KEYWORD_REPLY_*, where an empty one sends none)."""
    options = options or {}
    if options.get("keyword_replies") == "off":
        return ""
    own = str(options.get(f"reply_{intent.value}") or "").strip()
    return own or getattr(settings, f"KEYWORD_REPLY_{intent.name}", "").strip()
