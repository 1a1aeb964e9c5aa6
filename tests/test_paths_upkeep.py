"""The server's upkeep of the registers it was told changed, on real pycrdt documents."""

from __future__ import annotations

import pytest
from pycrdt import Array, Doc, Map

from crdt.paths import (
    DEFAULT_MAX_PATH_DATA,
    FUTURE_SLACK_MS,
    changed_keys,
    paths_map,
    read_paths,
    upkeep,
    write_path,
)
from crdt.svg import export_svg
from tests.support.client import BoardClient
from tests.support.servers import create_room, join_room

NOW = 1_764_100_000_000.0


def stroke(ts: float, *, d: str = "M 0 0 L 10 10", color: str = "#1e1e1e", width: float = 2.0):
    return {"d": d, "color": color, "width": width, "ts": ts}


def tombstone(ts: float):
    return {"deleted": True, "ts": ts}


def run_upkeep(doc: Doc, keys, *, now_ms: float = NOW) -> bool:
    with doc.transaction(origin="upkeep"):
        return upkeep(doc, keys, now_ms=now_ms)


def registers(doc: Doc) -> dict:
    return paths_map(doc).to_py()


def test_invalid_versions_are_deleted_and_the_valid_winner_kept():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["p"] = Array(
            [
                {"d": "hello", "color": "#000000", "width": 1.0, "ts": NOW},
                stroke(NOW - 5),
                {"x": 1.0},
            ]
        )
    assert run_upkeep(doc, {"p"})
    assert registers(doc) == {"p": [stroke(NOW - 5)]}


def test_items_that_are_not_plain_objects_are_deleted():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["p"] = register = Array([1.0, "M 1 1", None, [1.0], stroke(NOW - 5)])
        register.append(Map({"deleted": True, "ts": NOW}))
    assert run_upkeep(doc, {"p"})
    assert registers(doc) == {"p": [stroke(NOW - 5)]}


def test_bigint_numbers_are_invalid_because_javascript_reads_them_as_bigint():
    doc = Doc()
    with doc.transaction():
        # pycrdt writes a Python int past 2**53 as a Yjs BigInt.
        paths_map(doc)["p"] = Array([tombstone(2**53 + 1), stroke(NOW - 5)])
    assert run_upkeep(doc, {"p"}, now_ms=2.0**54)
    assert registers(doc) == {"p": [stroke(NOW - 5)]}


def test_a_value_that_is_not_an_array_is_removed():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["text"] = "M 1 1"
        paths_map(doc)["map"] = Map({"deleted": True, "ts": NOW})
    assert run_upkeep(doc, {"text", "map"})
    assert registers(doc) == {}


def test_a_register_under_an_invalid_key_is_removed():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["not a key!"] = Array([stroke(NOW)])
    assert run_upkeep(doc, {"not a key!"})
    assert registers(doc) == {}


def test_an_empty_register_is_removed():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["p"] = Array()
    assert run_upkeep(doc, {"p"})
    assert registers(doc) == {}


def test_a_register_left_without_valid_versions_is_removed():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["p"] = Array([{"deleted": False, "ts": NOW}, 5.0])
    assert run_upkeep(doc, {"p"})
    assert registers(doc) == {}


def test_a_version_too_far_ahead_is_redated_to_now_plus_60_seconds():
    doc = Doc()
    write_path(doc, "p", {"d": "M 1 1", "color": "#ff0000", "width": 4}, ts=NOW + 3_600_000)
    assert run_upkeep(doc, {"p"})
    assert registers(doc) == {
        "p": [stroke(NOW + FUTURE_SLACK_MS, d="M 1 1", color="#ff0000", width=4.0)]
    }


def test_a_version_exactly_60_seconds_ahead_is_left_alone():
    doc = Doc()
    write_path(doc, "p", {"deleted": True}, ts=NOW + FUTURE_SLACK_MS)
    assert not run_upkeep(doc, {"p"})
    assert registers(doc) == {"p": [tombstone(NOW + FUTURE_SLACK_MS)]}


