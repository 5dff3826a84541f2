"""What the simulated servers share: an HTTP server on a free loopback port, in a thread,
for the length of a `with` block. Request handlers reach the server's state as
`self.server.owner`."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    HTTP: type[ThreadingHTTPServer]
    handler: Any  # the BaseHTTPRequestHandler subclass that answers

    def __enter__(self):
        self.httpd = self.HTTP(("127.0.0.1", 0), self.handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
