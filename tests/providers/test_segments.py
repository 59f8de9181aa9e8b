import pytest

from providers import segments


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("€" * 80, "GSM-7", 1),
        ("€" * 81, "GSM-7", 2),
        ("Ж" * 70, "UCS-2", 1),
        ("Ж" * 71, "UCS-2", 2),
        ("😀" * 35, "UCS-2", 1),
        ("😀" * 36, "UCS-2", 2),
        ("", "GSM-7", 0),
    ],
)
def test_it_counts_the_documented_cases(text, encoding, parts):
    info = segments.count(text)
    assert (info.encoding, info.segments) == (encoding, parts)


def test_it_matches_the_seed_preview_example():
    info = segments.count("Let's see how many characters will remain unused in this message.")
    assert (info.segments, info.characters_remaining) == (1, 95)


def test_it_never_splits_an_escape_pair():
    text = "a" * 152 + "€" + "b" * 10
    parts = segments.split(text)
    assert parts[0] == "a" * 152
    assert parts[1].startswith("€")
    assert "".join(parts) == text


def test_it_never_splits_a_surrogate_pair():
    text = "x" * 66 + "😀" * 3
    parts = segments.split(text)
    assert parts[0] == "x" * 66
    assert "".join(parts) == text


def test_it_counts_characters_left_in_the_last_part():
    assert segments.count("a" * 170).characters_remaining == 153 - 17
    assert segments.count("Ж" * 10).characters_remaining == 60


def test_it_offers_gsm7_equivalents():
    text = "\u201cHello\u201d \u2013 caf\u00ea \u2026"
    assert segments.to_gsm7(text) == '"Hello" - cafe ...'
    assert segments.count(segments.to_gsm7(text)).encoding == "GSM-7"
    assert segments.count(text).encoding == "UCS-2"
