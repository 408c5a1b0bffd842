"""``get_client_access_token`` with an access key: our client vs the official 1.3.0, same run.

Both sign the token locally (no network): ``get_client_access_token(user_id=..., roles=[...], groups=[...])``
called back to back on one client per implementation, each in its own worker process.

    python benchmarks/bench_token.py [--seconds 0.6] [--rounds 9] [--quick] [--no-official] [--instructions]

``--instructions`` also counts the CPU instructions of one call with valgrind's callgrind (about a
minute): a figure that does not move when other jobs load the machine.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional, Tuple

from _common import (
    JsonProcess,
    add_round_arguments,
    close_all,
    ensure_official,
    instructions_per_call,
    interleaved_rounds,
    print_header,
    quick_rounds,
    start_workers,
    summarize,
)

TARGET = 5.0


def run(seconds: float, rounds: int, with_official: bool = True) -> Dict[str, Any]:
    workers: Dict[str, JsonProcess] = {}
    try:
        workers = start_workers(with_official)
        lanes = {name: (worker, {"op": "token", "seconds": seconds}) for name, worker in workers.items()}
        measured = interleaved_rounds(lanes, rounds)
    finally:
        close_all(workers)
    result = summarize("get_client_access_token", measured, TARGET, unit="tokens/s")
    for name, rate in result["medians"].items():
        print(f"  {name}: {1e6 / rate:.1f} us per token")
    return result


def token_instructions(with_official: bool, calls: int = 2000) -> Dict[str, float]:
    lanes: Dict[str, Tuple[List[str], Optional[str]]] = {"ours": (["_token_loop.py"], None)}
    official_path = ensure_official() if with_official else None
    if official_path is not None:
        lanes["official"] = (["_token_loop.py"], official_path)
    return instructions_per_call(lanes, calls, "token")


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_arguments(parser, seconds=0.6, rounds=9)
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per call with callgrind (load-independent, ~1 minute)")
    args = parser.parse_args(argv)
    quick_rounds(args)
    print_header("get_client_access_token with an access key")
    result = run(args.seconds, args.rounds, with_official=not args.no_official)
    if args.instructions:
        result["instructions"] = token_instructions(with_official=not args.no_official)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
