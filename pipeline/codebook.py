"""The codebook: profiles and categories, loaded from YAML and validated.

Everything study-specific (category ids, names, profiles) lives in the codebook
file; the rest of the pipeline reads it from here and names none of it.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import InputError
from pipeline.resources import packaged

DEFAULT_CODEBOOK = packaged("codebook.yaml")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Profile(Strict):
    name: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    rule: str = Field(min_length=1)


class Category(Strict):
    id: str = Field(min_length=1, pattern=r"^\S+$")
    name: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    include: str = Field(min_length=1)
    exclude: str = Field(min_length=1)
    examples: list[str] = Field(min_length=1)
    # the coders' conventions for this category (quote length, what not to code here)
    coder_notes: str | None = Field(default=None, min_length=1)


class Group(Strict):
    title: str = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)


class Part(Strict):
    """A `##` section of a coding: quoted passages or tool names."""

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    kind: Literal["quotes", "tools"]
    groups: list[Group] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_categories(self) -> Part:
        if not self.groups and not self.categories:
            raise ValueError(f"part {self.id!r} has no categories and no groups")
        return self

    @property
    def heading(self) -> str:
        return f"{self.id}. {self.title}"

    def all_categories(self) -> list[Category]:
        grouped = [c for g in self.groups for c in g.categories]
        return grouped + list(self.categories)


class Codebook(Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    instructions: str = ""
    # how the coders cut a quote out of the ad, for every quote category
    quote_style: str | None = Field(default=None, min_length=1)
    profiles: list[Profile] = Field(min_length=1)
    parts: list[Part] = Field(min_length=1)
    sha256: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _unique_ids(self) -> Codebook:
        seen: set[str] = set()
        for part in self.parts:
            for cat in part.all_categories():
                if cat.id in seen:
                    raise ValueError(f"duplicate category id {cat.id!r}")
                seen.add(cat.id)
        names = [p.name for p in self.profiles]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate profile name {dupes[0]!r}")
        return self

    @cached_property
    def categories(self) -> dict[str, Category]:
        return {c.id: c for part in self.parts for c in part.all_categories()}

    @cached_property
    def part_of(self) -> dict[str, Part]:
        return {c.id: part for part in self.parts for c in part.all_categories()}

    @property
    def profile_names(self) -> list[str]:
        return [p.name for p in self.profiles]

    def ids_of_kind(self, kind: str) -> list[str]:
        return [c.id for p in self.parts if p.kind == kind for c in p.all_categories()]


def _field_path(loc: tuple) -> str:
    path = ""
    for item in loc:
        path += f"[{item}]" if isinstance(item, int) else (f".{item}" if path else str(item))
    return path or "(top level)"


def parse_codebook(text: str, source: str) -> Codebook:
    """Validate codebook YAML text; `source` names it in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise InputError(f"{source}{line}: YAML syntax error: {exc.problem}") from None
    except yaml.YAMLError as exc:  # e.g. ReaderError: a control character in the file
        lineno = text.count("\n", 0, getattr(exc, "position", 0)) + 1
        reason = getattr(exc, "reason", "") or str(exc).splitlines()[0]
        raise InputError(f"{source}:{lineno}: YAML error: {reason}") from None
    if not isinstance(data, dict):
        raise InputError(f"{source}: a codebook is a YAML mapping with profiles and parts")
    try:
        book = Codebook.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _field_path(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "missing field"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (categories belong inside a part or a part's group)"
        raise InputError(f"{source}: {where}: {msg}") from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return book.model_copy(update={"sha256": digest})


def load_codebook(path: Path | str | None = None) -> Codebook:
    path = Path(path) if path else DEFAULT_CODEBOOK
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read codebook: {exc}") from None
    return parse_codebook(text, str(path))
