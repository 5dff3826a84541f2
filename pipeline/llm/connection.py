"""What went wrong with a connection to the LLM server, in words a user can act on.

The openai SDK raises one APIConnectionError for every network fault; the cause chain below
it says which: nothing listening (refused), a host name that does not resolve, or a server
that closed the connection before answering.
"""

from __future__ import annotations

import socket

REFUSED = "connection refused"
UNRESOLVED = "could not resolve host"
DROPPED = "connection dropped"
# before the server has answered anything, these mean it cannot be reached at all
UNREACHABLE = (REFUSED, UNRESOLVED)
# the HTTP clients' names for a connection that broke after it was made
_DROPPED_NAMES = ("RemoteProtocolError", "ReadError", "WriteError", "IncompleteRead")


def _causes(exc: BaseException | None):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def connection_fault(exc: BaseException) -> str | None:
    """REFUSED, UNRESOLVED or DROPPED when `exc` (or its cause) is one, else None."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return REFUSED
        if isinstance(cause, socket.gaierror):
            return UNRESOLVED
        if isinstance(cause, ConnectionResetError | BrokenPipeError) or any(
            name in type(cause).__name__ for name in _DROPPED_NAMES
        ):
            return DROPPED
    return None
