"""What is asked of the LLM: the messages (system prompt and few-shot examples first, the
same for every ad, then the ad), rendered from prompts/*.j2, and the hash of their static part."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.coding.answer import example_answer
from pipeline.record import Coding
from pipeline.resources import packaged

PROMPTS_DIR = packaged("prompts")


@lru_cache(maxsize=4)
def _templates(folder: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(folder), undefined=StrictUndefined, keep_trailing_newline=False
    )


def render_template(name: str, prompts_dir: Path = PROMPTS_DIR, **values) -> str:
    return _templates(str(prompts_dir)).get_template(name).render(**values).strip() + "\n"


_SYSTEM: dict[tuple, tuple[Codebook, str]] = {}


def system_prompt(codebook: Codebook, prompts_dir=PROMPTS_DIR) -> str:
    """The rendered system.j2, once per codebook and template version (a run asks per ad)."""
    template = Path(prompts_dir) / "system.j2"
    key = (id(codebook), str(template), template.stat().st_mtime_ns)
    cached = _SYSTEM.get(key)
    if cached is None or cached[0] is not codebook:
        cached = _SYSTEM[key] = (
            codebook,
            render_template("system.j2", prompts_dir, codebook=codebook),
        )
    return cached[1]


def static_messages(
    codebook: Codebook, ad: Ad, examples: Sequence[tuple[Ad, Coding]] = (), prompts_dir=PROMPTS_DIR
) -> list[dict]:
    """The messages before the ad: system prompt and few-shot examples."""
    messages = [{"role": "system", "content": system_prompt(codebook, prompts_dir)}]
    for example_ad, coding in examples:
        if example_ad.id == ad.id:
            continue  # never show the model the coding of the ad it is coding
        messages.append(
            {"role": "user", "content": render_template("ad.j2", prompts_dir, ad=example_ad)}
        )
        messages.append({"role": "assistant", "content": example_answer(coding)})
    return messages


def build_messages(
    codebook: Codebook, ad: Ad, examples: Sequence[tuple[Ad, Coding]] = (), prompts_dir=PROMPTS_DIR
) -> list[dict]:
    """System prompt and few-shot examples (identical for every ad), then the ad."""
    ad_message = {"role": "user", "content": render_template("ad.j2", prompts_dir, ad=ad)}
    return [*static_messages(codebook, ad, examples, prompts_dir), ad_message]


def system_prompt_hash(codebook: Codebook, prompts_dir=PROMPTS_DIR) -> str:
    """The hash of what every request starts with: the system prompt alone."""
    return prompt_hash([{"role": "system", "content": system_prompt(codebook, prompts_dir)}, {}])


def prompt_hash(messages: list[dict]) -> str:
    """SHA-256 of the static part (everything before the ad), computed once per run."""
    try:
        return _static_hash(tuple(tuple(sorted(m.items())) for m in messages[:-1]))
    except TypeError:  # a value that cannot be a dict key
        return _static_hash.__wrapped__(tuple(tuple(sorted(m.items())) for m in messages[:-1]))


@lru_cache(maxsize=16)
def _static_hash(static: tuple) -> str:
    blob = json.dumps([dict(m) for m in static], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
