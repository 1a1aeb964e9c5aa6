"""Awareness is bounded: a state's size and numbers, the entries of one message, and the
client ids one connection may introduce; echoes of known ids cost nothing."""

from __future__ import annotations

import json

import pytest
from pycrdt import Encoder

from crdt.awareness import MAX_OWN_CLIENT_IDS, MAX_STATE_BYTES, Identity, RoomAwareness
from crdt.errors import ProtocolError

ALICE, BOB = Identity("a", "Alice"), Identity("b", "Bob")
CURSOR = '{"user":{"name":"x","color":"#e03131"},"cursor":{"x":1,"y":2}}'


def update(*entries: tuple[int, int, str]) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(len(entries))
    for client_id, clock, text in entries:
        encoder.write_var_uint(client_id)
        encoder.write_var_uint(clock)
        encoder.write_var_string(text)
    return encoder.to_bytes()


def relayed_json(awareness: RoomAwareness) -> list[object]:
    """Every state the room would send, parsed as strictly as JavaScript's JSON.parse."""
    everything, _ = awareness.take_pending()
    assert everything is not None
    from crdt.awareness import decode_update

    def strict(name: str) -> object:
        raise AssertionError(f"{name} relayed")

    return [json.loads(entry.text or "null", parse_constant=strict)
            for entry in decode_update(everything)]


@pytest.mark.parametrize("text", ["", "[]", '"x"', "1", "{", '{"x": NaN}', '{"x": -Infinity}',
                                  '{"cursor": "bad", "x": 1e400}', '{"x": ' + "9" * 5000 + "}",
                                  '{"x": ' + "9" * 400 + "}",
                                  '{"cursor": {"x": ' + "9" * 320 + ', "y": 1}}',
                                  "[" * 5000 + "]" * 5000])
def test_a_state_that_is_not_a_finite_json_object_is_malformed(text: str) -> None:
    with pytest.raises(ProtocolError):
        RoomAwareness().apply(update((1, 0, text)), owner="c", identity=ALICE, now=0)


def test_a_state_over_the_size_limit_is_refused_and_one_within_keeps_its_fields() -> None:
    awareness = RoomAwareness()
    big = json.dumps({"cursor": None, "note": "x" * (MAX_STATE_BYTES - 40)})
    assert len(big) <= MAX_STATE_BYTES
    awareness.apply(update((1, 0, big)), owner="c", identity=ALICE, now=0)
    (state,) = relayed_json(awareness)
    assert isinstance(state, dict) and state["note"] == "x" * (MAX_STATE_BYTES - 40)
    too_big = json.dumps({"note": "x" * MAX_STATE_BYTES})
    with pytest.raises(ProtocolError, match="at most"):
        awareness.apply(update((2, 0, too_big)), owner="c", identity=ALICE, now=0)


def test_what_the_room_relays_is_always_strict_json() -> None:
    awareness = RoomAwareness()
    awareness.apply(update((1, 0, '{"cursor": "bad", "x": 1e300}')), owner="c", identity=ALICE,
                    now=0)
    (state,) = relayed_json(awareness)
    assert state == {"cursor": None, "x": 1e300, "user": {"name": "Alice", "color": state["user"]["color"]}}  # type: ignore[index]  # noqa: E501


def test_a_connection_may_introduce_only_a_few_client_ids() -> None:
    awareness = RoomAwareness()
    ids = [(100 + i, 0, CURSOR) for i in range(MAX_OWN_CLIENT_IDS)]
    awareness.apply(update(*ids), owner="c", identity=ALICE, now=0)
    # Going away and coming back is the same id, not a new one.
    awareness.apply(update((100, 1, "null")), owner="c", identity=ALICE, now=0)
    awareness.apply(update((100, 2, CURSOR)), owner="c", identity=ALICE, now=0)
    with pytest.raises(ProtocolError, match="at most"):
        awareness.apply(update((999, 0, CURSOR)), owner="c", identity=ALICE, now=0)


def test_echoes_of_ids_the_room_knows_are_ignored_and_do_not_count() -> None:
    awareness = RoomAwareness()
    others = [(200 + i, 3, CURSOR) for i in range(20)]
    for client_id, clock, text in others:
        awareness.apply(update((client_id, clock, text)), owner=f"owner{client_id}",
                        identity=BOB, now=0)
    awareness.take_pending()
    # A stock provider re-sends everything it heard, with its own state.
    echo = [(cid, clock + 5, '{"cursor":{"x":9,"y":9}}') for cid, clock, _ in others]
    awareness.apply(update((1, 0, CURSOR), *echo), owner="stock", identity=ALICE, now=0)
    pending, _ = awareness.take_pending()
    assert pending is not None
    from crdt.awareness import decode_update

    assert [entry.client_id for entry in decode_update(pending)] == [1]


def test_a_message_with_more_entries_than_the_room_could_know_is_refused_before_decoding(
) -> None:
    awareness = RoomAwareness()
    many = update(*[(i, 0, "{}") for i in range(MAX_OWN_CLIENT_IDS + 1)])
    with pytest.raises(ProtocolError, match="entries"):
        awareness.apply(many, owner="c", identity=ALICE, now=0)
    # A count far beyond the bytes present costs the reading of its header only.
    encoder = Encoder()
    encoder.write_var_uint(600_000)
    with pytest.raises(ProtocolError, match="declares"):
        awareness.apply(encoder.to_bytes() + b"\x01\x00\x02{}", owner="c", identity=ALICE, now=0)


def test_a_late_echo_of_someone_who_left_is_ignored_but_the_owner_may_come_back() -> None:
    awareness = RoomAwareness()
    awareness.apply(update((7, 3, CURSOR)), owner="x", identity=BOB, now=0)
    awareness.remove_owner("x", now=1)
    awareness.take_pending()
    # Alice's provider re-sends Bob's last state after Bob left: not hers to introduce.
    for _ in range(MAX_OWN_CLIENT_IDS + 2):
        awareness.apply(update((7, 3, CURSOR)), owner="alice", identity=ALICE, now=2)
    assert awareness.take_pending() == (None, None)
    # Bob reconnects with the same Yjs client id: his state is his again.
    awareness.apply(update((7, 3, CURSOR)), owner="bob-again", identity=BOB, now=3)
    everything, _ = awareness.take_pending()
    assert everything is not None
