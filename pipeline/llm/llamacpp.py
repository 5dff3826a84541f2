"""What llama-cpp-python's OpenAI-compatible server needs on the way in and out.

In: the JSON schema goes as `{"type": "json_object", "schema": …}`, from which the server
builds the grammar that constrains decoding. Out: that grammar's string rule lets a raw
control character (a newline, a tab) into a JSON string, which JSON forbids, so a
grammar-valid answer would not parse; such characters are written back as their JSON
escapes. Outside strings the grammar allows no control character, so that is safe.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f]")


def escape_control_characters(text: str) -> str:
    """`text` with each raw control character as its JSON escape (`\\n`, `\\u0001`)."""
    named = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return _CONTROL.sub(lambda m: named.get(m[0], f"\\u{ord(m[0]):04x}"), text)


def json_object_schema(create):
    """`create` sending instructor's json_schema response format in the json_object form,
    its answers' raw control characters escaped."""

    def adapted(**kwargs):
        fmt = kwargs.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            kwargs = {
                **kwargs,
                "response_format": {"type": "json_object", "schema": fmt["json_schema"]["schema"]},
            }
        completion = create(**kwargs)
        for choice in getattr(completion, "choices", None) or []:
            message = getattr(choice, "message", None)
            if message is not None and isinstance(message.content, str):
                message.content = escape_control_characters(message.content)
        return completion

    return adapted
