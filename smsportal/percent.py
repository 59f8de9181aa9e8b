"""Rates and shares as the pages show them: one decimal, and no rounding
that hides what happened. 100% only when every one counted did (one failure
in 100,000 reads ">99.9%"), 0% only when none did ("<0.1%"). Charts plot
the same figure (``percent_value``); ``percent`` is the text."""

from __future__ import annotations

NONE = "—"


def percent_value(part, whole) -> float | None:
    """``part`` of ``whole`` in percent, one decimal, kept off 100 while
    ``part`` is short of ``whole`` and off 0 while it is not nothing. None
    when there is no whole."""
    if not whole:
        return None
    value = round(100 * part / whole, 1)
    if part < whole and value >= 100:
        return 99.9
    if part > 0 and value <= 0:
        return 0.1
    return value


def percent(part, whole) -> str:
    """The rate as text: "66.7%", ">99.9%" (short of all), "<0.1%" (more
    than none), or "—" (no whole)."""
    value = percent_value(part, whole)
    if value is None:
        return NONE
    exact = 100 * part / whole
    if part < whole and exact > 99.9:
        return ">99.9%"
    if part > 0 and exact < 0.1:
        return "<0.1%"
    return f"{value:.1f}%"
