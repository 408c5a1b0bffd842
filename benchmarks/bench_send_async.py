"""32 concurrent ``send_to_all`` from one async client: ours vs the official 1.3.0 aio client, same run.

Each implementation's worker process holds one ``azure.messaging.webpubsubservice.aio.WebPubSubServiceClient``
(``from_connection_string``, access key) and runs 32 tasks that each await ``send_to_all("hello")`` back to
back, against the loopback 202 server in its own process. Plain aiohttp (one ``ClientSession``, the same 32
tasks posting the same request with a fixed token) is the reference line. The sync client is measured in
the same run too, so a regression of it shows next to the async figures.

    python benchmarks/bench_send_async.py [--seconds 0.6] [--rounds 9] [--concurrency 32] [--quick] [--instructions]
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional

from _common import (
    JsonProcess,
    add_round_arguments,
    close_all,
    interleaved_rounds,
    print_header,
    quick_rounds,
    send_instructions,
    start_workers,
    summarize,
)

TARGET = 3.5
SYNC_LANE = "ours, sync client"


def run(seconds: float, rounds: int, concurrency: int = 32, with_official: bool = True,
        with_sync: bool = True) -> Dict[str, Any]:
    server = JsonProcess("_http202_server.py")
    workers: Dict[str, JsonProcess] = {}
    try:
        workers = start_workers(with_official)
        port = server.greeting["port"]
        lanes: Dict[str, Any] = {}
        for name, worker in workers.items():
            if not worker.greeting["aio"]:
                print(f"{name}: azure.messaging.webpubsubservice.aio has no client yet; skipped", flush=True)
                continue
            lanes[name] = (worker, {"op": "async_sdk", "port": port, "seconds": seconds,
                                    "concurrency": concurrency})
        lanes["plain aiohttp"] = (workers["ours"], {"op": "async_aiohttp", "port": port, "seconds": seconds,
                                                    "concurrency": concurrency})
        if with_sync:
            # The sync client in the same run: the async work must not slow it down.
            lanes[SYNC_LANE] = (workers["ours"], {"op": "sync_sdk", "port": port, "seconds": seconds})
        measured = interleaved_rounds(lanes, rounds)
    finally:
        close_all(workers)
        server.close()
    return summarize(f"async send_to_all x{concurrency}", measured, TARGET, unit="req/s", no_ratio=[SYNC_LANE])


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_arguments(parser, seconds=0.6, rounds=9)
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent calls (default 32)")
    parser.add_argument("--no-sync", action="store_true", help="leave out the sync client's line")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per call with callgrind (load-independent, ~3 minutes)")
    args = parser.parse_args(argv)
    quick_rounds(args)
    print_header(f"async send_to_all, {args.concurrency} concurrent calls on one client")
    result = run(args.seconds, args.rounds, args.concurrency, with_official=not args.no_official,
                 with_sync=not args.no_sync)
    if args.instructions:  # 32 concurrent calls, as in the timed rounds
        result["instructions"] = send_instructions("async_sdk", "async_raw", with_official=not args.no_official)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
