"""The coding record: one per ad, the same whether parsed from Markdown or drafted by an LLM."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

Grounding = Literal["exact", "normalized", "fuzzy", "not_found"]


def one_line(text: str) -> str:
    """Collapse whitespace so a value survives the one-line-per-entry Markdown format."""
    return " ".join(text.split())  # str.split's whitespace is re's \s: same, 4x faster


def _none(value) -> bool:
    return value is None


def _empty(value: list) -> bool:
    return not value


class Quote(BaseModel):
    model_config = ConfigDict(extra="allow")

    category: str
    text: str = Field(min_length=1)
    note: str | None = None
    span: tuple[int, int] | None = None
    grounding: Grounding | None = None
    # in a consensus: how many of its codings have this entry (absent elsewhere)
    support: int | None = Field(default=None, exclude_if=_none)

    @field_validator("text", "note")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else one_line(value) or None


class Tool(BaseModel):
    model_config = ConfigDict(extra="allow")

    category: str
    name: str = Field(min_length=1)
    note: str | None = None
    support: int | None = Field(default=None, exclude_if=_none)  # as Quote.support

    @field_validator("name", "note")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else one_line(value) or None


class Remark(BaseModel):
    """A coder's remark in a category: after its label, or a bullet of its own.

    The text is kept as written (italics and parentheses included) so it renders back
    unchanged. A remark is not an entry: it never makes a category count as coded.
    """

    model_config = ConfigDict(extra="allow")

    category: str
    text: str = Field(min_length=1)
    bullet: bool = False  # False: on the category's label line
    after: int = 0  # a bullet's place: how many of the category's entries come before it

    @field_validator("text")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return one_line(value)


class Provenance(BaseModel):
    """How an LLM drafted a coding: model, backend, codebook, prompt, sampling. A single-sample
    record carries no `samples` or `min_support`, one without few-shot examples no `examples`."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    backend: str | None = None
    codebook_version: str | None = None
    codebook_sha256: str | None = None
    prompt_sha256: str | None = None
    autocode_version: str | None = None
    temperature: float | None = None
    samples: int | None = None
    min_support: int | None = None
    examples: list[str] | None = None

    @model_serializer(mode="wrap")
    def _without_unused(self, handler):
        data = handler(self)
        if self.samples is None:
            data.pop("samples", None), data.pop("min_support", None)
        if self.examples is None:
            data.pop("examples", None)
        return data


class MergeProvenance(BaseModel):
    """Where a merged coding came from (`autocode merge`): the coding sets, the support kept."""

    merged_from: list[str]
    min_support: int | None = None


class Coding(BaseModel):
    """One coded ad; `quotes` holds one entry per (category, passage)."""

    model_config = ConfigDict(extra="allow")

    ad_id: str
    title: str | None = None
    organisation: str | None = None
    profile: str | None = None
    reasoning: str | None = None
    quotes: list[Quote] = Field(default_factory=list)
    tools: list[Tool] = Field(default_factory=list)
    # left out of dumps when empty, so records without remarks keep their old shape
    remarks: list[Remark] = Field(default_factory=list, exclude_if=_empty)
    # problems met while reading or coding it (a gold line that could not be placed, a cut ad)
    warnings: list[str] = Field(default_factory=list, exclude_if=_empty)
    provenance: MergeProvenance | Provenance | None = Field(
        default=None, union_mode="left_to_right"
    )
    # a consensus of several codings: their number, the profile's votes (and the profiles
    # tied for most votes), the mean support of an entry over n_codings; absent elsewhere
    n_codings: int | None = Field(default=None, exclude_if=_none)
    profile_support: int | None = Field(default=None, exclude_if=_none)
    agreement: float | None = Field(default=None, exclude_if=_none)
    profile_tie: list[str] | None = Field(default=None, exclude_if=_none)

    @field_validator("title", "organisation", "reasoning")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else one_line(value) or None

    @property
    def drafted_by(self) -> str | None:
        """The model that drafted this coding; None for a hand coding or a merge."""
        return self.provenance.model if isinstance(self.provenance, Provenance) else None


CONSENSUS_FIELDS = ("n_codings", "profile_support", "agreement", "profile_tie")


def without_support(coding: Coding) -> Coding:
    """The coding without what a consensus adds (support marks, n_codings...): as gold."""
    data = {k: v for k, v in coding.model_dump().items() if k not in CONSENSUS_FIELDS}
    for entry in [*data["quotes"], *data["tools"]]:
        entry.pop("support", None)
    return Coding.model_validate(data)


class Dropped(BaseModel):
    """A quote of the LLM's answer that was not found in the ad, so not kept."""

    category: str
    text: str
    note: str | None = None


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class CodedAd(Coding):
    """What `autocode code` writes for one ad: the coding, the quotes dropped as not found,
    the tokens and attempts it took, warnings about the ad, and (batch ingest) a re-ask."""

    ungrounded: list[Dropped] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    attempts: int = 1
    warnings: list[str] = Field(default_factory=list)
    reask: dict | None = None

    def to_json(self) -> dict:
        """The line of codings.jsonl; `reask` only where there was one, a consensus's fields
        last (where codings.jsonl has always had them)."""
        data = self.model_dump(mode="json", exclude={"reask"} if self.reask is None else None)
        last = {k: data.pop(k) for k in CONSENSUS_FIELDS if k in data}
        return data | last
