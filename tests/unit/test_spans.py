import re

from secondme.node.memory.spans import between, paragraphs, trimmed


def test_trimmed_drops_outer_whitespace_and_keeps_offsets() -> None:
    text = "ab \n  cd e \n"
    start, end = trimmed(text, 3, len(text))
    assert text[start:end] == "cd e"
    assert trimmed(text, 2, 4) is None


def test_paragraphs_are_split_at_blank_lines_within_the_range() -> None:
    text = "one\n\n  two\nstill two \n \n\nthree"
    assert [text[a:b] for a, b in paragraphs(text)] == ["one", "two\nstill two", "three"]
    assert [text[a:b] for a, b in paragraphs(text, 5, 20)] == ["two\nstill two"]


def test_between_skips_empty_pieces() -> None:
    text = "a; ;b;"
    assert [text[a:b] for a, b in between(text, 0, len(text), re.finditer(";", text))] == [
        "a",
        "b",
    ]
