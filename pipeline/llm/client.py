"""Talking to the LLM: instructor over the openai SDK, retries and the cache.

The seam is `create`: a function with the signature of the openai SDK's
`client.chat.completions.create`. instructor patches it, so validation and re-asks
run the same whether it is the real SDK over HTTP or a fake in unit tests.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import instructor
import openai
from instructor.core import InstructorRetryException
from pydantic import BaseModel, ValidationError
from tenacity import Retrying, retry_if_exception, stop_after_attempt

from pipeline.llm.answer_bound import longest
from pipeline.llm.backend import Backend, settings_of
from pipeline.llm.cache import DiskCache
from pipeline.llm.connection import UNREACHABLE, connection_fault
from pipeline.llm.faults import (
    FATAL_STATUS,
    EmptyResponse,
    FatalLLMError,
    LLMFailure,
    Wait,
    api_message,
    describe_failure,
    is_transient,
    redact,
    refusal_of,
)
from pipeline.llm.llamacpp import json_object_schema

UNBOUNDED_MAX_TOKENS = 4096  # max_tokens None with a schema that does not bound its answer

# instructor logs every failed attempt with the raw error, and a server's error body may
# repeat the request headers, API key included. Failures reach the user through
# describe_failure (redacted) instead, so instructor's log goes nowhere.
_instructor_log = logging.getLogger("instructor")
_instructor_log.addHandler(logging.NullHandler())
_instructor_log.propagate = False


class _Captured(Exception):
    """Carries the request instructor built, without sending it."""


@dataclass
class Exchange:
    answer: dict
    usage: dict
    attempts: int
    cached: bool = False


class ValidationContext(dict):
    """The validation context of one call, always falsy.

    instructor renders every message as a Jinja template whenever its `context` is truthy:
    slow (the whole prompt is compiled on every call, the largest cost per ad) and wrong (an
    ad holding `{{`, `{%` or `{#` would be altered or fail). A falsy dict skips that, and
    pydantic still hands it to the validators as `info.context`.
    """

    def __bool__(self) -> bool:
        return False


@functools.lru_cache(maxsize=64)
def _json_schema(model_cls: type[BaseModel]) -> dict:
    """The response model's JSON schema, built once per class (it costs ms; read only)."""
    return model_cls.model_json_schema()


@functools.lru_cache(maxsize=64)
def _for_instructor(model_cls: type[BaseModel]) -> type[BaseModel]:
    """`model_cls` as instructor wraps it (a ResponseSchema subclass), once per class.

    instructor would otherwise build that subclass and its JSON schema on every call, a
    third of the CPU time per ad. A ResponseSchema subclass it leaves as it is; the schema,
    identical for every call, is computed once here and handed out as a copy.
    """
    wrapped = instructor.openai_schema(model_cls)
    schema = wrapped.model_json_schema()
    generate = wrapped.model_json_schema

    def model_json_schema(cls, *args, **kwargs):
        return copy.deepcopy(schema) if not args and not kwargs else generate(*args, **kwargs)

    wrapped.model_json_schema = classmethod(model_json_schema)  # type: ignore[method-assign,assignment]
    return wrapped


def online_llm(
    backend: Backend,
    cache_dir: Path | None,
    temperature: float,
    refresh: bool = False,
    backoff: float = 1.0,
    **given,
) -> LLM:
    """The LLM that codes online through `backend`, with its cache; each of timeout,
    max_retries and max_tokens given, else the backend's default."""
    return LLM(
        backend,
        cache=DiskCache(cache_dir),
        temperature=temperature,
        refresh=refresh,
        backoff=backoff,
        **settings_of(backend.kind, **given),
    )


def _usage_of(completion) -> dict:
    usage = getattr(completion, "usage", None)
    return {
        "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
        "completion_tokens": getattr(usage, "completion_tokens", 0) or 0,
    }


