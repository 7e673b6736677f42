#!/usr/bin/python3
"""Throughput benchmark harness: glue_loadgen against wrk and the peers, all hitting a local nginx.

Run through benchmarks/run.sh, which installs and builds what this needs, or directly:

    /usr/bin/python3 benchmarks/harness.py [--quick] [--no-write] [--only glue,wrk] ...

What it does (see benchmarks/README.md for the why):
  * makes a throw-away CA and a server certificate for IP 127.0.0.1 with the openssl CLI;
  * starts nginx (benchmarks/nginx/nginx.conf.in, one worker) on two free 127.0.0.1 ports, plain
    and TLS, answering POST /oauth/token and POST /public/graphql from memory;
  * for each round runs every contender once over plain HTTP, rotating the order each round, then
    the same over TLS; each contender is a child process whose CPU time and peak RSS come from
    os.wait4's rusage, and nginx counts its token requests and connections (TLS handshakes);
  * runs glue_loadgen over 10k/30k/100k workspaces (1 call each) and the token-cache
    microbenchmark;
  * replaces the text between <!-- run.sh:begin --> and <!-- run.sh:end --> in
    benchmarks/RESULTS.md (nothing else in the file is touched).

Standard library only; every child is started from the repository root; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import http.client
import json
import os
import platform
import pwd
import grp
import re
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS_MD = BENCH / "RESULTS.md"
NGINX_TEMPLATE = BENCH / "nginx" / "nginx.conf.in"
WRK_SCRIPT = BENCH / "wrk" / "graphql.lua"
GLUE_LOADGEN = ROOT / "build" / "default" / "benchmarks" / "glue_loadgen"
GLUE_MICRO = ROOT / "build" / "default" / "benchmarks" / "glue_bench_token_cache"
NODE_PEER = BENCH / "peers" / "node" / "loadgen.mjs"
GO_PEER = ROOT / "build" / "peers" / "go-loadgen"
PYTHON_PEER = BENCH / "peers" / "python" / "loadgen.py"
SYSTEM_PYTHON = "/usr/bin/python3"

BEGIN_MARK = "<!-- run.sh:begin -->"
END_MARK = "<!-- run.sh:end -->"

TOKEN = "tok_bench_0123456789abcdef"
TOKEN_BODY = '{"access_token":"tok_bench_0123456789abcdef","token_type":"bearer","expires_in":3600}'
GRAPHQL_BODY = '{"data":{"me":{"id":"usr_bench"}}}'

PEERS = ("node-undici", "go-net-http", "python-aiohttp")
ALL_CONTENDERS = ("wrk", "glue", "glue-2t") + PEERS

# Targets from the benchmarks issue.
TARGET_PLAIN_VS_WRK = 0.90
TARGET_TLS_VS_WRK = 0.85
TARGET_VS_PEERS = 2.0
TARGET_CPU_VS_WRK = 1.5
TARGET_RSS_PER_WORKSPACE_KIB = 1.0
# "Wall time grows linearly": the time per workspace at the largest size may be at most this
# many times the time per workspace at the smallest (this VM drifts 10-30% between runs).
TARGET_LINEAR_SLACK = 1.3
SOAK_LIMIT_S = 60          # the soak run's bound (issue: at most 60 s)
SOAK_FLAT_KIB = 1024       # RSS may move this much after warm-up and still count as flat


def rel(path: Path) -> str:
    """path as written in commands and messages: relative to the repository root if inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Children: run one, measure its own CPU time and peak RSS


@dataclasses.dataclass
class ChildResult:
    argv: list[str]
    exit_code: int | None  # None: killed by the harness after the timeout
    timed_out: bool
    elapsed_s: float
    cpu_s: float  # user + system, the child and the children it reaped
    maxrss_kib: int  # peak RSS, see peak_rss() for how
    rss_method: str
    stdout: str
    stderr: str


def own_hwm_kib() -> int:
    return _vm_hwm_kib("/proc/self/status")


def _vm_hwm_kib(path: str) -> int:
    try:
        with open(path, "rb") as f:
            m = re.search(rb"^VmHWM:\s+(\d+) kB", f.read(), re.M)
    except OSError:
        return 0
    return int(m.group(1)) if m else 0


def peak_rss(ru_maxrss: int, sampled: int, parent_hwm: int) -> tuple[int, str]:
    """The child's peak RSS in KiB.

    wait4's ru_maxrss alone over-reports small children: Linux keeps the high-water mark of the
    address space a process had before exec, and a child of this harness starts as a copy of it
    (tens of MiB of Python). So when ru_maxrss is no larger than the harness's own high-water
    mark it may be the harness's; then the child's own VmHWM, sampled from /proc every 20 ms
    while it ran, is used instead.
    """
    if ru_maxrss > parent_hwm or sampled == 0:
        return ru_maxrss, "wait4"
    return max(sampled, 0), "VmHWM"


def run_child(argv: list[str], timeout_s: float) -> ChildResult:
    """Runs argv from the repository root in its own session; waits with os.wait4 for its rusage.

    After timeout_s the child's process group is killed (SIGKILL). On Ctrl-C (or any exception
    while waiting) the group is killed too, the child reaped, and the exception re-raised.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        parent_hwm = own_hwm_kib()
        start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        timed_out = threading.Event()

        def kill_group() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

        def on_timeout() -> None:
            timed_out.set()
            kill_group()

        timer = threading.Timer(timeout_s, on_timeout)
        timer.daemon = True
        timer.start()
        done = threading.Event()
        sampled = [0]

        def sample() -> None:
            path = f"/proc/{proc.pid}/status"
            while not done.is_set():
                sampled[0] = max(sampled[0], _vm_hwm_kib(path))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            done.set()
        except BaseException:
            done.set()
            timer.cancel()
            kill_group()
            try:
                os.wait4(proc.pid, 0)
            except ChildProcessError:
                pass
            proc.returncode = -9
            raise
        timer.cancel()
        elapsed = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        # Anything the child left behind in its group (it should leave nothing) goes too.
        kill_group()
        sampler.join()
        maxrss, method = peak_rss(usage.ru_maxrss, sampled[0], parent_hwm)
        out.seek(0)
        err.seek(0)
        return ChildResult(
            argv=list(argv),
            exit_code=None if timed_out.is_set() else code,
            timed_out=timed_out.is_set(),
            elapsed_s=elapsed,
            cpu_s=usage.ru_utime + usage.ru_stime,
            maxrss_kib=maxrss,
            rss_method=method,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def tail(text: str, lines: int = 5) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def capture(argv: list[str], stderr_too: bool = False) -> str:
    """First line of a version command's output, or '?'."""
    try:
        p = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (p.stdout + (p.stderr if stderr_too else "")).strip() or p.stderr.strip()
    return text.splitlines()[0].strip() if text else "?"


# --------------------------------------------------------------------------------------------
# Certificates


CERT_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = glue-cpp benchmark CA
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


def make_certificates(tmp: Path) -> None:
    """ca.pem (for clients), server.key and server-chain.pem (server cert + CA, for nginx)."""
    (tmp / "cert.cnf").write_text(CERT_CONFIG)
    serial = "0x" + os.urandom(8).hex()
    steps = [
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", "ca.key"],
        ["openssl", "req", "-config", "cert.cnf", "-x509", "-new", "-key", "ca.key", "-sha256",
         "-days", "2", "-extensions", "v3_ca", "-out", "ca.pem"],
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", "server.key"],
        ["openssl", "req", "-config", "cert.cnf", "-new", "-key", "server.key",
         "-subj", "/CN=127.0.0.1", "-out", "server.csr"],
        ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-set_serial", serial, "-days", "2", "-sha256", "-extfile", "cert.cnf",
         "-extensions", "v3_server", "-out", "server.pem"],
    ]
    for argv in steps:
        p = subprocess.run(argv, cwd=tmp, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)} failed: {p.stderr.strip()}")
    (tmp / "server-chain.pem").write_text((tmp / "server.pem").read_text() + (tmp / "ca.pem").read_text())
    os.chmod(tmp / "server.key", 0o600)
    os.chmod(tmp / "ca.key", 0o600)


