"""The longest answer a JSON schema allows, in UTF-8 bytes.

A grammar-constrained model can only write what the schema's grammar accepts, and every
token it writes is at least one byte, so this is an upper bound on its completion tokens:
with --max-tokens at least this, a constrained answer is never cut off. llama.cpp's
grammar allows one optional space between JSON tokens; a free string may spell each
character as a six-byte `\\uXXXX` escape. None when the schema does not bound its answer
(a string without maxLength, an array without maxItems, a number).
"""

from __future__ import annotations

import json

SPACE = 1  # llama.cpp's grammar: at most one space between JSON tokens
ESCAPED_CHAR = 6  # `\uXXXX`: the most bytes one character of a free string can take


def _literal(value) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _string(schema: dict) -> int | None:
    if "maxLength" not in schema:
        return None
    return 2 + ESCAPED_CHAR * schema["maxLength"]


def _array(schema: dict, defs: dict) -> int | None:
    item = longest(schema.get("items", {}), defs)
    if item is None or "maxItems" not in schema:
        return None
    return 2 + 2 * SPACE + schema["maxItems"] * (item + 1 + SPACE)


def _object(schema: dict, defs: dict) -> int | None:
    total = 2 + 2 * SPACE
    for name, prop in schema.get("properties", {}).items():
        value = longest(prop, defs)
        if value is None:
            return None
        total += _literal(name) + 2 + 2 * SPACE + value  # "name": value,
    return total


def longest(schema: dict, defs: dict | None = None) -> int | None:
    """Bytes of the longest JSON value `schema` accepts; `defs` resolves `$ref`s."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return longest(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in schema or "const" in schema:
        return max(_literal(v) for v in schema.get("enum", [schema.get("const")]))
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        sizes = [longest(option, defs) for option in options]
        return None if None in sizes else max(s for s in sizes if s is not None)
    kind = schema.get("type")
    if kind == "null":
        return 4
    if kind == "boolean":
        return 5
    if kind == "string":
        return _string(schema)
    if kind == "array":
        return _array(schema, defs)
    if kind == "object":
        return _object(schema, defs)
    return None
