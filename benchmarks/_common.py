"""Shared plumbing of the benchmarks: the official package, worker and server processes, statistics.

Every measured client runs in a *worker* subprocess (``_worker.py``) so that ours and the official
``azure-messaging-webpubsubservice==1.3.0`` run the same harness code and differ only in which package
``import azure.messaging.webpubsubservice`` finds: the official worker gets ``PYTHONPATH`` pointing at
``benchmarks/.official`` (installed there with pip, outside the dev environment, because both packages
own the same import name). Servers run in processes of their own so that their cost never shares a GIL
with the client under test.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
OFFICIAL_DIR = BENCH_DIR / ".official"
OFFICIAL_REQUIREMENT = "azure-messaging-webpubsubservice==1.3.0"
# The official package's own runtime dependencies; when the dev environment already has them the official
# client shares them (same azure-core for both clients), otherwise they are installed next to it.
OFFICIAL_DEPENDENCIES = {"azure.core": "azure-core>=1.30.0", "isodate": "isodate>=0.6.1",
                         "jwt": "pyjwt>=2.6.0", "typing_extensions": "typing-extensions>=4.6.0"}
# A fixed key in the base64 form the portal hands out; it protects nothing (loopback servers only).
ACCESS_KEY = "YmVuY2htYXJrLWtleS1ub3QtYS1zZWNyZXQtMDEyMzQ1Njc4OQ=="
HUB = "bench"


def connection_string(port: int) -> str:
    return f"Endpoint=http://127.0.0.1:{port};AccessKey={ACCESS_KEY};Version=1.0;"


class BenchmarkError(RuntimeError):
    """A benchmark could not run or its result is wrong (lost messages, failed requests)."""


# -- the official package -----------------------------------------------------------------------------
def _official_installed() -> bool:
    return (OFFICIAL_DIR / "azure" / "messaging" / "webpubsubservice" / "__init__.py").is_file() and any(
        OFFICIAL_DIR.glob("azure_messaging_webpubsubservice-1.3.0.dist-info"))


def _missing_official_dependencies() -> List[str]:
    """Requirements of the official package that its worker (dev env + .official) would not find."""
    probe = "import importlib.util, sys\n" \
            "print(' '.join(n for n in sys.argv[1:] if importlib.util.find_spec(n) is None))"
    env = dict(os.environ, PYTHONPATH=str(OFFICIAL_DIR))
    out = subprocess.run([sys.executable, "-c", probe, *OFFICIAL_DEPENDENCIES], env=env, cwd=str(BENCH_DIR),
                         capture_output=True, text=True, check=True).stdout.split()
    return [OFFICIAL_DEPENDENCIES[name] for name in out]


def ensure_official(log: IO[str] = sys.stderr) -> Optional[str]:
    """Install the official 1.3.0 into ``benchmarks/.official`` once (cached); None if that fails.

    ``--no-deps`` keeps the dev environment's azure-core for both clients, so the comparison is of the
    two SDKs, not of two azure-core releases; any dependency the environment lacks is added next to it.
    """
    try:
        if not _official_installed():
            print(f"installing {OFFICIAL_REQUIREMENT} into {OFFICIAL_DIR} (once) ...", file=log, flush=True)
            _pip_install(["--no-deps", OFFICIAL_REQUIREMENT])
        missing = _missing_official_dependencies()
        if missing:
            _pip_install(missing)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        print(f"official package unavailable, comparison skipped: {error}", file=log, flush=True)
        return None
    return str(OFFICIAL_DIR)


def _pip_install(requirements: Sequence[str]) -> None:
    # Short network timeouts: on a machine without PyPI the benchmarks go on without the official client
    # instead of waiting for pip's retries.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--timeout", "10", "--retries", "1", "--target", str(OFFICIAL_DIR), *requirements],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)


# -- processes ----------------------------------------------------------------------------------------
def python_env(extra_path: Optional[str] = None) -> Dict[str, str]:
    """Environment of a child: the official package path first when given, no inherited PYTHONPATH that
    could put the repo (and so our package) in front of it."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if extra_path:
        env["PYTHONPATH"] = extra_path
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class JsonProcess:
    """A child Python process spoken to with one JSON object per line on stdin/stdout.

    The child's first line is its greeting (e.g. the port it listens on, or which package it imported).
    Children run from ``benchmarks/`` with a script path, never ``-c``, so the repo root is not on
    ``sys.path`` ahead of ``PYTHONPATH``.
    """

    def __init__(self, script: str, args: Sequence[str] = (), extra_path: Optional[str] = None,
                 startup_timeout: float = 60.0) -> None:
        self.script = script
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / script), *args], cwd=str(BENCH_DIR), env=python_env(extra_path),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        # A reader thread turns the blocking pipe into a queue so that every wait has a timeout: a hung
        # child fails the benchmark instead of hanging it.
        self._lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=self._pump, name=f"{script}-stdout", daemon=True).start()
        self.greeting = self._read(startup_timeout)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")  # EOF

    def _read(self, timeout: float) -> Dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            raise BenchmarkError(f"{self.script} did not answer within {timeout:.0f} s") from None
        if not line:
            code = self.process.wait(timeout=10)
            raise BenchmarkError(f"{self.script} exited with code {code} (see its stderr above)")
        reply: Dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise BenchmarkError(f"{self.script}: {reply['error']}")
        return reply

    def call(self, **command: Any) -> Dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        # Every command is bounded by its own duration or timeout; the margin covers warm-up and start-up.
        return self._read(max(command.get("seconds", 0), command.get("timeout", 0)) + 120)

    def close(self) -> None:
        """Closing stdin asks the child to exit; it is killed if it does not within a few seconds."""
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "JsonProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- statistics and printing --------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = math.ceil(fraction * len(sorted_values))  # the smallest value with `fraction` of all at or below it
    return sorted_values[min(len(sorted_values), max(1, rank)) - 1]


