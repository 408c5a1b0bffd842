"""``get_client_access_token`` with an access key: our client vs the official 1.3.0, same run.

Both sign the token locally (no network): ``get_client_access_token(user_id=..., roles=[...], groups=[...])``
called back to back on one client per implementation, each in its own worker process.

    python benchmarks/bench_token.py [--seconds 1.0] [--rounds 5] [--quick] [--no-official] [--instructions]

``--instructions`` also counts the CPU instructions of one call with valgrind's callgrind (about a
minute): a figure that does not move when other jobs load the machine.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

from _common import (
    BENCH_DIR,
    JsonProcess,
    add_round_arguments,
    close_all,
    ensure_official,
    interleaved_rounds,
    print_header,
    print_table,
    python_env,
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


def _instructions(extra_path: Optional[str], calls: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
               str(BENCH_DIR / "_token_loop.py"), str(calls)]
    completed = subprocess.run(command, cwd=str(BENCH_DIR), env=python_env(extra_path), capture_output=True,
                               text=True, timeout=300, check=True)
    match = re.search(r"Collected : (\d+)", completed.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in callgrind's output: {completed.stderr[-500:]}")
    return int(match.group(1))


def instructions_per_call(with_official: bool, calls: int = 2000) -> Dict[str, float]:
    """Instructions per token for each implementation: (run with ``calls`` calls - run with none) / calls."""
    if shutil.which("valgrind") is None:
        print("valgrind not found: instruction counts skipped", flush=True)
        return {}
    paths: Dict[str, Optional[str]] = {"ours": None}
    official_path = ensure_official() if with_official else None
    if official_path is not None:
        paths["official"] = official_path
    jobs = [(name, path, n) for name, path in paths.items() for n in (0, calls)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: two valgrind runs at a time
        counts = list(pool.map(lambda job: _instructions(job[1], job[2]), jobs))
    totals = {(name, n): count for (name, _, n), count in zip(jobs, counts)}
    per_call = {name: (totals[(name, calls)] - totals[(name, 0)]) / calls for name in paths}
    rows = [[name, f"{value:,.0f}", f"{per_call['official'] / value:.2f}x" if "official" in per_call else "n/a"]
            for name, value in per_call.items()]
    print_table(["client", "instructions per token (callgrind)", "official / this"], rows)
    return per_call


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_round_arguments(parser, seconds=1.0, rounds=5)
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per call with callgrind (load-independent, ~1 minute)")
    args = parser.parse_args(argv)
    quick_rounds(args)
    print_header("get_client_access_token with an access key")
    result = run(args.seconds, args.rounds, with_official=not args.no_official)
    if args.instructions:
        result["instructions"] = instructions_per_call(with_official=not args.no_official)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
