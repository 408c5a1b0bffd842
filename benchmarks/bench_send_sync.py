"""Sync ``send_to_all`` through the full pipeline: our client vs the official 1.3.0, same run, same server.

Both clients are built with ``WebPubSubServiceClient.from_connection_string(cs, hub="bench")`` (access key:
every request signed with a fresh JWT) and call ``send_to_all("hello")`` back to back against a loopback
server (its own process) that answers 202 at once. A raw urllib3 keep-alive loop against the same server
is the reference line: what the library under our transport and the server allow with no SDK at all.

    python benchmarks/bench_send_sync.py [--seconds 0.6] [--rounds 9] [--quick] [--no-official] [--instructions]
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

TARGET = 3.0


def run(seconds: float, rounds: int, with_official: bool = True) -> Dict[str, Any]:
    server = JsonProcess("_http202_server.py")
    workers: Dict[str, JsonProcess] = {}
    try:
        workers = start_workers(with_official)
        port = server.greeting["port"]
        lanes = {name: (worker, {"op": "sync_sdk", "port": port, "seconds": seconds})
                 for name, worker in workers.items()}
        lanes["raw urllib3"] = (workers["ours"], {"op": "sync_raw", "port": port, "seconds": seconds})
        measured = interleaved_rounds(lanes, rounds)
    finally:
        close_all(workers)
        server.close()
    return summarize("sync send_to_all", measured, TARGET, unit="req/s")


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_arguments(parser, seconds=0.6, rounds=9)
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per call with callgrind (load-independent, ~3 minutes)")
    args = parser.parse_args(argv)
    quick_rounds(args)
    print_header("sync send_to_all, one client, back to back")
    result = run(args.seconds, args.rounds, with_official=not args.no_official)
    if args.instructions:
        result["instructions"] = send_instructions("sync_sdk", "sync_raw", with_official=not args.no_official)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