def test_redated_versions_then_compete_by_their_canonical_text():
    doc = Doc()
    with doc.transaction():
        # Far ahead, the stroke beats the tombstone; at the same re-dated ts the
        # tombstone's text wins.
        paths_map(doc)["p"] = Array([tombstone(NOW + 100_000), stroke(NOW + 200_000)])
    assert run_upkeep(doc, {"p"})
    assert registers(doc) == {"p": [tombstone(NOW + FUTURE_SLACK_MS)]}


def test_a_redated_winner_equal_to_a_stored_version_keeps_the_stored_one():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["p"] = Array([tombstone(NOW + FUTURE_SLACK_MS), tombstone(NOW + 90_000)])
    updates = []
    doc.observe(lambda event: updates.append(event.update))
    assert run_upkeep(doc, {"p"})
    assert registers(doc) == {"p": [tombstone(NOW + FUTURE_SLACK_MS)]}
    remote = Doc()
    remote.apply_update(updates[0])
    assert registers(remote) == {}  # a pure deletion: nothing was pushed


def test_superseded_versions_are_deleted_leaving_exactly_the_winner():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["p"] = Array(
            [
                stroke(NOW - 3),
                tombstone(NOW - 1),
                stroke(NOW - 1),
                tombstone(NOW - 1),
                stroke(NOW - 2),
            ]
        )
    assert run_upkeep(doc, {"p"})
    assert registers(doc) == {"p": [tombstone(NOW - 1)]}


def test_upkeep_is_idempotent():
    doc = Doc()
    with doc.transaction():
        paths = paths_map(doc)
        paths["a"] = Array([stroke(NOW + 999_999), stroke(NOW), 7.0, {"d": ""}])
        paths["b"] = Array([tombstone(NOW - 1), stroke(NOW - 2)])
        paths["c"] = "garbage"
        paths["d"] = Array()
    keys = {"a", "b", "c", "d"}
    assert run_upkeep(doc, keys)
    state = doc.get_state()
    after_first = registers(doc)
    updates = []
    doc.observe(lambda event: updates.append(event.update))
    assert not run_upkeep(doc, keys)
    assert not run_upkeep(doc, keys, now_ms=NOW + 5_000)
    assert registers(doc) == after_first
    assert doc.get_state() == state
    assert updates == []


def test_a_clean_register_is_not_touched():
    doc = Doc()
    write_path(doc, "p", {"d": "M 1 1", "color": "#000000", "width": 1}, ts=NOW)
    state = doc.get_state()
    assert not run_upkeep(doc, {"p"})
    assert doc.get_state() == state


def test_only_the_given_keys_are_looked_at():
    doc = Doc()
    with doc.transaction():
        paths = paths_map(doc)
        paths["given"] = Array([stroke(NOW - 2), stroke(NOW - 1)])
        paths["other"] = Array([stroke(NOW - 2), stroke(NOW - 1), "garbage"])
        paths["junk"] = "garbage"
    assert run_upkeep(doc, ["given", "missing"])
    assert registers(doc) == {
        "given": [stroke(NOW - 1)],
        "other": [stroke(NOW - 2), stroke(NOW - 1), "garbage"],
        "junk": "garbage",
    }


def test_upkeep_changes_go_out_as_one_update_with_the_upkeep_origin():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["a"] = Array([stroke(NOW - 2), stroke(NOW - 1)])
        paths_map(doc)["b"] = "garbage"
    updates, origins = [], []
    doc.observe(lambda event: updates.append(event.update))
    # pycrdt drops a subscription once it is garbage collected: keep it.
    subscription = paths_map(doc).observe_deep(lambda events, txn: origins.append(txn.origin))
    assert run_upkeep(doc, {"a", "b"})
    del subscription
    assert len(updates) == 1
    assert origins == ["upkeep"]


