"""Batch request files: one line per ad in the OpenAI Batch API input format (which vLLM's
batch runner reads too). The body is `LLM.request(...)` of the very Request the online path
builds (`coding.one_ad.prepare`), so the two cannot drift apart; `ingest` reads the results.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.coding.one_ad import RunOptions, prepare
from pipeline.errors import InputError
from pipeline.llm.backend import Backend, settings_of
from pipeline.llm.client import LLM

ENDPOINT = "/v1/chat/completions"
# The Batch API's per-file limits (platform.openai.com/docs/api-reference/batch/create, and
# the openai SDK's batches.create docstring): 50,000 requests and 200 MB. MB read as 10^6 bytes,
# the smaller reading, so a file never passes the limit under either.
MAX_REQUESTS = 50_000
MAX_BYTES = 200_000_000


def _offline(**_kwargs):
    raise RuntimeError("batch prepare and ingest make no online call")


def offline_llm(backend: Backend, temperature: float, max_tokens: int | None) -> LLM:
    """The LLM that builds the requests of prepare and ingest; it never calls out. Its
    max_tokens is the one given, else the backend's default."""
    tokens = settings_of(backend.kind, max_tokens=max_tokens)["max_tokens"]
    return LLM(backend, create=_offline, max_retries=0, temperature=temperature, max_tokens=tokens)


def request_body(ad: Ad, codebook: Codebook, llm: LLM, options: RunOptions) -> dict:
    """The body the online path would send for this ad on its first attempt; with several
    samples, one request for all of them (`n`)."""
    request = prepare(ad, codebook, llm, options)
    body = llm.request(request.messages, request.model_cls)  # llm keeps instructor's log off
    return body | {"n": options.samples} if options.samples > 1 else body


def request_line(ad: Ad, codebook: Codebook, llm: LLM, options: RunOptions) -> dict:
    return {
        "custom_id": ad.id,
        "method": "POST",
        "url": ENDPOINT,
        "body": request_body(ad, codebook, llm, options),
    }


def part_path(out: Path, number: int) -> Path:
    return out.with_name(f"{out.stem}-{number:03d}{out.suffix}")


def write_request_files(
    lines, out: Path, max_requests: int | None = None, max_bytes: int | None = None
) -> list[tuple[Path, int]]:
    """Write JSON lines to `out`, or to out-001, out-002… when one file would pass a limit.

    Returns (path, number of requests) per file written. Parts from an earlier, larger
    prepare of the same name are removed so they cannot be submitted twice by mistake.
    """
    max_requests = max_requests or MAX_REQUESTS
    max_bytes = max_bytes or MAX_BYTES
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parts: list[tuple[Path, int]] = []  # temp path, requests
    handle, size, count = None, 0, 0
    try:
        for line in lines:
            data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
            if len(data) > max_bytes:
                raise InputError(
                    f"request for ad {line['custom_id']!r} alone is {len(data):,} "
                    f"bytes, over the {max_bytes:,}-byte file limit"
                )
            if handle is None or count == max_requests or size + len(data) > max_bytes:
                if handle is not None:
                    handle.close()
                    parts[-1] = (parts[-1][0], count)
                tmp = out.with_name(f".{out.name}.part{len(parts) + 1}.tmp")
                handle, size, count = open(tmp, "wb"), 0, 0  # closed below
                parts.append((tmp, 0))
            handle.write(data)
            size, count = size + len(data), count + 1
        if handle is not None:
            handle.close()
            parts[-1] = (parts[-1][0], count)
    except BaseException:
        if handle is not None:
            handle.close()
        for tmp, _ in parts:
            tmp.unlink(missing_ok=True)
        raise
    for stale in [out, *out.parent.glob(f"{out.stem}-[0-9][0-9][0-9]{out.suffix}")]:
        stale.unlink(missing_ok=True)
    final = [out] if len(parts) == 1 else [part_path(out, i) for i in range(1, len(parts) + 1)]
    for (tmp, _), path in zip(parts, final, strict=True):
        os.replace(tmp, path)
    return [(path, n) for path, (_, n) in zip(final, parts, strict=True)]


# ------------------------------------------------------------------ results of a batch


def parse_shard(spec: str) -> tuple[int, int]:
    """`--shard I/N` as (I, N), 1 <= I <= N."""
    part, _, parts = spec.partition("/")
    try:
        i, n = int(part), int(parts)
    except ValueError:
        raise InputError(f"--shard {spec!r}: write it as I/N, e.g. 2/4") from None
    if not 1 <= i <= n:
        raise InputError(f"--shard {spec!r}: I must be between 1 and N")
    return i, n


def shard_of(ad_id: str, parts: int) -> int:
    """The part (1..parts) an ad belongs to: a hash of its id, so every machine agrees."""
    digest = hashlib.sha256(ad_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % parts + 1


def in_shard(part: int, parts: int) -> Callable[[str], bool]:
    """Whether an ad id is in part `part` of `parts` (an AdReader's `keep`)."""
    return lambda ad_id: shard_of(ad_id, parts) == part