# --------------------------------------------------------------------------------------------
# nginx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """nginx as a child of the harness, with the benchmark config rendered into a temp dir.

    Three servers, by mode: plain (HTTP/1.1), tls (HTTP/1.1 over TLS) and h2 (TLS offering h2
    and http/1.1 by ALPN, for h2bench.py)."""

    MODES = ("plain", "tls", "h2")

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None
        self.plain_port = 0
        self.tls_port = 0
        self.h2_port = 0
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"

    def port(self, mode: str) -> int:
        return {"plain": self.plain_port, "tls": self.tls_port, "h2": self.h2_port}[mode]

    def url(self, mode: str) -> str:
        if mode == "plain":
            return f"http://127.0.0.1:{self.plain_port}"
        return f"https://127.0.0.1:{self.port(mode)}"

    def log_path(self, kind: str, mode: str) -> Path:
        return self.tmp / f"{kind}_{mode}.log"

    def http2_directive(self) -> bool:
        """Whether HTTP/2 is switched on by the `http2` directive (nginx 1.25.1 and later, which
        warn that `listen ... http2` is deprecated) rather than by the listen parameter (Debian
        12's 1.22). `nginx -v` says which version, on its standard error."""
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True, check=True)
        m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
        if not m:
            raise RuntimeError(f"no version in what `{self.binary} -v` said: {out.stderr}")
        return tuple(int(g) for g in m.groups()) >= (1, 25, 1)

    def _render(self) -> Path:
        if os.geteuid() == 0:
            # As root, nginx's workers would run as nobody:nobody, and Debian has no group
            # nobody; run them as the harness's own user instead.
            user_line = (f"user {pwd.getpwuid(os.geteuid()).pw_name} "
                         f"{grp.getgrgid(os.getegid()).gr_name};")
        else:
            user_line = "# not root: workers run as the harness's user"
        h2_directive = self.http2_directive()
        text = NGINX_TEMPLATE.read_text()
        for key, value in {
            "@USER_LINE@": user_line,
            "@PREFIX@": str(self.tmp),
            "@PLAIN_PORT@": str(self.plain_port),
            "@TLS_PORT@": str(self.tls_port),
            "@H2_PORT@": str(self.h2_port),
            "@H2_LISTEN@": "ssl" if h2_directive else "ssl http2",
            "@H2_ON@": "http2 on;" if h2_directive else "",
        }.items():
            text = text.replace(key, value)
        left = re.findall(r"@[A-Z_]+@", text)
        if left:
            raise RuntimeError(f"nginx template: unreplaced {left}")
        conf = self.tmp / "nginx.conf"
        conf.write_text(text)
        return conf

    def start(self, attempts: int = 5) -> None:
        for attempt in range(1, attempts + 1):
            ports: list[int] = []
            while len(ports) < len(self.MODES):
                p = free_port()
                if p not in ports:
                    ports.append(p)
            self.plain_port, self.tls_port, self.h2_port = ports
            conf = self._render()
            for kind in ("token", "conn"):
                for mode in self.MODES:
                    self.log_path(kind, mode).write_bytes(b"")
            (self.tmp / "error.log").write_bytes(b"")
            (self.tmp / "nginx.pid").unlink(missing_ok=True)
            argv = [self.binary, "-p", str(self.tmp) + "/", "-c", str(conf),
                    "-e", str(self.tmp / "error.log"), "-g", "daemon off; master_process on;"]
            out = open(self.tmp / "nginx.out", "wb")
            self.proc = subprocess.Popen(argv, cwd=self.tmp, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            out.close()
            if self._wait_ready(10.0):
                log(f"nginx pid {self.proc.pid}: plain 127.0.0.1:{self.plain_port}, "
                    f"TLS 127.0.0.1:{self.tls_port}, TLS with h2 127.0.0.1:{self.h2_port}")
                return
            why = self._diagnostics()
            self.stop()
            log(f"nginx did not start (attempt {attempt}): {why}")
            if "in use" not in why and attempt >= 2:
                break
        raise RuntimeError("nginx did not start; see the messages above")

    def _diagnostics(self) -> str:
        text = ""
        for name in ("nginx.out", "error.log"):
            p = self.tmp / name
            if p.exists():
                text += p.read_text(errors="replace")
        return tail(text, 4) or "no message"

    def _wait_ready(self, timeout_s: float) -> bool:
        """True once nginx has written its pid file (it does so only after binding every
        listening socket; when a port is taken it retries bind() for a few seconds and exits)
        and both ports accept connections."""
        deadline = time.monotonic() + timeout_s
        pid_file = self.tmp / "nginx.pid"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                written = pid_file.read_text().strip()
            except OSError:
                written = ""
            if written != str(self.proc.pid):
                time.sleep(0.05)
                continue
            ok = True
            for port in (self.port(mode) for mode in self.MODES):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                except OSError:
                    ok = False
                    break
            if ok:
                return True
            time.sleep(0.05)
        return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def self_check(self, ca_file: Path) -> None:
        """One POST to each location on each server (HTTP/1.1: http.client offers no h2); the TLS
        ones verify the certificate."""
        context = ssl.create_default_context(cafile=str(ca_file))
        for mode in self.MODES:
            for path, body in (("/oauth/token", TOKEN_BODY), ("/public/graphql", GRAPHQL_BODY)):
                if mode != "plain":
                    conn = http.client.HTTPSConnection("127.0.0.1", self.port(mode), timeout=5,
                                                       context=context)
                else:
                    conn = http.client.HTTPConnection("127.0.0.1", self.plain_port, timeout=5)
                try:
                    conn.request("POST", path, body="x=1",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
                    resp = conn.getresponse()
                    got = resp.read().decode()
                    ctype = resp.getheader("Content-Type", "")
                finally:
                    conn.close()
                if resp.status != 200 or got != body or not ctype.startswith("application/json"):
                    raise RuntimeError(f"nginx self-check {mode} {path}: {resp.status} {ctype} {got!r}")

    def reset_counts(self, mode: str) -> None:
        for kind in ("token", "conn"):
            # nginx holds the file open with O_APPEND: after truncation it writes from offset 0.
            with open(self.log_path(kind, mode), "r+b") as f:
                f.truncate(0)

    def count(self, kind: str, mode: str) -> int:
        with open(self.log_path(kind, mode), "rb") as f:
            return f.read().count(b"\n")

    def accepted(self) -> int:
        """Connections nginx has accepted on all its servers so far (stub_status's accepts),
        this request's own included."""
        conn = http.client.HTTPConnection("127.0.0.1", self.plain_port, timeout=5)
        try:
            conn.request("GET", "/nginx_status")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        m = re.search(r"accepts handled requests\s+(\d+)", text)
        if not m:
            raise RuntimeError(f"nginx stub_status: unreadable {text!r}")
        return int(m.group(1))

    def protocols(self, mode: str) -> dict[str, int]:
        """Connections opened since reset_counts(mode), by protocol ($server_protocol, the log's
        fourth field: HTTP/1.1 or HTTP/2.0)."""
        counts: dict[str, int] = {}
        with open(self.log_path("conn", mode), "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                fields = line.split()
                if len(fields) > 3:
                    counts[fields[3]] = counts.get(fields[3], 0) + 1
        return counts

    def stop(self) -> None:
        """SIGQUIT (graceful), then SIGTERM, then SIGKILL to the whole group; always reaps."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        for sig, wait_s in ((signal.SIGQUIT, 5.0), (signal.SIGTERM, 3.0)):
            if proc.poll() is not None:
                break
            try:
                proc.send_signal(sig)
                proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        # The workers are in the master's process group; make sure none is left behind.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:
            proc.wait(timeout=5)
        log(f"nginx pid {proc.pid} stopped")


# --------------------------------------------------------------------------------------------
# Contenders


@dataclasses.dataclass
class Run:
    contender: str
    mode: str  # plain | tls
    round: int
    ok: bool = False
    error: str = ""
    requests: int = 0
    failures: int = 0
    req_s: float = 0.0
    wall_s: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_s: float = 0.0
    maxrss_kib: int = 0
    token_client: int | None = None
    token_server: int = 0
    conns_server: int = 0
    argv: str = ""
    rss_method: str = ""
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def cpu_per_100k(self) -> float | None:
        return self.cpu_s / self.requests * 1e5 if self.requests else None


class Contender:
    def __init__(self, name: str, what: str):
        self.name = name
        self.what = what

    def missing(self) -> str | None:
        raise NotImplementedError

    def argv(self, url: str, requests: int, workspaces: int, connections: int,
             ca_file: Path | None, cfg: argparse.Namespace) -> list[str]:
        raise NotImplementedError


def _not_executable(path: Path) -> str | None:
    if not path.exists():
        return f"{rel(path)} missing"
    if not os.access(path, os.X_OK):
        return f"{rel(path)} not executable"
    return None


class Wrk(Contender):
    def missing(self):
        if not shutil.which("wrk"):
            return "wrk not installed"
        if not WRK_SCRIPT.exists():
            return f"{rel(WRK_SCRIPT)} missing"
        return None

    def argv(self, url, requests, workspaces, connections, ca_file, cfg):
        return ["wrk", "-t1", f"-c{connections}", f"-d{cfg.wrk_seconds}s", "--latency",
                "-s", str(rel(WRK_SCRIPT)), url + "/public/graphql"]


class LoadgenContender(Contender):
    """The shared contract: --url --requests --workspaces --connections [--ca-file]; the last
    stdout line is one JSON object."""

    def __init__(self, name, what, prefix: list[str], check, threads: int | None = None):
        super().__init__(name, what)
        self.prefix = prefix
        self.check = check
        self.threads = threads

    def missing(self):
        return self.check()

    def argv(self, url, requests, workspaces, connections, ca_file, cfg):
        argv = self.prefix + ["--url", url, "--requests", str(requests),
                              "--workspaces", str(workspaces), "--connections", str(connections)]
        if self.threads is not None:
            argv += ["--threads", str(self.threads)]
        if ca_file is not None:
            argv += ["--ca-file", str(ca_file)]
        return argv


def _check_node() -> str | None:
    if not shutil.which("node"):
        return "node not installed"
    if not NODE_PEER.exists():
        return f"{rel(NODE_PEER)} missing"
    if not (NODE_PEER.parent / "node_modules" / "undici").is_dir():
        return "undici not installed (npm ci in benchmarks/peers/node)"
    return None


_aiohttp_ok: str | None | bool = False  # False: not checked yet


def _check_python() -> str | None:
    global _aiohttp_ok
    if not PYTHON_PEER.exists():
        return f"{rel(PYTHON_PEER)} missing"
    if _aiohttp_ok is False:
        version = capture([SYSTEM_PYTHON, "-c", "import aiohttp; print(aiohttp.__version__)"])
        _aiohttp_ok = None if re.match(r"^\d", version) else f"aiohttp not importable by {SYSTEM_PYTHON}"
    return _aiohttp_ok


def contenders() -> dict[str, Contender]:
    glue = [str(rel(GLUE_LOADGEN))]
    items = [
        Wrk("wrk", "wrk 4.1, 1 thread, Lua script with a fixed request (the ceiling)"),
        LoadgenContender("glue", "glue_loadgen, 1 thread", glue, lambda: _not_executable(GLUE_LOADGEN), 1),
        LoadgenContender("glue-2t", "glue_loadgen, 2 threads", glue, lambda: _not_executable(GLUE_LOADGEN), 2),
        LoadgenContender("node-undici", "Node + undici", ["node", str(rel(NODE_PEER))], _check_node),
        LoadgenContender("go-net-http", "Go net/http + x/oauth2", [str(rel(GO_PEER))],
                         lambda: _not_executable(GO_PEER)),
        LoadgenContender("python-aiohttp", "Python aiohttp", [SYSTEM_PYTHON, str(rel(PYTHON_PEER))],
                         _check_python),
    ]
    return {c.name: c for c in items}


_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _wrk_time_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def parse_wrk(out: str, run: Run) -> None:
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", out, re.M)
    rps = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    if not m or not rps:
        raise ValueError("no 'requests in' / 'Requests/sec' line in wrk's output")
    run.requests = int(m.group(1))
    run.wall_s = _wrk_time_ms(m.group(2) + m.group(3)) / 1e3
    run.req_s = float(rps.group(1))
    for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
        lm = re.search(rf"^\s*{pct}(?:\.0+)?%\s+(\S+)", out, re.M)
        if lm:
            setattr(run, attr, _wrk_time_ms(lm.group(1)))
    failures = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if non2xx:
        failures += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        failures += sum(int(x) for x in sock.groups())
    run.failures = failures
    run.token_client = 0


def parse_loadgen(out: str, run: Run) -> None:
    lines = [line for line in out.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError("no output")
    data = json.loads(lines[-1])
    if not isinstance(data, dict):
        raise ValueError("last line is not a JSON object")
    run.requests = int(data["requests"])
    run.failures = int(data.get("failures", 0))
    run.token_client = int(data["token_requests"]) if "token_requests" in data else None
    run.wall_s = float(data["wall_s"])
    run.req_s = float(data["req_s"])
    run.p50_ms = float(data["p50_ms"]) if data.get("p50_ms") is not None else None
    run.p99_ms = float(data["p99_ms"]) if data.get("p99_ms") is not None else None
    known = {"contender", "requests", "failures", "token_requests", "wall_s", "req_s", "p50_ms", "p99_ms"}
    run.extra = {k: v for k, v in data.items() if k not in known}


def run_contender(c: Contender, nginx: Nginx, mode: str, rnd: int, requests: int,
                  cfg: argparse.Namespace, ca_file: Path, workspaces: int | None = None,
                  connections: int | None = None) -> Run:
    workspaces = cfg.workspaces if workspaces is None else workspaces
    connections = cfg.connections if connections is None else connections
    run = Run(contender=c.name, mode=mode, round=rnd)
    if not nginx.alive():
        raise RuntimeError("nginx exited during the benchmark: " + nginx._diagnostics())
    argv = c.argv(nginx.url(mode), requests, workspaces, connections,
                  ca_file if mode == "tls" else None, cfg)
    timeout = cfg.timeout if cfg.timeout else 60 + requests / 1000.0
    if isinstance(c, Wrk):
        timeout = cfg.wrk_seconds + 30
    nginx.reset_counts(mode)
    res = run_child(argv, timeout)
    time.sleep(0.1)  # nginx logs a request after sending its response
    run.token_server = nginx.count("token", mode)
    run.conns_server = nginx.count("conn", mode)
    run.cpu_s = res.cpu_s
    run.maxrss_kib = res.maxrss_kib
    run.argv = shlex.join(argv)
    run.rss_method = res.rss_method
    if res.timed_out:
        run.error = f"timed out after {timeout:.0f} s (killed)"
    elif res.exit_code != 0:
        why = f"signal {-res.exit_code}" if res.exit_code < 0 else f"exit code {res.exit_code}"
        run.error = f"{why}: {tail(res.stderr or res.stdout, 3)}"
    else:
        try:
            (parse_wrk if isinstance(c, Wrk) else parse_loadgen)(res.stdout, run)
            run.ok = True
        except (ValueError, KeyError, TypeError) as e:
            run.error = f"unreadable output ({e}): {tail(res.stdout, 2)}"
    if run.ok:
        p50 = f"{run.p50_ms:.2f}" if run.p50_ms is not None else "?"
        p99 = f"{run.p99_ms:.2f}" if run.p99_ms is not None else "?"
        log(f"  {c.name:15} {mode:5} {run.req_s:>10,.0f} req/s  {run.requests:>8,} req  "
            f"cpu {run.cpu_s:6.2f} s  rss {run.maxrss_kib / 1024:6.1f} MiB  "
            f"tokens {run.token_server:,}  conns {run.conns_server:,}  fail {run.failures:,}  "
            f"p50 {p50} ms  p99 {p99} ms")
    else:
        log(f"  {c.name:15} {mode:5} FAILED: {run.error}")
    return run


# --------------------------------------------------------------------------------------------
# Scale and microbenchmark


def run_scale(nginx: Nginx, cfg: argparse.Namespace, ca_file: Path) -> list[dict]:
    c = contenders()["glue"]
    rows = []
    for w in cfg.scale_sizes:
        argv = [str(rel(GLUE_LOADGEN)), "--url", nginx.url("plain"),
                "--requests", str(w), "--workspaces", str(w), "--connections", "64"]
        nginx.reset_counts("plain")
        timeout = cfg.timeout if cfg.timeout else 120 + w / 500.0
        res = run_child(argv, timeout)
        time.sleep(0.1)
        row = {"workspaces": w, "argv": shlex.join(argv), "ok": False, "error": "",
               "token_server": nginx.count("token", "plain"), "conns_server": nginx.count("conn", "plain"),
               "maxrss_kib": res.maxrss_kib, "cpu_s": res.cpu_s}
        if res.timed_out:
            row["error"] = f"timed out after {timeout:.0f} s (killed)"
        elif res.exit_code != 0:
            row["error"] = f"exit code {res.exit_code}: {tail(res.stderr or res.stdout, 3)}"
        else:
            try:
                run = Run(contender=c.name, mode="plain", round=0)
                parse_loadgen(res.stdout, run)
                row.update(ok=True, wall_s=run.wall_s, requests=run.requests, failures=run.failures,
                           token_client=run.token_client, req_s=run.req_s, extra=run.extra)
            except (ValueError, KeyError, TypeError) as e:
                row["error"] = f"unreadable output ({e}): {tail(res.stdout, 2)}"
        if row["ok"]:
            log(f"  scale W={w:>7,}: wall {row['wall_s']:.2f} s, "
                f"{row['wall_s'] / w * 1e6:.1f} µs/workspace, tokens {row['token_server']:,}, "
                f"peak RSS {res.maxrss_kib / 1024:.1f} MiB")
        else:
            log(f"  scale W={w:>7,}: FAILED: {row['error']}")
        rows.append(row)
    return rows


def run_soak(nginx: Nginx, cfg: argparse.Namespace) -> dict:
    """One long glue run with its RSS sampled every second: does memory stay flat?"""
    argv = [str(rel(GLUE_LOADGEN)), "--url", nginx.url("plain"), "--requests", str(cfg.soak_requests),
            "--workspaces", str(cfg.workspaces), "--connections", str(cfg.connections),
            "--rss-sample-ms", "100" if cfg.quick else "1000", "--timeout-s", str(SOAK_LIMIT_S)]
    nginx.reset_counts("plain")
    res = run_child(argv, SOAK_LIMIT_S + 30)
    time.sleep(0.1)
    soak = {"argv": shlex.join(argv), "ok": False, "error": "",
            "token_server": nginx.count("token", "plain"), "maxrss_kib": res.maxrss_kib}
    if res.timed_out:
        soak["error"] = "killed: it outlived its own time limit"
    elif res.exit_code not in (0, 1):  # 1: its own time limit ran out, still a report
        soak["error"] = f"exit code {res.exit_code}: {tail(res.stderr or res.stdout, 3)}"
    else:
        try:
            run = Run(contender="glue", mode="plain", round=0)
            parse_loadgen(res.stdout, run)
            samples = [(int(c), int(k)) for c, k in run.extra.get("rss_samples", [])]
            soak.update(ok=True, wall_s=run.wall_s, req_s=run.req_s, failures=run.failures,
                        requests=run.requests, stopped_by_limit=res.exit_code == 1, samples=samples)
            soak.update(soak_verdict(samples, cfg.soak_requests))
        except (ValueError, KeyError, TypeError) as e:
            soak["error"] = f"unreadable output ({e}): {tail(res.stdout, 2)}"
    if soak["ok"]:
        log(f"  soak: {soak['requests']:,} calls in {soak['wall_s']:.1f} s, RSS after warm-up "
            f"{fmt_kib(soak.get('rss_warm_kib'))} → {fmt_kib(soak.get('rss_end_kib'))}")
    else:
        log(f"  soak: FAILED: {soak['error']}")
    return soak


def soak_verdict(samples: list[tuple[int, int]], requests: int) -> dict:
    """Warm-up: the samples before 10% of the calls. Flat: after it, RSS moves by no more than
    SOAK_FLAT_KIB (allocator noise), and the least-squares slope per 100,000 calls is reported."""
    warm = [(c, k) for c, k in samples if c >= requests * 0.1]
    if len(warm) < 3:
        return {"flat": None}
    rss = [k for _, k in warm]
    n = len(warm)
    mc = sum(c for c, _ in warm) / n
    mk = sum(rss) / n
    var = sum((c - mc) ** 2 for c, _ in warm)
    slope = sum((c - mc) * (k - mk) for c, k in warm) / var if var else 0.0
    return {"flat": max(rss) - min(rss) <= SOAK_FLAT_KIB, "rss_warm_kib": rss[0], "rss_end_kib": rss[-1],
            "rss_min_kib": min(rss), "rss_max_kib": max(rss), "kib_per_100k": slope * 100_000,
            "samples_after_warmup": n}


def run_micro(cfg: argparse.Namespace, tmp: Path) -> dict:
    why = _not_executable(GLUE_MICRO)
    if why:
        return {"error": why}
    args = ["--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"]
    if cfg.quick:
        args = ["--benchmark_repetitions=1", "--benchmark_min_time=0.1"]
    shown = shlex.join([str(rel(GLUE_MICRO))] + args)
    out_json = tmp / "micro.json"
    argv = [str(rel(GLUE_MICRO))] + args + [
        f"--benchmark_out={out_json}", "--benchmark_out_format=json"]
    log(f"microbenchmark: {shown}")
    res = run_child(argv, 900)
    if res.timed_out or res.exit_code != 0:
        return {"command": shown, "error": f"exit {res.exit_code}: {tail(res.stderr, 3)}"}
    try:
        data = json.loads(out_json.read_text())
    except (OSError, ValueError) as e:
        return {"command": shown, "error": f"no JSON report: {e}"}
    rows = []
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        m = re.search(r"workspaces:(\d+)", b.get("name", ""))
        rows.append({
            "workspaces": int(m.group(1)) if m else None,
            "threads": b.get("threads"),
            "time_ns": b.get("real_time") if b.get("time_unit", "ns") == "ns" else None,
            "p50_ns": b.get("p50_ns"),
            "p99_ns": b.get("p99_ns"),
            "items_per_second": b.get("items_per_second"),
            "allocs_per_hit": b.get("allocs_per_hit"),
            "misses": b.get("misses"),
        })
    return {"command": shown, "rows": rows, "context": data.get("context", {}),
            "console": res.stdout}


# --------------------------------------------------------------------------------------------
# Machine notes


def machine_notes() -> dict[str, str]:
    notes = {}
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    notes["CPU"] = f"{cpu}, {os.cpu_count()} cores (as the kernel counts them)"
    os_name = "?"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    notes["OS"] = f"{os_name}, kernel {platform.release()}"
    notes["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    notes["nginx"] = capture(["nginx", "-v"], stderr_too=True).replace("nginx version: ", "")
    notes["wrk"] = capture(["wrk", "-v"], stderr_too=True).split(" Copyright")[0]
    notes["openssl"] = capture(["openssl", "version"])
    notes["g++"] = capture(["g++", "--version"])
    build_type = "?"
    cache = ROOT / "build" / "default" / "CMakeCache.txt"
    if cache.exists():
        m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache.read_text(errors="replace"), re.M)
        if m:
            build_type = m.group(1) or "(none)"
    notes["glue build"] = f"build/default, CMAKE_BUILD_TYPE={build_type}"
    notes["node"] = capture(["node", "--version"]) if shutil.which("node") else "not installed"
    undici = "?"
    lock = NODE_PEER.parent / "package-lock.json"
    try:
        undici = json.loads(lock.read_text())["packages"]["node_modules/undici"]["version"]
    except (OSError, ValueError, KeyError):
        pass
    notes["undici"] = undici
    notes["go"] = capture(["go", "version"]) if shutil.which("go") else "not installed"
    notes["python"] = capture([SYSTEM_PYTHON, "--version"])
    notes["aiohttp"] = capture([SYSTEM_PYTHON, "-c", "import aiohttp; print(aiohttp.__version__)"])
    return notes


# --------------------------------------------------------------------------------------------
# Report


def fmt_int(x) -> str:
    return "–" if x is None else f"{int(round(x)):,}"


def fmt_f(x, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def fmt_kib(kib) -> str:
    if kib is None:
        return "–"
    return f"{kib / 1024:.1f} MiB"


def fmt_ns(ns) -> str:
    if ns is None:
        return "–"
    if ns < 1000:
        return f"{ns:.0f} ns"
    return f"{ns / 1000:.1f} µs"


def fmt_rate(x) -> str:
    if x is None:
        return "–"
    if x >= 1e6:
        return f"{x / 1e6:.1f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} k"
    return f"{x:.0f}"


def span(values: list[int]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    lo, hi = min(values), max(values)
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(runs: list[Run], names: list[str], mode: str) -> dict[str, dict]:
    out = {}
    for name in names:
        rs = [r for r in runs if r.contender == name and r.mode == mode]
        ok = [r for r in rs if r.ok]
        s = {"runs": len(rs), "ok": len(ok), "errors": [r.error for r in rs if not r.ok]}
        if ok:
            rates = [r.req_s for r in ok]
            s.update(
                median=statistics.median(rates), min=min(rates), max=max(rates),
                cpu_per_100k=median_or_none([r.cpu_per_100k for r in ok]),
                maxrss_kib=max(r.maxrss_kib for r in ok),
                token_server=[r.token_server for r in ok],
                token_client=[r.token_client for r in ok],
                conns_server=[r.conns_server for r in ok],
                failures=sum(r.failures for r in ok),
                p50_ms=median_or_none([r.p50_ms for r in ok]),
                p99_ms=median_or_none([r.p99_ms for r in ok]),
                requests=[r.requests for r in ok],
            )
        out[name] = s
    return out


def throughput_table(summary: dict[str, dict], skipped: dict[str, str]) -> list[str]:
    wrk_median = summary.get("wrk", {}).get("median")
    lines = [
        "| contender | req/s median | min | max | × wrk | CPU s per 100k req | peak RSS | "
        "token requests (server / client) | connections opened (server) | failures | p50 | p99 | runs ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in summary.items():
        if name in skipped:
            lines.append(f"| {name} | not run ({skipped[name]}) |  |  |  |  |  |  |  |  |  |  |  |")
            continue
        if not s.get("ok"):
            lines.append(f"| {name} | all {s['runs']} runs failed |  |  |  |  |  |  |  |  |  |  | 0/{s['runs']} |")
            continue
        ratio = f"{s['median'] / wrk_median:.2f}" if wrk_median and name != "wrk" else ("1.00" if name == "wrk" else "–")
        tokens = f"{span(s['token_server'])} / {span(s['token_client'])}"
        p50 = f"{s['p50_ms']:.2f} ms" if s["p50_ms"] is not None else "–"
        p99 = f"{s['p99_ms']:.2f} ms" if s["p99_ms"] is not None else "–"
        lines.append(
            f"| {name} | {fmt_int(s['median'])} | {fmt_int(s['min'])} | {fmt_int(s['max'])} | {ratio} | "
            f"{fmt_f(s['cpu_per_100k'])} | {fmt_kib(s['maxrss_kib'])} | {tokens} | "
            f"{span(s['conns_server'])} | {s['failures']:,} | {p50} | {p99} | {s['ok']}/{s['runs']} |")
    return lines


def evaluate_targets(summaries: dict[str, dict], scale: list[dict] | None,
                     cfg: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows."""
    rows = []

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**not met**")

    for mode, need, label in (("plain", TARGET_PLAIN_VS_WRK, "plain HTTP"),
                              ("tls", TARGET_TLS_VS_WRK, "TLS")):
        s = summaries[mode]
        g, w = s.get("glue", {}).get("median"), s.get("wrk", {}).get("median")
        if g and w:
            rows.append((f"{label}: glue (1 thread) ≥ {need:.0%} of wrk's req/s at {cfg.connections} connections",
                         f"{g / w:.1%} ({fmt_int(g)} vs {fmt_int(w)} req/s)", verdict(g / w >= need)))
        else:
            rows.append((f"{label}: glue (1 thread) ≥ {need:.0%} of wrk's req/s", "–", verdict(None)))
    for mode, label in (("plain", "plain HTTP"), ("tls", "TLS")):
        s = summaries[mode]
        g = s.get("glue", {}).get("median")
        peers = {p: s[p]["median"] for p in PEERS if s.get(p, {}).get("median")}
        if g and peers:
            best = max(peers, key=peers.get)
            rows.append((f"{label}: glue ≥ {TARGET_VS_PEERS:g}× the fastest peer",
                         f"{g / peers[best]:.2f}× ({best}: {fmt_int(peers[best])} req/s)",
                         verdict(g / peers[best] >= TARGET_VS_PEERS)))
        else:
            rows.append((f"{label}: glue ≥ {TARGET_VS_PEERS:g}× the fastest peer",
                         "–" if g else "glue not measured", verdict(None)))
    counts = []
    for mode in ("plain", "tls"):
        for name in ("glue", "glue-2t"):
            counts += summaries[mode].get(name, {}).get("token_server", [])
    if counts:
        exact = sum(1 for c in counts if c == cfg.workspaces)
        rows.append((f"token requests = W ({cfg.workspaces:,}) exactly (server-side count, every glue run)",
                     f"{exact} of {len(counts)} runs exact; seen {span(counts)}",
                     verdict(exact == len(counts))))
    else:
        rows.append(("token requests = W exactly", "–", verdict(None)))
    handshakes = []
    for name in ("glue", "glue-2t"):
        handshakes += summaries["tls"].get(name, {}).get("conns_server", [])
    if handshakes:
        rows.append((f"TLS handshakes ≤ pool size ({cfg.connections} connections; server-side count of "
                     "connections opened, glue and glue-2t TLS runs)",
                     f"max {max(handshakes):,} (seen {span(handshakes)})",
                     verdict(max(handshakes) <= cfg.connections)))
    else:
        rows.append(("TLS handshakes ≤ pool size", "–", verdict(None)))
    for mode, label in (("plain", "plain HTTP"), ("tls", "TLS")):
        s = summaries[mode]
        g, w = s.get("glue", {}).get("cpu_per_100k"), s.get("wrk", {}).get("cpu_per_100k")
        if g and w:
            rows.append((f"{label}: glue's client CPU per request ≤ {TARGET_CPU_VS_WRK:g}× wrk's",
                         f"{g / w:.2f}× ({g:.2f} vs {w:.2f} CPU s per 100k requests)",
                         verdict(g / w <= TARGET_CPU_VS_WRK)))
        else:
            rows.append((f"{label}: client CPU per request ≤ {TARGET_CPU_VS_WRK:g}× wrk's", "–", verdict(None)))
    if scale is not None:
        ok = [r for r in scale if r["ok"]]
        largest = cfg.scale_sizes[-1]
        big = next((r for r in ok if r["workspaces"] == largest), None)
        if big:
            rows.append((f"scale: token requests = {largest:,} over {largest:,} workspaces",
                         f"{big['token_server']:,}", verdict(big["token_server"] == largest)))
        else:
            rows.append((f"scale: token requests = {largest:,}", "–", verdict(None)))
        per_ws, method = rss_per_workspace(scale)
        if per_ws is not None:
            rows.append((f"scale: RSS per cached workspace ≤ {TARGET_RSS_PER_WORKSPACE_KIB:g} KiB",
                         f"{per_ws * 1024:.0f} bytes ({method})",
                         verdict(per_ws <= TARGET_RSS_PER_WORKSPACE_KIB)))
        else:
            rows.append((f"scale: RSS per cached workspace ≤ {TARGET_RSS_PER_WORKSPACE_KIB:g} KiB", "–", verdict(None)))
        growth = linear_growth(scale)
        if growth is not None:
            rows.append((f"scale: wall time grows linearly from {cfg.scale_sizes[0]:,} to {largest:,} workspaces "
                         f"(time per workspace at the largest ≤ {TARGET_LINEAR_SLACK:g}× at the smallest)",
                         f"{growth:.2f}×", verdict(growth <= TARGET_LINEAR_SLACK)))
        else:
            rows.append(("scale: wall time grows linearly", "–", verdict(None)))
    return rows


def soak_targets(soak: dict | None, cfg: argparse.Namespace) -> list[tuple[str, str, str]]:
    label = (f"soak: RSS flat after warm-up over {cfg.soak_requests:,} calls (≤ {SOAK_LIMIT_S} s; "
             f"moves ≤ {SOAK_FLAT_KIB / 1024:g} MiB after the first 10% of the calls)")
    if soak is None:
        return []
    if not soak.get("ok") or soak.get("flat") is None:
        return [(label, soak.get("error") or "too few samples", "not measured")]
    measured = (f"{fmt_kib(soak['rss_min_kib'])} to {fmt_kib(soak['rss_max_kib'])} after warm-up; "
                f"{soak['kib_per_100k']:+.1f} KiB per 100k calls")
    return [(label, measured, "**met**" if soak["flat"] else "**not met**")]


def soak_section(soak: dict | None, cfg: argparse.Namespace) -> list[str]:
    if soak is None:
        return ["Not run (--skip-soak, or glue not run)."]
    if not soak.get("ok"):
        return [f"Failed: {soak['error']}."]
    out = [f"`glue_loadgen --requests {cfg.soak_requests} --workspaces {cfg.workspaces} "
           f"--connections {cfg.connections} --rss-sample-ms {100 if cfg.quick else 1000} --timeout-s {SOAK_LIMIT_S}` over plain "
           f"HTTP: {soak['requests']:,} calls in {soak['wall_s']:.1f} s ({fmt_int(soak['req_s'])} req/s), "
           f"{soak['failures']:,} failures, {soak['token_server']:,} token requests (server count), "
           f"peak RSS {fmt_kib(soak['maxrss_kib'])}."
           + (" Its 60 s limit stopped it first; the calls not made count as failures." if soak.get("stopped_by_limit") else "")]
    if soak.get("flat") is None:
        out.append("")
        out.append("Too few RSS samples after warm-up to judge.")
        return out
    out.append("")
    out.append(f"RSS after warm-up (the first 10% of the calls): {fmt_kib(soak['rss_warm_kib'])} at first, "
               f"{fmt_kib(soak['rss_end_kib'])} at the end, between {fmt_kib(soak['rss_min_kib'])} and "
               f"{fmt_kib(soak['rss_max_kib'])} over {soak['samples_after_warmup']} samples; least-squares "
               f"slope {soak['kib_per_100k']:+.1f} KiB per 100,000 calls. "
               + ("**Flat.**" if soak["flat"] else "**Not flat.**"))
    out.append("")
    points = soak["samples"]
    step = max(1, len(points) // 12)
    shown = points[::step] + ([points[-1]] if (len(points) - 1) % step else [])
    out.append("| calls done | RSS |")
    out.append("|---:|---:|")
    for calls, kib in shown:
        out.append(f"| {calls:,} | {fmt_kib(kib)} |")
    return out


def rss_per_workspace(scale: list[dict]) -> tuple[float | None, str]:
    """KiB per cached workspace at the largest size, and how it was worked out."""
    ok = [r for r in scale if r["ok"]]
    if not ok:
        return None, ""
    big = max(ok, key=lambda r: r["workspaces"])
    extra = big.get("extra", {})
    if all(isinstance(extra.get(k), (int, float)) for k in ("rss_kib", "rss_start_kib", "cache_entries")) \
            and extra["cache_entries"] > 0:
        return ((extra["rss_kib"] - extra["rss_start_kib"]) / extra["cache_entries"],
                "(rss_kib − rss_start_kib) / cache_entries, as glue_loadgen reports them")
    small = min(ok, key=lambda r: r["workspaces"])
    if small is big:
        return None, ""
    return ((big["maxrss_kib"] - small["maxrss_kib"]) / (big["workspaces"] - small["workspaces"]),
            f"peak RSS difference between the {big['workspaces']:,} and {small['workspaces']:,} runs "
            "/ the extra workspaces")


def linear_growth(scale: list[dict]) -> float | None:
    ok = [r for r in scale if r["ok"] and r.get("wall_s")]
    if len(ok) < 2:
        return None
    small = min(ok, key=lambda r: r["workspaces"])
    big = max(ok, key=lambda r: r["workspaces"])
    return (big["wall_s"] / big["workspaces"]) / (small["wall_s"] / small["workspaces"])


def render(cfg, command: str, started: datetime.datetime, elapsed_s: float, notes: dict,
           names: list[str], skipped: dict[str, str], runs: list[Run], scale, micro,
           soak=None) -> str:
    summaries = {mode: summarise(runs, names, mode) for mode in ("plain", "tls")}
    out = []
    out.append("## Throughput against wrk and the peers (`benchmarks/run.sh`)")
    out.append("")
    out.append(f"Written by `benchmarks/run.sh` (`benchmarks/harness.py`) on "
               f"{started.strftime('%Y-%m-%d %H:%M UTC')}, in {elapsed_s / 60:.1f} minutes; the next run "
               "replaces everything between the `run.sh` markers, and nothing outside them.")
    out.append("")
    out.append("```sh")
    out.append(command)
    out.append("```")
    out.append("")
    out.append(
        f"**Setup.** Each contender makes {cfg.requests:,} GraphQL calls over plain HTTP and "
        f"{cfg.tls_requests:,} over TLS, spread over {cfg.workspaces:,} workspaces (one token each), "
        f"on {cfg.connections} connections; wrk runs for {cfg.wrk_seconds:g} s instead and makes no "
        f"token requests. {cfg.rounds} round{'s' if cfg.rounds != 1 else ''}: each round runs every "
        "contender once over plain HTTP, in an order rotated by one each round so that drift hits all "
        "alike, then the same over TLS. The server is nginx with one worker on 127.0.0.1 answering "
        "from memory (`benchmarks/nginx/nginx.conf.in`): keep-alive without a request limit, no access "
        "log on the GraphQL path; TLS 1.2/1.3 with an ECDSA P-256 certificate from a throw-away CA, "
        "session cache and tickets off, so every connection is one full handshake. Client and server "
        "share the machine's cores.")
    out.append("")
    out.append(
        "Columns: req/s is the contender's own count of calls per second of its load phase (wrk: "
        "its Requests/sec); × wrk is the median over wrk's median; CPU is the contender process's "
        "user + system time (from `wait4`, so start-up included) per 100,000 calls, median of the "
        "rounds; peak RSS is the largest of the rounds (the process's `ru_maxrss` from `wait4`; "
        "when that is no larger than the harness's own, which a child inherits through fork and "
        "exec, the child's `VmHWM` sampled every 20 ms instead); token requests and connections "
        "are counted by nginx (one log line per token request and per connection's first request; "
        "over TLS each connection is a handshake) and, after the slash, as the client reports them; "
        "p50/p99 are medians of the rounds' per-call latencies.")
    out.append("")
    out.append("**Machine.** " + "; ".join(f"{k}: {v}" for k, v in notes.items()) + ".")
    out.append("")
    out.append("Contenders: " + "; ".join(f"`{n}` {contenders()[n].what}" for n in names) + ".")
    out.append("")

    out.append("### Targets")
    out.append("")
    if cfg.quick:
        out.append("A --quick run is a smoke run: with so few calls, start-up and the token requests "
                   "weigh on glue's figures. Judge the targets on a full run.")
        out.append("")
    out.append("| target | measured | |")
    out.append("|---|---|---|")
    for target, measured, verdict in evaluate_targets(summaries, scale, cfg) + soak_targets(soak, cfg):
        out.append(f"| {target} | {measured} | {verdict} |")
    out.append("")

    for mode, n in (("plain", cfg.requests), ("tls", cfg.tls_requests)):
        label = "Plain HTTP" if mode == "plain" else "TLS"
        out.append(f"### {label}: {n:,} calls, {cfg.workspaces:,} workspaces, {cfg.connections} connections")
        out.append("")
        out.extend(throughput_table(summaries[mode], skipped))
        out.append("")

    failed = [r for r in runs if not r.ok]
    if failed:
        out.append("Failed runs:")
        out.append("")
        for r in failed:
            out.append(f"- {r.contender}, {r.mode}, round {r.round}: {r.error}")
        out.append("")

    extras = sorted({k for r in runs if r.ok for k in r.extra})
    if extras:
        out.append("Extra figures the contenders reported (median of the rounds): ")
        out.append("")
        for mode in ("plain", "tls"):
            for name in names:
                rs = [r for r in runs if r.ok and r.contender == name and r.mode == mode]
                parts = []
                for k in extras:
                    vals = [r.extra[k] for r in rs if isinstance(r.extra.get(k), (int, float))]
                    if vals:
                        parts.append(f"{k} {statistics.median(vals):,.6g}")
                if parts:
                    out.append(f"- {name}, {mode}: " + ", ".join(parts))
        out.append("")

    examples = {}
    for r in runs:
        examples.setdefault((r.contender, r.mode), r.argv)
    if examples:
        out.append("<details><summary>Command lines (ports change every run)</summary>")
        out.append("")
        for (name, mode), argv in examples.items():
            out.append(f"- {name}, {mode}: `{argv}`")
        out.append("")
        out.append("</details>")
        out.append("")

    out.append("### Scale: one call per workspace")
    out.append("")
    if scale is None:
        out.append(f"Not run ({cfg.scale_skipped}).")
    else:
        out.append("`glue_loadgen --requests W --workspaces W --connections 64` over plain HTTP, "
                   "each workspace's token fetched once and used for one call.")
        out.append("")
        out.append("| workspaces | wall | µs per workspace | token requests (server / client) | "
                   "connections | peak RSS | RSS at end − at start | cache entries | failures |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in scale:
            if not r["ok"]:
                out.append(f"| {r['workspaces']:,} | failed: {r['error']} |  |  |  |  |  |  |  |")
                continue
            ex = r.get("extra", {})
            delta = "–"
            if isinstance(ex.get("rss_kib"), (int, float)) and isinstance(ex.get("rss_start_kib"), (int, float)):
                delta = fmt_kib(ex["rss_kib"] - ex["rss_start_kib"])
            out.append(
                f"| {r['workspaces']:,} | {r['wall_s']:.2f} s | {r['wall_s'] / r['workspaces'] * 1e6:.1f} | "
                f"{r['token_server']:,} / {fmt_int(r.get('token_client'))} | {r['conns_server']:,} | "
                f"{fmt_kib(r['maxrss_kib'])} | {delta} | {fmt_int(ex.get('cache_entries'))} | "
                f"{r.get('failures', 0):,} |")
        out.append("")
        per_ws, method = rss_per_workspace(scale)
        growth = linear_growth(scale)
        if per_ws is not None:
            out.append(f"RSS per cached workspace: {per_ws * 1024:.0f} bytes, worked out as {method}.")
        if growth is not None:
            out.append(f"Time per workspace at {cfg.scale_sizes[-1]:,} over that at {cfg.scale_sizes[0]:,}: "
                       f"{growth:.2f}× (1.00 is exactly linear).")
    out.append("")

    out.append("### Soak: RSS over a long run")
    out.append("")
    out.extend(soak_section(soak, cfg))
    out.append("")

    out.append("### Microbenchmark: token cache hit path")
    out.append("")
    if micro is None:
        out.append("Not run (--skip-micro).")
    elif micro.get("error"):
        out.append(f"Not run or failed: {micro['error']}.")
    else:
        out.append("```sh")
        out.append(micro["command"])
        out.append("```")
        out.append("")
        ctx = micro.get("context", {})
        if ctx:
            reps = "one repetition" if cfg.quick else "median of 3 repetitions"
            out.append(f"Google Benchmark saw {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz "
                       f"(its own library reports itself built as {ctx.get('library_build_type', '?')}; the "
                       f"benchmark is glue's build above); {reps}; per-lookup figures per thread.")
            out.append("")
        out.append("| workspaces cached | threads | p50 | p99 | time per lookup | lookups/s (all threads) | heap allocations per hit |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|")
        for r in micro["rows"]:
            allocs = r["allocs_per_hit"]
            allocs_s = "–" if allocs is None else ("0" if allocs == 0 else f"{allocs:.2g}")
            out.append(f"| {fmt_int(r['workspaces'])} | {r['threads']} | {fmt_ns(r['p50_ns'])} | "
                       f"{fmt_ns(r['p99_ns'])} | {fmt_ns(r['time_ns'])} | {fmt_rate(r['items_per_second'])} | {allocs_s} |")
    out.append("")
    return "\n".join(out)


def splice_results(block: str, begin_mark: str = BEGIN_MARK, end_mark: str = END_MARK,
                   at_end: bool = False) -> None:
    """Replaces the text between the markers in RESULTS.md; adds the markers if absent (after the
    first heading's paragraph, or with at_end at the end of the file). Bytes outside the markers
    are kept as they are."""
    inner = "\n" + block.strip("\n") + "\n"
    if RESULTS_MD.exists():
        text = RESULTS_MD.read_bytes().decode("utf-8")
    else:
        text = "# Benchmark results\n"
    b = text.find(begin_mark)
    e = text.find(end_mark, b + len(begin_mark)) if b >= 0 else -1
    if b >= 0 and e >= 0:
        new = text[: b + len(begin_mark)] + inner + text[e:]
    else:
        if b >= 0 or text.find(end_mark) >= 0:
            raise RuntimeError(f"{RESULTS_MD}: {begin_mark} or {end_mark} without the other; fix it by hand")
        if at_end:
            new = text.rstrip("\n") + f"\n\n{begin_mark}{inner}{end_mark}\n"
        else:
            new = insert_after_first_paragraph(text, f"{begin_mark}{inner}{end_mark}\n")
    tmp = RESULTS_MD.with_suffix(".md.tmp")
    tmp.write_bytes(new.encode("utf-8"))
    os.replace(tmp, RESULTS_MD)


def publish(block: str, no_write: bool, begin_mark: str = BEGIN_MARK, end_mark: str = END_MARK,
            at_end: bool = False) -> None:
    """The report: printed (--no-write), or written into RESULTS.md between the markers."""
    if no_write:
        print(block)
    else:
        splice_results(block, begin_mark, end_mark, at_end)
        log(f"wrote {rel(RESULTS_MD)} (between {begin_mark} and {end_mark})")


def run_main(main, name: str, stopped: str) -> None:
    """Runs a benchmark's main() and exits with its status: 130 when interrupted (`stopped` says
    what the finally blocks stopped), 1 with the message of a RuntimeError."""
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log(f"interrupted; {stopped} stopped, RESULTS.md untouched")
        sys.exit(130)
    except RuntimeError as e:
        log(f"{name}: {e}")
        sys.exit(1)


def insert_after_first_paragraph(text: str, block: str) -> str:
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and not lines[i].startswith("#"):
        i += 1
    if i == len(lines):  # no heading at all: put it on top
        return block + "\n" + text
    i += 1  # past the heading
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and not lines[i].startswith("#"):
        while i < len(lines) and lines[i].strip():  # the paragraph
            i += 1
    head = "".join(lines[:i])
    rest = "".join(lines[i:])
    if not head.endswith("\n"):
        head += "\n"
    # One blank line before the block; the rest keeps its own leading blank line if it had one.
    sep_after = "" if rest.startswith("\n") or not rest else "\n"
    return head + "\n" + block + sep_after + rest


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="benchmarks/run.sh",
        description="Runs glue_loadgen, wrk and the peers against a local nginx and writes "
                    "benchmarks/RESULTS.md (between the run.sh markers).",
        epilog="run.sh's own option, before all others: --no-build (skip scripts/setup).")
    p.add_argument("--rounds", type=int, help="rounds of every contender (default 3; --quick: 1)")
    p.add_argument("--requests", type=int, help="GraphQL calls per plain-HTTP run (default 200,000; --quick: 20,000)")
    p.add_argument("--tls-requests", type=int, help="GraphQL calls per TLS run (default 100,000; --quick: 10,000)")
    p.add_argument("--workspaces", type=int, help="workspaces W, one token each (default 1,000)")
    p.add_argument("--connections", type=int, default=64, help="connections C (default 64)")
    p.add_argument("--wrk-seconds", type=int, help="wrk's run time in whole seconds (default 5; --quick: 2)")
    p.add_argument("--only", help="comma-separated subset of: " + ",".join(ALL_CONTENDERS))
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 20,000 calls (TLS 10,000), 1 round, scale 1k/3k/10k, short microbenchmark")
    p.add_argument("--no-write", action="store_true", help="print the report; leave RESULTS.md alone")
    p.add_argument("--skip-scale", action="store_true", help="no scale run")
    p.add_argument("--skip-micro", action="store_true", help="no microbenchmark")
    p.add_argument("--skip-soak", action="store_true", help="no soak run")
    p.add_argument("--soak-requests", type=int,
                   help="calls in the soak run, bounded to 60 s (default 1,000,000; --quick: 100,000)")
    p.add_argument("--timeout", type=float, help="per-run timeout in seconds (default: 60 + 1 s per 1,000 calls)")
    cfg = p.parse_args(argv)
    cfg.rounds = cfg.rounds or (1 if cfg.quick else 3)
    cfg.requests = cfg.requests or (20_000 if cfg.quick else 200_000)
    cfg.tls_requests = cfg.tls_requests or (10_000 if cfg.quick else 100_000)
    cfg.workspaces = cfg.workspaces or 1_000
    cfg.wrk_seconds = cfg.wrk_seconds or (2 if cfg.quick else 5)
    cfg.scale_sizes = [1_000, 3_000, 10_000] if cfg.quick else [10_000, 30_000, 100_000]
    cfg.soak_requests = cfg.soak_requests or (100_000 if cfg.quick else 1_000_000)
    for name in ("rounds", "requests", "tls_requests", "workspaces", "connections", "wrk_seconds",
                 "soak_requests"):
        if getattr(cfg, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if cfg.only:
        names = [n.strip() for n in cfg.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in ALL_CONTENDERS]
        if unknown:
            p.error(f"--only: unknown {', '.join(unknown)}; known: {', '.join(ALL_CONTENDERS)}")
        cfg.names = [n for n in ALL_CONTENDERS if n in names]
    else:
        cfg.names = list(ALL_CONTENDERS)
    return cfg


def begin_main(argv: list[str], script: str) -> tuple[str, datetime.datetime, float]:
    """A benchmark's start: the command line to record (GLUE_BENCH_ENTRY names the wrapper that
    ran it), the wall-clock start and a monotonic one. Makes SIGTERM, SIGHUP and SIGINT unwind
    like Ctrl-C, so the caller's finally blocks stop nginx and the relays."""
    entry = os.environ.get("GLUE_BENCH_ENTRY") or f"{SYSTEM_PYTHON} {script}"
    command = " ".join([entry] + [shlex.quote(a) for a in argv])

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    # Also when started in the background by a non-interactive shell, which ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return command, datetime.datetime.now(datetime.timezone.utc), time.monotonic()


def usable(table: dict, names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Of `names`, those whose programs are there, and why each other one is not run."""
    skipped = {}
    for name in names:
        why = table[name].missing()
        if why:
            skipped[name] = why
            log(f"{name}: not run ({why})")
    return [n for n in names if n not in skipped], skipped


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    command, started, t0 = begin_main(argv, "benchmarks/harness.py")
    table = contenders()
    active, skipped = usable(table, cfg.names)
    if cfg.skip_scale:
        cfg.scale_skipped = "--skip-scale"
    elif "glue" not in cfg.names:
        cfg.scale_skipped = "glue not among --only"
    elif "glue" in skipped:
        cfg.scale_skipped = skipped["glue"]
    else:
        cfg.scale_skipped = None

    notes = machine_notes()
    runs: list[Run] = []
    scale = None
    soak = None
    micro = None
    tmp = Path(tempfile.mkdtemp(prefix="glue-bench-"))
    os.chmod(tmp, 0o755)
    nginx = Nginx(tmp)
    try:
        try:
            make_certificates(tmp)
            ca_file = tmp / "ca.pem"
            nginx.start()
            nginx.self_check(ca_file)
            for mode, n in (("plain", cfg.requests), ("tls", cfg.tls_requests)):
                for rnd in range(cfg.rounds):
                    k = rnd % len(active) if active else 0
                    order = active[k:] + active[:k]
                    log(f"{mode}, round {rnd + 1}/{cfg.rounds}: {', '.join(order)}")
                    for name in order:
                        runs.append(run_contender(table[name], nginx, mode, rnd + 1, n, cfg, ca_file))
                        time.sleep(0.2)
            if cfg.scale_skipped is None:
                log(f"scale: {', '.join(f'{w:,}' for w in cfg.scale_sizes)} workspaces")
                scale = run_scale(nginx, cfg, ca_file)
                if not cfg.skip_soak:
                    log(f"soak: {cfg.soak_requests:,} calls, RSS sampled every second, at most {SOAK_LIMIT_S} s")
                    soak = run_soak(nginx, cfg)
        finally:
            nginx.stop()
        # After nginx is gone, so that its worker does not share the cores with the benchmark.
        if not cfg.skip_micro:
            micro = run_micro(cfg, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    block = render(cfg, command, started, time.monotonic() - t0, notes, cfg.names, skipped,
                   runs, scale, micro, soak)
    publish(block, cfg.no_write)
    return 0


if __name__ == "__main__":
    run_main(main, "harness", "nginx")
