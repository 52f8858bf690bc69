"""The rating web app (Starlette, served by uvicorn).

One trial at a time on a rater's personal link, answers posted as JSON and stored before they are
acknowledged.

URLs name a rater's token and trial ids only, never files:
  GET  /r/{token}                          the rater's next unanswered trial, or the thank-you page
  GET  /r/{token}/image/{trial}/{which}    an image of one of the rater's trials (original, left, right)
  POST /r/{token}/answer                   {"trial": int, "choice": "left"|"right", "rt_ms": int|null}
Every refusal is a 4xx with one sentence, and changes nothing. Input is bounded where it enters: trial
ids by the route's convertor and ``parse_answer`` (``MAX_TRIAL``), bodies by ``MAX_BODY``, answers to
same-origin JSON; every response gets its security headers from ``SecurityHeaders``.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route

from sdbrain.rate import db
from sdbrain.rate.trials import TrialSet

TEMPLATES = Environment(loader=PackageLoader("sdbrain.rate", "templates"), autoescape=select_autoescape())
IMAGES = ("original", "left", "right")
# trial ids are positive integers of at most 18 ASCII digits: below SQLite's largest integer (2^63 - 1)
MAX_TRIAL = 10**18 - 1
MAX_BODY = 4096  # bytes; an answer is about 50
# status of db.record -> HTTP status of the reply
ROUTER_404 = "Not found: the app serves /r/TOKEN (your personal link) and images by trial id only."
RECORDED = {"stored": 200, "duplicate": 200, "conflict": 409, "unassigned": 403}


class TrialConvertor(Convertor):
    """A trial id in a URL: ASCII digits only (``str.isdigit`` accepts '²' and '١', ``int`` some of them)."""

    regex = "[1-9][0-9]{0,17}"

    def convert(self, value: str) -> int:
        """Return the trial id."""
        return int(value)

    def to_string(self, value: int) -> str:
        """Return the URL form of a trial id."""
        return str(value)


class ImageConvertor(Convertor):
    """Which image of a trial: original, left or right."""

    regex = "|".join(IMAGES)

    def convert(self, value: str) -> str:
        """Return the name."""
        return value

    def to_string(self, value: str) -> str:
        """Return the URL form."""
        return value


register_url_convertor("trial", TrialConvertor())
register_url_convertor("image", ImageConvertor())


class SecurityHeaders:
    """ASGI middleware: the one place that sets every response's security headers.

    Each request gets a fresh nonce (``request.state.nonce``) that the pages put on their one script and
    style; the Content-Security-Policy allows nothing else (no inline handlers, no other origin, no frames).
    Pages and replies are not cached (a rater's link holds their token); images keep the cache header their
    handler sets. Referrer-Policy keeps the token out of any Referer header.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        """Run the app, adding the headers to the response's start."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["nonce"] = nonce

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                present = {k.lower() for k, _ in headers}
                for name, value in self.headers(nonce).items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)

    @staticmethod
    def headers(nonce: str) -> dict[str, str]:
        """Return the headers every response carries (where its handler did not set them)."""
        return {"content-security-policy": f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                                           "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                                           "frame-ancestors 'none'",
                "x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer",
                "cross-origin-resource-policy": "same-origin", "cache-control": "no-store"}


def create_app(trials: TrialSet, con: sqlite3.Connection) -> Starlette:
    """Create the app over a trial set and its open database.

    Handlers are async and never await while they use the connection, so the event loop runs one
    database step at a time.
    """

    def rater(token: str):
        found = db.rater_by_token(con, token)
        if found is None:
            raise HTTPException(404, "Unknown rater link: ask the experimenter for your personal link.")
        return found

    def progress(rater_id: int):
        order, done = db.assigned(con, rater_id), db.answered(con, rater_id)
        pending = [t for t in order if t not in done]
        return order, done, pending

    async def page(request: Request):
        rater_id, name = rater(request.path_params["token"])
        order, done, pending = progress(rater_id)
        nonce = request.state.nonce
        if not pending:
            return HTMLResponse(TEMPLATES.get_template("done.html").render(name=name, total=len(order), nonce=nonce))
        return HTMLResponse(TEMPLATES.get_template("trial.html").render(
            name=name, trial=pending[0], done=len(done), total=len(order), token=request.path_params["token"],
            nonce=nonce))

    async def image(request: Request):
        rater_id, _ = rater(request.path_params["token"])
        trial, which = request.path_params["trial"], request.path_params["which"]
        if trial not in db.assigned(con, rater_id):
            raise HTTPException(403, f"Trial {trial} is not one of this rater's trials.")
        return FileResponse(trials.image(trial, which), media_type="image/png",
                            headers={"Cache-Control": "private, max-age=3600"})

    async def answer(request: Request):
        rater_id, _ = rater(request.path_params["token"])
        trial, choice, rt_ms = parse_answer(await read_json(request))
        outcome = db.record(con, rater_id, trial, choice, rt_ms)
        if outcome == "unassigned":
            raise HTTPException(403, f"Trial {trial} is not one of this rater's trials.")
        if outcome == "conflict":
            raise HTTPException(409, f"Trial {trial} was answered already with the other choice; the first answer stands.")
        order, done, pending = progress(rater_id)
        return JSONResponse({"status": outcome, "done": len(done), "total": len(order),
                             "next": pending[0] if pending else None}, status_code=RECORDED[outcome])

    async def refuse(request: Request, exc: HTTPException):
        # the router's own 404 (no route matched, e.g. a file path in place of a trial id) says where to go
        detail = ROUTER_404 if exc.detail == "Not Found" else exc.detail
        return PlainTextResponse(detail, status_code=exc.status_code)

    routes = [Route("/r/{token}", page), Route("/r/{token}/image/{trial:trial}/{which:image}", image),
              Route("/r/{token}/answer", answer, methods=["POST"])]
    app = Starlette(routes=routes, exception_handlers={HTTPException: refuse})
    app.add_middleware(SecurityHeaders)
    return app


def same_origin(request: Request) -> bool:
    """Tell whether a post comes from the app's own page, or from no browser page at all (no Origin header).

    A cross-site form can post text/plain without a preflight; browsers name its page in Origin.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site", "none") in ("same-origin", "none")
    # host and port only: behind a proxy that ends TLS the page is https and the app sees http
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def read_json(request: Request):
    """Read the posted JSON value: same-origin, application/json, at most ``MAX_BODY`` bytes, no repeated keys."""
    if not same_origin(request):
        raise HTTPException(403, "Answers are accepted from the rating page itself only (cross-site request).")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, "The answer must be sent as application/json.")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, f"The answer is larger than {MAX_BODY} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"The answer is larger than {MAX_BODY} bytes.")
    try:
        return json.loads(body, object_pairs_hook=_unique_keys)
    except RepeatedKey as err:
        raise HTTPException(422, f"Field {str(err)!r} is given twice.") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise HTTPException(400, "The answer must be a JSON object.") from None