def test_upkeep_opens_its_own_transaction_when_called_outside_one():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["a"] = Array([stroke(NOW - 2), stroke(NOW - 1)])
    updates = []
    doc.observe(lambda event: updates.append(event.update))
    assert upkeep(doc, {"a"}, now_ms=NOW)
    assert len(updates) == 1


# -- which keys a transaction touched ----------------------------------------------------


def touched_by(doc: Doc, change) -> list[set[str]]:
    """changed_keys of each transaction `change` makes, as an observe_deep callback sees them."""
    seen: list[set[str]] = []
    paths = paths_map(doc)
    # pycrdt drops a subscription once it is garbage collected: keep it until the end.
    subscription = paths.observe_deep(lambda events: seen.append(changed_keys(events)))
    change()
    paths.unobserve(subscription)
    return seen


def test_creating_a_register_touches_its_key():
    # pycrdt reports a MapEvent on the paths map, with no ArrayEvent for the new array.
    doc = Doc()
    seen = touched_by(doc, lambda: write_path(doc, "p1", {"deleted": True}, ts=1))
    assert seen == [{"p1"}]


def test_pushing_into_and_deleting_from_a_register_touches_its_key():
    doc = Doc()
    write_path(doc, "p1", {"deleted": True}, ts=1)
    write_path(doc, "p2", {"deleted": True}, ts=1)
    seen = touched_by(doc, lambda: write_path(doc, "p1", {"deleted": True}, ts=2))
    assert seen == [{"p1"}]

    def delete_only():
        del paths_map(doc)["p2"][0]

    assert touched_by(doc, delete_only) == [{"p2"}]


def test_setting_and_deleting_map_entries_touches_their_keys():
    doc = Doc()
    write_path(doc, "old", {"deleted": True}, ts=1)

    def change():
        with doc.transaction():
            paths = paths_map(doc)
            paths["scalar"] = 5
            del paths["old"]
            paths["new"] = Array([tombstone(1.0)])

    assert touched_by(doc, change) == [{"scalar", "old", "new"}]


def test_a_change_inside_a_nested_type_touches_its_register_key():
    doc = Doc()
    with doc.transaction():
        paths_map(doc)["p"] = register = Array([Map({"ts": 1.0})])

    def change():
        register[0]["ts"] = 2.0

    assert touched_by(doc, change) == [{"p"}]


def test_a_remote_update_touches_every_key_it_changes():
    writer = Doc()
    write_path(writer, "a", {"deleted": True}, ts=1)
    write_path(writer, "b", {"deleted": True}, ts=1)
    server = Doc()
    server.apply_update(writer.get_update())
    before = writer.get_state()
    write_path(writer, "b", {"deleted": True}, ts=2)
    write_path(writer, "c", {"deleted": True}, ts=2)
    update = writer.get_update(before)

    def apply():
        with server.transaction(origin="client"):
            server.apply_update(update)

    assert touched_by(server, apply) == [{"b", "c"}]


def test_a_server_cleans_what_a_client_update_touched():
    client, server = Doc(), Doc()
    touched: set[str] = set()
    subscription = paths_map(server).observe_deep(
        lambda events: touched.update(changed_keys(events))
    )
    with client.transaction():
        paths = paths_map(client)
        paths["ok"] = Array([stroke(NOW)])
        paths["bad key!"] = Array([stroke(NOW)])
        paths["future"] = Array([stroke(NOW + 3_600_000), {"d": "hello"}])
    with server.transaction(origin="client"):
        server.apply_update(client.get_update())
    assert touched == {"ok", "bad key!", "future"}
    assert run_upkeep(server, touched)
    assert registers(server) == {"ok": [stroke(NOW)], "future": [stroke(NOW + FUTURE_SLACK_MS)]}
    client.apply_update(server.get_update(client.get_state()))
    assert read_paths(client) == read_paths(server)
    del subscription


# -- MAX_PATH_DATA ---------------------------------------------------------------------------


