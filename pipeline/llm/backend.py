"""Which backend a run talks to, and its defaults. Light on imports: the command line
reads the mode names and defaults from here without loading the openai SDK.

A new kind of backend gets its entry in BACKEND_DEFAULTS and its branch in choose_backend
(or, like the embedded model, a function of its own that builds the Backend).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
# instructor modes by their lower-case names (instructor.Mode[name.upper()])
MODES = ("tools", "json_schema", "json", "md_json")
# Per backend: requests in flight, seconds per request, re-asks, completion token limit.
BACKEND_DEFAULTS: dict[str, dict[str, Any]] = {
    # max_tokens None: the longest answer the embedded model's capped schema allows, per ad
    "embedded": {"concurrency": 1, "timeout": 600.0, "max_retries": 1, "max_tokens": None},
    "openai-compatible": {"concurrency": 4, "timeout": 120.0, "max_retries": 2, "max_tokens": 4096},
    "openai": {"concurrency": 8, "timeout": 120.0, "max_retries": 2, "max_tokens": 4096},
}

# The temperature with several samples per ad (K > 1) unless one is given: identical samples
# would say nothing about how sure the model is. A single coding is made at 0.
TEMPERATURE_WITH_SAMPLES = 0.7


def temperature_for(samples: int, given: float | None) -> float:
    """The run's temperature: the one given, else 0 (one sample) or TEMPERATURE_WITH_SAMPLES."""
    if given is not None:
        return given
    return TEMPERATURE_WITH_SAMPLES if samples > 1 else 0.0


def settings_of(kind: str, **given) -> dict[str, Any]:
    """Each setting given (concurrency, timeout, max_retries, max_tokens), else the default
    of the backend `kind`: the one place a backend's defaults meet the options."""
    defaults = BACKEND_DEFAULTS[kind]
    return {name: defaults[name] if value is None else value for name, value in given.items()}


@dataclass
class Backend:
    kind: str  # "openai-compatible", "openai" or "embedded"
    base_url: str
    model: str
    api_key: str = field(repr=False)
    mode: str
    # llama-cpp-python's server wants a JSON schema as {"type": "json_object", "schema": ...}
    schema_format: str = "json_schema"
    max_items: int | None = None  # cap on quotes/tools for small constrained-decoding models
    passage_quotes: bool = False  # quote text constrained to the ad's own passages
    n_choices: bool = True  # asks for K samples in one request (`n`); else K requests

    @property
    def host(self) -> str:
        """Where requests go, without credentials, for the manifest and the cache key."""
        if self.kind == "embedded":
            return f"embedded://{self.model}"  # its loopback port changes every run
        parts = urlsplit(self.base_url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def choose_backend(model: str | None, mode: str | None, env=os.environ) -> Backend | None:
    """OPENAI_BASE_URL, else OPENAI_API_KEY, else None (the caller starts the embedded model)."""
    key = env.get("OPENAI_API_KEY", "")
    if env.get("OPENAI_BASE_URL"):
        return Backend(
            "openai-compatible",
            env["OPENAI_BASE_URL"],
            model or env.get("AUTOCODE_MODEL", "default"),
            key or "sk-no-key",
            mode or "json_schema",
        )
    if key:
        return Backend("openai", OPENAI_URL, model or DEFAULT_OPENAI_MODEL, key, mode or "tools")
    return None


def batch_backend(model: str | None, mode: str | None, env=os.environ) -> Backend:
    """Where batch requests go: OPENAI_BASE_URL (vLLM etc.) or OpenAI.

    The model defaults to AUTOCODE_MODEL with OPENAI_BASE_URL (as for `code`), else
    gpt-4o-mini; the mode to tools, as for OpenAI. Nothing here touches the network.
    """
    base = env.get("OPENAI_BASE_URL")
    model = model or (env.get("AUTOCODE_MODEL") if base else None) or DEFAULT_OPENAI_MODEL
    return Backend(
        "openai-compatible" if base else "openai",
        base or OPENAI_URL,
        model,
        env.get("OPENAI_API_KEY") or "sk-no-key",
        mode or "tools",
    )
