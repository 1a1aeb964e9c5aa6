"""Aggregate runs (median over repeats), render the table, the JSON and the chart."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
from pathlib import Path

from servers import EXTRA_PEERS, PEERS, ROOT

NAMES = {**PEERS, **EXTRA_PEERS}
ORDER = ["yws", "hocuspocus", "hocuspocus100", "pycrdt", "ours"]
COLORS = {
    "yws": "#868e96",
    "hocuspocus": "#f08c00",
    "hocuspocus100": "#ffd43b",
    "pycrdt": "#9c36b5",
    "ours": "#1971c2",
}

LOAD_METRICS = {
    "upd_s": "paths.delivered_per_s",
    "deliv_pct": "paths.delivery_ratio",
    "upd_per_cpu": "paths.delivered_per_server_cpu_s",
    "path_p50": "paths.latency_ms.p50",
    "path_p95": "paths.latency_ms.p95",
    "path_p99": "paths.latency_ms.p99",
    "path_max": "paths.latency_ms.max",
    "cur_s": "cursors.delivered_per_s",
    "cur_sup_s": "cursors.superseded_per_s",
    "all_per_cpu": "updates.delivered_per_server_cpu_s",
    "credited_per_cpu": "updates.credited_per_server_cpu_s",
    "cur_p50": "cursors.latency_ms.p50",
    "cur_p95": "cursors.latency_ms.p95",
    "cur_p99": "cursors.latency_ms.p99",
    "cur_max": "cursors.latency_ms.max",
    "msgs_in": "traffic.msgs_in_per_client_s",
    "bytes_in": "traffic.bytes_in_per_client_s",
    "msgs_out": "traffic.msgs_out_per_client_s",
    "cpu_pct": "server.cpu_pct",
    "rss": "server.peak_rss_mb",
    "join_p50": "connect.join_ms.p50",
    "join_max": "connect.join_ms.max",
    "fail_connect": "failures.during_connect",
    "fail_load": "failures.during_load",
    "gen_cpu": "generator.cpu_pct",
    "gen_lag_p99": "generator.event_loop_delay_p99_ms",
    "settle_ms": "convergence.settle_ms",
    "bg0": "background.core0_other_pct",
    "bg1": "background.core1_other_pct",
}
S4_METRICS = {
    "first_join": "preload.first_join_ms",
    "one_p50": "cold_join.one_at_a_time_ms.p50",
    "ten_p50": "cold_join.ten_at_once_ms.p50",
    "ten_max": "cold_join.ten_at_once_ms.max",
    "failed": "cold_join.failed",
    "rss_preload": "server.rss_after_preload_mb",
    "rss": "server.peak_rss_mb",
    "kb_join": "cold_join.bytes_per_join",
    "cpu_s": "server.cpu_s",
    "cpu_one": "server.cpu_one_join_s",
    "cpu_ten": "server.cpu_ten_joins_s",
    "ten_cost_x": "server.ten_joins_cost_x",
    "doc_mb": "server.doc_mb",
    "room_rss": "server.room_rss_mb",
    "room_rss_x": "server.room_rss_per_doc_x",
    "bg0": "background.core0_other_pct",
    "bg1": "background.core1_other_pct",
}


def get(d, dotted):
    for k in dotted.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def median(values):
    vals = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(vals) if vals else None


def build(runs: list[dict], meta: dict) -> dict:
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r.get("scenario"), r.get("peer")), []).append(r)
    summary = []
    for (scenario, peer), rs in groups.items():
        metrics = S4_METRICS if scenario == "S4" else LOAD_METRICS
        row = {
            "scenario": scenario,
            "peer": peer,
            "name": NAMES.get(peer, peer),
            "runs": len(rs),
            "ok_runs": sum(1 for r in rs if r.get("ok")),
            "title": next((r.get("title") for r in rs if r.get("title")), scenario),
        }
        for key, path in metrics.items():
            row[key] = median(get(r, path) for r in rs if r.get("ok"))
            row[key + "_all"] = [get(r, path) for r in rs]
        if scenario != "S4":
            row["converged"] = sum(1 for r in rs if get(r, "convergence.converged"))
            row["fail_total"] = sum((get(r, "failures.during_connect") or 0) + (get(r, "failures.during_load") or 0) for r in rs)
        row["errors"] = sorted({r["error"] for r in rs if r.get("error")})
        row["server_log_problems"] = sorted({p for r in rs for p in r.get("server_log_problems", [])})[:5]
        summary.append(row)
    summary.sort(key=lambda x: (x["scenario"], ORDER.index(x["peer"]) if x["peer"] in ORDER else 99))
    return {"meta": meta, "summary": summary, "runs": runs}


def fmt(v, digits=0, pct=False):
    if v is None:
        return "–"
    if pct:
        v = v * 100
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def lat(row, prefix):
    vals = [row.get(f"{prefix}_{p}") for p in ("p50", "p95", "p99", "max")]
    if all(v is None for v in vals):
        return "–"
    return " / ".join(fmt(v) for v in vals)


def _ratios(load: list[dict]) -> list[str]:
    """Ours against the best peer of each scenario, on updates per server CPU-second."""
    lines = []
    for scenario in sorted({r["scenario"] for r in load}):
        rs = [r for r in load if r["scenario"] == scenario]
        ours = next((r for r in rs if r["name"] == "ours"), None)
        peers = [r for r in rs if r["name"] != "ours" and r.get("all_per_cpu")]
        if ours is None or not peers or not ours.get("all_per_cpu"):
            continue
        best = max(peers, key=lambda r: r["all_per_cpu"])
        best_credited = max(peers, key=lambda r: r.get("credited_per_cpu") or 0)
        lines.append(
            f"- {scenario}: paths + cursors per server CPU-s, ours / best peer: "
            f"{ours['all_per_cpu'] / best['all_per_cpu']:.2f}× as delivered ({best['name']}), "
            f"{(ours.get('credited_per_cpu') or 0) / (best_credited.get('credited_per_cpu') or 1):.2f}× "
            f"crediting superseded cursor states ({best_credited['name']})"
        )
    return ["", *lines] if lines else []


def _per_message(runs: list[dict]) -> list[str]:
    """Server CPU per websocket message (what clients sent + what they received), median of
    each server's runs: the transport's share of the cost, visible in every run."""
    costs: dict[tuple[str, str], list[float]] = {}
    for r in runs:
        if not (r.get("ok") and "updates" in r and "connect" in r and "traffic" in r):
            continue  # S4 (cold joins) has no load phase
        clients = r["connect"]["connected"]
        msgs = (r["traffic"]["msgs_in_per_client_s"] + r["traffic"]["msgs_out_per_client_s"]) * clients
        if msgs:
            key = (r["scenario"], NAMES.get(r["peer"], r["peer"]))
            costs.setdefault(key, []).append(r["server"]["cpu_pct"] / 100 / msgs * 1e6)
    lines = []
    for scenario in sorted({s for s, _ in costs}):
        parts = [f"{name} {median(v):.1f} µs" for (s, name), v in costs.items() if s == scenario]
        lines.append(f"- {scenario}: server CPU per websocket message (in + out): " + ", ".join(parts))
    return ["", *lines] if lines else []


def markdown(doc: dict) -> str:
    meta = doc["meta"]
    rows = doc["summary"]
    out = []
    out.append(
        f"Run {meta['started']} ({meta['minutes']} min), {meta['duration_s']:.0f} s of load per run, "
        f"median of {meta['repeats']} run(s) each; server on core 0, generator on core 1; "
        f"permessage-deflate offered: {meta['deflate']}; {meta['machine']}; "
        + (
            f"ours at {meta['git']}."
            if len(meta.get("ours_versions") or []) <= 1
            else "ours from the work tree, which changed during the run (below)."
        )
    )
    if len(meta.get("ours_versions") or []) > 1:
        out.append("")
        out.append("Ours changed during the run (it runs from the work tree): " + "; ".join(meta["ours_versions"]))
    if meta.get("skipped"):
        out.append("")
        out.append("Skipped: " + "; ".join(f"{k} ({v})" for k, v in meta["skipped"].items()))
    load = [r for r in rows if r["scenario"] != "S4"]
    if load:
        out.append("")
        out.append(
            "| scen. | server | path upd/s delivered | delivered % | path upd / server CPU-s "
            "| paths + cursors / server CPU-s (credited) | path ms p50/p95/p99/max "
            "| cursor ms p50/p95/p99/max | cursors/s delivered (+ superseded) | msgs in /client/s | KB in /client/s "
            "| server CPU % | peak RSS MB | join ms p50 / max | conn. failures | converged | gen. CPU % "
            "| others' CPU % core 0/1 |"
        )
        out.append("|" + "---|" * 18)
        for r in load:
            out.append(
                f"| {r['scenario']} | {r['name']} | {fmt(r['upd_s'])} | {fmt(r['deliv_pct'], 1, pct=True)} "
                f"| {fmt(r['upd_per_cpu'])} | {fmt(r['all_per_cpu'])} ({fmt(r['credited_per_cpu'])}) "
                f"| {lat(r, 'path')} | {lat(r, 'cur')} | {fmt(r['cur_s'])} (+{fmt(r['cur_sup_s'])}) "
                f"| {fmt(r['msgs_in'], 1)} | {fmt(r['bytes_in'] / 1024 if r['bytes_in'] is not None else None, 1)} "
                f"| {fmt(r['cpu_pct'])} | {fmt(r['rss'])} | {fmt(r['join_p50'])} / {fmt(r['join_max'])} "
                f"| {r['fail_total']} | {r['converged']}/{r['runs']} "
                f"| {fmt(r['gen_cpu'])} | {fmt(r['bg0'])} / {fmt(r['bg1'])} |"
            )
    out.extend(_ratios(load))
    out.extend(_per_message(doc["runs"]))
    cold = [r for r in rows if r["scenario"] == "S4"]
    if cold:
        out.append("")
        out.append(f"S4 cold join ({meta['s4_paths']:,} paths preloaded; time from opening the socket to holding all of them):")
        out.append("")
        out.append(
            "| server | first join ms | one at a time ms (p50) | 10 at once ms p50 / max | failed joins "
            "| server CPU-s: one join / 10 at once (×) | doc MB | loaded room at rest MB (× doc) "
            "| RSS after preload MB | peak RSS MB | KB per join | server CPU-s for 13 joins | others' CPU % core 0/1 |"
        )
        out.append("|" + "---|" * 13)
        for r in cold:
            out.append(
                f"| {r['name']} | {fmt(r['first_join'])} | {fmt(r['one_p50'])} | {fmt(r['ten_p50'])} / {fmt(r['ten_max'])} "
                f"| {fmt(r['failed'])} | {fmt(r['cpu_one'], 3)} / {fmt(r['cpu_ten'], 3)} ({fmt(r['ten_cost_x'], 1)}×) "
                f"| {fmt(r['doc_mb'], 2)} | {fmt(r['room_rss'])} ({fmt(r['room_rss_x'], 1)}×) "
                f"| {fmt(r['rss_preload'])} | {fmt(r['rss'])} "
                f"| {fmt(r['kb_join'] / 1024 if r['kb_join'] is not None else None)} | {fmt(r['cpu_s'], 2)} "
                f"| {fmt(r['bg0'])} / {fmt(r['bg1'])} |"
            )
    problems = [r for r in rows if r["errors"] or r["server_log_problems"] or r["ok_runs"] < r["runs"]]
    if problems:
        out.append("")
        out.append("Problems seen:")
        for r in problems:
            bits = []
            if r["ok_runs"] < r["runs"]:
                bits.append(f"{r['runs'] - r['ok_runs']} of {r['runs']} runs failed")
            bits += [f"error: {e}" for e in r["errors"][:3]]
            bits += [f"server log: `{p}`" for p in r["server_log_problems"][:2]]
            out.append(f"- {r['scenario']} {r['name']}: " + "; ".join(bits))
    return "\n".join(out) + "\n"


def one_line(r: dict) -> str:
    if not r.get("ok"):
        return f"FAILED: {r.get('error')}"
    if r.get("scenario") == "S4":
        return (
            f"first join {get(r, 'preload.first_join_ms')} ms, one-at-a-time p50 {get(r, 'cold_join.one_at_a_time_ms.p50')} ms, "
            f"10-at-once max {get(r, 'cold_join.ten_at_once_ms.max')} ms, failed {get(r, 'cold_join.failed')}, "
            f"peak RSS {get(r, 'server.peak_rss_mb')} MB"
        )
    return (
        f"paths {get(r, 'paths.delivered_per_s')}/s ({fmt(get(r, 'paths.delivery_ratio'), 1, pct=True)}%) "
        f"p99 {get(r, 'paths.latency_ms.p99')} ms; cursors p99 {get(r, 'cursors.latency_ms.p99')} ms; "
        f"server CPU {get(r, 'server.cpu_pct')}%; conn fail {get(r, 'failures.during_connect')}+{get(r, 'failures.during_load')}; "
        f"converged {get(r, 'convergence.converged')}; gen CPU {get(r, 'generator.cpu_pct')}% "
        f"(loop lag p99 {get(r, 'generator.event_loop_delay_p99_ms')} ms); others' CPU core0/1 "
        f"{get(r, 'background.core0_other_pct')}/{get(r, 'background.core1_other_pct')}%"
    )


def chart(doc: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = doc["summary"]
    scenarios = [s for s in doc["meta"]["scenarios"] if any(r["scenario"] == s for r in rows)]
    fig, axes = plt.subplots(len(scenarios), 4, figsize=(20, 3.4 * len(scenarios)), squeeze=False)
    pct_labels = ["p50", "p95", "p99"]
    for i, s in enumerate(scenarios):
        rs = [r for r in rows if r["scenario"] == s]
        axes[i][0].set_ylabel(f"{s}: " + rs[0]["title"].split(":", 1)[-1].strip(), fontsize=8)
        if s == "S4":
            groups = [
                ("one at a time p50", "one_p50"),
                ("10 at once p50", "ten_p50"),
                ("10 at once max", "ten_max"),
            ]
            _bars(axes[i][0], rs, groups, f"{s} cold join: time to hold all paths (ms, log)", log=True)
            _bars(
                axes[i][1],
                rs,
                [("RSS after preload", "rss_preload"), ("peak RSS", "rss"),
                 ("loaded room at rest", "room_rss")],
                f"{s} server memory (MB)",
            )
            _bars(
                axes[i][2],
                rs,
                [("server CPU-s, 13 joins", "cpu_s")],
                f"{s} server CPU seconds for the joins",
            )
            _bars(
                axes[i][3],
                rs,
                [("first join", "first_join")],
                f"{s} first join after the preload (ms)",
            )
            continue
        if any(r.get("path_p50") is not None for r in rs):
            _bars(
                axes[i][0],
                rs,
                [(p, f"path_{p}") for p in pct_labels],
                f"{s} path latency (ms, log)",
                log=True,
            )
        else:
            axes[i][0].text(0.5, 0.5, f"{s}: no writes", transform=axes[i][0].transAxes, ha="center")
            axes[i][0].set_xticks([])
            axes[i][0].set_yticks([])
        _bars(
            axes[i][1],
            rs,
            [(p, f"cur_{p}") for p in pct_labels],
            f"{s} cursor latency (ms, log)",
            log=True,
        )
        ax = axes[i][2]
        _bars(
            ax,
            rs,
            [("server CPU %", "cpu_pct")],
            f"{s} server CPU % (labels: path upd/s delivered, failures)",
        )
        width = 0.8 / max(1, len(rs))
        for j, r in enumerate(rs):
            label = f"{r['upd_s']:,.0f}/s" if r.get("upd_s") else ""
            if r.get("fail_total"):
                label += f"\n{r['fail_total']} conn. failed"
            if r.get("converged", 1) < r["runs"]:
                label += "\nnot converged"
            if label:
                ax.annotate(
                    label.strip(),
                    ((j - (len(rs) - 1) / 2) * width, r.get("cpu_pct") or 0),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
        _bars(
            axes[i][3],
            rs,
            [("msgs in / client / s", "msgs_in")],
            f"{s} messages received per client per second (log)",
            log=True,
        )
    handles, labels = axes[0][1].get_legend_handles_labels()
    for row in axes:
        for ax in row:
            if ax.get_legend():
                ax.get_legend().remove()
    fig.legend(handles, labels, loc="upper right", ncol=len(labels), fontsize=9)
    fig.suptitle(
        f"Whiteboard server vs Yjs servers — {doc['meta']['started']}, {doc['meta']['duration_s']:.0f} s per run, "
        f"median of {doc['meta']['repeats']} run(s); server on 1 core",
        x=0.3,
        ha="center",
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(png, dpi=80)
    plt.close(fig)


def _bars(ax, rs, groups, title, log=False):
    n = len(rs)
    width = 0.8 / max(1, n)
    for j, r in enumerate(rs):
        xs = [g + (j - (n - 1) / 2) * width for g in range(len(groups))]
        ys = [r.get(k) or 0 for _, k in groups]
        ax.bar(xs, ys, width, label=r["name"], color=COLORS.get(r["peer"], None))
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g for g, _ in groups], fontsize=8)
    ax.set_title(title, fontsize=9)
    if log and any((r.get(k) or 0) > 0 for r in rs for _, k in groups):
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)


def update_readme(readme: Path, md: str) -> None:
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if not readme.exists():
        return
    text = readme.read_text()
    if start not in text or end not in text:
        return
    pre, rest = text.split(start, 1)
    _, post = rest.split(end, 1)
    readme.write_text(pre + start + "\n" + md + end + post)


def machine() -> str:
    cpu = ""
    try:
        m = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = m.group(1).strip() if m else ""
    except OSError:
        pass
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores {cpu}, Linux {platform.release()}, Node {node}, Python {platform.python_version()}"


def git_head() -> str:
    """The last commit of the server (bench/ excluded), and whether the work tree differs from it."""
    try:

        def git(*a):
            return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True, timeout=10).stdout.strip()

        head = git("log", "-1", "--format=%h %s", "--", ".", ":!bench")[:70]
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench")
        return head + (" + uncommitted changes" if dirty else "")
    except Exception:
        return "?"


if __name__ == "__main__":
    # Re-render the table, chart and README block from a saved JSON:
    #   python bench/runner/report.py bench/results/latest.json
    import json
    import sys

    src = Path(sys.argv[1])
    doc = json.loads(src.read_text())
    doc = build(
        doc["runs"],
        meta={
            **doc["meta"],
            "ours_versions": sorted({r["ours_version"] for r in doc["runs"] if r.get("ours_version")}),
        },
    )
    src.write_text(json.dumps(doc, indent=1))
    md = markdown(doc)
    src.with_suffix(".md").write_text(md)
    chart(doc, src.with_suffix(".png"))
    if src.name == "latest.json":
        update_readme(src.parent.parent / "README.md", md)
    print(md)
