"""Reading a codings.jsonl one line at a time (`iter_jsonl`, and `load_jsonl` on it) gives what
reading the whole file did: the same records, and the same one message for a bad file, the
line it names included (a decoding error anywhere still comes before a bad line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.codings.load import _jsonl_record, iter_jsonl, load_jsonl, read_line
from pipeline.errors import InputError


def whole_file(path: Path, book) -> list:
    """`load_jsonl` as it was: the whole file read, then line by line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    codings, seen = [], {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        coding = _jsonl_record(line, f"{path}:{lineno}", book)
        if coding.ad_id in seen:
            first = seen[coding.ad_id]
            raise InputError(f"{path}:{lineno}: ad {coding.ad_id!r} again (first on line {first})")
        seen[coding.ad_id] = lineno
        codings.append(coding)
    return codings


def _line(ad_id: str, book) -> bytes:
    quote = {"category": book.ids_of_kind("quotes")[0], "text": "Simulated passage"}
    return json.dumps({"ad_id": ad_id, "quotes": [quote]}, ensure_ascii=False).encode() + b"\n"


def _cases(book) -> dict[str, bytes]:
    good = [_line(f"ad{i}", book) for i in range(4)]
    return {
        "plain": b"".join(good),
        "crlf": b"".join(g.replace(b"\n", b"\r\n") for g in good),
        "blank-lines": good[0] + b"\n   \n\t\n" + b"".join(good[1:]),
        "no-final-newline": b"".join(good).rstrip(b"\n"),
        "repeated": b"".join(good) + good[2],
        "bad-json": good[0] + b"{bad\n" + b"".join(good[1:]),
        "repeated-then-bad": b"".join(good) + good[1] + b"{bad\n",
        "bad-then-not-utf8": good[0] + b"{bad\n" + good[1].replace(b"Simulated", b"Simul\xe9ted"),
        "not-utf8-at-the-end": b"".join(good) + b"\xe9",
        "cut-utf8-sequence": good[0] + b"\xe2\x82\n",
        "repeated-then-not-utf8": b"".join(good) + good[0] + b"x\xe9\n",
        "carriage-return-inside": good[0].rstrip(b"\n") + b"\r" + good[1],
        "line-separator-inside": good[0].rstrip(b"\n") + "\u2028".encode() + good[1],
        "byte-order-mark": b"\xef\xbb\xbf" + b"".join(good),
        "unknown-category": good[0] + good[1].replace(b'"category": "', b'"category": "9', 1),
        "empty": b"",
    }


@pytest.mark.parametrize(
    "case",
    [
        "plain",
        "crlf",
        "blank-lines",
        "no-final-newline",
        "repeated",
        "bad-json",
        "repeated-then-bad",
        "bad-then-not-utf8",
        "not-utf8-at-the-end",
        "cut-utf8-sequence",
        "repeated-then-not-utf8",
        "carriage-return-inside",
        "line-separator-inside",
        "byte-order-mark",
        "unknown-category",
        "empty",
    ],
)
def test_streamed_reading_is_reading_the_whole_file(tmp_path, codebook, case):
    path = tmp_path / "codings.jsonl"
    path.write_bytes(_cases(codebook)[case])
    try:
        want = [c.model_dump() for c in whole_file(path, codebook)]
    except InputError as exc:
        with pytest.raises(InputError) as caught:
            load_jsonl(path, codebook)
        assert str(caught.value) == str(exc)
        return
    assert [c.model_dump() for c in load_jsonl(path, codebook)] == want


def test_a_line_is_found_again_where_it_was_read(tmp_path, codebook):
    path = tmp_path / "codings.jsonl"
    path.write_bytes(_cases(codebook)["carriage-return-inside"])
    with path.open("rb") as handle:
        seen: dict[int, int] = {}
        for _, offset, length, coding in iter_jsonl(path, codebook):
            part = seen.get(offset, 0)
            seen[offset] = part + 1
            again = _jsonl_record(read_line(handle, offset, length, part), "x", codebook)
            assert again == coding
