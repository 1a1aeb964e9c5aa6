"""docs/protocol.md §1: creating and joining rooms, tokens, and the 401/403/404 order."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest

from tests.support.servers import FAST_ENV, create_room, join_room

SECRET = FAST_ENV["WHITEBOARD_JWT_SECRET"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_creating_a_room_answers_201_with_links_a_token_and_the_user(server):
    response = httpx.post(f"{server.base_url}/api/rooms", json={"name": "  Alice  "})
    assert response.status_code == 201
    body = response.json()
    assert uuid.UUID(body["room_id"]).version == 4
    assert body["invite_url"] == f"{server.base_url}/rooms/{body['room_id']}"
    assert body["ws_url"] == f"{server.ws_base}/{body['room_id']}"
    assert body["user"]["name"] == "Alice"
    assert body["imported_paths"] == 0
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == body["user"]["id"]
    assert claims["name"] == "Alice"
    assert claims["room"] == body["room_id"]
    assert claims["exp"] - claims["iat"] == 86400


def test_a_room_can_be_created_from_a_multipart_form(server):
    # A text field of a multipart form (httpx: a file part without a file name).
    response = httpx.post(f"{server.base_url}/api/rooms", files={"name": (None, "Form User")})
    assert response.status_code == 201
    assert response.json()["user"]["name"] == "Form User"


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 65, "bad\x00name", "tab\tname", "new\nline", "\x7f"],
)
def test_a_bad_name_is_refused_with_422(server, name):
    response = httpx.post(f"{server.base_url}/api/rooms", json={"name": name})
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_a_name_of_64_characters_after_trimming_is_accepted(server):
    response = httpx.post(f"{server.base_url}/api/rooms", json={"name": " " + "é" * 64 + " "})
    assert response.status_code == 201


def test_a_missing_name_or_non_json_body_is_422(server):
    assert httpx.post(f"{server.base_url}/api/rooms", json={}).status_code == 422
    assert (
        httpx.post(
            f"{server.base_url}/api/rooms",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ).status_code
        == 422
    )


def test_joining_gives_a_new_user_a_token_for_the_room(server):
    room = create_room(server)
    joined = join_room(server, room.room_id, "Bob")
    assert joined.user["name"] == "Bob"
    assert joined.user["id"] != room.user["id"]
    assert jwt.decode(joined.token, SECRET, algorithms=["HS256"])["room"] == room.room_id
    assert joined.ws_url == room.ws_url


def test_unknown_and_malformed_room_ids_answer_the_same_404(server):
    unknown = httpx.post(f"{server.base_url}/api/rooms/{uuid.uuid4()}/join", json={"name": "B"})
    malformed = httpx.post(f"{server.base_url}/api/rooms/not-a-room/join", json={"name": "B"})
    assert unknown.status_code == malformed.status_code == 404
    assert unknown.content == malformed.content


def test_a_join_with_a_bad_name_is_422(server):
    room = create_room(server)
    response = httpx.post(f"{server.base_url}/api/rooms/{room.room_id}/join", json={"name": ""})
    assert response.status_code == 422


def test_reading_a_room_needs_its_token(server):
    room = create_room(server)
    url = f"{server.base_url}/api/rooms/{room.room_id}"
    ok = httpx.get(url, headers=bearer(room.token))
    assert ok.status_code == 200
    body = ok.json()
    assert body["room_id"] == room.room_id
    assert body["active_users"] == 0
    assert {"created_at", "last_activity_at"} <= set(body)
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=bearer("garbage")).status_code == 401


def test_auth_checks_run_401_then_403_then_404(server):
    room = create_room(server)
    other = create_room(server)
    missing = str(uuid.uuid4())
    # A bad token is 401 even for a room that does not exist.
    assert (
        httpx.get(f"{server.base_url}/api/rooms/{missing}", headers=bearer("x")).status_code == 401
    )
    # A good token for another room is 403, whether or not the asked room exists.
    assert (
        httpx.get(
            f"{server.base_url}/api/rooms/{other.room_id}", headers=bearer(room.token)
        ).status_code
        == 403
    )
    assert (
        httpx.get(f"{server.base_url}/api/rooms/{missing}", headers=bearer(room.token)).status_code
        == 403
    )
    # A valid token naming a room that does not exist is 404.
    token = jwt.encode(
        {
            "sub": "u",
            "name": "n",
            "room": missing,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        SECRET,
        algorithm="HS256",
    )
    answer = httpx.get(f"{server.base_url}/api/rooms/{missing}", headers=bearer(token))
    assert answer.status_code == 404
    malformed = httpx.post(f"{server.base_url}/api/rooms/not-a-room/join", json={"name": "B"})
    assert answer.content == malformed.content


def _claims(room_id: str, **overrides):
    now = int(time.time())
    return {
        "sub": "u1",
        "name": "Mallory",
        "room": room_id,
        "iat": now,
        "exp": now + 60,
        **overrides,
    }


def test_expired_tokens_and_other_algorithms_are_refused(server):
    room = create_room(server)
    url = f"{server.base_url}/api/rooms/{room.room_id}"
    expired = jwt.encode(_claims(room.room_id, exp=int(time.time()) - 10), SECRET, "HS256")
    assert httpx.get(url, headers=bearer(expired)).status_code == 401
    hs512 = jwt.encode(_claims(room.room_id), SECRET, "HS512")
    assert httpx.get(url, headers=bearer(hs512)).status_code == 401
    unsigned = jwt.encode(_claims(room.room_id), None, algorithm="none")
    assert httpx.get(url, headers=bearer(unsigned)).status_code == 401
    wrong_key = jwt.encode(_claims(room.room_id), "another-secret-" + "y" * 64, "HS256")
    assert httpx.get(url, headers=bearer(wrong_key)).status_code == 401
    no_name = jwt.encode(
        {k: v for k, v in _claims(room.room_id).items() if k != "name"}, SECRET, "HS256"
    )
    assert httpx.get(url, headers=bearer(no_name)).status_code == 401


def test_rooms_cannot_be_listed(server):
    assert httpx.get(f"{server.base_url}/api/rooms").status_code in (404, 405)


def test_health_and_readiness_answer(server):
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200
    ready = httpx.get(f"{server.base_url}/readyz")
    assert ready.status_code == 200


def test_metrics_are_in_prometheus_text_format(server):
    response = httpx.get(f"{server.base_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "whiteboard_rooms_live" in response.text
    assert "# TYPE whiteboard_messages_received_total counter" in response.text
