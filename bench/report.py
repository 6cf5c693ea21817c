"""Turns the JSON lines bench/run.sh collected into the Markdown report.

Usage: report.py RESULTS.jsonl > report.md
"""
import json
import sys

__all__ = ["render"]

OURS, LITELLM, PASSTHROUGH, DIRECT = "gateway", "litellm", "passthrough", "direct"
MODES = ("non-stream", "stream")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt(value, digits=0, suffix=""):
    return "n/a" if value is None else f"{value:,.{digits}f}{suffix}"


def ratio(ours, theirs):
    return "n/a" if not ours or not theirs else f"{ours / theirs:.2f}×" if ours < 10 * theirs else f"{ours / theirs:.0f}×"


def errors(cell):
    parts = [f"{cell['non2xx']} non-2xx"] if cell["non2xx"] else []
    parts += [f"{cell['socket_errors']} socket"] if cell["socket_errors"] else []
    return ", ".join(parts) or "0"


def signed(value):
    return "n/a" if value is None else f"{value:+.2f}"


class Results:
    def __init__(self, rows):
        self.meta = next((r for r in rows if r["kind"] == "meta"), {})
        self.targets = [r for r in rows if r["kind"] in ("target", "failed")]
        self.cells = {(r["target"], r["mode"], r["conns"]): r for r in rows if r["kind"] == "cell"}
        self.growth = next((r for r in rows if r["kind"] == "growth"), None)

    def value(self, target, mode, conns, key):
        cell = self.cells.get((target, mode, conns))
        return cell[key] if cell else None

    def added_p50(self, target, mode):
        ours, floor = self.value(target, mode, 1, "p50_ms"), self.value(DIRECT, mode, 1, "p50_ms")
        return None if ours is None or floor is None else ours - floor

    def of(self, target):
        return [c for c in self.cells.values() if c["target"] == target]

    def cpu_per_request(self, target):
        """Mean CPU ms per request over all the target's cells, weighted by their requests."""
        cells = [c for c in self.of(target) if c["cpu_ms_per_req"] is not None]
        requests = sum(c["requests"] for c in cells)
        return sum(c["cpu_ms_per_req"] * c["requests"] for c in cells) / requests if requests else None

    def capacity(self, target, mode):
        """Requests per second of CPU at 16 connections: what one core would serve if the server had it all."""
        cpu = self.value(target, mode, 16, "cpu_ms_per_req")
        return 1000 / cpu if cpu else None

    def rss_after(self, target):
        return max((c["rss_after_mib"] for c in self.of(target)), default=None)

    def startup(self, target):
        return next((t["startup_s"] for t in self.targets if t["target"] == target and "startup_s" in t), None)


def summary_row(res, target):
    name = target["target"]
    cells = res.of(name)
    if target["kind"] == "failed" or not cells:
        return f"| {target['label']} | not measured: {target.get('reason', 'no result')} ||||||||"
    cpu = [c["cpu_ms_per_req"] for c in cells if c["cpu_ms_per_req"] is not None]
    added = " / ".join(signed(res.added_p50(name, m)) for m in MODES) + " ms"
    return "| " + " | ".join([
        target["label"],
        fmt(res.value(name, "non-stream", 16, "rps")),
        fmt(res.value(name, "stream", 16, "rps")),
        " / ".join(fmt(res.capacity(name, m)) for m in MODES),
        added if name != DIRECT else "(the floor)",
        f"{res.cpu_per_request(name):.2f} ms ({min(cpu):.2f}-{max(cpu):.2f})" if cpu else "n/a",
        f"{target['rss_start_kib'] / 1024:.0f} → {res.rss_after(name):.0f} MiB",
        f"{target['startup_s']:.2f} s",
        str(sum(c["non2xx"] + c["socket_errors"] for c in cells)),
    ]) + " |"


def ratio_row(res, other, label):
    def at16(target, mode):
        return res.value(target, mode, 16, "rps")

    return "| " + " | ".join([
        f"*{label}*",
        ratio(at16(OURS, "non-stream"), at16(other, "non-stream")),
        ratio(at16(OURS, "stream"), at16(other, "stream")),
        " / ".join(ratio(res.capacity(OURS, m), res.capacity(other, m)) for m in MODES),
        " / ".join(ratio(res.added_p50(OURS, m), res.added_p50(other, m)) for m in MODES),
        ratio(res.cpu_per_request(OURS), res.cpu_per_request(other)),
        ratio(res.rss_after(OURS), res.rss_after(other)),
        ratio(res.startup(OURS), res.startup(other)),
        "",
    ]) + " |"


