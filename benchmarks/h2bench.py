#!/usr/bin/python3
"""HTTP/2 benchmark: glue over HTTP/1.1 and HTTP/2 against h2load and the peers, on loopback and
through a relay that adds a real round-trip time.

Run through `benchmarks/run.sh --http2`, which installs and builds what this needs, or directly:

    /usr/bin/python3 benchmarks/h2bench.py [--quick] [--no-write] [--only h2load,glue-h1] ...

Against one nginx (benchmarks/nginx/nginx.conf.in's third server: TLS, ALPN h2 and http/1.1,
128 streams per connection), every client making the same GraphQL call as run.sh's:

  * relay overhead: h2load straight to nginx and through glue_latency_relay at delay 0, in two
    shapes (few connections with many streams each; many HTTP/1.1 connections), alternating, so
    the relay's own cost is on record before it is used;
  * (a) loopback: N calls at K in flight with at most C connections: calls/s, client CPU per
    call (user + system from wait4, over the calls), connections opened and so TLS handshakes
    (nginx counts them, by protocol);
  * (b) through glue_latency_relay at each round-trip time R (one-way delay R/2 each way), at
    most C connections and K calls in flight: calls/s against the physical limit K / R and the
    limit of the client's protocol (HTTP/1.1: C / R, one call per connection per round trip).

Each round runs every client once, the order rotated each round. Writes the tables between
<!-- h2bench:begin --> and <!-- h2bench:end --> in benchmarks/RESULTS.md (added at the end of the
file if absent); nothing else in the file changes. Standard library only; only 127.0.0.1 is
used; nginx and every relay are stopped when it ends, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import selectors
import shlex
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import harness  # the same directory: nginx as a child, children with their rusage

RELAY = harness.ROOT / "build" / "default" / "benchmarks" / "glue_latency_relay"
BEGIN_MARK = "<!-- h2bench:begin -->"
END_MARK = "<!-- h2bench:end -->"
REQUEST_BODY = '{"query":"query { me { id } }"}'  # what every client sends (wrk/graphql.lua's)
SERVER_STREAMS = 128  # http2_max_concurrent_streams in nginx.conf.in
# The machine counts as loaded (the tables are marked provisional) above this 1-minute load
# average per core, at the start or the end of the run.
LOADED_PER_CORE = 0.5


def log(msg: str) -> None:
    harness.log(msg)


# --------------------------------------------------------------------------------------------
# The relay as a child process


class Relay:
    """glue_latency_relay to nginx's h2 server, as a child in its own session. stop() ends it
    with SIGTERM (SIGKILL after 10 s) and returns its CPU time and its own counters."""

    def __init__(self, target_port: int, delay_ms: float):
        self.argv = [str(RELAY), "--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{target_port}",
                     "--delay-ms", f"{delay_ms:g}"]
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self._err = tempfile.TemporaryFile()

    def __enter__(self) -> "Relay":
        self.proc = subprocess.Popen(self.argv, cwd=harness.ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._err,
                                     start_new_session=True)
        try:
            line = self._first_line(10.0)
            self.port = int(line)
        except (ValueError, TimeoutError) as e:
            self.stop()
            raise RuntimeError(f"glue_latency_relay did not start ({e}): {shlex.join(self.argv)}")
        return self

    def _first_line(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError("no port printed")
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    raise ValueError("exited before printing its port")
                buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def stop(self) -> dict:
        """{"cpu_s": ..., and the relay's JSON counters when it printed them}."""
        if self.proc is None:
            return {}
        proc, self.proc = self.proc, None
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        killer = threading.Timer(10.0, lambda: _kill_group(proc.pid))
        killer.daemon = True
        killer.start()
        try:
            _, _, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
            _kill_group(proc.pid)
        proc.returncode = 0
        out = {"cpu_s": usage.ru_utime + usage.ru_stime}
        rest = proc.stdout.read().decode("utf-8", "replace").strip().splitlines()
        proc.stdout.close()
        if rest:
            try:
                out.update(json.loads(rest[-1]))
            except ValueError:
                pass
        self._err.close()
        return out

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------------------------
# Clients


@dataclasses.dataclass
class Shape:
    """The load: n calls over w workspaces, k in flight, at most c connections."""
    n: int
    w: int
    k: int
    c: int


@dataclasses.dataclass
class Client:
    name: str
    what: str
    protocol: str  # what it should speak with nginx's h2 server: "h2" or "HTTP/1.1"
    argv: Callable[[str, Shape, Path], list[str]]
    missing: Callable[[], str | None]
    is_h2load: bool = False

    def streams_per_connection(self) -> int:
        return SERVER_STREAMS if self.protocol == "h2" else 1


def h2load_connections(shape: Shape, streams: int = SERVER_STREAMS) -> tuple[int, int]:
    """(connections, streams each) for h2load: as few connections as the server's stream limit
    allows for k in flight, at most c."""
    conns = max(1, min(shape.c, math.ceil(shape.k / streams)))
    return conns, math.ceil(shape.k / conns)


def h2load_argv(url: str, shape: Shape, tmp: Path, h1: bool = False) -> list[str]:
    """The ceiling: the same POST, headers and body as the other clients, with the token they
    would hold already in hand (no token requests)."""
    if h1:
        conns, streams = min(shape.c, shape.k), 1
    else:
        conns, streams = h2load_connections(shape)
    argv = ["h2load", "-n", str(shape.n), "-c", str(conns), "-m", str(streams), "-t", "1",
            "-d", str(tmp / "graphql.json"),
            "-H", "content-type: application/json", "-H", "accept: application/json",
            "-H", f"authorization: Bearer {harness.TOKEN}"]
    if h1:
        argv.append("--h1")
    return argv + [url + "/public/graphql"]


_glue_http2: str | None | bool = False  # False: not checked yet; None: glue_loadgen has --http2


def glue_http2_missing() -> str | None:
    """glue_loadgen gets --http2 with the client's HTTP/2 (client_config::http2); until then it
    speaks HTTP/1.1 only. Its usage message lists its options."""
    global _glue_http2
    why = harness._not_executable(harness.GLUE_LOADGEN)
    if why:
        return why
    if _glue_http2 is False:
        p = subprocess.run([str(harness.GLUE_LOADGEN), "--help"], capture_output=True, text=True,
                           timeout=30)
        _glue_http2 = None if "--http2" in p.stderr else "glue_loadgen has no --http2 (a build without HTTP/2)"
    return _glue_http2


def loadgen_argv(prefix: list[str], extra: Callable[[], list[str]]):
    def argv(url: str, shape: Shape, tmp: Path) -> list[str]:
        return prefix + ["--url", url, "--requests", str(shape.n), "--workspaces", str(shape.w),
                         "--connections", str(shape.c), "--in-flight", str(shape.k),
                         "--ca-file", str(tmp / "ca.pem")] + extra()
    return argv


def clients() -> dict[str, Client]:
    glue = [harness.rel(harness.GLUE_LOADGEN)]
    items = [
        Client("h2load", "h2load (nghttp2), 1 thread, the token in hand: the ceiling", "h2",
               lambda url, shape, tmp: h2load_argv(url, shape, tmp),
               lambda: None if shutil.which("h2load") else "h2load not installed (nghttp2-client)",
               is_h2load=True),
        # Today's glue offers no h2; once it can, --http2 off keeps it on HTTP/1.1.
        Client("glue-h1", "glue_loadgen, 1 thread, HTTP/1.1", "HTTP/1.1",
               loadgen_argv(glue, lambda: [] if glue_http2_missing() else ["--http2", "off"]),
               lambda: harness._not_executable(harness.GLUE_LOADGEN)),
        Client("glue-h2", "glue_loadgen, 1 thread, `--http2 auto`", "h2",
               loadgen_argv(glue, lambda: ["--http2", "auto"]), glue_http2_missing),
        Client("go-h2", "Go net/http + x/oauth2, `ForceAttemptHTTP2`", "h2",
               loadgen_argv([harness.rel(harness.GO_PEER)], lambda: ["--http2", "auto"]),
               lambda: harness._not_executable(harness.GO_PEER)),
        Client("undici-h2", "Node + undici `Pool`, `allowH2: true`, `pipelining` K, queries marked "
               "`idempotent` (see peers/README.md)", "h2",
               loadgen_argv(["node", harness.rel(harness.NODE_PEER)], lambda: ["--http2", "auto"]),
               harness._check_node),
    ]
    return {c.name: c for c in items}


ALL_CLIENTS = ("h2load", "glue-h1", "glue-h2", "go-h2", "undici-h2")


# --------------------------------------------------------------------------------------------
# Runs


def parse_h2load(out: str, run: harness.Run) -> None:
    fin = re.search(r"^finished in ([\d.]+)(us|ms|s|m|h), ([\d.]+) req/s", out, re.M)
    req = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                    r"(\d+) failed, (\d+) errored, (\d+) timeout", out, re.M)
    codes = re.search(r"^status codes: (\d+) 2xx", out, re.M)
    if not fin or not req or not codes:
        raise ValueError("no 'finished in' / 'requests:' / 'status codes:' line in h2load's output")
    run.wall_s = harness._wrk_time_ms(fin.group(1) + fin.group(2)) / 1e3
    run.req_s = float(fin.group(3))
    run.requests = int(req.group(1))
    done_2xx = int(codes.group(1))
    run.failures = run.requests - done_2xx
    run.token_client = 0
    mean = re.search(r"^time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    if mean:
        run.extra["mean_ms"] = harness._wrk_time_ms(mean.group(3))
    proto = re.search(r"^Application protocol: (\S+)", out, re.M)
    if proto:
        run.extra["alpn"] = proto.group(1)


def run_client(cl: Client, url: str, shape: Shape, phase: str, rnd: int, nginx: harness.Nginx,
               tmp: Path, timeout: float, argv: list[str] | None = None) -> harness.Run:
    run = harness.Run(contender=cl.name, mode=phase, round=rnd)
    if not nginx.alive():
        raise RuntimeError("nginx exited during the benchmark: " + nginx._diagnostics())
    argv = argv or cl.argv(url, shape, tmp)
    nginx.reset_counts("h2")
    accepted = nginx.accepted()
    res = harness.run_child(argv, timeout)
    time.sleep(0.1)  # nginx logs a request after sending its response
    # Less the status request's own connection.
    run.extra["accepted"] = nginx.accepted() - accepted - 1
    run.token_server = nginx.count("token", "h2")
    run.conns_server = nginx.count("conn", "h2")
    run.extra["protocols"] = nginx.protocols("h2")
    run.cpu_s = res.cpu_s
    run.maxrss_kib = res.maxrss_kib
    run.argv = shlex.join(argv)
    if res.timed_out:
        run.error = f"timed out after {timeout:.0f} s (killed)"
    elif res.exit_code != 0:
        why = f"signal {-res.exit_code}" if res.exit_code < 0 else f"exit code {res.exit_code}"
        run.error = f"{why}: {harness.tail(res.stderr or res.stdout, 3)}"
    else:
        try:
            if cl.is_h2load:
                parse_h2load(res.stdout, run)
            else:
                kept = {k: run.extra[k] for k in ("protocols", "accepted")}
                harness.parse_loadgen(res.stdout, run)
                run.extra.update(kept)
            run.ok = True
        except (ValueError, KeyError, TypeError) as e:
            run.error = f"unreadable output ({e}): {harness.tail(res.stdout, 2)}"
    if run.ok:
        log(f"  {cl.name:10} {phase:9} {run.req_s:>10,.0f} calls/s  {run.requests:>8,} calls  "
            f"cpu {run.cpu_s:6.2f} s  conns {run.extra['accepted']} "
            f"({fmt_protocols(run.extra['protocols'])})  "
            f"tokens {run.token_server:,}  fail {run.failures:,}")
    else:
        log(f"  {cl.name:10} {phase:9} FAILED: {run.error}")
    return run


def fmt_protocols(p: dict[str, int]) -> str:
    if not p:
        return "0"
    names = {"HTTP/2.0": "h2", "HTTP/1.1": "HTTP/1.1"}
    return ", ".join(f"{n:,} {names.get(k, k)}" for k, n in sorted(p.items()))


def rounds_of(names: list[str], rounds: int):
    for rnd in range(rounds):
        k = rnd % len(names) if names else 0
        yield rnd + 1, names[k:] + names[:k]


def expected_rate(cl: Client, shape: Shape, rtt_s: float) -> float:
    """The most calls per second the client's protocol allows at this RTT: k in flight, or on
    HTTP/1.1 one per connection, each taking a round trip."""
    return min(shape.k, shape.c * cl.streams_per_connection()) / rtt_s


def relay_shape(cfg, cl: Client, rtt_s: float) -> Shape:
    """Calls for about relay_seconds at the client's protocol limit, and at least 2 per worker."""
    base = Shape(n=0, w=cfg.relay_workspaces, k=cfg.relay_in_flight, c=cfg.relay_connections)
    base.n = max(2 * base.k, round(expected_rate(cl, base, rtt_s) * cfg.relay_seconds))
    return base


# --------------------------------------------------------------------------------------------
# Report


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def merged_protocols(rs: list[harness.Run]) -> str:
    seen = sorted({fmt_protocols(r.extra.get("protocols", {})) for r in rs})
    return " / ".join(seen) if seen else "–"


def connections(rs: list[harness.Run]) -> str:
    """Accepted by nginx (each one TLS handshake) over the runs, then those that carried a
    request, by protocol."""
    return f"{harness.span([r.extra.get('accepted') for r in rs])} ({merged_protocols(rs)})"


CONNECTIONS_HEADER = ("connections opened = TLS handshakes (nginx's accepts; in brackets those "
                      "that carried a request, by protocol)")


def latency(r_ok: list[harness.Run]) -> tuple[str, str]:
    p50 = median([r.p50_ms for r in r_ok])
    p99 = median([r.p99_ms for r in r_ok])
    if p50 is None:
        mean = median([r.extra.get("mean_ms") for r in r_ok])
        return (f"mean {mean:.2f} ms" if mean is not None else "–"), "–"
    return f"{p50:.2f} ms", (f"{p99:.2f} ms" if p99 is not None else "–")


def client_rows(summary: dict, runs, names, skipped, phase: str, columns: int, cells) -> list[str]:
    """One table row per client: `cells(name, summary, successful runs)` gives the cells between
    the name and "runs ok"; a client not run or failing every run gets a row that says so."""
    lines = []
    for name in names:
        if name in skipped:
            lines.append(f"| {name} | not run ({skipped[name]}) |" + "  |" * (columns - 2))
            continue
        s = summary[name]
        if not s.get("ok"):
            lines.append(f"| {name} | all {s['runs']} runs failed |" + "  |" * (columns - 3) +
                         f" 0/{s['runs']} |")
            continue
        ok = [r for r in runs if r.ok and r.contender == name and r.mode == phase]
        lines.append(f"| {name} | " + " | ".join(cells(name, s, ok)) + f" | {s['ok']}/{s['runs']} |")
    return lines


def loopback_table(runs, names, skipped, table) -> list[str]:
    lines = [f"| client | {CONNECTIONS_HEADER} | calls/s median | "
             "min | max | × h2load | client CPU s per 100k calls | token requests (server / client) | "
             "failures | p50 | p99 | runs ok |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    summary = harness.summarise(runs, names, "loopback")
    ceiling = summary.get("h2load", {}).get("median")

    def cells(name, s, ok):
        ratio = f"{s['median'] / ceiling:.2f}" if ceiling else "–"
        return [connections(ok), harness.fmt_int(s['median']), harness.fmt_int(s['min']),
                harness.fmt_int(s['max']), ratio, harness.fmt_f(s['cpu_per_100k']),
                f"{harness.span(s['token_server'])} / {harness.span(s['token_client'])}",
                f"{s['failures']:,}", *latency(ok)]
    return lines + client_rows(summary, runs, names, skipped, "loopback", 12, cells)


def relay_table(runs, names, skipped, table, phase: str, cfg, rtt_s: float) -> list[str]:
    physical = cfg.relay_in_flight / rtt_s
    lines = [f"| client | {CONNECTIONS_HEADER} | calls per run | "
             "calls/s median | min | max | × physical limit | × its protocol's limit | "
             "client CPU s per 100k calls | failures | p50 | p99 | runs ok |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    summary = harness.summarise(runs, names, phase)

    def cells(name, s, ok):
        own = expected_rate(table[name], relay_shape(cfg, table[name], rtt_s), rtt_s)
        return [connections(ok), harness.span(s['requests']), harness.fmt_int(s['median']),
                harness.fmt_int(s['min']), harness.fmt_int(s['max']),
                f"{s['median'] / physical:.2f}", f"{s['median'] / own:.2f}",
                harness.fmt_f(s['cpu_per_100k']), f"{s['failures']:,}", *latency(ok)]
    return lines + client_rows(summary, runs, names, skipped, phase, 13, cells)


def overhead_table(rows: list[dict]) -> list[str]:
    lines = ["| shape | direct calls/s (median) | through the relay at delay 0 | relay / direct | "
             "relay CPU s per 100k calls | h2load CPU s per 100k calls, direct / relayed | runs |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        d = [r for r in row["direct"] if r.ok]
        v = [r for r in row["relayed"] if r.ok]
        if not d or not v:
            lines.append(f"| {row['shape']} | failed: {row['error'] or 'no successful run'} |  |  |  |  |  |")
            continue
        dm = statistics.median(r.req_s for r in d)
        vm = statistics.median(r.req_s for r in v)
        relay_cpu = median([r.extra.get("relay_cpu_s", 0) / r.requests * 1e5 for r in v])
        lines.append(
            f"| {row['shape']} | {harness.fmt_int(dm)} | {harness.fmt_int(vm)} | {vm / dm:.2f} | "
            f"{harness.fmt_f(relay_cpu)} | {harness.fmt_f(median([r.cpu_per_100k for r in d]))} / "
            f"{harness.fmt_f(median([r.cpu_per_100k for r in v]))} | {len(d)} + {len(v)} |")
    return lines


def render(cfg, command, started, elapsed_s, notes, load, names, skipped, table, runs,
           overhead) -> str:
    out = ["## HTTP/2: glue against h2load and the peers, on loopback and at a real RTT "
           "(`benchmarks/run.sh --http2`)", ""]
    loaded = max(load["start"][0], load["end"][0]) > LOADED_PER_CORE * (os.cpu_count() or 1)
    if loaded or cfg.note:
        why = []
        if loaded:
            why.append(f"the machine was loaded (1-minute load average {load['start'][0]:.2f} at "
                       f"the start, {load['end'][0]:.2f} at the end, on {os.cpu_count()} cores)")
        if cfg.note:
            why.append(cfg.note)
        out += [f"**Provisional:** {'; '.join(why)}. Rerun on an idle machine for figures to quote.", ""]
    out += [f"Written by `benchmarks/run.sh --http2` (`benchmarks/h2bench.py`) on "
            f"{started.strftime('%Y-%m-%d %H:%M UTC')}, in {elapsed_s / 60:.1f} minutes; the next run "
            "replaces everything between the `h2bench` markers, and nothing outside them.", "",
            "```sh", command, "```", ""]
    out.append(
        "**Server.** nginx, one worker, on 127.0.0.1 (`benchmarks/nginx/nginx.conf.in`, its third "
        "server): TLS 1.2/1.3, ALPN h2 and http/1.1, at most 128 streams per connection, the same "
        "fixed JSON answers as `run.sh`'s servers, keep-alive without a request limit; session cache "
        "and tickets off, so every connection opened is one full TLS handshake. Connections are "
        "counted by nginx: all it accepted during the run (`stub_status`, read before and after), "
        "and, from a log of each connection's first request, those that carried a request, by "
        "protocol. Every client sends the same `POST /public/graphql` (body "
        f"`{REQUEST_BODY}`, `content-type` and `accept: application/json`, a bearer token); all but "
        "h2load first fetch a token per workspace, and make one request before their clock starts "
        "(the peers `GET /`, glue the first workspace's token: peers/README.md), so each begins "
        "with one connection open. Client CPU is the client process's user + system "
        "time from `wait4` (start-up and token requests included) over its calls. Each round runs "
        "every client once, the order rotated by one each round.")
    out.append("")
    out.append("**Machine.** " + "; ".join(f"{k}: {v}" for k, v in notes.items()) +
               f"; load average at the end: {' '.join(f'{x:.2f}' for x in load['end'])}.")
    out.append("")
    out.append("Clients: " + "; ".join(f"`{n}` {table[n].what}" for n in names) + ".")
    out.append("")

    out.append("### The relay's own cost (delay 0)")
    out.append("")
    if overhead is None:
        out.append("Not run (--skip-overhead, or h2load or the relay missing).")
    else:
        out.append(
            f"`glue_latency_relay --delay-ms 0` between h2load and nginx against h2load straight to "
            f"nginx, {cfg.requests:,} calls a run, alternating, {cfg.rounds} round(s). The relay "
            "runs on one thread and shares the 2 cores with h2load and nginx, so what it costs shows "
            "as CPU taken from them as well as its own.")
        out.append("")
        out.extend(overhead_table(overhead))
    out.append("")

    loop = Shape(cfg.requests, cfg.workspaces, cfg.loopback_in_flight, cfg.loopback_connections)
    out.append(f"### (a) Loopback: {loop.n:,} calls, {loop.w:,} workspaces, {loop.k} in flight, "
               f"at most {loop.c} connections")
    out.append("")
    if cfg.skip_loopback:
        out.append("Not run (--skip-loopback).")
    else:
        conns, streams = h2load_connections(loop)
        out.append(f"h2load: `-c {conns} -m {streams}` ({conns} connection(s) × {streams} streams); "
                   f"the others: `--connections {loop.c} --in-flight {loop.k}`.")
        out.append("")
        out.extend(loopback_table(runs, names, skipped, table))
    out.append("")

    for rtt in cfg.rtts:
        phase = f"rtt{rtt:g}"
        rtt_s = rtt / 1000
        out.append(f"### (b) Round trip {rtt:g} ms: {cfg.relay_in_flight} calls in flight, at most "
                   f"{cfg.relay_connections} connections, {cfg.relay_workspaces} workspaces")
        out.append("")
        if cfg.skip_relay:
            out.append("Not run (--skip-relay).")
            out.append("")
            continue
        physical = cfg.relay_in_flight / rtt_s
        h1_limit = cfg.relay_connections / rtt_s
        example = relay_shape(cfg, table["h2load"], rtt_s)
        conns, streams = h2load_connections(example)
        out.append(
            f"Through `glue_latency_relay --delay-ms {rtt / 2:g}` (each direction). Physical limit: "
            f"{cfg.relay_in_flight} calls in flight / {rtt:g} ms = **{harness.fmt_int(physical)} calls/s**; "
            f"HTTP/1.1's at {cfg.relay_connections} connections: {cfg.relay_connections} / {rtt:g} ms = "
            f"**{harness.fmt_int(h1_limit)} calls/s**. Each client makes about {cfg.relay_seconds:g} s of "
            "calls at its protocol's limit (at least 2 per worker); h2load: "
            f"`-c {conns} -m {streams}`. Opening a connection costs no TCP round trip through the "
            "relay (the kernel completes the handshake on accept); TLS pays its round trips.")
        out.append("")
        out.extend(relay_table(runs, names, skipped, table, phase, cfg, rtt_s))
        out.append("")

    failed = [r for r in runs if not r.ok]
    if failed:
        out.append("Failed runs:")
        out.append("")
        for r in failed:
            out.append(f"- {r.contender}, {r.mode}, round {r.round}: {r.error}")
        out.append("")
    examples = {}
    for r in runs:
        examples.setdefault((r.contender, r.mode), r.argv)
    if examples:
        out.append("<details><summary>Command lines (ports change every run)</summary>")
        out.append("")
        for (name, phase), argv in examples.items():
            out.append(f"- {name}, {phase}: `{argv}`")
        out.append("")
        out.append("</details>")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="benchmarks/run.sh --http2",
        description="glue over HTTP/1.1 and HTTP/2 against h2load and the peers, on loopback and "
                    "through glue_latency_relay; writes benchmarks/RESULTS.md between the h2bench "
                    "markers.",
        epilog="run.sh's own options, before all others: --no-build (skip scripts/setup), --http2.")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 round, 10,000 loopback calls, 1.5 s a client at each RTT")
    p.add_argument("--rounds", type=int, help="rounds (default 3; --quick: 1)")
    p.add_argument("--only", help="comma-separated subset of: " + ",".join(ALL_CLIENTS))
    p.add_argument("--requests", type=int,
                   help="calls per loopback run and per relay-overhead run (default 100,000; --quick: 10,000)")
    p.add_argument("--workspaces", type=int, default=1000, help="workspaces on loopback (default 1,000)")
    p.add_argument("--loopback-connections", type=int, default=64, help="connection cap on loopback (64)")
    p.add_argument("--loopback-in-flight", type=int, default=64, help="calls in flight on loopback (64)")
    p.add_argument("--rtt-ms", default="20,50", help="round-trip times through the relay (20,50)")
    p.add_argument("--relay-connections", type=int, default=4, help="connection cap through the relay (4)")
    p.add_argument("--relay-in-flight", type=int, default=256, help="calls in flight through the relay (256)")
    p.add_argument("--relay-workspaces", type=int, default=16,
                   help="workspaces through the relay (16: a token costs a round trip)")
    p.add_argument("--relay-seconds", type=float,
                   help="about how long each relay run lasts at its protocol's limit (default 5; --quick: 1.5)")
    p.add_argument("--skip-overhead", action="store_true", help="no relay-overhead runs")
    p.add_argument("--skip-loopback", action="store_true", help="no loopback runs")
    p.add_argument("--skip-relay", action="store_true", help="no runs through the relay")
    p.add_argument("--note", default="", help="a sentence the report's provisional notice carries")
    p.add_argument("--no-write", action="store_true", help="print the report; leave RESULTS.md alone")
    cfg = p.parse_args(argv)
    cfg.rounds = cfg.rounds or (1 if cfg.quick else 3)
    cfg.requests = cfg.requests or (10_000 if cfg.quick else 100_000)
    cfg.relay_seconds = cfg.relay_seconds or (1.5 if cfg.quick else 5.0)
    try:
        cfg.rtts = [float(x) for x in cfg.rtt_ms.split(",") if x.strip()]
    except ValueError:
        p.error("--rtt-ms takes numbers separated by commas")
    if not cfg.rtts or any(not 0 < r <= 10_000 for r in cfg.rtts):
        p.error("--rtt-ms: each from above 0 to 10,000")
    for name in ("rounds", "requests", "workspaces", "loopback_connections", "loopback_in_flight",
                 "relay_connections", "relay_in_flight", "relay_workspaces"):
        if getattr(cfg, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if not 0 < cfg.relay_seconds <= 120:
        p.error("--relay-seconds: from above 0 to 120")
    names = [n.strip() for n in (cfg.only or ",".join(ALL_CLIENTS)).split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_CLIENTS]
    if unknown:
        p.error(f"--only: unknown {', '.join(unknown)}; known: {', '.join(ALL_CLIENTS)}")
    cfg.names = [n for n in ALL_CLIENTS if n in names]
    return cfg


def run_overhead(cfg, nginx: harness.Nginx, tmp: Path, table) -> list[dict]:
    """h2load straight to nginx and through the relay at delay 0, alternating."""
    shapes = [
        (f"h2: {cfg.relay_in_flight} streams in flight", False,
         Shape(cfg.requests, 1, cfg.relay_in_flight, cfg.relay_connections)),
        (f"HTTP/1.1: {cfg.loopback_connections} connections (h2load --h1)", True,
         Shape(cfg.requests, 1, cfg.loopback_connections, cfg.loopback_connections)),
    ]
    rows = []
    timeout = 60 + cfg.requests / 1000
    for label, h1, shape in shapes:
        row = {"shape": label, "direct": [], "relayed": [], "error": ""}
        for rnd in range(1, cfg.rounds + 1):
            order = ("direct", "relayed") if rnd % 2 else ("relayed", "direct")
            for how in order:
                if how == "direct":
                    url = nginx.url("h2")
                    argv = h2load_argv(url, shape, tmp, h1)
                    r = run_client(table["h2load"], url, shape, "overhead", rnd, nginx, tmp, timeout, argv)
                else:
                    with Relay(nginx.h2_port, 0) as relay:
                        url = f"https://127.0.0.1:{relay.port}"
                        argv = h2load_argv(url, shape, tmp, h1)
                        r = run_client(table["h2load"], url, shape, "overhead", rnd, nginx, tmp,
                                       timeout, argv)
                        counters = relay.stop()
                    r.extra["relay_cpu_s"] = counters.get("cpu_s", 0.0)
                    log(f"    relay: cpu {counters.get('cpu_s', 0):.2f} s, "
                        f"{counters.get('connections', '?')} connections, peak queue "
                        f"{counters.get('peak_queued_bytes', '?')} bytes")
                if not r.ok:
                    row["error"] = r.error
                row[how].append(r)
                time.sleep(0.2)
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    command, started, t0 = harness.begin_main(argv, "benchmarks/h2bench.py")
    table = clients()
    active, skipped = harness.usable(table, cfg.names)
    relay_missing = harness._not_executable(RELAY)
    if relay_missing and not cfg.skip_relay:
        raise RuntimeError(f"the relay is missing ({relay_missing}); build the default preset, "
                           "or pass --skip-relay --skip-overhead")

    notes = harness.machine_notes()
    notes["h2load"] = harness.capture(["h2load", "--version"]) if shutil.which("h2load") else "not installed"
    load = {"start": os.getloadavg()}
    runs: list[harness.Run] = []
    overhead = None
    tmp = Path(tempfile.mkdtemp(prefix="glue-h2bench-"))
    os.chmod(tmp, 0o755)
    nginx = harness.Nginx(tmp)
    try:
        try:
            harness.make_certificates(tmp)
            (tmp / "graphql.json").write_text(REQUEST_BODY)
            nginx.start()
            nginx.self_check(tmp / "ca.pem")
            if not cfg.skip_overhead and "h2load" in active and not relay_missing:
                log("relay overhead: h2load direct and through the relay at delay 0")
                overhead = run_overhead(cfg, nginx, tmp, table)
            if not cfg.skip_loopback:
                shape = Shape(cfg.requests, cfg.workspaces, cfg.loopback_in_flight, cfg.loopback_connections)
                timeout = 60 + cfg.requests / 1000
                for rnd, order in rounds_of(active, cfg.rounds):
                    log(f"loopback, round {rnd}/{cfg.rounds}: {', '.join(order)}")
                    for name in order:
                        runs.append(run_client(table[name], nginx.url("h2"), shape, "loopback", rnd,
                                               nginx, tmp, timeout))
                        time.sleep(0.2)
            for rtt in [] if cfg.skip_relay else cfg.rtts:
                phase = f"rtt{rtt:g}"
                rtt_s = rtt / 1000
                for rnd, order in rounds_of(active, cfg.rounds):
                    log(f"round trip {rtt:g} ms, round {rnd}/{cfg.rounds}: {', '.join(order)}")
                    for name in order:
                        cl = table[name]
                        shape = relay_shape(cfg, cl, rtt_s)
                        # Bounded: three times the run's length at its protocol's limit, and a minute
                        # for start-up, tokens and handshakes.
                        timeout = 60 + 3 * shape.n / expected_rate(cl, shape, rtt_s)
                        with Relay(nginx.h2_port, rtt / 2) as relay:
                            r = run_client(cl, f"https://127.0.0.1:{relay.port}", shape, phase, rnd,
                                           nginx, tmp, timeout)
                            counters = relay.stop()
                        r.extra["relay_cpu_s"] = counters.get("cpu_s", 0.0)
                        runs.append(r)
                        time.sleep(0.2)
        finally:
            nginx.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load["end"] = os.getloadavg()

    block = render(cfg, command, started, time.monotonic() - t0, notes, load, cfg.names, skipped,
                   table, runs, overhead)
    harness.publish(block, cfg.no_write, BEGIN_MARK, END_MARK, at_end=True)
    return 0


if __name__ == "__main__":
    harness.run_main(main, "h2bench", "relays and nginx")
