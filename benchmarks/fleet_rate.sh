#!/usr/bin/env bash
# Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#
# The fleet-wide rate limit across processes: WORKERS glue_bench_rate_limits processes, each a
# bulk job of CALLS calls (64 in flight) through glue::client, against ONE glue-mock-server that
# admits RATE GraphQL requests a second across the app (429 beyond), sharing a redis-server. Run
# twice: with --fleet (one bucket in Redis for them all, client_config::fleet_rate_limit, RATE
# being the fleet's) and without (each process limits itself to RATE, as if it were alone).
#
#   benchmarks/fleet_rate.sh [BUILD_DIR]      (default build/default; needs redis-server, python3)
#
# Prints, per run, the combined figures: calls, calls failed (by class, and those failed waiting
# for their turn), requests the server saw and
# refused (its own counters, glue-mock-server --counters), the 429 share, the combined rate the
# server admitted against RATE, and the Redis round trips for permits per 1,000 calls (the
# workers' fleet_batches). Everything runs on 127.0.0.1 and is stopped on exit.
set -euo pipefail

BUILD=${1:-build/default}
WORKERS=${WORKERS:-4}
CALLS=${CALLS:-5000}
RATE=${RATE:-500}
BENCH=$BUILD/benchmarks/glue_bench_rate_limits
MOCK=$BUILD/glue-mock-server
for f in "$BENCH" "$MOCK"; do
    [[ -x $f ]] || { echo "fleet_rate.sh: $f not built" >&2; exit 2; }
done
command -v redis-server >/dev/null || { echo "fleet_rate.sh: redis-server not found" >&2; exit 2; }
grep -qx 'GLUE_SHARED_CACHE_BUILT:INTERNAL=ON' "$BUILD/CMakeCache.txt" || {
    echo "fleet_rate.sh: $BUILD is built without the shared cache (GLUE_WITH_SHARED_CACHE)" >&2
    exit 2
}

WORK=$(mktemp -d)
REDIS_PID=
cleanup() {
    [[ -n $REDIS_PID ]] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
done
redis-cli -p "$REDIS_PORT" ping >/dev/null || { echo "fleet_rate.sh: redis-server did not start" >&2; exit 1; }
# The key the workers seal shared tokens with (the fleet's bucket needs the shared cache).
GLUE_SHARED_CACHE_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export GLUE_SHARED_CACHE_KEY

# One run: the mock server (port 0: a free one) runs the workers in parallel as its command, with
# GLUE_API_URL and the credentials set, and prints its counters on stderr when they are done.
run() {
    local name=$1
    shift
    local dir=$WORK/$name
    mkdir -p "$dir"
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    local cmd="pids=(); for i in \$(seq $WORKERS); do \"$BENCH\" --api-url \"\$GLUE_API_URL\""
    cmd+=" --calls $CALLS --concurrency 64 --shared-cache-url redis://127.0.0.1:$REDIS_PORT"
    cmd+=" --time-limit 120 $* >\"$dir/worker\$i.json\" & pids+=(\$!); done;"
    cmd+=" s=0; for p in \"\${pids[@]}\"; do wait \$p || s=1; done; exit \$s"
    "$MOCK" --counters --threads 2 --rate-limit "$RATE" -- bash -c "$cmd" 2>"$dir/server.txt" ||
        echo "fleet_rate.sh: a $name worker failed" >&2
    python3 - "$name" "$RATE" "$dir" "$@" <<'EOF'
import glob, json, sys
name, rate, d, flags = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
server = None
for line in open(f"{d}/server.txt"):
    if line.startswith("{"):
        server = json.loads(line)
workers = [json.loads(open(f).read()) for f in sorted(glob.glob(f"{d}/worker*.json"))]
calls = sum(w["calls"] for w in workers)
failed = sum(w["failed"] for w in workers)
duration = max(w["duration_s"] for w in workers)
batches = sum(w["client"]["fleet_batches"] for w in workers)
errors = {}
for w in workers:
    for cls, n in w["errors"].items():
        errors[cls] = errors.get(cls, 0) + n
seen, refused = server["graphql_requests"], server["refused"]
print(json.dumps({
    "run": name, "flags": " ".join(flags), "workers": len(workers), "calls": calls,
    "failed": failed, "errors": errors,
    "calls_failed_waiting": sum(w["client"]["calls_failed_waiting"] for w in workers),
    "server_requests": seen, "server_refused": refused,
    "share_429": round(refused / seen, 4) if seen else 0,
    "duration_s": round(duration, 2),
    "achieved_rate": round(server["admitted"] / duration, 1) if duration else 0,
    "allowed_rate": rate,
    "ratio": round(server["admitted"] / duration / rate, 3) if duration else 0,
    "client_retries": sum(w["client"]["retries"] for w in workers),
    "client_throttled": sum(w["client"]["throttled"] for w in workers),
    "redis_round_trips_per_1000_calls": round(batches / calls * 1000, 1) if calls else 0,
    "fleet_fallback": any(w["client"]["fleet_fallback"] for w in workers),
}))
EOF
}

run fleet --fleet --fleet-size "$WORKERS" --client-rate "$RATE"
run no_fleet --client-rate "$RATE"
run no_fleet_adaptive_only
