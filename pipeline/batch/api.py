"""Submitting, polling and fetching batches through the openai SDK's Files and Batches APIs.

The client comes from OPENAI_BASE_URL and OPENAI_API_KEY as for the online path; the key is
never printed (error messages pass through `redact`). The functions return what the
command shows; a refusal or a batch that ended badly is a BatchAPIError.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

from pipeline.batch.requests import ENDPOINT, MAX_BYTES, MAX_REQUESTS
from pipeline.errors import AutocodeError, InputError
from pipeline.llm.backend import OPENAI_URL
from pipeline.llm.faults import redact
from pipeline.store import atomic_writer

FINISHED_BADLY = {"failed", "expired", "cancelled"}


class BatchAPIError(AutocodeError):
    """The Files or Batches API refused or could not be reached, or a batch ended badly;
    the message says which. `lines` are what was learnt before (printed to stdout)."""

    def __init__(self, message: str, lines: list[str] | None = None):
        super().__init__(message)
        self.lines = lines or []


def client(env=os.environ):
    import openai

    base, key = env.get("OPENAI_BASE_URL"), env.get("OPENAI_API_KEY")
    if not (base or key):
        raise InputError(
            "batch submit, status and fetch need OPENAI_API_KEY (OpenAI) or "
            "OPENAI_BASE_URL (another server with the Batches API)"
        )
    # Uploads of up to 200 MB: a generous timeout; the SDK retries transient errors itself.
    return openai.OpenAI(
        base_url=base or OPENAI_URL, api_key=key or "sk-no-key", max_retries=3, timeout=900.0
    )


@contextlib.contextmanager
def api_errors(what: str, env=os.environ):
    """Turn the SDK's errors into one clear, key-free BatchAPIError."""
    import openai

    try:
        yield
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") or (body.get("error") or {}).get("message") or exc.message
        text = f"{what}: HTTP {exc.status_code}: {message}"
        raise BatchAPIError(redact(text, env.get("OPENAI_API_KEY"))) from None
    except openai.APIConnectionError as exc:
        host = env.get("OPENAI_BASE_URL") or OPENAI_URL
        raise BatchAPIError(
            redact(f"{what}: cannot reach {host}: {exc}", env.get("OPENAI_API_KEY"))
        ) from None


def check_request_file(path: Path) -> int:
    """Number of requests in a Batch API input file; InputError when it cannot be submitted."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InputError(
            f"{path}: {size:,} bytes, over the Batch API's {MAX_BYTES:,}-byte limit; "
            "make it again with `autocode batch prepare`, which splits it"
        )
    count = 0
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
            if (
                not isinstance(request, dict)
                or request.get("url") != ENDPOINT
                or not request.get("custom_id")
                or not isinstance(request.get("body"), dict)
            ):
                raise InputError(f"{path}:{lineno}: not a Batch API request for {ENDPOINT}")
            count += 1
    if count == 0:
        raise InputError(f"{path}: no requests")
    if count > MAX_REQUESTS:
        raise InputError(
            f"{path}: {count:,} requests, over the Batch API's {MAX_REQUESTS:,} "
            "per file; make it again with `autocode batch prepare`, which splits it"
        )
    return count


def submit(paths: list[Path]) -> list[tuple[Path, int, Any]]:
    """Upload each request file and create a batch for it: (path, requests, batch) each."""
    counts = [check_request_file(Path(p)) for p in paths]  # check all before uploading any
    api = client()
    submitted = []
    for path, count in zip(map(Path, paths), counts, strict=True):
        with api_errors(f"uploading {path}"), open(path, "rb") as handle:
            uploaded = api.files.create(file=(path.name, handle), purpose="batch")
        with api_errors(f"creating the batch for {path}"):
            batch = api.batches.create(
                input_file_id=uploaded.id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={"autocode_requests": path.name[:500]},
            )
        submitted.append((path, count, batch))
    return submitted


def _counts(batch) -> str:
    counts = batch.request_counts
    if counts is None:
        return "requests: not counted yet"
    return f"requests: {counts.total} total, {counts.completed} completed, {counts.failed} failed"


def _errors(batch) -> str:
    data = (batch.errors.data if batch.errors else None) or []
    lines = [f"line {e.line}: " if e.line else "" for e in data]
    return (
        "; ".join(
            f"{where}{e.code or 'error'}: {e.message or ''}"
            for where, e in zip(lines, data, strict=True)
        )
        or "no reason given"
    )


def bad_end(batch) -> str:
    """The message for a batch that ended without finishing its requests."""
    if batch.status == "failed":
        return f"batch {batch.id} failed: {_errors(batch)}"
    done = batch.request_counts.completed if batch.request_counts else 0
    total = batch.request_counts.total if batch.request_counts else "?"
    return (
        f"batch {batch.id} {batch.status} with {done} of {total} requests done; "
        f"`autocode batch fetch {batch.id}` downloads those, and after ingesting them, "
        "`autocode batch prepare … --coded OUT` prepares the rest"
    )


def status(batch_id: str) -> list[str]:
    """The lines that tell a batch's status, request counts and files; a batch that failed,
    expired or was cancelled is a BatchAPIError that says why."""
    with api_errors(f"retrieving batch {batch_id}"):
        batch = client().batches.retrieve(batch_id)
    files = [
        f"output file {batch.output_file_id}" if batch.output_file_id else "",
        f"error file {batch.error_file_id}" if batch.error_file_id else "",
    ]
    lines = [f"{batch.id}: {batch.status}", _counts(batch)]
    lines += [", ".join(f for f in files if f)] if any(files) else []
    if batch.status in FINISHED_BADLY:
        raise BatchAPIError(bad_end(batch), lines)
    return lines


CHUNK = 1 << 16


def _download(api, file_id: str, out: IO) -> int:
    """Append the file's bytes to `out` as they arrive (a batch's output can be hundreds of
    megabytes), ending it with a line break; its lines."""
    lines, last = 0, b"\n"
    with (
        api_errors(f"downloading file {file_id}"),
        api.files.with_streaming_response.content(file_id) as response,
    ):
        for chunk in response.iter_bytes(CHUNK):
            out.write(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:] or last
    if last != b"\n":
        out.write(b"\n")
        lines += 1
    return lines


def fetch(batch_id: str, out: Path) -> list[str]:
    """Write the batch's output file, then its error file, into `out` as one JSON-lines file;
    the messages to show. A batch with nothing to fetch yet is a BatchAPIError."""
    api = client()
    with api_errors(f"retrieving batch {batch_id}"):
        batch = api.batches.retrieve(batch_id)
    has_files = batch.output_file_id or batch.error_file_id
    if batch.status != "completed" and not (batch.status in {"expired", "cancelled"} and has_files):
        if batch.status in FINISHED_BADLY:
            raise BatchAPIError(f"{bad_end(batch)}; nothing to fetch")
        raise BatchAPIError(
            f"batch {batch.id} is {batch.status}, not completed "
            f"({_counts(batch)}); nothing to fetch yet, try again later"
        )
    with atomic_writer(Path(out)) as handle:
        answered = _download(api, batch.output_file_id, handle) if batch.output_file_id else 0
        failed = _download(api, batch.error_file_id, handle) if batch.error_file_id else 0
    messages = [
        f"wrote {answered} answer(s) and {failed} error line(s) of batch {batch.id} to {out}"
    ]
    if batch.status != "completed":
        messages.append(f"warning: {bad_end(batch)}")
    return messages
