"""`autocode review --serve`: the review pages as an editor, served by Starlette on uvicorn.

A local server that writes files is reachable from every page the coder has open, so every
request passes `Guard` first: the Host header must name the server (DNS rebinding), an
Origin must be the server's own (cross-site requests), the access token must come with the
request (`?token=`, the `X-Autocode-Token` header, or the cookie the first page sets), and
bodies are capped. Ad ids are looked up among the session's ads, never used as paths as sent.
The pages' text is escaped by jinja2 and set as text by the script, never parsed as HTML.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from jinja2 import Environment
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from pipeline.resources import page_templates
from pipeline.review.session import (
    Session,
    ad_payload,
    codebook_payload,
    coding_problems,
    listing,
    progress,
    redraft,
)
from pipeline.review.site import TEMPLATES

MAX_BODY = 2_000_000  # bytes: a coding of a very long ad is well under 1 MB
TOKEN_HEADER = "x-autocode-token"
COOKIE = "autocode_token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Guard:
    """ASGI middleware: refuse (403) a foreign Host or Origin or a request without the token,
    (413) a body over MAX_BODY; set the token cookie on a page opened with `?token=`."""

    def __init__(self, app, token: str, hosts: set[str]):
        self.app, self.token, self.hosts = app, token, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            return await Response(refusal, 403, media_type="text/plain")(scope, receive, send)
        if int(headers.get("content-length") or 0) > MAX_BODY:
            too_big = f"the body is over {MAX_BODY} bytes"
            return await Response(too_big, 413, media_type="text/plain")(scope, receive, send)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        set_cookie = "token" in query
        return await self.app(scope, _capped(receive), _with_cookie(send, self.token, set_cookie))

    def refusal(self, scope, headers: dict[str, str]) -> str | None:
        if headers.get("host") not in self.hosts:
            return "autocode review: this server answers only to its own address (Host refused)"
        origin = headers.get("origin")
        if origin is not None and origin.removeprefix("http://") not in self.hosts:
            return "autocode review: requests from other sites are refused (Origin)"
        if headers.get("sec-fetch-site") == "cross-site":
            return "autocode review: requests from other sites are refused (Sec-Fetch-Site)"
        if not any(secrets.compare_digest(t, self.token) for t in _tokens(scope, headers)):
            return (
                "autocode review: no access token. Open the URL the server printed when it "
                "started (it ends with ?token=…)."
            )
        return None


def _tokens(scope, headers: dict[str, str]) -> list[str]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    cookie = SimpleCookie()
    cookie.load(headers.get("cookie", ""))
    found = query.get("token", []) + [headers.get(TOKEN_HEADER, "")]
    return [t for t in found + ([cookie[COOKIE].value] if COOKIE in cookie else []) if t]


def _capped(receive):
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > MAX_BODY:  # a chunked body without Content-Length
            raise ValueError("request body over the limit")
        return message

    return wrapped


def _with_cookie(send, token: str, set_cookie: bool):
    async def wrapped(message):
        if set_cookie and message["type"] == "http.response.start":
            value = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
            message["headers"] = [*message.get("headers", []), (b"set-cookie", value.encode())]
        await send(message)

    return wrapped


# ------------------------------------------------------------------------ routes


def _known(session: Session, request: Request) -> str | None:
    ad_id = request.path_params["ad_id"]
    return ad_id if ad_id in session.queue else None


def _not_found(ad_id: str) -> JSONResponse:
    return JSONResponse({"error": f"no ad {ad_id!r} in this review"}, 404)


def _page(env: Environment, name: str, **context) -> HTMLResponse:
    css = Markup((TEMPLATES / "review.css").read_text(encoding="utf-8"))
    html = env.get_template(name).render(css=css, **context)
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def routes(session: Session, token: str) -> list[Route]:
    env = page_templates(TEMPLATES)
    script = (TEMPLATES / "editor.js").read_text(encoding="utf-8")
    book = codebook_payload(session.book)

    def index(request: Request) -> Response:
        return _page(
            env,
            "editor_index.html.j2",
            session=session,
            progress=progress(session),
            token=token,
            problems=session.problems + session.inp.problems,
            redraft=redraft(session, session.inp.ads_path, session.inp.out),
        )

    def ad_page(request: Request) -> Response:
        ad_id = _known(session, request)
        if ad_id is None:
            return HTMLResponse("no such ad in this review", 404)
        config = {"id": ad_id, "token": token, "codebook": book, "blind": session.blind}
        return _page(env, "editor.html.j2", ad_id=ad_id, config=config, token=token)

    def asset(request: Request) -> Response:
        return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-store"})

    def api_list(request: Request) -> Response:
        try:
            offset = max(0, int(request.query_params.get("offset", 0)))
            limit = int(request.query_params.get("limit", 100))
        except ValueError:
            return JSONResponse({"error": "offset and limit must be whole numbers"}, 400)
        return JSONResponse(listing(session, offset, limit))

    def api_get(request: Request) -> Response:
        ad_id = _known(session, request)
        if ad_id is None:
            return _not_found(request.path_params["ad_id"])
        etag = session.workspace.etag(ad_id)
        return JSONResponse(ad_payload(session, ad_id), headers={"ETag": etag})

    async def api_put(request: Request) -> Response:
        return await _put(session, request)

    async def api_wip(request: Request) -> Response:
        return await _put_wip(session, request)

    return [
        Route("/", index),
        Route("/ads/{ad_id}", ad_page),
        Route("/assets/editor.js", asset),
        Route("/api/ads", api_list),
        Route("/api/ads/{ad_id}", api_get, methods=["GET"]),
        Route("/api/ads/{ad_id}", api_put, methods=["PUT"]),
        Route("/api/ads/{ad_id}/wip", api_wip, methods=["PUT"]),
    ]


async def _json_body(request: Request) -> object:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None


async def _put_wip(session: Session, request: Request) -> Response:
    """Work in progress: the page's state as the coder goes, kept until the ad is saved."""
    ad_id = _known(session, request)
    if ad_id is None:
        return _not_found(request.path_params["ad_id"])
    body = await _json_body(request)
    if not isinstance(body, dict):
        return JSONResponse({"problems": ["the body must be a JSON object"]}, 422)
    session.workspace.write_wip(ad_id, body)
    return JSONResponse({"ok": True})


