"""The rating web app (Starlette, served by uvicorn).

One trial at a time on a rater's personal link, answers posted as JSON and stored before they are
acknowledged.

URLs name a rater's token and trial ids only, never files:
  GET  /r/{token}                          the rater's next unanswered trial, or the thank-you page
  GET  /r/{token}/image/{trial}/{which}    an image of one of the rater's trials (original, left, right)
  POST /r/{token}/answer                   {"trial": int, "choice": "left"|"right", "rt_ms": int|null}
Every refusal is a 4xx with one sentence, and changes nothing.
"""
from __future__ import annotations

import json
import sqlite3

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route

from sdbrain.rate import db
from sdbrain.rate.trials import TrialSet

TEMPLATES = Environment(loader=PackageLoader("sdbrain.rate", "templates"), autoescape=select_autoescape())
IMAGES = ("original", "left", "right")
# status of db.record -> HTTP status of the reply
ROUTER_404 = "Not found: the app serves /r/TOKEN (your personal link) and images by trial id only."
RECORDED = {"stored": 200, "duplicate": 200, "conflict": 409, "unassigned": 403}


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
        if not pending:
            return HTMLResponse(TEMPLATES.get_template("done.html").render(name=name, total=len(order)))
        return HTMLResponse(TEMPLATES.get_template("trial.html").render(
            name=name, trial=pending[0], done=len(done), total=len(order), token=request.path_params["token"]))

    async def image(request: Request):
        rater_id, _ = rater(request.path_params["token"])
        text, which = request.path_params["trial"], request.path_params["which"]
        if not text.isdigit() or which not in IMAGES:
            raise HTTPException(404, "No such image: images are addressed as /r/TOKEN/image/TRIAL/original|left|right "
                                     "with a numeric trial id.")
        if int(text) not in db.assigned(con, rater_id):
            raise HTTPException(403, f"Trial {text} is not one of this rater's trials.")
        return FileResponse(trials.image(int(text), which), media_type="image/png",
                            headers={"Cache-Control": "private, max-age=3600"})

    async def answer(request: Request):
        rater_id, _ = rater(request.path_params["token"])
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(400, "The answer must be a JSON object.") from None
        trial, choice, rt_ms = parse_answer(body)
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

    routes = [Route("/r/{token}", page), Route("/r/{token}/image/{trial}/{which}", image),
              Route("/r/{token}/answer", answer, methods=["POST"])]
    return Starlette(routes=routes, exception_handlers={HTTPException: refuse})


def parse_answer(body) -> tuple[int, str, int | None]:
    """(trial, choice, rt_ms) of a posted answer, or a 422 naming the bad field."""
    if not isinstance(body, dict):
        raise HTTPException(422, "The answer must be a JSON object with 'trial' and 'choice'.")
    trial, choice, rt_ms = body.get("trial"), body.get("choice"), body.get("rt_ms")
    if not isinstance(trial, int) or isinstance(trial, bool) or trial < 1:
        raise HTTPException(422, "Field 'trial' must be a positive integer trial id.")
    if choice not in ("left", "right"):
        raise HTTPException(422, "Field 'choice' must be 'left' or 'right'.")
    if rt_ms is not None and (not isinstance(rt_ms, int) or isinstance(rt_ms, bool) or not 0 <= rt_ms < 86_400_000):
        raise HTTPException(422, "Field 'rt_ms' must be null or a response time in milliseconds (0 to one day).")
    return trial, choice, rt_ms
