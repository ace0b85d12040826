"""`gpuchat serve` under cProfile: `run.py --gateway-cprofile OUT` starts the gateway with this.

The profile is written to OUT when the gateway stops (the benchmark sends SIGTERM, uvicorn
shuts down gracefully, `serve` returns). Read it with `python -m pstats OUT`, or
`pstats.Stats(OUT).sort_stats("tottime").print_stats(30)`.
The timer is the event-loop thread's CPU time (the database driver's threads are not
profiled). cProfile roughly doubles the cost of Python calls: read it for where time goes.
"""

from __future__ import annotations

import cProfile
import signal
import sys
import time
from typing import NoReturn

from gpuchat.commands.app import app


def _exit(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def main() -> None:
    out = sys.argv[1]
    # uvicorn restores this handler after its graceful shutdown and re-raises the signal:
    # exiting through SystemExit lets the `finally` below write the profile.
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    # CPU time of the event-loop thread, not wall time: waiting on the database or the
    # network is not cost, and wall time would charge it to whatever frame was suspended.
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    try:
        app(["serve"])
    except SystemExit:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
