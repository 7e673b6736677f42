#!/usr/bin/python3
"""Compressed answers: glue_loadgen on a large GraphQL answer with and without compression.

Two servers, each run with the client's compression on (Accept-Encoding: gzip, deflate) and off
(no Accept-Encoding), in alternating order for --rounds rounds:

  * mock:  glue-mock-server --groups 200 --compress, answering the query below for real (200
           groups on one page), gzipping at zlib's default level any answer of 1 KiB or more for a
           client that accepts it;
  * nginx: benchmarks/nginx/nginx.conf.in's /large/ locations (one worker, started the way
           harness.py starts it), answering a fixed file of 200 groups with 5 members each, with
           `gzip on` at nginx's default level (1).

Bytes on the wire are measured, not computed: glue_loadgen reports the TCP payload its sockets
received and sent (the kernel's TCP_INFO counters, tcpi_bytes_received / tcpi_bytes_acked), over
the whole run, token requests and headers included; per call is that over the calls made.

  /usr/bin/python3 benchmarks/compression.py [--rounds 3] [--mock-requests 3000]
                                             [--nginx-requests 30000]

Needs build/default with benchmarks (glue_loadgen, glue-mock-server) and nginx (run.sh installs
nginx-light). Prints a Markdown table for benchmarks/RESULTS.md ("Compressed answers").
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import sys
import tempfile
from pathlib import Path

import harness  # the same directory: nginx as a child, children with their rusage

BUILD = harness.ROOT / "build" / "default"
LOADGEN = BUILD / "benchmarks" / "glue_loadgen"
MOCK = BUILD / "glue-mock-server"
QUERY = ("{ groups(first: 200) { edges { cursor node { __typename id name } } "
         "pageInfo { hasNextPage endCursor } } }")


def large_answer() -> str:
    """200 groups with 5 members each, ids as random as Glue's (base62), fixed by a seed."""
    rng = random.Random(18)
    alphabet = string.ascii_letters + string.digits

    def ident(prefix: str) -> str:
        return prefix + "".join(rng.choice(alphabet) for _ in range(27))

    edges = []
    for i in range(200):
        members = [{"id": ident("usr_"), "name": f"User {i}-{j}"} for j in range(5)]
        gid = ident("grp_")
        edges.append({"cursor": gid, "node": {"__typename": "Group", "id": gid,
                                              "name": f"Group {i + 1}",
                                              "members": {"nodes": members}}})
    return json.dumps({"data": {"groups": {"edges": edges, "pageInfo": {
        "hasNextPage": False, "endCursor": edges[-1]["cursor"]}}}}, separators=(",", ":"))


def loadgen(url: str | None, requests: int, compression: str) -> list[str]:
    argv = [str(LOADGEN), "--requests", str(requests), "--workspaces", "10",
            "--connections", "16", "--query", QUERY, "--compression", compression]
    if url:
        argv += ["--url", url]
    return argv


def run(argv: list[str]) -> dict:
    r = harness.run_child(argv, timeout_s=600)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.exit_code != 0 or not lines:
        raise RuntimeError(f"{argv[0]} failed ({r.exit_code}): {harness.tail(r.stderr)}")
    out = json.loads(lines[-1])
    if out["failures"]:
        raise RuntimeError(f"{out['failures']} failed calls: {harness.tail(r.stderr)}")
    out["cpu_s"] = r.cpu_s
    return out


def main(args: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--mock-requests", type=int, default=3000)
    p.add_argument("--nginx-requests", type=int, default=30000)
    cfg = p.parse_args(args)
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="glue-compression-") as d:
        tmp = Path(d)
        harness.make_certificates(tmp)
        static = tmp / "static" / "large" / "public"
        static.mkdir(parents=True)
        answer = large_answer()
        (static / "graphql").write_text(answer)
        nginx = harness.Nginx(tmp)
        nginx.start()
        try:
            for rnd in range(cfg.rounds):
                order = ["on", "off"] if rnd % 2 == 0 else ["off", "on"]
                for compression in order:
                    mock_argv = [str(MOCK), "--groups", "200", "--compress", "--"] + loadgen(
                        None, cfg.mock_requests, compression)
                    results.setdefault(("mock", compression), []).append(run(mock_argv))
                    url = nginx.url("plain") + "/large"
                    results.setdefault(("nginx", compression), []).append(
                        run(loadgen(url, cfg.nginx_requests, compression)))
                    harness.log(f"round {rnd + 1}: compression {compression} done")
        finally:
            nginx.stop()
    load_end = Path("/proc/loadavg").read_text().split()[:3]

    print(f"load average (1, 5, 15 min) at start: {' '.join(load_start)}; "
          f"at end: {' '.join(load_end)}")
    print(f"nginx's answer: {len(answer):,} bytes uncompressed\n")
    print("| server | compression | req/s (median, min-max) | received per call | "
          "sent per call | CPU s per 1,000 calls (mock: server and client) |")
    print("|---|---|---|---|---|---|")
    for server in ("mock", "nginx"):
        for compression in ("on", "off"):
            runs = results[(server, compression)]
            rates = [r["req_s"] for r in runs]
            rx = statistics.median(r["rx_bytes"] / r["requests"] for r in runs)
            tx = statistics.median(r["tx_bytes"] / r["requests"] for r in runs)
            cpu = statistics.median(1000 * r["cpu_s"] / r["requests"] for r in runs)
            print(f"| {server} | {compression} | {statistics.median(rates):,.0f} "
                  f"({min(rates):,.0f}-{max(rates):,.0f}) | {rx:,.0f} B | {tx:,.0f} B | "
                  f"{cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
