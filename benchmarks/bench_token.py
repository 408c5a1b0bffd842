"""``get_client_access_token`` with an access key: our client vs the official 1.3.0, same run.

Both sign the token locally (no network): ``get_client_access_token(user_id=..., roles=[...], groups=[...])``
called back to back on one client per implementation, each in its own worker process.

    python benchmarks/bench_token.py [--seconds 1.0] [--rounds 5] [--quick] [--no-official]
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional

from _common import (JsonProcess, add_round_arguments, close_all, interleaved_rounds, print_header, quick_rounds,
                     start_workers, summarize)

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


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_arguments(parser, seconds=1.0, rounds=5)
    args = parser.parse_args(argv)
    quick_rounds(args)
    print_header("get_client_access_token with an access key")
    return run(args.seconds, args.rounds, with_official=not args.no_official)


if __name__ == "__main__":
    main(sys.argv[1:])
