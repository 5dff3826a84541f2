"""A server that cannot be reached stops the run at once, like a bad key: exit status 1, one
message naming the URL (never its credentials), manifest status `aborted: …` and every ad
listed as not coded, so the same command codes them once the server is there. A run whose
every ad failed exits 1 too. `autocode code` runs as a subprocess over real sockets."""

from __future__ import annotations

import socket
import time

import pytest
from autocode_run import API_KEY, TRACEBACK, ad_text, run_code
from fakes import ScriptedCreate, backend

from pipeline.llm.client import LLM
from pipeline.llm.connection import DROPPED, REFUSED, UNRESOLVED, connection_fault
from pipeline.llm.faults import FatalLLMError, LLMFailure
from tests.servers.simserver import SimServer

N_ADS = 4


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ads(tmp_path):
    folder = tmp_path / "ads"
    folder.mkdir()
    for i in range(N_ADS):
        (folder / f"ad{i}.txt").write_text(ad_text(f"reach-{i}"), encoding="utf-8")
    return folder


UNREACHABLE = [
    pytest.param(lambda: f"http://127.0.0.1:{closed_port()}/v1", REFUSED, id="closed-port"),
    pytest.param(lambda: "http://autocode-test.invalid/v1", UNRESOLVED, id="unknown-host"),
    pytest.param(
        lambda: f"http://user:hunter2pass@127.0.0.1:{closed_port()}/v1",
        REFUSED,
        id="credentials-in-url",
    ),
]


@pytest.mark.parametrize(("url", "fault"), UNREACHABLE)
def test_unreachable_server_stops_the_run_at_once(tmp_path, ads, url, fault):
    url = url()
    start = time.monotonic()
    result = run_code(tmp_path, url, ads, "--concurrency", 2, "--timeout", 5)
    assert time.monotonic() - start < 30  # not 6 tries x backoff per ad
    assert result.returncode == 1, result.stderr
    assert TRACEBACK not in result.stderr
    messages = [line for line in result.stderr.splitlines() if line.startswith("autocode:")]
    host = url.replace("user:hunter2pass@", "")
    assert messages == [f"autocode: cannot reach the server at {host}: {fault}"]
    assert "hunter2pass" not in result.stderr and API_KEY not in result.stderr
    manifest = result.manifest()
    assert manifest["status"] == f"aborted: cannot reach the server at {host}: {fault}"
    assert manifest["not_coded"] == [f"ad{i}" for i in range(N_ADS)]
    assert result.records() == {} and result.failures() == {}
    assert "hunter2pass" not in (result.out / "manifest.json").read_text(encoding="utf-8")


def test_the_same_command_codes_every_ad_once_the_server_is_there(tmp_path, ads):
    aborted = run_code(tmp_path, f"http://127.0.0.1:{closed_port()}/v1", ads)
    assert aborted.returncode == 1
    with SimServer() as server:  # the server is there now (OPENAI_BASE_URL put right)
        rerun = run_code(tmp_path, server.url, ads)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(rerun.records()) == [f"ad{i}" for i in range(N_ADS)]
    assert rerun.manifest()["status"] == "complete" and rerun.manifest()["not_coded"] == []


def test_a_run_whose_every_ad_failed_exits_1(tmp_path, ads):
    with SimServer(script=["400"] * 50) as server:
        result = run_code(tmp_path, server.url, ads, "--concurrency", 1)
    assert result.returncode == 1
    assert f"every ad failed ({N_ADS})" in result.stderr
    assert sorted(result.failures()) == sorted(result.manifest()["not_coded"])
    assert result.manifest()["status"] == "complete"


# ------------------------------------------------------------------- the LLM layer


def _connection_error(cause: BaseException):
    import openai

    try:
        raise cause
    except type(cause) as exc:
        try:
            raise openai.APIConnectionError(request=None) from exc
        except openai.APIConnectionError as wrapped:
            return wrapped


@pytest.mark.parametrize(
    ("cause", "fault"),
    [
        (ConnectionRefusedError(111, "Connection refused"), REFUSED),
        (socket.gaierror(-2, "Name or service not known"), UNRESOLVED),
        (ConnectionResetError(104, "Connection reset by peer"), DROPPED),
        (OSError("something else"), None),
    ],
    ids=["refused", "unresolved", "reset", "other"],
)
def test_connection_fault_names_the_cause(cause, fault):
    assert connection_fault(_connection_error(cause)) == fault


def test_refused_before_any_answer_is_fatal_without_retries():
    fake = ScriptedCreate(*[_connection_error(ConnectionRefusedError(111, "refused"))] * 6)
    llm = LLM(backend(), create=fake, backoff=0.001)
    with pytest.raises(FatalLLMError, match="cannot reach the server at http://127.0.0.1:9/v1"):
        llm.code([{"role": "user", "content": "x"}], _model(), {"ad_text": "x"})
    assert len(fake.calls) == 1


def test_refused_after_the_server_answered_is_retried_then_fails_the_ad():
    """A server that answered and then went away may come back: retried, then one ad fails."""
    refused = _connection_error(ConnectionRefusedError(111, "refused"))
    fake = ScriptedCreate("ok", *[refused] * 6)
    llm = LLM(backend(), create=fake, backoff=0.001, transient_attempts=3)
    ad = "We build retrieval augmented generation systems."
    llm.code([{"role": "user", "content": f"<ad>\n{ad}\n</ad>"}], _model(), {"ad_text": ad})
    with pytest.raises(LLMFailure, match="connection error: connection refused"):
        llm.code(
            [{"role": "user", "content": "<ad>\nother\n</ad>"}], _model(), {"ad_text": "other"}
        )
    assert len(fake.calls) == 1 + 3


def _model():
    from pipeline.codebook import load_codebook
    from pipeline.coding.answer import response_model

    return response_model(load_codebook())
