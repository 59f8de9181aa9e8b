"""India DLT templates: does a text match its registered template?

A template is literal text with ``{#var#}`` where a variable part goes; each
variable part is 0 to ``VAR_MAX`` characters (any characters). Matching is
done over the template's literal parts, never with a backtracking regular
expression (seven variables before an ``X`` tested against 70 ``a``\\ s took
such an expression 15 seconds; a few more characters, hours).

The positions of the text that can be reached after each literal part are
kept as the bits of one integer. A variable part widens that set (each
position, and the next ``VAR_MAX``); the next literal keeps the positions
where it starts and moves past itself. Each step is a few operations on an
integer of one bit per character, and where a literal starts in the text is
found with ``str.find``: the work grows with the text's length times the
template's parts, never exponentially.
"""

from __future__ import annotations

VAR = "{#var#}"
# DLT rules allow at most 30 characters per variable part.
VAR_MAX = 30


class Template:
    """A registered template's content, ready to test texts against."""

    def __init__(self, content: str):
        self.content = content
        self.parts = content.split(VAR)

    def matches(self, text: str) -> bool:
        """Whether ``text`` is the template with each ``{#var#}`` replaced by
        0 to VAR_MAX characters."""
        first, *rest = self.parts
        if not rest:
            return text == first
        if not text.startswith(first):
            return False
        width = len(text) + 1
        every = (1 << width) - 1
        # Bit p: the parts so far can match text[:p].
        reach = 1 << len(first)
        starts: dict[str, int] = {}
        for literal in rest:
            reach = _widen(reach) & every
            if literal:
                if literal not in starts:
                    starts[literal] = _starts(text, literal)
                reach = (reach & starts[literal]) << len(literal)
            if not reach:
                return False
        return bool(reach >> len(text) & 1)


def _widen(reach: int) -> int:
    """Each reachable position p also reaches p+1 … p+VAR_MAX (a variable
    part of that many characters): by doubling, a handful of shifts."""
    covered = 1
    while covered * 2 <= VAR_MAX + 1:
        reach |= reach << covered
        covered *= 2
    if covered < VAR_MAX + 1:
        reach |= reach << (VAR_MAX + 1 - covered)
    return reach


def _starts(text: str, literal: str) -> int:
    """The positions where ``literal`` starts in ``text``, as bits (written
    as binary digits, lowest position last, and read in one go)."""
    digits = bytearray(b"0" * (len(text) + 1))
    last = len(text)
    at = text.find(literal)
    while at >= 0:
        digits[last - at] = 49  # "1"
        at = text.find(literal, at + 1)
    return int(digits, 2)


def matches(content: str, text: str) -> bool:
    return Template(content).matches(text)
