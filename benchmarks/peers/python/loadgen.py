#!/usr/bin/python3
"""Peer load generator: Python asyncio + aiohttp. Contract: benchmarks/peers/README.md.

Uses Debian's python3-aiohttp, hence /usr/bin/python3 rather than whatever is on PATH.
"""
import argparse
import asyncio
import json
import math
import os
import ssl
import sys
import time
import urllib.parse

import aiohttp

CONTENDER = "python-aiohttp"
# Exit codes shared by the three peers.
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_TIMEOUT = 4
# Refresh a token this long before it expires (x/oauth2's expiryDelta).
EXPIRY_SKEW_S = 10.0
GRAPHQL_BODY = b'{"query":"query { me { id } }"}'


def positive_int(s):
    if not s.isdigit() or int(s) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {s!r}")
    return int(s)


def positive_float(s):
    try:
        v = float(s)
    except ValueError:
        v = math.nan
    if not (0 < v < math.inf):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {s!r}")
    return v


def parse_options():
    p = argparse.ArgumentParser(prog="loadgen", allow_abbrev=False)
    p.add_argument("--url", required=True)
    p.add_argument("--requests", type=positive_int, required=True)
    p.add_argument("--workspaces", type=positive_int, required=True)
    p.add_argument("--connections", type=positive_int, required=True)
    p.add_argument("--in-flight", type=positive_int, help="calls in flight (default: --connections)")
    # aiohttp speaks HTTP/1.1 only: there is no HTTP/2 to turn on.
    p.add_argument("--http2", choices=["off"], default="off")
    p.add_argument("--ca-file")
    p.add_argument("--client-id", default="bench-client")
    p.add_argument("--client-secret", default="bench-secret")
    p.add_argument("--redirect-uri")
    p.add_argument("--timeout-s", type=positive_float, default=300.0)
    o = p.parse_args()  # exits 2 with a message on bad arguments
    u = urllib.parse.urlsplit(o.url)
    if u.scheme not in ("http", "https") or not u.netloc:
        p.error(f"--url must be an http:// or https:// URL, got {o.url!r}")
    o.url = o.url.rstrip("/")
    o.in_flight = o.in_flight or o.connections
    o.ssl = None  # aiohttp's default: verify against the system store
    if o.ca_file is not None:
        try:
            o.ssl = ssl.create_default_context(cafile=o.ca_file)
        except (OSError, ssl.SSLError) as e:
            p.error(f"cannot load --ca-file: {e}")
    return o


class TokenCache:
    """Single flight per workspace: concurrent callers await one shared task;
    a failed task is dropped so a later call retries, an expired one replaced."""

    def __init__(self, session, o):
        self._session = session
        self._o = o
        self._tasks = {}  # ws -> asyncio.Task[(token, expires_at)]
        self.requests = 0

    async def get(self, ws):
        task = self._tasks.get(ws)
        if task is not None and task.done() and (
                task.cancelled() or task.exception() is not None
                or task.result()[1] - EXPIRY_SKEW_S <= time.monotonic()):
            task = None  # failed (not yet dropped) or about to expire
        if task is None:
            task = asyncio.ensure_future(self._fetch(ws))
            task.add_done_callback(lambda t: self._drop_failed(ws, t))
            self._tasks[ws] = task
        if task.done():  # the common case: a cached token, no need to await
            return task.result()[0]
        # shield: one caller being cancelled must not cancel the shared fetch
        token, _ = await asyncio.shield(task)
        return token

    def _drop_failed(self, ws, task):
        if (task.cancelled() or task.exception() is not None) and self._tasks.get(ws) is task:
            del self._tasks[ws]

    async def _fetch(self, ws):
        self.requests += 1
        o = self._o
        form = {
            "grant_type": "client_credentials",
            "client_id": o.client_id,
            "client_secret": o.client_secret,
            "subject": ws,
        }
        if o.redirect_uri is not None:
            form["redirect_uri"] = o.redirect_uri
        # A dict body is sent as application/x-www-form-urlencoded.
        async with self._session.post(o.url + "/oauth/token", data=form,
                                      headers={"Accept": "application/json"}) as resp:
            doc = await resp.json(content_type=None)
            if resp.status != 200:
                raise RuntimeError(f"token: HTTP {resp.status}")
        token = doc["access_token"]
        if not isinstance(token, str):
            raise RuntimeError("token: no access_token")
        expires_in = doc.get("expires_in")
        # No or bad expires_in: treat as non-expiring, as x/oauth2 does.
        ok = isinstance(expires_in, (int, float)) and expires_in > 0
        return token, (time.monotonic() + expires_in) if ok else math.inf