async def _put(session: Session, request: Request) -> Response:
    ad_id = _known(session, request)
    if ad_id is None:
        return _not_found(request.path_params["ad_id"])
    if_match = request.headers.get("if-match")
    if if_match is None:
        problem = "If-Match is missing: send the ETag of GET /api/ads/{id}"
        return JSONResponse({"problems": [problem]}, 428)
    body = await _json_body(request)
    ad = session.ad(ad_id)
    text = ad.text if ad else None
    coding, problems = coding_problems(body, ad_id, session.book, text)
    if coding is None:
        return JSONResponse({"problems": problems or ["the body is not JSON"]}, 422)
    try:
        seconds = float(request.headers.get("x-autocode-seconds", 0))
    except ValueError:
        seconds = 0.0
    draft = session.drafts.get(ad_id)
    if draft is not None:
        coding = coding.model_copy(update=_header_of(draft, ad))
    elif ad is not None:
        coding = coding.model_copy(update={"title": ad.title, "organisation": ad.organisation})
    result = session.workspace.save(coding, if_match, draft, text, seconds)
    if result.status != 200:
        return JSONResponse({"problems": result.problems}, result.status, _etag(result.etag))
    payload = result.coding.model_dump(mode="json", exclude={"warnings"}) if result.coding else {}
    return JSONResponse(payload, 200, _etag(result.etag))


def _header_of(draft, ad) -> dict:
    return {
        "title": draft.title or (ad.title if ad else None),
        "organisation": draft.organisation or (ad.organisation if ad else None),
    }


def _etag(etag: str | None) -> dict[str, str]:
    return {"ETag": etag} if etag else {}


def make_app(session: Session, token: str, hosts: set[str]) -> Callable:
    """The ASGI application: the routes behind the Guard."""
    return Guard(Starlette(routes=routes(session, token)), token, hosts)


def allowed_hosts(host: str, port: int) -> set[str]:
    """The Host header values that name this server (a loopback server: every loopback name)."""
    names = {host, f"[{host}]" if ":" in host else host}
    if host in ("127.0.0.1", "localhost", "::1"):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    return {f"{n}:{port}" for n in names}
