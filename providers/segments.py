"""Encoding and segment counting: the one place that decides how many parts
(and so how much money) a text costs.

GSM 03.38: 160 septets in one part, 153 per part when concatenated (the UDH
takes 7); characters of the extension table cost two septets and an escape
pair is never split across parts. Anything outside GSM-7 goes as UCS-2: 70
UTF-16 code units in one part, 67 per part, and a surrogate pair (an emoji) is
never split.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}

# The longest message text smsportal takes, as written (placeholders not yet
# filled): the composer's preview, its save and the provider's preview all
# hold texts to it.
MAX_TEXT_CHARS = 1600


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str
    segments: int
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    characters_remaining: int  # before one more part is needed

    @property
    def per_part(self) -> int:
        single, multi = LIMITS[self.encoding]
        return single if self.segments <= 1 else multi


def is_gsm7(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENSION for c in text)


def _unit_sizes(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if c in GSM_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def split(text: str, encoding: str | None = None) -> list[str]:
    """The parts a handset will receive, never splitting an escape pair or a
    surrogate pair."""
    encoding = encoding or (GSM7 if is_gsm7(text) else UCS2)
    sizes = _unit_sizes(text, encoding)
    single, multi = LIMITS[encoding]
    if sum(sizes) <= single:
        return [text] if text else []
    parts, start, used = [], 0, 0
    for i, size in enumerate(sizes):
        if used + size > multi:
            parts.append(text[start:i])
            start, used = i, 0
        used += size
    parts.append(text[start:])
    return parts


def count(text: str) -> SegmentInfo:
    encoding = GSM7 if is_gsm7(text) else UCS2
    units = sum(_unit_sizes(text, encoding))
    single, multi = LIMITS[encoding]
    if units <= single:
        return SegmentInfo(encoding, 1 if text else 0, units, single - units)
    parts = split(text, encoding)
    last = sum(_unit_sizes(parts[-1], encoding))
    return SegmentInfo(encoding, len(parts), units, multi - last)


# Characters people paste from word processors, and their GSM-7 equivalents.
_GSM_EQUIVALENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2007": " ",
    "\u2009": " ",
    "\u200b": "",
    "\t": " ",
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2022": "-",
    "\u00b4": "'",
    "`": "'",
    # More punctuation and spaces with a plain equivalent.
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2015": "-",
    "\u201f": '"',
    "\u2039": "<",
    "\u203a": ">",
    "\u2024": ".",
    "\u2025": "..",
    "\u203c": "!!",
    "\u2044": "/",
    "\u00d7": "x",
    "\u00b7": ".",
    **dict.fromkeys(
        "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u200a\u202f\u205f\u3000", " "
    ),
    # Letters that no accent stripping reaches (a stroke or a ligature, not
    # an accent): their look-alikes, as people write them without the letter.
    "\u0141": "L",  # Ł
    "\u0142": "l",  # ł
    "\u0110": "D",  # Đ
    "\u0111": "d",  # đ
    "\u00d0": "D",  # Ð
    "\u00f0": "d",  # ð
    "\u0126": "H",  # Ħ
    "\u0127": "h",  # ħ
    "\u0131": "i",  # ı (dotless i)
    "\u0166": "T",  # Ŧ
    "\u0167": "t",  # ŧ
    "\u013f": "L",  # Ŀ
    "\u0140": "l",  # ŀ
    "\u014a": "N",  # Ŋ
    "\u014b": "n",  # ŋ
    "\u0138": "k",  # ĸ
    "\u017f": "s",  # ſ
    "\u0192": "f",  # ƒ
    "\u0149": "'n",  # ŉ
    "\u0132": "IJ",  # Ĳ
    "\u0133": "ij",  # ĳ
    "\u0152": "OE",  # Œ
    "\u0153": "oe",  # œ
    "\u00de": "Th",  # Þ
    "\u00fe": "th",  # þ
    "\u1e9e": "SS",  # ẞ
    # Capital Greek letters drawn like Latin ones (the others are in GSM-7).
    "\u0391": "A",
    "\u0392": "B",
    "\u0395": "E",
    "\u0396": "Z",
    "\u0397": "H",
    "\u0399": "I",
    "\u039a": "K",
    "\u039c": "M",
    "\u039d": "N",
    "\u039f": "O",
    "\u03a1": "P",
    "\u03a4": "T",
    "\u03a5": "Y",
    "\u03a7": "X",
}


def to_gsm7(text: str) -> str:
    """Replace characters that have a GSM-7 look-alike (smart quotes, dashes,
    accented letters) so the text can go as GSM-7. Characters with no
    equivalent are kept, so the result may still need UCS-2."""
    return "".join(_gsm7_char(c) for c in text)


def gsm7_lookalike(c: str) -> str | None:
    """The GSM-7 text that stands in for ``c`` with the GSM-7 option (``c``
    itself when it is GSM-7); None when it has none (an emoji, a Chinese
    character)."""
    found = _gsm7_char(c)
    return found if is_gsm7(found) else None


def _gsm7_char(c: str) -> str:
    if c in GSM_BASIC or c in GSM_EXTENSION:
        return c
    if c in _GSM_EQUIVALENTS:
        return _GSM_EQUIVALENTS[c]
    # Strip accents where the bare letter is GSM-7 (ê -> e, ç -> c, ő -> o,
    # ş -> s), or has a look-alike itself (Ά -> Α -> A).
    base = unicodedata.normalize("NFD", c)[0]
    if base in GSM_BASIC:
        return base
    return _GSM_EQUIVALENTS.get(base, c)


def not_gsm7(text: str) -> list[str]:
    """The characters of ``text`` outside GSM-7, each once, in order."""
    return list(dict.fromkeys(c for c in text if c not in GSM_BASIC and c not in GSM_EXTENSION))


def without_ucs2(text: str) -> str:
    """The text as it would go in GSM-7: look-alikes replaced, and what has
    none left out (what the composer prices UCS-2 against)."""
    return "".join(c for c in to_gsm7(text) if c in GSM_BASIC or c in GSM_EXTENSION)
