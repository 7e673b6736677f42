#!/usr/bin/env bash
# The throughput benchmark in one command: glue_loadgen against wrk (the ceiling) and the peers
# (Node undici, Go net/http + x/oauth2, Python aiohttp), all against a local nginx, plain and TLS,
# then a scale run and the token-cache microbenchmark; writes benchmarks/RESULTS.md between its
# <!-- run.sh:begin --> and <!-- run.sh:end --> markers.
#
#   benchmarks/run.sh                  full run (about 10-15 minutes on 2 cores)
#   benchmarks/run.sh --quick          smoke run (about 1-2 minutes)
#   benchmarks/run.sh --quick --no-write --only wrk,glue
#   benchmarks/run.sh --help           all of benchmarks/harness.py's options
#   benchmarks/run.sh --http2 [--quick]   the HTTP/2 benchmark instead (benchmarks/h2bench.py):
#                                      glue over HTTP/1.1 and HTTP/2 against h2load, Go and
#                                      undici, on loopback and through glue_latency_relay at
#                                      20 and 50 ms round trips (about 5 minutes; --quick: 1)
#
# From nothing on Debian 12: installs the packages it needs (only those missing, after an
# apt-get update; sudo when not root), builds the default preset through scripts/setup,
# installs the Node peer's packages (npm ci) and builds the Go peer, then hands over to
# benchmarks/harness.py (or h2bench.py) with every other argument. Two options are run.sh's own
# and must come first:
#   --no-build   skip scripts/setup (use build/default as it is)
#   --http2      run benchmarks/h2bench.py, the HTTP/2 benchmark, instead of harness.py
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
program=harness.py
own=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --http2) program=h2bench.py ;;
        *) break ;;
    esac
    own+=("$1")
    shift
done

# nghttp2-client: h2load, the HTTP/2 benchmark's ceiling.
packages=(nginx-light wrk nghttp2-client golang-go golang-golang-x-oauth2-dev python3-aiohttp openssl)
# node is preinstalled on some machines (not from Debian); Debian's nodejs + npm otherwise.
if ! command -v node >/dev/null 2>&1; then
    packages+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
    packages+=(npm)
fi
source scripts/packages.bash
install_missing "${packages[@]}"

if ((build)); then
    scripts/setup # the default preset, benchmarks included
fi

# The peers. A peer that fails to build is reported by the harness as "not run", not fatal.
node_dir=benchmarks/peers/node
if [ -f "$node_dir/package-lock.json" ]; then
    if [ ! -d "$node_dir/node_modules" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules" ]; then
        echo "run.sh: npm ci in $node_dir" >&2
        if (cd "$node_dir" && npm ci --no-audit --no-fund); then
            touch "$node_dir/node_modules"
        else
            echo "run.sh: npm ci failed; node-undici will not run" >&2
        fi
    fi
fi
if [ -f benchmarks/peers/go/loadgen.go ]; then
    mkdir -p build/peers
    echo "run.sh: go build -> build/peers/go-loadgen" >&2
    if ! GO111MODULE=off GOPATH=/usr/share/gocode go build -o build/peers/go-loadgen benchmarks/peers/go/loadgen.go; then
        rm -f build/peers/go-loadgen
        echo "run.sh: go build failed; go-net-http will not run" >&2
    fi
fi

# /usr/bin/python3 on purpose: Debian's python3-aiohttp belongs to it, not to a python3 earlier
# on PATH (pyenv, venv).
export GLUE_BENCH_ENTRY="benchmarks/run.sh${own[*]:+ ${own[*]}}"
exec /usr/bin/python3 "benchmarks/$program" "$@"