async def graphql(session, tokens, url, ws):
    token = await tokens.get(ws)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    async with session.post(url, data=GRAPHQL_BODY, headers=headers) as resp:
        if resp.status != 200:
            await resp.read()  # drain so the connection is reused
            return False
        doc = await resp.json(content_type=None)
    return isinstance(doc, dict) and "data" in doc and "errors" not in doc


def percentile(sorted_lats, p):
    """Nearest-rank percentile over the calls that finished (successful or not)."""
    if not sorted_lats:
        return None
    i = max(0, math.ceil(p / 100 * len(sorted_lats)) - 1)
    return round(sorted_lats[i], 4)


async def run(o):
    deadline = time.monotonic() + o.timeout_s
    connector = aiohttp.TCPConnector(limit=o.connections, ssl=o.ssl)
    # The whole run is bounded by --timeout-s below, not per request. No cookie
    # jar: an API client has no use for one (Go's http.Client and undici have none).
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                                    cookie_jar=aiohttp.DummyCookieJar())
    tokens = TokenCache(session, o)
    graphql_url = o.url + "/public/graphql"
    lats = []
    failures = 0
    next_k = 0
    first_start = last_end = None

    # Fail fast (exit 3) when the origin is unreachable or its certificate
    # untrusted; any HTTP answer will do.
    try:
        async with session.get(o.url + "/", timeout=aiohttp.ClientTimeout(total=min(10.0, o.timeout_s))) as resp:
            await resp.read()
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
        print(f"loadgen: origin {o.url} unreachable: {type(e).__name__}: {e}", file=sys.stderr)
        await session.close()
        return EXIT_UNREACHABLE

    async def worker():
        nonlocal next_k, failures, last_end
        while next_k < o.requests:
            k = next_k
            next_k += 1
            t0 = time.perf_counter()
            try:
                ok = await graphql(session, tokens, graphql_url, f"wks_bench{k % o.workspaces}")
            except Exception:
                ok = False
            t1 = time.perf_counter()
            lats.append((t1 - t0) * 1000.0)
            if not ok:
                failures += 1
            last_end = t1

    first_start = time.perf_counter()
    workers = [asyncio.ensure_future(worker()) for _ in range(o.in_flight)]
    _, pending = await asyncio.wait(workers, timeout=max(0.0, deadline - time.monotonic()))
    timed_out = bool(pending)
    if timed_out:
        last_end = time.perf_counter()  # the run did not finish: wall time runs to now

    wall = last_end - first_start
    lats.sort()
    print(json.dumps({
        "contender": CONTENDER,
        "requests": o.requests,
        "failures": failures + (o.requests - len(lats)),
        "token_requests": tokens.requests,
        "wall_s": round(wall, 6),
        "req_s": round(o.requests / wall, 1) if wall > 0 else 0,
        "p50_ms": percentile(lats, 50),
        "p99_ms": percentile(lats, 99),
    }, separators=(",", ":")), flush=True)
    if timed_out:
        print(f"loadgen: timed out after {o.timeout_s} s; unfinished calls counted as failures",
              file=sys.stderr, flush=True)
        os._exit(EXIT_TIMEOUT)  # don't wait for in-flight requests to wind down
    await session.close()
    return 0


def main():
    o = parse_options()
    sys.exit(asyncio.run(run(o)))


if __name__ == "__main__":
    main()
