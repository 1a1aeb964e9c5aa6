"""The sleep policy of a room's document (crdt/document.py `may_sleep`), clause by clause."""

from __future__ import annotations

import pytest

from crdt.document import may_sleep

QUIET = {"quiet_for_s": 25.0, "sleep_after_s": 20.0, "asleep": False, "live": True, "busy": False}


def test_a_live_document_nobody_changed_for_long_enough_sleeps():
    assert may_sleep(**QUIET)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"quiet_for_s": 19.9}, "changed too recently"),
        ({"sleep_after_s": 0}, "sleeping is switched off"),
        ({"asleep": True}, "already asleep"),
        ({"live": False}, "loading or closing"),
        ({"busy": True}, "a change or a join is in flight"),
    ],
)
def test_a_document_stays_awake_when(change, why):
    assert not may_sleep(**{**QUIET, **change}), why
