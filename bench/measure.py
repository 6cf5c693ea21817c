"""Small measuring helpers for bench/run.sh: free ports, readiness, CPU and RSS of a process tree, wrk output.

Usage (one line of output each):
  measure.py ports N                       N free loopback ports
  measure.py wait URL BODY KEY T0          seconds from T0 (epoch) until URL answers BODY with a 2xx
  measure.py snap PID CORE                 "<cpu ticks> <rss KiB>" of PID and its descendants, then
                                           "<busy ticks> <total ticks> <idle ticks>" of CORE (a number, or
                                           "all": the whole machine)
  measure.py tree PID                      PID and its descendants
  measure.py settle PID                    waits (60 s at most) until PID is idle; prints the seconds waited
  measure.py counts WRK_OUT                "<requests> <errors>" of a wrk output (errors: non-2xx + socket)
  measure.py json key=value...             one JSON object (values read as JSON where they parse)
  measure.py cell NAME MODE CONNS SNAP0 SNAP1 WRK_OUT [KEY=VALUE...]
                                           one JSON result line for a load cell (the pairs added to it)
  measure.py redis-clear URL PREFIX        deletes the keys under PREFIX; prints how many; fails if Redis is down
  measure.py paired FILE                   bench/compare.sh's summary of its JSON lines (one per build a round)
"""
import json
import os
import re
import socket
import statistics
import sys
import time
import urllib.request

__all__ = ["free_ports", "wait_ready", "snapshot", "settle", "parse_wrk", "cell_result", "clear_redis", "record", "paired"]

CLK_TCK = os.sysconf("SC_CLK_TCK")
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def free_ports(count):
    socks = [socket.socket() for _ in range(count)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def wait_ready(url, body, key, started, timeout=180.0):
    """Seconds from `started` until the first 2xx answer; None on timeout."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    while time.time() - started < timeout:
        request = urllib.request.Request(url, data=body.encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
                return time.time() - started
        except OSError:
            time.sleep(0.02)
    return None


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _tree(pid):
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(_children(current))
    return pids


def _ticks(pid, root):
    """utime+stime; for the root also cutime+cstime (children it has already reaped)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    used = int(fields[11]) + int(fields[12])
    return used + (int(fields[13]) + int(fields[14]) if root else 0)


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _core_ticks(core):
    """(busy, total, idle) ticks of one CPU core ("" for all of them) from /proc/stat: busy is user, nice,
    system and steal (the hypervisor's); interrupts are left out, since serving loopback traffic is charged
    there; idle is idle and iowait: what nobody used."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, line.split()[1:9])
                total = user + nice + system + idle + iowait + irq + softirq + steal
                return user + nice + system + steal, total, idle + iowait
    return 0, 0, 0


def snapshot(pid, core):
    """(cpu ticks, RSS KiB) summed over PID and its descendants, then (busy, total, idle) ticks of the core."""
    ticks = rss = 0
    for member in _tree(pid):
        try:
            ticks += _ticks(member, member == pid)
            rss += _rss_kib(member)
        except OSError:
            pass
    return (ticks, rss, *_core_ticks(core))


def settle(pid, limit=60.0, window=0.5):
    """Wait until PID's tree uses under 10% of a core over `window` (it may still be serving a backlog
    of requests whose clients have gone); the seconds waited."""
    started = time.time()
    while time.time() - started < limit:
        before = snapshot(pid, 0)[0]
        time.sleep(window)
        if (snapshot(pid, 0)[0] - before) / CLK_TCK < 0.1 * window:
            break
    return time.time() - started


def _ms(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(number) * UNITS[unit]


def parse_wrk(text):
    """Requests, duration, rate, p50/p99 (ms) and error counts from `wrk --latency` output."""
    found = {
        "requests": re.search(r"(\d+) requests in ([\d.]+)(\w+)", text),
        "p50": re.search(r"^\s+50%\s+(\S+)", text, re.M),
        "p99": re.search(r"^\s+99%\s+(\S+)", text, re.M),
        "non2xx": re.search(r"Non-2xx or 3xx responses: (\d+)", text),
        "socket": re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text),
    }
    requests = int(found["requests"].group(1)) if found["requests"] else 0
    latency = requests and found["p50"] and found["p99"]
    seconds = _ms(found["requests"].group(2) + found["requests"].group(3)) / 1e3 if requests else 0.0
    return {
        "requests": requests,
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": _ms(found["p50"].group(1)) if latency else None,
        "p99_ms": _ms(found["p99"].group(1)) if latency else None,
        "non2xx": int(found["non2xx"].group(1)) if found["non2xx"] else 0,
        "socket_errors": sum(map(int, found["socket"].groups())) if found["socket"] else 0,
    }


def cell_result(target, mode, conns, before, after, wrk_text):
    """One load cell; `before` and `after` are snapshots. Others' share: the core's busy time not spent by PID;
    idle share: the core's time nobody used."""
    result = {"kind": "cell", "target": target, "mode": mode, "conns": conns, **parse_wrk(wrk_text)}
    used, busy, total, idle = (after[i] - before[i] for i in (0, 2, 3, 4))
    result["cpu_ms_per_req"] = used * 1000 / CLK_TCK / result["requests"] if result["requests"] else None
    result["others_on_core"] = max(busy - used, 0) / total if total else None
    result["idle_share"] = idle / total if total else None
    result["rss_before_mib"], result["rss_after_mib"] = before[1] / 1024, after[1] / 1024
    return result


