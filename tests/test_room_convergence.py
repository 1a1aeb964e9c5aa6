"""Convergence through a real Room with the server's upkeep on (in-process ports, no network).

Random concurrent writes and erasures with random timestamps (ties included) from
several replicas, delivered to the room in random orders and groupings: every replica
and the room end with the same winners, equal to the LWW answer computed from the
versions written.
"""

from __future__ import annotations

import time

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, YSyncMessageType, create_update_message, handle_sync_message, merge_updates

from crdt import paths
from crdt.awareness import Identity
from crdt.ports import RoomPorts
from crdt.room import Room
from crdt.room_config import RoomConfig
from tests.support.inprocess import MemoryStore, connection_pair
from tests.support.waiting import until

KEYS = ["a", "b", "c"]
COLORS = ["#000000", "#ff0000", "#00ff00"]
BASE_TS = 1_700_000_000_000.0

version = st.one_of(
    st.builds(lambda c, w: {"d": "M 0 0 L 1 1", "color": c, "width": w},
              st.sampled_from(COLORS), st.sampled_from([1, 2.5])),
    st.just({"deleted": True}),
)
operation = st.tuples(
    st.integers(0, 2),  # which replica
    st.sampled_from(KEYS),
    version,
    st.integers(0, 5),  # ts offset: small range so that ties happen
)
delivery = st.lists(st.tuples(st.integers(0, 2), st.booleans()), max_size=30)

def stored_doc(room: Room) -> Doc:
    """The room's document as it would be sent to a fresh joiner (public state only)."""
    doc: Doc = Doc()
    doc.apply_update(room.encoded_state())
    return doc



def expected_winners(written: dict[str, list[dict]]) -> dict[str, tuple]:
    out = {}
    for key, versions in written.items():
        best = paths.winner(versions)
        out[key] = (best["ts"], "deleted" in best, best.get("color"))
    return out


def winners_of(doc: Doc) -> dict[str, tuple]:
    return {e.key: (e.ts, e.deleted, e.color) for e in paths.read_paths(doc)}


async def run_scenario(operations, deliveries) -> None:
    store = MemoryStore()
    room = Room("room", RoomPorts(store=store), config=RoomConfig(batch_interval_s=0.005))
    replicas = [Doc(client_id=100 + i) for i in range(3)]
    outboxes: list[list[bytes]] = [[] for _ in replicas]
    applying_remote = [False] * 3
    written: dict[str, list[dict]] = {}

    def make_observer(i):
        def observe(event):
            if not applying_remote[i]:
                outboxes[i].append(event.update)
        return observe

    subscriptions = [doc.observe(make_observer(i)) for i, doc in enumerate(replicas)]
    streams: list = []
    try:
        await _drive(room, replicas, outboxes, applying_remote, written, deliveries, operations,
                     streams)
    finally:
        for stream in streams:
            stream.release() if hasattr(stream, "release") else stream.close()
    del subscriptions


async def _drive(room, replicas, outboxes, applying_remote, written, deliveries, operations,
                 streams) -> None:
    async with anyio.create_task_group() as tg:
        await tg.start(room.run)
        senders = []
        for i, doc in enumerate(replicas):
            transport, send, receive = connection_pair()
            streams += [send, receive, transport]
            tg.start_soon(room.serve, transport, Identity(f"user{i}", f"User {i}"))

            async def pump(i=i, receive=receive, doc=doc):
                async for message in receive:
                    if message[0] == 0 and message[1] != YSyncMessageType.SYNC_STEP1:
                        applying_remote[i] = True
                        try:
                            handle_sync_message(message[1:], doc)
                        finally:
                            applying_remote[i] = False

            tg.start_soon(pump)
            senders.append(send)

        async def deliver(i: int, merged: bool) -> None:
            pending, outboxes[i][:] = list(outboxes[i]), []
            if not pending:
                return
            if merged:
                pending = [merge_updates(*pending)]
            for update in pending:
                await senders[i].send(create_update_message(update))

        # Every register exists everywhere before the concurrent phase: concurrent
        # *creation* of one key is a Y.Map conflict, outside the register's guarantee.
        for key in KEYS:
            initial = {"d": "M 5 5 L 6 6", "color": "#123456", "width": 1}
            paths.write_path(replicas[0], key, initial, ts=BASE_TS)
            written[key] = [{**initial, "ts": BASE_TS}]
        await deliver(0, True)
        await until(lambda: all(winners_of(r) == winners_of(replicas[0]) for r in replicas),
                    interval=0.005, what="the replicas agree on the first versions")

        steps = iter(deliveries)
        for replica, key, value, offset in operations:
            ts = BASE_TS + offset
            paths.write_path(replicas[replica], key, value, ts=ts)
            written[key].append({**value, "ts": ts})
            step = next(steps, None)
            if step is not None:
                await deliver(*step)
        for i in range(3):
            await deliver(i, False)

        expected = expected_winners(written)
        await until(lambda: all(winners_of(r) == expected for r in [*replicas, stored_doc(room)]),
                    interval=0.01, what="every replica and the room hold the winners")
        # The room kept every register clean: exactly one version left in each.
        assert all(len(reg) == 1 for reg in paths.paths_map(stored_doc(room)).values())
        tg.cancel_scope.cancel()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=25), delivery)
def test_replicas_converge_through_a_room_with_upkeep_on(operations, deliveries):
    started = time.monotonic()
    anyio.run(run_scenario, operations, deliveries)
    assert time.monotonic() - started < 30