class RepeatedKey(ValueError):
    """A JSON object names a key twice (json keeps the last silently)."""


def _unique_keys(pairs: list[tuple]) -> dict:
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise RepeatedKey(key)
        seen.add(key)
    return dict(pairs)


def parse_answer(body) -> tuple[int, str, int | None]:
    """(trial, choice, rt_ms) of a posted answer, or a 422 naming the bad field."""
    if not isinstance(body, dict):
        raise HTTPException(422, "The answer must be a JSON object with 'trial' and 'choice'.")
    trial, choice, rt_ms = body.get("trial"), body.get("choice"), body.get("rt_ms")
    if not isinstance(trial, int) or isinstance(trial, bool) or not 1 <= trial <= MAX_TRIAL:
        raise HTTPException(422, f"Field 'trial' must be a positive integer trial id (at most {MAX_TRIAL}).")
    if choice not in ("left", "right"):
        raise HTTPException(422, "Field 'choice' must be 'left' or 'right'.")
    if rt_ms is not None and (not isinstance(rt_ms, int) or isinstance(rt_ms, bool) or not 0 <= rt_ms < 86_400_000):
        raise HTTPException(422, "Field 'rt_ms' must be null or a response time in milliseconds (0 to one day).")
    return trial, choice, rt_ms