def clear_redis(url, prefix):
    """Deletes the keys under `prefix` (a run's leftovers: counters, the configuration version); how many."""
    import redis  # the gateway's dependency, in the .venv that runs this

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    return client.delete(*keys) if keys else 0


def record(pairs):
    """{key: value} from key=value strings; a value that is valid JSON (a number, a list) is read as such."""
    result = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            result[key] = json.loads(value)
        except ValueError:
            result[key] = value
    return result


def paired(lines):
    """Each round loaded both builds one after the other: the ratio new/old within a round cancels most of
    what the machine did meanwhile; the median of the rounds' ratios is the comparison."""
    rounds = {}
    for line in lines:
        cell = json.loads(line)
        rounds.setdefault(cell["round"], {})[cell["build"]] = cell
    pairs = [(r["old"], r["new"]) for r in rounds.values() if {"old", "new"} <= r.keys()]
    out = []
    for name, key in (("req/s", "rps"), ("CPU ms/request", "cpu_ms_per_req"), ("p50 ms", "p50_ms")):
        old = [o[key] for o, n in pairs if o[key] and n[key]]
        new = [n[key] for o, n in pairs if o[key] and n[key]]
        if not old:
            continue
        ratios = sorted(b / a for a, b in zip(old, new))
        out.append(f"{name:16} old {statistics.median(old):9.3f}  new {statistics.median(new):9.3f}  "
                   f"new/old median {statistics.median(ratios):.3f}  (rounds {min(ratios):.3f}..{max(ratios):.3f})")
    errors = sum(c["non2xx"] + c["socket_errors"] for pair in pairs for c in pair)
    out.append(f"{len(pairs)} rounds, {errors} errors")
    return "\n".join(out)


def main(command, *args):
    if command == "ports":
        print(*free_ports(int(args[0])))
    elif command == "wait":
        elapsed = wait_ready(args[0], args[1], args[2], float(args[3]))
        print(f"{elapsed:.3f}" if elapsed is not None else "timeout")
    elif command == "snap":
        print(*snapshot(int(args[0]), "" if args[1] == "all" else int(args[1])))
    elif command == "settle":
        print(f"{settle(int(args[0])):.1f}")
    elif command == "tree":
        print(*_tree(int(args[0])))
    elif command == "counts":
        with open(args[0]) as f:
            found = parse_wrk(f.read())
        print(found["requests"], found["non2xx"] + found["socket_errors"])
    elif command == "json":
        print(json.dumps(record(args)))
    elif command == "cell":
        before, after = (tuple(map(int, snap.split())) for snap in args[3:5])
        with open(args[5]) as f:
            result = cell_result(args[0], args[1], int(args[2]), before, after, f.read())
        print(json.dumps({**result, **record(args[6:])}))
    elif command == "redis-clear":
        try:
            print(clear_redis(args[0], args[1]))
        except Exception as exc:  # any Redis or URL error: the caller reports it
            sys.exit(f"Redis at {args[0]}: {exc}")
    elif command == "paired":
        with open(args[0]) as f:
            print(paired(f))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(*sys.argv[1:])