def summary(res):
    lines = [
        "| one server process | RPS non-stream, 16 conns | RPS stream, 16 conns | req per CPU-second, 16 conns "
        "(non-stream / stream) | p50 added at 1 conn (non-stream / stream) | CPU per request: mean (range over cells) "
        "| RSS start → after load | start-up | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [summary_row(res, t) for t in res.targets]
    lines.append(ratio_row(res, LITELLM, "gateway ÷ LiteLLM"))
    lines.append(ratio_row(res, PASSTHROUGH, "gateway ÷ pass-through"))
    return lines


def cell_rows(res):
    lines = [
        "| target | mode | conns | req/s | p50 ms | p99 ms | errors | CPU ms/req | RSS MiB before → after "
        "| others on core 0 | req/s ÷ LiteLLM | req/s ÷ pass-through |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (target, mode, conns), c in res.cells.items():
        ratios = ["", ""]
        if target == OURS:
            ratios = [ratio(c["rps"], res.value(other, mode, conns, "rps")) for other in (LITELLM, PASSTHROUGH)]
        lines.append("| " + " | ".join([
            target, mode, str(conns), fmt(c["rps"]), fmt(c["p50_ms"], 2), fmt(c["p99_ms"], 2), errors(c),
            fmt(c["cpu_ms_per_req"], 3), f"{c['rss_before_mib']:.0f} → {c['rss_after_mib']:.0f}",
            fmt(100 * c["others_on_core"], 0, " %") if c.get("others_on_core") is not None else "n/a", *ratios,
        ]) + " |")
    return lines


def scaling(res):
    """req/s of the several-worker runs (scaling-N targets) against one worker's, at each load."""
    one = [c for c in res.of("scaling-1")]
    if not one:
        return []
    parts = []
    for target in sorted({c["target"] for c in res.cells.values() if c["target"].startswith("scaling-")}):
        if target == "scaling-1":
            continue
        for c in one:
            other = res.value(target, c["mode"], c["conns"], "rps")
            if other:
                parts.append(f"{target.split('-')[1]} workers ÷ 1, {c['mode']} at {c['conns']} conns: "
                             f"{other / c['rps']:.2f}×")
    return ["Scaling on every core with shared state in Redis (the load generator shares the cores): "
            + "; ".join(parts) + "."] if parts else []


def growth(res):
    if not res.growth:
        return []
    rss = [kib / 1024 for kib in res.growth["rss_kib"]]
    steps = " → ".join(f"{r:.1f}" for r in rss)
    return [f"Gateway RSS over {res.growth['requests']:,} more requests after the cells above (read every "
            f"{res.growth['step']:,}, non-stream and stream alternating, 16 conns, {res.growth['errors']} errors): "
            f"{steps} MiB ({rss[-1] - rss[0]:+.1f} MiB)."]


def header(res):
    meta = res.meta
    others = [c["others_on_core"] for c in res.cells.values() if c.get("others_on_core") is not None]
    return [
        f"# Benchmark {meta.get('date', '')}",
        "",
        f"{meta.get('cpu', '')}, {meta.get('cores', '?')} cores, load average {meta.get('loadavg', '?')} at the "
        f"start. Each server: one process pinned to core 0; wrk (1 thread) pinned to core 1; fake upstream: nginx "
        f"(one worker; on core 0 as the direct target, on core 1 while it is the upstream); all of them at nice -20 "
        f"when run as root. "
        f"{meta.get('seconds', '?')} s per cell. Gateway commit {meta.get('commit', '?')}. Other processes "
        f"(and the hypervisor) took up to {100 * max(others, default=0):.0f} % of core 0 during a cell.",
        "",
    ]


def render(rows):
    res = Results(rows)
    notes = ["", "Ratios are ours ÷ theirs: above 1 is better for req/s, below 1 is better for latency, CPU, memory "
             "and start-up. Req per CPU-second is 1 ÷ CPU per request: the rate one core would reach if the server "
             "had it to itself, less disturbed than req/s by other work on the machine."]
    return "\n".join(header(res) + summary(res) + notes + [""] + scaling(res) + [""] + growth(res)
                     + ["", "## Every cell", ""] + cell_rows(res)) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(load(sys.argv[1])))
