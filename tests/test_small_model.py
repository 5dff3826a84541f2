"""What keeps a small grammar-constrained model (the embedded one) coding every ad: passages
that llama.cpp's grammar reproduces exactly, answers whose raw control characters are
escaped, capped lists and strings, and --max-tokens sized to the longest answer allowed."""

from __future__ import annotations

import json
import re

import pytest
from fakes import ScriptedCreate, backend
from hypothesis import example, given, settings
from hypothesis import strategies as st
from llama_cpp.llama_grammar import json_schema_to_gbnf

from pipeline.codebook import load_codebook
from pipeline.coding.answer import REASONING_CHARS, TOOL_NAME_CHARS, response_model
from pipeline.coding.passages import ad_passages
from pipeline.grounding import locate
from pipeline.llm.answer_bound import longest
from pipeline.llm.client import LLM
from pipeline.llm.llamacpp import escape_control_characters, json_object_schema

BOOK = load_codebook()
AWKWARD = ['"', "\\", "\t", "\x0b", "\x01", "\x1f", "é", "“", "’", "😀", "\u2028", "{", "}", "\xa0"]
words = st.sampled_from(["Build", "APIs", "with", "Python", "for", "our", "team", "dé", "guru"])
ad_lines = st.lists(
    st.lists(words | st.sampled_from(AWKWARD) | st.text(max_size=4), min_size=1, max_size=12).map(
        " ".join
    ),
    min_size=1,
    max_size=6,
).map(lambda lines: ". ".join(lines[:3]) + "\n" + "\n".join(lines[3:]))

GBNF_ESCAPES = {"t": "\t", "r": "\r", "n": "\n", "\\": "\\", '"': '"', "[": "[", "]": "]"}


def gbnf_literal_text(literal: str) -> str:
    """What a GBNF string literal makes the model write (llama.cpp's parse_char escapes)."""
    out, i = [], 0
    while i < len(literal):
        if literal[i] != "\\":
            out.append(literal[i])
            i += 1
            continue
        kind = literal[i + 1]
        width = {"x": 2, "u": 4, "U": 8}.get(kind)
        if width:
            out.append(chr(int(literal[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        else:
            out.append(GBNF_ESCAPES[kind])
            i += 2
    return "".join(out)


def forced_output(value: str) -> str:
    """The text llama-cpp-python's grammar for `{"enum": [value]}` forces the model to write."""
    grammar = json_schema_to_gbnf(json.dumps({"enum": [value]}))
    match = re.search(r'^root ::= "((?:[^"\\]|\\.)*)"( space)?$', grammar, re.M)
    assert match, grammar  # an unescaped quote breaks the rule (the server would die)
    return gbnf_literal_text(match[1])


@settings(max_examples=200, deadline=None)
@given(ad_lines)
@example('" " "\n')  # three "words" of punctuation: not a passage at all
def test_every_passage_is_written_back_exactly_and_found_in_the_ad(text):
    for passage in ad_passages(text):
        assert json.loads(forced_output(passage)) == passage  # the answer parses to the passage
        assert locate(passage, text)[1] in ("exact", "normalized")


@pytest.mark.parametrize(
    ("line", "passage"),
    [
        ('Build the "best" APIs with Python.', "Build the “best” APIs with Python."),
        ("Work\twith  the team daily.", "Work with the team daily."),
        ("Use C:\\tools in the team.", None),
        ("Ship 😀 things fast here.", None),
        ("Ctrl\x01 chars are in here.", None),
    ],
    ids=[
        "double-quotes-made-typographic",
        "whitespace-collapsed",
        "backslash-left-out",
        "astral-left-out",
        "control-left-out",
    ],
)
def test_passages_made_safe_or_left_out(line, passage):
    assert ad_passages(line) == ((passage,) if passage else ())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["reasoning", "name"]), st.text(), min_size=1))
def test_a_grammar_valid_answer_with_raw_control_characters_parses(values):
    """The grammar's string rule admits raw control characters; escaping them makes the
    answer JSON again, with the same values."""
    raw = (
        "{"
        + ", ".join(
            f'"{k}": "' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            for k, v in values.items()
        )
        + "} "
    )
    assert json.loads(escape_control_characters(raw)) == values


def test_the_llama_cpp_adapter_escapes_the_answer_and_sends_json_object():
    sent = {}

    def create(**kwargs):
        sent.update(kwargs)
        from types import SimpleNamespace

        message = SimpleNamespace(content='{"reasoning": "two\nlines"}')
        return SimpleNamespace(choices=[SimpleNamespace(message=message)])

    fmt = {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}
    completion = json_object_schema(create)(response_format=fmt)
    assert sent["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
    assert json.loads(completion.choices[0].message.content) == {"reasoning": "two\nlines"}


# ---------------------------------------------------------- caps and the token bound

PASSAGES = ("Build APIs with Python for the team.", "Fine-tune language models on our data.")
SMALL = response_model(BOOK, 3, PASSAGES)


def test_the_small_model_schema_caps_every_free_string_and_list():
    schema = SMALL.model_json_schema()
    assert longest(schema) is not None
    assert longest(response_model(BOOK).model_json_schema()) is None  # uncapped: unbounded
    assert "translation" not in json.dumps(schema)
    quote, tool = (schema["$defs"][n]["properties"] for n in ("QuoteAnswer", "ToolAnswer"))
    assert quote["text"]["enum"] == list(PASSAGES)
    assert tool["name"]["maxLength"] == TOOL_NAME_CHARS
    assert schema["properties"]["reasoning"]["maxLength"] == REASONING_CHARS
    assert schema["properties"]["quotes"]["maxItems"] == 3


free_text = st.text(st.characters(codec="utf-8"))


@st.composite
def small_answers(draw) -> dict:
    quotes = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "category": st.sampled_from(BOOK.ids_of_kind("quotes")),
                    "text": st.sampled_from(PASSAGES),
                }
            ),
            max_size=3,
        )
    )
    tools = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "category": st.sampled_from(BOOK.ids_of_kind("tools")),
                    "name": free_text.filter(bool).map(lambda s: s[:TOOL_NAME_CHARS]),
                }
            ),
            max_size=3,
        )
    )
    return {
        "quotes": quotes,
        "tools": tools,
        "reasoning": draw(free_text.map(lambda s: s[:REASONING_CHARS])),
        "profile": draw(st.sampled_from(BOOK.profile_names)),
    }


@settings(max_examples=200, deadline=None)
@given(small_answers(), st.booleans())
def test_no_valid_answer_is_longer_than_the_bound(answer, ascii_escapes):
    SMALL.model_validate(answer)  # a valid answer
    written = json.dumps(answer, ensure_ascii=ascii_escapes, separators=(", ", ": ")) + " "
    assert len(written.encode("utf-8")) <= longest(SMALL.model_json_schema())


def test_max_tokens_none_is_the_longest_answer_of_the_schema():
    llm = LLM(backend(), create=ScriptedCreate(), max_tokens=None)
    request = llm.request([{"role": "user", "content": "x"}], SMALL)
    assert request["max_tokens"] == longest(SMALL.model_json_schema())
    assert llm.params["max_tokens"] is None  # what the manifest records
