"""Per websocket message: the candidate table of bench/README.md from one or more results JSONs.

    bench/.venv/bin/python bench/runner/per_message.py results/latest.json [more.json ...] [--label NAME]

For every run: paths + cursors delivered per server CPU-second, the ratio to y-websocket's
run of the same scenario in the same file, websocket messages through the server per
second (what the clients sent + what they received) and the server's CPU per message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(path: Path, label: str | None) -> list[str]:
    data = json.loads(path.read_text())
    # S4 (cold joins) has no load phase: not a per-message scenario.
    runs = [r for r in data["runs"] if r.get("ok") and "updates" in r and "connect" in r]
    peers: dict[str, float] = {}
    for r in runs:
        if r["peer"] == "yws":
            peers[r["scenario"]] = r["updates"]["delivered_per_server_cpu_s"]
    out = []
    for r in runs:
        clients = r["connect"]["connected"]
        traffic = r["traffic"]
        msgs = (traffic["msgs_in_per_client_s"] + traffic["msgs_out_per_client_s"]) * clients
        cpu = r["server"]["cpu_pct"] / 100
        delivered = r["updates"]["delivered_per_server_cpu_s"]
        ratio = delivered / peers[r["scenario"]] if r["scenario"] in peers else float("nan")
        name = label if (label and r["peer"] == "ours") else r["peer"]
        out.append(
            f"| {r['scenario']} | {name} | {delivered:,.0f} | {ratio:.2f}× | {msgs:,.0f} "
            f"| {r['server']['cpu_pct']:.0f} % | {cpu / msgs * 1e6:.1f} µs |"
        )
    return out


def main(argv: list[str]) -> None:
    label = None
    if "--label" in argv:
        i = argv.index("--label")
        label = argv[i + 1]
        del argv[i : i + 2]
    print("| scen. | server | paths + cursors / server CPU-s | ÷ y-websocket (same run) "
          "| ws msgs/s (in + out) | server CPU | CPU per message |")
    print("|---|---|---|---|---|---|---|")
    for name in argv:
        for row in rows(Path(name), label):
            print(row)


if __name__ == "__main__":
    main(sys.argv[1:])