def path_data_of_length(n: int) -> str:
    """Valid path data of exactly `n` characters (n >= 4): line segments, padded with spaces."""
    d = "M0 0" + " L1 1" * ((n - 4) // 5)
    return d + " " * (n - len(d))


def test_a_version_whose_d_is_longer_than_max_path_data_is_removed_like_any_invalid_one():
    doc = Doc()
    at_limit = stroke(NOW, d=path_data_of_length(1000))
    over = stroke(NOW, d=path_data_of_length(1001))
    older = stroke(NOW - 5)
    with doc.transaction():
        paths = paths_map(doc)
        paths["over"] = Array([over])
        paths["at-limit"] = Array([at_limit])
        # A stock client pushed an over-long version beside one it did not delete.
        paths["mixed"] = Array([older, stroke(NOW - 1, d=path_data_of_length(1001))])
    with doc.transaction(origin="upkeep"):
        assert upkeep(doc, {"over", "at-limit", "mixed"}, now_ms=NOW, max_path_data=1000)
    assert registers(doc) == {"at-limit": [at_limit], "mixed": [older]}
    with doc.transaction(origin="upkeep"):
        assert not upkeep(doc, {"at-limit", "mixed"}, now_ms=NOW, max_path_data=1000)


def test_upkeep_applies_the_default_limit_of_262144_characters():
    doc = Doc()
    at_limit = stroke(NOW, d=path_data_of_length(DEFAULT_MAX_PATH_DATA))
    with doc.transaction():
        over = stroke(NOW, d=path_data_of_length(DEFAULT_MAX_PATH_DATA + 1))
        paths_map(doc)["over"] = Array([over])
        paths_map(doc)["at-limit"] = Array([at_limit])
    assert run_upkeep(doc, {"over", "at-limit"})
    assert registers(doc) == {"at-limit": [at_limit]}


def test_an_over_long_d_is_never_read_nor_exported():
    doc = Doc()
    long_d = path_data_of_length(1001)
    with doc.transaction():
        paths_map(doc)["over"] = Array([stroke(NOW, d=long_d)])
        paths_map(doc)["beside"] = Array([stroke(NOW - 5, color="#00ff00"), stroke(NOW, d=long_d)])
        paths_map(doc)["ok"] = Array([stroke(NOW, color="#ff0000")])
    entries = read_paths(doc, max_path_data=1000)
    # The over-long winner is invalid: the register's valid version is its value.
    assert [(e.key, e.color) for e in entries] == [("beside", "#00ff00"), ("ok", "#ff0000")]
    svg = export_svg(entries)
    assert "L1 1" not in svg and svg.count("<path ") == 2
    # Under a higher limit the same version is valid and read.
    assert {e.key for e in read_paths(doc, max_path_data=1001)} == {"over", "beside", "ok"}


@pytest.mark.anyio
async def test_a_server_removes_a_d_over_its_max_path_data_and_peers_never_see_it(
    server_factory,
):
    # Needs the room to run upkeep with Settings.max_path_data (WHITEBOARD_MAX_PATH_DATA).
    server = server_factory(WHITEBOARD_MAX_PATH_DATA="1000")
    alice = create_room(server, "Alice")
    bob = join_room(server, alice.room_id, "Bob")
    value = {"color": "#1e1e1e", "width": 2.0}
    async with BoardClient(alice.ws_url, alice.token) as writer:
        await writer.synced.wait()
        await writer.draw("too-long", {**value, "d": path_data_of_length(1001)})
        await writer.draw("fits", {**value, "d": path_data_of_length(1000)})
        # The writer sees the server delete its over-long version.
        await writer.wait_for(lambda: "too-long" not in paths_map(writer.doc), timeout=10)
        async with BoardClient(bob.ws_url, bob.token) as reader:
            await reader.wait_for(lambda: "fits" in reader.board(), timeout=10)
            assert set(paths_map(reader.doc).keys()) == {"fits"}
            assert len(reader.board()["fits"].d) == 1000
