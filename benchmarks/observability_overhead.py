#!/usr/bin/python3
"""Observability's cost on the hot path: glue_loadgen before issue 20 against after, alternating.

Run through benchmarks/observability_overhead.sh, which builds the two glue_loadgen binaries (the
work tree's and a baseline commit's) and hands them over:

  /usr/bin/python3 benchmarks/observability_overhead.py --head HEAD_LOADGEN
      --baseline BASELINE_LOADGEN [--baseline-name 3184568] [--rounds 10] [--requests 300000]
      [--workspaces 1000] [--connections 64]

Four variants, each the same N calls over W workspaces at C connections, one thread, plain HTTP,
against ONE nginx for the whole run (benchmarks/nginx/nginx.conf.in, started the way harness.py
starts it):

  baseline        the baseline's glue_loadgen (no metrics, no request events: they did not exist)
  metrics         HEAD, client_config::collect_metrics on (the library's default)
  no-metrics      HEAD, --metrics off
  metrics+events  HEAD, metrics on and a request-event hook (--events on: two relaxed atomic adds)

Each round runs every variant once, the order rotated by one each round so drift hits all alike.
Per variant: median, min and max req/s; CPU seconds (user + system, wait4) per 1,000 calls; the
median's ratio to the baseline's median, and the median of the per-round ratios (each variant
against the baseline of the same round, so slow drift cancels). Prints a Markdown table for
benchmarks/RESULTS.md ("Observability overhead").

Wall-clock time on a shared VM swings by more than the few percent measured here, so with
--instructions N1,N2 (valgrind installed) each variant also runs twice under callgrind, with N1
and N2 calls, and the table gets user-space instructions per call: (I(N2) - I(N1)) / (N2 - N1),
which leaves out what every run pays once (start-up, TLS set-up, one token per workspace).
Instruction counts are deterministic to a fraction of a percent; they miss the kernel's share,
which the same number of system calls per call keeps alike (see RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import harness  # the same directory: nginx as a child, glue_loadgen runs with their rusage

VARIANTS = {  # name: (binary, extra arguments, what the JSON must say besides no failures)
    "baseline": ("baseline", [], {}),
    "metrics": ("head", ["--metrics", "on", "--events", "off"], {"events": 0}),
    "no-metrics": ("head", ["--metrics", "off", "--events", "off"], {"metrics_calls": 0, "events": 0}),
    "metrics+events": ("head", ["--metrics", "on", "--events", "on"], {}),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--head", type=Path, required=True, help="glue_loadgen built from the work tree")
    p.add_argument("--baseline", type=Path, required=True, help="glue_loadgen built at the baseline")
    p.add_argument("--baseline-name", default="baseline", help="how the report names the baseline")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--requests", type=int, default=300_000)
    p.add_argument("--workspaces", type=int, default=1_000)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--instructions", default="",
                   help="N1,N2: also count instructions per call under callgrind (see above)")
    cfg = p.parse_args(argv)
    cfg.sizes = ()
    if cfg.instructions:
        try:
            cfg.sizes = tuple(int(x) for x in cfg.instructions.split(","))
        except ValueError:
            cfg.sizes = ()
        if len(cfg.sizes) != 2 or not 0 < cfg.sizes[0] < cfg.sizes[1]:
            p.error("--instructions takes N1,N2 with 0 < N1 < N2")
    for name in ("rounds", "requests", "workspaces", "connections"):
        if getattr(cfg, name) <= 0:
            p.error(f"--{name} must be positive")
    for name in ("head", "baseline"):
        why = harness._not_executable(getattr(cfg, name).resolve())
        if why:
            p.error(f"--{name}: {why}")
    cfg.timeout = None  # harness.run_contender's default: 60 s + 1 s per 1,000 calls
    return cfg


def check(run: harness.Run, expect: dict, cfg: argparse.Namespace) -> None:
    """A run counts only if it did the work: every call, no failure, one token per workspace,
    and the JSON's observability figures as the variant's flags say."""
    if not run.ok:
        return
    want = dict(expect)
    if run.contender != "baseline":
        if run.contender != "no-metrics":
            want["metrics_calls"] = cfg.requests
        if run.contender == "metrics+events":
            want["events"] = cfg.requests + cfg.workspaces  # each call's and each token request's
    wrong = [f"{k} {run.extra.get(k)} (want {v})" for k, v in want.items() if run.extra.get(k) != v]
    if run.failures:
        wrong.append(f"{run.failures} failed calls")
    if run.token_server != cfg.workspaces:
        wrong.append(f"{run.token_server} token requests (want {cfg.workspaces})")
    if wrong:
        run.ok = False
        run.error = "; ".join(wrong)
        harness.log(f"  {run.contender}: not counted: {run.error}")


def instructions(argv: list[str], url: str, requests: int, cfg: argparse.Namespace,
                 tmp: Path) -> int:
    """User-space instructions of one glue_loadgen run under callgrind (its 'Collected' total);
    the run must make every call."""
    out = tmp / "callgrind.out"
    cmd = (["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + argv +
           ["--url", url, "--requests", str(requests), "--workspaces", str(cfg.workspaces),
            "--connections", str(cfg.connections)])
    # Bounded: callgrind runs some 50 times slower than the program.
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120 + requests / 100)
    out.unlink(missing_ok=True)
    m = re.search(r"Collected : (\d+)", p.stderr)
    if p.returncode != 0 or not m or '"failures":0' not in p.stdout.replace(" ", ""):
        raise RuntimeError(f"callgrind run failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return int(m.group(1))


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)

    # SIGTERM and SIGHUP unwind like Ctrl-C, so nginx is stopped; SIGINT too when started in
    # the background by a non-interactive shell (which ignores it there).
    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    names = list(VARIANTS)
    table = {
        name: harness.LoadgenContender(name, name, [str(getattr(cfg, binary).resolve())] + extra,
                                       lambda: None, threads=1)
        for name, (binary, extra, _) in VARIANTS.items()
    }
    load_start = os.getloadavg()
    runs: list[harness.Run] = []
    with tempfile.TemporaryDirectory(prefix="glue-observability-") as d:
        tmp = Path(d)
        harness.make_certificates(tmp)  # nginx.conf.in has a TLS server too
        nginx = harness.Nginx(tmp)
        nginx.start()
        try:
            nginx.self_check(tmp / "ca.pem")
            for rnd in range(cfg.rounds):
                k = rnd % len(names)
                order = names[k:] + names[:k]
                harness.log(f"round {rnd + 1}/{cfg.rounds}: {', '.join(order)}")
                for name in order:
                    run = harness.run_contender(table[name], nginx, "plain", rnd + 1, cfg.requests,
                                                cfg, tmp / "ca.pem")
                    check(run, VARIANTS[name][2], cfg)
                    runs.append(run)
                    time.sleep(0.2)
            per_call = {}
            for name in names if cfg.sizes else []:
                argv = table[name].prefix
                counts = [instructions(argv, nginx.url("plain"), n, cfg, tmp) for n in cfg.sizes]
                per_call[name] = (counts[1] - counts[0]) / (cfg.sizes[1] - cfg.sizes[0])
                harness.log(f"instructions: {name}: {per_call[name]:,.0f} per call")
        finally:
            nginx.stop()
    load_end = os.getloadavg()

    summary = harness.summarise(runs, names, "plain")
    base = summary["baseline"]
    by_round = {(r.contender, r.round): r for r in runs if r.ok}

    def pct(x: float) -> str:
        return f"{(x - 1) * 100:+.1f}%"

    print(f"load average (1, 5, 15 min) at start: {' '.join(f'{x:.2f}' for x in load_start)}; "
          f"at end: {' '.join(f'{x:.2f}' for x in load_end)}")
    print(f"{cfg.rounds} rounds; each run {cfg.requests:,} calls over {cfg.workspaces:,} workspaces, "
          f"{cfg.connections} connections, 1 thread, plain HTTP; baseline {cfg.baseline_name}\n")
    print("| variant | req/s median | min | max | median vs baseline | per-round ratio: median "
          "(min to max) | CPU s per 1,000 calls | CPU vs baseline | p50 | p99 | runs ok |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        s = summary[name]
        if not s.get("ok"):
            print(f"| {name} | all {s['runs']} runs failed |  |  |  |  |  |  |  |  | 0/{s['runs']} |")
            continue
        cpu = s["cpu_per_100k"] / 100
        row = [name, harness.fmt_int(s["median"]), harness.fmt_int(s["min"]),
               harness.fmt_int(s["max"])]
        if name == "baseline" or not base.get("ok"):
            row += ["–", "–", f"{cpu:.4f}", "–"]
        else:
            ratios = [by_round[(name, r)].req_s / by_round[("baseline", r)].req_s
                      for r in range(1, cfg.rounds + 1)
                      if (name, r) in by_round and ("baseline", r) in by_round]
            paired = (f"{pct(statistics.median(ratios))} ({pct(min(ratios))} to {pct(max(ratios))})"
                      if ratios else "–")
            row += [pct(s["median"] / base["median"]), paired, f"{cpu:.4f}",
                    pct(cpu / (base["cpu_per_100k"] / 100))]
        row += [f"{s['p50_ms']:.2f} ms", f"{s['p99_ms']:.2f} ms", f"{s['ok']}/{s['runs']}"]
        print("| " + " | ".join(row) + " |")
    if per_call:
        print(f"\nUser-space instructions per call (callgrind, marginal between "
              f"{cfg.sizes[0]:,} and {cfg.sizes[1]:,} calls):\n")
        print("| variant | instructions per call | vs baseline | vs no-metrics |")
        print("|---|---:|---:|---:|")
        for name in names:
            row = [name, f"{per_call[name]:,.0f}"]
            for ref in ("baseline", "no-metrics"):
                row.append("–" if name == ref else pct(per_call[name] / per_call[ref]))
            print("| " + " | ".join(row) + " |")
    failed = [r for r in runs if not r.ok]
    for r in failed:
        print(f"\n- {r.contender}, round {r.round}: {r.error}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        harness.log("interrupted; nginx stopped")
        sys.exit(130)
    except RuntimeError as e:
        harness.log(f"observability_overhead: {e}")
        sys.exit(1)
