"""A local stand-in for OpenAI's Files and Batches endpoints (real HTTP on 127.0.0.1).

It checks an uploaded request file as the Batch API does, then settles each batch at once:

    with BatchServer() as server:                  # server.url -> http://127.0.0.1:PORT/v1
        server.outcome = "expired"                 # for the next batches created

Outcomes: "completed" (every request answered), "expired" (the first half answered, the
rest are batch_expired error lines), "in_progress" (nothing yet), "failed" (as a file that
fails validation does). Answers come from `answer(body) -> (status, body)`; by default the
simulated coding of tests.servers.simserver.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.servers.loopback import LoopbackServer
from tests.servers.simserver import completion, simulated_answer

ENDPOINT = "/v1/chat/completions"


def simulated(body: dict) -> tuple[int, dict]:
    return 200, completion(body, json.dumps(simulated_answer(body)))


def check_lines(data: bytes) -> tuple[list[dict], list[dict]]:
    """The requests of an input file, and its errors in the Batch API's form."""
    requests, errors, seen = [], [], set()
    for number, raw in enumerate(data.decode("utf-8").splitlines(), start=1):
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            errors.append(
                {
                    "code": "invalid_json_line",
                    "line": number,
                    "message": "This line is not parseable as valid JSON.",
                }
            )
            continue
        if line.get("url") != ENDPOINT or line.get("method") != "POST" or "body" not in line:
            errors.append(
                {
                    "code": "invalid_request",
                    "line": number,
                    "message": f"A request needs method POST, url {ENDPOINT}, a body.",
                }
            )
        elif line.get("custom_id") in seen:
            errors.append(
                {
                    "code": "duplicate_custom_id",
                    "line": number,
                    "message": "The custom_id for this request is a duplicate.",
                }
            )
        else:
            seen.add(line.get("custom_id"))
            requests.append(line)
    if not requests and not errors:
        errors.append({"code": "empty_file", "line": None, "message": "The input file is empty."})
    return requests, errors


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: BatchServer.HTTP

    def log_message(self, *args):
        pass

    def _send(self, status: int, payload, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _not_found(self, what: str) -> None:
        self._send(
            404,
            {"error": {"message": f"No such {what}: {self.path}", "type": "invalid_request_error"}},
        )

    def do_GET(self):
        stand_in = self.server.owner
        stand_in.headers.append(dict(self.headers))
        if match := re.fullmatch(r"/v1/files/([\w-]+)/content", self.path):
            found = stand_in.files.get(match.group(1))
            if found is None:
                return self._not_found("file")
            return self._send(200, found["data"], "application/octet-stream")
        if match := re.fullmatch(r"/v1/batches/([\w-]+)", self.path):
            batch = stand_in.batches.get(match.group(1))
            return self._send(200, batch) if batch else self._not_found("batch")
        return self._not_found("route")

    def do_POST(self):
        stand_in = self.server.owner
        stand_in.headers.append(dict(self.headers))
        body = self._body()
        if self.path == "/v1/files":
            return self._send(200, stand_in.upload(self.headers["Content-Type"], body))
        if self.path == "/v1/batches":
            request = json.loads(body or b"{}")
            if request.get("input_file_id") not in stand_in.files:
                return self._not_found("file")
            return self._send(200, stand_in.create(request))
        return self._not_found("route")


class BatchServer(LoopbackServer):
    """Start with `with BatchServer() as s:`; `s.files` and `s.batches` hold what it got."""

    class HTTP(ThreadingHTTPServer):
        daemon_threads = True
        owner: BatchServer

    handler = _Handler

    def __init__(self, outcome: str = "completed", answer=simulated):
        self.outcome = outcome
        self.answer = answer
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self.headers: list[dict] = []
        self._ids = itertools.count(1)
        self._pending: dict[str, list[dict]] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _store(self, data: bytes, filename: str, purpose: str) -> dict:
        with self._lock:
            file_id = f"file-{next(self._ids)}"
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "data": data,
        }
        return {k: v for k, v in self.files[file_id].items() if k != "data"}

    def upload(self, content_type: str, body: bytes) -> dict:
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        fields = {
            part.get_param("name", header="content-disposition"): part
            for part in message.iter_parts()
        }
        data = fields["file"].get_payload(decode=True)
        return self._store(
            data, fields["file"].get_filename(), fields["purpose"].get_payload(decode=True).decode()
        )

    def create(self, request: dict) -> dict:
        with self._lock:
            batch_id = f"batch_{next(self._ids)}"
        now = int(time.time())
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": request.get("endpoint"),
            "input_file_id": request["input_file_id"],
            "created_at": now,
            "completion_window": request.get("completion_window"),
            "metadata": request.get("metadata"),
            "status": "validating",
            "errors": None,
            "output_file_id": None,
            "error_file_id": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
        }
        self.batches[batch_id] = batch
        requests, errors = check_lines(self.files[request["input_file_id"]]["data"])
        if request.get("endpoint") != ENDPOINT or request.get("completion_window") != "24h":
            errors.append(
                {
                    "code": "invalid_request",
                    "line": None,
                    "message": "endpoint must be /v1/chat/completions, window 24h",
                }
            )
        if errors or self.outcome == "failed":
            errors = errors or [
                {
                    "code": "token_limit_exceeded",
                    "line": None,
                    "message": "Enqueued token limit reached for this model.",
                }
            ]
            batch.update(status="failed", failed_at=now, errors={"object": "list", "data": errors})
            return batch
        batch["request_counts"]["total"] = len(requests)
        if self.outcome == "in_progress":
            batch.update(status="in_progress", in_progress_at=now)
            self._pending[batch_id] = requests
            return batch
        finished = requests if self.outcome == "completed" else requests[: len(requests) // 2]
        self._settle(batch, finished, requests[len(finished) :])
        return batch

    def finish(self, batch_id: str) -> None:
        """Complete a batch that was left in progress."""
        self._settle(self.batches[batch_id], self._pending.pop(batch_id), [])

    def _settle(self, batch: dict, finished: list[dict], expired: list[dict]) -> None:
        output, failed = [], []
        for number, line in enumerate(finished, start=1):
            status, body = self.answer(line["body"])
            result = {
                "id": f"batch_req_{number}",
                "custom_id": line["custom_id"],
                "response": {"status_code": status, "request_id": f"req_{number}", "body": body},
                "error": None,
            }
            (output if status == 200 else failed).append(result)
        for number, line in enumerate(expired, start=len(finished) + 1):
            failed.append(
                {
                    "id": f"batch_req_{number}",
                    "custom_id": line["custom_id"],
                    "response": None,
                    "error": {
                        "code": "batch_expired",
                        "message": "This request could not be "
                        "executed before the completion window expired.",
                    },
                }
            )

        def as_file(lines, name):
            data = "".join(json.dumps(x) + "\n" for x in lines).encode()
            return self._store(data, name, "batch_output")["id"] if lines else None

        batch.update(
            output_file_id=as_file(output, "output.jsonl"),
            error_file_id=as_file(failed, "errors.jsonl"),
            request_counts={
                "total": len(finished) + len(expired),
                "completed": len(output),
                "failed": len(failed),
            },
        )
        if expired:
            batch.update(status="expired", expired_at=int(time.time()))
        else:
            batch.update(status="completed", completed_at=int(time.time()))
