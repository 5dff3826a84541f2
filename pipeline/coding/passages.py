"""The ad's passages a small model may quote under constrained decoding: sentences made safe
for llama.cpp's grammar."""

from __future__ import annotations

import re


def ad_passages(text: str, limit: int = 80) -> tuple[str, ...]:
    """The ad's lines split into sentences, bullets stripped: what a quote may be, each made
    safe for llama.cpp's grammar (`grammar_safe`) or left out."""
    found: list[str] = []
    for line in text.splitlines():
        for sentence in re.split(r"(?<=[.!?;])\s+", line.strip(" \t-*•")):
            safe = grammar_safe(sentence)
            # three words at least: punctuation alone is no evidence (and folds to nothing)
            words = len(re.findall(r"\w+", safe or ""))
            if safe and words >= 3 and len(safe) <= 300 and safe not in found:
                found.append(safe)
    return tuple(found[:limit])


def grammar_safe(passage: str) -> str | None:
    """`passage` as an enum value llama.cpp's grammar reproduces exactly, or None.

    llama-cpp-python writes an enum value's JSON escapes into the grammar unescaped: `\"` ends
    the grammar's string (the server fails and dies), `\t` or `\u0001` makes the model write
    a raw control character (the answer is not JSON), `\\` a lone backslash. So whitespace
    runs (tabs, form feeds) become one space and `"` a typographic quote, which grounding
    folds back (the quote is found `normalized`); what still needs an escape is left out:
    a backslash, another control character, a character outside the BMP (a surrogate pair).
    """
    safe = re.sub(r'"([^"]*)"', r"“\1”", " ".join(passage.split())).replace('"', "”")
    if "\\" in safe or any(ord(ch) < 0x20 or ord(ch) > 0xFFFF for ch in safe):
        return None
    return safe or None