def ratio(ours: Optional[float], theirs: Optional[float]) -> Optional[float]:
    if ours is None or theirs is None or theirs <= 0:
        return None
    return ours / theirs


def fmt_rate(value: Optional[float], unit: str = "/s") -> str:
    return "n/a" if value is None else f"{value:,.0f}{unit}"


def fmt_ratio(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    sys.stdout.flush()


def print_header(title: str) -> None:
    print(f"\n== {title} ({time.strftime('%Y-%m-%d %H:%M:%S')}, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cpus) ==", flush=True)


# -- workers and rounds -------------------------------------------------------------------------------
def start_workers(with_official: bool, log: IO[str] = sys.stderr) -> Dict[str, JsonProcess]:
    """``{"ours": worker[, "official": worker]}``, each checked to have imported the package it should."""
    workers: Dict[str, JsonProcess] = {}
    try:
        workers["ours"] = JsonProcess("_worker.py")
        _check_module(workers["ours"], REPO_DIR / "azure")
        official_path = ensure_official(log) if with_official else None
        if official_path is not None:
            workers["official"] = JsonProcess("_worker.py", extra_path=official_path)
            _check_module(workers["official"], OFFICIAL_DIR)
    except BaseException:
        for worker in workers.values():
            worker.close()
        raise
    return workers


def _check_module(worker: JsonProcess, expected_root: Path) -> None:
    module = Path(worker.greeting["module"]).resolve()
    if expected_root.resolve() not in module.parents:
        raise BenchmarkError(f"worker imported {module}, expected a package under {expected_root}")


def close_all(processes: Dict[str, JsonProcess]) -> None:
    for process in processes.values():
        process.close()


class Rounds:
    """Per lane and round: calls per second, and the worker's CPU microseconds per call."""

    def __init__(self, names: Sequence[str]) -> None:
        self.rates: Dict[str, List[float]] = {name: [] for name in names}
        self.cpu_us: Dict[str, List[float]] = {name: [] for name in names}


def interleaved_rounds(lanes: Dict[str, "tuple[JsonProcess, Dict[str, Any]]"], rounds: int) -> Rounds:
    """Run every lane's command once per round and collect calls per second.

    The order rotates from round to round, so slow drifts of the machine (other jobs on its two cores)
    spread over all lanes instead of always hitting the same one. One unmeasured round comes first: the
    first seconds of a worker (connections, caches, the allocator) would otherwise count in one round only.
    """
    names = list(lanes)
    collected = Rounds(names)
    if rounds > 1:
        for name in names:
            worker, command = lanes[name]
            worker.call(**command)
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            worker, command = lanes[name]
            result = worker.call(**command)
            collected.rates[name].append(result["count"] / result["elapsed"])
            collected.cpu_us[name].append(result["cpu"] / max(1, result["count"]) * 1e6)
    return collected


def spread(values: Sequence[float]) -> str:
    return f"{min(values):,.0f}..{max(values):,.0f}" if values else ""


def add_round_arguments(parser: argparse.ArgumentParser, seconds: float, rounds: int) -> None:
    parser.add_argument("--seconds", type=float, default=seconds,
                        help=f"length of one timed round per implementation (default {seconds})")
    parser.add_argument("--rounds", type=int, default=rounds, help=f"rounds; medians are reported (default {rounds})")
    parser.add_argument("--quick", action="store_true",
                        help="one short round: proves the script works, the figures mean little")
    parser.add_argument("--no-official", action="store_true", help="skip the official package")


def quick_rounds(args: argparse.Namespace, seconds: float = 0.1) -> None:
    if args.quick:
        args.seconds, args.rounds = min(args.seconds, seconds), 1


def summarize(title: str, rounds: Rounds, target: float, unit: str, no_ratio: Sequence[str] = ()) -> Dict[str, Any]:
    """Print the table of one benchmark and return its figures; ``no_ratio`` lanes measure something else
    than the official lane (e.g. the sync client next to async figures) and get no ratio.

    "client CPU per call" is the worker process's CPU time divided by the calls it made: the client's own
    cost, as opposed to time spent waiting for the server.

    The verdict is the median of the per-round ratios: within a round the two lanes run back to back, so a
    round's ratio is immune to the machine's load drifting between rounds, where the ratio of the two
    medians mixes rounds run under different loads. Beside it: that ratio of medians, and the ratio of
    client CPU per call, which other jobs on the machine move least of the three.
    """
    rates = rounds.rates
    medians = {name: median(values) for name, values in rates.items()}
    cpu_us = {name: median(values) for name, values in rounds.cpu_us.items()}
    official: Optional[float] = medians.get("official")
    rows = []
    for name, values in rates.items():
        rows.append([name, fmt_rate(medians[name], " " + unit), spread(values),
                     "" if name in no_ratio else fmt_ratio(ratio(medians[name], official)),
                     f"{cpu_us[name]:,.1f} us"])
    print_table(["client", f"median ({len(next(iter(rates.values())))} rounds)", "min..max", "vs official",
                 "client CPU per call"], rows)
    of_medians = ratio(medians.get("ours"), official)
    paired: Optional[float] = None
    cpu_ratio: Optional[float] = None
    per_round: List[float] = []
    if "official" in rates:
        per_round = [o / t for o, t in zip(rates["ours"], rates["official"]) if t > 0]
        paired = median(per_round)
        cpu_ratio = cpu_us["official"] / cpu_us["ours"]
    if paired is None:
        print("ours vs official: n/a (official not measured)", flush=True)
    else:
        print(f"ours vs official: {paired:.2f}x (median of per-round ratios, rounds {min(per_round):.2f}.."
              f"{max(per_round):.2f}); target >= {target:g}x {'met' if paired >= target else 'MISSED'}", flush=True)
        print(f"  ratio of medians {of_medians:.2f}x; client CPU per call {cpu_ratio:.2f}x less for ours; "
              f"per-round ratios: {', '.join(f'{r:.2f}' for r in per_round)}", flush=True)
    return {"benchmark": title, "unit": unit, "medians": medians, "rounds": rates, "cpu_us": cpu_us,
            "ratio": paired, "ratio_of_medians": of_medians, "per_round": per_round, "cpu_ratio": cpu_ratio,
            "target": target}


# -- instruction counts -------------------------------------------------------------------------------
def _callgrind_total(arguments: Sequence[str], extra_path: Optional[str]) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *arguments]
    completed = subprocess.run(command, cwd=str(BENCH_DIR), env=python_env(extra_path), capture_output=True,
                               text=True, timeout=900, check=True)
    match = re.search(r"Collected : (\d+)", completed.stderr)
    if match is None:
        raise BenchmarkError(f"no instruction count in callgrind's output: {completed.stderr[-500:]}")
    return int(match.group(1))


