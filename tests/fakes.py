"""A fake behind the LLM seam: a scripted stand-in for the openai SDK's chat.completions.create.

It answers like tests.servers.simserver does (quotes are real lines of the ad in the request), so
instructor's parsing, validation and re-asks run for real; only the network is missing.
"""

from __future__ import annotations

import copy
import json
import threading
from types import SimpleNamespace

import openai
from openai.types.chat import ChatCompletion

from pipeline.llm.backend import Backend
from tests.servers.simserver import completion, faulty_answer


def status_error(code: int, message: str = "simulated", headers: dict | None = None):
    """An openai.APIStatusError subclass as the SDK raises it for HTTP `code`."""
    response = SimpleNamespace(status_code=code, headers=headers or {}, request=None)
    classes = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        404: openai.NotFoundError,
        429: openai.RateLimitError,
        500: openai.InternalServerError,
        503: openai.InternalServerError,
    }
    return classes[code](message, response=response, body={"message": message})


def timeout_error():
    return openai.APITimeoutError(request=None)


class ScriptedCreate:
    """Each call takes the next step: an exception to raise, a fault name or an answer dict."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.calls: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, **kwargs):
        with self.lock:
            self.calls.append(copy.deepcopy(kwargs))  # instructor extends messages in place
            step = self.steps.pop(0) if self.steps else "ok"
        if isinstance(step, BaseException):
            raise step
        answer = step if isinstance(step, dict) else faulty_answer(step, kwargs)
        return ChatCompletion.model_validate(completion(kwargs, json.dumps(answer)))


def backend(mode: str = "json_schema", key: str = "sk-no-key") -> Backend:
    return Backend("openai-compatible", "http://127.0.0.1:9/v1", "fake-model", key, mode)
