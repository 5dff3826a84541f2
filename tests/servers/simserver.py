"""A simulated OpenAI-compatible server for tests and benchmarks (real HTTP on 127.0.0.1).

By default it answers every chat completion with a schema-valid coding whose quotes are
real lines of the ad in the request (between <ad> and </ad>), after `latency` seconds.
A script of faults can replace the next answers, one fault per request:

    with SimServer(latency=0.5) as server:            # server.url -> http://127.0.0.1:PORT/v1
        server.script = ["429", "ok", "ungrounded"]  # then "ok" for every later request

Several samples: a request with `n` gets n choices (`SimServer(takes_n=False)` answers one,
as servers without `n` do). With `vary_samples=True` the answers differ as independent
samples would: choice i (or, without `n`, the i-th request for the same ad) leaves out
quote i - 1, and the third sample picks another profile (`sample_variant`).

A script can also belong to one ad: `server.by_text = {"ad-7": ["500", "ok"]}` gives every
request whose ad message (id line and text) contains "ad-7" the next fault of that list,
whatever the order in which concurrent requests arrive; other requests use `script`.

Faults: ok, 429, 429-retry-after, 500, 503, 401, 400, timeout (no answer for `hang` seconds),
drop (connection closed mid-body), malformed (content is not JSON), length (finish_reason
"length"), bad-category, bad-profile, ungrounded (a quote not in the ad), empty-choices,
refusal, echo-headers (a 400 whose body repeats the request headers), markup (a 400 whose
message looks like rich console markup). `s.times` holds when each request arrived.

Holding, for a test that must act while a run is mid-flight (kill it, say) without racing it:
`SimServer(hold_after=10)` answers 10 chat completions, then holds every later one unanswered
(it is in `s.requests` already) until `s.release()` or the server closes; `s.held` is how many
are held now. The default, `hold_after=None`, holds nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.servers.loopback import LoopbackServer


def _schema_of(body: dict) -> tuple[dict, str | None]:
    if body.get("tools"):
        function = body["tools"][0]["function"]
        return function["parameters"], function["name"]
    response_format = body.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema") or response_format.get(
        "schema"
    )
    return schema or {}, None


def _enum(schema: dict, model: str) -> list[str]:
    properties = schema.get("$defs", {}).get(model, {}).get("properties", {})
    return properties.get("category", {}).get("enum", [])


def ad_text_of(body: dict) -> str:
    """The ad being coded: the last <ad> block (a re-ask appends messages after it)."""
    for message in reversed(body["messages"]):
        match = re.search(r"<ad>\n?(.*?)\n?</ad>", message.get("content") or "", re.S)
        if match and message["role"] == "user":
            return match.group(1)
    return body["messages"][-1].get("content") or ""


def ad_message_of(body: dict) -> str:
    """The whole last user message that holds an <ad> block (id line and ad text)."""
    for message in reversed(body.get("messages") or []):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) and "<ad>" in content:
            return content
    return ""


def simulated_answer(body: dict) -> dict:
    """A coding of the ad in the request: its lines as quotes, categories from the schema."""
    schema, _ = _schema_of(body)
    quote_ids = _enum(schema, "QuoteAnswer") or ["?"]
    tool_ids = _enum(schema, "ToolAnswer") or ["?"]
    profiles = schema.get("properties", {}).get("profile", {}).get("enum", ["?"])
    lines = [ln.strip(" -*\t") for ln in ad_text_of(body).splitlines()]
    lines = [ln for ln in lines if 20 <= len(ln) <= 300][:8]
    digest = int(hashlib.sha256(ad_text_of(body).encode()).hexdigest(), 16)
    quotes = [
        {"category": quote_ids[(digest + i) % len(quote_ids)], "text": ln, "translation": None}
        for i, ln in enumerate(lines)
    ]
    words = sorted({w for w in re.findall(r"\b[A-Z][A-Za-z+#]{1,15}\b", ad_text_of(body))})[:3]
    tools = [
        {"category": tool_ids[(digest + i) % len(tool_ids)], "name": w} for i, w in enumerate(words)
    ]
    return {
        "quotes": quotes,
        "tools": tools,
        "reasoning": "Simulated coding.",
        "profile": profiles[digest % len(profiles)],
    }


def sample_variant(answer: dict, body: dict, variant: int) -> dict:
    """Sample `variant` of an answer: 0 as it is; i >= 1 without quote i - 1; 2 (and every
    third after it) with the next profile of the schema."""
    if variant == 0:
        return answer
    quotes = [q for i, q in enumerate(answer["quotes"]) if i != variant - 1]
    profiles = _schema_of(body)[0].get("properties", {}).get("profile", {}).get("enum", [])
    profile = answer["profile"]
    if variant % 3 == 2 and profiles:
        profile = profiles[(profiles.index(profile) + 1) % len(profiles)]
    return dict(answer, quotes=quotes, profile=profile)


def faulty_answer(fault: str, body: dict) -> dict:
    answer = simulated_answer(body)
    if fault == "bad-category" and answer["quotes"]:
        answer["quotes"][0]["category"] = "9.Z.9"
    elif fault == "bad-profile":
        answer["profile"] = "Astronaut"
    elif fault == "ungrounded":
        answer["quotes"].append(
            {
                "category": answer["quotes"][0]["category"] if answer["quotes"] else "?",
                "text": "Invent a perpetual motion machine for us",
                "translation": None,
            }
        )
    return answer


def completion(body: dict, content: str | None, finish: str = "stop", refusal=None) -> dict:
    _, function = _schema_of(body)
    message = {"role": "assistant", "content": content, "refusal": refusal}
    if function and content is not None:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": function, "arguments": content},
                }
            ],
        }
        finish = "tool_calls" if finish == "stop" else finish
    prompt_tokens = sum(len(m.get("content") or "") for m in body["messages"]) // 4
    return {
        "id": "chatcmpl-sim",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "sim"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(content or "") // 4,
            "total_tokens": prompt_tokens + len(content or "") // 4,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK of the headers: 40 ms added to every request.
    disable_nagle_algorithm = True
    server: SimServer.HTTP

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(200, {"object": "list", "data": [{"id": "sim", "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        sim = self.server.owner
        fault = sim.next_fault(body, dict(self.headers))
        sim.hold()
        time.sleep(sim.latency)
        if fault == "ok" and (sim.vary_samples or (body.get("n") or 1) > 1):
            return self._send(200, sim.samples(body))
        self.respond(fault, body)

    def respond(self, fault: str, body: dict) -> None:
        errors = {
            "429": 429,
            "429-retry-after": 429,
            "500": 500,
            "503": 503,
            "401": 401,
            "400": 400,
        }
        if fault in errors:
            headers = {"Retry-After": "0.05"} if fault == "429-retry-after" else {}
            message = {"429": "Rate limit reached", "401": "Incorrect API key provided"}
            error = {"message": message.get(fault[:3], f"simulated {fault}"), "type": "sim"}
            return self._send(errors[fault], {"error": error}, headers)
        if fault == "markup":
            return self._send(400, {"error": {"message": "bad [bold]request[/bold] [/see docs]"}})
        if fault == "echo-headers":
            message = f"bad request; headers were {dict(self.headers)}"
            return self._send(400, {"error": {"message": message}})
        if fault == "timeout":
            time.sleep(self.server.owner.hang)
            return None
        if fault == "drop":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b'{"id": "chatcmpl-sim", "choi')
            self.wfile.flush()
            self.close_connection = True
            return None
        if fault == "empty-choices":
            payload = completion(body, "{}")
            payload["choices"] = []
            return self._send(200, payload)
        if fault == "refusal":
            return self._send(200, completion(body, None, refusal="I can't help with that."))
        if fault == "malformed":
            return self._send(200, completion(body, '{"quotes": [ {"category": '))
        finish = "length" if fault == "length" else "stop"
        return self._send(200, completion(body, json.dumps(faulty_answer(fault, body)), finish))


class SimServer(LoopbackServer):
    """Start with `with SimServer() as s:`; `s.requests` records every request body."""

    class HTTP(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # a burst of new connections (concurrency 32) fits the backlog
        owner: SimServer

        def handle_error(self, request, client_address):
            """A client that went away (killed, timed out) is no error of the server's."""
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    handler = _Handler

    def __init__(
        self,
        latency: float = 0.0,
        script: list[str] | None = None,
        hang: float = 30.0,
        by_text: dict[str, list[str]] | None = None,
        takes_n: bool = True,
        vary_samples: bool = False,
        hold_after: int | None = None,
    ):
        self.latency = latency
        self.script = list(script or [])
        self.by_text = {key: list(faults) for key, faults in (by_text or {}).items()}
        self.hang = hang
        self.takes_n = takes_n
        self.vary_samples = vary_samples
        self._asked: dict[str, int] = {}  # requests so far per ad message (vary_samples)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.times: list[float] = []  # time.monotonic() of each request, in arrival order
        self._lock = threading.Lock()
        self._to_answer = hold_after  # chat completions still answered before holding; None: all
        self.held = 0  # requests being held now
        self._released = threading.Condition(self._lock)
        # what came in (requests, headers, times), for a test to read; off in a server run
        # in the foreground, which nobody can read and which must not grow with a corpus
        self.record = True

    def next_fault(self, body: dict, headers: dict) -> str:
        with self._lock:
            if self.record:
                self.requests.append(body)
                self.headers.append(headers)
                self.times.append(time.monotonic())
            message = ad_message_of(body)
            own = next((faults for key, faults in self.by_text.items() if key in message), None)
            if own is not None:
                return own.pop(0) if own else "ok"
            return self.script.pop(0) if self.script else "ok"

    def hold(self) -> None:
        """Hold this request while the server holds (see the module docstring); at once else."""
        with self._released:
            if self._to_answer is None:
                return
            if self._to_answer > 0:
                self._to_answer -= 1
                return
            self.held += 1
            self._released.wait_for(lambda: self._to_answer is None)
            self.held -= 1

    def release(self) -> None:
        """Answer every held request, and hold no more."""
        with self._released:
            self._to_answer = None
            self._released.notify_all()

    def __exit__(self, *exc) -> None:
        self.release()  # a held handler thread ends with the server
        super().__exit__(*exc)

    def samples(self, body: dict) -> dict:
        """A completion with one choice per sample asked for (one without `takes_n`)."""
        n = (body.get("n") or 1) if self.takes_n else 1
        with self._lock:
            key = ad_message_of(body)
            first = self._asked.get(key, 0) if self.vary_samples else 0
            self._asked[key] = first + n
        base = simulated_answer(body)
        contents = [
            json.dumps(sample_variant(base, body, first + i) if self.vary_samples else base)
            for i in range(n)
        ]
        payload = completion(body, contents[0])
        for i, content in enumerate(contents[1:], start=1):
            choice = completion(body, content)["choices"][0]
            payload["choices"].append(dict(choice, index=i))
            payload["usage"]["completion_tokens"] += len(content) // 4
        return payload

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


def main() -> None:
    """Run the simulated server in the foreground.

    python -m tests.servers.simserver [PORT] [LATENCY] [FAULT ...]: the faults answer the first
    requests in order (e.g. `429 500 ok ungrounded`), then every request is answered "ok".
    """
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8399
    sim = SimServer(latency=float(sys.argv[2]) if len(sys.argv) > 2 else 0.5, script=sys.argv[3:])
    sim.record = False
    sim.httpd = SimServer.HTTP(("127.0.0.1", port), _Handler)
    sim.httpd.owner = sim
    print(f"simulated OpenAI-compatible server on {sim.url}", flush=True)
    sim.httpd.serve_forever()


if __name__ == "__main__":
    main()