def instructions_per_call(lanes: Dict[str, Tuple[List[str], Optional[str]]], calls: int,
                          title: str) -> Dict[str, float]:
    """CPU instructions per call for each lane, counted by valgrind's callgrind: figures that do not move
    when other jobs load the machine.

    A lane is ``(script and arguments, official path or None)``; the script takes the number of calls as its
    last argument and is run twice, with 0 calls and with ``calls``: the difference is the calls alone
    (interpreter start-up, imports and warm-up cancel out). Lanes named ``official`` are run only when the
    official package is installed.
    """
    if shutil.which("valgrind") is None:
        print("valgrind not found: instruction counts skipped", flush=True)
        return {}
    jobs = [(name, [*arguments, str(n)], path, n) for name, (arguments, path) in lanes.items() for n in (0, calls)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: two valgrind runs at a time
        counts = list(pool.map(lambda job: _callgrind_total(job[1], job[2]), jobs))
    totals = {(name, n): count for (name, _, _, n), count in zip(jobs, counts)}
    per_call = {name: (totals[(name, calls)] - totals[(name, 0)]) / calls for name in lanes}
    official = per_call.get("official")
    rows = [[name, f"{value:,.0f}", f"{official / value:.2f}x" if official else "n/a"]
            for name, value in per_call.items()]
    print_table(["client", f"instructions per {title} (callgrind)", "official / this"], rows)
    return per_call


def send_instructions(sdk_kind: str, raw_kind: str, with_official: bool, calls: int = 1024) -> Dict[str, float]:
    """``--instructions`` of the send benchmarks: ours, the official package and the raw library, each
    sending ``calls`` requests (``_send_loop.py``) to the loopback 202 server, which runs outside valgrind."""
    server = JsonProcess("_http202_server.py")
    try:
        loop = ["_send_loop.py", sdk_kind, str(server.greeting["port"])]
        lanes: Dict[str, Tuple[List[str], Optional[str]]] = {"ours": (loop, None)}
        official_path = ensure_official() if with_official else None
        if official_path is not None:
            lanes["official"] = (loop, official_path)
        lanes[f"plain {raw_kind.split('_')[0]} library"] = (["_send_loop.py", raw_kind, loop[2]], None)
        return instructions_per_call(lanes, calls, "call")
    finally:
        server.close()
