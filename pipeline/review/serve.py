"""Running the editor: a socket bound first (so port 0 gives a free port and the URL is
known), the access token in the URL, uvicorn serving until Ctrl-C."""

from __future__ import annotations

import socket
import threading
import webbrowser
from collections.abc import Callable

import uvicorn

from pipeline.errors import InputError
from pipeline.review.server import allowed_hosts, make_app, new_token
from pipeline.review.session import Session


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror} (another server there? try --port 0)"
        ) from None
    sock.listen(128)
    return sock


def url_of(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def serve(
    session: Session, host: str, port: int, browser: bool, announce: Callable[[str], None]
) -> None:
    """Serve the editor until Ctrl-C (a clean stop: saved files are whole, work in progress
    is on disk); `announce` gets the URL before the first request."""
    sock = bind(host, port)
    port = sock.getsockname()[1]
    token = new_token()
    app = make_app(session, token, allowed_hosts(host, port))
    url = url_of(host, port, token)
    announce(url)
    if browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down on Ctrl-C, then raises the signal again
        pass
