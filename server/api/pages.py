"""Pages for people: the demo board that invite links open, and a "New board" page.

The board is the prebuilt bundle in `server/static` (built from `examples/canvas` with
`npm run build` there, and committed), shipped in the wheel as package data: serving it needs
no Node and no source tree. Unknown room ids still get the page: its join call shows the
API's 404.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)

# server/api/pages.py -> server/static, in a source checkout, an editable install and a wheel.
_BUNDLE = Path(__file__).resolve().parents[1] / "static"
# The bundle keeps its name from build to build: browsers revalidate (ETag) instead of guessing.
_REVALIDATE = {"Cache-Control": "no-cache"}


@cache
def bundle_dir() -> Path | None:
    """The folder holding the board's index.html, board.js and board.css, if there is one."""
    return _BUNDLE if (_BUNDLE / "index.html").is_file() else None


@cache
def _static() -> StaticFiles | None:
    folder = bundle_dir()
    return StaticFiles(directory=folder) if folder is not None else None


def _missing() -> HTTPException:
    detail = "the board's files are missing: build them with `npm run build` in examples/canvas"
    return HTTPException(503, detail=detail)


def _board_page() -> FileResponse:
    folder = bundle_dir()
    if folder is None:
        raise _missing()
    return FileResponse(folder / "index.html", headers=_REVALIDATE)


@router.get("/")
async def home_page() -> FileResponse:
    return _board_page()


@router.get("/rooms/{room_id}")
async def board_page(room_id: str) -> FileResponse:
    return _board_page()


# A route rather than a Mount so that it goes through `include_router` on any FastAPI version;
# StaticFiles still keeps paths inside the folder and answers ETags and conditional requests.
@router.get("/static/{path:path}")
async def static_file(path: str, request: Request) -> Response:
    static = _static()
    if static is None:
        raise _missing()
    response = await static.get_response(path, request.scope)
    response.headers.update(_REVALIDATE)
    return response
