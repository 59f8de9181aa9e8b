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
}


def to_gsm7(text: str) -> str:
    """Replace characters that have a GSM-7 look-alike (smart quotes, dashes,
    accented letters) so the text can go as GSM-7. Characters with no
    equivalent are kept, so the result may still need UCS-2."""
    out = []
    for c in text:
        if c in GSM_BASIC or c in GSM_EXTENSION:
            out.append(c)
        elif c in _GSM_EQUIVALENTS:
            out.append(_GSM_EQUIVALENTS[c])
        else:
            # Strip accents where the bare letter is GSM-7 (ê -> e, ç -> c).
            base = unicodedata.normalize("NFD", c)[0]
            out.append(base if base in GSM_BASIC else c)
    return "".join(out)