class LLM:
    """Codes one ad per call: cache lookup, instructor with re-asks, transient retries."""

    def __init__(
        self,
        backend: Backend,
        create=None,
        cache: DiskCache | None = None,
        max_retries: int = 2,
        temperature: float = 0.0,
        max_tokens: int | None = 2048,  # None: the longest answer the schema allows
        timeout: float = 120.0,
        transient_attempts: int = 6,
        backoff: float = 1.0,
        refresh: bool = False,
        asks_again: bool = True,
    ):
        self.backend = backend
        self.asks_again = asks_again  # False: answers are replayed (batch), none can be added
        self._create = create
        self.timeout = timeout
        self.cache = cache or DiskCache(None)
        self.max_retries = max_retries
        self.params: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens}
        self.refresh = refresh
        # Whether the server has answered anything in this run: until it has, a refused
        # connection or an unknown host means it is not there, and retrying cannot help.
        self.answered = False
        self.retrying = Retrying(
            retry=retry_if_exception(self._retryable),
            reraise=True,
            stop=stop_after_attempt(transient_attempts),
            wait=Wait(backoff, cap=30.0 * backoff),
        )

    def raw_create(self, **kwargs):
        """The seam: the SDK's chat.completions.create, built on first use (the embedded
        server's address is known only once it runs)."""
        if self._create is None:
            client = openai.OpenAI(
                base_url=self.backend.base_url,
                api_key=self.backend.api_key,
                max_retries=0,
                timeout=self.timeout,
            )
            self._create = client.chat.completions.create
            if self.backend.schema_format == "json_object":
                self._create = json_object_schema(self._create)
        try:
            completion = self._create(**kwargs)
        except openai.APIStatusError:
            self.answered = True  # an HTTP error is an answer: the server is there
            raise
        self.answered = True
        return completion

    def unreachable(self, exc: BaseException) -> str | None:
        """What keeps the server out of reach (refused, unknown host) while it has never
        answered in this run; None otherwise."""
        fault = None if self.answered else connection_fault(exc)
        return fault if fault in UNREACHABLE else None

    def _retryable(self, exc: BaseException) -> bool:
        return is_transient(exc) and self.unreachable(exc) is None

    def params_for(self, model_cls: type[BaseModel]) -> dict[str, Any]:
        """The sampling parameters of a request; a max_tokens of None becomes the longest
        answer the response schema allows, so a constrained answer is never cut off."""
        if self.params["max_tokens"] is not None:
            return self.params
        bound = longest(_json_schema(model_cls))
        return {**self.params, "max_tokens": bound or UNBOUNDED_MAX_TOKENS}

    def request(self, messages: list[dict], model_cls: type[BaseModel]) -> dict:
        """The request exactly as instructor sends it on the first attempt (batch mode uses it)."""

        def capture(**kwargs):
            raise _Captured(kwargs)

        patched = instructor.patch(create=capture, mode=instructor.Mode[self.backend.mode.upper()])
        try:
            patched(
                response_model=_for_instructor(model_cls),
                messages=messages,
                model=self.backend.model,
                max_retries=0,
                **self.params_for(model_cls),
            )
        except Exception as exc:  # noqa: BLE001 - instructor wraps what the create raised
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, _Captured):
                cause = cause.__cause__ or cause.__context__
            if cause is not None:
                return cause.args[0]
        raise RuntimeError("instructor did not call create")

    def cache_key(self, messages: list[dict], model_cls: type[BaseModel]) -> str:
        material = {
            "host": self.backend.host,
            "model": self.backend.model,
            "mode": self.backend.mode,
            "messages": messages,
            "schema": _json_schema(model_cls),
            "params": self.params,
            "max_retries": self.max_retries,
        }
        blob = json.dumps(material, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def cached(self, key: str) -> Exchange | None:
        """The cached exchange under `key`, unless the run refreshes."""
        hit = None if self.refresh else self.cache.get(key)
        return None if hit is None else Exchange(hit["answer"], hit["usage"], hit["attempts"], True)

    def remember(self, key: str, exchange: Exchange) -> None:
        self.cache.put(
            key, {"answer": exchange.answer, "usage": exchange.usage, "attempts": exchange.attempts}
        )

    def checked_create(self, **kwargs):
        """One completion, transient failures retried; an empty choice list is one of them."""

        def create(**kwargs):
            completion = self.raw_create(**kwargs)
            if getattr(completion, "choices", None) == []:
                raise EmptyResponse("the server answered with an empty choice list")
            return completion

        return self.retrying(create, **kwargs)

    def code(
        self,
        messages: list[dict],
        model_cls: type[BaseModel],
        context: dict,
        key: str | None = None,
    ) -> Exchange:
        """One validated answer (re-asked as needed), from the cache under `key` (default:
        the hash of the request) when it is there. `context` is what the response model's
        validators read (the answer side builds it); the re-ask budget and the attempt count
        are added here."""
        key = key or self.cache_key(messages, model_cls)
        hit = self.cached(key)
        if hit is not None:
            return hit
        state = {"attempts": 0, "prompt_tokens": 0, "completion_tokens": 0}

        def counted_create(**kwargs):
            state["attempts"] += 1
            completion = self.checked_create(**kwargs)
            for name, value in _usage_of(completion).items():
                state[name] += value
            state["refusal"] = refusal_of(completion)
            return completion

        patched = instructor.patch(
            create=counted_create, mode=instructor.Mode[self.backend.mode.upper()]
        )
        context = ValidationContext(context, max_retries=self.max_retries, state=state)
        try:
            answer = patched(
                response_model=_for_instructor(model_cls),
                messages=messages,
                model=self.backend.model,
                max_retries=self.max_retries,
                context=context,
                **self.params_for(model_cls),
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reason, never a traceback
            raise self.failure(exc, state) from None
        usage = {k: state[k] for k in ("prompt_tokens", "completion_tokens")}
        exchange = Exchange(answer.model_dump(mode="json"), usage, state["attempts"])
        self.remember(key, exchange)
        return exchange

    def ask_choices(
        self, messages: list[dict], model_cls: type[BaseModel], context: dict, n: int
    ) -> list[Exchange | LLMFailure]:
        """n answers from one request with `n: n`, each validated on its own; no re-ask (one
        choice cannot be re-asked alone), so ungrounded quotes are kept to be dropped later.
        A server that ignores `n` answers fewer. The tokens are on the first answer. A failed
        request raises, as `code` does."""
        state: dict = {"attempts": 1}
        try:
            completion = self.checked_create(**self.request(messages, model_cls), n=n)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reason
            raise self.failure(exc, state) from None
        usage, none = _usage_of(completion), {"prompt_tokens": 0, "completion_tokens": 0}
        schema: Any = _for_instructor(model_cls)  # a ResponseSchema: it parses a completion
        answers: list[Exchange | LLMFailure] = []
        for index, choice in enumerate(completion.choices[:n]):
            one = completion.model_copy(update={"choices": [choice]})
            state["refusal"] = refusal_of(one)
            validation = {**context, "max_retries": 0, "state": state}
            try:
                answer = schema.from_response(
                    one,
                    validation_context=validation,
                    mode=instructor.Mode[self.backend.mode.upper()],
                )
            except Exception as exc:  # noqa: BLE001 - this sample fails, the others count
                reason = self.failure(exc, state)
                answers.append(reason if isinstance(reason, LLMFailure) else LLMFailure(reason))
                continue
            answers.append(Exchange(answer.model_dump(mode="json"), none if index else usage, 1))
        return answers

    def failure(self, exc: Exception, state: dict) -> Exception:
        """The exception to raise for `exc`: FatalLLMError, or LLMFailure with a reason."""
        cause: BaseException = exc
        while isinstance(cause, InstructorRetryException) and cause.__cause__:
            cause = cause.__cause__
        secret = self.backend.api_key
        if fault := self.unreachable(cause):
            return FatalLLMError(
                redact(f"cannot reach the server at {self.backend.host}: {fault}", secret)
            )
        if isinstance(cause, openai.APIStatusError) and cause.status_code in FATAL_STATUS:
            return FatalLLMError(
                redact(
                    f"HTTP {cause.status_code} from {self.backend.host}: {api_message(cause)}",
                    secret,
                )
            )
        if state.get("refusal") and isinstance(cause, ValidationError | json.JSONDecodeError):
            reason = f"refused by the model ({state['attempts']} attempt(s)): {state['refusal']}"
            return LLMFailure(redact(reason[:400], secret))
        failure = LLMFailure(redact(describe_failure(cause, state["attempts"]), secret))
        if isinstance(cause, openai.APIStatusError):
            failure.status = cause.status_code
        return failure
