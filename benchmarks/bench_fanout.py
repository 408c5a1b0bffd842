"""Emulator fan-out: 1,000 WebSocket clients, ``send_to_all`` N messages, every delivery counted.

Processes (the machine has two cores; nothing measured shares a GIL with anything else):

- the server under test: our emulator (``webpubsub_emulator.Emulator``), or the yardstick, a bare aiohttp
  server holding the same clients and broadcasting each POSTed message in a plain loop;
- a client swarm per server (``_ws_swarm.py``): 1,000 lean WebSocket clients in one process, each
  checking that it gets every message of a round exactly once and in order;
- this process, the sender: our sync SDK's ``send_to_all`` (the same call against both servers), each
  message carrying its send time, so latency is REST call -> receipt at the client.

Burst rounds (N messages back to back) alternate between the two servers, the order rotating every
round, after one unmeasured warm-up round each; a final paced round per server (a steady 20 messages/s)
measures latency without a backlog. A round fails loudly if any client misses a message. Short rounds
(100 messages, about a second) keep the two halves of a pair close in time; nine of them give the median.

Two figures per round, each compared within the round (emulator / bare, the two run back to back, so a
change of the machine's load between rounds cancels out) and reported as the median and the range of the
rounds:

- deliveries per second: from the first REST call to the last receipt. Three processes share two cores
  here (sender, server, client swarm) with whatever else runs, so this is the throughput of the whole
  set-up, and it moves with the machine's load;
- deliveries per server CPU-second: what the server process spends per delivery (user + system time).
  That counts only while the server runs, so contention moves it less (not nothing: a starved server
  batches differently), and the ratio of the two servers' figures is the steadiest view of how much
  work the emulator does per delivery compared with a bare aiohttp broadcast.

    python benchmarks/bench_fanout.py [--clients 1000] [--messages 100] [--rounds 9] [--warmup 1]
                                      [--paced-rate 20] [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Dict, List, Optional

from _common import HUB, BenchmarkError, JsonProcess, connection_string, median, print_header, print_table, spread

from azure.messaging.webpubsubservice import WebPubSubServiceClient

TARGET_SHARE = 0.70
EMULATOR, BARE = "emulator", "bare aiohttp"


class System:
    """One server process, its client swarm, and the SDK client that sends to it."""

    def __init__(self, name: str, server: JsonProcess) -> None:
        self.name = name
        self.server = server
        self.port: int = server.greeting["port"]
        self.sender = WebPubSubServiceClient.from_connection_string(connection_string(self.port), hub=HUB)
        self.swarm: Optional[JsonProcess] = None
        self.results: List[Dict[str, Any]] = []  # burst rounds
        self.paced: List[Dict[str, Any]] = []  # latency rounds at a moderate, steady rate

    def connect(self, url: str, clients: int) -> None:
        self.swarm = JsonProcess("_ws_swarm.py", ["--url", url, "--clients", str(clients)], startup_timeout=180)
        if self.swarm.greeting["connected"] != clients:
            raise BenchmarkError(f"{self.name}: only {self.swarm.greeting['connected']} clients connected")
        print(f"{self.name}: {clients} clients connected in {self.swarm.greeting['connect_seconds']:.1f} s",
              flush=True)

    def round(self, round_id: int, messages: int, timeout: float, interval: float = 0.0) -> Dict[str, Any]:
        """Send ``messages`` back to back (``interval`` 0) or one every ``interval`` seconds; check that every
        client got every one of them; return throughput, latency and CPU figures."""
        assert self.swarm is not None
        self.swarm.call(op="expect", round=round_id, messages=messages)
        cpu_before = self.server.call(op="cpu")["cpu_seconds"]
        clock = time.monotonic  # CLOCK_MONOTONIC: the same clock in the swarm's process
        first_send = clock()
        for seq in range(messages):
            if interval:
                pause = first_send + seq * interval - clock()
                if pause > 0:
                    time.sleep(pause)
            self.sender.send_to_all(f"{round_id}:{seq}:{clock():.6f}")
        sent = clock()
        result = self.swarm.call(op="wait", timeout=timeout)
        server_cpu = self.server.call(op="cpu")["cpu_seconds"] - cpu_before
        expected_total = messages * result["clients"]
        if result["total"] != expected_total or result["min_count"] != messages or result["error_count"]:
            raise BenchmarkError(
                f"{self.name}, round {round_id}: received {result['total']:,} of {expected_total:,} deliveries "
                f"(per client {result['min_count']}..{result['max_count']} of {messages}; "
                f"{result['complete_clients']} clients complete; {result['error_count']} errors "
                f"{result['errors']}; {result['lost_connections']} connections lost)")
        duration = result["last_receipt"] - first_send
        figures = {"deliveries": result["total"], "clients": result["clients"], "messages": messages,
                   "seconds": duration, "rate": result["total"] / duration, "p50": result["p50"],
                   "p99": result["p99"], "max": result["max"], "send_seconds": sent - first_send,
                   "server_cpu": server_cpu / duration, "swarm_cpu": result["cpu_seconds"] / duration,
                   # Deliveries per CPU-second of the server process: its efficiency, whatever share of
                   # the two cores it got while other processes (or other jobs) competed for them.
                   "per_cpu_second": result["total"] / server_cpu if server_cpu > 0 else float("nan")}
        return figures

    def close(self) -> None:
        self.sender.close()
        if self.swarm is not None:
            self.swarm.close()
        self.server.close()


def run(clients: int, messages: int, rounds: int, timeout: float, paced_rate: float,
        paced_messages: int, warmup: int = 1) -> Dict[str, Any]:
    systems: Dict[str, System] = {}
    try:
        systems[EMULATOR] = System(EMULATOR, JsonProcess("_fanout_servers.py", ["emulator"]))
        systems[BARE] = System(BARE, JsonProcess("_fanout_servers.py", ["bare"]))
        # Real client URLs from the SDK; the bare server gets the same query string, so both handshakes
        # carry the same bytes (it ignores the token).
        token_url: str = systems[EMULATOR].sender.get_client_access_token(user_id="bench-user")["url"]
        query = token_url.split("?", 1)[1]
        systems[EMULATOR].connect(token_url, clients)
        systems[BARE].connect(f"ws://127.0.0.1:{systems[BARE].port}/client/hubs/{HUB}?{query}", clients)
        names = list(systems)
        for round_index in range(-warmup, rounds):  # negative: warm-up rounds, run and checked, not counted
            shift = round_index % len(names)
            for offset, name in enumerate(names[shift:] + names[:shift]):
                figures = systems[name].round((round_index + warmup) * 10 + offset + 1, messages, timeout)
                label = "warm-up" if round_index < 0 else f"round {round_index + 1}"
                if round_index >= 0:
                    systems[name].results.append(figures)
                print(f"  {label:<8} {name:<12} {figures['deliveries']:,} of {figures['clients']:,} x {messages} "
                      f"in {figures['seconds']:.2f} s: {figures['rate']:,.0f} deliveries/s, "
                      f"{figures['per_cpu_second']:,.0f} per server CPU-s (server busy {figures['server_cpu']:.0%}, "
                      f"clients {figures['swarm_cpu']:.0%}), p50 {figures['p50'] * 1e3:.0f} ms, "
                      f"p99 {figures['p99'] * 1e3:.0f} ms", flush=True)
        if paced_messages:
            # Burst latencies are mostly queueing behind earlier messages; at a steady rate well under
            # capacity they show what one message costs from REST call to receipt.
            for offset, name in enumerate(names):
                figures = systems[name].round(1000 + offset, paced_messages, timeout, interval=1.0 / paced_rate)
                systems[name].paced.append(figures)
                print(f"  {'paced':<8} {name:<12} {figures['deliveries']:,} of {figures['clients']:,} x "
                      f"{paced_messages} received at {paced_rate:g} messages/s: p50 {figures['p50'] * 1e3:.1f} ms, "
                      f"p99 {figures['p99'] * 1e3:.1f} ms", flush=True)
        return report({name: system.results for name, system in systems.items()},
                      {name: system.paced for name, system in systems.items()}, paced_rate)
    finally:
        for system in systems.values():
            system.close()


def report(results: Dict[str, List[Dict[str, Any]]], paced: Dict[str, List[Dict[str, Any]]],
           paced_rate: float) -> Dict[str, Any]:
    medians = {name: {key: median([r[key] for r in rounds]) for key in
                      ("rate", "p50", "p99", "server_cpu", "swarm_cpu", "send_seconds", "per_cpu_second")}
               for name, rounds in results.items()}
    rows = []
    for name, rounds in results.items():
        figures = medians[name]
        every_round = rounds + paced[name]
        received = sum(r["deliveries"] for r in every_round)
        expected = sum(r["clients"] * r["messages"] for r in every_round)
        steady = paced[name][0] if paced[name] else None
        rows.append([name, f"{figures['rate']:,.0f}/s", spread([r["rate"] for r in rounds]),
                     f"{figures['per_cpu_second']:,.0f}", spread([r["per_cpu_second"] for r in rounds]),
                     f"{figures['server_cpu']:.0%}", f"{figures['swarm_cpu']:.0%}",
                     f"{figures['p50'] * 1e3:.0f} / {figures['p99'] * 1e3:.0f} ms",
                     "n/a" if steady is None else f"{steady['p50'] * 1e3:.1f} / {steady['p99'] * 1e3:.1f} ms",
                     f"{received:,} of {expected:,}"])
    count = len(results[EMULATOR])
    print_table(["server", f"deliveries/s ({count} rounds)", "min..max", "per server CPU-s", "min..max",
                 "server busy", "clients busy", "burst p50 / p99", f"at {paced_rate:g} msg/s p50 / p99",
                 "received (all rounds)"], rows)
    # Each round's two sides ran back to back: their ratio is immune to the load drifting between rounds.
    shares = paired_ratios(results, "rate")
    efficiencies = paired_ratios(results, "per_cpu_second")
    share, efficiency = median(shares), median(efficiencies)
    print(f"emulator / bare aiohttp, round by round: deliveries/s {share:.0%} median "
          f"({percent_range(shares)}); per server CPU-second {efficiency:.0%} median "
          f"({percent_range(efficiencies)}); target >= {TARGET_SHARE:.0%} of its deliveries/s "
          f"{'met' if share >= TARGET_SHARE else 'MISSED'}", flush=True)
    print("(deliveries/s: first REST call -> last receipt, the whole set-up on shared cores; per server CPU-s: "
          "deliveries per CPU-second of the server process, which load moves less; busy = share of one "
          "core during burst rounds, clients near 100% would mean the swarm set the pace; latency = REST call "
          "-> receipt, burst latency includes the queue behind earlier messages)", flush=True)
    clients = results[EMULATOR][0]["clients"]
    return {"benchmark": f"fan-out deliveries, {clients:,} clients", "medians": medians, "rounds": results,
            "paced": paced, "share": share, "share_range": (min(shares), max(shares)), "efficiency": efficiency,
            "efficiency_range": (min(efficiencies), max(efficiencies)), "target": TARGET_SHARE}


def paired_ratios(results: Dict[str, List[Dict[str, Any]]], key: str) -> List[float]:
    return [ours[key] / bare[key] for ours, bare in zip(results[EMULATOR], results[BARE]) if bare[key] > 0]


def percent_range(values: List[float]) -> str:
    return f"{min(values):.0%}..{max(values):.0%}"


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="WebSocket clients (default 1000)")
    parser.add_argument("--messages", type=int, default=100, help="send_to_all calls per round (default 100)")
    parser.add_argument("--rounds", type=int, default=9,
                        help="measured burst rounds per server; medians and ranges reported (default 9)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured burst rounds per server first (default 1)")
    parser.add_argument("--paced-rate", type=float, default=20.0,
                        help="messages per second of the latency round (default 20)")
    parser.add_argument("--paced-messages", type=int, default=40,
                        help="messages of the latency round, 0 to skip it (default 40)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a round may take (default 60)")
    parser.add_argument("--quick", action="store_true", help="100 clients, 20 messages, one round")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.messages, args.rounds, args.warmup = min(args.clients, 100), min(args.messages, 20), 1, 0
        args.paced_messages = min(args.paced_messages, 5)
    print_header(f"fan-out: {args.clients} WebSocket clients, {args.messages} send_to_all per round")
    return run(args.clients, args.messages, args.rounds, args.timeout, args.paced_rate, args.paced_messages,
               args.warmup)


if __name__ == "__main__":
    main(sys.argv[1:])
