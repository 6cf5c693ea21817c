"""Python calls per request: the gateway served by uvicorn under cProfile, for bench/calls.sh.

Serve:  calls.py serve OUT PORT      (counting from SIGUSR1, stats dumped to OUT on SIGTERM)
Report: calls.py report OUT [TOP]    (calls per request in all, and the functions with the most own time)
Callers: calls.py callers OUT NAME   (who calls the functions named NAME, and how often a request)

Calls per request are exact and repeatable where timings on a shared host are not; cProfile's times
inflate call-heavy Python several times over, so read them as a ranking, and weigh a part by switching it
off (bench/compare.sh with a directory).
"""
import cProfile
import os
import pstats
import signal
import sys


def serve(out: str, port: str):
    """Serve; start counting on SIGUSR1 (after the warm-up, so start-up is left out); dump on SIGTERM."""
    import uvicorn.main

    profile = cProfile.Profile()

    def dump(*_):
        profile.disable()
        profile.dump_stats(out)
        os._exit(0)

    # Handlers run in the main thread, the event loop's: enable() there profiles the loop's thread.
    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    signal.signal(signal.SIGTERM, dump)  # uvicorn hands SIGTERM back to the handler it found
    sys.argv = ["uvicorn", "gateway.asgi:application", "--host", "127.0.0.1", "--port", port, "--loop", "uvloop",
                "--http", "httptools", "--no-proxy-headers", "--no-access-log", "--log-level", "warning"]
    uvicorn.main.main()


def report(out: str, top: str = "40"):
    stats = pstats.Stats(out).stats
    # One request log entry per request: its builder's call count is the number of requests served.
    requests = next(row[1] for (_, _, name), row in stats.items() if name == "entry_from_call")
    rows = [(own, calls, f"{path.split('site-packages/')[-1].replace(os.getcwd() + '/', '')}:{line}({name})")
            for (path, line, name), (_, calls, own, _, _) in stats.items()
            if not (name == "run" and path.endswith("runners.py"))]  # the loop's own wait
    print(f"{requests} requests; {sum(r[1] for r in rows) / requests:.0f} Python calls per request")
    print("own µs/request (cProfile's clock)   calls/request   function")
    for own, calls, name in sorted(rows, reverse=True)[:int(top)]:
        print(f"{own / requests * 1e6:10.2f} {calls / requests:12.2f}   {name}")


def callers(out: str, name: str):
    stats = pstats.Stats(out).stats
    requests = next(row[1] for (_, _, func), row in stats.items() if func == "entry_from_call")
    for (path, line, func), (_, _, _, _, called_by) in stats.items():
        if func != name:
            continue
        print(f"{path}:{line}({func})")
        for (cpath, cline, cfunc), (_, calls, own, _) in sorted(called_by.items(), key=lambda i: -i[1][1]):
            print(f"{calls / requests:10.2f} calls {own / requests * 1e6:8.2f} µs   {cpath}:{cline}({cfunc})")


if __name__ == "__main__":
    {"serve": serve, "report": report, "callers": callers}[sys.argv[1]](*sys.argv[2:])
