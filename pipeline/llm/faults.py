"""What can go wrong when talking to the LLM, told in one line: the errors a run raises,
which faults are retried and how long to wait, and the reason recorded for an ad that
failed. Every message passes through `redact`, so an API key never reaches a file."""

from __future__ import annotations

import json
import re
from datetime import UTC
from email.utils import parsedate_to_datetime

import openai
from instructor.core import IncompleteOutputException
from pydantic import ValidationError
from tenacity import wait_exponential_jitter

from pipeline.errors import AutocodeError
from pipeline.llm.connection import connection_fault

RETRY_AFTER_CAP = 120.0  # seconds; a longer Retry-After is cut to this
TRANSIENT_STATUS = {408, 409, 429, 500, 502, 503, 504}
FATAL_STATUS = {401, 403, 404}


class LLMFailure(AutocodeError):
    """This ad could not be coded; the message is the reason recorded in failures.jsonl."""

    status: int | None = None  # the HTTP status, when the server refused the request


class EmptyResponse(Exception):
    """A completion with an empty choice list: retried like a transient server error."""


class FatalLLMError(AutocodeError):
    """No ad can be coded (bad key, unknown model, no server there): the run stops with
    this message."""


def redact(text: str, secret: str | None) -> str:
    """Remove the API key (and any bearer token) from text that may be written out."""
    text = re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}", r"\1***", text)
    text = re.sub(r"sk-[A-Za-z0-9_\-]{12,}", "sk-***", text)
    return text.replace(secret, "***") if secret and len(secret) >= 4 else text


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's Retry-After (seconds or HTTP date), when it sent one."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            from datetime import datetime

            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, EmptyResponse)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in TRANSIENT_STATUS


class Wait:
    """Retry-After when the server gives it (capped), else exponential backoff with jitter."""

    def __init__(self, initial: float, cap: float):
        self.backoff = wait_exponential_jitter(multiplier=initial, max=cap, jitter=initial)

    def __call__(self, state) -> float:
        after = retry_after_seconds(state.outcome.exception())
        return min(after, RETRY_AFTER_CAP) if after is not None else self.backoff(state)


def refusal_of(completion) -> str | None:
    """The refusal text of a completion whose first choice refuses (OpenAI's `refusal`)."""
    choices = getattr(completion, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    refusal = getattr(message, "refusal", None)
    return refusal if isinstance(refusal, str) and refusal.strip() else None


def api_message(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") or (body.get("error") or {}).get("message") if body else None
    return str(message or exc.message)[:300]


def describe_failure(exc: BaseException, attempts: int) -> str:
    """A one-line reason that names the fault."""
    if isinstance(exc, openai.APIStatusError):
        transient = " (gave up after retries)" if is_transient(exc) else ""
        return f"HTTP {exc.status_code}{transient}: {api_message(exc)}"
    if isinstance(exc, EmptyResponse):
        return "empty response: the server returned no choices (gave up after retries)"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout: no response from the server (gave up after retries)"
    if isinstance(exc, openai.APIConnectionError):
        fault = connection_fault(exc) or f"no connection ({' '.join(str(exc).split())[:200]})"
        return f"connection error: {fault} (gave up after retries)"
    if isinstance(exc, IncompleteOutputException):
        return "answer cut off at the token limit (finish_reason=length); raise --max-tokens"
    if isinstance(exc, ValidationError | json.JSONDecodeError):
        first = str(exc).strip().splitlines()
        detail = " ".join(first[:3])[:400]
        return f"invalid answer after {attempts} attempt(s): {detail}"
    text = " ".join(str(exc).split())[:300]
    return f"unusable response ({type(exc).__name__}): {text}"
