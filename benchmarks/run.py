"""Run every benchmark and print a summary of the figures and ratios.

    python benchmarks/run.py            # full run, about 1.5 minutes on 2 cores
    python benchmarks/run.py --quick    # seconds: proves every script works, figures mean little
    python benchmarks/run.py --only sync token
    python benchmarks/run.py --instructions   # adds load-independent instruction counts (sync, async, token)

Each benchmark is also a script of its own (``bench_*.py --help``) with flags for longer runs.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import bench_fanout
import bench_send_async
import bench_send_sync
import bench_token
from _common import fmt_rate, fmt_ratio, print_table

BENCHMARKS: Dict[str, Callable[[List[str]], Dict[str, Any]]] = {
    "sync": bench_send_sync.main, "token": bench_token.main, "async": bench_send_async.main,
    "fanout": bench_fanout.main,
}


def summary_rows(results: Dict[str, Dict[str, Any]]) -> List[List[str]]:
    rows: List[List[str]] = []

    def verdict(achieved: Optional[float], target: float) -> str:
        return "n/a" if achieved is None else ("met" if achieved >= target else "MISSED")

    for name, result in results.items():
        if name == "fanout":
            medians = result["medians"]
            low, high = result["share_range"]
            rows.append([result["benchmark"], fmt_rate(medians["emulator"]["rate"]),
                         f"bare aiohttp {fmt_rate(medians['bare aiohttp']['rate'])}",
                         f"{result['share']:.0%} (rounds {low:.0%}..{high:.0%})",
                         f">= {result['target']:.0%}", verdict(result["share"], result["target"])])
            low, high = result["efficiency_range"]
            rows.append(["  deliveries per server CPU-second", f"{medians['emulator']['per_cpu_second']:,.0f}",
                         f"bare aiohttp {medians['bare aiohttp']['per_cpu_second']:,.0f}",
                         f"{result['efficiency']:.0%} (rounds {low:.0%}..{high:.0%})", "", ""])
            continue
        medians, unit = result["medians"], result["unit"]
        per_round = result["per_round"]
        spread_text = f" (rounds {min(per_round):.2f}..{max(per_round):.2f})" if per_round else ""
        rows.append([result["benchmark"], fmt_rate(medians["ours"], " " + unit),
                     f"official {fmt_rate(medians.get('official'), ' ' + unit)}",
                     f"{fmt_ratio(result['ratio'])}{spread_text}",
                     f">= {result['target']:g}x", verdict(result["ratio"], result["target"])])
        if result["cpu_ratio"] is not None:
            rows.append(["  client CPU per call", f"{result['cpu_us']['ours']:,.1f} us",
                         f"official {result['cpu_us']['official']:,.1f} us", fmt_ratio(result["cpu_ratio"]), "", ""])
        instructions = result.get("instructions") or {}
        if "official" in instructions:
            rows.append(["  instructions per call (callgrind)", f"{instructions['ours']:,.0f}",
                         f"official {instructions['official']:,.0f}",
                         fmt_ratio(instructions["official"] / instructions["ours"]), "", ""])
        for name, count in instructions.items():
            if name.startswith("plain"):
                rows.append([f"  instructions: {name}", f"{count:,.0f}", "",
                             f"ours = {instructions['ours'] / count:.2f}x of it", "", ""])
        for reference in ("raw urllib3", "plain aiohttp"):
            if reference in medians:
                rows.append([f"  reference: {reference}", fmt_rate(medians[reference], " " + unit), "",
                             f"ours = {medians['ours'] / medians[reference]:.0%} of it", "", ""])
    return rows


def main(argv: Optional[List[str]] = None) -> Dict[str, Dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="very short runs of every benchmark")
    parser.add_argument("--no-official", action="store_true", help="skip the official package")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per call with callgrind, load-independent (~8 minutes more)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results: Dict[str, Dict[str, Any]] = {}
    for name in args.only or BENCHMARKS:
        flags = ["--quick"] if args.quick else []
        if args.no_official and name != "fanout":
            flags.append("--no-official")
        if args.instructions and name != "fanout":
            flags.append("--instructions")
        results[name] = BENCHMARKS[name](flags)
    print(f"\n== summary ({time.monotonic() - started:.0f} s; medians of interleaved rounds, same run) ==")
    print_table(["benchmark", "ours", "compared with", "ratio", "target", ""], summary_rows(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
